/*
 * tableview_main.c - the table example as a process module: prints the
 * table the local agent holds, and every later one, as a line of JSON
 * each, until SIGINT/SIGTERM.
 *
 *   ITM_AGENT_SOCKET=/run/itm/agent.sock itm-tableview
 */
#include <stdio.h>
#include <string.h>

#include "tableview.h"

int
main(int argc, char **argv)
{
	int rc;

	if (argc > 1) {
		fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout
								    : stderr,
			"Usage: itm-tableview\n\n"
			"Print the overlay table the local itm-agent holds\n"
			"(ITM_AGENT_SOCKET, default /run/itm/agent.sock) and\n"
			"every later one, one line of JSON each, until\n"
			"SIGINT or SIGTERM.\n");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if ((rc = libitm_init(128, ITM_COPY_META)) < 0 ||
	    (rc = tableview_start(stdout)) < 0) {
		fprintf(stderr, "itm-tableview: %s\n", itm_last_error());
		return 1;
	}
	if (itm_get_table() == NULL)
		fprintf(stderr, "itm-tableview: no table yet\n");
	rc = libitm_run();
	tableview_stop();
	return rc < 0 ? 1 : 0;
}

/*
 * itmctl_topology.c - "itmctl topology ...": apply, show, diff, history
 * and rollback, through the controller.
 *
 * The controller validates a topology and refuses it whole with
 * INVALID_ARGUMENT; a status message has room for the first faults only,
 * so every fault comes in the status detail (itm.proto's TopologyFaults)
 * and itmctl prints them, one per line as "FILE:LINE: field: what is
 * wrong".  itmctl never parses a topology itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itm_fields.h"
#include "itmctl.h"

/* The file (or stdin for "-"), NUL-terminated; NULL after a message. */
static char *
read_topology(const struct parse_result *res, const char *name)
{
	FILE *f = strcmp(res->file, "-") ? fopen(res->file, "r") : stdin;
	char *buf = malloc(ITM_TOPOLOGY_MAX_BYTES + 2);
	size_t len = 0, n;
	int err = f ? 0 : errno;

	while (f && buf && len <= ITM_TOPOLOGY_MAX_BYTES &&
	       (n = fread(buf + len, 1, ITM_TOPOLOGY_MAX_BYTES + 1 - len, f)) >
		       0)
		len += n;
	if (f && ferror(f))
		err = errno ? errno : EIO;
	if (!buf)
		err = ENOMEM;
	if (f && f != stdin)
		fclose(f);
	if (err)
		fprintf(stderr, "itmctl: %s: %s: %s\n", res->cmd, name,
			strerror(err));
	else if (len > ITM_TOPOLOGY_MAX_BYTES)
		fprintf(stderr,
			"itmctl: %s: %s: larger than %d bytes, the "
			"most the controller accepts\n",
			res->cmd, name, ITM_TOPOLOGY_MAX_BYTES);
	if (err || len > ITM_TOPOLOGY_MAX_BYTES) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static const char *
display_name(const struct parse_result *res)
{
	return strcmp(res->file, "-") ? res->file : "<stdin>";
}

/*
 * The controller refused the file: every fault it sent in the detail, one
 * a line as "FILE:LINE: field: what is wrong", else what it said.
 */
static void
print_refusal(struct itmctl *ic, const struct parse_result *res,
	      const struct itm_rpc_status *st,
	      const Itm__V1__TopologyFaults *tf)
{
	static char esc[ITM_FIELD_TEXT_MAX * 10 + 32];

	if (st->code != ITM_RPC_INVALID_ARGUMENT || tf == NULL ||
	    tf->n_faults == 0) {
		itmctl_print_failure(ic, "controller", ic->controller_at, st);
		return;
	}
	fprintf(stderr,
		"itmctl: %s: controller at %s refused %s (INVALID_ARGUMENT); "
		"nothing was stored or pushed:\n",
		res->cmd, ic->controller_at, display_name(res));
	for (size_t i = 0; i < tf->n_faults; i++)
		fprintf(stderr, "%s\n",
			itm_text_escape(tf->faults[i], ITM_FIELD_TEXT_MAX, esc,
					sizeof(esc)));
	if (tf->more)
		fprintf(stderr, "(%u more errors not shown)\n", tf->more);
}

/* One topology call, its refusal printed; *@r is the caller's to free. */
static int
topology_call(struct itmctl *ic, const struct parse_result *res,
	      enum itm_method method, const ProtobufCMessage *req,
	      ProtobufCMessage **r)
{
	Itm__V1__TopologyFaults *tf = NULL;
	struct itm_rpc_status st;
	int rc;

	rc = itmctl_controller_status(ic, method, req, r, &st, &tf);
	if (rc)
		print_refusal(ic, res, &st, tf);
	if (tf)
		protobuf_c_message_free_unpacked(&tf->base, NULL);
	return rc;
}

/* Apply and Diff: send the file's text as @yaml and its name as
 * @filename of @req; *@r is the caller's to free on ITMCTL_EXIT_OK. */
static int
send_file(struct itmctl *ic, const struct parse_result *res,
	  enum itm_method method, ProtobufCMessage *req, char **yaml,
	  char **filename, ProtobufCMessage **r)
{
	char *text = read_topology(res, display_name(res));
	int rc;

	if (!text)
		return ITMCTL_EXIT_ERR;
	*yaml = text;
	*filename = (char *)display_name(res);
	rc = topology_call(ic, res, method, req, r);
	*yaml = NULL;
	free(text);
	return rc;
}

/* Pushing to many nodes takes longer than one question. */
static void
apply_timeout(struct itmctl *ic)
{
	if (!ic->timeout_given && ic->timeout_ms < ITMCTL_APPLY_TIMEOUT_MS)
		ic->timeout_ms = ITMCTL_APPLY_TIMEOUT_MS;
}

/* ITMCTL_EXIT_PARTIAL when a node neither took the table nor had it already. */
static int
applied_status(const Itm__V1__ApplyReply *r)
{
	for (size_t i = 0; i < r->n_nodes; i++)
		if (r->nodes[i]->result != ITM__V1__OUTCOME__OUTCOME_UPDATED &&
		    r->nodes[i]->result != ITM__V1__OUTCOME__OUTCOME_UNCHANGED)
			return ITMCTL_EXIT_PARTIAL;
	return ITMCTL_EXIT_OK;
}

int
cmd_topo_apply(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__ApplyRequest q = ITM__V1__APPLY_REQUEST__INIT;
	Itm__V1__ApplyReply *r;
	int rc;

	q.dry_run = res->dry_run;
	apply_timeout(ic);
	rc = send_file(ic, res, ITM_CONTROLLER_APPLY, &q.base, &q.yaml,
		       &q.filename, (ProtobufCMessage **)&r);
	if (rc)
		return rc;
	ic->out->applied(r, res->dry_run);
	rc = res->dry_run ? ITMCTL_EXIT_OK : applied_status(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

int
cmd_topo_diff(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__DiffRequest q = ITM__V1__DIFF_REQUEST__INIT;
	Itm__V1__DiffReply *r;
	int rc;

	rc = send_file(ic, res, ITM_CONTROLLER_DIFF, &q.base, &q.yaml,
		       &q.filename, (ProtobufCMessage **)&r);
	if (rc)
		return rc;
	ic->out->diff(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return ITMCTL_EXIT_OK;
}

int
cmd_topo_show(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__TopologyRequest q = ITM__V1__TOPOLOGY_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	q.generation = res->generation;
	rc = itmctl_controller_call(ic, ITM_CONTROLLER_SHOW_TOPOLOGY, &q.base,
				    &r);
	if (rc)
		return rc;
	ic->out->topology((Itm__V1__TopologyReply *)r);
	protobuf_c_message_free_unpacked(r, NULL);
	return ITMCTL_EXIT_OK;
}

int
cmd_topo_history(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__HistoryRequest q = ITM__V1__HISTORY_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	(void)res;
	rc = itmctl_controller_call(ic, ITM_CONTROLLER_HISTORY, &q.base, &r);
	if (rc)
		return rc;
	ic->out->history((Itm__V1__HistoryReply *)r);
	protobuf_c_message_free_unpacked(r, NULL);
	return ITMCTL_EXIT_OK;
}

int
cmd_topo_rollback(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__RollbackRequest q = ITM__V1__ROLLBACK_REQUEST__INIT;
	Itm__V1__ApplyReply *r;
	int rc;

	q.generation = res->generation;
	apply_timeout(ic);
	rc = itmctl_controller_call(ic, ITM_CONTROLLER_ROLLBACK, &q.base,
				    (ProtobufCMessage **)&r);
	if (rc)
		return rc;
	ic->out->applied(r, 0);
	rc = applied_status(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

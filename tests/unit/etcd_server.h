/*
 * etcd_server.h - a real etcd for unit tests: one member on loopback,
 * random ports, a data directory under the test's own, killed with the
 * test (also when the test dies: it gets SIGKILL with its parent).
 */
#ifndef ITM_TEST_ETCD_SERVER_H
#define ITM_TEST_ETCD_SERVER_H

#include <sys/types.h>

struct etcd_server {
	pid_t pid;
	int client_port, peer_port;
	char data_dir[256];
};

/* Start etcd with its data under @dir and wait until it answers.  1 when
 * no etcd is installed (the caller skips), -1 when it did not start. */
int etcd_server_start(struct etcd_server *s, const char *dir);
void etcd_server_stop(struct etcd_server *s);

#endif /* ITM_TEST_ETCD_SERVER_H */

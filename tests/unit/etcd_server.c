/*
 * etcd_server.c - a real etcd for unit tests (etcd_server.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd_server.h"

#define ETCD_BIN "/usr/bin/etcd"

/* A loopback TCP port free right now. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void
exec_etcd(const struct etcd_server *s)
{
	char client[64], peer[64], cluster[96];

	snprintf(client, sizeof(client), "http://127.0.0.1:%d", s->client_port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", s->peer_port);
	snprintf(cluster, sizeof(cluster), "t=%s", peer);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!getenv("ITM_TEST_ETCD_VERBOSE"))
		freopen("/dev/null", "w", stderr);
	execl(ETCD_BIN, ETCD_BIN, "--name", "t", "--data-dir", s->data_dir,
	      "--listen-client-urls", client, "--advertise-client-urls", client,
	      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
	      "--initial-cluster", cluster, "--logger", "zap", "--log-level",
	      "error", (char *)NULL);
	_exit(127);
}

/* Up when its client port accepts a connection. */
static int
answers(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int
etcd_server_start(struct etcd_server *s, const char *dir)
{
	memset(s, 0, sizeof(*s));
	if (access(ETCD_BIN, X_OK) != 0)
		return 1;
	s->client_port = free_port();
	s->peer_port = free_port();
	snprintf(s->data_dir, sizeof(s->data_dir), "%s/etcd", dir);
	if (s->client_port < 0 || s->peer_port < 0 ||
	    s->client_port == s->peer_port || (s->pid = fork()) < 0)
		return -1;
	if (s->pid == 0)
		exec_etcd(s);
	for (int i = 0; i < 200; i++) {
		if (answers(s->client_port))
			return 0;
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
			break;
		usleep(50000);
	}
	etcd_server_stop(s);
	return -1;
}

void
etcd_server_stop(struct etcd_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

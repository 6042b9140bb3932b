/*
 * kernel.c - the one file that talks to netfilter (bgpd's kroute.c):
 * iptables-nft-restore / -save for the rule sets ruleset.c writes, the
 * nfacct counters of settlements (libnetfilter_acct over a netlink
 * socket), and the list of bound NFQUEUE queues.  See kernel.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_acct/libnetfilter_acct.h>

#include "kernel.h"
#include "log.h"
#include "marks.h"
#include "ruleset.h"

extern char **environ;

static struct mnl_socket *acct_nl;
static uint32_t acct_seq;

/* ------------------------------------------------------------------ */
/* Running iptables-nft-restore / -save                                 */
/* ------------------------------------------------------------------ */

/* Feed stdin and drain stdout/stderr without deadlocking on full pipes. */
static int
run_io(int wfd, const char *input, size_t inlen, int ofd, struct rules_buf *out,
       int efd, char *err, size_t errlen)
{
	struct rules_buf eb = { 0 };
	size_t off = 0;
	char tmp[4096];
	ssize_t n;

	/* restore input is small (a pipe holds 64 KiB); write it first, but
	 * keep draining when it is larger. */
	signal(SIGPIPE, SIG_IGN);
	while (off < inlen) {
		n = write(wfd, input + off, inlen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	close(wfd);
	while ((n = read(ofd, tmp, sizeof(tmp))) > 0)
		if (out) {
			if (rb_grow(out, (size_t)n + 1) == 0) {
				memcpy(out->buf + out->len, tmp, (size_t)n);
				out->len += (size_t)n;
				out->buf[out->len] = '\0';
			}
		}
	close(ofd);
	while ((n = read(efd, tmp, sizeof(tmp) - 1)) > 0) {
		tmp[n] = '\0';
		rb_printf(&eb, "%s", tmp);
	}
	close(efd);
	if (eb.len > 0) {
		while (eb.len > 0 && eb.buf[eb.len - 1] == '\n')
			eb.buf[--eb.len] = '\0';
		snprintf(err, errlen, "%s", eb.buf);
	}
	rb_free(&eb);
	return 0;
}

/* Run @argv with @input on stdin; collect stdout into @out (may be NULL)
 * and stderr into @err.  Returns the exit status or a negative errno. */
static int
run_cmd(char *const argv[], const char *input, size_t inlen,
	struct rules_buf *out, char *err, size_t errlen)
{
	int in[2], ob[2], eb[2], status, rc;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ob, O_CLOEXEC) < 0 || pipe2(eb, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, ob[1], 1);
	posix_spawn_file_actions_adddup2(&fa, eb[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(ob[1]);
	close(eb[1]);
	if (rc != 0) {
		close(in[1]);
		close(ob[0]);
		close(eb[0]);
		snprintf(err, errlen, "%s: %s", argv[0], strerror(rc));
		return -rc;
	}
	rc = run_io(in[1], input, inlen, ob[0], out, eb[0], err, errlen);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return rc;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int
kern_rules_install(const struct rules_buf *script, char *err, size_t errlen)
{
	char *argv[] = { "iptables-nft-restore", "--noflush", NULL };
	char msg[512] = "";
	int rc;

	if (script->failed) {
		snprintf(err, errlen, "out of memory building rules");
		return -ENOMEM;
	}
	log_debug("rules:\n%.*s", (int)script->len, script->buf);
	rc = run_cmd(argv, script->buf, script->len, NULL, msg, sizeof(msg));
	if (rc != 0) {
		snprintf(err, errlen, "iptables-nft-restore failed (%d): %s",
			 rc, msg[0] ? msg : "no message");
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

static int
save_mangle(struct rules_buf *out, char *err, size_t errlen)
{
	char *argv[] = { "iptables-nft-save", "-t", "mangle", NULL };
	char msg[512] = "";
	int rc;

	rc = run_cmd(argv, "", 0, out, msg, sizeof(msg));
	if (rc != 0) {
		snprintf(err, errlen, "iptables-nft-save failed (%d): %s", rc,
			 msg);
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Removing ITM's rules (start-up leftovers, exit)                      */
/* ------------------------------------------------------------------ */

int
kern_rules_remove(void)
{
	struct rules_buf saved = { 0 }, script = { 0 };
	char err[512];
	int rc;

	rc = save_mangle(&saved, err, sizeof(err));
	if (rc == 0 && saved.buf && strstr(saved.buf, "ITM_") != NULL) {
		ruleset_removal(saved.buf, &script);
		rc = kern_rules_install(&script, err, sizeof(err));
	}
	if (rc < 0)
		log_warnx("removing rules: %s", err);
	rb_free(&saved);
	rb_free(&script);
	return rc;
}

/* ------------------------------------------------------------------ */
/* nfacct objects                                                       */
/* ------------------------------------------------------------------ */

static void
acct_name(unsigned int id, char *buf, size_t len)
{
	snprintf(buf, len, "itm_s%u", id);
}

static int
acct_open(void)
{
	if (acct_nl != NULL)
		return 0;
	acct_nl = mnl_socket_open(NETLINK_NETFILTER);
	if (acct_nl == NULL)
		return -errno;
	if (mnl_socket_bind(acct_nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(acct_nl);
		acct_nl = NULL;
		return err;
	}
	return 0;
}

struct acct_reply {
	uint64_t pkts, bytes;
	int found;
	void (*each)(const char *name);
};

static int
acct_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct acct_reply *r = data;
	struct nfacct *a = nfacct_alloc();

	if (a == NULL)
		return MNL_CB_ERROR;
	if (nfacct_nlmsg_parse_payload(nlh, a) == 0) {
		r->pkts = nfacct_attr_get_u64(a, NFACCT_ATTR_PKTS);
		r->bytes = nfacct_attr_get_u64(a, NFACCT_ATTR_BYTES);
		r->found = 1;
		if (r->each)
			r->each(nfacct_attr_get_str(a, NFACCT_ATTR_NAME));
	}
	nfacct_free(a);
	return MNL_CB_OK;
}

/* One request, answered by data and/or an ACK. */
static int
acct_request(uint8_t cmd, uint16_t flags, const char *name,
	     struct acct_reply *reply)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t seq = ++acct_seq, portid;
	ssize_t n;
	int rc;

	if ((rc = acct_open()) < 0)
		return rc;
	nlh = nfacct_nlmsg_build_hdr(buf, cmd, flags | NLM_F_ACK, seq);
	if (name != NULL) {
		struct nfacct *a = nfacct_alloc();

		if (a == NULL)
			return -ENOMEM;
		nfacct_attr_set_str(a, NFACCT_ATTR_NAME, name);
		nfacct_nlmsg_build_payload(nlh, a);
		nfacct_free(a);
	}
	if (mnl_socket_sendto(acct_nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	portid = mnl_socket_get_portid(acct_nl);
	do {
		n = mnl_socket_recvfrom(acct_nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, acct_data_cb,
				reply);
	} while (rc > 0);
	return rc < 0 ? -errno : 0;
}

int
kern_acct_create(unsigned int id)
{
	char name[32];
	struct acct_reply r = { 0 };

	acct_name(id, name, sizeof(name));
	/* A leftover object of the same name is zeroed and reused. */
	if (acct_request(NFNL_MSG_ACCT_GET_CTRZERO, 0, name, &r) == 0)
		return 0;
	return acct_request(NFNL_MSG_ACCT_NEW, NLM_F_CREATE, name, &r);
}

int
kern_acct_read(unsigned int id, uint64_t *pkts, uint64_t *bytes)
{
	char name[32];
	struct acct_reply r = { 0 };
	int rc;

	acct_name(id, name, sizeof(name));
	rc = acct_request(NFNL_MSG_ACCT_GET, 0, name, &r);
	if (rc == 0 && r.found) {
		*pkts = r.pkts;
		*bytes = r.bytes;
	}
	return rc;
}

static char stale[ITM_SETTLE_IDS + 1][32];
static unsigned int n_stale;

static void
note_stale(const char *name)
{
	if (strncmp(name, "itm_s", 5) == 0 && n_stale <= ITM_SETTLE_IDS)
		snprintf(stale[n_stale++], sizeof(stale[0]), "%s", name);
}

/* Delete every itm_s* object, retrying while the kernel still holds a
 * reference from rules being freed. */
int
kern_acct_remove_all(void)
{
	struct acct_reply r = { .each = note_stale };
	int rc;

	n_stale = 0;
	rc = acct_request(NFNL_MSG_ACCT_GET, NLM_F_DUMP, NULL, &r);
	if (rc < 0) {
		log_warnx("nfacct: %s", strerror(-rc));
		return rc;
	}
	for (unsigned int i = 0; i < n_stale; i++) {
		for (int tries = 0; tries < 20; tries++) {
			rc = acct_request(NFNL_MSG_ACCT_DEL, 0, stale[i], &r);
			if (rc != -EBUSY)
				break;
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		}
		if (rc < 0)
			log_warnx("nfacct %s: delete: %s", stale[i],
				  strerror(-rc));
	}
	return 0;
}

int
kern_cleanup(void)
{
	int rc = kern_rules_remove();

	if (rc == 0)
		rc = kern_acct_remove_all();
	return rc;
}

/* ------------------------------------------------------------------ */
/* NFQUEUE numbers                                                      */
/* ------------------------------------------------------------------ */

void
kern_queues_bound(uint16_t base, unsigned int n, uint8_t *bound)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned int q;
	char line[256];

	memset(bound, 0, n);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u", &q) == 1 && q >= base && q - base < n)
			bound[q - base] = 1;
	fclose(f);
}

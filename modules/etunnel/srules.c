/*
 * srules.c - the netfilter rules and routes split TCP needs (split.c),
 * as nft(8) and ip(8) would set them by hand.
 *
 * Both ends: an nftables table itm_et_<name> whose chain runs at
 * PREROUTING just before the mangle table, and a routing rule that
 * delivers packets with the fwmark bit split_mark locally (`ip rule add
 * fwmark M/M lookup T`, `ip route add local 0.0.0.0/0 dev lo table T`).
 * The entry's chain sends a user's SYN towards the tunnel's prefixes (and
 * its destination ports, `tcp dport { ... }`, when ports= is given) to
 * its transparent listener (tproxy) and marks the later packets of
 * connections it holds (socket transparent); the exit's marks the
 * server's replies to the transparent sockets it connected (the client's
 * address as source).
 *
 * nftables' own tproxy, not iptables' TPROXY target: with no listener
 * (the agent killed) the xt target drops the SYN, a blackhole until an
 * agent starts again, where nft's tproxy does not match and the
 * connection takes the normal path: fail-open, as the agent's queues
 * are (--queue-bypass).  What a killed instance left is harmless then;
 * the rule and the route are recorded in /run/itm/etunnel-NETNS-NAME
 * before they are added, and the next load of the tunnel removes the
 * table, the rule and the route.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>

#include "etunnel.h"

#define STATE_DIR "/run/itm"

extern char **environ;

/* Run @argv with @input on stdin, its output discarded but for the first
 * line of stderr in @err.  Returns the exit status, or -1. */
static int
run(char *const argv[], const char *input, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	int in[2], eb[2], status = -1;
	pid_t pid;
	ssize_t n;

	err[0] = '\0';
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(eb, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, eb[1], 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(eb[1]);
	signal(SIGPIPE, SIG_IGN);
	if (pid > 0 && input && write(in[1], input, strlen(input)) < 0)
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
	close(in[1]);
	if (pid > 0 && (n = read(eb[0], err, errlen - 1)) > 0)
		err[strcspn(err, "\n")] = err[n] = '\0';
	close(eb[0]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* itm_et_<name>, with what nft does not take in a name as '_'. */
static void
table_name(const struct etun *t, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "itm_et_");

	for (const char *c = t->name; *c && o + 1 < len; c++)
		buf[o++] = isalnum((unsigned char)*c) ? *c : '_';
	buf[o] = '\0';
}

static void
state_path(const struct etun *t, char *buf, size_t len)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		st.st_ino = 0;
	snprintf(buf, len, "%s/etunnel-%lu-%s", STATE_DIR,
		 (unsigned long)st.st_ino, t->name);
}

/* Remove the table of @t, the rule for @mark and the routes of @table;
 * what is not there is no error. */
static void
remove_all(const struct etun *t, uint32_t mark, uint32_t table)
{
	char name[40], script[128], m[32], tab[16], err[256];
	char *nft[] = { "nft", "-f", "-", NULL };
	char *rule[] = {
		"ip", "rule", "del", "fwmark", m, "lookup", tab, NULL
	};
	char *flush[] = { "ip", "route", "flush", "table", tab, NULL };

	table_name(t, name, sizeof(name));
	snprintf(m, sizeof(m), "0x%x/0x%x", mark, mark);
	snprintf(tab, sizeof(tab), "%u", table);
	snprintf(script, sizeof(script), "table ip %s\ndelete table ip %s\n",
		 name, name);
	run(nft, script, err, sizeof(err));
	for (int i = 0; i < 4 && run(rule, NULL, err, sizeof(err)) == 0; i++)
		;
	run(flush, NULL, err, sizeof(err));
}

/* The table of @t as an nft script that replaces it in one
 * transaction. */
static void
write_script(const struct etun *t, char *buf, size_t len)
{
	char name[40], ports[200], dport[220] = "";
	size_t o;

	table_name(t, name, sizeof(name));
	etun_l4_nft_ports(&t->l4, ports, sizeof(ports));
	if (ports[0])
		snprintf(dport, sizeof(dport), " tcp dport %s", ports);
	o = (size_t)
		snprintf(buf, len,
			 "table ip %s\ndelete table ip %s\n"
			 "table ip %s {\n chain pre {\n"
			 "  type filter hook prerouting priority mangle - 1;"
			 " policy accept;\n",
			 name, name, name);
	for (unsigned int i = 0; i < t->n_dst && o < len; i++) {
		char pfx[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &t->dst[i].addr.v4, pfx, sizeof(pfx));
		o += (size_t)snprintf(buf + o, len - o,
				      "  meta l4proto tcp ip %s %s/%u socket "
				      "transparent 1 meta mark set meta mark "
				      "| 0x%x\n",
				      t->side == ETUN_ENTRY ? "daddr" : "saddr",
				      pfx, t->dst[i].len, t->split_mark);
		if (t->side == ETUN_ENTRY && o < len)
			o += (size_t)snprintf(
				buf + o, len - o,
				"  ip daddr %s/%u%s tcp flags & (fin|syn|rst|ack)"
				" == syn tproxy to :%u meta mark set meta mark"
				" | 0x%x accept\n",
				pfx, t->dst[i].len, dport, t->split_port,
				t->split_mark);
	}
	if (o < len)
		snprintf(buf + o, len - o, " }\n}\n");
}

static int
state_write(const struct etun *t)
{
	char path[128];
	FILE *f;

	state_path(t, path, sizeof(path));
	if (mkdir(STATE_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((f = fopen(path, "we")) == NULL)
		return -errno;
	fprintf(f, "%u %u\n", t->split_mark, t->split_table);
	return fclose(f) < 0 ? -errno : 0;
}

static int
fail(struct etun *t, const char *what, const char *err)
{
	t->c.rules_errors++;
	itm_log(LOG_ERR, "etunnel %s: split TCP: %s failed: %s", t->name, what,
		err[0] ? err : "no message");
	etun_rules_remove(t);
	return -EIO;
}

int
etun_rules_install(struct etun *t)
{
	char script[8192], m[32], tab[16], err[256];
	char *nft[] = { "nft", "-f", "-", NULL };
	char *rule[] = { "ip",	   "rule", "add",  "fwmark", m,
			 "lookup", tab,	   "pref", "100",    NULL };
	char *route[] = { "ip",	 "route", "replace", "local", "0.0.0.0/0",
			  "dev", "lo",	  "table",   tab,     NULL };
	int rc;

	if ((rc = state_write(t)) < 0) {
		snprintf(err, sizeof(err), "%s", strerror(-rc));
		return fail(t, "writing the state in " STATE_DIR, err);
	}
	remove_all(t, t->split_mark, t->split_table);
	snprintf(m, sizeof(m), "0x%x/0x%x", t->split_mark, t->split_mark);
	snprintf(tab, sizeof(tab), "%u", t->split_table);
	if (run(route, NULL, err, sizeof(err)) != 0)
		return fail(t, "ip route (local table)", err);
	if (run(rule, NULL, err, sizeof(err)) != 0)
		return fail(t, "ip rule", err);
	write_script(t, script, sizeof(script));
	if (run(nft, script, err, sizeof(err)) != 0)
		return fail(t, "nft", err);
	itm_log(LOG_INFO,
		"etunnel %s: split TCP rules in (fwmark 0x%x, table %u)",
		t->name, t->split_mark, t->split_table);
	return 0;
}

void
etun_rules_remove(struct etun *t)
{
	char path[128];

	remove_all(t, t->split_mark, t->split_table);
	state_path(t, path, sizeof(path));
	(void)unlink(path);
}

void
etun_rules_recover(struct etun *t)
{
	char path[128];
	unsigned int mark, table;
	FILE *f;

	state_path(t, path, sizeof(path));
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fscanf(f, "%u %u", &mark, &table) == 2 && mark && table) {
		itm_log(LOG_NOTICE,
			"etunnel %s: removing the split TCP rules a previous "
			"instance left (%s)",
			t->name, path);
		remove_all(t, mark, table);
	}
	fclose(f);
	(void)unlink(path);
}

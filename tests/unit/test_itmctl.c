/*
 * test_itmctl.c - the itmctl binary against a small fake agent.
 *
 * The fake agent is a real gRPC server (proto/ glue, unix socket in a temp
 * dir) answering the Agent service with canned replies and recording the
 * requests it got.  Each test runs itmctl as a child process and compares
 * its stdout with a saved file in tests/data/itmctl/, its stderr with the
 * exact error text, and its exit status.  ITMCTL_REGEN=1 rewrites the
 * saved files from what itmctl prints (review the diff before committing).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "itm_rpc.h"
#include "itm.pb-c.h"

extern char **environ;

static struct fake {
	char dir[64];
	char sock[128];
	char tls_addr[64];		/* 127.0.0.1:port, mutual TLS */
	char pki[128];
	uv_thread_t thread;
	uv_sem_t ready;
	uv_loop_t loop;
	uv_async_t stop;
	struct itm_rpc_server *srv;
	int rc;
	uv_mutex_t lock;		/* what the agent was asked */
	char last_params[256];
	char last_module[64];
	int n_calls;
} fk;

static void record(const char *module, size_t n, char **params)
{
	uv_mutex_lock(&fk.lock);
	fk.n_calls++;
	snprintf(fk.last_module, sizeof(fk.last_module), "%s", module);
	fk.last_params[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t off = strlen(fk.last_params);

		snprintf(fk.last_params + off, sizeof(fk.last_params) - off,
			 "%s%s", i ? "|" : "", params[i]);
	}
	uv_mutex_unlock(&fk.lock);
}

/* ------------------------------------------------------------------ */
/* Canned replies                                                       */
/* ------------------------------------------------------------------ */

static void h_status(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__StatusReply r = ITM__V1__STATUS_REPLY__INIT;

	(void)arg;
	record("", 0, NULL);
	r.node = "lab-n1";
	r.version = "0.1.0";
	r.uptime_ms = 93784005;		/* 1d 2h 3m 4.005s */
	r.modules = 2;
	r.registrations = 3;
	r.table_generation = 7;
	r.controller_connected = 1;
	r.malformed_packets = 1;
	r.queue_drops = 12;
	itm_rpc_reply(call, &r.base);
}

static void h_load(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__LoadModuleRequest *q = (const void *)itm_rpc_request(call);
	Itm__V1__LoadModuleReply r = ITM__V1__LOAD_MODULE_REPLY__INIT;
	char *params[16];
	size_t n = 0;

	(void)arg;
	record(q->name, q->n_params, q->params);
	if (strcmp(q->name, "qosmod")) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "no module '%s' in /usr/lib/itm/modules", q->name);
		return;
	}
	for (size_t i = 0; i < q->n_params && n < 15; i++) {
		if (!strcmp(q->params[i], "threshold=abc")) {
			itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
				     "threshold: not a number: 'abc'");
			return;
		}
		params[n++] = q->params[i];
	}
	params[n++] = "classes=2";
	r.name = q->name;
	r.n_params = n;
	r.params = params;
	itm_rpc_reply(call, &r.base);
}

static void h_unload(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__UnloadModuleRequest *q = (const void *)itm_rpc_request(call);
	Itm__V1__UnloadModuleReply r = ITM__V1__UNLOAD_MODULE_REPLY__INIT;

	(void)arg;
	record(q->name, 0, NULL);
	if (!strcmp(q->name, "slow"))
		return;		/* never answered; released at shutdown */
	if (strcmp(q->name, "qosmod")) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "module '%s' is not loaded",
			     q->name);
		return;
	}
	itm_rpc_reply(call, &r.base);
}

static void h_list(struct itm_rpc_call *call, void *arg)
{
	uint32_t protos[] = { 6, 17 };
	char *daddr[] = { "10.9.0.0/16", "10.8.0.0/16" }, *outdev[] = { "veth0" };
	char *qparams[] = { "threshold=20", "classes=2" };
	Itm__V1__PortRange p80 = ITM__V1__PORT_RANGE__INIT, p8k = p80;
	Itm__V1__PortRange *ports[] = { &p80, &p8k };
	Itm__V1__Interest i1 = ITM__V1__INTEREST__INIT, i2 = i1;
	Itm__V1__Registration g1 = ITM__V1__REGISTRATION__INIT, g2 = g1, g3 = g1;
	Itm__V1__Registration *qr[] = { &g1 }, *rr[] = { &g2, &g3 };
	Itm__V1__ModuleInfo m1 = ITM__V1__MODULE_INFO__INIT, m2 = m1, m3 = m1;
	Itm__V1__ModuleInfo *mods[] = { &m1, &m2, &m3 };
	Itm__V1__ListModulesReply r = ITM__V1__LIST_MODULES_REPLY__INIT;

	(void)arg;
	i1.n_protocols = 2, i1.protocols = protos;
	p80.lo = p80.hi = 80, p8k.lo = 8000, p8k.hi = 8080;
	i2.n_daddr = 2, i2.daddr = daddr, i2.n_dst_ports = 2, i2.dst_ports = ports;
	i2.n_outdev = 1, i2.outdev = outdev;
	g1.label = "qos", g1.hook = ITM__V1__HOOK__HOOK_IP_FORWARD;
	g1.priority = 10, g1.queue = 3, g1.stage = 1, g1.interest = &i1;
	g1.packets = 123456;
	g2.label = "route-out", g2.hook = ITM__V1__HOOK__HOOK_IP_OUT;
	g2.priority = -5, g2.queue = 5, g2.stage = 2, g2.interest = &i2;
	g2.packets = 77;
	g3.label = "route-in", g3.hook = ITM__V1__HOOK__HOOK_PRE_ROUTE;
	g3.queue = 6, g3.stage = 1;
	m1.name = "qosmod", m1.kind = "agent", m1.version = "1.0";
	m1.n_params = 2, m1.params = qparams;
	m1.n_registrations = 1, m1.registrations = qr;
	m2.name = "itmroute", m2.kind = "process", m2.pid = 4242;
	m2.version = "0.1", m2.n_registrations = 2, m2.registrations = rr;
	m3.name = "emptymod", m3.kind = "agent";
	r.n_modules = 3, r.modules = mods;
	itm_rpc_reply(call, &r.base);
}

static void h_stats(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__StatsRequest *q = (const void *)itm_rpc_request(call);
	Itm__V1__ClassStats c1 = ITM__V1__CLASS_STATS__INIT, c2 = c1, c3 = c1;
	Itm__V1__ClassStats *qc[] = { &c1, &c2 }, *rc[] = { &c3 };
	Itm__V1__RegistrationStats g1 = ITM__V1__REGISTRATION_STATS__INIT, g2 = g1;
	Itm__V1__RegistrationStats *qg[] = { &g1 }, *rg[] = { &g2 };
	Itm__V1__Counter k1 = ITM__V1__COUNTER__INIT, k2 = k1, k3 = k1;
	Itm__V1__Counter *qk[] = { &k1, &k2 }, *rk[] = { &k3 };
	Itm__V1__ModuleStats m1 = ITM__V1__MODULE_STATS__INIT, m2 = m1;
	Itm__V1__ModuleStats *mods[2];
	Itm__V1__StatsReply r = ITM__V1__STATS_REPLY__INIT;

	(void)arg;
	record(q->module, 0, NULL);
	c1.class_id = 1, c1.name = "short", c1.packets = 1200;
	c1.bytes = 98000, c1.flows = 14;
	c2.class_id = 2, c2.name = "long", c2.packets = 40000;
	c2.bytes = 58000000, c2.flows = 2;
	c2.settled_packets = 36000, c2.settled_bytes = 52000000;
	c3.class_id = 1, c3.name = "tunnelled", c3.packets = 77;
	c3.bytes = 6160, c3.flows = 3;
	g1.label = "qos", g1.hook = ITM__V1__HOOK__HOOK_IP_FORWARD;
	g1.n_classes = 2, g1.classes = qc;
	g2.label = "route-out", g2.hook = ITM__V1__HOOK__HOOK_IP_OUT;
	g2.n_classes = 1, g2.classes = rc;
	k1.name = "flows_active", k1.value = 16;
	k2.name = "table_full", k2.value = 0;
	k3.name = "probes_sent", k3.value = 12;
	m1.module = "qosmod", m1.kind = "agent";
	m1.n_registrations = 1, m1.registrations = qg;
	m1.n_counters = 2, m1.counters = qk;
	m2.module = "itmroute", m2.kind = "process";
	m2.n_registrations = 1, m2.registrations = rg;
	m2.n_counters = 1, m2.counters = rk;
	r.node = "lab-n1";
	if (!*q->module || !strcmp(q->module, "qosmod"))
		mods[r.n_modules++] = &m1;
	if (!*q->module || !strcmp(q->module, "itmroute"))
		mods[r.n_modules++] = &m2;
	if (!r.n_modules) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "no module '%s'", q->module);
		return;
	}
	r.modules = mods;
	itm_rpc_reply(call, &r.base);
}

#define AGENT "/itm.v1.Agent/"
static const struct itm_rpc_method methods[] = {
	{ AGENT "GetStatus", &itm__v1__status_request__descriptor, 0, h_status },
	{ AGENT "LoadModule", &itm__v1__load_module_request__descriptor, 0, h_load },
	{ AGENT "UnloadModule", &itm__v1__unload_module_request__descriptor, 0, h_unload },
	{ AGENT "ListModules", &itm__v1__list_modules_request__descriptor, 0, h_list },
	{ AGENT "GetStats", &itm__v1__stats_request__descriptor, 0, h_stats },
};

/* ------------------------------------------------------------------ */
/* The fake agent's thread                                              */
/* ------------------------------------------------------------------ */

static void stop_cb(uv_async_t *h)
{
	itm_rpc_server_free(fk.srv);
	uv_close((uv_handle_t *)h, NULL);
}

static char *pki_file(const char *name)
{
	static char bufs[4][200];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", fk.pki, name);
	return b;
}

/* The agent's management port: mutual TLS with the lab CA. */
static int fake_listen_tls(void)
{
	struct itm_rpc_tls tls = { pki_file("ca.pem"), pki_file("agent1.pem"),
				   pki_file("agent1.key"), NULL };
	char cmd[300];
	int rc;

	snprintf(cmd, sizeof(cmd), "%s %s agent1 ctl >/dev/null", ITM_MKCERTS,
		 fk.pki);
	if (system(cmd))
		return -EIO;
	rc = itm_rpc_server_listen(fk.srv, "127.0.0.1:0", &tls, 0);
	snprintf(fk.tls_addr, sizeof(fk.tls_addr), "127.0.0.1:%d",
		 itm_rpc_server_port(fk.srv));
	return rc;
}

static void fake_thread(void *arg)
{
	(void)arg;
	uv_loop_init(&fk.loop);
	uv_async_init(&fk.loop, &fk.stop, stop_cb);
	fk.rc = itm_rpc_server_new(&fk.srv, &fk.loop, methods,
				   sizeof(methods) / sizeof(methods[0]), NULL);
	if (!fk.rc)
		fk.rc = itm_rpc_server_listen(fk.srv, fk.sock, NULL, 0);
	if (!fk.rc)
		fk.rc = fake_listen_tls();
	if (!fk.rc)
		fk.rc = itm_rpc_server_start(fk.srv);
	uv_sem_post(&fk.ready);
	uv_run(&fk.loop, UV_RUN_DEFAULT);
	uv_loop_close(&fk.loop);
}

static int fake_start(void **state)
{
	(void)state;
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/test_itmctl.XXXXXX");
	if (!mkdtemp(fk.dir))
		return -1;
	snprintf(fk.sock, sizeof(fk.sock), "unix:%s/agent.sock", fk.dir);
	snprintf(fk.pki, sizeof(fk.pki), "%s/pki", fk.dir);
	uv_mutex_init(&fk.lock);
	uv_sem_init(&fk.ready, 0);
	uv_thread_create(&fk.thread, fake_thread, NULL);
	uv_sem_wait(&fk.ready);
	uv_sem_destroy(&fk.ready);
	return fk.rc;
}

static int fake_stop(void **state)
{
	char cmd[128];

	(void)state;
	uv_async_send(&fk.stop);
	uv_thread_join(&fk.thread);
	uv_mutex_destroy(&fk.lock);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fk.dir);
	return system(cmd);
}

/* ------------------------------------------------------------------ */
/* Running itmctl                                                       */
/* ------------------------------------------------------------------ */

struct run {
	int status;			/* exit status */
	char out[16384];
	char err[4096];
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* itmctl ARGS... (NULL-terminated), with ITM_AGENT set to @agent_env. */
static void itmctl(struct run *r, const char *agent_env, ...)
{
	char *argv[32], out[128], err[128], env_agent[200];
	char *envp[] = { env_agent, "PATH=/usr/bin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	int n = 0, st;
	va_list ap;
	pid_t pid;

	argv[n++] = ITMCTL_BIN;
	va_start(ap, agent_env);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	snprintf(env_agent, sizeof(env_agent), "ITM_AGENT=%s", agent_env);
	snprintf(out, sizeof(out), "%s/stdout", fk.dir);
	snprintf(err, sizeof(err), "%s/stderr", fk.dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(posix_spawn(&pid, ITMCTL_BIN, &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

static void expect_last(const char *module, const char *params)
{
	uv_mutex_lock(&fk.lock);
	assert_string_equal(fk.last_module, module);
	if (params)
		assert_string_equal(fk.last_params, params);
	uv_mutex_unlock(&fk.lock);
}

static void expect_file(const char *got, const char *name)
{
	char path[512], want[16384];

	snprintf(path, sizeof(path), "%s/%s", ITMCTL_DATA, name);
	if (getenv("ITMCTL_REGEN")) {	/* rewrite the saved outputs */
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	slurp(path, want, sizeof(want));
	assert_true(want[0] != '\0');
	if (strcmp(got, want))
		fprintf(stderr, "--- %s: got:\n%s--- want:\n%s", name, got, want);
	assert_string_equal(got, want);
}

static int starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* A successful run printing exactly the saved output @file. */
#define OK_RUN(file, ...) do {						\
	struct run r_;							\
	itmctl(&r_, fk.sock, __VA_ARGS__, NULL);			\
	assert_string_equal(r_.err, "");				\
	assert_int_equal(r_.status, 0);					\
	expect_file(r_.out, file);					\
} while (0)

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void test_status(void **state)
{
	(void)state;
	OK_RUN("status.txt", "status");
	OK_RUN("status.json", "-o", "json", "status");
	OK_RUN("status.json", "status", "--output=json");	/* anywhere */
	OK_RUN("status.txt", "statu", "--agent", fk.sock + 5);	/* a path */
}

static void test_module_list(void **state)
{
	(void)state;
	OK_RUN("modules.txt", "module", "list");
	OK_RUN("modules.txt", "mod", "li");
	OK_RUN("modules.json", "-ojson", "module", "list");
}

static void test_stats(void **state)
{
	(void)state;
	OK_RUN("stats.txt", "stats");
	expect_last("", NULL);
	OK_RUN("stats.json", "stats", "-o", "json");
	OK_RUN("stats-qosmod.txt", "stats", "--module", "qosmod");
	expect_last("qosmod", NULL);
}

static void test_module_load(void **state)
{
	struct run r;
	char want[512];

	(void)state;
	OK_RUN("load.txt", "module", "load", "qosmod", "threshold=20");
	expect_last("qosmod", "threshold=20");
	OK_RUN("load.json", "-o", "json", "module", "load", "qosmod",
	       "threshold=20");
	itmctl(&r, fk.sock, "module", "load", "qosmod", "threshold=abc",
	       "mark=4", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	snprintf(want, sizeof(want), "itmctl: module load: agent at %s: "
		 "INVALID_ARGUMENT: threshold: not a number: 'abc'\n", fk.sock);
	assert_string_equal(r.err, want);
	expect_last("qosmod", "threshold=abc|mark=4");
}

static void test_module_unload(void **state)
{
	struct run r;
	char want[512];

	(void)state;
	itmctl(&r, fk.sock, "module", "unload", "qosmod", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "module qosmod unloaded\n");
	itmctl(&r, fk.sock, "-o", "json", "module", "unload", "qosmod", NULL);
	assert_string_equal(r.out, "{\n  \"unloaded\": \"qosmod\"\n}\n");
	itmctl(&r, fk.sock, "module", "unload", "nope", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want), "itmctl: module unload: agent at %s: "
		 "NOT_FOUND: module 'nope' is not loaded\n", fk.sock);
	assert_string_equal(r.err, want);
}

static void test_timeout(void **state)
{
	struct run r;
	char want[512];

	(void)state;
	itmctl(&r, fk.sock, "--timeout", "300", "module", "unload", "slow", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want), "itmctl: module unload: agent at %s: "
		 "DEADLINE_EXCEEDED: Deadline Exceeded\n", fk.sock);
	assert_string_equal(r.err, want);
}

static void test_unreachable(void **state)
{
	char addr[200], want[300];
	struct run r;

	(void)state;
	snprintf(addr, sizeof(addr), "unix:%s/none.sock", fk.dir);
	itmctl(&r, addr, "status", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	snprintf(want, sizeof(want), "itmctl: status: agent at %s: UNAVAILABLE: ",
		 addr);
	assert_true(starts_with(r.err, want));
	/* No gRPC log lines, one line of ours. */
	assert_non_null(strchr(r.err, '\n'));
	assert_string_equal(strchr(r.err, '\n'), "\n");
}

static void test_tls(void **state)
{
	char ca[200], cert[200], key[200], want[300];
	struct run r;

	(void)state;
	snprintf(ca, sizeof(ca), "%s", pki_file("ca.pem"));
	snprintf(cert, sizeof(cert), "%s", pki_file("ctl.pem"));
	snprintf(key, sizeof(key), "%s", pki_file("ctl.key"));
	OK_RUN("status.txt", "--agent", fk.tls_addr, "--tls-ca", ca,
	       "--tls-cert", cert, "--tls-key", key, "--tls-name", "agent1",
	       "status");
	/* No client certificate: the agent refuses the connection. */
	itmctl(&r, fk.sock, "--agent", fk.tls_addr, "--tls-ca", ca,
	       "--tls-name", "agent1", "status", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want), "itmctl: status: agent at %s: UNAVAILABLE",
		 fk.tls_addr);
	assert_true(starts_with(r.err, want));
	/* Plaintext to the TLS port: refused too. */
	itmctl(&r, fk.sock, "--agent", fk.tls_addr, "status", NULL);
	assert_int_equal(r.status, 1);
	itmctl(&r, fk.sock, "--tls-ca", ca, "--tls-cert", cert, "status", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "itmctl: --tls-cert and --tls-key go "
			    "together\n");
}

/* Usage errors: exit 2, one clear line, nothing sent to the agent. */
static void test_usage_errors(void **state)
{
	static const struct {
		const char *args[6];
		const char *err;
	} cases[] = {
		{ { "module" }, "itmctl: module: expected load, unload or list\n" },
		{ { "frobnicate" },
		  "itmctl: unknown command 'frobnicate' (try 'itmctl help')\n" },
		{ { "s" }, "itmctl: ambiguous 's': status or stats\n" },
		{ { "module", "load" }, "itmctl: module load: missing MODULE\n" },
		{ { "module", "load", "qosmod", "=1" },
		  "itmctl: module load: unexpected '=1'; expected key=value or "
		  "MODULE\n" },
		{ { "module", "load", "qosmod", "a b=1" },
		  "itmctl: module load: bad parameter 'a b=1' (expected "
		  "key=value)\n" },
		{ { "-o", "yaml", "status" },
		  "itmctl: -o: unknown format 'yaml' (table or json)\n" },
		{ { "--timeout", "0", "status" },
		  "itmctl: --timeout: not a number of milliseconds (1 to "
		  "3600000): '0'\n" },
		{ { "status", "--agent" }, "itmctl: option --agent needs a value\n" },
		{ { "--frob", "status" }, "itmctl: unknown option '--frob'\n" },
		{ { "--tls-ca", "/nonexistent/ca.pem", "status" },
		  "itmctl: --tls-ca: /nonexistent/ca.pem: No such file or "
		  "directory\n" },
	};
	int before, after;
	struct run r;

	(void)state;
	uv_mutex_lock(&fk.lock);
	before = fk.n_calls;
	uv_mutex_unlock(&fk.lock);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i].args;

		itmctl(&r, fk.sock, a[0], a[1], a[2], a[3], a[4], NULL);
		assert_string_equal(r.err, cases[i].err);
		assert_string_equal(r.out, "");
		assert_int_equal(r.status, 2);
	}
	itmctl(&r, fk.sock, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "usage: itmctl [options] COMMAND"));
	uv_mutex_lock(&fk.lock);
	after = fk.n_calls;
	uv_mutex_unlock(&fk.lock);
	assert_int_equal(after, before);
}

static void test_help(void **state)
{
	struct run r;

	(void)state;
	itmctl(&r, fk.sock, "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "SYNOPSIS\n"));
	assert_non_null(strstr(r.out, "  itmctl [options] module load MODULE "
				      "[key=value ...]\n"));
	assert_non_null(strstr(r.out, "EXIT STATUS\n"));
	assert_non_null(strstr(r.out, "--tls-cert FILE"));
	itmctl(&r, fk.sock, "help", "stats", NULL);
	assert_int_equal(r.status, 0);
	assert_true(starts_with(r.out, "usage: itmctl [options] stats "
				"[--module MODULE]\n\nPer-class traffic"));
	itmctl(&r, fk.sock, "module", "unload", "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_true(starts_with(r.out, "usage: itmctl [options] module unload "
				"MODULE\n\n"));
	itmctl(&r, fk.sock, "help", "nosuch", NULL);
	assert_int_equal(r.status, 2);
	itmctl(&r, fk.sock, "nodes", NULL);	/* controller: not yet */
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "itmctl: nodes: not implemented yet (needs "
			    "itm-controller support in itmctl)\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_module_list),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_module_load),
		cmocka_unit_test(test_module_unload),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}

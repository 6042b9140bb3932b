/*
 * ctl_main.c - itm-controller: options, start-up, signals, shutdown.
 * Wiring only; see ctl.h for what each ctl_*.c file does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

#ifndef ITM_VERSION
#define ITM_VERSION "0"
#endif

static struct ctl the_ctl;
static uv_signal_t sig_int, sig_term, sig_hup;

static void
usage(FILE *f)
{
	/* clang-format off */
	fprintf(f,
"Usage: itm-controller --db PATH | --store ADDR [--listen ADDR] [TLS options]\n"
"                      [options]\n"
"       itm-controller --store ADDR --import FILE | --export FILE\n"
"\n"
"Keep the ITM overlay topology in an SQLite database or in etcd, compute every\n"
"node's neighbour table and push it to the node's itm-agent; answer\n"
"itmctl (topology apply/show/diff/history/rollback, nodes, stats,\n"
"module load/unload/list on a node).\n"
"\n"
"Options:\n"
"  -d, --db PATH            the database file (created if missing; SQLite,\n"
"                           WAL).  All state is rebuilt from it at start.\n"
"  -s, --store ADDR         the store: a file path (as --db) or\n"
"                           etcd://HOST:PORT[,HOST:PORT...][/PREFIX]\n"
"                           [?ca=FILE&cert=FILE&key=FILE&name=NAME]: keys\n"
"                           under PREFIX (default /itm) of an etcd v3\n"
"                           cluster; ca= turns TLS to etcd on (cert= and\n"
"                           key= for client certificates, name= the name\n"
"                           in etcd's certificate)\n"
"      --import FILE        copy every generation, the agents' liveness and\n"
"                           the placements of the SQLite FILE into the\n"
"                           store, which must be empty; then exit\n"
"      --export FILE        copy the store into a new SQLite FILE; exit\n"
"      --advertise ADDR     how other controllers and itmctl name this one\n"
"                           when it leads (default: the --listen address)\n"
"  -l, --listen ADDR        where agents and itmctl reach the controller\n"
"                           (default " ITM_CONTROLLER_ADDR_DEFAULT ")\n"
"      --tls-ca FILE        CA that signs agents and operators: mutual TLS\n"
"      --tls-cert FILE      the controller's certificate (its SAN must name\n"
"                           the address agents dial)\n"
"      --tls-key FILE       its key\n"
"      --metrics ADDR       serve GET /metrics (Prometheus text format) on\n"
"                           ADDR: HOST:PORT, [V6]:PORT, or PORT alone for\n"
"                           127.0.0.1:PORT (e.g. 9465).  Off by default; no\n"
"                           authentication, so keep it on loopback or a\n"
"                           management network.  Refreshed every second.\n"
"      --insecure-plaintext serve without TLS on an address that is not\n"
"                           loopback: anyone who reaches it may apply a\n"
"                           topology (--plaintext: the same, older name)\n"
"  -n, --check              open the database, check every page and row\n"
"                           of it (PRAGMA integrity_check, foreign keys,\n"
"                           value ranges), validate the current\n"
"                           generation and the TLS files, print\n"
"                           \"configuration OK\" or the faults, and exit\n"
"                           (1 when the database is damaged)\n"
"      --heartbeat-ms N     heartbeat interval asked of agents (default\n"
"                           %d); a node is down after %d missed\n"
"      --push-timeout-ms N  deadline of one push or forwarded call\n"
"                           (default %d)\n"
"  -v, --verbose            log debug messages\n"
"  -h, --help               this text\n"
"  -V, --version            print the version\n"
"\n"
"Security: without TLS the controller listens only on loopback (127.0.0.0/8,\n"
"::1, localhost, unix sockets) unless --insecure-plaintext is given (and\n"
"then logs a warning).  With TLS every\n"
"client needs a certificate of --tls-ca: an agent's CN must be its node\n"
"name (and a node name may only join and heartbeat), an operator's CN any\n"
"other name.  Pushes go to each node's mgmt address in the topology; with\n"
"TLS the agent must present a certificate for its node name.\n"
"\n"
"Agents keep their tables while the controller is down; a controller\n"
"restarted on the same store pushes the current generation to every\n"
"agent that joins again.\n"
"\n"
"Several controllers on one etcd store (same --store): one leads (an etcd\n"
"lease renewed every second; a dead leader's lead ends after %d s and a\n"
"standby takes it).  Only the leader takes applies, rollbacks, module\n"
"calls and agents' joins; a standby serves the reads (topology show,\n"
"history, diff, nodes, stats) and refuses the rest naming the leader.\n"
"Give agents every controller: itm-agent --controller A,B,C.\n"
"\n"
"A damaged database (a page, an index or a row that is not what the\n"
"schema promises) stops the controller at start-up, before anything is\n"
"written, with the way to recover; one found damaged while running\n"
"refuses every write (apply, rollback, acks) with the same advice.\n"
"\n"
"Exit status: 0 when stopped by a signal or a check, import or export\n"
"succeeded; 1 on any failure (the message says which).\n"
"\n"
"Examples:\n"
"  itm-controller --db /var/lib/itm/topology.db\n"
"  itm-controller --db topo.db --listen 0.0.0.0:7700 --tls-ca ca.pem \\\n"
"      --tls-cert controller.pem --tls-key controller.key\n"
"  itm-controller --db topo.db --check\n"
"  itm-controller --db topo.db --metrics 127.0.0.1:9465\n"
"  itm-controller --store etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379\n"
"  itm-controller --store etcd://10.0.0.1:2379 --import topo.db\n",
	CTL_DEFAULT_HB_MS, CTL_MISSED_BEATS, CTL_DEFAULT_PUSH_MS,
	CTL_LEAD_TTL_S);
	/* clang-format on */
}

static uint32_t
parse_ms(const char *opt, const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 100 || v > 60000)
		fatalx("%s: '%s': need a number of milliseconds 100..60000",
		       opt, s);
	return (uint32_t)v;
}

enum {
	OPT_CA = 256,
	OPT_CERT,
	OPT_KEY,
	OPT_PLAIN,
	OPT_HB,
	OPT_PUSH,
	OPT_METRICS,
	OPT_IMPORT,
	OPT_EXPORT,
	OPT_ADVERTISE
};

/* --db and --store name the one store. */
static void
set_store(struct ctl_config *cfg, const char *where)
{
	if (cfg->db_path && strcmp(cfg->db_path, where) != 0)
		fatalx("give one store: --db %s and --store %s", cfg->db_path,
		       where);
	cfg->db_path = where;
}

static void
parse_args(struct ctl_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "import", required_argument, NULL, OPT_IMPORT },
		{ "export", required_argument, NULL, OPT_EXPORT },
		{ "advertise", required_argument, NULL, OPT_ADVERTISE },
		{ "listen", required_argument, NULL, 'l' },
		{ "tls-ca", required_argument, NULL, OPT_CA },
		{ "tls-cert", required_argument, NULL, OPT_CERT },
		{ "tls-key", required_argument, NULL, OPT_KEY },
		{ "insecure-plaintext", no_argument, NULL, OPT_PLAIN },
		{ "plaintext", no_argument, NULL, OPT_PLAIN },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "check", no_argument, NULL, 'n' },
		{ "heartbeat-ms", required_argument, NULL, OPT_HB },
		{ "push-timeout-ms", required_argument, NULL, OPT_PUSH },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	cfg->listen = ITM_CONTROLLER_ADDR_DEFAULT;
	cfg->heartbeat_ms = CTL_DEFAULT_HB_MS;
	cfg->push_timeout_ms = CTL_DEFAULT_PUSH_MS;
	while ((ch = getopt_long(argc, argv, "d:s:l:nvhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
		case 's': set_store(cfg, optarg); break;
		case OPT_IMPORT: cfg->import_path = optarg; break;
		case OPT_EXPORT: cfg->export_path = optarg; break;
		case OPT_ADVERTISE: cfg->advertise = optarg; break;
		case 'l': cfg->listen = optarg; break;
		case OPT_CA: cfg->tls.ca_file = optarg; break;
		case OPT_CERT: cfg->tls.cert_file = optarg; break;
		case OPT_KEY: cfg->tls.key_file = optarg; break;
		case OPT_PLAIN: cfg->plaintext = 1; break;
		case OPT_METRICS: cfg->metrics_addr = optarg; break;
		case 'n': cfg->check_only = 1; break;
		case OPT_HB:
			cfg->heartbeat_ms = parse_ms("--heartbeat-ms", optarg);
			break;
		case OPT_PUSH:
			cfg->push_timeout_ms =
				parse_ms("--push-timeout-ms", optarg);
			break;
		case 'v': cfg->verbose++; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("itm-controller %s\n", ITM_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		fatalx("unexpected argument '%s' (see --help)", argv[optind]);
}

static void
check_args(struct ctl_config *cfg)
{
	const struct itm_rpc_tls *t = &cfg->tls;

	if (cfg->db_path == NULL)
		fatalx("--db PATH or --store ADDR is required (see --help)");
	if (cfg->import_path && cfg->export_path)
		fatalx("--import and --export: one at a time");
	if ((cfg->import_path || cfg->export_path) && cfg->check_only)
		fatalx("--check does not go with --import or --export");
	if (t->ca_file || t->cert_file || t->key_file) {
		if (!t->ca_file || !t->cert_file || !t->key_file)
			fatalx("TLS needs all of --tls-ca, --tls-cert and "
			       "--tls-key");
		if (cfg->plaintext)
			fatalx("--insecure-plaintext and --tls-* contradict each "
			       "other");
		cfg->use_tls = 1;
	}
	if (cfg->use_tls) {
		const char *files[] = { t->ca_file, t->cert_file, t->key_file };

		for (size_t i = 0; i < 3; i++)
			if (access(files[i], R_OK) < 0)
				fatal("TLS file %s", files[i]);
	}
	if (!cfg->use_tls && !cfg->plaintext &&
	    !itm_rpc_addr_is_loopback(cfg->listen))
		fatalx("refusing to listen on %s without TLS: give --tls-ca, "
		       "--tls-cert and --tls-key, or --insecure-plaintext to accept "
		       "unauthenticated agents and operators",
		       cfg->listen);
}

/* Open the store and check it: quickly at start-up, every page with
 * --check (@full).  A damaged store is never written to. */
static void
open_store(struct ctl *c, int full)
{
	char err[512];
	int rc;

	rc = store_open(&c->store, c->cfg.db_path, err, sizeof(err));
	if (rc < 0)
		fatalx("store %s: %s", c->cfg.db_path, err);
	if (store_check(c->store, full) == -EBADMSG)
		fatalx("database %s is damaged: %s.  Nothing was written to "
		       "it.  To recover: %s",
		       c->cfg.db_path, store_errmsg(c->store), STORE_RECOVERY);
	rc = ctl_state_load(c, err, sizeof(err));
	if (rc < 0)
		fatalx("store %s: reading the current generation: %s",
		       c->cfg.db_path, err);
}

static int
check_only(struct ctl *c)
{
	if (strncmp(c->cfg.db_path, "etcd://", 7) != 0 &&
	    access(c->cfg.db_path, F_OK) < 0) {
		printf("configuration OK: %s does not exist yet (it will be "
		       "created)\n",
		       c->cfg.db_path);
		return 0;
	}
	open_store(c, 1);
	printf("configuration OK: %s, schema %d, generation %llu (%zu nodes, "
	       "%zu links)\n",
	       c->cfg.db_path, store_schema_version(c->store),
	       (unsigned long long)c->gen, c->n_nodes,
	       c->topo ? c->topo->n_links : 0);
	ctl_state_free(c);
	store_close(c->store);
	return 0;
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Clients first: their pending pushes answer calls the server still has. */
static void
shutdown_cb(uv_signal_t *s, int signum)
{
	struct ctl *c = s->data;

	log_info("signal %d: shutting down (agents keep their tables)", signum);
	ctl_metrics_stop(c);
	ctl_nodes_stop(c); /* writes the liveness due while it leads */
	ctl_lead_stop(c);
	ctl_state_free(c);
	ctl_rpc_stop(c);
	uv_walk(c->loop, close_walk_cb, NULL);
}

static void
hup_cb(uv_signal_t *s, int signum)
{
	log_info("SIGHUP ignored: the topology changes only through apply");
}

/* One connection to each agent: the usual soft limit of 1024 descriptors
 * stops the joins somewhere before 1000 agents.  Raised to the hard
 * limit, and said when that is still low. */
static void
fd_limit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return;
	}
	if (rl.rlim_cur < CTL_FD_WANT)
		log_warnx("at most %llu open files (RLIMIT_NOFILE): about "
			  "that many agents can join",
			  (unsigned long long)rl.rlim_cur);
}

static void
signals_start(struct ctl *c)
{
	signal(SIGPIPE, SIG_IGN);
	uv_signal_init(c->loop, &sig_int);
	uv_signal_init(c->loop, &sig_term);
	uv_signal_init(c->loop, &sig_hup);
	sig_int.data = sig_term.data = sig_hup.data = c;
	uv_signal_start(&sig_int, shutdown_cb, SIGINT);
	uv_signal_start(&sig_term, shutdown_cb, SIGTERM);
	uv_signal_start(&sig_hup, hup_cb, SIGHUP);
}

int
main(int argc, char **argv)
{
	struct ctl *c = &the_ctl;
	int rc;

	log_init("itm-controller", 0, 0);
	parse_args(&c->cfg, argc, argv);
	log_set_verbose(c->cfg.verbose);
	check_args(&c->cfg);
	if (c->cfg.check_only)
		return check_only(c);
	if (c->cfg.import_path || c->cfg.export_path)
		return ctl_copy_run(&c->cfg);
	fd_limit_raise();
	c->loop = uv_default_loop();
	ctl_metrics_init(c);
	open_store(c, 0);
	ctl_lead_start(c);
	if ((rc = ctl_rpc_start(c)) < 0)
		fatalx("listen on %s: %s", c->cfg.listen, strerror(-rc));
	if (ctl_metrics_start(c) < 0)
		fatalx("cannot serve metrics; exiting");
	ctl_nodes_start(c);
	signals_start(c);
	log_info("itm-controller %s: store %s, generation %llu with %zu "
		 "nodes; listening on %s port %d (%s); heartbeat %u ms; %s",
		 ITM_VERSION, c->cfg.db_path, (unsigned long long)c->gen,
		 c->n_nodes, c->cfg.listen, itm_rpc_server_port(c->srv),
		 c->cfg.use_tls ? "mutual TLS" : "plaintext",
		 c->cfg.heartbeat_ms, c->leading ? "leading" : "standing by");
	if (!c->cfg.use_tls && !itm_rpc_addr_is_loopback(c->cfg.listen))
		log_warnx("--insecure-plaintext: anyone who reaches %s may "
			  "apply a topology and load modules on every node; "
			  "use mutual TLS (--tls-ca, --tls-cert, --tls-key)",
			  c->cfg.listen);
	uv_run(c->loop, UV_RUN_DEFAULT);
	uv_loop_close(c->loop);
	store_close(c->store);
	log_info("stopped");
	return 0;
}

/*
 * main.c - itm-agent: options, start-up, signals, shutdown.  Wiring only.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "ctlink.h"
#include "kernel.h"
#include "lease.h"
#include "itm_methods.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"

#ifndef ITM_PLUGIN_RELDIR
#define ITM_PLUGIN_RELDIR "../lib/itm/modules"
#endif
#ifndef ITM_PLUGIN_DIR
#define ITM_PLUGIN_DIR "/usr/local/lib/itm/modules"
#endif

struct agent *agent;
static struct agent the_agent;
static uv_signal_t sig_int, sig_term, sig_hup;

static void
usage(FILE *f)
{
	/* clang-format off */
	fprintf(f,
"Usage: itm-agent [options]\n"
"\n"
"Run the Internet Traffic Manager agent of this node: intercept packets at\n"
"the five netfilter hooks (NFQUEUE) and hand them, in order, to the\n"
"traffic-control modules registered here: in-agent modules loaded at run\n"
"time and process modules linked with libitm.\n"
"\n"
"Options:\n"
"  -n, --node NAME          node name (default: the host name)\n"
"  -s, --socket PATH        local control socket for itmctl and process\n"
"                           modules (default: /run/itm/agent.sock)\n"
"  -l, --listen ADDR        also serve management on TCP, e.g. 0.0.0.0:7701;\n"
"                           off loopback only with mutual TLS (--tls-*)\n"
"      --insecure-plaintext serve --listen without TLS off loopback: anyone\n"
"                           who reaches it may load modules and install\n"
"                           tables (logged as a warning)\n"
"  -c, --controller ADDR    join the itm-controller at ADDR (host:port);\n"
"                           A,B,C: several controllers on one store, the\n"
"                           agent joins whichever leads; a HOST with\n"
"                           several addresses (A/AAAA records, resolved at\n"
"                           start) counts as one controller each\n"
"      --metrics ADDR       serve GET /metrics (Prometheus text format) on\n"
"                           ADDR: HOST:PORT, [V6]:PORT, or PORT alone for\n"
"                           127.0.0.1:PORT (e.g. 9464).  Off by default; no\n"
"                           authentication, so keep it on loopback or a\n"
"                           management network.  Refreshed every second.\n"
"  -M, --module-dir DIR     also look for in-agent modules in DIR\n"
"                           (repeatable, searched in order before the\n"
"                           default: the install's own module dir,\n"
"                           " ITM_PLUGIN_RELDIR " from the itm-agent\n"
"                           binary, else " ITM_PLUGIN_DIR ")\n"
"  -m, --load 'NAME [K=V..]' load a module at start-up (repeatable)\n"
"  -q, --queue-base N       first NFQUEUE number the agent uses\n"
"                           (default: 1000; 256 numbers from there)\n"
"  -w, --workers N          threads reading the queues of in-agent modules\n"
"                           (1..16, default 1: all on the main loop).  Each\n"
"                           in-agent stage gets N queues; the kernel spreads\n"
"                           packets over them by their IP addresses (both\n"
"                           directions alike), so a flow stays on one worker.\n"
"                           Each module's code still runs one call at a time.\n"
"      --queue-cpu-fanout   with --workers: pick a packet's queue by the CPU\n"
"                           it is on (CPU i -> worker i mod N) instead of by\n"
"                           its addresses: even load with few address pairs,\n"
"                           but a flow whose packets arrive on both CPUs is\n"
"                           handled by two workers and may be reordered\n"
"      --pin-workers        with --workers: pin worker i to the i-th CPU the\n"
"                           agent may use (see taskset), the CPU whose\n"
"                           packets --queue-cpu-fanout gives it\n"
"      --tls-ca FILE        CA that signs peers (enables mutual TLS on the\n"
"                           TCP listener and towards the controller)\n"
"      --tls-cert FILE      this node's certificate (CN = node name)\n"
"      --tls-key FILE       its key\n"
"  -v, --verbose            log debug messages (the rules installed, ...)\n"
"  -h, --help               this text\n"
"  -V, --version            print the version\n"
"\n"
"The agent owns the mangle-table chains ITM_PRE, ITM_IN, ITM_FWD, ITM_OUT\n"
"and ITM_POST and installs them atomically; SIGINT or SIGTERM removes them.\n"
"Every queue rule uses --queue-bypass: if the agent or a module process\n"
"dies, traffic keeps flowing.  One agent runs per network namespace.\n"
"\n"
"Examples:\n"
"  itm-agent --node r1 --load 'qosmod threshold=20'\n"
"  ip netns exec r itm-agent -n r -s /run/itm/r.sock -l 10.0.0.1:7701\n"
"  itm-agent --node r1 --metrics 127.0.0.1:9464 --load qosmod\n"
"  itmctl --agent unix:/run/itm/agent.sock stats\n");
	/* clang-format on */
}

static uint16_t
parse_queue_base(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 65535 - 256)
		fatalx("--queue-base: '%s': need 0..%d", s, 65535 - 256);
	return (uint16_t)v;
}

static unsigned int
parse_workers(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > AGENT_MAX_WORKERS)
		fatalx("--workers: '%s': need 1..%d", s, AGENT_MAX_WORKERS);
	return (unsigned int)v;
}

static void
parse_args(int argc, char **argv, struct agent_config *c)
{
	enum {
		OPT_CA = 256,
		OPT_CERT,
		OPT_KEY,
		OPT_PLAIN,
		OPT_METRICS,
		OPT_FANOUT,
		OPT_PIN
	};
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "controller", required_argument, NULL, 'c' },
		{ "module-dir", required_argument, NULL, 'M' },
		{ "load", required_argument, NULL, 'm' },
		{ "queue-base", required_argument, NULL, 'q' },
		{ "workers", required_argument, NULL, 'w' },
		{ "queue-cpu-fanout", no_argument, NULL, OPT_FANOUT },
		{ "pin-workers", no_argument, NULL, OPT_PIN },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "tls-ca", required_argument, NULL, OPT_CA },
		{ "tls-cert", required_argument, NULL, OPT_CERT },
		{ "tls-key", required_argument, NULL, OPT_KEY },
		{ "insecure-plaintext", no_argument, NULL, OPT_PLAIN },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "n:s:l:c:M:m:q:w:vhV", opts,
				 NULL)) != -1) {
		switch (ch) {
		case 'n': c->node = optarg; break;
		case 's': c->socket_path = optarg; break;
		case 'l': c->listen_addr = optarg; break;
		case 'c': c->controller = optarg; break;
		case 'M':
			if (c->n_moddirs == AGENT_MAX_MODDIRS)
				fatalx("--module-dir: at most %d",
				       AGENT_MAX_MODDIRS);
			c->moddirs[c->n_moddirs++] = optarg;
			break;
		case 'm':
			if (c->n_loads == AGENT_MAX_LOADS)
				fatalx("--load: at most %d", AGENT_MAX_LOADS);
			c->loads[c->n_loads++] = optarg;
			break;
		case 'q': c->queue_base = parse_queue_base(optarg); break;
		case 'w': c->workers = parse_workers(optarg); break;
		case OPT_METRICS: c->metrics_addr = optarg; break;
		case OPT_FANOUT: c->queue_cpu_fanout = 1; break;
		case OPT_PIN: c->pin_workers = 1; break;
		case OPT_CA: c->tls.ca_file = optarg; break;
		case OPT_CERT: c->tls.cert_file = optarg; break;
		case OPT_KEY: c->tls.key_file = optarg; break;
		case OPT_PLAIN: c->insecure_plaintext = 1; break;
		case 'v': c->verbose++; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("itm-agent %s\n", ITM_VERSION_STRING); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "itm-agent: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		exit(2);
	}
}

/* The module dir of the install this binary belongs to (found from
 * /proc/self/exe, so `cmake --install --prefix P` works where it lands),
 * else the configured one. */
static const char *
default_moddir(void)
{
	static char dir[PATH_MAX + sizeof(ITM_PLUGIN_RELDIR) + 2];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat sb;
	char *slash;

	if (n <= 0)
		return ITM_PLUGIN_DIR;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return ITM_PLUGIN_DIR;
	*slash = '\0';
	snprintf(dir, sizeof(dir), "%s/%s", exe, ITM_PLUGIN_RELDIR);
	return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) ? dir
							  : ITM_PLUGIN_DIR;
}

static void
config_defaults(struct agent_config *c)
{
	static char host[64];

	if (c->node == NULL) {
		if (gethostname(host, sizeof(host) - 1) < 0)
			snprintf(host, sizeof(host), "itm");
		c->node = host;
	}
	if (c->socket_path == NULL)
		c->socket_path = ITM_AGENT_SOCKET_DEFAULT;
	if (c->n_moddirs < AGENT_MAX_MODDIRS)
		c->moddirs[c->n_moddirs++] = default_moddir();
	if (c->queue_base == 0)
		c->queue_base = 1000;
	if (c->workers == 0)
		c->workers = 1;
	if ((c->queue_cpu_fanout || c->pin_workers) && c->workers < 2)
		fatalx("--%s needs --workers 2 or more",
		       c->queue_cpu_fanout ? "queue-cpu-fanout"
					   : "pin-workers");
	if (c->tls.ca_file || c->tls.cert_file || c->tls.key_file) {
		if (!c->tls.ca_file || !c->tls.cert_file || !c->tls.key_file)
			fatalx("TLS needs --tls-ca, --tls-cert and --tls-key");
		if (c->insecure_plaintext)
			fatalx("--insecure-plaintext and --tls-* contradict "
			       "each other");
		c->use_tls = 1;
	}
	if (c->listen_addr && !c->use_tls && !c->insecure_plaintext &&
	    !itm_rpc_addr_is_loopback(c->listen_addr))
		fatalx("refusing to listen on %s without TLS: give --tls-ca, "
		       "--tls-cert and --tls-key, or --insecure-plaintext to "
		       "let anyone who reaches it manage this agent",
		       c->listen_addr);
}

/* Queue numbers, chains and nfacct names are per network namespace: one
 * agent per namespace, enforced with an abstract socket (which lives in
 * the namespace and goes away with the process). */
static void
netns_lock(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char name[] = "itm-agent-netns-lock";
	int fd;

	memcpy(sun.sun_path + 1, name, sizeof(name) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("socket");
	if (bind(fd, (struct sockaddr *)&sun,
		 offsetof(struct sockaddr_un, sun_path) + sizeof(name)) < 0) {
		if (errno == EADDRINUSE)
			fatalx("another itm-agent is running in this network "
			       "namespace");
		fatal("bind netns lock");
	}
}

/* "qosmod threshold=20" -> name + params. */
static int
load_at_start(const char *spec)
{
	char buf[1024], *argv[65], *save = NULL, err[512];
	unsigned int n = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, " \t", &save); t && n < 65;
	     t = strtok_r(NULL, " \t", &save))
		argv[n++] = t;
	if (n == 0) {
		log_warnx("--load: empty module name");
		return -EINVAL;
	}
	if (modload_load(argv[0], argv + 1, n - 1, err, sizeof(err)) < 0) {
		log_warnx("--load '%s': %s", spec, err);
		return -EINVAL;
	}
	return 0;
}

static void
shutdown_agent(void)
{
	log_info("stopping: removing modules and rules");
	metrics_stop();
	ctlink_stop();
	lease_drop_all();
	modload_unload_all();
	modview_shutdown();
	layout_shutdown();
	workers_stop();
	kern_acct_remove_all();
	rpc_stop();
	uv_signal_stop(&sig_int);
	uv_signal_stop(&sig_term);
	uv_signal_stop(&sig_hup);
	uv_stop(agent->loop);
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	if (signum == SIGHUP) {
		log_info("SIGHUP: nothing to reload (modules are managed "
			 "with itmctl)");
		return;
	}
	log_info("%s received", strsignal(signum));
	shutdown_agent();
}

static void
signals_init(uv_loop_t *loop)
{
	signal(SIGPIPE, SIG_IGN);
	uv_signal_init(loop, &sig_int);
	uv_signal_init(loop, &sig_term);
	uv_signal_init(loop, &sig_hup);
	uv_signal_start(&sig_int, signal_cb, SIGINT);
	uv_signal_start(&sig_term, signal_cb, SIGTERM);
	uv_signal_start(&sig_hup, signal_cb, SIGHUP);
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int
main(int argc, char **argv)
{
	agent = &the_agent;
	parse_args(argc, argv, &agent->cfg);
	config_defaults(&agent->cfg);
	log_init("itm-agent", 0, agent->cfg.verbose);
	if (geteuid() != 0)
		log_warnx("not running as root: netfilter changes will fail");
	netns_lock();

	agent->loop = uv_default_loop();
	agent->start_ms = itm__now_ms();
	signals_init(agent->loop);
	if (workers_start(agent->cfg.workers, agent->cfg.pin_workers) < 0)
		fatalx("cannot start %u worker threads", agent->cfg.workers);
	reg_init();
	layout_init();
	modload_init();
	lease_init();
	if (kern_cleanup() < 0)
		fatalx("cannot manage netfilter rules (is iptables-nft "
		       "installed, and are we root?)");
	if (rpc_start() < 0)
		fatalx("cannot serve the Agent service; exiting");
	if (metrics_start() < 0) {
		shutdown_agent();
		uv_run(agent->loop, UV_RUN_DEFAULT);
		fatalx("cannot serve metrics; exiting");
	}
	for (int i = 0; i < agent->cfg.n_loads; i++)
		if (load_at_start(agent->cfg.loads[i]) < 0) {
			shutdown_agent();
			uv_run(agent->loop, UV_RUN_DEFAULT);
			fatalx("start-up failed; everything undone");
		}
	if (agent->cfg.controller)
		ctlink_start();
	log_info("node %s ready (itm %s)", agent->cfg.node, ITM_VERSION_STRING);

	uv_run(agent->loop, UV_RUN_DEFAULT);
	uv_walk(agent->loop, close_walk_cb, NULL);
	uv_run(agent->loop, UV_RUN_DEFAULT);
	uv_loop_close(agent->loop);
	log_info("stopped");
	return 0;
}

/*
 * dp_ebpf.c - datapath=ebpf: itmroute.bpf.c on the underlay device's tc
 * clsact hook (egress: encapsulate, ingress: decapsulate), its maps filled
 * from the module's decisions; a path switch is one map update.
 *
 * The maps are pinned under PIN_DIR/itmroute-NETNS (a bpffs; mounted
 * there if it is not one; NETNS is the network namespace's inode, so that
 * the nodes of a lab on one machine keep apart), so a restarted module
 * (or agent) takes over the routes in force: the programs are replaced in
 * place (BPF_TC_F_REPLACE), never removed, and traffic flows meanwhile.
 * Note that `ip netns exec` gives its command a mount namespace of its
 * own: a bpffs it mounts is gone when the agent exits, so for adoption
 * across agent restarts mount PIN_DIR in the host first.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <unistd.h>

#include "itmroute.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#include <linux/types.h>
#include "itmroute_shared.h"

struct dp_ebpf {
	struct bpf_object *obj;
	int routes, peers, dests, config, counters;
	char pin[320];
};

/* mkdir -p @dir: its missing parents too (/run/itm on a fresh host). */
static int
mkdir_parents(const char *dir)
{
	char path[256];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
pin_root(const char *dir)
{
	struct statfs fs;
	int rc;

	if (statfs(dir, &fs) == 0 && fs.f_type == BPF_FS_MAGIC)
		return 0;
	if ((rc = mkdir_parents(dir)) < 0)
		return rc;
	if (mount("bpffs", dir, "bpf", 0, "mode=0700") < 0)
		return -errno;
	itm_log(LOG_INFO, "mounted a bpffs on %s", dir);
	return 0;
}

static int
pin_dir(struct itmr_ctx *x, struct dp_ebpf *e)
{
	struct stat st;
	int rc;

	if ((rc = pin_root(x->cfg.pin_dir)) < 0)
		return rc;
	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	snprintf(e->pin, sizeof(e->pin), "%s/itmroute-%lu", x->cfg.pin_dir,
		 (unsigned long)st.st_ino);
	if (mkdir(e->pin, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The BPF object: the parameter, else next to this shared object. */
static void
obj_path(struct itmr_ctx *x, char *out, size_t len)
{
	Dl_info info;
	char so[512];

	if (x->cfg.bpf_obj[0]) {
		snprintf(out, len, "%s", x->cfg.bpf_obj);
		return;
	}
	if (dladdr((void *)obj_path, &info) && info.dli_fname) {
		snprintf(so, sizeof(so), "%s", info.dli_fname);
		snprintf(out, len, "%s/itmroute.bpf.o", dirname(so));
		return;
	}
	snprintf(out, len, "itmroute.bpf.o");
}

/* Maps pinned by an older build whose layout differs: unpin them all, the
 * new ones are filled from the decisions at once (the programs in place
 * keep the old ones until they are replaced). */
static void
unpin_all(struct dp_ebpf *e)
{
	char path[700];
	struct dirent *d;
	DIR *dir = opendir(e->pin);

	if (dir == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", e->pin, d->d_name);
		unlink(path);
	}
	closedir(dir);
	itm_log(LOG_WARNING, "maps in %s did not fit this build: unpinned",
		e->pin);
}

static int
load_obj(struct itmr_ctx *x, struct dp_ebpf *e)
{
	char path[600], pin[700];
	struct bpf_map *m;
	int rc;

	obj_path(x, path, sizeof(path));
	e->obj = bpf_object__open_file(path, NULL);
	if ((rc = libbpf_get_error(e->obj)) != 0) {
		e->obj = NULL;
		itm_log(LOG_ERR, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	bpf_object__for_each_map(m, e->obj)
	{
		snprintf(pin, sizeof(pin), "%s/%s", e->pin, bpf_map__name(m));
		bpf_map__set_pin_path(m, pin);
	}
	if ((rc = bpf_object__load(e->obj)) < 0) {
		itm_log(LOG_ERR, "cannot load %s: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}

static int
load(struct itmr_ctx *x, struct dp_ebpf *e)
{
	int rc = load_obj(x, e);

	if (rc == -EINVAL) {
		bpf_object__close(e->obj);
		unpin_all(e);
		rc = load_obj(x, e);
	}
	if (rc < 0)
		return rc;
	e->routes = bpf_object__find_map_fd_by_name(e->obj, "routes");
	e->peers = bpf_object__find_map_fd_by_name(e->obj, "peers");
	e->dests = bpf_object__find_map_fd_by_name(e->obj, "dests");
	e->config = bpf_object__find_map_fd_by_name(e->obj, "config");
	e->counters = bpf_object__find_map_fd_by_name(e->obj, "counters");
	return 0;
}

static int
attach(struct itmr_ctx *x, struct dp_ebpf *e, const char *prog,
       enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = x->ul_ifindex,
			    .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1,
			    .flags = BPF_TC_F_REPLACE);
	struct bpf_program *p;
	int rc;

	p = bpf_object__find_program_by_name(e->obj, prog);
	if (p == NULL)
		return -ENOENT;
	rc = bpf_tc_hook_create(&hook);
	if (rc < 0 && rc != -EEXIST)
		return rc;
	opts.prog_fd = bpf_program__fd(p);
	return bpf_tc_attach(&hook, &opts);
}

static int
ebpf_open(struct itmr_ctx *x)
{
	struct dp_ebpf *e = calloc(1, sizeof(*e));
	struct itmr_config c = { .ul_ifindex = (__u32)x->ul_ifindex };
	__u32 zero = 0;
	int rc;

	if (e == NULL)
		return -ENOMEM;
	x->dp_priv = e;
	if ((rc = pin_dir(x, e)) < 0) {
		itm_log(LOG_ERR, "pin directory under %s: %s", x->cfg.pin_dir,
			strerror(-rc));
		return rc;
	}
	if ((rc = load(x, e)) < 0)
		return rc;
	if (bpf_map_update_elem(e->config, &zero, &c, BPF_ANY) < 0)
		return -errno;
	if ((rc = attach(x, e, "itmr_egress", BPF_TC_EGRESS)) < 0 ||
	    (rc = attach(x, e, "itmr_ingress", BPF_TC_INGRESS)) < 0) {
		itm_log(LOG_ERR, "tc attach on %s: %s", x->ul_dev,
			strerror(-rc));
		return rc;
	}
	itm_log(LOG_INFO, "ebpf data path on %s, maps in %s", x->ul_dev,
		e->pin);
	return 0;
}

/* Delete the keys of @fd that @keep does not want. */
static void
prune(struct itmr_ctx *x, int fd, int (*keep)(struct itmr_ctx *, __u32))
{
	__u32 key, next, *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		if (!keep(x, key)) {
			bpf_map_delete_elem(fd, &key);
			prev = NULL; /* start over: the walk is invalidated */
			continue;
		}
		prev = &key;
	}
}

static int
keep_peer(struct itmr_ctx *x, __u32 ul)
{
	return itmr_node_by_underlay(x, ul) != NULL;
}

static int
keep_dest(struct itmr_ctx *x, __u32 ovl)
{
	return ovl == x->self_overlay ||
	       (x->cfg.relay && itmr_node_by_overlay(x, ovl) != NULL);
}

static int
keep_route(struct itmr_ctx *x, __u32 ovl)
{
	return itmr_node_by_overlay(x, ovl) != NULL;
}

static int
ebpf_set_members(struct itmr_ctx *x)
{
	struct dp_ebpf *e = x->dp_priv;
	__u32 self = ITMR_DEST_SELF, rel = ITMR_DEST_RELAY;

	prune(x, e->peers, keep_peer);
	prune(x, e->dests, keep_dest);
	prune(x, e->routes, keep_route);
	bpf_map_update_elem(e->dests, &x->self_overlay, &self, BPF_ANY);
	for (unsigned int i = 0; i < x->n_nodes; i++) {
		struct itmr_node *n = &x->nodes[i];
		struct itmr_peer p = { .overlay = n->overlay };

		if (bpf_map_update_elem(e->peers, &n->underlay, &p, BPF_ANY) <
		    0)
			return -errno;
		if (x->cfg.relay && bpf_map_update_elem(e->dests, &n->overlay,
							&rel, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

static int
ebpf_set_route(struct itmr_ctx *x, struct itmr_node *n, uint32_t hop)
{
	struct dp_ebpf *e = x->dp_priv;
	struct itmr_route r = { .next_hop = hop,
				.direct = n->underlay,
				.src = x->self_underlay };

	if (bpf_map_update_elem(e->routes, &n->overlay, &r, BPF_ANY) < 0)
		return -errno;
	return 0;
}

static uint64_t
counter(struct dp_ebpf *e, __u32 i)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0, v[ncpu > 0 ? ncpu : 1];

	if (ncpu <= 0 || bpf_map_lookup_elem(e->counters, &i, v) < 0)
		return 0;
	for (int c = 0; c < ncpu; c++)
		sum += v[c];
	return sum;
}

static void
ebpf_read_counters(struct itmr_ctx *x)
{
	struct dp_ebpf *e = x->dp_priv;

	x->st.encap = counter(e, ITMR_C_ENCAP);
	x->st.encap_relayed = counter(e, ITMR_C_RELAYED);
	x->st.decap = counter(e, ITMR_C_DECAP);
	x->st.drop_peer = counter(e, ITMR_C_DROP_PEER);
	x->st.drop_dest = counter(e, ITMR_C_DROP_DEST);
	x->st.drop_bad = counter(e, ITMR_C_DROP_SHORT);
	x->st.encap_fail = counter(e, ITMR_C_ENCAP_FAIL);
	x->st.relay_fail = counter(e, ITMR_C_DROP_RELAY);
}

static void
ebpf_close(struct itmr_ctx *x)
{
	struct dp_ebpf *e = x->dp_priv;

	if (e == NULL)
		return;
	if (!x->cfg.keep && x->ul_ifindex) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = x->ul_ifindex,
				    .attach_point =
					    BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
		if (e->obj)
			bpf_object__unpin_maps(e->obj, NULL);
		rmdir(e->pin);
	}
	if (e->obj)
		bpf_object__close(e->obj);
	free(e);
	x->dp_priv = NULL;
}

const struct itmr_dp_ops itmr_dp_ebpf = {
	.name = "ebpf",
	.open = ebpf_open,
	.set_members = ebpf_set_members,
	.set_route = ebpf_set_route,
	.read_counters = ebpf_read_counters,
	.close = ebpf_close,
};

/*
 * offload.c - the underlay device's TSO, GSO and GRO for datapath=queue
 * (itmroute.h): recorded, turned off, and put back as they were.
 *
 * By feature, as `ethtool -K DEV tso off gso off gro off` does
 * (ETHTOOL_GFEATURES / SFEATURES by the names of the ETH_SS_FEATURES
 * string set): every tx-tcp*-segmentation feature (TSO: the legacy
 * ETHTOOL_STSO leaves newer ones such as tx-tcp-accecn-segmentation on),
 * tx-generic-segmentation (GSO) and rx-gro (GRO), each one's requested
 * state recorded and restored.
 *
 * The state found is written to OFFLOAD_DIR/itmroute-offload-NETNS-DEV
 * before anything changes, so that an instance that crashed with them
 * off is undone by the next one (which takes the state from the file,
 * not from the device); the file is removed once they are restored.
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "itmroute.h"

#define OFFLOAD_DIR "/run/itm"

/* The device's feature names (bit i: names + i * ETH_GSTRING_LEN). */
struct offload_dev {
	int fd;
	const char *dev;
	uint32_t count;
	char *names;
};

static int
ethtool_ioctl(const struct offload_dev *d, void *data)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->dev);
	ifr.ifr_data = data;
	return ioctl(d->fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

static int
names_read(struct offload_dev *d)
{
	struct {
		struct ethtool_sset_info h;
		uint32_t n;
	} info = { .h = { .cmd = ETHTOOL_GSSET_INFO,
			  .sset_mask = 1ull << ETH_SS_FEATURES } };
	struct ethtool_gstrings *gs;
	int rc;

	if ((rc = ethtool_ioctl(d, &info)) < 0)
		return rc;
	d->count = info.h.sset_mask ? info.n : 0;
	gs = calloc(1, sizeof(*gs) + (size_t)d->count * ETH_GSTRING_LEN);
	if (gs == NULL)
		return -ENOMEM;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = d->count;
	if ((rc = ethtool_ioctl(d, gs)) == 0) {
		d->names = malloc((size_t)d->count * ETH_GSTRING_LEN);
		if (d->names == NULL)
			rc = -ENOMEM;
		else
			memcpy(d->names, gs->data,
			       (size_t)d->count * ETH_GSTRING_LEN);
	}
	free(gs);
	return rc;
}

static int
dev_open(struct offload_dev *d, const char *dev)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->dev = dev;
	if ((d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if ((rc = names_read(d)) < 0)
		close(d->fd);
	return rc;
}

static void
dev_close(struct offload_dev *d)
{
	free(d->names);
	close(d->fd);
}

static const char *
name_of(const struct offload_dev *d, uint32_t i)
{
	return d->names + (size_t)i * ETH_GSTRING_LEN;
}

/* TSO (every tx-tcp*-segmentation), GSO, GRO. */
static int
is_ours(const char *name)
{
	size_t n = strnlen(name, ETH_GSTRING_LEN);

	if (strcmp(name, "tx-generic-segmentation") == 0 ||
	    strcmp(name, "rx-gro") == 0)
		return 1;
	return strncmp(name, "tx-tcp", 6) == 0 && n > 12 &&
	       strcmp(name + n - 12, "segmentation") == 0;
}

/* @o's features as @d has them (changeable ones only). */
static int
record_device(const struct offload_dev *d, struct itmr_offload *o)
{
	uint32_t blocks = (d->count + 31) / 32;
	struct ethtool_gfeatures *g;
	int rc;

	g = calloc(1, sizeof(*g) + blocks * sizeof(g->features[0]));
	if (g == NULL)
		return -ENOMEM;
	g->cmd = ETHTOOL_GFEATURES;
	g->size = blocks;
	if ((rc = ethtool_ioctl(d, g)) == 0) {
		o->n = 0;
		for (uint32_t i = 0; i < d->count && o->n < ITMR_OFFLOAD_MAX;
		     i++) {
			const struct ethtool_get_features_block *b =
				&g->features[i / 32];

			if (!is_ours(name_of(d, i)) ||
			    !(b->available & (1u << (i % 32))))
				continue;
			snprintf(o->feat[o->n].name, sizeof(o->feat[0].name),
				 "%s", name_of(d, i));
			o->feat[o->n++].on =
				!!(b->requested & (1u << (i % 32)));
		}
	}
	free(g);
	return rc;
}

/* Request @o's features: all off (@off), or as recorded. */
static int
set_features(const struct offload_dev *d, const struct itmr_offload *o, int off)
{
	uint32_t blocks = (d->count + 31) / 32;
	struct ethtool_sfeatures *s;
	int rc;

	s = calloc(1, sizeof(*s) + blocks * sizeof(s->features[0]));
	if (s == NULL)
		return -ENOMEM;
	s->cmd = ETHTOOL_SFEATURES;
	s->size = blocks;
	for (uint32_t i = 0; i < d->count; i++)
		for (unsigned int k = 0; k < o->n; k++) {
			if (strncmp(o->feat[k].name, name_of(d, i),
				    ETH_GSTRING_LEN) != 0)
				continue;
			s->features[i / 32].valid |= 1u << (i % 32);
			if (!off && o->feat[k].on)
				s->features[i / 32].requested |= 1u << (i % 32);
		}
	rc = ethtool_ioctl(d, s);
	free(s);
	return rc < 0 ? rc : 0; /* > 0: some not as asked (fixed) */
}

static void
state_path(struct itmr_offload *o, const char *dev)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		st.st_ino = 0;
	snprintf(o->file, sizeof(o->file), "%s/itmroute-offload-%lu-%s",
		 OFFLOAD_DIR, (unsigned long)st.st_ino, dev);
}

/* The state a crashed instance recorded: 0, or -ENOENT. */
static int
state_read(struct itmr_offload *o)
{
	FILE *f = fopen(o->file, "re");
	char name[ETH_GSTRING_LEN];
	unsigned int on;

	if (f == NULL)
		return -ENOENT;
	o->n = 0;
	while (o->n < ITMR_OFFLOAD_MAX &&
	       fscanf(f, "%31s %u", name, &on) == 2) {
		snprintf(o->feat[o->n].name, sizeof(o->feat[0].name), "%s",
			 name);
		o->feat[o->n++].on = on != 0;
	}
	fclose(f);
	return o->n ? 0 : -ENOENT;
}

static int
state_write(const struct itmr_offload *o)
{
	FILE *f;

	if (mkdir(OFFLOAD_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((f = fopen(o->file, "we")) == NULL)
		return -errno;
	for (unsigned int k = 0; k < o->n; k++)
		fprintf(f, "%s %u\n", o->feat[k].name, o->feat[k].on);
	return fclose(f) < 0 ? -errno : 0;
}

/* Record what @d has now (or what a crashed instance found). */
static int
record(const struct offload_dev *d, struct itmr_offload *o)
{
	int rc;

	state_path(o, d->dev);
	if (state_read(o) == 0) {
		itm_log(LOG_NOTICE, "offloads of %s as found before: %s",
			d->dev, o->file);
		return 0;
	}
	if ((rc = record_device(d, o)) < 0)
		return rc;
	return state_write(o);
}

static void
describe(const struct itmr_offload *o, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (unsigned int k = 0; k < o->n && at < len; k++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s %s",
				       k ? ", " : "", o->feat[k].name,
				       o->feat[k].on ? "on" : "off");
}

int
itmr_offload_off(struct itmr_offload *o, const char *dev)
{
	struct offload_dev d;
	char was[512];
	int rc;

	snprintf(o->dev, sizeof(o->dev), "%s", dev);
	if ((rc = dev_open(&d, dev)) < 0)
		return rc;
	if ((rc = record(&d, o)) == 0) {
		o->saved = 1;
		rc = set_features(&d, o, 1);
	}
	dev_close(&d);
	describe(o, was, sizeof(was));
	if (rc == 0)
		itm_log(LOG_INFO, "%s: tso, gso, gro off (were: %s)", dev, was);
	return rc;
}

void
itmr_offload_restore(struct itmr_offload *o)
{
	struct offload_dev d;
	char was[512];
	int rc;

	if (!o->saved)
		return;
	o->saved = 0;
	if ((rc = dev_open(&d, o->dev)) == 0) {
		rc = set_features(&d, o, 0);
		dev_close(&d);
	}
	if (rc < 0 && rc != -ENODEV) {
		itm_log(LOG_WARNING, "%s: offloads not restored: %s", o->dev,
			strerror(-rc));
		return; /* the state file stays for the next instance */
	}
	(void)unlink(o->file);
	describe(o, was, sizeof(was));
	itm_log(LOG_INFO, "%s: offloads back: %s", o->dev, was);
}

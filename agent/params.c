/*
 * params.c - module parameters ("threshold=20") checked against the
 * plugin's schema before its load function ever runs.
 *
 * Every parameter is parsed into a fresh struct itm_params; unknown names,
 * duplicates, bad numbers, values out of range and missing required
 * parameters are errors that name the parameter and say what is expected.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "params.h"

struct param_val {
	const struct itm_param_spec *spec;
	char *text;
	int64_t i;
	uint64_t u;
	int b;
	uint64_t list[ITM_PARAM_LIST_MAX];
	unsigned int n_list;
};

struct itm_params {
	struct param_val *v;
	unsigned int n;
};

/*
 * Numbers are decimal ("0", "20", no leading zero) or hexadecimal with an
 * explicit "0x" prefix ("0x10"); INT values may start with '-'.  No
 * blanks, no '+', no octal: "010", " 5" and "5 " are refused.
 */
static int
parse_digits(const char *s, uint64_t *out)
{
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	else if (s[0] == '0' && s[1] != '\0')
		return -EINVAL;
	if (!(base == 10 ? isdigit((unsigned char)*s)
			 : isxdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, base);
	return *end == '\0' && errno == 0 ? 0 : -EINVAL;
}

static int
parse_i64(const char *s, int64_t *out)
{
	int neg = *s == '-';
	uint64_t u;

	if (parse_digits(s + neg, &u) < 0 ||
	    u > (uint64_t)INT64_MAX + (uint64_t)neg)
		return -EINVAL;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	return parse_digits(s, out);
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -EINVAL;
}

static int
check_uint(const struct itm_param_spec *sp, const char *s, uint64_t *u,
	   char *err, size_t errlen)
{
	if (parse_u64(s, u) < 0) {
		snprintf(err, errlen, "%s: not a non-negative integer: '%s'",
			 sp->name, s);
		return -EINVAL;
	}
	if (*u < (uint64_t)sp->min || *u > (uint64_t)sp->max) {
		snprintf(err, errlen,
			 "%s: %" PRIu64 " is outside %" PRId64 "..%" PRId64,
			 sp->name, *u, sp->min, sp->max);
		return -ERANGE;
	}
	return 0;
}

static int
parse_list(struct param_val *pv, const char *s, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;
	size_t len = strlen(s);

	if (len >= sizeof(buf) ||
	    (len > 0 &&
	     (s[0] == ',' || s[len - 1] == ',' || strstr(s, ",,") != NULL))) {
		snprintf(err, errlen, "%s: not a comma-separated list: '%.64s'",
			 pv->spec->name, s);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	pv->n_list = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t u;

		if (pv->n_list == ITM_PARAM_LIST_MAX) {
			snprintf(err, errlen, "%s: more than %d values",
				 pv->spec->name, ITM_PARAM_LIST_MAX);
			return -E2BIG;
		}
		if (check_uint(pv->spec, tok, &u, err, errlen) < 0)
			return -EINVAL;
		pv->list[pv->n_list++] = u;
	}
	return 0;
}

static int
parse_value(struct param_val *pv, const char *s, char *err, size_t errlen)
{
	const struct itm_param_spec *sp = pv->spec;
	size_t maxlen = sp->max > 0 ? (size_t)sp->max : 255;

	switch (sp->type) {
	case ITM_PARAM_INT:
		if (parse_i64(s, &pv->i) < 0) {
			snprintf(err, errlen, "%s: not an integer: '%s'",
				 sp->name, s);
			return -EINVAL;
		}
		if (pv->i < sp->min || pv->i > sp->max) {
			snprintf(err, errlen,
				 "%s: %" PRId64 " is outside %" PRId64
				 "..%" PRId64,
				 sp->name, pv->i, sp->min, sp->max);
			return -ERANGE;
		}
		return 0;
	case ITM_PARAM_UINT: return check_uint(sp, s, &pv->u, err, errlen);
	case ITM_PARAM_BOOL:
		if (parse_bool(s, &pv->b) == 0)
			return 0;
		snprintf(err, errlen, "%s: not a boolean: '%s' (use yes/no)",
			 sp->name, s);
		return -EINVAL;
	case ITM_PARAM_STRING:
		if (strlen(s) <= maxlen)
			return 0;
		snprintf(err, errlen, "%s: longer than %zu characters",
			 sp->name, maxlen);
		return -EINVAL;
	case ITM_PARAM_UINT_LIST: return parse_list(pv, s, err, errlen);
	}
	snprintf(err, errlen, "%s: plugin declares an unknown type %d",
		 sp->name, (int)sp->type);
	return -EINVAL;
}

static void
names_of(const struct itm_param_spec *spec, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (const struct itm_param_spec *sp = spec; sp && sp->name; sp++)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
					"%s%s", off ? ", " : "", sp->name);
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
}

/* Split "k=v", find k in the schema. */
static int
lookup(const struct itm_params *p, const char *kv, const char *plugin,
       struct param_val **pv, const char **val, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	char names[512];

	if (eq == NULL || klen == 0) {
		snprintf(err, errlen, "'%s': expected name=value", kv);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < p->n; i++)
		if (strlen(p->v[i].spec->name) == klen &&
		    strncmp(p->v[i].spec->name, kv, klen) == 0) {
			*pv = &p->v[i];
			*val = eq + 1;
			return 0;
		}
	names_of(p->n ? p->v[0].spec : NULL, names, sizeof(names));
	snprintf(err, errlen, "unknown parameter '%.*s' (%s takes: %s)",
		 (int)klen, kv, plugin, names);
	return -EINVAL;
}

static int
params_given(struct itm_params *p, char **kv, unsigned int n,
	     const char *plugin, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < n; i++) {
		struct param_val *pv;
		const char *val;

		if (lookup(p, kv[i], plugin, &pv, &val, err, errlen) < 0)
			return -EINVAL;
		if (pv->text != NULL) {
			snprintf(err, errlen, "parameter '%s' given twice",
				 pv->spec->name);
			return -EINVAL;
		}
		if (parse_value(pv, val, err, errlen) < 0)
			return -EINVAL;
		if ((pv->text = strdup(val)) == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int
params_defaults(struct itm_params *p, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < p->n; i++) {
		struct param_val *pv = &p->v[i];

		if (pv->text != NULL)
			continue;
		if (pv->spec->def == NULL) {
			snprintf(err, errlen, "parameter '%s' is required",
				 pv->spec->name);
			return -EINVAL;
		}
		if (parse_value(pv, pv->spec->def, err, errlen) < 0)
			return -EINVAL;
		if ((pv->text = strdup(pv->spec->def)) == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
params_parse(const struct itm_param_spec *spec, const char *plugin, char **kv,
	     unsigned int n, struct itm_params **out, char *err, size_t errlen)
{
	struct itm_params *p;
	unsigned int count = 0;
	int rc;

	for (const struct itm_param_spec *sp = spec; sp && sp->name; sp++)
		count++;
	p = calloc(1, sizeof(*p));
	if (p == NULL || (count && !(p->v = calloc(count, sizeof(*p->v))))) {
		free(p);
		return -ENOMEM;
	}
	p->n = count;
	for (unsigned int i = 0; i < count; i++)
		p->v[i].spec = &spec[i];
	rc = params_given(p, kv, n, plugin, err, errlen);
	if (rc == 0)
		rc = params_defaults(p, err, errlen);
	if (rc < 0) {
		params_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void
params_free(struct itm_params *p)
{
	if (p == NULL)
		return;
	for (unsigned int i = 0; i < p->n; i++)
		free(p->v[i].text);
	free(p->v);
	free(p);
}

unsigned int
params_count(const struct itm_params *p)
{
	return p ? p->n : 0;
}

void
params_get(const struct itm_params *p, unsigned int i, const char **name,
	   const char **value)
{
	*name = p->v[i].spec->name;
	*value = p->v[i].text;
}

static const struct param_val *
find(const struct itm_params *p, const char *name, enum itm_param_type t)
{
	for (unsigned int i = 0; p && i < p->n; i++)
		if (strcmp(p->v[i].spec->name, name) == 0) {
			if (p->v[i].spec->type != t)
				break;
			return &p->v[i];
		}
	log_warnx("module asked for parameter '%s' it does not declare "
		  "with that type",
		  name);
	return NULL;
}

int64_t
itm_param_int(const struct itm_params *p, const char *name)
{
	const struct param_val *pv = find(p, name, ITM_PARAM_INT);

	return pv ? pv->i : 0;
}

uint64_t
itm_param_uint(const struct itm_params *p, const char *name)
{
	const struct param_val *pv = find(p, name, ITM_PARAM_UINT);

	return pv ? pv->u : 0;
}

int
itm_param_bool(const struct itm_params *p, const char *name)
{
	const struct param_val *pv = find(p, name, ITM_PARAM_BOOL);

	return pv ? pv->b : 0;
}

const char *
itm_param_str(const struct itm_params *p, const char *name)
{
	const struct param_val *pv = find(p, name, ITM_PARAM_STRING);

	return pv ? pv->text : NULL;
}

unsigned int
itm_param_uint_list(const struct itm_params *p, const char *name, uint64_t *out,
		    unsigned int max)
{
	const struct param_val *pv = find(p, name, ITM_PARAM_UINT_LIST);
	unsigned int n = 0;

	for (; pv && n < pv->n_list && n < max; n++)
		out[n] = pv->list[n];
	return n;
}

/*
 * fuzz_modctr.c - libFuzzer target for a module counter's name (the text
 * a module hands itm_register_counter, metrics/modctr.c) rendered as an
 * exposition line: the family and label names must come out valid, and
 * the line must be one line whatever the label values hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"
#include "modctr.h"

static int
valid_name(const char *s, int label)
{
	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' ||
		      (*s == ':' && !label)))
			return 0;
	return 1;
}

static void
render(const struct modctr *c)
{
	struct expo_label l[MODCTR_LABELS + 1] = { { "module", "m" } };
	struct expo e;
	size_t len;
	char *s;

	for (unsigned int i = 0; i < c->n_labels; i++)
		l[i + 1] = (struct expo_label){ c->lname[i], c->lvalue[i] };
	expo_init(&e);
	expo_sample(&e, c->family, l, c->n_labels + 1, 1);
	s = expo_finish(&e, &len);
	if (s == NULL)
		return;
	if (memchr(s, '\n', len) != s + len - 1)
		abort(); /* a label value broke the line */
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	struct modctr c;

	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (modctr_parse(name, &c) == 0) {
		if (strncmp(c.family, "itm_module_", 11) != 0 ||
		    !valid_name(c.family, 0) || c.n_labels > MODCTR_LABELS)
			abort();
		for (unsigned int i = 0; i < c.n_labels; i++)
			if (!valid_name(c.lname[i], 1))
				abort();
		render(&c);
	}
	free(name);
	return 0;
}

/*
 * test_fields.c - proto/itm_fields.c: the check of each kind of string
 * field, the wire walk that finds them, and the escaping of untrusted text
 * for logs and terminals (issue 8, items 1 to 3).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "itm.pb-c.h"
#include "itm_fields.h"

static const char *
check(enum itm_field_kind kind, const char *s, size_t len)
{
	static char why[128];

	return itm_field_check(kind, s, len, why, sizeof(why)) == 0 ? "ok"
								    : why;
}

static void
kinds_and_faults(void **state)
{
	char big[300];

	assert_int_equal(itm_field_kind_of("LoadModuleRequest", "name"),
			 ITM_FIELD_NAME);
	assert_int_equal(itm_field_kind_of("Counter", "name"), ITM_FIELD_TEXT);
	assert_int_equal(itm_field_kind_of("ApplyRequest", "yaml"),
			 ITM_FIELD_YAML);
	assert_int_equal(itm_field_kind_of(NULL, "mgmt_addr"), ITM_FIELD_TEXT);
	assert_string_equal(check(ITM_FIELD_NAME, "qosmod", 6), "ok");
	assert_string_equal(check(ITM_FIELD_NAME, "caf\xc3\xa9", 5), "ok");
	assert_string_equal(check(ITM_FIELD_TEXT, "\xf0\x9f\x98\x80", 4), "ok");
	assert_string_equal(check(ITM_FIELD_NAME, "a\0b", 3),
			    "contains a NUL byte");
	assert_string_equal(check(ITM_FIELD_NAME, "\xc0\xaf", 2),
			    "not valid UTF-8 at byte 0"); /* overlong '/' */
	assert_string_equal(check(ITM_FIELD_NAME, "\xed\xa0\x80", 3),
			    "not valid UTF-8 at byte 0"); /* surrogate */
	assert_string_equal(check(ITM_FIELD_NAME, "ab\xe2\x80", 4),
			    "not valid UTF-8 at byte 2"); /* cut short */
	assert_string_equal(check(ITM_FIELD_TEXT, "a\tb", 3),
			    "control character U+0009 at byte 1");
	assert_string_equal(check(ITM_FIELD_TEXT, "\xc2\x85", 2),
			    "control character U+0085 at byte 0"); /* C1 */
	assert_string_equal(check(ITM_FIELD_YAML, "a:\tb\r\nc: \xe2\x80\xae",
				  12),
			    "ok");
	assert_string_equal(check(ITM_FIELD_YAML, "a\x1b[2J", 5),
			    "control character U+001B at byte 1");
	assert_string_equal(check(ITM_FIELD_PARAM, "x=\xe2\x81\xa6", 5),
			    "bidirectional formatting character U+2066 at "
			    "byte 2");
	memset(big, 'n', sizeof(big));
	assert_string_equal(check(ITM_FIELD_NAME, big, 31), "ok");
	assert_string_equal(check(ITM_FIELD_NAME, big, 32),
			    "longer than 31 bytes");
	assert_string_equal(check(ITM_FIELD_NODE, big, 33),
			    "longer than 32 bytes");
	assert_string_equal(check(ITM_FIELD_PARAM, big, 257),
			    "longer than 256 bytes");
}

/* Nested and repeated fields are named by their path. */
static void
wire_paths(void **state)
{
	Itm__V1__AttachRequest a = ITM__V1__ATTACH_REQUEST__INIT;
	Itm__V1__Interest in = ITM__V1__INTEREST__INIT;
	char *devs[] = { "eth0", "eth\x7f" }, *cls[] = { "none", "short" };
	uint8_t buf[512];
	char err[256];
	size_t n;

	in.indev = devs;
	in.n_indev = 2;
	a.label = "l";
	a.interest = &in;
	a.class_names = cls;
	a.n_class_names = 2;
	n = itm__v1__attach_request__pack(&a, buf);
	assert_int_equal(
		itm_fields_check_wire(&itm__v1__attach_request__descriptor, buf,
				      n, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "interest.indev[1]: control character U+007F "
				 "at byte 3");
	devs[1] = "eth1";
	n = itm__v1__attach_request__pack(&a, buf);
	assert_int_equal(
		itm_fields_check_wire(&itm__v1__attach_request__descriptor, buf,
				      n, err, sizeof(err)),
		0);
	/* bytes that do not parse are the decoder's to refuse */
	assert_int_equal(
		itm_fields_check_wire(&itm__v1__attach_request__descriptor,
				      (const uint8_t *)"\x0a\xff", 2, err,
				      sizeof(err)),
		0);
}

static void
escaping(void **state)
{
	char out[ITM_ESC_BUF], small[24], big[400];

	assert_string_equal(ITM_ESC("plain text", out), "plain text");
	assert_string_equal(ITM_ESC("a\nforged: line", out),
			    "a\\x0aforged: line");
	assert_string_equal(ITM_ESC("back\\slash", out), "back\\\\slash");
	assert_string_equal(ITM_ESC("x\xe2\x80\xaey", out), "x\\u{202E}y");
	assert_string_equal(ITM_ESC("bad\xff", out), "bad\\xff");
	assert_string_equal(ITM_ESC("caf\xc3\xa9", out), "caf\xc3\xa9");
	assert_string_equal(ITM_ESC(NULL, out), "");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ITM_ESC(big, out);
	assert_int_equal(strlen(out),
			 ITM_ESCAPE_MAX + strlen("...(399 bytes)"));
	assert_non_null(strstr(out, "...(399 bytes)"));
	/* a buffer too small still ends with the length */
	itm_text_escape(big, 100, small, sizeof(small));
	assert_non_null(strstr(small, "...(399 bytes)"));
	assert_true(strlen(small) < sizeof(small));
	/* status messages keep their lines */
	itm_text_escape_lines("one\ntwo\x1b\n", out, sizeof(out));
	assert_string_equal(out, "one\ntwo\\x1b\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kinds_and_faults),
		cmocka_unit_test(wire_paths),
		cmocka_unit_test(escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

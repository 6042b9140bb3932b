/*
 * test_methods.c - the method table of proto/itm_methods.h against
 * itm.proto: every rpc of every service is in the table once, with the
 * path gRPC uses and protobuf-c's request and reply types; every entry
 * of the table is an rpc; the streaming ones are those itm.proto declares
 * "returns (stream ...)".  Also what a server refuses in its list.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "itm.pb-c.h"
#include "itm_rpc.h"

static const ProtobufCServiceDescriptor *const services[] = {
	&itm__v1__agent__descriptor,
	&itm__v1__controller__descriptor,
};

#define N_SERVICES (sizeof(services) / sizeof(services[0]))

/* The table's entry for @svc's method @md, or NULL. */
static const struct itm_method_def *
find(const ProtobufCServiceDescriptor *svc, const ProtobufCMethodDescriptor *md)
{
	for (int m = 0; m < ITM_METHOD_MAX; m++) {
		const struct itm_method_def *d = itm_method_def(m);

		if (!strcmp(d->service, svc->name) &&
		    !strcmp(d->name, md->name))
			return d;
	}
	return NULL;
}

static void
every_rpc_in_the_table(void **state)
{
	size_t total = 0;
	char path[128];

	for (size_t s = 0; s < N_SERVICES; s++) {
		const ProtobufCServiceDescriptor *svc = services[s];

		for (unsigned int i = 0; i < svc->n_methods; i++) {
			const ProtobufCMethodDescriptor *md = &svc->methods[i];
			const struct itm_method_def *d = find(svc, md);

			if (d == NULL)
				fail_msg("%s.%s is not in itm_methods.h",
					 svc->name, md->name);
			snprintf(path, sizeof(path), "/%s/%s", svc->name,
				 md->name);
			assert_string_equal(d->path, path);
			assert_ptr_equal(d->request, md->input);
			assert_ptr_equal(d->reply, md->output);
			total++;
		}
	}
	/* And nothing else: each entry is one rpc of itm.proto. */
	assert_int_equal(total, ITM_STD_FIRST);
	for (int m = 0; m < ITM_METHOD_MAX; m++)
		for (int k = 0; k < m; k++)
			assert_string_not_equal(itm_method_def(m)->path,
						itm_method_def(k)->path);
}

/* "rpc Name(Req) returns (stream Reply)" lines of itm.proto. */
static int
proto_streams(const char *svc_short, const char *name)
{
	FILE *f = fopen(ITM_PROTO_FILE, "r");
	char line[512], svc[64] = "", want[128];
	int stream = -1;

	assert_non_null(f);
	snprintf(want, sizeof(want), "rpc %s(", name);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "service %63s", svc) == 1)
			continue;
		if (strcmp(svc, svc_short) || !strstr(line, want))
			continue;
		stream = strstr(line, "returns (stream ") != NULL;
	}
	fclose(f);
	return stream;
}

static void
streaming_as_declared(void **state)
{
	int streams = 0;

	for (int m = 0; m < ITM_STD_FIRST; m++) {
		const struct itm_method_def *d = itm_method_def(m);
		const char *svc = strrchr(d->service, '.') + 1;
		int s = proto_streams(svc, d->name);

		if (s < 0)
			fail_msg("%s: no rpc line in itm.proto", d->path);
		assert_int_equal(d->kind == ITM_METHOD_STREAM, s);
		streams += s;
	}
	assert_int_equal(streams, 1); /* WatchStats */
	assert_int_equal(itm_method_def(ITM_AGENT_WATCH_STATS)->kind,
			 ITM_METHOD_STREAM);
}

static void
out_of_range(void **state)
{
	assert_null(itm_method_def(ITM_METHOD_MAX));
	assert_null(itm_method_def((enum itm_method) - 1));
	assert_string_equal(itm_method_def(ITM_CONTROLLER_APPLY)->path,
			    "/itm.v1.Controller/Apply");
}

static void
h_none(struct itm_rpc_call *call, void *arg)
{
	(void)arg;
	itm_rpc_fail(call, ITM_RPC_INTERNAL, "not called");
}

/* A server's list: each method once, each in the table, each handled. */
static void
server_refuses_bad_lists(void **state)
{
	const struct itm_rpc_method twice[] = {
		{ ITM_AGENT_GET_STATUS, h_none },
		{ ITM_AGENT_GET_STATUS, h_none },
	};
	const struct itm_rpc_method unknown[] = {
		{ ITM_METHOD_MAX, h_none },
	};
	const struct itm_rpc_method no_handler[] = {
		{ ITM_AGENT_GET_STATUS, NULL },
	};
	const struct itm_rpc_method good[] = {
		{ ITM_AGENT_GET_STATUS, h_none },
		{ ITM_CONTROLLER_NODES, h_none },
	};
	struct itm_rpc_server *srv = NULL;
	uv_loop_t loop;

	uv_loop_init(&loop);
	assert_int_equal(itm_rpc_server_new(&srv, &loop, twice, 2, NULL),
			 -EINVAL);
	assert_int_equal(itm_rpc_server_new(&srv, &loop, unknown, 1, NULL),
			 -EINVAL);
	assert_int_equal(itm_rpc_server_new(&srv, &loop, no_handler, 1, NULL),
			 -EINVAL);
	assert_int_equal(itm_rpc_server_new(&srv, &loop, good, 2, NULL), 0);
	itm_rpc_server_free(srv);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_rpc_in_the_table),
		cmocka_unit_test(streaming_as_declared),
		cmocka_unit_test(out_of_range),
		cmocka_unit_test(server_refuses_bad_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

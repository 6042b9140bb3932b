/*
 * itm_health.c - grpc.health.v1.Health over itm_rpc.h (itm_health.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "health.pb-c.h"
#include "itm_health.h"

struct health_watch {
	struct itm_rpc_call *call;
	uv_timer_t timer;
	itm_health_status_func f;
	void *arg;
	enum itm_health_status last;
	char service[256];
	LIST_ENTRY(health_watch) entry;
};

static LIST_HEAD(, health_watch) watches = LIST_HEAD_INITIALIZER(watches);

static const char *
service_of(const struct itm_rpc_call *call)
{
	const Grpc__Health__V1__HealthCheckRequest *req =
		(const void *)itm_rpc_request(call);

	return req->service ? req->service : "";
}

void
itm_health_check(struct itm_rpc_call *call, itm_health_status_func f, void *arg)
{
	Grpc__Health__V1__HealthCheckResponse rep =
		GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	const char *service = service_of(call);
	enum itm_health_status st = f(arg, service);

	if (st == ITM_HEALTH_SERVICE_UNKNOWN) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "unknown service '%s'",
			     service);
		return;
	}
	rep.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
	itm_rpc_reply(call, &rep.base);
}

static void
watch_closed_cb(uv_handle_t *h)
{
	free(h->data);
}

/* Stop @w and end its call. */
static void
watch_end(struct health_watch *w)
{
	LIST_REMOVE(w, entry);
	uv_timer_stop(&w->timer);
	itm_rpc_finish(w->call);
	uv_close((uv_handle_t *)&w->timer, watch_closed_cb);
}

static void
watch_cancel_cb(struct itm_rpc_call *call, void *arg)
{
	watch_end(arg);
}

/* Send the status if it changed (or was never sent). */
static void
watch_tick_cb(uv_timer_t *t)
{
	struct health_watch *w = t->data;
	Grpc__Health__V1__HealthCheckResponse rep =
		GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	enum itm_health_status st = w->f(w->arg, w->service);

	if (st == w->last)
		return;
	w->last = st;
	rep.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
	if (itm_rpc_send(w->call, &rep.base) < 0)
		watch_end(w); /* the client went away */
}

void
itm_health_watch(struct itm_rpc_call *call, uv_loop_t *loop,
		 itm_health_status_func f, void *arg)
{
	struct health_watch *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	*w = (struct health_watch){ .call = call,
				    .f = f,
				    .arg = arg,
				    .last = (enum itm_health_status) - 1 };
	snprintf(w->service, sizeof(w->service), "%s", service_of(call));
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	LIST_INSERT_HEAD(&watches, w, entry);
	itm_rpc_on_cancel(call, watch_cancel_cb, w);
	uv_timer_start(&w->timer, watch_tick_cb, 0, ITM_HEALTH_POLL_MS);
}

void
itm_health_stop_all(void)
{
	while (!LIST_EMPTY(&watches))
		watch_end(LIST_FIRST(&watches));
}

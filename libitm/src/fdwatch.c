/*
 * fdwatch.c - modules' file descriptors on the host's libuv loop: one
 * uv_poll_t per fd, level-triggered, freed once libuv has closed it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "error.h"
#include "fdwatch.h"

struct itm__fdw {
	uv_poll_t handle;
	void *owner;
	int fd;
	itm_fd_cb cb;
	void *arg;
	LIST_ENTRY(itm__fdw) entry;
};

static LIST_HEAD(, itm__fdw) watches = LIST_HEAD_INITIALIZER(watches);
static uv_loop_t *fdw_loop;
static itm__timer_enter_cb fdw_enter;

void
itm__fdw_init(uv_loop_t *loop, itm__timer_enter_cb enter)
{
	fdw_loop = loop;
	fdw_enter = enter;
}

static struct itm__fdw *
fdw_find(int fd)
{
	struct itm__fdw *w;

	LIST_FOREACH(w, &watches, entry)
		if (w->fd == fd)
			return w;
	return NULL;
}

static void
fdw_cb(uv_poll_t *handle, int status, int events)
{
	struct itm__fdw *w = handle->data;
	unsigned int rev = 0;

	if (status < 0)
		rev |= ITM_FD_ERROR;
	if (events & UV_READABLE)
		rev |= ITM_FD_READ;
	if (events & UV_WRITABLE)
		rev |= ITM_FD_WRITE;
	if (events & UV_DISCONNECT)
		rev |= ITM_FD_ERROR | ITM_FD_READ;
	if (fdw_enter)
		fdw_enter(w->owner);
	w->cb(w->fd, rev, w->arg);
	if (fdw_enter)
		fdw_enter(NULL);
}

static int
fdw_start(struct itm__fdw *w, unsigned int events)
{
	int uvev = 0;

	if (events & ITM_FD_READ)
		uvev |= UV_READABLE | UV_DISCONNECT;
	if (events & ITM_FD_WRITE)
		uvev |= UV_WRITABLE;
	if (uvev == 0)
		return uv_poll_stop(&w->handle);
	return uv_poll_start(&w->handle, uvev, fdw_cb);
}

static int
fdw_check(int fd, unsigned int events)
{
	if (fdw_loop == NULL) {
		itm__set_error("itm_register_fd: no event loop (call "
			       "libitm_init first)");
		return -ENOTSUP;
	}
	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		itm__set_error("itm_register_fd: %d is not an open fd", fd);
		return -EINVAL;
	}
	if (events & ~(ITM_FD_READ | ITM_FD_WRITE)) {
		itm__set_error("itm_register_fd: events are ITM_FD_READ and "
			       "ITM_FD_WRITE");
		return -EINVAL;
	}
	return 0;
}

int
itm__fdw_add(void *owner, int fd, unsigned int events, itm_fd_cb cb, void *arg)
{
	struct itm__fdw *w;
	int rc;

	if ((rc = fdw_check(fd, events)) < 0)
		return rc;
	if (cb == NULL) {
		itm__set_error("itm_register_fd: need a callback");
		return -EINVAL;
	}
	if (fdw_find(fd) != NULL) {
		itm__set_error("itm_register_fd: fd %d is already watched", fd);
		return -EEXIST;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->owner = owner;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	if ((rc = uv_poll_init(fdw_loop, &w->handle, fd)) < 0) {
		free(w);
		itm__set_error("itm_register_fd: fd %d: %s", fd,
			       uv_strerror(rc));
		return rc;
	}
	w->handle.data = w;
	LIST_INSERT_HEAD(&watches, w, entry);
	if ((rc = fdw_start(w, events)) < 0) {
		itm__fdw_del(owner, fd);
		itm__set_error("itm_register_fd: fd %d: %s", fd,
			       uv_strerror(rc));
		return rc;
	}
	return 0;
}

static struct itm__fdw *
fdw_mine(void *owner, int fd)
{
	struct itm__fdw *w = fdw_find(fd);

	if (w == NULL || w->owner != owner) {
		itm__set_error("fd %d is not watched by this module", fd);
		return NULL;
	}
	return w;
}

int
itm__fdw_mod(void *owner, int fd, unsigned int events)
{
	struct itm__fdw *w;
	int rc;

	if (events & ~(ITM_FD_READ | ITM_FD_WRITE)) {
		itm__set_error("itm_modify_fd: events are ITM_FD_READ and "
			       "ITM_FD_WRITE");
		return -EINVAL;
	}
	if ((w = fdw_mine(owner, fd)) == NULL)
		return -ENOENT;
	if ((rc = fdw_start(w, events)) < 0)
		itm__set_error("itm_modify_fd: fd %d: %s", fd, uv_strerror(rc));
	return rc;
}

static void
fdw_closed_cb(uv_handle_t *handle)
{
	free(handle->data);
}

static void
fdw_free(struct itm__fdw *w)
{
	LIST_REMOVE(w, entry);
	uv_poll_stop(&w->handle);
	uv_close((uv_handle_t *)&w->handle, fdw_closed_cb);
}

int
itm__fdw_del(void *owner, int fd)
{
	struct itm__fdw *w = fdw_mine(owner, fd);

	if (w == NULL)
		return -ENOENT;
	fdw_free(w);
	return 0;
}

void
itm__fdw_del_owner(void *owner)
{
	struct itm__fdw *w, *next;

	for (w = LIST_FIRST(&watches); w != NULL; w = next) {
		next = LIST_NEXT(w, entry);
		if (owner == NULL || w->owner == owner)
			fdw_free(w);
	}
}

unsigned int
itm__fdw_count(void *owner)
{
	struct itm__fdw *w;
	unsigned int n = 0;

	LIST_FOREACH(w, &watches, entry)
		if (w->owner == owner)
			n++;
	return n;
}

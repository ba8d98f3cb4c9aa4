/* http.h - the HTTP services on the worker loops (docs/http.md): one
 * libwebsockets context per worker on the worker's own libuv loop, with the
 * http and https listeners shared between workers by SO_REUSEPORT (like
 * the XMPP ports in net/listener.c). Routes: /xmpp-websocket (RFC 7395),
 * /http-bind (XEP-0206), /.well-known/host-meta[.json] (XEP-0156),
 * /metrics, /upload/ (XEP-0363) and the web client's files at /. */
#ifndef ALDIS_HTTP_HTTP_H
#define ALDIS_HTTP_HTTP_H
#include <uv.h>

#include "aldis/config.h"
#include "net/listener.h"

/* Once, on the main thread, before the workers start. */
void http_configure(const struct config *cfg);
/* On each worker: open its context and listeners. 0 or ALDIS_EIO with err. */
int http_worker_start(uv_loop_t *loop, char *err, size_t errlen);
/* A connection accepted on the http or https port (net/listener.c). */
void http_accept_fd(int fd, enum listener_kind kind);
/* On each worker at shutdown: close the listeners and every connection. */
void http_worker_stop(void);
/* After the loops stopped (worker_finish's cleanup, as that worker): free
 * what the context still holds. */
void http_worker_cleanup(int worker);

#endif

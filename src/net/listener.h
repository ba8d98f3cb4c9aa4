/* listener.h - the listening sockets of one worker. Every worker listens on
 * every port with SO_REUSEPORT, so the kernel spreads new connections over
 * the workers and a connection stays on the worker that accepted it. The
 * XMPP ports hand a libuv stream to accept from; the HTTP ports hand the
 * accepted socket itself (libwebsockets adopts it, src/http/http.c). */
#ifndef ALDIS_NET_LISTENER_H
#define ALDIS_NET_LISTENER_H
#include <uv.h>

#include "aldis/config.h"

enum listener_kind {
    LISTEN_C2S = 0,
    LISTEN_C2S_TLS = 1,
    LISTEN_HTTP = 2,
    LISTEN_HTTPS = 3,
    LISTEN_KINDS
};

typedef void (*listener_accept_fn)(uv_stream_t *server, enum listener_kind kind);
/* An accepted socket (non-blocking, close-on-exec) now owned by the callee. */
typedef void (*listener_fd_fn)(int fd, enum listener_kind kind);

/* Open this worker's sockets (call on the worker). 0 or ALDIS_EIO with err. */
int listeners_start(uv_loop_t *loop, const struct config *cfg, listener_accept_fn on_accept,
                    listener_fd_fn on_accept_fd, char *err, size_t errlen);
/* Check from the main thread that every port is free (no other process,
 * even one using SO_REUSEPORT). 0 or ALDIS_EIO with err. */
int listeners_check(const struct config *cfg, char *err, size_t errlen);
/* Close this worker's sockets (no new connections). */
void listeners_stop(void);

#endif

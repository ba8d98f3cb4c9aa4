/* listener.h - the listening sockets of one worker. Every worker listens on
 * every port with SO_REUSEPORT, so the kernel spreads new connections over
 * the workers and a connection stays on the worker that accepted it. */
#ifndef ALDIS_NET_LISTENER_H
#define ALDIS_NET_LISTENER_H
#include <uv.h>

#include "aldis/config.h"

enum listener_kind { LISTEN_C2S = 0, LISTEN_C2S_TLS = 1, LISTEN_KINDS };

typedef void (*listener_accept_fn)(uv_stream_t *server, enum listener_kind kind);

/* Open this worker's sockets (call on the worker). 0 or ALDIS_EIO with err. */
int listeners_start(uv_loop_t *loop, const struct config *cfg, listener_accept_fn on_accept,
                    char *err, size_t errlen);
/* Check from the main thread that every port is free (no other process,
 * even one using SO_REUSEPORT). 0 or ALDIS_EIO with err. */
int listeners_check(const struct config *cfg, char *err, size_t errlen);
/* Close this worker's sockets (no new connections). */
void listeners_stop(void);

#endif

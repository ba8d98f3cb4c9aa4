/* c2s.h - client-to-server streams over TCP (STARTTLS on the c2s port,
 * direct TLS per XEP-0368 on the c2s_tls port). */
#ifndef ALDIS_STREAM_C2S_H
#define ALDIS_STREAM_C2S_H
#include <uv.h>

#include "aldis/config.h"

/* Settings every c2s stream reads (set once at startup / reload). */
void c2s_configure(const struct config *cfg);
/* Accept a connection from a listening socket on the current worker. */
void c2s_accept(uv_stream_t *server, int direct_tls);
/* Gracefully end every stream of the current worker (system-shutdown). */
void c2s_shutdown_worker(void);

#endif

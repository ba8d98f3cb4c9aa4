/* c2s.h - client-to-server streams over TCP (STARTTLS on the c2s port,
 * direct TLS per XEP-0368 on the c2s_tls port), and the same stream logic
 * behind a browser transport (RFC 7395 WebSocket, XEP-0206 BOSH) whose
 * connection and framing live in src/http/. */
#ifndef ALDIS_STREAM_C2S_H
#define ALDIS_STREAM_C2S_H
#include <openssl/ssl.h>
#include <stdbool.h>
#include <uv.h>

#include "aldis/config.h"

/* Settings every c2s stream reads (set once at startup / reload). */
void c2s_configure(const struct config *cfg);
/* Accept a connection from a listening socket on the current worker. */
void c2s_accept(uv_stream_t *server, int direct_tls);
/* Gracefully end every stream of the current worker (system-shutdown). */
void c2s_shutdown_worker(void);

/* ---- transports ----
 * The transport's side of a stream. Every callback gets the `ud` given to
 * c2s_transport_new and runs on the session's worker. */
struct c2s;
struct c2s_transport {
    const char *name; /* "websocket", "bosh": logs and metrics */
    /* The stream is open (answer to c2s_transport_open): send the
     * transport's header, e.g. RFC 7395 <open/>. from may be NULL. */
    void (*header)(void *ud, const char *stream_id, const char *from, const char *lang);
    /* One complete top-level element carrying its namespace declarations. */
    void (*send)(void *ud, const char *data, size_t len);
    /* The stream ends: send the transport's closing (RFC 7395 <close/>,
     * BOSH terminate) after what was sent, then close the connection; call
     * c2s_transport_gone once it is closed. */
    void (*close)(void *ud);
};

/* A new stream on the current worker. tls: it runs over HTTPS; ssl: the
 * one TLS session under it, for channel binding (WebSocket), or NULL (BOSH
 * spans several connections: no binding, so no -PLUS); trusted: plain HTTP
 * counts as secure (a TLS-terminating proxy). */
struct c2s *c2s_transport_new(const struct c2s_transport *tr, void *ud, const char *peer,
                              bool tls, SSL *ssl, bool trusted);
/* The client opened (or restarted) the stream with these header values. */
int c2s_transport_open(struct c2s *c, const char *to, const char *version, const char *lang);
/* Bytes of complete elements from the client (one or more). */
void c2s_transport_input(struct c2s *c, const char *data, size_t len);
/* The client closed the stream (<close/>, BOSH terminate). */
void c2s_transport_end(struct c2s *c);
/* After SASL success the client must restart the stream. */
bool c2s_transport_restart_expected(const struct c2s *c);
/* The connection is closed: no more callbacks; `c` may be freed (or kept
 * for an XEP-0198 resumption) from now on. */
void c2s_transport_gone(struct c2s *c);

#endif

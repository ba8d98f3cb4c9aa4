/* conn.h - a TCP connection on a worker's loop, optionally wrapped in TLS
 * through OpenSSL memory BIOs (so libuv does all socket I/O).
 *
 * Writes are buffered and flushed once per loop turn (one TLS record and
 * one write(2) for everything written to a connection in that turn).
 * Lifecycle (libuv style): conn_init, conn_accept, ... conn_close; the
 * on_close callback runs once the handle is closed, and only then may the
 * owner free the memory that holds the conn. */
#ifndef ALDIS_NET_CONN_H
#define ALDIS_NET_CONN_H
#include <openssl/ssl.h>
#include <stdbool.h>
#include <uv.h>

#include "aldis/buf.h"

struct conn;

struct conn_callbacks {
    void (*data)(struct conn *c, const char *data, size_t len); /* plaintext in */
    void (*tls_ready)(struct conn *c);                        /* handshake done */
    void (*closed)(struct conn *c);                           /* handle closed */
};

struct conn {
    uv_tcp_t tcp;
    SSL *ssl;
    const char *rx_ptr; /* TLS input not yet consumed by OpenSSL (borrowed) */
    size_t rx_len;
    bool tls_done;
    bool closing;
    bool eof;
    bool dirty;
    bool paused;
    struct buf out; /* plaintext waiting for the flush */
    struct conn *next_dirty;
    const struct conn_callbacks *cb;
    void *ud;
    uv_timer_t *close_timer;
    uint64_t rx_window_start;
    size_t rx_window_bytes;
    size_t rate_limit; /* bytes per second, 0 = none */
    char peer[64];     /* peer IP address */
};

void conn_init(struct conn *c, uv_loop_t *loop, const struct conn_callbacks *cb, void *ud);
/* Accept from a listening stream and start reading. */
int conn_accept(struct conn *c, uv_stream_t *server);
/* Become a TLS server on this connection now (direct TLS or STARTTLS: any
 * plaintext already written is flushed first, in the clear). */
int conn_start_tls(struct conn *c, SSL_CTX *ctx);
void conn_write(struct conn *c, const char *data, size_t len);
/* Flush what is pending, then close (gracefully, bounded by a timer). */
void conn_close(struct conn *c);
/* Flush every connection written during this loop turn (uv_prepare). */
void conn_flush_all(void);
void conn_flush_init(uv_loop_t *loop);

#endif

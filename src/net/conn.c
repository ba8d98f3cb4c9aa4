/* conn.c - TCP + TLS connections over libuv with OpenSSL memory BIOs. */
#include <openssl/err.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/worker_internal.h"
#include "net/conn.h"

#define READ_CHUNK 65536
#define MAX_WRITE_QUEUE (8u * 1024u * 1024u) /* a peer that stops reading */
#define CLOSE_GRACE_MS 3000

static _Thread_local char read_buffer[READ_CHUNK];

/* OpenSSL talks to the network through a BIO of ours instead of two memory
 * BIOs: reads come straight from the libuv read buffer being processed and
 * writes go to one per-worker scratch buffer that is handed to the socket
 * after each TLS call. A memory BIO keeps its high-water allocation for the
 * connection's lifetime (several KiB per idle session); this keeps none. */
#define tls_scratch (worker_state(worker_current())->tls_scratch)
static BIO_METHOD *conn_bio_method;
static pthread_once_t conn_bio_once = PTHREAD_ONCE_INIT;

static int conn_bio_write(BIO *b, const char *data, int len)
{
    (void)b;
    buf_add(&tls_scratch, data, (size_t)len);
    return len;
}

static int conn_bio_read(BIO *b, char *out, int len)
{
    struct conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!c->rx_len) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = (size_t)len < c->rx_len ? (size_t)len : c->rx_len;
    memcpy(out, c->rx_ptr, n);
    c->rx_ptr += n;
    c->rx_len -= n;
    return (int)n;
}

static long conn_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
    case BIO_CTRL_WPENDING:
        return 0;
    default:
        return 0;
    }
}

static int conn_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void conn_bio_init_method(void)
{
    conn_bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "aldis-conn");
    BIO_meth_set_write(conn_bio_method, conn_bio_write);
    BIO_meth_set_read(conn_bio_method, conn_bio_read);
    BIO_meth_set_ctrl(conn_bio_method, conn_bio_ctrl);
    BIO_meth_set_create(conn_bio_method, conn_bio_create);
}

struct write_req {
    uv_write_t req;
    size_t len;
    char data[];
};

static void unlink_dirty(struct conn *c);

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    unlink_dirty(c);
    if (c->ssl)
        SSL_free(c->ssl); /* frees the BIOs too */
    c->ssl = NULL;
    buf_free(&c->out);
    c->cb->closed(c);
}

static void close_timer_closed(uv_handle_t *h) { free(h); }

static void close_now(struct conn *c)
{
    if (c->close_timer) {
        uv_close((uv_handle_t *)c->close_timer, close_timer_closed);
        c->close_timer = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct conn *c = req->handle->data;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !c->closing) {
        log_debug("net", "%s: write failed: %s", c->peer, uv_strerror(status));
        c->closing = true;
        close_now(c);
    }
}

static void raw_write(struct conn *c, const char *data, size_t len)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp) || len == 0)
        return;
    if (c->tcp.write_queue_size == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
        if (len == 0)
            return;
    }
    if (c->tcp.write_queue_size > MAX_WRITE_QUEUE) {
        log_warn("net", "%s: peer is not reading (%zu bytes queued), closing", c->peer,
                 c->tcp.write_queue_size);
        c->closing = true;
        close_now(c);
        return;
    }
    struct write_req *w = malloc(sizeof *w + len);
    ALDIS_ASSERT(w != NULL);
    memcpy(w->data, data, len);
    w->len = len;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0)
        free(w);
}

/* Move what OpenSSL produced to the socket. */
static void drain_tls(struct conn *c)
{
    if (!tls_scratch.len)
        return;
    raw_write(c, tls_scratch.data, tls_scratch.len);
    buf_consume(&tls_scratch, tls_scratch.len);
    if (tls_scratch.cap > 256 * 1024)
        buf_free(&tls_scratch);
}

static void flush(struct conn *c)
{
    c->dirty = false;
    if (!c->out.len || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (!c->ssl) {
        raw_write(c, c->out.data, c->out.len);
        buf_consume(&c->out, c->out.len);
        if (c->out.cap > 16384)
            buf_free(&c->out);
        return;
    }
    if (!c->tls_done)
        return; /* written after the handshake completes */
    size_t off = 0;
    while (off < c->out.len) {
        size_t chunk = c->out.len - off;
        if (chunk > 16384)
            chunk = 16384;
        int n = SSL_write(c->ssl, c->out.data + off, (int)chunk);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    buf_consume(&c->out, off);
    drain_tls(c);
    /* a burst (a busy room, a roster push) must not pin its buffer for
     * the connection's lifetime */
    if (!c->out.len && c->out.cap > 16384)
        buf_free(&c->out);
}

void conn_flush_all(void)
{
    struct worker_state *ws = worker_state(worker_current());
    while (ws->dirty) {
        struct conn *c = ws->dirty;
        ws->dirty = c->next_dirty;
        c->next_dirty = NULL;
        flush(c);
    }
}

static void on_prepare(uv_prepare_t *p)
{
    (void)p;
    conn_flush_all();
}

void conn_flush_init(uv_loop_t *loop)
{
    uv_prepare_t *p = &worker_state(worker_current())->flush;
    uv_prepare_init(loop, p);
    uv_prepare_start(p, on_prepare);
    uv_unref((uv_handle_t *)p);
}

void conn_write(struct conn *c, const char *data, size_t len)
{
    if (c->closing)
        return;
    buf_add(&c->out, data, len);
    if (!c->dirty) {
        struct worker_state *ws = worker_state(worker_current());
        c->dirty = true;
        c->next_dirty = ws->dirty;
        ws->dirty = c;
    }
}

static void unlink_dirty(struct conn *c)
{
    if (!c->dirty)
        return;
    struct worker_state *ws = worker_state(worker_current());
    for (struct conn **pp = &ws->dirty; *pp; pp = &(*pp)->next_dirty)
        if (*pp == c) {
            *pp = c->next_dirty;
            break;
        }
    c->dirty = false;
}

static void tls_input(struct conn *c, const char *data, size_t len)
{
    c->rx_ptr = data;
    c->rx_len = len;
    if (!c->tls_done) {
        int r = SSL_do_handshake(c->ssl);
        drain_tls(c);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            unsigned long ossl = ERR_get_error();
            char msg[256];
            ERR_error_string_n(ossl, msg, sizeof msg);
            log_info("net", "%s: TLS handshake failed: %s", c->peer, msg);
            ERR_clear_error();
            c->closing = true;
            close_now(c);
            return;
        }
        c->tls_done = true;
        if (c->cb->tls_ready)
            c->cb->tls_ready(c);
        flush(c);
    }
    char plain[16384];
    for (;;) {
        int n = SSL_read(c->ssl, plain, sizeof plain);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            drain_tls(c);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            if (e != SSL_ERROR_ZERO_RETURN)
                log_debug("net", "%s: TLS read error %d", c->peer, e);
            ERR_clear_error();
            c->closing = true;
            close_now(c);
            return;
        }
        c->cb->data(c, plain, (size_t)n);
        if (c->closing)
            return;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h, (void)suggested;
    *b = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void resume_reading(uv_timer_t *t);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n == 0)
        return;
    if (n < 0) {
        c->eof = true;
        if (n != UV_EOF)
            log_debug("net", "%s: read error: %s", c->peer, uv_strerror((int)n));
        c->closing = true;
        close_now(c);
        return;
    }
    if (c->rate_limit) {
        /* XEP-0205: bound what one connection can make us parse */
        uint64_t now = uv_now(s->loop);
        if (now - c->rx_window_start >= 1000) {
            c->rx_window_start = now;
            c->rx_window_bytes = 0;
        }
        c->rx_window_bytes += (size_t)n;
        if (c->rx_window_bytes > c->rate_limit && !c->paused) {
            c->paused = true;
            uv_read_stop(s);
            if (!c->close_timer) {
                c->close_timer = malloc(sizeof *c->close_timer);
                ALDIS_ASSERT(c->close_timer != NULL);
                uv_timer_init(s->loop, c->close_timer);
                c->close_timer->data = c;
            }
            uv_timer_start(c->close_timer, resume_reading, 1000 - (now - c->rx_window_start), 0);
        }
    }
    if (c->ssl)
        tls_input(c, b->base, (size_t)n);
    else
        c->cb->data(c, b->base, (size_t)n);
}

static void resume_reading(uv_timer_t *t)
{
    struct conn *c = t->data;
    c->paused = false;
    c->rx_window_bytes = 0;
    c->rx_window_start = uv_now(t->loop);
    if (!c->closing)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void conn_init(struct conn *c, uv_loop_t *loop, const struct conn_callbacks *cb, void *ud)
{
    memset(c, 0, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->cb = cb;
    c->ud = ud;
    buf_init(&c->out);
}

int conn_accept(struct conn *c, uv_stream_t *server)
{
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0)
        return ALDIS_EIO;
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
            if (strncmp(c->peer, "::ffff:", 7) == 0)
                memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
        }
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    return 0;
}

int conn_start_tls(struct conn *c, SSL_CTX *ctx)
{
    /* the <proceed/> (or anything pending) goes out in the clear first */
    unlink_dirty(c);
    flush(c);
    pthread_once(&conn_bio_once, conn_bio_init_method);
    c->ssl = SSL_new(ctx);
    if (!c->ssl)
        return ALDIS_ETLS;
    BIO *bio = BIO_new(conn_bio_method);
    if (!bio) {
        SSL_free(c->ssl);
        c->ssl = NULL;
        return ALDIS_ETLS;
    }
    BIO_set_data(bio, c);
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_accept_state(c->ssl);
    SSL_set_app_data(c->ssl, c);
    return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct conn *c = req->handle->data;
    free(req);
    close_now(c);
}

static void on_close_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    close_now(c);
}

void conn_close(struct conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (c->closing && c->close_timer && !c->paused)
        return;
    unlink_dirty(c);
    flush(c);
    c->closing = true;
    if (c->ssl && c->tls_done && !c->eof) {
        SSL_shutdown(c->ssl); /* close_notify */
        drain_tls(c);
    }
    if (c->eof) {
        close_now(c);
        return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (!c->close_timer) {
        c->close_timer = malloc(sizeof *c->close_timer);
        ALDIS_ASSERT(c->close_timer != NULL);
        uv_timer_init(c->tcp.loop, c->close_timer);
        c->close_timer->data = c;
    }
    c->paused = false;
    uv_timer_start(c->close_timer, on_close_timeout, CLOSE_GRACE_MS, 0);
    uv_shutdown_t *req = malloc(sizeof *req);
    ALDIS_ASSERT(req != NULL);
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(req);
        close_now(c);
    }
}

/* aldis-bench: the WebSocket transport of the ws* scenarios — XMPP over
 * WebSocket (RFC 7395, subprotocol "xmpp") on libwebsockets' client API.
 * Each worker thread owns one lws context and runs lws's service loop in
 * place of its epoll loop; conn.c keeps all of the XMPP logic, and this file
 * carries each element it sends as one WebSocket text message (§3.3.3) and
 * hands every message received to its parser. No framing or HTTP is done by
 * hand: the upgrade, masking and frames are lws's. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

struct ws_loop {
    struct lws_context *ctx;
    lws_sorted_usec_list_t tick; /* ends lws's poll wait for worker_tick */
    struct lws *in_callback;     /* the wsi whose callback is running */
};

/* One queued message in conn->out: its length, LWS_PRE bytes that lws_write
 * may use for the frame header in front of the payload, then the payload.
 * So a message is written in place, without a copy. */
#define WS_LEN_SIZE sizeof(uint32_t)
#define WS_REC_HDR (WS_LEN_SIZE + LWS_PRE)
/* What the client ever sends is one element of at most ~1 KiB (conn.c);
 * anything bigger is a bug, not a load. */
#define WS_MSG_MAX 65536u

void ws_log_init(int verbose)
{
    lws_set_log_level(verbose ? LLL_ERR | LLL_WARN : LLL_ERR, NULL);
}

/* Length of the stanza name at the start of `data` (<message, <presence,
 * <iq) when its start tag declares no namespace, else 0. */
static size_t ws_stanza_name_len(const char *data, size_t len)
{
    static const char *const names[] = {"message", "presence", "iq"};
    if (len < 2 || data[0] != '<')
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (len > n + 1 && !memcmp(data + 1, names[i], n) &&
            (data[1 + n] == ' ' || data[1 + n] == '/' || data[1 + n] == '>')) {
            const char *gt = memchr(data, '>', len);
            size_t tag = gt ? (size_t)(gt - data) : len;
            if (memmem(data, tag, "xmlns=", 6))
                return 0;
            return 1 + n;
        }
    }
    return 0;
}

/* Queue one element as one message. conn.c writes its stanzas for a TCP
 * stream, where they inherit the stream's default namespace; a WebSocket
 * message has no enclosing stream, so each stanza must carry
 * xmlns='jabber:client' itself (RFC 7395 §3.3.3; Prosody refuses stanzas
 * without it). It is added after the name while copying. */
void ws_conn_queue(struct conn *c, const char *data, size_t len)
{
    static const char xmlns[] = " xmlns='jabber:client'";
    size_t name_len = ws_stanza_name_len(data, len);
    size_t extra = name_len ? sizeof xmlns - 1 : 0;
    if (len + extra > WS_MSG_MAX) {
        conn_fail(c, "message too large");
        return;
    }
    size_t need = c->out_len + WS_REC_HDR + len + extra;
    if (conn_reserve(c, need) < 0)
        return;
    uint32_t len32 = (uint32_t)(len + extra);
    char *payload = c->out + c->out_len + WS_REC_HDR;
    memcpy(c->out + c->out_len, &len32, WS_LEN_SIZE);
    memcpy(payload, data, name_len);
    memcpy(payload + name_len, xmlns, extra);
    memcpy(payload + name_len + extra, data + name_len, len - name_len);
    c->out_len = need;
}

/* Messages go out when lws says the socket is writable. */
void ws_conn_flush(struct conn *c)
{
    if (c->wsi && c->state != CS_CONNECTING && c->out_len > 0)
        lws_callback_on_writable(c->wsi);
}

/* Write the queued messages, one lws_write (one frame) each, until the
 * queue is empty or lws had to keep part of one (the socket is full: the
 * rest waits for the next writable callback). Returns -1 on a write error. */
static int ws_write_queued(struct conn *c, struct lws *wsi)
{
    size_t off = 0;
    int rc = 0;
    while (off < c->out_len) {
        uint32_t len;
        memcpy(&len, c->out + off, WS_LEN_SIZE);
        unsigned char *payload = (unsigned char *)c->out + off + WS_REC_HDR;
        if (lws_write(wsi, payload, len, LWS_WRITE_TEXT) < 0) {
            rc = -1;
            break;
        }
        off += WS_REC_HDR + len;
        if (lws_partial_buffered(wsi))
            break;
    }
    if (off > 0) {
        memmove(c->out, c->out + off, c->out_len - off);
        c->out_len -= off;
    }
    return rc;
}

/* Let go of the connection's wsi: from now on its callbacks find no conn
 * (they close it), and the slot may open a new one at once. A polite close
 * (conn_close: c->closing) first writes what is queued — the <close/> of
 * RFC 7395 §3.6 — and asks lws for a close frame with status 1000
 * (RFC 6455 §7.4.1); a failure just drops the TCP connection. A wsi let go
 * inside its own callback is closed by that callback's return value,
 * any other at lws's next service pass. */
void ws_conn_release(struct conn *c)
{
    struct lws *wsi = c->wsi;
    if (!wsi)
        return;
    c->wsi = NULL;
    if (c->closing && c->state != CS_CONNECTING && !lws_partial_buffered(wsi) &&
        ws_write_queued(c, wsi) == 0)
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
    lws_set_opaque_user_data(wsi, NULL);
    if (wsi != c->w->ws->in_callback)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void ws_fail_with(struct conn *c, const char *why, const void *detail, size_t len)
{
    c->text_len = 0;
    c->text[0] = '\0';
    if (detail && len > 0) {
        if (len >= sizeof c->text)
            len = sizeof c->text - 1;
        memcpy(c->text, detail, len);
        c->text[len] = '\0';
        c->text_len = strlen(c->text);
    }
    conn_fail(c, why);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
    case LWS_CALLBACK_CLIENT_RECEIVE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
    case LWS_CALLBACK_CLIENT_CLOSED:
        break;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
    if (!c) /* let go by its conn: nothing more to do on it */
        return reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR ||
                       reason == LWS_CALLBACK_CLIENT_CLOSED
                   ? 0
                   : -1;
    /* A callback can come while lws_client_connect_via_info still runs. */
    if (!c->wsi)
        c->wsi = wsi;
    struct ws_loop *l = c->w->ws;
    struct lws *outer = l->in_callback;
    l->in_callback = wsi;
    int rc = 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        /* The upgrade was refused (wrong path, no "xmpp" subprotocol in
         * the answer), or no connection: `in` says which, if anything. */
        ws_fail_with(c, "WebSocket connection failed", in, in ? strlen(in) : 0);
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        conn_ws_established(c);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        /* A text message, or part of a long one: expat takes any split. */
        if (lws_frame_is_binary(wsi))
            ws_fail_with(c, "binary WebSocket message", NULL, 0);
        else
            conn_receive(c, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (ws_write_queued(c, wsi) < 0)
            ws_fail_with(c, "WebSocket write failed", NULL, 0);
        else if (c->out_len > 0)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        ws_fail_with(c, "WebSocket closed by the server", NULL, 0);
        break;
    default:
        break;
    }
    l->in_callback = outer;
    /* Let go during the callback (closed, failed, logged out): close it. */
    if (!lws_get_opaque_user_data(wsi))
        rc = -1;
    return rc;
}

static const struct lws_protocols ws_protocols[] = {
    /* RFC 7395 §3.1: the subprotocol is "xmpp"; lws checks that the server
     * answers with it. Received frames reach us in pieces of at most 16 KiB. */
    {"xmpp", ws_callback, 0, 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int ws_worker_setup(struct worker *w)
{
    struct ws_loop *l = calloc(1, sizeof *l);
    if (!l)
        return -1;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN; /* client only */
    info.protocols = ws_protocols;
    info.gid = -1;
    info.uid = -1;
    if (w->opts->ws_tls)
        info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    l->ctx = lws_create_context(&info);
    if (!l->ctx) {
        free(l);
        return -1;
    }
    w->ws = l;
    return 0;
}

void ws_worker_free(struct worker *w)
{
    if (!w->ws)
        return;
    if (w->ws->ctx)
        lws_context_destroy(w->ws->ctx);
    free(w->ws);
    w->ws = NULL;
}

/* Open the WebSocket of slot c: Host is the XMPP domain (Prosody picks its
 * virtual host by it), the address and port are the server's. wss:// does
 * not check the certificate: the servers under test use self-signed ones,
 * and this is a load generator, never a client for real use. */
int ws_conn_start(struct conn *c)
{
    const struct bench_opts *o = c->w->opts;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = c->w->ws->ctx;
    i.address = o->host;
    i.port = o->port;
    i.path = o->ws_path;
    i.host = o->domain;
    i.protocol = "xmpp";
    i.opaque_user_data = c;
    if (o->ws_tls)
        i.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED | LCCSCF_ALLOW_EXPIRED |
                           LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_INSECURE;
    c->state = CS_CONNECTING;
    uint32_t gen = c->gen;
    struct lws *wsi = lws_client_connect_via_info(&i);
    if (c->gen != gen)
        return 0; /* failed inside the call: conn_fail has counted it */
    if (!wsi) {
        c->state = CS_FREE;
        atomic_fetch_add(&c->w->errors, 1);
        snprintf(c->w->last_error, sizeof c->w->last_error, "user %d: cannot start a WebSocket",
                 c->user);
        return -1;
    }
    c->wsi = wsi;
    return 0;
}

static void ws_tick(lws_sorted_usec_list_t *sul)
{
    (void)sul; /* its only job is to end the service call */
}

/* The worker's loop for the ws* scenarios: the scenario logic, then one
 * lws service pass, which returns after socket events or when the timer
 * set to worker_tick's wait fires. */
void ws_worker_run(struct worker *w)
{
    struct ws_loop *l = w->ws;
    for (;;) {
        int wait_ms = worker_tick(w);
        if (wait_ms < 0)
            break;
        lws_sul_schedule(l->ctx, 0, &l->tick, ws_tick, (lws_usec_t)wait_ms * LWS_US_PER_MS);
        if (lws_service(l->ctx, 0) < 0) {
            atomic_fetch_add(&w->errors, 1);
            snprintf(w->last_error, sizeof w->last_error, "lws_service failed");
            break;
        }
    }
    lws_sul_cancel(&l->tick);
    worker_conns_free(w);
}

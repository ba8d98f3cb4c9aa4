/* http.c - the HTTP server on the worker loops: one libwebsockets context
 * per worker, created on the worker's thread over its libuv loop ("foreign
 * loop": lws runs no thread or loop of its own), with a vhost per listener
 * (http, https). The listening sockets are net/listener.c's (SO_REUSEPORT
 * on every worker, so the kernel spreads connections); each accepted socket
 * is adopted by this worker's vhost and stays on this worker. Owns the limits every request is held to (header size,
 * body size, timeouts, connections per address), the routing of requests
 * to the files of this directory, and the response helpers. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/upload.h"
#include "aldis/worker.h"
#include "http/http.h"
#include "http/http_internal.h"
#include "http/metrics.h"
#include "lib/map.h"
#include "net/tls.h"

const struct config *http_cfg;

/* Per worker: its lws context and the connection count per peer address. */
struct http_worker {
    struct lws_context *ctx;
    struct lws_vhost *vh[2]; /* http, https (NULL if off) */
    struct map per_ip;  /* address -> count (as a pointer-sized integer) */
    struct map wsi_ip;  /* wsi pointer -> strdup'd address, while counted */
    struct map kick;    /* wsi pointer -> wsi: body bytes may wait inside lws */
    uv_idle_t kick_idle;
    bool kick_on;
    SSL_CTX *https_ctx; /* the https vhost's, while it is being created */
};
static _Thread_local struct http_worker *hw;
/* Contexts being destroyed, by worker id: with a foreign loop the first
 * lws_context_destroy() closes lws's handles through the loop, and only a
 * second call, once they are closed, frees the context (http_worker_cleanup). */
#define HTTP_MAX_WORKERS 1024
static struct lws_context *closing_ctx[HTTP_MAX_WORKERS];

enum route { R_NONE, R_WEBSOCKET, R_BOSH, R_HOST_META, R_HOST_META_JSON, R_METRICS, R_UPLOAD, R_STATIC };

/* ---- helpers ---- */

bool http_is_tls(struct lws *wsi) { return lws_is_ssl(wsi) != 0; }

void http_peer(struct lws *wsi, char *out, size_t size)
{
    char tmp[64] = "";
    lws_get_peer_simple(wsi, tmp, sizeof tmp);
    /* an IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d */
    const char *p = strncmp(tmp, "::ffff:", 7) == 0 && strchr(tmp + 7, '.') ? tmp + 7 : tmp;
    snprintf(out, size, "%s", *p ? p : "?");
}

bool http_peer_trusted(struct lws *wsi)
{
    if (!http_cfg->http_trust_loopback)
        return false;
    char peer[64];
    http_peer(wsi, peer, sizeof peer);
    return strncmp(peer, "127.", 4) == 0 || strcmp(peer, "::1") == 0;
}

void http_request_host(struct lws *wsi, char *out, size_t size)
{
    char tmp[256] = "";
    out[0] = '\0';
    if (lws_hdr_copy(wsi, tmp, sizeof tmp, WSI_TOKEN_HOST) <= 0)
        return;
    /* strip the port ("[::1]:5280", "example.org:5280") and lower-case */
    char *end = tmp[0] == '[' ? strchr(tmp, ']') : strchr(tmp, ':');
    if (end)
        end[tmp[0] == '[' ? 1 : 0] = '\0';
    size_t i = 0;
    for (; tmp[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)tmp[i]);
    out[i] = '\0';
}

/* Headers every response carries: no MIME sniffing, no framing by other
 * sites, no referrer leaking URLs (upload URLs carry signatures). */
static const char *const common_headers[] = {
    "x-content-type-options:", "nosniff",
    "referrer-policy:", "no-referrer",
    "x-frame-options:", "DENY",
    NULL,
};

static int add_headers(struct lws *wsi, const char *const *h, unsigned char **p, unsigned char *end)
{
    for (; h && h[0]; h += 2)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)h[0],
                                        (const unsigned char *)h[1], (int)strlen(h[1]), p, end))
            return -1;
    return 0;
}

static int respond(struct lws *wsi, int status, const char *ctype, const char *const *extra,
                   const char *body, size_t len, bool complete)
{
    metrics_http_request(status);
    size_t hdr_room = 4096;
    unsigned char *buf = malloc(LWS_PRE + hdr_room + len);
    ALDIS_ASSERT(buf != NULL);
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + hdr_room;
    int rc = -1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, ctype, len, &p, end) ||
        add_headers(wsi, common_headers, &p, end) || add_headers(wsi, extra, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        goto out;
    /* HEAD: the headers of the GET, no body (RFC 9110 §9.3.2) */
    if (len && lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) == 0) {
        unsigned char *b = buf + LWS_PRE;
        memcpy(b, body, len);
        if (lws_write(wsi, b, len, LWS_WRITE_HTTP_FINAL) != (int)len)
            goto out;
    }
    rc = !complete ? 0 : lws_http_transaction_completed(wsi) ? -1 : 0;
out:
    free(buf);
    return rc;
}

int http_respond(struct lws *wsi, int status, const char *ctype, const char *const *extra,
                 const char *body, size_t len)
{
    return respond(wsi, status, ctype, extra, body, len, true);
}

int http_error_early(struct lws *wsi, int status, const char *text)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%d %s\n", status, text);
    static const char *const h[] = {"connection:", "close", NULL};
    return respond(wsi, status, "text/plain; charset=utf-8", h, body,
                   (size_t)n < sizeof body ? (size_t)n : sizeof body - 1, false);
}

int http_error(struct lws *wsi, int status, const char *text)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%d %s\n", status, text);
    return http_respond(wsi, status, "text/plain; charset=utf-8", NULL, body,
                        (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
}

/* lws 4.1 keeps request-body bytes it read but did not hand over yet (the
 * rest of a read that also held the headers, or TLS records already
 * decrypted) in its own buffers, with the socket's read interest off, and
 * relies on a "forced service" pass to drain them. On a foreign libuv
 * loop that pass does not come for these (observed: a 5 MB PUT stalls
 * until the timeout), so after every body callback we service the
 * connection once more from an idle callback, as if it were readable,
 * until lws hands over no more (a read that finds nothing is harmless). */
static void kick_run(uv_idle_t *h)
{
    uv_idle_stop(h);
    hw->kick_on = false;
    struct lws *batch[64];
    size_t n = 0;
    uint64_t k;
    void *v;
    for (size_t it = 0; n < 64 && map_inext(&hw->kick, &it, &k, &v);)
        batch[n++] = v;
    for (size_t i = 0; i < n; i++)
        map_idel(&hw->kick, (uint64_t)(uintptr_t)batch[i]);
    for (size_t i = 0; i < n; i++) {
        struct lws_pollfd pfd = {.fd = lws_get_socket_fd(batch[i]), .events = LWS_POLLIN,
                                 .revents = LWS_POLLIN};
        if (pfd.fd >= 0)
            lws_service_fd_tsi(hw->ctx, &pfd, 0);
    }
}

void http_rx_allow(struct lws *wsi)
{
    if (!hw || !hw->ctx)
        return;
    map_iput(&hw->kick, (uint64_t)(uintptr_t)wsi, wsi);
    if (!hw->kick_on) {
        hw->kick_on = true;
        uv_idle_start(&hw->kick_idle, kick_run);
    }
}

/* ---- connections per address ---- */

/* The peer address of an accepted socket, as http_peer writes it. */
static void fd_peer(int fd, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char tmp[INET6_ADDRSTRLEN] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, tmp, sizeof tmp);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, tmp, sizeof tmp);
    }
    const char *p = strncmp(tmp, "::ffff:", 7) == 0 && strchr(tmp + 7, '.') ? tmp + 7 : tmp;
    snprintf(out, size, "%s", p);
}

static bool conn_count_full(const char *peer)
{
    uintptr_t n = (uintptr_t)map_get(&hw->per_ip, peer);
    return n >= http_cfg->http_max_conns_per_ip;
}

static void conn_count_add(struct lws *wsi, const char *peer)
{
    uintptr_t n = (uintptr_t)map_get(&hw->per_ip, peer);
    map_put(&hw->per_ip, peer, (void *)(n + 1));
    char *copy = strdup(peer);
    ALDIS_ASSERT(copy != NULL);
    map_iput(&hw->wsi_ip, (uint64_t)(uintptr_t)wsi, copy);
}

static void conn_count_del(struct lws *wsi)
{
    char *peer = map_idel(&hw->wsi_ip, (uint64_t)(uintptr_t)wsi);
    if (!peer)
        return;
    uintptr_t n = (uintptr_t)map_get(&hw->per_ip, peer);
    if (n <= 1)
        map_del(&hw->per_ip, peer);
    else
        map_put(&hw->per_ip, peer, (void *)(n - 1));
    free(peer);
}

/* ---- routing ---- */

static enum http_method method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return HTTP_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
        return HTTP_HEAD;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return HTTP_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI))
        return HTTP_PUT;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI))
        return HTTP_OPTIONS;
    return HTTP_OTHER;
}

static enum route route_of(const char *path)
{
    if (strcmp(path, "/xmpp-websocket") == 0)
        return R_WEBSOCKET;
    if (strcmp(path, "/http-bind") == 0 || strcmp(path, "/http-bind/") == 0)
        return R_BOSH;
    if (strcmp(path, "/.well-known/host-meta") == 0)
        return R_HOST_META;
    if (strcmp(path, "/.well-known/host-meta.json") == 0)
        return R_HOST_META_JSON;
    if (strcmp(path, "/metrics") == 0)
        return R_METRICS;
    if (strncmp(path, UPLOAD_PATH_PREFIX, strlen(UPLOAD_PATH_PREFIX)) == 0)
        return R_UPLOAD;
    return R_STATIC;
}

static int on_http(struct lws *wsi, struct http_pss *pss, const char *path)
{
    /* keep-alive: the connection's state may hold the previous request's */
    if (pss->route == R_UPLOAD)
        http_upload_closed(pss);
    else if (pss->route == R_BOSH)
        http_bosh_closed(pss);
    buf_consume(&pss->body, pss->body.len);
    pss->body_too_big = false;
    pss->method = method_of(wsi);
    pss->route = route_of(path);
    bool head = pss->method == HTTP_HEAD;
    bool get = pss->method == HTTP_GET || head;
    if (pss->method == HTTP_OTHER)
        return http_error(wsi, 501, "Not Implemented");
    /* refuse a body announced too large before reading any of it (uploads
     * are bounded by their slot instead) */
    char cl[32] = "";
    if (pss->route != R_UPLOAD &&
        lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        strtoull(cl, NULL, 10) > http_cfg->http_max_body) {
        /* drop a moderately large body, then answer (closing with unread
         * input would reset the connection and lose the answer); close
         * after answering when it is absurdly large */
        if (strtoull(cl, NULL, 10) / 16 > http_cfg->http_max_body) {
            http_error(wsi, 413, "Content Too Large");
            return -1;
        }
        pss->body_too_big = true;
        http_rx_allow(wsi);
        return 0;
    }
    switch (pss->route) {
    case R_WEBSOCKET:
        /* RFC 7395 §3.2: only the upgrade is served here */
        return http_error(wsi, 426, "Upgrade Required: use a WebSocket with subprotocol xmpp");
    case R_BOSH:
        if (pss->method == HTTP_OPTIONS)
            return http_bosh_options(wsi);
        if (pss->method != HTTP_POST)
            return http_error(wsi, 405, "Method Not Allowed: POST a BOSH <body/>");
        http_rx_allow(wsi);
        return 0; /* the body follows (HTTP_BODY_COMPLETION) */
    case R_HOST_META:
    case R_HOST_META_JSON:
        if (!get)
            return http_error(wsi, 405, "Method Not Allowed");
        return http_host_meta(wsi, pss->route == R_HOST_META_JSON, head);
    case R_METRICS:
        if (!get)
            return http_error(wsi, 405, "Method Not Allowed");
        return http_metrics(wsi, head);
    case R_UPLOAD:
        return http_upload_begin(wsi, pss, path);
    default:
        if (!get)
            return http_error(wsi, 405, "Method Not Allowed");
        return http_static(wsi, path, head);
    }
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct http_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* the https vhost's SSL_CTX, during its creation (vhost_open) */
        if (hw)
            hw->https_ctx = user;
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (hw) {
            conn_count_del(wsi);
            map_idel(&hw->kick, (uint64_t)(uintptr_t)wsi);
        }
        return 0;
    case LWS_CALLBACK_HTTP: {
        char path[1024];
        if (!in || len >= sizeof path)
            return http_error(wsi, 414, "URI Too Long");
        memcpy(path, in, len);
        path[len] = '\0';
        return on_http(wsi, pss, path);
    }
    case LWS_CALLBACK_HTTP_BODY:
        http_rx_allow(wsi);
        if (pss->route == R_UPLOAD)
            return http_upload_body(wsi, pss, in, len);
        /* bodies are only accepted on routes that read them */
        if (pss->body.len + len > http_cfg->http_max_body) {
            pss->body_too_big = true;
            return 0;
        }
        buf_add(&pss->body, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (pss->route == R_UPLOAD)
            return http_upload_body_done(wsi, pss);
        if (pss->body_too_big)
            return http_error(wsi, 413, "Content Too Large");
        if (pss->route == R_BOSH)
            return http_bosh_request(wsi, pss);
        return http_error(wsi, 405, "Method Not Allowed");
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss && pss->route == R_UPLOAD)
            return http_upload_writeable(wsi, pss);
        if (pss && pss->route == R_BOSH)
            return http_bosh_writeable(wsi, pss);
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            buf_free(&pss->body);
            if (pss->route == R_UPLOAD)
                http_upload_closed(pss);
            else if (pss->route == R_BOSH)
                http_bosh_closed(pss);
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* a WebSocket upgrade that asked for no known subprotocol lands on
         * the first protocol: RFC 7395 §3.2 requires "xmpp" */
        return -1;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"http", http_callback, sizeof(struct http_pss), 0, 0, NULL, 0},
    {"xmpp", ws_callback, 0 /* set at start */, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};
static struct lws_protocols protocols_rt[3];

/* ---- lifecycle ---- */

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_warn("http", "libwebsockets: %.*s", (int)n, line);
    else
        log_debug("http", "libwebsockets: %.*s", (int)n, line);
}

void http_configure(const struct config *cfg)
{
    http_cfg = cfg;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    memcpy(protocols_rt, protocols, sizeof protocols);
    protocols_rt[1].per_session_data_size = ws_pss_size();
    /* rx_buffer_size 0: lws's default chunk; websocket.c joins the
     * fragments of a message up to limits.max_stanza_size */
    /* Slot URLs: mod_upload builds them from each upload service's own
     * domain and these ports (https first), which is right for every host;
     * a single base URL from here would name one host for all of them. */
}

static int vhost_open(const char *name, const struct listen_config *lc, bool tls, char *err,
                      size_t errlen)
{
    (void)lc;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.vhost_name = name;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* sockets come from net/listener.c */
    info.protocols = protocols_rt;
    info.keepalive_timeout = (int)http_cfg->http_timeout;
    info.timeout_secs = http_cfg->http_timeout;
    if (tls) {
        const struct host_config *h = http_cfg->nhosts ? &http_cfg->hosts[0] : NULL;
        if (!h || !h->certificate || !h->key) {
            log_warn("http", "https listener disabled: the first host has no certificate");
            return 0;
        }
        info.ssl_cert_filepath = h->certificate;
        info.ssl_private_key_filepath = h->key;
        info.alpn = "http/1.1"; /* WebSocket and BOSH over HTTP/1.1 only */
        info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    }
    hw->https_ctx = NULL;
    struct lws_vhost *vh = lws_create_vhost(hw->ctx, &info);
    /* SNI picks the host's certificate, as on the XMPP ports (RFC 6066 §3).
     * Installed once lws is done with the context: it sets its own
     * servername callback (for SNI-named vhosts, which we do not use). */
    if (vh && tls && hw->https_ctx)
        tls_sni_certificates(hw->https_ctx);
    else if (vh && tls)
        log_warn("http", "https: no SSL context seen; the first host's certificate serves all");
    hw->https_ctx = NULL;
    if (!vh) {
        snprintf(err, errlen, "cannot start the %s server%s", name,
                 tls ? " (check the first host's certificate and key)" : "");
        return ALDIS_EIO;
    }
    hw->vh[tls] = vh;
    return 0;
}

int http_worker_start(uv_loop_t *loop, char *err, size_t errlen)
{
    if (!http_cfg->http.port && !http_cfg->https.port)
        return 0;
    hw = calloc(1, sizeof *hw);
    ALDIS_ASSERT(hw != NULL);
    map_init(&hw->per_ip, 0);
    map_init(&hw->wsi_ip, 1);
    map_init(&hw->kick, 1);
    uv_idle_init(loop, &hw->kick_idle);
    hw->kick_idle.data = hw;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {loop};
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.max_http_header_data = (unsigned short)http_cfg->http_max_header_size;
    info.timeout_secs = http_cfg->http_timeout;
    info.server_string = "aldis";
    /* lws's one-time library and OpenSSL setup is not thread-safe: the
     * workers create their contexts one at a time */
    static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&create_lock);
    int rc = 0;
    hw->ctx = lws_create_context(&info);
    if (!hw->ctx) {
        snprintf(err, errlen, "cannot start the HTTP server (libwebsockets with libuv)");
        rc = ALDIS_EIO;
    }
    if (rc == 0 && http_cfg->http.port)
        rc = vhost_open("http", &http_cfg->http, false, err, errlen);
    if (rc == 0 && http_cfg->https.port)
        rc = vhost_open("https", &http_cfg->https, true, err, errlen);
    pthread_mutex_unlock(&create_lock);
    return rc;
}

void http_accept_fd(int fd, enum listener_kind kind)
{
    struct lws_vhost *vh = hw ? hw->vh[kind == LISTEN_HTTPS] : NULL;
    char peer[64];
    fd_peer(fd, peer, sizeof peer);
    if (!vh || conn_count_full(peer)) {
        if (vh)
            log_info("http", "%s: too many HTTP connections from this address", peer);
        close(fd);
        return;
    }
    /* XMPP over WebSocket/BOSH is small request/answer traffic: Nagle
     * would hold each answer until the previous one's ACK (40 ms per
     * round of a login), as on the XMPP ports (net/listener.c) */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* lws closes the socket itself when it cannot adopt it */
    struct lws *wsi = lws_adopt_socket_vhost(vh, fd);
    if (!wsi)
        log_debug("http", "%s: a connection could not be adopted", peer);
    else
        conn_count_add(wsi, peer);
}

static void kick_closed(uv_handle_t *h)
{
    free(h->data);
}

void http_worker_cleanup(int worker)
{
    if (worker < 0 || worker >= HTTP_MAX_WORKERS || !closing_ctx[worker])
        return;
    /* let lws's handle closes finish (a connection closing at shutdown
     * takes a few turns); the worker's thread has stopped, so its loop is
     * ours to turn here */
    uv_loop_t *loop = worker_loop(worker_get(worker));
    for (int i = 0; i < 16; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    lws_context_destroy(closing_ctx[worker]);
    closing_ctx[worker] = NULL;
}

void http_worker_stop(void)
{
    if (!hw)
        return;
    /* with a foreign loop the context finishes closing its handles while
     * the worker's loop keeps running (the shutdown drain) */
    http_bosh_worker_stop();
    if (hw->ctx) {
        lws_context_destroy(hw->ctx);
        int id = worker_id(worker_current());
        if (id >= 0 && id < HTTP_MAX_WORKERS)
            closing_ctx[id] = hw->ctx;
    }
    hw->ctx = NULL;
    uint64_t k;
    void *v;
    for (size_t it = 0; map_inext(&hw->wsi_ip, &it, &k, &v);)
        free(v);
    map_free(&hw->wsi_ip);
    map_free(&hw->per_ip);
    map_free(&hw->kick);
    uv_idle_stop(&hw->kick_idle);
    uv_close((uv_handle_t *)&hw->kick_idle, kick_closed);
    hw = NULL;
}

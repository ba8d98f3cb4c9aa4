/* http_internal.h - what the files of src/http/ share: the per-worker
 * state, the response helpers and each route's entry points. */
#ifndef ALDIS_HTTP_INTERNAL_H
#define ALDIS_HTTP_INTERNAL_H
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "aldis/buf.h"
#include "aldis/config.h"

extern const struct config *http_cfg;

/* What a plain-HTTP request may do: the method and where it goes. */
enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_OPTIONS, HTTP_OTHER };

/* Per-connection state of the "http" protocol (lws allocates it zeroed). */
struct http_pss {
    enum http_method method;
    int route;          /* enum in http.c */
    bool body_too_big;
    struct buf body;    /* request body (BOSH) */
    void *route_state;  /* owned by the route (bosh request, upload) */
};

/* Write a whole response now (status line, headers, body) and finish the
 * transaction. extra: NULL-terminated name/value pairs (names end with
 * ':'). Returns what the lws callback must return (-1 = close). */
int http_respond(struct lws *wsi, int status, const char *ctype, const char *const *extra,
                 const char *body, size_t len);
/* Let lws deliver the rest of a request body (see http.c). */
void http_rx_allow(struct lws *wsi);
/* A short plain-text error. */
int http_error(struct lws *wsi, int status, const char *text);
/* The same, sent before the request body was read (RFC 9110 §15.5: a
 * client may stop sending on an early answer); the connection closes
 * once what body still comes has been read and dropped. */
int http_error_early(struct lws *wsi, int status, const char *text);
/* The request's Host header without the port, lower-cased; "" if none. */
void http_request_host(struct lws *wsi, char *out, size_t size);
/* Is the connection over TLS; the peer's address. */
bool http_is_tls(struct lws *wsi);
void http_peer(struct lws *wsi, char *out, size_t size);
/* Plain HTTP from a peer counted as encrypted (config trust_loopback). */
bool http_peer_trusted(struct lws *wsi);

/* ---- routes ---- */
int http_host_meta(struct lws *wsi, bool json, bool head);
int http_static(struct lws *wsi, const char *path, bool head);
int http_metrics(struct lws *wsi, bool head);

/* XEP-0363 transfers (upload.c); route_state is theirs. */
int http_upload_begin(struct lws *wsi, struct http_pss *pss, const char *path);
int http_upload_body(struct lws *wsi, struct http_pss *pss, const void *data, size_t len);
int http_upload_body_done(struct lws *wsi, struct http_pss *pss);
int http_upload_writeable(struct lws *wsi, struct http_pss *pss);
void http_upload_closed(struct http_pss *pss);

/* BOSH (bosh.c); route_state is theirs. */
int http_bosh_options(struct lws *wsi);
int http_bosh_request(struct lws *wsi, struct http_pss *pss);
int http_bosh_writeable(struct lws *wsi, struct http_pss *pss);
void http_bosh_closed(struct http_pss *pss);
void http_bosh_worker_stop(void);

/* WebSocket (websocket.c): the "xmpp" protocol's callback. */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);
struct ws_pss;
size_t ws_pss_size(void);


#endif

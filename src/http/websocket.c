/* websocket.c - XMPP over WebSocket (RFC 7395) at /xmpp-websocket: the
 * "xmpp" subprotocol of the lws context. Each connection carries one c2s
 * stream (stream/c2s.c does SASL, binding, stream management...); this file
 * only frames it: the client's <open/> becomes the stream header, every
 * other text message is fed to the stream's parser, and every element the
 * stream sends is one text message, queued until lws says the socket is
 * writable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/xml.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "http/metrics.h"
#include "stream/c2s.h"

#define WS_WRITES_PER_ROUND 64 /* messages written per writable callback, at most */
#define NS_FRAMING "urn:ietf:params:xml:ns:xmpp-framing"
/* output a slow reader may leave queued before we drop it */
#define WS_MAX_QUEUED (4u * 1024 * 1024)

struct ws_msg {
    struct ws_msg *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes, then the message */
};

struct ws_pss {
    struct lws *wsi;
    struct c2s *c;
    struct buf in;          /* a message arriving in fragments */
    struct ws_msg *head, *tail;
    size_t queued;
    bool closing;           /* send what is queued, then <close/> went, then close */
    bool too_big;
};

size_t ws_pss_size(void) { return sizeof(struct ws_pss); }

static void ws_queue(struct ws_pss *p, const char *data, size_t len)
{
    if (p->closing && p->c == NULL)
        return;
    if (p->queued + len > WS_MAX_QUEUED) {
        log_info("http", "websocket: the client does not read; closing");
        p->closing = true;
        lws_set_timeout(p->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    struct ws_msg *m = malloc(sizeof *m + LWS_PRE + len);
    ALDIS_ASSERT(m != NULL);
    m->next = NULL;
    m->len = len;
    memcpy(m->data + LWS_PRE, data, len);
    if (p->tail)
        p->tail->next = m;
    else
        p->head = m;
    p->tail = m;
    p->queued += len;
    lws_callback_on_writable(p->wsi);
}

/* ---- the c2s transport ---- */

static void tr_header(void *ud, const char *stream_id, const char *from, const char *lang)
{
    /* RFC 7395 §3.3.2 */
    struct buf b;
    buf_init(&b);
    buf_adds(&b, "<open xmlns='" NS_FRAMING "' id='");
    buf_adds(&b, stream_id);
    buf_adds(&b, "'");
    if (from) {
        buf_adds(&b, " from='");
        buf_add_xml_escaped(&b, from, strlen(from), 1);
        buf_adds(&b, "'");
    }
    buf_adds(&b, " version='1.0' xml:lang='");
    buf_add_xml_escaped(&b, lang, strlen(lang), 1);
    buf_adds(&b, "'/>");
    ws_queue(ud, b.data, b.len);
    buf_free(&b);
}

static void tr_send(void *ud, const char *data, size_t len) { ws_queue(ud, data, len); }

static void tr_close(void *ud)
{
    struct ws_pss *p = ud;
    if (p->closing)
        return;
    static const char close_el[] = "<close xmlns='" NS_FRAMING "'/>"; /* RFC 7395 §3.6 */
    ws_queue(p, close_el, sizeof close_el - 1);
    p->closing = true;
}

static const struct c2s_transport ws_transport = {"websocket", tr_header, tr_send, tr_close};

/* ---- framing ---- */

static void ws_fail(struct ws_pss *p, const char *condition, const char *text)
{
    /* errors in the framing are stream errors too (RFC 7395 §3.3.4) */
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><%s xmlns="
                   "'urn:ietf:params:xml:ns:xmpp-streams'/>", condition);
    if (text) {
        buf_adds(&b, "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>");
        buf_add_xml_escaped(&b, text, strlen(text), 0);
        buf_adds(&b, "</text>");
    }
    buf_adds(&b, "</stream:error>");
    ws_queue(p, b.data, b.len);
    buf_free(&b);
    if (p->c)
        c2s_transport_end(p->c);
    else
        tr_close(p);
}

static void ws_message(struct ws_pss *p, const char *data, size_t len)
{
    size_t off;
    enum ws_kind kind = http_ws_kind(data, len, &off);
    data += off;
    len -= off;
    if (kind == WS_EMPTY)
        return; /* whitespace keepalive */
    if (kind == WS_OPEN || kind == WS_CLOSE) {
        struct stanza *st = stanza_parse(data, len);
        if (!st || strcmp(st->root->ns ? st->root->ns : "", NS_FRAMING) != 0) {
            stanza_unref(st);
            ws_fail(p, "invalid-namespace", "<open/> and <close/> are in " NS_FRAMING);
            return;
        }
        if (strcmp(st->root->name, "close") == 0) {
            c2s_transport_end(p->c);
        } else {
            const char *to = xml_attr(st->root, "to"), *version = xml_attr(st->root, "version");
            const char *lang = xml_attr_ns(st->root, NS_XML, "lang");
            c2s_transport_open(p->c, to, version ? version : "1.0", lang);
        }
        stanza_unref(st);
        return;
    }
    c2s_transport_input(p->c, data, len);
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct ws_pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64] = "";
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
            strcmp(uri, "/xmpp-websocket") != 0)
            return -1;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        char peer[64];
        http_peer(wsi, peer, sizeof peer);
        p->wsi = wsi;
        buf_init(&p->in);
        SSL *ssl = http_is_tls(wsi) ? lws_get_ssl(wsi) : NULL;
        p->c = c2s_transport_new(&ws_transport, p, peer, ssl != NULL, ssl,
                                 !ssl && http_peer_trusted(wsi));
        return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
        if (!p->c || p->closing)
            return 0;
        if (lws_frame_is_binary(wsi)) {
            /* RFC 7395 §3.2: text frames only */
            lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, NULL, 0);
            return -1;
        }
        if (p->too_big || p->in.len + len > http_cfg->max_stanza_size) {
            p->too_big = true;
        } else {
            buf_add(&p->in, in, len);
        }
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
            return 0;
        if (p->too_big) {
            p->too_big = false;
            buf_consume(&p->in, p->in.len);
            ws_fail(p, "policy-violation", "message too large");
            return 0;
        }
        ws_message(p, p->in.data, p->in.len);
        buf_consume(&p->in, p->in.len);
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        struct ws_msg *m = p->head;
        if (!m) {
            if (p->closing) {
                lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
                return -1;
            }
            return 0;
        }
        /* As many queued messages as the socket takes now (bounded, so
         * one busy connection does not hold the worker): one writable
         * round per stanza would cost a poll change and a wakeup each. */
        for (int sent = 0; m && sent < WS_WRITES_PER_ROUND; sent++, m = p->head) {
            p->head = m->next;
            if (!p->head)
                p->tail = NULL;
            p->queued -= m->len;
            int n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
            free(m);
            if (n < 0)
                return -1;
            if (lws_send_pipe_choked(wsi))
                break;
        }
        if (p->head || p->closing)
            lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLOSED: {
        for (struct ws_msg *m = p->head, *next; m; m = next) {
            next = m->next;
            free(m);
        }
        p->head = p->tail = NULL;
        buf_free(&p->in);
        if (p->c) {
            struct c2s *c = p->c;
            p->c = NULL;
            p->closing = true;
            c2s_transport_gone(c);
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* aldis-bench: one XMPP client connection — non-blocking TCP, STARTTLS with
 * OpenSSL directly on the socket, expat for the stream, SCRAM, resource
 * binding and initial presence (RFC 6120 §5, §6, §7; RFC 6121 §4.2), plus
 * XEP-0077 in-band registration to create the benchmark accounts and the
 * XEP-0045 steps of the muc scenario (entering a room, accepting the default
 * configuration of a new one, groupchat messages). The same state machine
 * runs over WebSocket (RFC 7395) for the ws* scenarios: ws.c carries the
 * messages, and the few differences (the <open/>/<close/> framing, no
 * STARTTLS) are marked `ws` below. */
#include "bench.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_FRAMING "urn:ietf:params:xml:ns:xmpp-framing"

/* ws: every WebSocket message is one complete XML element with its own
 * namespace declarations (RFC 7395 §3.3.3), so the messages concatenated are
 * not a document. Fed to expat inside this start tag, they are the children
 * of a root that stands for the stream, at the depth the TCP stream's
 * elements have: the same handlers serve both transports. */
#define WS_ROOT "<ws>"

static const char *local_name(const char *name)
{
    const char *colon = strrchr(name, ':');
    return colon ? colon + 1 : name;
}

static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Escape for an attribute value in single quotes. */
static void xml_escape(char *dst, size_t size, const char *src)
{
    size_t o = 0;
    for (; *src && o + 7 < size; src++) {
        const char *rep = NULL;
        switch (*src) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\'': rep = "&apos;"; break;
        case '"': rep = "&quot;"; break;
        default: break;
        }
        if (rep) {
            size_t l = strlen(rep);
            memcpy(dst + o, rep, l);
            o += l;
        } else {
            dst[o++] = *src;
        }
    }
    dst[o] = '\0';
}

static void conn_epoll_update(struct conn *c, int op)
{
    struct epoll_event ev = {0};
    ev.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0);
    ev.data.u64 = ((uint64_t)c->gen << 32) | (uint32_t)c->slot;
    epoll_ctl(c->w->epfd, op, c->fd, &ev);
}

static void conn_want_out(struct conn *c, int on)
{
    if (c->want_out == on || c->fd < 0)
        return;
    c->want_out = on;
    conn_epoll_update(c, EPOLL_CTL_MOD);
}

/* ---- XML stream (expat, no namespace processing: prefixes are stripped
 * and the few elements we act on are told apart by name and depth). */

static void xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct conn *c = ud;
    const char *ln = local_name(name);
    c->depth++;
    if (c->depth == 2) {
        copy_str(c->top, sizeof c->top, ln);
        c->top_type[0] = c->top_id[0] = c->top_from[0] = '\0';
        c->feat_starttls = c->feat_bind = c->feat_session_required = c->feat_register = 0;
        c->mech_sha1 = c->mech_sha256 = 0;
        c->has_body = c->has_error = c->in_session = 0;
        c->st110 = c->st201 = 0;
        c->text_len = 0;
        c->text[0] = '\0';
        for (int i = 0; attrs[i]; i += 2) {
            if (!strcmp(attrs[i], "type"))
                copy_str(c->top_type, sizeof c->top_type, attrs[i + 1]);
            else if (!strcmp(attrs[i], "id"))
                copy_str(c->top_id, sizeof c->top_id, attrs[i + 1]);
            else if (!strcmp(attrs[i], "from"))
                copy_str(c->top_from, sizeof c->top_from, attrs[i + 1]);
        }
        /* SASL payloads are the character data of the element itself. */
        c->capture = !strcmp(ln, "challenge") || !strcmp(ln, "success");
    } else if (c->depth == 3) {
        if (!strcmp(c->top, "features")) {
            if (!strcmp(ln, "starttls"))
                c->feat_starttls = 1;
            else if (!strcmp(ln, "bind"))
                c->feat_bind = 1;
            else if (!strcmp(ln, "session")) {
                /* RFC 6121 dropped sessions; servers that still advertise
                 * one mark it <optional/> (draft-cridland-xmpp-session). */
                c->feat_session_required = 1;
                c->in_session = 1;
            } else if (!strcmp(ln, "register"))
                c->feat_register = 1;
        } else if (!strcmp(c->top, "message") && !strcmp(ln, "body")) {
            c->has_body = 1;
            c->capture = 1;
            c->text_len = 0;
        } else if (!strcmp(ln, "error")) {
            c->has_error = 1;
        }
    } else if (c->depth == 4) {
        if (!strcmp(c->top, "presence") && !strcmp(ln, "status")) {
            /* <x xmlns='…muc#user'><status code='110'/> (XEP-0045 §7.2.3):
             * this presence is our own; 201: we created the room (§10.1.1). */
            for (int i = 0; attrs[i]; i += 2) {
                if (strcmp(attrs[i], "code"))
                    continue;
                if (!strcmp(attrs[i + 1], "110"))
                    c->st110 = 1;
                else if (!strcmp(attrs[i + 1], "201"))
                    c->st201 = 1;
            }
        } else if (!strcmp(c->top, "features") && !strcmp(ln, "mechanism")) {
            c->capture = 1;
            c->text_len = 0;
        } else if (!strcmp(c->top, "features") && c->in_session && !strcmp(ln, "optional")) {
            c->feat_session_required = 0;
        } else if (!strcmp(c->top, "iq") && !strcmp(ln, "jid")) {
            c->capture = 1;
            c->text_len = 0;
        } else if (!strcmp(c->top, "error") || !strcmp(c->top, "failure")) {
            /* stream error / SASL failure condition, for diagnostics */
            copy_str(c->text, sizeof c->text, ln);
            c->text_len = strlen(c->text);
        } else if (c->has_error && c->text_len == 0) {
            copy_str(c->text, sizeof c->text, ln);
            c->text_len = strlen(c->text);
        }
    }
}

static void xml_chars(void *ud, const XML_Char *s, int len)
{
    struct conn *c = ud;
    if (!c->capture || len <= 0)
        return;
    size_t n = (size_t)len;
    if (c->text_len + n >= sizeof c->text)
        n = sizeof c->text - 1 - c->text_len;
    memcpy(c->text + c->text_len, s, n);
    c->text_len += n;
    c->text[c->text_len] = '\0';
}

static void conn_on_stanza(struct conn *c);

static void xml_end(void *ud, const XML_Char *name)
{
    struct conn *c = ud;
    const char *ln = local_name(name);
    if (c->depth == 4 && c->capture) {
        c->capture = 0;
        if (!strcmp(ln, "mechanism")) {
            if (!strcmp(c->text, "SCRAM-SHA-256"))
                c->mech_sha256 = 1;
            else if (!strcmp(c->text, "SCRAM-SHA-1"))
                c->mech_sha1 = 1;
            c->text_len = 0;
        } else if (!strcmp(ln, "jid")) {
            copy_str(c->jid, sizeof c->jid, c->text);
        }
    } else if (c->depth == 3) {
        if (!strcmp(ln, "session"))
            c->in_session = 0;
        if (!strcmp(ln, "body"))
            c->capture = 0;
    } else if (c->depth == 2) {
        c->capture = 0;
        c->depth--;
        conn_on_stanza(c);
        return;
    } else if (c->depth == 1) {
        c->depth--;
        conn_fail(c, "server closed the stream");
        return;
    }
    c->depth--;
}

static int conn_parser_init(struct conn *c)
{
    if (c->parser)
        XML_ParserReset(c->parser, NULL);
    else
        c->parser = XML_ParserCreate(NULL);
    if (!c->parser)
        return -1;
    XML_SetUserData(c->parser, c);
    XML_SetElementHandler(c->parser, xml_start, xml_end);
    XML_SetCharacterDataHandler(c->parser, xml_chars);
    c->depth = 0;
    c->capture = 0;
    if (c->w->opts->ws &&
        XML_Parse(c->parser, WS_ROOT, (int)strlen(WS_ROOT), XML_FALSE) != XML_STATUS_OK)
        return -1;
    return 0;
}

/* ---- output */

int conn_reserve(struct conn *c, size_t need)
{
    if (need <= c->out_cap)
        return 0;
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < need)
        cap *= 2;
    char *p = realloc(c->out, cap);
    if (!p) {
        conn_fail(c, "out of memory");
        return -1;
    }
    c->out = p;
    c->out_cap = cap;
    return 0;
}

void conn_queue(struct conn *c, const char *data, size_t len)
{
    if (c->w->opts->ws) {
        ws_conn_queue(c, data, len); /* one call, one element, one message */
        return;
    }
    if (conn_reserve(c, c->out_len + len) < 0)
        return;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

static void conn_queue_str(struct conn *c, const char *s)
{
    conn_queue(c, s, strlen(s));
}

void conn_flush(struct conn *c)
{
    if (c->w->opts->ws) {
        ws_conn_flush(c);
        return;
    }
    if (c->fd < 0)
        return;
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, c->out + off, (int)(c->out_len - off));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    break;
                conn_fail(c, "TLS write failed");
                return;
            }
            n = r;
        } else {
            n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                conn_fail(c, "write failed");
                return;
            }
        }
        off += (size_t)n;
    }
    if (off > 0) {
        memmove(c->out, c->out + off, c->out_len - off);
        c->out_len -= off;
    }
    conn_want_out(c, c->out_len > 0);
}

static void conn_send(struct conn *c, const char *s)
{
    conn_queue_str(c, s);
    conn_flush(c);
}

static void conn_send_stream_header(struct conn *c)
{
    char hdr[512];
    if (c->w->opts->ws) {
        /* RFC 7395 §3.4: <open/> in the framing namespace opens the
         * stream, and opens it again after SASL success (§3.7). */
        snprintf(hdr, sizeof hdr, "<open xmlns='" NS_FRAMING "' to='%s' version='1.0'/>",
                 c->w->opts->domain);
        conn_send(c, hdr);
        return;
    }
    snprintf(hdr, sizeof hdr,
             "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
             c->w->opts->domain);
    conn_send(c, hdr);
}

/* ---- lifecycle */

/* Release the socket, TLS and parser state; the slot stays for reuse. */
void conn_reset(struct conn *c)
{
    /* Closed from inside an expat callback: stop the parse so no handler
     * runs for the rest of the buffer (the parser is reset on restart). */
    if (c->parsing)
        XML_StopParser(c->parser, XML_FALSE);
    if (c->w->opts->ws)
        ws_conn_release(c); /* before c->closing is cleared: it says how */
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->gen++;
    c->state = CS_FREE;
    c->out_len = 0;
    c->want_out = 0;
    c->restart = 0;
    c->closing = 0;
    c->jid[0] = '\0';
}

void conn_fail(struct conn *c, const char *why)
{
    if (c->state == CS_FREE)
        return;
    if (!c->closing) {
        /* Back off before the slot reconnects, so a server that refuses
         * or drops connections is not hammered in a tight loop. */
        c->failures++;
        c->retry_at = bench_now() + (c->failures < 20 ? 0.05 * c->failures : 1.0);
        atomic_fetch_add(&c->w->errors, 1);
        snprintf(c->w->last_error, sizeof c->w->last_error, "user %d, state %d: %s%s%.60s", c->user,
                 (int)c->state, why, c->text_len ? " — " : "", c->text_len ? c->text : "");
        if (c->w->opts->verbose)
            fprintf(stderr, "aldis-bench: %s\n", c->w->last_error);
    }
    conn_reset(c);
    bench_on_closed(c);
}

/* Polite close: end the stream (RFC 6120 §4.4) and drop the connection
 * without waiting for the server's reply. */
static void conn_close(struct conn *c)
{
    c->closing = 1;
    /* ws: RFC 7395 §3.6; ws_conn_release writes it before letting go. */
    conn_send(c, c->w->opts->ws ? "<close xmlns='" NS_FRAMING "'/>" : "</stream:stream>");
    if (c->ssl)
        SSL_shutdown(c->ssl);
    conn_reset(c);
    bench_on_closed(c);
}

int conn_start(struct conn *c)
{
    const struct bench_opts *o = c->w->opts;
    struct addrinfo hints = {0}, *res = NULL;
    char port[16];

    conn_reset(c);
    if (o->ws)
        return ws_conn_start(c);
    snprintf(port, sizeof port, "%d", o->port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(o->host, port, &hints, &res) != 0 || !res) {
        snprintf(c->w->last_error, sizeof c->w->last_error, "cannot resolve %s", o->host);
        atomic_fetch_add(&c->w->errors, 1);
        return -1;
    }
    c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        freeaddrinfo(res);
        snprintf(c->w->last_error, sizeof c->w->last_error, "socket: %s", strerror(errno));
        atomic_fetch_add(&c->w->errors, 1);
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(c->fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (r < 0 && errno != EINPROGRESS) {
        snprintf(c->w->last_error, sizeof c->w->last_error, "connect: %s", strerror(errno));
        atomic_fetch_add(&c->w->errors, 1);
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    if (conn_parser_init(c) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->state = CS_CONNECTING;
    c->want_out = 1; /* writable = connected */
    conn_epoll_update(c, EPOLL_CTL_ADD);
    return 0;
}

static void conn_tls_handshake(struct conn *c)
{
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        if (conn_parser_init(c) < 0) {
            conn_fail(c, "parser");
            return;
        }
        c->state = CS_WAIT_FEATURES_SASL;
        conn_want_out(c, 0);
        conn_send_stream_header(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        conn_want_out(c, 0);
    else if (e == SSL_ERROR_WANT_WRITE)
        conn_want_out(c, 1);
    else
        conn_fail(c, "TLS handshake failed");
}

static void conn_start_tls(struct conn *c)
{
    c->ssl = SSL_new(c->w->ssl_ctx);
    if (!c->ssl) {
        conn_fail(c, "SSL_new");
        return;
    }
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, c->w->opts->domain);
    c->state = CS_TLS_HANDSHAKE;
    conn_tls_handshake(c);
}

static void conn_send_auth(struct conn *c)
{
    char b64[300], buf[512];
    int sha256 = c->mech_sha256;
    if (!sha256 && !c->mech_sha1) {
        conn_fail(c, "server offers neither SCRAM-SHA-256 nor SCRAM-SHA-1");
        return;
    }
    if (scram_client_first(c, sha256, b64, sizeof b64) < 0) {
        conn_fail(c, "SCRAM client-first");
        return;
    }
    const char *mech = sha256 ? "SCRAM-SHA-256" : "SCRAM-SHA-1";
    copy_str(c->w->mechanism, sizeof c->w->mechanism, mech);
    snprintf(buf, sizeof buf, "<auth xmlns='" NS_SASL "' mechanism='%s'>%s</auth>", mech, b64);
    c->state = CS_WAIT_CHALLENGE;
    conn_send(c, buf);
}

static void conn_send_register(struct conn *c)
{
    char buf[512];
    char user[96], pw[96];
    snprintf(user, sizeof user, "%s%d", c->w->opts->user_prefix, c->user);
    xml_escape(pw, sizeof pw, c->w->opts->password ? c->w->opts->password : user);
    snprintf(buf, sizeof buf,
             "<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>"
             "<username>%s</username><password>%s</password></query></iq>",
             user, pw);
    c->state = CS_WAIT_REGISTER;
    conn_send(c, buf);
}

/* Answer IQ requests the server sends us (e.g. XMPP ping) with an error, as
 * a client without those features must (RFC 6120 §8.2.3). */
static void conn_answer_iq(struct conn *c)
{
    char id[140], to[CONN_JID_MAX * 2], buf[1024];
    xml_escape(id, sizeof id, c->top_id);
    xml_escape(to, sizeof to, c->top_from);
    snprintf(buf, sizeof buf,
             "<iq type='error' id='%s'%s%s%s><error type='cancel'><service-unavailable "
             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
             id, to[0] ? " to='" : "", to, to[0] ? "'" : "");
    conn_send(c, buf);
}

/* Dispatch one complete top-level element according to the state. */
static void conn_on_stanza(struct conn *c)
{
    const char *top = c->top;
    char b64[512], buf[800];

    if (!strcmp(top, "error")) {
        conn_fail(c, "stream error");
        return;
    }
    if (c->w->opts->ws && !strcmp(top, "close")) {
        conn_fail(c, "server closed the stream"); /* RFC 7395 §3.6 */
        return;
    }
    switch (c->state) {
    case CS_WAIT_FEATURES_TLS:
        if (strcmp(top, "features"))
            break;
        if (!c->feat_starttls) {
            conn_fail(c, "server does not offer STARTTLS");
            return;
        }
        c->state = CS_WAIT_PROCEED;
        conn_send(c, "<starttls xmlns='" NS_TLS "'/>");
        return;
    case CS_WAIT_PROCEED:
        if (strcmp(top, "proceed")) {
            conn_fail(c, "STARTTLS refused");
            return;
        }
        /* RFC 6120 §5.4.3.3: TLS starts right after <proceed/>; the XML
         * stream is restarted over TLS. */
        c->restart = 1;
        XML_StopParser(c->parser, XML_FALSE);
        return;
    case CS_WAIT_FEATURES_SASL:
        if (strcmp(top, "features"))
            break;
        if (c->w->opts->scenario == SCEN_REGISTER)
            conn_send_register(c);
        else
            conn_send_auth(c);
        return;
    case CS_WAIT_CHALLENGE:
        if (strcmp(top, "challenge")) {
            conn_fail(c, "SASL failure");
            return;
        }
        if (scram_client_final(c, c->text, b64, sizeof b64) < 0) {
            conn_fail(c, "bad SCRAM server-first-message");
            return;
        }
        snprintf(buf, sizeof buf, "<response xmlns='" NS_SASL "'>%s</response>", b64);
        c->state = CS_WAIT_SUCCESS;
        conn_send(c, buf);
        return;
    case CS_WAIT_SUCCESS:
        if (!strcmp(top, "challenge")) {
            /* Older servers send server-final in a challenge and the
             * success empty (RFC 6120 §6.3.10 allows both). */
            if (scram_verify_final(c, c->text) < 0) {
                conn_fail(c, "server signature mismatch");
                return;
            }
            c->scram.hash_len = 0;
            conn_send(c, "<response xmlns='" NS_SASL "'/>");
            return;
        }
        if (strcmp(top, "success")) {
            conn_fail(c, "SASL authentication failed");
            return;
        }
        if (c->scram.hash_len && scram_verify_final(c, c->text) < 0) {
            conn_fail(c, "server signature mismatch");
            return;
        }
        c->restart = 1;
        XML_StopParser(c->parser, XML_FALSE);
        return;
    case CS_WAIT_FEATURES_BIND:
        if (strcmp(top, "features"))
            break;
        if (!c->feat_bind) {
            conn_fail(c, "server does not offer resource binding");
            return;
        }
        c->state = CS_WAIT_BIND;
        /* Let the server pick the resource (RFC 6120 §7.6.1): every login
         * gets a fresh one, so no conflict with a session still closing. */
        conn_send(c, "<iq type='set' id='bind1'><bind xmlns='" NS_BIND "'/></iq>");
        return;
    case CS_WAIT_BIND:
        if (strcmp(top, "iq") || strcmp(c->top_id, "bind1"))
            break;
        if (strcmp(c->top_type, "result") || !c->jid[0]) {
            conn_fail(c, "resource binding failed");
            return;
        }
        if (c->feat_session_required) {
            c->state = CS_WAIT_SESSION;
            conn_send(c, "<iq type='set' id='sess1'><session "
                         "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
            return;
        }
        goto bound;
    case CS_WAIT_SESSION:
        if (strcmp(top, "iq") || strcmp(c->top_id, "sess1"))
            break;
        if (strcmp(c->top_type, "result")) {
            conn_fail(c, "session establishment failed");
            return;
        }
        goto bound;
    case CS_WAIT_REGISTER:
        if (strcmp(top, "iq") || strcmp(c->top_id, "reg1"))
            break;
        if (!strcmp(c->top_type, "result"))
            bench_on_register(c, 1, 0);
        else
            bench_on_register(c, 0, !strcmp(c->text, "conflict"));
        conn_close(c);
        return;
    case CS_READY:
        if (!strcmp(top, "message")) {
            if (!strcmp(c->top_type, "error"))
                bench_on_message_error(c);
            else if (c->has_body && !c->has_error)
                bench_on_message(c, c->text);
            return;
        }
        if (!strcmp(top, "presence")) {
            bench_on_presence(c);
            return;
        }
        if (!strcmp(top, "iq") && (!strcmp(c->top_type, "get") || !strcmp(c->top_type, "set")))
            conn_answer_iq(c);
        else if (!strcmp(top, "iq") && !strcmp(c->top_id, "cfg1"))
            bench_on_iq_result(c, !strcmp(c->top_type, "result"));
        return;
    default:
        break;
    }
    if (!strcmp(top, "iq") && (!strcmp(c->top_type, "get") || !strcmp(c->top_type, "set")))
        conn_answer_iq(c);
    return;

bound:
    c->failures = 0;
    if (c->w->opts->scenario == SCEN_LOGIN) {
        atomic_fetch_add(&c->w->logins, 1);
        conn_close(c);
        return;
    }
    /* Initial presence (RFC 6121 §4.2) makes the session available, so it
     * is a real chat session and not just an authenticated stream. */
    c->state = CS_READY;
    conn_send(c, "<presence/>");
    bench_on_ready(c);
}

/* Feed received bytes to expat; handles the stream restarts. */
void conn_receive(struct conn *c, const char *data, size_t len)
{
    uint32_t gen = c->gen;
    c->parsing = 1;
    enum XML_Status st = XML_Parse(c->parser, data, (int)len, XML_FALSE);
    c->parsing = 0;
    if (st == XML_STATUS_ERROR) {
        if (c->gen != gen)
            return; /* the connection was closed from a handler */
        if (!c->restart) {
            snprintf(c->text, sizeof c->text, "%s", XML_ErrorString(XML_GetErrorCode(c->parser)));
            c->text_len = strlen(c->text);
            conn_fail(c, "XML error");
            return;
        }
    }
    if (c->gen != gen || !c->restart)
        return;
    c->restart = 0;
    if (conn_parser_init(c) < 0) {
        conn_fail(c, "parser");
        return;
    }
    if (c->state == CS_WAIT_PROCEED) {
        conn_start_tls(c);
    } else {
        c->state = CS_WAIT_FEATURES_BIND;
        conn_send_stream_header(c);
    }
}

/* ws: no STARTTLS (RFC 7395 §3.9: TLS is the WebSocket's, wss://); the
 * stream starts at the SASL features. */
void conn_ws_established(struct conn *c)
{
    if (conn_parser_init(c) < 0) {
        conn_fail(c, "parser");
        return;
    }
    c->state = CS_WAIT_FEATURES_SASL;
    conn_send_stream_header(c);
}

static void conn_read(struct conn *c)
{
    char buf[16384];
    uint32_t gen = c->gen;
    for (int rounds = 0; rounds < 64 && c->gen == gen && c->fd >= 0; rounds++) {
        if (c->ssl) {
            if (c->state == CS_TLS_HANDSHAKE) {
                conn_tls_handshake(c);
                return;
            }
            ERR_clear_error();
            int r = SSL_read(c->ssl, buf, sizeof buf);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ)
                    return;
                if (e == SSL_ERROR_WANT_WRITE) {
                    conn_want_out(c, 1);
                    return;
                }
                conn_fail(c, e == SSL_ERROR_ZERO_RETURN ? "server closed TLS" : "TLS read failed");
                return;
            }
            conn_receive(c, buf, (size_t)r);
        } else {
            ssize_t n = recv(c->fd, buf, sizeof buf, 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    return;
                conn_fail(c, "read failed");
                return;
            }
            if (n == 0) {
                conn_fail(c, "server closed the connection");
                return;
            }
            conn_receive(c, buf, (size_t)n);
        }
    }
}

void conn_on_event(struct conn *c, uint32_t events)
{
    uint32_t gen = c->gen;
    if (c->state == CS_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            snprintf(c->text, sizeof c->text, "%s", strerror(err));
            c->text_len = strlen(c->text);
            conn_fail(c, "connect failed");
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        c->state = CS_WAIT_FEATURES_TLS;
        conn_want_out(c, 0);
        conn_send_stream_header(c);
        return;
    }
    if (c->state == CS_TLS_HANDSHAKE) {
        conn_tls_handshake(c);
        return;
    }
    if (events & EPOLLOUT)
        conn_flush(c);
    if (c->gen == gen && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_read(c);
}

/* Queue `count` chat messages to the partner and flush them in one write.
 * The body carries the run id, a sequence number and the monotonic send
 * time in microseconds, from which the receiver computes the latency. */
void conn_send_messages(struct conn *c, int count)
{
    if (c->state != CS_READY || !c->partner || c->partner->state != CS_READY)
        return;
    char to[CONN_JID_MAX * 2], buf[1024];
    xml_escape(to, sizeof to, c->partner->jid);
    for (int i = 0; i < count; i++) {
        unsigned long long us = (unsigned long long)(bench_now() * 1e6);
        int n = snprintf(buf, sizeof buf,
                         "<message to='%s' type='chat' id='m%llu'><body>%u %llu %llu benchmark "
                         "message</body></message>",
                         to, (unsigned long long)c->sent, bench_run_id,
                         (unsigned long long)c->sent, us);
        conn_queue(c, buf, (size_t)n);
        c->sent++;
    }
    conn_flush(c);
}

/* Enter the room as occupant "uN" (XEP-0045 §7.2.2). No history: the
 * scenario counts only messages sent while everyone is in the room. */
void conn_send_muc_join(struct conn *c)
{
    if (c->state != CS_READY)
        return;
    char room[CONN_ROOM_MAX * 2], buf[1024];
    xml_escape(room, sizeof room, c->w->opts->room_jid);
    snprintf(buf, sizeof buf,
             "<presence to='%s/u%d'><x xmlns='http://jabber.org/protocol/muc'>"
             "<history maxstanzas='0'/></x></presence>",
             room, c->user);
    c->join_sent = 1;
    conn_send(c, buf);
}

/* The creator accepts the default configuration, which unlocks a new room
 * for everyone else: an empty submitted form (XEP-0045 §10.1.2, instant room). */
void conn_send_muc_config(struct conn *c)
{
    char room[CONN_ROOM_MAX * 2], buf[1024];
    xml_escape(room, sizeof room, c->w->opts->room_jid);
    snprintf(buf, sizeof buf,
             "<iq type='set' id='cfg1' to='%s'><query xmlns='http://jabber.org/protocol/muc#owner'>"
             "<x xmlns='jabber:x:data' type='submit'/></query></iq>",
             room);
    conn_send(c, buf);
}

/* Queue `count` groupchat messages to the room (XEP-0045 §7.4) and flush them
 * in one write; the body has the same run id / sequence / send time as the
 * chat messages, and the room sends a copy to every occupant. */
void conn_send_groupchat(struct conn *c, int count)
{
    if (c->state != CS_READY || !c->joined)
        return;
    char room[CONN_ROOM_MAX * 2], buf[1024];
    xml_escape(room, sizeof room, c->w->opts->room_jid);
    for (int i = 0; i < count; i++) {
        unsigned long long us = (unsigned long long)(bench_now() * 1e6);
        int n = snprintf(buf, sizeof buf,
                         "<message to='%s' type='groupchat' id='g%llu'><body>%u %llu %llu "
                         "benchmark message</body></message>",
                         room, (unsigned long long)c->sent, bench_run_id,
                         (unsigned long long)c->sent, us);
        conn_queue(c, buf, (size_t)n);
        c->sent++;
    }
    conn_flush(c);
}

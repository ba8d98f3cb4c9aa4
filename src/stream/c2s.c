/* c2s.c - the client stream state machine (RFC 6120):
 *   stream header -> features -> STARTTLS (§5) -> restart -> SASL (§6)
 *   -> restart -> resource binding (§7) -> stanzas (§8).
 * Owns the connection, the parser, the SASL state and the session's timers
 * (handshake timeout; idle ping per XEP-0199 then connection-timeout). */
#include <malloc.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/modules.h"
#include "core/router.h"
#include "core/security.h"
#include "core/session.h"
#include "core/worker_internal.h"
#include "http/metrics.h"
#include "net/conn.h"
#include "net/tls.h"
#include "aldis/store.h"
#include "stream/c2s.h"
#include "stream/sasl.h"

enum c2s_state {
    C2S_WAIT_HEADER, /* waiting for <stream:stream> */
    C2S_OPEN,        /* features sent; STARTTLS / SASL / bind expected */
    C2S_SASL,        /* a SASL exchange is running */
    C2S_BOUND,       /* resource bound: stanzas flow */
    C2S_RESUMING,    /* XEP-0198 <resume/> sent to the session's worker */
    C2S_DETACHED,    /* XEP-0198: connection lost, session waits to be resumed */
    C2S_CLOSING,
};

#define NS_SM "urn:xmpp:sm:3"
#define SM_REQUEST_EVERY 5 /* ask the client for an ack after this many stanzas */

/* XEP-0198 state. Sequence numbers are mod 2^32; the queue holds the
 * stanzas numbered h_out - qlen + 1 .. h_out, oldest first. */
struct sm {
    bool enabled;
    bool resumable;
    bool no_resume; /* the stream ended deliberately: nothing to resume */
    bool moved;     /* the session went to a resumed connection */
    uint32_t h_in;  /* stanzas received from the client */
    uint32_t h_out; /* stanzas sent (or queued while detached) */
    struct stanza **q;
    size_t qhead, qlen, qcap;
    uint64_t token;
    unsigned unrequested;
};

struct c2s {
    struct session s; /* first: struct session* <-> struct c2s* */
    struct conn conn;
    struct xml_stream *xs;
    enum c2s_state state;
    bool direct_tls;
    bool tls;
    bool authed;
    bool header_sent;
    bool binding; /* bind request in flight */
    bool auth_pending; /* waiting for the store */
    bool ping_out;
    int handles_open; /* conn + timer, freed when both are closed */
    uint64_t last_rx;
    char stream_id[24];
    char ping_id[24];
    char lang[36];
    struct sasl_state *sasl; /* only while authenticating */
    struct buf sasl_in; /* client message waiting for the keys */
    struct sm sm;
    bool sasl2;                 /* XEP-0388 exchange (no stream restart) */
    struct stanza *sasl2_req;   /* its <authenticate/>, for Bind2 (XEP-0386) */
    char inline_iq[32];         /* id of a Bind2 inline request made for the client: its answer is not the client's */
    uv_timer_t timer;
    /* A browser transport (WebSocket, BOSH) instead of the TCP conn: NULL
     * for TCP, whose path stays as it was (conn_write, no framing). */
    const struct c2s_transport *tr;
    void *tr_ud;      /* the transport's side; NULL once it has gone */
    SSL *tr_ssl;      /* its TLS session (HTTPS) for channel binding, or NULL */
    bool tr_trusted;  /* plain HTTP from a peer counted as secure (proxy) */
    enum metric_transport mt;
};

#define NS_SASL2 "urn:xmpp:sasl:2"
#define NS_BIND2 "urn:xmpp:bind:0"
#define NS_CARBONS "urn:xmpp:carbons:2"

static const struct config *cfg;

void c2s_configure(const struct config *c) { cfg = c; }

static void c2s_close(struct c2s *c, const char *condition, const char *text);

static void c2s_auth_failed(const char *peer, const char *bare)
{
    metrics_auth_failure();
    auth_failed(peer, bare);
}
static void sm_push(struct c2s *c, struct stanza *st);
static struct stanza *sm_pop(struct c2s *c);
static void sm_reroute(struct c2s *c);
static void on_timer(uv_timer_t *t);

/* ---- output ---- */

static void transport_send(struct c2s *c, const char *s, size_t len);

static void send_raw(struct c2s *c, const char *s, size_t len)
{
    if (!c->tr)
        conn_write(&c->conn, s, len);
    else
        transport_send(c, s, len);
}
static void send_str(struct c2s *c, const char *s) { send_raw(c, s, strlen(s)); }

static void send_stanza(struct c2s *c, struct stanza *st)
{
    size_t len;
    const char *w = stanza_wire(st, &len);
    send_raw(c, w, len);
}

static void send_header(struct c2s *c, const char *from)
{
    if (c->tr) {
        if (c->tr_ud)
            c->tr->header(c->tr_ud, c->stream_id, from, c->lang);
        c->header_sent = true;
        return;
    }
    struct buf b;
    buf_init(&b);
    buf_adds(&b, "<?xml version='1.0'?><stream:stream xmlns='" NS_CLIENT
                 "' xmlns:stream='" NS_STREAMS "' id='");
    buf_adds(&b, c->stream_id);
    buf_adds(&b, "'");
    if (from) {
        buf_adds(&b, " from='");
        buf_add_xml_escaped(&b, from, strlen(from), 1);
        buf_adds(&b, "'");
    }
    buf_adds(&b, " version='1.0' xml:lang='");
    buf_add_xml_escaped(&b, c->lang, strlen(c->lang), 1);
    buf_adds(&b, "'>");
    send_raw(c, b.data, b.len);
    buf_free(&b);
    c->header_sent = true;
}

static void add_stream_feature(const char *xml, void *ud) { buf_adds(ud, xml); }

#define MAX_CERT_IDS 8

/* The TLS session under this stream, for channel binding and client
 * certificates: the conn's, or the HTTPS connection's for a transport. */
static SSL *c2s_ssl(struct c2s *c) { return c->tr ? c->tr_ssl : c->conn.ssl; }

/* May SASL run here (RFC 6120 §5.3.1 when encryption is required)? Over a
 * browser transport there is no STARTTLS: HTTPS counts, and plain HTTP only
 * from a peer the HTTP side trusts (loopback reverse proxy, docs/http.md). */
static bool enc_ok(struct c2s *c)
{
    return c->tls || !cfg->require_encryption || (c->tr && c->tr_trusted);
}

/* XEP-0178: the client certificate's xmppAddr identities that are
 * accounts of this host (bare JIDs). Returns how many; ids may be NULL. */
static int external_identities(struct c2s *c, char (*ids)[1024])
{
    if (!cfg->client_ca || !c2s_ssl(c) || !sasl_mech_supported("EXTERNAL"))
        return 0;
    char addrs[MAX_CERT_IDS][1024];
    int n = tls_client_xmpp_addrs(c2s_ssl(c), addrs, MAX_CERT_IDS), found = 0;
    for (int i = 0; i < n; i++) {
        struct jid j;
        if (jid_parse(addrs[i], &j) < 0 || !j.local || j.resource ||
            strcmp(j.domain, c->s.host->domain) != 0)
            continue;
        if (ids)
            jid_bare(&j, ids[found], 1024);
        found++;
    }
    return found;
}

/* What we offer, strongest first. */
static const char *const offer_order[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256",
                                          "SCRAM-SHA-1", "PLAIN", "EXTERNAL"};

/* Is `mech` offered on this stream now? One rule for the features and for
 * <auth/>/<authenticate/>: -PLUS and PLAIN only over TLS (PLAIN when
 * allowed), EXTERNAL only with a verified certificate naming an account. */
static bool mech_offered(struct c2s *c, const char *mech)
{
    if (!mech || !sasl_mech_supported(mech) || !enc_ok(c))
        return false;
    if (strstr(mech, "-PLUS"))
        return c->tls && c2s_ssl(c); /* a binding needs the one TLS session */
    if (strncmp(mech, "SCRAM-", 6) == 0)
        return true;
    if (strcmp(mech, "PLAIN") == 0)
        return c->tls && cfg->allow_plain;
    if (strcmp(mech, "EXTERNAL") == 0)
        return c->tls && external_identities(c, NULL) > 0;
    return false;
}

static void feature_is_carbons(const char *feature, void *ud)
{
    if (strcmp(feature, NS_CARBONS) == 0)
        *(bool *)ud = true;
}

static void send_features(struct c2s *c)
{
    struct buf b;
    buf_init(&b);
    /* RFC 7395 §3.3.3: every WebSocket message declares its namespaces */
    buf_adds(&b, c->tr ? "<stream:features xmlns:stream='" NS_STREAMS "'>" : "<stream:features>");
    if (!c->tls && !c->tr) {
        buf_adds(&b, "<starttls xmlns='" NS_TLS "'>");
        if (cfg->require_encryption)
            buf_adds(&b, "<required/>");
        buf_adds(&b, "</starttls>");
    }
    if (!c->authed && enc_ok(c)) {
        /* the same list for SASL (RFC 6120 §6) and SASL2 (XEP-0388), where
         * Bind2 (XEP-0386) with inline stream management is offered too */
        struct buf mechs;
        buf_init(&mechs);
        for (size_t i = 0; i < sizeof offer_order / sizeof *offer_order; i++)
            if (mech_offered(c, offer_order[i]))
                buf_printf(&mechs, "<mechanism>%s</mechanism>", offer_order[i]);
        buf_adds(&b, "<mechanisms xmlns='" NS_SASL "'>");
        buf_add(&b, mechs.data, mechs.len);
        buf_adds(&b, "</mechanisms><authentication xmlns='" NS_SASL2 "'>");
        buf_add(&b, mechs.data, mechs.len);
        buf_adds(&b, "<inline><bind xmlns='" NS_BIND2 "'><inline><feature var='" NS_SM "'/>");
        bool carbons = false;
        modules_host_features(c->s.host, feature_is_carbons, &carbons);
        if (carbons)
            buf_adds(&b, "<feature var='" NS_CARBONS "'/>");
        buf_adds(&b, "</inline></bind></inline></authentication>");
        buf_free(&mechs);
        if (c->tls && c2s_ssl(c)) {
            /* XEP-0440: which channel-binding types we support */
            buf_adds(&b, "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>"
                         "<channel-binding type='tls-exporter'/>"
                         "<channel-binding type='tls-unique'/></sasl-channel-binding>");
        }
    }
    if (!c->authed && enc_ok(c))
        modules_preauth_features(c->s.host, add_stream_feature, &b);
    if (c->authed) {
        buf_adds(&b, "<bind xmlns='" NS_BIND "'/>"
                     "<session xmlns='" NS_SESSION "'><optional/></session>");
        buf_adds(&b, "<sm xmlns='" NS_SM "'/>");
        modules_stream_features(c->s.host, add_stream_feature, &b);
    }
    buf_adds(&b, "</stream:features>");
    send_raw(c, b.data, b.len);
    buf_free(&b);
}

static void stream_error(struct c2s *c, const char *condition, const char *text)
{
    if (c->state == C2S_CLOSING)
        return;
    log_info("c2s", "%s %s: stream error <%s/>%s%s", c->conn.peer,
             c->s.full ? c->s.full : "", condition, text ? ": " : "", text ? text : "");
    if (!c->header_sent)
        send_header(c, c->s.host ? c->s.host->domain : NULL);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "<stream:error%s><%s xmlns='" NS_STREAM_ERRORS "'/>",
               c->tr ? " xmlns:stream='" NS_STREAMS "'" : "", condition);
    if (text) {
        buf_adds(&b, "<text xmlns='" NS_STREAM_ERRORS "' xml:lang='en'>");
        buf_add_xml_escaped(&b, text, strlen(text), 0);
        buf_adds(&b, "</text>");
    }
    buf_adds(&b, "</stream:error>");
    send_raw(c, b.data, b.len);
    buf_free(&b);
    c2s_close(c, NULL, NULL);
}

/* ---- lifecycle ---- */

static void sasl_release(struct c2s *c)
{
    if (!c->sasl)
        return;
    sasl_end(c->sasl);
    free(c->sasl);
    c->sasl = NULL;
}

static void c2s_free_if_done(struct c2s *c)
{
    if (--c->handles_open > 0)
        return;
    xml_stream_free(c->xs);
    sasl_release(c);
    stanza_unref(c->sasl2_req);
    buf_free(&c->sasl_in);
    for (struct stanza *st; (st = sm_pop(c));)
        stanza_unref(st);
    free(c->sm.q);
    metrics_session(c->mt, -1);
    free(c);
}

static void on_timer_closed(uv_handle_t *h) { c2s_free_if_done(h->data); }

static void on_conn_closed(struct conn *conn)
{
    struct c2s *c = conn->ud;
    if (c->sm.moved) {
        /* the session now lives on a resumed connection */
        if (!uv_is_closing((uv_handle_t *)&c->timer))
            uv_close((uv_handle_t *)&c->timer, on_timer_closed);
        c2s_free_if_done(c);
        return;
    }
    if (c->s.bound && c->sm.resumable && !c->sm.no_resume && c->state != C2S_CLOSING) {
        /* XEP-0198 §5: keep the session for a resumption */
        c->state = C2S_DETACHED;
        c->s.detached = true;
        log_info("c2s", "%s: connection lost, %s resumable for %u s (%zu unacked)", conn->peer,
                 c->s.full, cfg->sm_resume_timeout, c->sm.qlen);
        uv_timer_start(&c->timer, on_timer, (uint64_t)cfg->sm_resume_timeout * 1000, 0);
        c2s_free_if_done(c);
        return;
    }
    if (c->state != C2S_CLOSING) {
        c->state = C2S_CLOSING;
        log_debug("c2s", "%s: connection closed by peer", conn->peer);
    }
    session_unregister(&c->s);
    if (c->sm.enabled)
        sm_reroute(c);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    c2s_free_if_done(c);
}

static void c2s_close(struct c2s *c, const char *condition, const char *text)
{
    if (condition) {
        stream_error(c, condition, text);
        return;
    }
    if (c->state == C2S_CLOSING)
        return;
    if (c->header_sent && !c->tr)
        send_str(c, "</stream:stream>");
    c->state = C2S_CLOSING;
    c->sm.no_resume = true; /* a stream we end on purpose is not resumable */
    if (!c->tr)
        conn_close(&c->conn);
    else if (c->tr_ud)
        c->tr->close(c->tr_ud); /* its own closing frame, then the connection */
}

static void sm_give_up(struct c2s *c);

static void ops_close(struct session *s, const char *condition, const char *text)
{
    struct c2s *c = (struct c2s *)s;
    if (c->state == C2S_DETACHED) {
        sm_give_up(c);
        return;
    }
    c2s_close(c, condition, text);
}

static void sm_overflow(struct c2s *c);

static void ops_deliver(struct session *s, struct stanza *st)
{
    struct c2s *c = (struct c2s *)s;
    if (c->state != C2S_BOUND && c->state != C2S_DETACHED)
        return;
    const char *id = c->inline_iq[0] ? stanza_id(st) : NULL;
    if (id && strcmp(id, c->inline_iq) == 0 && strcmp(stanza_name(st), "iq") == 0) {
        const char *type = stanza_type(st);
        if (!type || strcmp(type, "result") != 0)
            log_info("c2s", "%s: Bind2 inline carbons refused", s->full);
        c->inline_iq[0] = '\0';
        return;
    }
    if (c->sm.enabled) {
        if (c->sm.qlen >= cfg->sm_max_queue) {
            sm_overflow(c);
            return;
        }
        sm_push(c, st);
    }
    if (c->state != C2S_BOUND)
        return; /* detached: kept for the resumption */
    metrics_stanza(MD_OUT, stanza_name(st));
    if (st->born)
        metrics_routing_latency(uv_hrtime() - st->born);
    send_stanza(c, st);
    if (c->sm.enabled && ++c->sm.unrequested >= SM_REQUEST_EVERY) {
        send_str(c, "<r xmlns='urn:xmpp:sm:3'/>");
        c->sm.unrequested = 0;
    }
}

static void ops_deliver_raw(struct session *s, struct stanza *st)
{
    struct c2s *c = (struct c2s *)s;
    if (c->state != C2S_CLOSING && c->state != C2S_DETACHED) {
        metrics_stanza(MD_OUT, stanza_name(st));
        send_stanza(c, st);
    }
}

static const struct session_ops c2s_ops = {ops_deliver, ops_close, ops_deliver_raw};

/* ---- timers ---- */

static void arm_timer(struct c2s *c, uint64_t ms);

static void on_timer(uv_timer_t *t)
{
    struct c2s *c = t->data;
    uint64_t now = uv_now(t->loop);
    if (c->state == C2S_CLOSING)
        return;
    if (c->state == C2S_DETACHED) {
        sm_give_up(c);
        return;
    }
    if (c->state != C2S_BOUND) {
        stream_error(c, "connection-timeout", "authentication and binding took too long");
        return;
    }
    uint64_t idle_ms = (uint64_t)cfg->idle_timeout * 1000;
    if (c->ping_out) {
        if (now - c->last_rx >= (uint64_t)cfg->ping_timeout * 1000) {
            stream_error(c, "connection-timeout", "no answer to ping");
            return;
        }
        arm_timer(c, (uint64_t)cfg->ping_timeout * 1000 - (now - c->last_rx));
        return;
    }
    if (now - c->last_rx < idle_ms) {
        arm_timer(c, idle_ms - (now - c->last_rx));
        return;
    }
    /* XEP-0199 §4.2: the server pings a silent client */
    snprintf(c->ping_id, sizeof c->ping_id, "aldis-ping-%llx", (unsigned long long)now);
    char ping[JID_STR_MAX + 256];
    snprintf(ping, sizeof ping,
             "<iq type='get' id='%s' from='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
             c->ping_id, c->s.host->domain, c->s.full);
    send_str(c, ping);
    c->ping_out = true;
    c->last_rx = now;
    arm_timer(c, (uint64_t)cfg->ping_timeout * 1000);
}

static void arm_timer(struct c2s *c, uint64_t ms)
{
    uv_timer_start(&c->timer, on_timer, ms ? ms : 1, 0);
}

/* ---- stream management (XEP-0198) ---- */

static void sm_push(struct c2s *c, struct stanza *st)
{
    struct sm *sm = &c->sm;
    if (sm->qlen == sm->qcap) {
        size_t ncap = sm->qcap ? sm->qcap * 2 : 16;
        struct stanza **nq = malloc(ncap * sizeof *nq);
        ALDIS_ASSERT(nq != NULL);
        for (size_t i = 0; i < sm->qlen; i++)
            nq[i] = sm->q[(sm->qhead + i) % sm->qcap];
        free(sm->q);
        sm->q = nq;
        sm->qcap = ncap;
        sm->qhead = 0;
    }
    sm->q[(sm->qhead + sm->qlen) % sm->qcap] = stanza_ref(st);
    sm->qlen++;
    sm->h_out++;
}

static struct stanza *sm_pop(struct c2s *c)
{
    struct sm *sm = &c->sm;
    if (!sm->qlen)
        return NULL;
    struct stanza *st = sm->q[sm->qhead];
    sm->qhead = (sm->qhead + 1) % sm->qcap;
    sm->qlen--;
    return st;
}

/* The client handled everything up to h (§4). False when h acknowledges
 * stanzas we never sent. */
static bool sm_ack(struct c2s *c, uint32_t h)
{
    uint32_t first_unacked = c->sm.h_out - (uint32_t)c->sm.qlen; /* numbered from +1 */
    uint32_t n = h - first_unacked;
    if (n > c->sm.qlen)
        return false;
    while (n--)
        stanza_unref(sm_pop(c));
    return true;
}

/* What was never acknowledged is not lost (§4 "the server SHOULD treat
 * unacknowledged stanzas as undelivered"): messages are routed again — the
 * resource is already unbound (that was posted first, and posts are FIFO),
 * so they reach another resource or offline storage per RFC 6121 §8.5;
 * requests are answered with an error; presence is dropped. */
static void sm_reroute(struct c2s *c)
{
    struct stanza *st;
    unsigned n = 0;
    while ((st = sm_pop(c))) {
        const char *name = stanza_name(st), *type = stanza_type(st);
        bool error = type && strcmp(type, "error") == 0;
        if (strcmp(name, "message") == 0 && !error) {
            router_route(stanza_ref(st));
            n++;
        } else if (strcmp(name, "iq") == 0 && type &&
                   (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)) {
            router_bounce(st, "cancel", "recipient-unavailable", NULL);
        }
        stanza_unref(st);
    }
    if (n)
        log_info("c2s", "%s: %u unacknowledged message(s) routed again", c->s.full ? c->s.full : "?", n);
    free(c->sm.q);
    c->sm.q = NULL;
    c->sm.qcap = c->sm.qhead = 0;
}

static void on_timer_closed(uv_handle_t *h);

/* A detached session gives up (timeout, conflict, shutdown). */
static void sm_give_up(struct c2s *c)
{
    if (c->state != C2S_DETACHED)
        return;
    c->state = C2S_CLOSING;
    log_info("c2s", "%s: not resumed, session ends", c->s.full ? c->s.full : "?");
    session_unregister(&c->s);
    sm_reroute(c);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void sm_overflow(struct c2s *c)
{
    log_warn("c2s", "%s: %zu stanzas unacknowledged, ending the session", c->s.full, c->sm.qlen);
    if (c->state == C2S_DETACHED)
        sm_give_up(c);
    else
        stream_error(c, "policy-violation", "too many unacknowledged stanzas");
}

static void sm_send_ack(struct c2s *c)
{
    char a[64];
    snprintf(a, sizeof a, "<a xmlns='" NS_SM "' h='%u'/>", c->sm.h_in);
    send_str(c, a);
}

static void sm_failed(struct c2s *c, const char *condition)
{
    char f[160];
    snprintf(f, sizeof f, "<failed xmlns='" NS_SM "'><%s xmlns='" NS_STANZAS "'/></failed>", condition);
    send_str(c, f);
}

static bool parse_h(const char *v, uint32_t *h)
{
    if (!v || !*v)
        return false;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || n > UINT32_MAX)
        return false;
    *h = (uint32_t)n;
    return true;
}

/* Turn stream management on and write the <enabled/> answer into out. */
static void sm_enabled_reply(struct c2s *c, bool resume, char *out, size_t size)
{
    c->sm.enabled = true;
    c->sm.resumable = cfg->sm_resume_timeout && resume;
    if (c->sm.resumable) {
        RAND_bytes((unsigned char *)&c->sm.token, sizeof c->sm.token);
        snprintf(out, size, "<enabled xmlns='" NS_SM "' id='%d-%llx-%llx' resume='true' max='%u'/>",
                 c->s.worker, (unsigned long long)c->s.id, (unsigned long long)c->sm.token,
                 cfg->sm_resume_timeout);
    } else {
        snprintf(out, size, "<enabled xmlns='" NS_SM "'/>");
    }
}

static void sm_enable(struct c2s *c, struct stanza *st)
{
    if (c->state != C2S_BOUND || c->sm.enabled) {
        sm_failed(c, "unexpected-request");
        return;
    }
    const char *resume = xml_attr(st->root, "resume");
    char reply[256];
    sm_enabled_reply(c, resume && (strcmp(resume, "true") == 0 || strcmp(resume, "1") == 0), reply,
                     sizeof reply);
    send_str(c, reply);
}

/* ---- resumption: the connection that resumes may be on another worker.
 * The old session's state (JID, module data, unacked queue, counters)
 * moves to the new connection, which takes over the old session id; the
 * old worker forwards late deliveries and the owner is told where the
 * resource lives now. ---- */

struct resume_msg {
    /* request */
    uint64_t old_sid, token, new_sid;
    int new_worker;
    uint32_t client_h;
    char bare[JID_STR_MAX];
    char previd[80];
    /* answer */
    const char *condition; /* NULL on success */
    struct host *host;
    struct jid *jid;
    char *full;
    void **data;
    struct stanza **q;
    size_t qlen;
    uint32_t h_in, h_out;
};

static void resume_answer(struct worker *w, void *arg);

static void resume_on_old_worker(struct worker *w, void *arg)
{
    (void)w;
    struct resume_msg *m = arg;
    struct session *s = session_find(m->old_sid);
    struct c2s *old = (struct c2s *)s;
    if (!s) {
        /* resumed once already, on another worker: follow it there */
        int there = session_forwarded_to(m->old_sid);
        if (there >= 0 && there != worker_id(worker_current())) {
            worker_post(there, resume_on_old_worker, m);
            return;
        }
        m->condition = "item-not-found";
        worker_post(m->new_worker, resume_answer, m);
        return;
    }
    if (s->ops != &c2s_ops || !old->sm.resumable || old->sm.token != m->token || !s->bound ||
        strcmp(s->bare, m->bare) != 0 || old->state == C2S_CLOSING) {
        m->condition = "item-not-found";
        worker_post(m->new_worker, resume_answer, m);
        return;
    }
    if (!sm_ack(old, m->client_h)) {
        m->condition = "unexpected-request";
        worker_post(m->new_worker, resume_answer, m);
        return;
    }
    /* take everything that makes the session */
    m->host = s->host;
    m->jid = s->jid;
    m->full = s->full;
    m->data = s->data;
    s->jid = NULL;
    s->full = NULL;
    s->data = NULL;
    m->qlen = old->sm.qlen;
    m->q = malloc((m->qlen ? m->qlen : 1) * sizeof *m->q);
    ALDIS_ASSERT(m->q != NULL);
    for (size_t i = 0; i < m->qlen; i++)
        m->q[i] = sm_pop(old);
    m->h_in = old->sm.h_in;
    m->h_out = old->sm.h_out;
    old->sm.moved = true;
    session_forget(s, m->new_worker);
    free(s->bare); /* the new connection authenticated as the same account */
    s->bare = NULL;
    s->bound = false;
    if (old->state == C2S_DETACHED) {
        old->state = C2S_CLOSING;
        uv_close((uv_handle_t *)&old->timer, on_timer_closed);
    } else {
        /* the old connection is still up (the client saw it die first) */
        stream_error(old, "conflict", "the session was resumed on another connection");
    }
    worker_post(m->new_worker, resume_answer, m);
}

static void resume_free_state(struct resume_msg *m)
{
    for (size_t i = 0; i < m->qlen; i++)
        stanza_unref(m->q[i]);
    free(m->q);
    free(m);
}

static void resume_answer(struct worker *w, void *arg)
{
    (void)w;
    struct resume_msg *m = arg;
    struct c2s *c = (struct c2s *)session_find(m->new_sid);
    if (m->condition) {
        if (c && c->state == C2S_RESUMING) {
            c->state = C2S_OPEN;
            char f[320];
            snprintf(f, sizeof f, "<failed xmlns='" NS_SM "' h='0'><%s xmlns='" NS_STANZAS
                     "'/></failed>", m->condition);
            send_str(c, f);
        }
        resume_free_state(m);
        return;
    }
    if (!c || c->state != C2S_RESUMING) {
        /* the new connection went away meanwhile: end the old session here */
        session_unbind_orphan(m->host, m->bare, m->jid->resource, m->old_sid);
        for (size_t i = 0; i < m->qlen; i++)
            if (strcmp(stanza_name(m->q[i]), "message") == 0)
                router_route(stanza_ref(m->q[i]));
        for (size_t i = 0; m->data && i < modules_count(); i++)
            if (m->data[i] && module_at(i)->session_free) {
                /* module state needs a session to be freed from */
                struct session tmp = {.data = m->data, .host = m->host};
                module_at(i)->session_free(&tmp);
            }
        free(m->data);
        free(m->jid);
        free(m->full);
        resume_free_state(m);
        return;
    }
    free(c->s.data);
    c->s.data = m->data;
    c->s.jid = m->jid;
    c->s.full = m->full;
    session_adopt_id(&c->s, m->old_sid);
    c->s.bound = true;
    c->sm.enabled = true;
    c->sm.resumable = true;
    c->sm.token = m->token;
    c->sm.h_in = m->h_in;
    c->sm.h_out = m->h_out - (uint32_t)m->qlen; /* sm_push counts them again */
    c->state = C2S_BOUND;
    char r[200];
    snprintf(r, sizeof r, "<resumed xmlns='" NS_SM "' previd='%s' h='%u'/>", m->previd, c->sm.h_in);
    send_str(c, r);
    for (size_t i = 0; i < m->qlen; i++) {
        sm_push(c, m->q[i]);
        send_stanza(c, m->q[i]);
    }
    if (m->qlen) {
        send_str(c, "<r xmlns='" NS_SM "'/>");
        c->sm.unrequested = 0;
    }
    session_moved(&c->s);
    c->last_rx = uv_now(c->timer.loop);
    arm_timer(c, (uint64_t)cfg->idle_timeout * 1000);
    log_info("c2s", "%s: resumed %s (%zu stanza(s) resent)", c->conn.peer, c->s.full, m->qlen);
    resume_free_state(m);
}

static void sm_resume(struct c2s *c, struct stanza *st)
{
    const char *previd = xml_attr(st->root, "previd");
    uint32_t h;
    int worker;
    unsigned long long sid, token;
    int used = 0;
    if (!c->authed || c->s.bound || c->binding || c->state != C2S_OPEN || !previd ||
        !parse_h(xml_attr(st->root, "h"), &h) || strlen(previd) >= 80 ||
        sscanf(previd, "%d-%llx-%llx%n", &worker, &sid, &token, &used) != 3 ||
        previd[used] != '\0' || worker < 0 || worker >= worker_count()) {
        sm_failed(c, c->authed ? "item-not-found" : "unexpected-request");
        return;
    }
    struct resume_msg *m = calloc(1, sizeof *m);
    ALDIS_ASSERT(m != NULL);
    m->old_sid = sid;
    m->token = token;
    m->new_sid = c->s.id;
    m->new_worker = c->s.worker;
    m->client_h = h;
    snprintf(m->bare, sizeof m->bare, "%s", c->s.bare);
    snprintf(m->previd, sizeof m->previd, "%s", previd);
    c->state = C2S_RESUMING;
    worker_post(worker, resume_on_old_worker, m);
}

static void sm_element(struct c2s *c, struct stanza *st)
{
    const char *name = st->root->name;
    if (strcmp(name, "enable") == 0) {
        sm_enable(c, st);
    } else if (strcmp(name, "resume") == 0) {
        sm_resume(c, st);
    } else if (strcmp(name, "r") == 0 && c->sm.enabled) {
        sm_send_ack(c);
    } else if (strcmp(name, "a") == 0 && c->sm.enabled) {
        uint32_t h;
        if (!parse_h(xml_attr(st->root, "h"), &h) || !sm_ack(c, h))
            stream_error(c, "undefined-condition", "acknowledged stanzas that were never sent");
    } else {
        stream_error(c, "unsupported-stanza-type", NULL);
    }
}

/* ---- stream open ---- */

static void on_open(void *ud, struct stanza *hdr)
{
    struct c2s *c = ud;
    const char *to = xml_attr(hdr->root, "to");
    const char *version = xml_attr(hdr->root, "version");
    const char *lang = xml_attr_ns(hdr->root, NS_XML, "lang");
    snprintf(c->lang, sizeof c->lang, "%s", lang && strlen(lang) < sizeof c->lang ? lang : "en");
    unsigned char rnd[8];
    RAND_bytes(rnd, sizeof rnd);
    snprintf(c->stream_id, sizeof c->stream_id, "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    char domain[JID_PART_MAX + 1];
    struct host *h = NULL;
    if (to && jid_domainprep(to, domain) == 0)
        h = host_find(domain);
    if (c->s.host && h != c->s.host)
        h = NULL; /* a restarted stream must stay on the same host */
    if (!h) {
        send_header(c, NULL);
        stream_error(c, "host-unknown", to ? "this server does not serve that domain"
                                           : "the stream header needs a 'to' attribute");
        return;
    }
    c->s.host = h;
    send_header(c, h->domain);
    /* RFC 6120 §4.7.5: major version 1 only */
    if (!version || strncmp(version, "1.", 2) != 0) {
        stream_error(c, "unsupported-version", "only XMPP 1.0 streams are supported");
        return;
    }
    c->state = C2S_OPEN;
    send_features(c);
}

/* ---- STARTTLS (RFC 6120 §5) ---- */

static void on_tls_ready(struct conn *conn)
{
    struct c2s *c = conn->ud;
    c->tls = true;
    c->s.encrypted = true;
    metrics_tls_handshake();
    log_debug("c2s", "%s: TLS established (%s, %s)", conn->peer, SSL_get_version(conn->ssl),
              SSL_get_cipher_name(conn->ssl));
}

static void start_tls(struct c2s *c, const char *sni_hint)
{
    SSL_CTX *ctx = tls_server_ctx(sni_hint);
    if (!ctx || conn_start_tls(&c->conn, ctx) < 0) {
        SSL_CTX_free(ctx);
        if (c->header_sent)
            send_str(c, "<failure xmlns='" NS_TLS "'/></stream:stream>");
        c->state = C2S_CLOSING;
        conn_close(&c->conn);
        return;
    }
    SSL_CTX_free(ctx);
}

static void handle_starttls(struct c2s *c)
{
    if (c->tls || c->authed || c->tr) {
        stream_error(c, "policy-violation", "TLS is already negotiated");
        return;
    }
    send_str(c, "<proceed xmlns='" NS_TLS "'/>");
    start_tls(c, c->s.host->domain);
    xml_stream_reset(c->xs); /* RFC 6120 §5.4.3.3: a fresh stream over TLS */
    c->header_sent = false;
    c->state = C2S_WAIT_HEADER;
}

/* ---- SASL (RFC 6120 §6) ---- */

static void sasl_failure(struct c2s *c, const char *condition, const char *text)
{
    struct buf b;
    buf_init(&b);
    if (c->sasl2)
        buf_printf(&b, "<failure xmlns='" NS_SASL2 "'><%s xmlns='" NS_SASL "'/>", condition);
    else
        buf_printf(&b, "<failure xmlns='" NS_SASL "'><%s/>", condition);
    if (text) {
        buf_adds(&b, "<text xml:lang='en'>");
        buf_add_xml_escaped(&b, text, strlen(text), 0);
        buf_adds(&b, "</text>");
    }
    buf_adds(&b, "</failure>");
    send_raw(c, b.data, b.len);
    buf_free(&b);
    sasl_release(c);
    c->state = C2S_OPEN;
    stanza_unref(c->sasl2_req);
    c->sasl2_req = NULL;
}

static void sasl_send(struct c2s *c, const char *elem, const char *data, size_t len)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "<%s xmlns='%s'>", elem, c->sasl2 ? NS_SASL2 : NS_SASL);
    if (len) {
        char *b64 = NULL;
        size_t b64len;
        if (gsasl_base64_to(data, len, &b64, &b64len) == GSASL_OK)
            buf_add(&b, b64, b64len);
        gsasl_free(b64);
    } else if (strcmp(elem, "success") != 0) {
        buf_adds(&b, "="); /* RFC 6120 §6.4.2: empty data */
    }
    buf_printf(&b, "</%s>", elem);
    send_raw(c, b.data, b.len);
    buf_free(&b);
}

/* ---- SASL2 (XEP-0388) and Bind2 (XEP-0386): no stream restart; the
 * success carries the authorization identifier and, with Bind2, the bound
 * resource and inline stream management. ---- */

static void sasl2_send_success(struct c2s *c, const char *jid, const char *bound_inner)
{
    struct buf b;
    buf_init(&b);
    buf_adds(&b, "<success xmlns='" NS_SASL2 "'>");
    if (c->sasl_in.len) {
        char *b64 = NULL;
        size_t b64len;
        if (gsasl_base64_to(c->sasl_in.data, c->sasl_in.len, &b64, &b64len) == GSASL_OK) {
            buf_adds(&b, "<additional-data>");
            buf_add(&b, b64, b64len);
            buf_adds(&b, "</additional-data>");
        }
        gsasl_free(b64);
    }
    buf_adds(&b, "<authorization-identifier>");
    buf_add_xml_escaped(&b, jid, strlen(jid), 0);
    buf_adds(&b, "</authorization-identifier>");
    if (bound_inner) {
        buf_adds(&b, "<bound xmlns='" NS_BIND2 "'>");
        buf_adds(&b, bound_inner);
        buf_adds(&b, "</bound>");
    }
    buf_adds(&b, "</success>");
    send_raw(c, b.data, b.len);
    buf_free(&b);
    buf_consume(&c->sasl_in, c->sasl_in.len);
}

static void sm_enabled_reply(struct c2s *c, bool resume, char *out, size_t size);

/* XEP-0386 §6 / XEP-0280: carbons enabled inline. The request is the one
 * the client would have sent next (an IQ set to its own account, handled
 * by mod_carbons on the owner worker after the bind, in order); its answer
 * is swallowed in ops_deliver since the client never asked for it. */
static void bind2_carbons(struct c2s *c)
{
    unsigned char rnd[8];
    RAND_bytes(rnd, sizeof rnd);
    snprintf(c->inline_iq, sizeof c->inline_iq, "bind2-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    struct stanza *iq = stanza_new("iq", "jabber:client");
    xml_set_attr(iq, iq->root, "type", "set");
    xml_set_attr(iq, iq->root, "id", c->inline_iq);
    xml_set_attr(iq, iq->root, "from", c->s.full); /* stamped as on_stanza does */
    xml_add_child(iq, iq->root, "enable", NS_CARBONS);
    session_route(&c->s, iq);
}

static void bind2_done(struct session *s, int err, const char *condition)
{
    struct c2s *c = (struct c2s *)s;
    c->binding = false;
    struct stanza *req = c->sasl2_req;
    c->sasl2_req = NULL;
    if (err) {
        /* XEP-0386 §5: a failed bind fails the authentication */
        c->authed = false;
        sasl_failure(c, condition && strcmp(condition, "resource-constraint") == 0
                            ? "temporary-auth-failure" : "not-authorized", "resource binding failed");
        stanza_unref(req);
        return;
    }
    c->state = C2S_BOUND;
    char inner[400] = "";
    struct xml_node *bind = req ? xml_child(req->root, "bind", NS_BIND2) : NULL;
    struct xml_node *en = bind ? xml_child(bind, "enable", NS_SM) : NULL;
    if (en) {
        const char *resume = xml_attr(en, "resume");
        sm_enabled_reply(c, resume && (!strcmp(resume, "true") || !strcmp(resume, "1")), inner,
                         sizeof inner);
    }
    sasl2_send_success(c, s->full, inner);
    if (bind && xml_child(bind, "enable", NS_CARBONS))
        bind2_carbons(c);
    c->last_rx = uv_now(c->timer.loop);
    arm_timer(c, (uint64_t)cfg->idle_timeout * 1000);
    log_info("c2s", "%s: bound %s (Bind2)", c->conn.peer, s->full);
    stanza_unref(req);
}

static void sasl2_succeeded(struct c2s *c, const char *final, size_t len)
{
    buf_consume(&c->sasl_in, c->sasl_in.len);
    buf_add(&c->sasl_in, final, len);
    struct xml_node *bind = c->sasl2_req ? xml_child(c->sasl2_req->root, "bind", NS_BIND2) : NULL;
    if (!bind) {
        /* authenticated, not bound: the client binds with RFC 6120 §7 next */
        sasl2_send_success(c, c->s.bare, NULL);
        stanza_unref(c->sasl2_req);
        c->sasl2_req = NULL;
        c->state = C2S_OPEN;
        return;
    }
    /* XEP-0386 §4: the server picks the resource, prefixed by the tag */
    char resource[JID_PART_MAX + 1], prepped[JID_PART_MAX + 1];
    struct xml_node *tag = xml_child(bind, "tag", NS_BIND2);
    const char *t = tag ? xml_text(c->sasl2_req, tag) : "";
    unsigned char rnd[6];
    RAND_bytes(rnd, sizeof rnd);
    snprintf(resource, sizeof resource, "%.64s.%02x%02x%02x%02x%02x%02x", *t ? t : "aldis", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    if (jid_resourceprep(resource, prepped) < 0)
        snprintf(prepped, sizeof prepped, "aldis.%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5]);
    c->binding = true;
    session_bind(&c->s, prepped, bind2_done);
}

static void sasl_succeeded(struct c2s *c, const char *final, size_t len)
{
    const char *authzid = gsasl_property_fast(c->sasl->gs, GSASL_AUTHZID);
    char bare[JID_STR_MAX];
    snprintf(bare, sizeof bare, "%s@%s", c->sasl->user, c->s.host->domain);
    /* GNU SASL's PLAIN reports the authcid as authzid when none was sent */
    if (authzid && *authzid && strcmp(authzid, c->sasl->user) != 0) {
        /* RFC 6120 §6.3.8: a user may only act as themselves */
        struct jid az;
        char azbare[JID_STR_MAX];
        if (jid_parse(authzid, &az) < 0 || az.resource ||
            strcmp(jid_bare(&az, azbare, sizeof azbare), bare) != 0) {
            c2s_auth_failed(c->conn.peer, bare);
            sasl_failure(c, "invalid-authzid", NULL);
            return;
        }
    }
    auth_succeeded(bare);
    log_info("c2s", "%s: authenticated as %s (%s%s)", c->conn.peer, bare, c->sasl2 ? "SASL2 " : "",
             c->sasl->mech);
    session_set_account(&c->s, bare);
    if (c->sasl->external && c2s_ssl(c)) {
        /* RFC 5755 clearance in the certificate (security.certificate_clearance) */
        unsigned char *ext = NULL;
        size_t extlen = 0;
        if (tls_client_extension(c2s_ssl(c), "2.5.29.9", &ext, &extlen) == 0)
            security_certificate_clearance(c->s.host, bare, ext, extlen);
        free(ext);
    }
    sasl_release(c);
    c->authed = true;
    if (c->sasl2) {
        sasl2_succeeded(c, final, len);
        return;
    }
    sasl_send(c, "success", final, len);
    c->state = C2S_WAIT_HEADER;
    c->header_sent = false;
    xml_stream_reset(c->xs); /* RFC 6120 §6.4.6 */
}

static void sasl_step(struct c2s *c, const char *in, size_t inlen)
{
    char *out = NULL;
    size_t outlen = 0;
    int rc = gsasl_step(c->sasl->gs, in, inlen, &out, &outlen);
    if (rc == GSASL_NEEDS_MORE) {
        sasl_send(c, "challenge", out, outlen);
    } else if (rc == GSASL_OK) {
        sasl_succeeded(c, out, outlen);
    } else {
        char bare[JID_STR_MAX];
        snprintf(bare, sizeof bare, "%s@%s", c->sasl->user, c->s.host->domain);
        c2s_auth_failed(c->conn.peer, c->sasl->user[0] ? bare : NULL);
        log_info("c2s", "%s: authentication failed for %s (%s): %s", c->conn.peer,
                 c->sasl->user[0] ? bare : "?", c->sasl->mech, gsasl_strerror(rc));
        const char *cond = rc == GSASL_MECHANISM_PARSE_ERROR ? "malformed-request" : "not-authorized";
        sasl_failure(c, cond, NULL);
    }
    gsasl_free(out);
}

struct keys_lookup {
    uint64_t sid;
    uint64_t started; /* uv_hrtime, for the store latency metric */
};

static void keys_loaded(void *ud, int err, const struct scram_keys *k)
{
    struct keys_lookup *kl = ud;
    metrics_store_latency(uv_hrtime() - kl->started);
    struct c2s *c = (struct c2s *)session_find(kl->sid);
    free(kl);
    if (!c || c->state != C2S_SASL)
        return;
    c->auth_pending = false;
    if (err == 0) {
        c->sasl->keys = *k;
        c->sasl->have_keys = true;
    } else if (err != ALDIS_ENOTFOUND) {
        sasl_failure(c, "temporary-auth-failure", "the account store is unavailable");
        return;
    }
    if (!c->sasl->have_keys) {
        char bare[JID_STR_MAX];
        snprintf(bare, sizeof bare, "%s@%s", c->sasl->user, c->s.host->domain);
        c2s_auth_failed(c->conn.peer, NULL);
        log_info("c2s", "%s: authentication failed: no user %s", c->conn.peer, bare);
        sasl_failure(c, "not-authorized", NULL);
        return;
    }
    sasl_step(c, c->sasl_in.data, c->sasl_in.len);
    buf_consume(&c->sasl_in, c->sasl_in.len);
}

/* The first client message: find the user, load their keys, then step. */
/* XEP-0178 §5: the identity is the certificate's only xmppAddr, or the
 * authzid the client names among several. Fills c->sasl->user. */
static int external_user(struct c2s *c, const char *authzid, size_t len)
{
    char ids[MAX_CERT_IDS][1024];
    int n = external_identities(c, ids);
    const char *pick = NULL;
    char want[JID_STR_MAX];
    if (len == 0) {
        if (n == 1)
            pick = ids[0];
    } else {
        struct jid j;
        char tmp[JID_STR_MAX];
        if (len >= sizeof tmp)
            return ALDIS_EPROTO;
        memcpy(tmp, authzid, len);
        tmp[len] = '\0';
        if (jid_parse(tmp, &j) < 0 || j.resource)
            return ALDIS_EPROTO;
        jid_bare(&j, want, sizeof want);
        for (int i = 0; i < n; i++)
            if (strcmp(ids[i], want) == 0)
                pick = ids[i];
    }
    if (!pick)
        return ALDIS_EAUTH;
    const char *at = strchr(pick, '@');
    snprintf(c->sasl->user, sizeof c->sasl->user, "%.*s", (int)(at - pick), pick);
    c->sasl->external = true;
    return 0;
}

static void sasl_first(struct c2s *c, const char *data, size_t len)
{
    if (c->sasl->external || strcmp(c->sasl->mech, "EXTERNAL") == 0) {
        if (external_user(c, data, len) < 0) {
            c2s_auth_failed(c->conn.peer, NULL);
            sasl_failure(c, "not-authorized", "the certificate does not name that account");
            return;
        }
    } else if (sasl_peek_authcid(c->sasl->mech, data, len, c->sasl->user, sizeof c->sasl->user) < 0) {
        c2s_auth_failed(c->conn.peer, NULL);
        sasl_failure(c, "malformed-request", "cannot find the user name in the request");
        return;
    }
    char bare[JID_STR_MAX];
    snprintf(bare, sizeof bare, "%s@%s", c->sasl->user, c->s.host->domain);
    if (auth_throttled(c->conn.peer, bare, cfg->auth_fail_per_ip, cfg->auth_fail_per_account,
                       cfg->auth_fail_window)) {
        sasl_failure(c, "temporary-auth-failure", "too many failed attempts; wait and retry");
        return;
    }
    SSL *ssl = c2s_ssl(c);
    if (ssl) {
        unsigned char cb[64];
        /* Finished is 32 or 48 bytes (SHA-384 suites); base64 fits 128 */
        char *b64 = NULL;
        size_t n;
        c->sasl->cb_exporter[0] = c->sasl->cb_unique[0] = '\0';
        if (tls_exporter(ssl, cb) == 0 &&
            gsasl_base64_to((char *)cb, 32, &b64, &n) == GSASL_OK && n < sizeof c->sasl->cb_exporter)
            memcpy(c->sasl->cb_exporter, b64, n + 1);
        gsasl_free(b64);
        b64 = NULL;
        size_t ul = tls_unique(ssl, cb, sizeof cb);
        if (ul && gsasl_base64_to((char *)cb, ul, &b64, &n) == GSASL_OK && n < sizeof c->sasl->cb_unique)
            memcpy(c->sasl->cb_unique, b64, n + 1);
        gsasl_free(b64);
    }
    buf_consume(&c->sasl_in, c->sasl_in.len);
    buf_add(&c->sasl_in, data, len);
    c->auth_pending = true;
    struct keys_lookup *kl = malloc(sizeof *kl);
    ALDIS_ASSERT(kl != NULL);
    kl->sid = c->s.id;
    kl->started = uv_hrtime();
    store_user_get(c->s.host->domain, c->sasl->user, keys_loaded, kl);
}

/* Decode the base64 content of an element; "=" is empty. */
static int sasl_decode_node(struct stanza *st, struct xml_node *node, char **out, size_t *len,
                            bool *present)
{
    const char *text = xml_text(st, node);
    *present = text[0] != '\0';
    *out = NULL;
    *len = 0;
    if (!*present || strcmp(text, "=") == 0)
        return 0;
    return gsasl_base64_from(text, strlen(text), out, len) == GSASL_OK ? 0 : ALDIS_EPROTO;
}

/* Decode the base64 content of <auth/> or <response/>; "=" is empty. */
static int sasl_decode(struct stanza *st, char **out, size_t *len, bool *present)
{
    const char *text = xml_text(st, st->root);
    *present = text[0] != '\0';
    *out = NULL;
    *len = 0;
    if (!*present || strcmp(text, "=") == 0)
        return 0;
    return gsasl_base64_from(text, strlen(text), out, len) == GSASL_OK ? 0 : ALDIS_EPROTO;
}

static void handle_auth(struct c2s *c, struct stanza *st)
{
    c->sasl2 = strcmp(st->root->ns, NS_SASL2) == 0;
    if (c->authed) {
        stream_error(c, "policy-violation", "already authenticated");
        return;
    }
    if (!enc_ok(c)) {
        /* RFC 6120 §5.3.1: STARTTLS is mandatory-to-negotiate here */
        sasl_failure(c, "encryption-required", "use STARTTLS first");
        return;
    }
    const char *mech = xml_attr(st->root, "mechanism");
    bool offered = mech_offered(c, mech);
    if (!offered) {
        sasl_failure(c, "invalid-mechanism", NULL);
        return;
    }
    if (auth_throttled(c->conn.peer, NULL, cfg->auth_fail_per_ip, 0, cfg->auth_fail_window)) {
        sasl_failure(c, "temporary-auth-failure", "too many failed attempts; wait and retry");
        return;
    }
    sasl_release(c);
    c->sasl = calloc(1, sizeof *c->sasl);
    ALDIS_ASSERT(c->sasl != NULL);
    if (sasl_start(c->sasl, mech) < 0) {
        sasl_failure(c, "invalid-mechanism", NULL);
        return;
    }
    c->state = C2S_SASL;
    char *data;
    size_t len;
    bool present;
    int rc;
    if (c->sasl2) {
        stanza_unref(c->sasl2_req);
        c->sasl2_req = stanza_ref(st);
        struct xml_node *ir = xml_child(st->root, "initial-response", NS_SASL2);
        rc = sasl_decode_node(st, ir, &data, &len, &present);
        present = ir != NULL;
    } else {
        rc = sasl_decode(st, &data, &len, &present);
    }
    if (rc < 0) {
        sasl_failure(c, "incorrect-encoding", NULL);
        return;
    }
    if (!present) {
        sasl_send(c, "challenge", NULL, 0); /* ask for the initial response */
        return;
    }
    sasl_first(c, data ? data : "", len);
    gsasl_free(data);
}

static void handle_response(struct c2s *c, struct stanza *st)
{
    if (c->state != C2S_SASL || c->auth_pending || !c->sasl) {
        stream_error(c, "policy-violation", "unexpected SASL response");
        return;
    }
    char *data;
    size_t len;
    bool present;
    if (sasl_decode(st, &data, &len, &present) < 0) {
        sasl_failure(c, "incorrect-encoding", NULL);
        return;
    }
    if (!c->sasl->have_keys)
        sasl_first(c, data ? data : "", len);
    else
        sasl_step(c, data ? data : "", len);
    gsasl_free(data);
}

/* ---- binding (RFC 6120 §7) ---- */

static void iq_error(struct c2s *c, struct stanza *st, const char *type, const char *cond)
{
    struct stanza *e = stanza_error_reply(st, type, cond, NULL);
    send_stanza(c, e);
    stanza_unref(e);
}

static void bind_done(struct session *s, int err, const char *condition)
{
    struct c2s *c = (struct c2s *)s;
    c->binding = false;
    struct stanza *req = c->sasl_in.len ? stanza_parse(c->sasl_in.data, c->sasl_in.len) : NULL;
    buf_consume(&c->sasl_in, c->sasl_in.len);
    if (!req)
        return;
    if (err) {
        iq_error(c, req, err == ALDIS_ELIMIT ? "wait" : "cancel", condition);
    } else {
        struct stanza *r = stanza_iq_result(req);
        xml_set_attr(r, r->root, "to", NULL);
        xml_set_attr(r, r->root, "from", NULL);
        struct xml_node *b = xml_add_child(r, r->root, "bind", NS_BIND);
        struct xml_node *j = xml_add_child(r, b, "jid", NULL);
        xml_add_text(r, j, s->full, strlen(s->full));
        send_stanza(c, r);
        stanza_unref(r);
        c->state = C2S_BOUND;
        c->last_rx = uv_now(c->timer.loop);
        arm_timer(c, (uint64_t)cfg->idle_timeout * 1000);
        log_info("c2s", "%s: bound %s", c->conn.peer, s->full);
    }
    stanza_unref(req);
}

static void handle_pre_bind_iq(struct c2s *c, struct stanza *st)
{
    const char *type = stanza_type(st);
    struct xml_node *bind = xml_child(st->root, "bind", NS_BIND);
    if (!bind || !type || strcmp(type, "set") != 0 || !stanza_id(st)) {
        stream_error(c, "not-authorized", "bind a resource first");
        return;
    }
    if (c->binding) {
        iq_error(c, st, "wait", "resource-constraint");
        return;
    }
    struct xml_node *res = xml_child(bind, "resource", NS_BIND);
    const char *want = res ? xml_text(st, res) : NULL;
    char prepped[JID_PART_MAX + 1];
    if (want && *want) {
        if (jid_resourceprep(want, prepped) < 0) {
            iq_error(c, st, "modify", "bad-request"); /* RFC 6120 §7.7.2.1 */
            return;
        }
        want = prepped;
    } else {
        want = NULL;
    }
    c->binding = true;
    size_t len;
    char *saved = stanza_to_string(st, &len);
    buf_consume(&c->sasl_in, c->sasl_in.len);
    buf_add(&c->sasl_in, saved, len);
    free(saved);
    session_bind(&c->s, want, bind_done);
}

/* ---- stanzas ---- */

static bool iq_valid(struct stanza *st)
{
    /* RFC 6120 §8.2.3 */
    const char *type = stanza_type(st), *id = stanza_id(st);
    if (!type || !id)
        return false;
    size_t children = 0;
    for (struct xml_node *n = st->root->children; n; n = n->next)
        if (n->kind == XML_ELEM)
            children++;
    if (!strcmp(type, "get") || !strcmp(type, "set"))
        return children == 1;
    if (!strcmp(type, "result"))
        return children <= 1;
    return !strcmp(type, "error");
}

static void handle_stanza(struct c2s *c, struct stanza *st)
{
    const char *name = stanza_name(st);
    st->born = uv_hrtime();
    const char *from = stanza_from(st);
    if (from) {
        /* RFC 6120 §8.1.2.1: the client may only claim its own address */
        struct jid fj;
        if (jid_parse(from, &fj) < 0 || !jid_bare_eq(&fj, c->s.jid) ||
            (fj.resource && strcmp(fj.resource, c->s.jid->resource) != 0)) {
            stream_error(c, "invalid-from", "the 'from' address is not yours");
            return;
        }
    }
    xml_set_attr(st, st->root, "from", c->s.full);
    const char *to = stanza_to(st);
    struct jid tj;
    if (to && jid_parse(to, &tj) < 0) {
        iq_error(c, st, "modify", "jid-malformed");
        return;
    }
    if (strcmp(name, "iq") == 0) {
        if (!iq_valid(st)) {
            iq_error(c, st, "modify", "bad-request");
            return;
        }
        const char *type = stanza_type(st);
        bool to_server = !to || (!tj.local && !tj.resource && strcmp(tj.domain, c->s.host->domain) == 0);
        /* answers to our idle ping */
        if (c->ping_out && to_server && (!strcmp(type, "result") || !strcmp(type, "error")) &&
            strcmp(stanza_id(st), c->ping_id) == 0) {
            c->ping_out = false;
            return;
        }
        /* the legacy session IQ (RFC 3921 §3; RFC 6121 Appendix E) */
        if (to_server && !strcmp(type, "set") && xml_child(st->root, "session", NS_SESSION)) {
            struct stanza *r = stanza_iq_result(st);
            xml_set_attr(r, r->root, "from", to ? c->s.host->domain : NULL);
            xml_set_attr(r, r->root, "to", NULL);
            send_stanza(c, r);
            stanza_unref(r);
            return;
        }
        if (xml_child(st->root, "bind", NS_BIND) && to_server) {
            iq_error(c, st, "cancel", "not-allowed"); /* already bound */
            return;
        }
    }
    session_route(&c->s, stanza_ref(st));
}

static void on_element(void *ud, struct stanza *st)
{
    struct c2s *c = ud;
    const char *name = st->root->name, *ns = st->root->ns;
    if (c->state == C2S_CLOSING)
        goto out;
    if (!strcmp(ns, NS_SM)) {
        if (c->state == C2S_BOUND || c->state == C2S_OPEN)
            sm_element(c, st);
        else
            stream_error(c, "policy-violation", "stream management is not available now");
    } else if (!strcmp(ns, NS_TLS) && !strcmp(name, "starttls")) {
        if (c->state != C2S_OPEN)
            stream_error(c, "policy-violation", "STARTTLS is not expected now");
        else
            handle_starttls(c);
    } else if (!strcmp(ns, NS_SASL2) && !c->authed) {
        if (!strcmp(name, "authenticate") && (c->state == C2S_OPEN || c->state == C2S_SASL) &&
            !c->auth_pending)
            handle_auth(c, st);
        else if (!strcmp(name, "response") && c->sasl2)
            handle_response(c, st);
        else if (!strcmp(name, "abort") && c->state == C2S_SASL && !c->auth_pending)
            sasl_failure(c, "aborted", NULL);
        else
            stream_error(c, "policy-violation", "unexpected SASL2 element");
    } else if (!strcmp(ns, NS_SASL)) {
        if (!strcmp(name, "auth") && (c->state == C2S_OPEN || c->state == C2S_SASL) && !c->auth_pending)
            handle_auth(c, st);
        else if (!strcmp(name, "response"))
            handle_response(c, st);
        else if (!strcmp(name, "abort") && c->state == C2S_SASL && !c->auth_pending)
            sasl_failure(c, "aborted", NULL);
        else
            stream_error(c, "policy-violation", "unexpected SASL element");
    } else if (!strcmp(ns, NS_CLIENT) &&
               (!strcmp(name, "iq") || !strcmp(name, "message") || !strcmp(name, "presence"))) {
        if (!c->authed) {
            /* XEP-0077 and other pre-authentication IQs, once TLS is up
             * where it is required */
            struct hook_ctx hc = {.host = c->s.host, .sess = &c->s, .st = st};
            bool allowed = !strcmp(name, "iq") && c->state == C2S_OPEN &&
                           enc_ok(c);
            if (!allowed || hooks_run(HOOK_SESSION_PREAUTH, &hc) != HOOK_DONE)
                stream_error(c, "not-authorized", "authenticate first");
        }
        else if (c->state != C2S_BOUND && strcmp(name, "iq") == 0)
            handle_pre_bind_iq(c, st);
        else if (c->state != C2S_BOUND)
            stream_error(c, "not-authorized", "bind a resource first");
        else {
            if (c->sm.enabled)
                c->sm.h_in++; /* XEP-0198 §4: every stanza received counts */
            metrics_stanza(MD_IN, name);
            handle_stanza(c, st);
        }
    } else if (c->state == C2S_BOUND) {
        struct hook_ctx hc = {.host = c->s.host, .sess = &c->s, .st = st, .from = c->s.jid};
        if (hooks_run(HOOK_SESSION_ELEMENT, &hc) != HOOK_DONE)
            stream_error(c, "unsupported-stanza-type", NULL);
    } else {
        stream_error(c, "unsupported-stanza-type", NULL);
    }
out:
    stanza_unref(st);
}

static void on_close(void *ud)
{
    struct c2s *c = ud;
    c2s_close(c, NULL, NULL); /* a closed stream is not resumable (§5) */
}

static void on_parse_error(void *ud, const char *condition, const char *text)
{
    stream_error(ud, condition, text);
}

static const struct xml_stream_callbacks parser_cb = {on_open, on_element, on_close, on_parse_error};

static void on_data(struct conn *conn, const char *data, size_t len)
{
    struct c2s *c = conn->ud;
    if (c->state == C2S_CLOSING)
        return;
    c->last_rx = uv_now(c->timer.loop);
    c->ping_out = false;
    xml_stream_feed(c->xs, data, len);
}

static const struct conn_callbacks conn_cb = {on_data, on_tls_ready, on_conn_closed};

/* Every few seconds, sessions that have been quiet give back what they
 * only need while busy: the expat parser (rebuilt on the next input) and
 * the output buffer. Idle memory per session is what large deployments
 * pay for; a quiet session costs a parser rebuild on its next stanza. */
#define IDLE_RELEASE_MS 10000

static void release_idle(uv_timer_t *t)
{
    uint64_t now = uv_now(t->loop);
    struct map *m = &worker_state(worker_current())->sessions;
    void *v;
    size_t released = 0;
    for (size_t it = 0; map_next(m, &it, NULL, &v);) {
        struct session *s = v;
        if (s->ops != &c2s_ops)
            continue;
        struct c2s *c = (struct c2s *)s;
        if (c->state != C2S_BOUND || now - c->last_rx < IDLE_RELEASE_MS)
            continue;
        released += xml_stream_release(c->xs);
        if (!c->conn.out.len && !c->conn.dirty)
            buf_free(&c->conn.out);
    }
    /* hand the freed pages back to the system (glibc keeps them otherwise) */
    if (released >= 64)
        malloc_trim(0);
}

static struct c2s *c2s_new(struct worker *w);

void c2s_accept(uv_stream_t *server, int direct_tls)
{
    struct worker *w = worker_current();
    struct c2s *c = c2s_new(w);
    conn_init(&c->conn, worker_loop(w), &conn_cb, c);
    c->direct_tls = direct_tls;
    c->conn.rate_limit = cfg->rate_bytes_per_sec;
    session_register(&c->s, &c2s_ops);
    c->s.peer = c->conn.peer;
    c->mt = MT_TCP;
    metrics_session(MT_TCP, 1);
    if (conn_accept(&c->conn, server) < 0) {
        c->state = C2S_CLOSING;
        conn_close(&c->conn);
        return;
    }
    c->state = C2S_WAIT_HEADER;
    c->last_rx = uv_now(worker_loop(w));
    arm_timer(c, (uint64_t)cfg->handshake_timeout * 1000);
    if (direct_tls) {
        start_tls(c, NULL); /* XEP-0368: TLS from the first byte; SNI picks the host */
    }
    log_debug("c2s", "%s: connected%s", c->conn.peer, direct_tls ? " (direct TLS)" : "");
}

void c2s_shutdown_worker(void)
{
    struct map *m = &worker_state(worker_current())->sessions;
    void *v;
    for (size_t it = 0; map_next(m, &it, NULL, &v);) {
        struct session *s = v;
        if (s->ops != &c2s_ops)
            continue;
        struct c2s *c = (struct c2s *)s;
        if (c->state == C2S_DETACHED)
            sm_give_up(c);
        else
            c2s_close(c, "system-shutdown", "the server is shutting down");
    }
}

/* ---- browser transports (RFC 7395 WebSocket, XEP-0206 BOSH) ----
 * The HTTP side (src/http/) owns the connection and its framing; the stream
 * logic above is the TCP one. Each call to transport_send carries exactly
 * one top-level element, which is one WebSocket message (RFC 7395 §3.3.3)
 * or one child of a BOSH <body/>: it must declare its own namespace, so a
 * stanza serialised for a TCP stream (inheriting jabber:client from the
 * stream header) gets the declaration added to its start tag. */

/* Does the start tag of the element at s declare a default namespace? Sets
 * *name_end to the offset just after the element name. */
static bool start_tag_has_xmlns(const char *s, size_t len, size_t *name_end)
{
    size_t i = 1;
    while (i < len && !strchr(" \t\r\n/>", s[i]))
        i++;
    *name_end = i;
    char quote = 0;
    for (; i < len; i++) {
        char ch = s[i];
        if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '>') {
            return false;
        } else if ((ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') && len - i > 6 &&
                   memcmp(s + i + 1, "xmlns=", 6) == 0) {
            return true;
        }
    }
    return false;
}

static void transport_send(struct c2s *c, const char *s, size_t len)
{
    if (!c->tr_ud)
        return; /* the transport has gone; the session is closing or detached */
    size_t name_end;
    if (len < 2 || s[0] != '<' || start_tag_has_xmlns(s, len, &name_end) ||
        memchr(s, ':', name_end) != NULL) {
        c->tr->send(c->tr_ud, s, len);
        return;
    }
    static const char decl[] = " xmlns='" NS_CLIENT "'";
    struct buf b;
    buf_init(&b);
    buf_add(&b, s, name_end);
    buf_add(&b, decl, sizeof decl - 1);
    buf_add(&b, s + name_end, len - name_end);
    c->tr->send(c->tr_ud, b.data, b.len);
    buf_free(&b);
}

static struct c2s *c2s_new(struct worker *w)
{
    struct worker_state *ws = worker_state(w);
    if (!ws->c2s_idle_on) {
        ws->c2s_idle_on = true;
        uv_timer_init(worker_loop(w), &ws->c2s_idle);
        uv_timer_start(&ws->c2s_idle, release_idle, IDLE_RELEASE_MS / 2, IDLE_RELEASE_MS / 2);
        uv_unref((uv_handle_t *)&ws->c2s_idle);
    }
    struct c2s *c = calloc(1, sizeof *c);
    ALDIS_ASSERT(c != NULL);
    c->handles_open = 2;
    uv_timer_init(worker_loop(w), &c->timer);
    c->timer.data = c;
    buf_init(&c->sasl_in);
    struct xml_stream_limits lim = {cfg->max_stanza_size, cfg->max_depth, cfg->max_attrs};
    c->xs = xml_stream_new(&lim, NS_CLIENT, &parser_cb, c);
    ALDIS_ASSERT(c->xs != NULL);
    return c;
}

struct c2s *c2s_transport_new(const struct c2s_transport *tr, void *ud, const char *peer,
                              bool tls, SSL *ssl, bool trusted)
{
    struct worker *w = worker_current();
    struct c2s *c = c2s_new(w);
    c->tr = tr;
    c->tr_ud = ud;
    c->tr_ssl = ssl;
    c->tr_trusted = trusted;
    c->tls = tls || ssl != NULL;
    c->mt = strcmp(tr->name, "bosh") == 0 ? MT_BOSH : MT_WEBSOCKET;
    metrics_session(c->mt, 1);
    c->conn.ud = c; /* the conn is unused but for its peer string */
    snprintf(c->conn.peer, sizeof c->conn.peer, "%s", peer ? peer : "?");
    session_register(&c->s, &c2s_ops);
    c->s.peer = c->conn.peer;
    c->s.encrypted = c->tls;
    c->state = C2S_WAIT_HEADER;
    c->last_rx = uv_now(worker_loop(w));
    arm_timer(c, (uint64_t)cfg->handshake_timeout * 1000);
    log_debug("c2s", "%s: connected over %s%s", c->conn.peer, tr->name, c->tls ? " (TLS)" : "");
    return c;
}

int c2s_transport_open(struct c2s *c, const char *to, const char *version, const char *lang)
{
    if (c->state == C2S_CLOSING)
        return ALDIS_EINVAL;
    if (c->state != C2S_WAIT_HEADER) {
        stream_error(c, "policy-violation", "the stream is already open");
        return ALDIS_EPROTO;
    }
    /* the transport's <open/> (or BOSH session request) becomes the stream
     * header the parser and on_open expect (RFC 7395 §3.3.2: the same
     * attributes as a TCP stream header) */
    struct buf b;
    buf_init(&b);
    buf_adds(&b, "<stream:stream xmlns='" NS_CLIENT "' xmlns:stream='" NS_STREAMS "'");
    const char *names[3] = {"to", "version", "xml:lang"}, *vals[3] = {to, version, lang};
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        buf_printf(&b, " %s='", names[i]);
        buf_add_xml_escaped(&b, vals[i], strlen(vals[i]), 1);
        buf_adds(&b, "'");
    }
    buf_adds(&b, ">");
    c->last_rx = uv_now(c->timer.loop);
    xml_stream_feed(c->xs, b.data, b.len);
    buf_free(&b);
    return c->state == C2S_CLOSING ? ALDIS_EPROTO : 0;
}

void c2s_transport_input(struct c2s *c, const char *data, size_t len)
{
    if (c->state == C2S_CLOSING)
        return;
    if (c->state == C2S_WAIT_HEADER) {
        stream_error(c, "not-authorized", "open the stream first");
        return;
    }
    c->last_rx = uv_now(c->timer.loop);
    c->ping_out = false;
    xml_stream_feed(c->xs, data, len);
}

void c2s_transport_end(struct c2s *c)
{
    c2s_close(c, NULL, NULL);
}

bool c2s_transport_restart_expected(const struct c2s *c)
{
    return c->state == C2S_WAIT_HEADER;
}

void c2s_transport_gone(struct c2s *c)
{
    c->tr_ud = NULL;
    c->tr_ssl = NULL; /* freed with the connection */
    on_conn_closed(&c->conn);
}

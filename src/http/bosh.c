/* bosh.c - XMPP over BOSH (XEP-0124, XEP-0206) at /http-bind, on the same
 * c2s stream logic as TCP and WebSocket.
 *
 * A session belongs to the worker that created it (its id starts with that
 * worker's number); its HTTP requests may arrive on any worker, since a
 * browser opens several connections and the kernel spreads them. The worker
 * that received a request keeps the connection and posts the body to the
 * owner; the owner orders requests by rid, feeds their payloads to the
 * stream, holds up to `hold` of them until the stream has something to say
 * or `wait` runs out, and posts each answer back. Answers are kept for a
 * window of rids, so a client that lost one may ask again (§14.3). */
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/worker.h"
#include "aldis/xml.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "lib/map.h"
#include "stream/c2s.h"

#define NS_HTTPBIND "http://jabber.org/protocol/httpbind"
#define NS_XBOSH "urn:xmpp:xbosh"
#define BOSH_MAX_WAIT 60       /* seconds a request may be held */
#define BOSH_HOLD 1            /* requests held at once (§7.1 'hold') */
#define BOSH_REQUESTS 2        /* hold + 1 (§7.1 'requests') */
#define BOSH_WINDOW 4          /* rids ahead of the next one we accept, and answers kept */
/* seconds without a request before the session ends: http.bosh_inactivity */
#define BOSH_INACTIVITY (http_cfg->http_bosh_inactivity)
#define BOSH_POLLING 2
#define BOSH_MAX_OUT (4u * 1024 * 1024) /* stream output waiting for a request */

/* ---- the worker that holds the HTTP connection ---- */

struct bosh_wait {
    uint64_t id;
    struct lws *wsi;
    char *resp;
    size_t resp_len;
};

/* ---- the owner worker ---- */

struct held {
    struct held *next;
    uint64_t rid;
    int req_worker;
    uint64_t wait_id;
    uint64_t deadline; /* loop ms */
};

struct pending {      /* a request that arrived ahead of its turn */
    bool used;
    uint64_t rid;
    int req_worker;
    uint64_t wait_id;
    char *data;
    size_t len;
};

struct cached {
    uint64_t rid;
    char *data;
    size_t len;
};

struct bosh_sess {
    char sid[48];
    struct c2s *c;
    uint64_t rid_next;
    unsigned wait, hold;
    bool created;      /* the session-creation answer went out */
    bool terminating;  /* the stream ended: answer with type='terminate' */
    bool dead;         /* being freed */
    bool busy;         /* feeding the stream: collect output, answer after */
    char stream_id[32];
    char from[256];
    struct held *held; /* oldest first */
    unsigned nheld;
    struct buf out;
    struct pending pend[BOSH_WINDOW];
    struct cached cache[BOSH_WINDOW];
    unsigned cache_next;
    uint64_t last_request; /* loop ms */
    uv_timer_t timer;
};

struct bosh_worker {
    struct map waits;    /* wait id -> struct bosh_wait* */
    struct map sessions; /* sid -> struct bosh_sess* */
    uint64_t next_wait;
};
static _Thread_local struct bosh_worker *bw;

static struct bosh_worker *bosh_worker(void)
{
    if (!bw) {
        bw = calloc(1, sizeof *bw);
        ALDIS_ASSERT(bw != NULL);
        map_init(&bw->waits, 1);
        map_init(&bw->sessions, 0);
    }
    return bw;
}

struct bosh_msg {
    int req_worker;
    uint64_t wait_id;
    char peer[64];
    bool tls, trusted;
    size_t len;
    char data[];
};

struct bosh_resp {
    uint64_t wait_id;
    size_t len;
    char data[];
};

/* ---- answers travel back to the connection's worker ---- */

static void bosh_deliver(struct worker *w, void *arg)
{
    (void)w;
    struct bosh_resp *r = arg;
    struct bosh_wait *bwt = bw ? map_idel(&bw->waits, r->wait_id) : NULL;
    if (!bwt || !bwt->wsi) {
        free(r); /* the connection went away: the client asks again (§14.3) */
        return;
    }
    map_iput(&bw->waits, r->wait_id, bwt);
    bwt->resp = malloc(r->len + 1);
    ALDIS_ASSERT(bwt->resp != NULL);
    memcpy(bwt->resp, r->data, r->len);
    bwt->resp_len = r->len;
    free(r);
    lws_callback_on_writable(bwt->wsi);
}

static void send_answer(int req_worker, uint64_t wait_id, const char *data, size_t len)
{
    struct bosh_resp *r = malloc(sizeof *r + len);
    ALDIS_ASSERT(r != NULL);
    r->wait_id = wait_id;
    r->len = len;
    memcpy(r->data, data, len);
    worker_post(req_worker, bosh_deliver, r);
}

static void answer_terminate(int req_worker, uint64_t wait_id, const char *condition)
{
    char b[256];
    int n = snprintf(b, sizeof b, "<body type='terminate' condition='%s' xmlns='" NS_HTTPBIND "'/>",
                     condition);
    send_answer(req_worker, wait_id, b, (size_t)n);
}

/* ---- sessions ---- */

static void sess_arm(struct bosh_sess *s);
static void sess_destroy(struct bosh_sess *s);

static void cache_put(struct bosh_sess *s, uint64_t rid, const char *data, size_t len)
{
    struct cached *c = &s->cache[s->cache_next++ % BOSH_WINDOW];
    free(c->data);
    c->rid = rid;
    c->data = malloc(len);
    ALDIS_ASSERT(c->data != NULL);
    memcpy(c->data, data, len);
    c->len = len;
}

/* Answer the oldest held request with what the stream has for the client. */
static void answer_oldest(struct bosh_sess *s)
{
    struct held *h = s->held;
    if (!h)
        return;
    s->held = h->next;
    s->nheld--;
    struct buf b;
    buf_init(&b);
    buf_adds(&b, "<body xmlns='" NS_HTTPBIND "' xmlns:stream='http://etherx.jabber.org/streams'");
    if (!s->created) {
        /* §7.1 and XEP-0206 §3: the session creation response */
        buf_printf(&b, " xmlns:xmpp='" NS_XBOSH "' sid='%s' wait='%u' hold='%u' requests='%u'"
                       " inactivity='%u' polling='%u' ver='1.11' secure='true'"
                       " xmpp:version='1.0' xmpp:restartlogic='true' authid='%s'",
                   s->sid, s->wait, s->hold, BOSH_REQUESTS, BOSH_INACTIVITY, BOSH_POLLING,
                   s->stream_id);
        if (s->from[0]) {
            buf_adds(&b, " from='");
            buf_add_xml_escaped(&b, s->from, strlen(s->from), 1);
            buf_adds(&b, "'");
        }
        s->created = true;
    }
    if (s->terminating) {
        buf_adds(&b, " type='terminate'");
        if (s->out.len && strstr(s->out.data, "<stream:error"))
            buf_adds(&b, " condition='remote-stream-error'");
    }
    if (!s->out.len) {
        buf_adds(&b, "/>");
    } else {
        buf_adds(&b, ">");
        buf_add(&b, s->out.data, s->out.len);
        buf_adds(&b, "</body>");
        buf_consume(&s->out, s->out.len);
    }
    cache_put(s, h->rid, b.data, b.len);
    send_answer(h->req_worker, h->wait_id, b.data, b.len);
    buf_free(&b);
    free(h);
}

static void sess_flush(struct bosh_sess *s)
{
    if (s->dead || s->busy)
        return;
    while (s->held && (s->out.len || s->terminating || !s->created))
        answer_oldest(s);
    while (s->nheld > s->hold)
        answer_oldest(s); /* §10: more held than 'hold': answer the oldest now */
    if (s->terminating && s->created && !s->held) {
        sess_destroy(s);
        return;
    }
    sess_arm(s);
}

static void on_sess_timer(uv_timer_t *t)
{
    struct bosh_sess *s = t->data;
    uint64_t now = uv_now(t->loop);
    while (s->held && s->held->deadline <= now)
        answer_oldest(s); /* 'wait' ran out: an empty answer (§7.3) */
    if (!s->held && now - s->last_request >= (uint64_t)BOSH_INACTIVITY * 1000) {
        log_info("http", "bosh %s: inactive, session ends", s->sid);
        sess_destroy(s);
        return;
    }
    sess_arm(s);
}

static void sess_arm(struct bosh_sess *s)
{
    uint64_t now = uv_now(s->timer.loop), at;
    if (s->held)
        at = s->held->deadline; /* held in arrival order: the oldest is due first */
    else
        at = s->last_request + (uint64_t)BOSH_INACTIVITY * 1000;
    uv_timer_start(&s->timer, on_sess_timer, at > now ? at - now : 1, 0);
}

static void sess_timer_closed(uv_handle_t *h)
{
    struct bosh_sess *s = h->data;
    buf_free(&s->out);
    for (int i = 0; i < BOSH_WINDOW; i++) {
        free(s->pend[i].data);
        free(s->cache[i].data);
    }
    free(s);
}

static void sess_destroy(struct bosh_sess *s)
{
    if (s->dead)
        return;
    s->terminating = true;
    while (s->held)
        answer_oldest(s);
    s->dead = true;
    map_del(&bw->sessions, s->sid);
    for (int i = 0; i < BOSH_WINDOW; i++)
        if (s->pend[i].used) {
            answer_terminate(s->pend[i].req_worker, s->pend[i].wait_id, "item-not-found");
            s->pend[i].used = false;
        }
    if (s->c) {
        struct c2s *c = s->c;
        s->c = NULL;
        c2s_transport_gone(c); /* like a lost TCP connection: SM may resume it */
    }
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, sess_timer_closed);
}

/* ---- the c2s transport ---- */

static void tr_header(void *ud, const char *stream_id, const char *from, const char *lang)
{
    (void)lang;
    struct bosh_sess *s = ud;
    snprintf(s->stream_id, sizeof s->stream_id, "%s", stream_id);
    snprintf(s->from, sizeof s->from, "%s", from ? from : "");
}

static void tr_send(void *ud, const char *data, size_t len)
{
    struct bosh_sess *s = ud;
    if (s->out.len + len > BOSH_MAX_OUT) {
        log_info("http", "bosh %s: the client does not collect its data; session ends", s->sid);
        s->out.len = 0;
        s->terminating = true;
        return;
    }
    buf_add(&s->out, data, len);
    sess_flush(s);
}

static void tr_close(void *ud)
{
    struct bosh_sess *s = ud;
    s->terminating = true;
    sess_flush(s);
}

static const struct c2s_transport bosh_transport = {"bosh", tr_header, tr_send, tr_close};

/* ---- requests, on the owner ---- */

static bool attr_true(const char *v) { return v && (!strcmp(v, "true") || !strcmp(v, "1")); }

static void process(struct bosh_sess *s, uint64_t rid, int req_worker, uint64_t wait_id,
                    const char *data, size_t len)
{
    struct held *h = calloc(1, sizeof *h);
    ALDIS_ASSERT(h != NULL);
    h->rid = rid;
    h->req_worker = req_worker;
    h->wait_id = wait_id;
    h->deadline = uv_now(s->timer.loop) + (uint64_t)s->wait * 1000;
    struct held **tail = &s->held;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
    s->nheld++;
    s->last_request = uv_now(s->timer.loop);

    struct stanza *st = stanza_parse(data, len);
    if (!st) {
        s->terminating = true; /* §17.1 bad-request: the session cannot go on */
        if (s->c)
            c2s_transport_end(s->c);
        sess_flush(s);
        return;
    }
    const char *type = xml_attr(st->root, "type");
    const char *restart = xml_attr_ns(st->root, NS_XBOSH, "restart");
    const char *content;
    size_t clen;
    http_bosh_content(data, len, &content, &clen);
    /* everything the stream answers to this request goes in one response */
    s->busy = true;
    if (s->c && attr_true(restart)) {
        /* XEP-0206 §5: the stream restart after SASL */
        c2s_transport_open(s->c, xml_attr(st->root, "to"), "1.0",
                           xml_attr_ns(st->root, NS_XML, "lang"));
    } else if (s->c && clen) {
        c2s_transport_input(s->c, content, clen);
    }
    if (s->c && type && !strcmp(type, "terminate"))
        c2s_transport_end(s->c); /* §13: the client ends the session */
    s->busy = false;
    stanza_unref(st);
    sess_flush(s);
}

static void session_create(struct bosh_msg *m, struct stanza *st, uint64_t rid)
{
    struct bosh_sess *s = calloc(1, sizeof *s);
    ALDIS_ASSERT(s != NULL);
    unsigned char rnd[16];
    RAND_bytes(rnd, sizeof rnd);
    int n = snprintf(s->sid, sizeof s->sid, "%d-", worker_id(worker_current()));
    for (int i = 0; i < 16; i++)
        n += snprintf(s->sid + n, sizeof s->sid - (size_t)n, "%02x", rnd[i]);
    const char *w = xml_attr(st->root, "wait"), *hold = xml_attr(st->root, "hold");
    unsigned long wv = w ? strtoul(w, NULL, 10) : BOSH_MAX_WAIT;
    s->wait = wv == 0 || wv > BOSH_MAX_WAIT ? BOSH_MAX_WAIT : (unsigned)wv;
    s->hold = hold && strtoul(hold, NULL, 10) == 0 ? 0 : BOSH_HOLD;
    s->rid_next = rid + 1;
    buf_init(&s->out);
    uv_timer_init(worker_loop(worker_current()), &s->timer);
    s->timer.data = s;
    s->last_request = uv_now(s->timer.loop);
    map_put(&bw->sessions, s->sid, s);
    s->c = c2s_transport_new(&bosh_transport, s, m->peer, m->tls, NULL, m->trusted);
    log_debug("http", "bosh %s: session for %s", s->sid, m->peer);
    /* the creation request is held like any other; the stream's header and
     * features (XEP-0206 §3) come back synchronously from the open */
    struct held *h = calloc(1, sizeof *h);
    ALDIS_ASSERT(h != NULL);
    h->rid = rid;
    h->req_worker = m->req_worker;
    h->wait_id = m->wait_id;
    h->deadline = s->last_request + (uint64_t)s->wait * 1000;
    s->held = h;
    s->nheld = 1;
    const char *ver = xml_attr_ns(st->root, NS_XBOSH, "version");
    s->busy = true;
    c2s_transport_open(s->c, xml_attr(st->root, "to"), ver ? ver : "1.0",
                       xml_attr_ns(st->root, NS_XML, "lang"));
    s->busy = false;
    sess_flush(s);
}

static void bosh_on_owner(struct worker *w, void *arg)
{
    (void)w;
    struct bosh_msg *m = arg;
    bosh_worker();
    struct stanza *st = stanza_parse(m->data, m->len);
    const char *sid = st ? xml_attr(st->root, "sid") : NULL;
    const char *rids = st ? xml_attr(st->root, "rid") : NULL;
    char *end = NULL;
    uint64_t rid = rids ? strtoull(rids, &end, 10) : 0;
    if (!st || !rids || *end || rid == 0 || rid > (1ull << 53)) {
        answer_terminate(m->req_worker, m->wait_id, "bad-request");
        goto out;
    }
    if (!sid) {
        session_create(m, st, rid);
        goto out;
    }
    struct bosh_sess *s = map_get(&bw->sessions, sid);
    if (!s || s->dead) {
        answer_terminate(m->req_worker, m->wait_id, "item-not-found");
        goto out;
    }
    if (rid < s->rid_next) {
        /* §14.3: a request asked again; answer from the cache */
        for (int i = 0; i < BOSH_WINDOW; i++)
            if (s->cache[i].data && s->cache[i].rid == rid) {
                send_answer(m->req_worker, m->wait_id, s->cache[i].data, s->cache[i].len);
                goto out;
            }
        answer_terminate(m->req_worker, m->wait_id, "item-not-found");
        goto out;
    }
    if (rid >= s->rid_next + BOSH_WINDOW) {
        answer_terminate(m->req_worker, m->wait_id, "item-not-found"); /* §14.1 */
        sess_destroy(s);
        goto out;
    }
    if (rid > s->rid_next) {
        /* §14.2: out of order: keep it until the ones before arrive */
        struct pending *p = &s->pend[rid % BOSH_WINDOW];
        if (p->used) {
            answer_terminate(m->req_worker, m->wait_id, "item-not-found");
            goto out;
        }
        p->used = true;
        p->rid = rid;
        p->req_worker = m->req_worker;
        p->wait_id = m->wait_id;
        p->data = malloc(m->len);
        ALDIS_ASSERT(p->data != NULL);
        memcpy(p->data, m->data, m->len);
        p->len = m->len;
        goto out;
    }
    s->rid_next++;
    process(s, rid, m->req_worker, m->wait_id, m->data, m->len);
    /* then any that were waiting for this one */
    for (;;) {
        if (s->dead)
            break;
        struct pending *p = &s->pend[s->rid_next % BOSH_WINDOW];
        if (!p->used || p->rid != s->rid_next)
            break;
        p->used = false;
        s->rid_next++;
        process(s, p->rid, p->req_worker, p->wait_id, p->data, p->len);
        free(p->data);
        p->data = NULL;
    }
out:
    stanza_unref(st);
    free(m);
}

/* ---- the HTTP side ---- */

static const char *const bosh_headers[] = {
    /* XEP-0124 §16: browsers on other origins may use the service (CORS) */
    "access-control-allow-origin:", "*",
    "cache-control:", "no-store",
    NULL,
};

int http_bosh_options(struct lws *wsi)
{
    static const char *const h[] = {
        "access-control-allow-origin:", "*",
        "access-control-allow-methods:", "POST, OPTIONS",
        "access-control-allow-headers:", "Content-Type",
        "access-control-max-age:", "86400",
        NULL,
    };
    return http_respond(wsi, 200, "text/plain", h, "", 0);
}

int http_bosh_request(struct lws *wsi, struct http_pss *pss)
{
    struct stanza *st = pss->body.len ? stanza_parse(pss->body.data, pss->body.len) : NULL;
    if (!st || strcmp(st->root->name, "body") != 0 || !st->root->ns ||
        strcmp(st->root->ns, NS_HTTPBIND) != 0) {
        stanza_unref(st);
        return http_error(wsi, 400, "Bad Request: a BOSH <body/> is expected");
    }
    const char *sid = xml_attr(st->root, "sid");
    int owner = worker_id(worker_current());
    if (sid) {
        char *end;
        long o = strtol(sid, &end, 10);
        owner = *end == '-' && o >= 0 && o < worker_count() ? (int)o : -1;
    }
    stanza_unref(st);
    struct bosh_worker *me = bosh_worker();
    struct bosh_wait *bwt = calloc(1, sizeof *bwt);
    ALDIS_ASSERT(bwt != NULL);
    bwt->id = ++me->next_wait;
    bwt->wsi = wsi;
    map_iput(&me->waits, bwt->id, bwt);
    pss->route_state = bwt;
    if (owner < 0) {
        answer_terminate(worker_id(worker_current()), bwt->id, "item-not-found");
        return 0;
    }
    struct bosh_msg *m = malloc(sizeof *m + pss->body.len);
    ALDIS_ASSERT(m != NULL);
    m->req_worker = worker_id(worker_current());
    m->wait_id = bwt->id;
    http_peer(wsi, m->peer, sizeof m->peer);
    m->tls = http_is_tls(wsi);
    m->trusted = !m->tls && http_peer_trusted(wsi);
    m->len = pss->body.len;
    memcpy(m->data, pss->body.data, pss->body.len);
    worker_post(owner, bosh_on_owner, m);
    /* no timeout while the owner holds the request (up to 'wait') */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    return 0;
}

int http_bosh_writeable(struct lws *wsi, struct http_pss *pss)
{
    struct bosh_wait *bwt = pss->route_state;
    if (!bwt || !bwt->resp)
        return 0;
    map_idel(&bw->waits, bwt->id);
    pss->route_state = NULL;
    int rc = http_respond(wsi, 200, "text/xml; charset=utf-8", bosh_headers, bwt->resp,
                          bwt->resp_len);
    free(bwt->resp);
    free(bwt);
    return rc;
}

void http_bosh_closed(struct http_pss *pss)
{
    struct bosh_wait *bwt = pss->route_state;
    if (!bwt)
        return;
    pss->route_state = NULL;
    if (bw)
        map_idel(&bw->waits, bwt->id);
    free(bwt->resp);
    free(bwt);
}

void http_bosh_worker_stop(void)
{
    if (!bw)
        return;
    void *v;
    const char *k;
    /* sessions end like lost connections (the c2s side is closing them) */
    for (size_t it = 0; map_next(&bw->sessions, &it, &k, &v);)
        sess_destroy(v);
    uint64_t ik;
    for (size_t it = 0; map_inext(&bw->waits, &it, &ik, &v);) {
        struct bosh_wait *bwt = v;
        free(bwt->resp);
        free(bwt);
    }
    map_free(&bw->waits);
    map_free(&bw->sessions);
    free(bw);
    bw = NULL;
}

/* mam_query.c - the query side of mod_mam (XEP-0313 §4-§6 for user
 * archives): the search form, the query IQ with its data form filters and
 * XEP-0059 paging, the result messages and the final <fin/>, and the
 * archive metadata IQ. Runs on the account's owner; the archive itself is
 * read through the asynchronous store (store_archive_query). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/xml.h"
#include "core/security.h"
#include "modules/mam.h"

/* ---- time (XEP-0082) --------------------------------------------------- */

void mam__time_format(int64_t us, char *buf, size_t size)
{
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        secs--;
        frac += 1000000;
    }
    struct tm tm;
    char base[32];
    gmtime_r(&secs, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    /* Microseconds, so that a stamp read from a result and given back as
     * 'start' or 'end' selects exactly that message again. */
    snprintf(buf, size, "%s.%06ldZ", base, frac);
}

/* n digits at *p into *out; advances p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* XEP-0082 §3.2 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD being "Z" or
 * "+hh:mm" / "-hh:mm". Fractions finer than a microsecond are dropped. */
int mam__time_parse(const char *text, int64_t *us)
{
    const char *p = text;
    int year, mon, day, hour, min, sec, tzh = 0, tzm = 0, sign = 0;
    long frac = 0;
    if (!p || !digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &mon) ||
        *p++ != '-' || !digits(&p, 2, &day) || *p++ != 'T' || !digits(&p, 2, &hour) ||
        *p++ != ':' || !digits(&p, 2, &min) || *p++ != ':' || !digits(&p, 2, &sec))
        return ALDIS_EINVAL;
    if (*p == '.') {
        int n = 0;
        p++;
        if (!isdigit((unsigned char)*p))
            return ALDIS_EINVAL;
        for (; isdigit((unsigned char)*p); p++, n++)
            if (n < 6)
                frac = frac * 10 + (*p - '0');
        for (; n < 6; n++)
            frac *= 10;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (!digits(&p, 2, &tzh) || *p++ != ':' || !digits(&p, 2, &tzm) || tzh > 23 ||
            tzm > 59)
            return ALDIS_EINVAL;
    } else {
        return ALDIS_EINVAL;
    }
    if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
        sec > 60)
        return ALDIS_EINVAL;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = min, .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm normalises 31 February into March: refuse such dates. */
    if (tm.tm_mday != day)
        return ALDIS_EINVAL;
    t -= sign * (tzh * 3600 + tzm * 60);
    *us = (int64_t)t * 1000000 + frac;
    return 0;
}

void mam__iq_error(const struct stanza *iq, const char *type, const char *condition)
{
    router_route(stanza_error_reply(iq, type, condition, NULL));
}

/* ---- the search form (§4.1.5) ------------------------------------------ */

static void form_field(struct stanza *st, struct xml_node *x, const char *var, const char *type,
                       const char *value)
{
    struct xml_node *f = xml_add_child(st, x, "field", NS_XDATA);
    xml_set_attr(st, f, "var", var);
    xml_set_attr(st, f, "type", type);
    if (value) {
        struct xml_node *v = xml_add_child(st, f, "value", NS_XDATA);
        xml_add_text(st, v, value, strlen(value));
    }
}

void mam_query_form_send(const struct stanza *iq)
{
    struct stanza *r = stanza_iq_result(iq);
    struct xml_node *q = xml_add_child(r, r->root, "query", NS_MAM);
    struct xml_node *x = xml_add_child(r, q, "x", NS_XDATA);
    xml_set_attr(r, x, "type", "form");
    form_field(r, x, "FORM_TYPE", "hidden", NS_MAM);
    form_field(r, x, "with", "jid-single", NULL);
    form_field(r, x, "start", "text-single", NULL);
    form_field(r, x, "end", "text-single", NULL);
    form_field(r, x, "before-id", "text-single", NULL);
    form_field(r, x, "after-id", "text-single", NULL);
    form_field(r, x, "ids", "list-multi", NULL);
    /* §4.1.5: the list of ids is open, say so (XEP-0122). */
    struct xml_node *ids = x->last;
    struct xml_node *val =
        xml_add_child(r, ids, "validate", "http://jabber.org/protocol/xdata-validate");
    xml_set_attr(r, val, "datatype", "xs:string");
    xml_add_child(r, val, "open", NULL);
    form_field(r, x, "include-groupchat", "boolean", NULL);
    router_route(r);
}

/* ---- parsing a query ---------------------------------------------------- */

/* Everything a query IQ asks, with owned copies of its strings. */
struct mam_search {
    struct archive_query q;
    char with[JID_STR_MAX];
    char peer[JID_STR_MAX];
    char *after_id, *before_id, *page_after, *page_before;
    char *ids[ARCHIVE_IDS_MAX];
    size_t nids;
};

static void search_free(struct mam_search *s)
{
    free(s->after_id);
    free(s->before_id);
    free(s->page_after);
    free(s->page_before);
    for (size_t i = 0; i < s->nids; i++)
        free(s->ids[i]);
}

/* Character data of el, trimmed, malloc'd (never NULL). */
static char *node_text(const struct xml_node *el)
{
    char *t = (char *)xml_text(NULL, el);
    size_t len = strlen(t), start = 0;
    while (start < len && isspace((unsigned char)t[start]))
        start++;
    while (len > start && isspace((unsigned char)t[len - 1]))
        len--;
    memmove(t, t + start, len - start);
    t[len - start] = '\0';
    return t;
}

/* A non-negative decimal integer (RSM <max/>, <index/>). */
static bool parse_count(const char *text, long limit, long *out)
{
    char *end;
    if (!isdigit((unsigned char)text[0]))
        return false;
    long v = strtol(text, &end, 10);
    if (*end || v < 0)
        return false;
    *out = v > limit ? limit : v;
    return true;
}

/* One field of the query form (§4.1). Returns NULL or the error condition. */
static const char *form_field_apply(struct mam_search *s, const struct xml_node *field)
{
    const char *var = xml_attr(field, "var");
    struct xml_node *v = xml_child(field, "value", NS_XDATA);
    if (!var)
        return "bad-request";
    if (strcmp(var, "ids") == 0) {
        for (; v; v = xml_next(v, "value", NS_XDATA)) {
            if (s->nids == ARCHIVE_IDS_MAX)
                return "policy-violation";
            s->ids[s->nids++] = node_text(v);
        }
        return NULL;
    }
    char *value = v ? node_text(v) : NULL;
    const char *cond = NULL;
    if (!value || !value[0]) {
        /* An empty field filters nothing (some clients send them). */
        if (strcmp(var, "FORM_TYPE") != 0 && strcmp(var, "with") != 0 &&
            strcmp(var, "start") != 0 && strcmp(var, "end") != 0 &&
            strcmp(var, "after-id") != 0 && strcmp(var, "before-id") != 0 &&
            strcmp(var, "include-groupchat") != 0)
            cond = "feature-not-implemented";
    } else if (strcmp(var, "FORM_TYPE") == 0) {
        if (strcmp(value, NS_MAM) != 0)
            cond = "bad-request";
    } else if (strcmp(var, "with") == 0) {
        struct jid j;
        if (jid_parse(value, &j) < 0) {
            cond = "jid-malformed";
        } else {
            /* §4.1.1: a bare JID matches every resource of it; a full JID
             * only itself. */
            jid_bare(&j, s->with, sizeof s->with);
            s->q.with = s->with;
            if (j.resource) {
                jid_full(&j, s->peer, sizeof s->peer);
                s->q.peer = s->peer;
            }
        }
    } else if (strcmp(var, "start") == 0) {
        if (mam__time_parse(value, &s->q.start) < 0)
            cond = "bad-request";
        s->q.has_start = true;
    } else if (strcmp(var, "end") == 0) {
        if (mam__time_parse(value, &s->q.end) < 0)
            cond = "bad-request";
        s->q.has_end = true;
    } else if (strcmp(var, "after-id") == 0) {
        free(s->after_id);
        s->after_id = value;
        value = NULL;
    } else if (strcmp(var, "before-id") == 0) {
        free(s->before_id);
        s->before_id = value;
        value = NULL;
    } else if (strcmp(var, "include-groupchat") == 0) {
        /* §4.1.4: understood (we advertise #groupchat-field); groupchat
         * messages never go into a user archive here, so true and false
         * select the same. */
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0 &&
            strcmp(value, "1") != 0 && strcmp(value, "0") != 0)
            cond = "bad-request";
    } else {
        /* §4.1.5: "If a client includes a form field that the server does
         * not recognise, the server MUST respond with a
         * 'feature-not-implemented' error." */
        cond = "feature-not-implemented";
    }
    free(value);
    return cond;
}

/* XEP-0059 <set/> of the query. */
static const char *rsm_apply(struct mam_search *s, const struct xml_node *set)
{
    struct xml_node *el;
    long n;
    if ((el = xml_child(set, "max", NS_RSM))) {
        char *t = node_text(el);
        bool ok = parse_count(t, ARCHIVE_PAGE_MAX, &n);
        free(t);
        if (!ok)
            return "bad-request";
        s->q.max = (size_t)(n > mam__page_max ? mam__page_max : n);
    }
    if ((el = xml_child(set, "index", NS_RSM))) {
        char *t = node_text(el);
        bool ok = parse_count(t, INT32_MAX, &n);
        free(t);
        if (!ok)
            return "bad-request";
        s->q.index = n;
    }
    if ((el = xml_child(set, "after", NS_RSM))) {
        s->page_after = node_text(el);
        if (!s->page_after[0])
            return "bad-request"; /* XEP-0059 §2.2: after names an item */
    }
    if ((el = xml_child(set, "before", NS_RSM))) {
        /* XEP-0059 §2.5: an empty <before/> asks for the last page. */
        char *t = node_text(el);
        s->q.backward = true;
        if (t[0])
            s->page_before = t;
        else
            free(t);
    }
    return NULL;
}

static const char *search_parse(struct mam_search *s, const struct xml_node *query)
{
    const char *cond;
    s->q.dir = -1;
    s->q.max = (size_t)mam__page_default;
    s->q.want_count = true;
    /* §4.1: the filters are one data form; pubsub archives ('node',
     * XEP-0442) are not served here. */
    if (xml_attr(query, "node"))
        return "feature-not-implemented";
    struct xml_node *x = xml_child(query, "x", NS_XDATA);
    if (x) {
        for (struct xml_node *f = xml_child(x, "field", NS_XDATA); f;
             f = xml_next(f, "field", NS_XDATA))
            if ((cond = form_field_apply(s, f)))
                return cond;
    }
    struct xml_node *set = xml_child(query, "set", NS_RSM);
    if (set && (cond = rsm_apply(s, set)))
        return cond;
    s->q.after_id = s->after_id;
    s->q.before_id = s->before_id;
    s->q.page_after = s->page_after;
    s->q.page_before = s->page_before;
    s->q.ids = (const char *const *)s->ids;
    s->q.nids = s->nids;
    return NULL;
}

/* ---- results (§4.2, §4.3) ------------------------------------------------ */

struct mam_query_req {
    struct account *acct;  /* held */
    struct stanza *iq;     /* ref */
    uint64_t session_id;   /* the querying resource */
    char *queryid;         /* or NULL */
    bool flip;             /* <flip-page/>: send the page newest first */
    bool backward;         /* paged backward (RSM <before/>) */
};

static struct resource *resource_by_session(struct account *acct, uint64_t sid)
{
    for (struct resource *r = acct->resources; r; r = r->next)
        if (r->session_id == sid)
            return r;
    return NULL;
}

/* One result: <message><result queryid id><forwarded><delay/>original
 * </forwarded></result></message>, from the archive (the bare JID: the
 * client checks it, §9.2) to the querying resource. */
struct stanza *mam_result_build(const char *archive, const char *to, const char *queryid,
                                const struct archive_item *it, const struct stanza *orig)
{
    char stamp[48];
    struct stanza *m = stanza_new("message", NULL);
    xml_set_attr(m, m->root, "to", to);
    xml_set_attr(m, m->root, "from", archive);
    struct xml_node *result = xml_add_child(m, m->root, "result", NS_MAM);
    if (queryid)
        xml_set_attr(m, result, "queryid", queryid);
    xml_set_attr(m, result, "id", it->id);
    struct xml_node *fwd = xml_add_child(m, result, "forwarded", NS_FORWARD);
    struct xml_node *delay = xml_add_child(m, fwd, "delay", NS_DELAY);
    mam__time_format(it->ts, stamp, sizeof stamp);
    xml_set_attr(m, delay, "stamp", stamp);
    xml_copy_into(m, fwd, orig->root);
    return m;
}

static struct stanza *result_message(struct mam_query_req *req, struct resource *res,
                                     const struct archive_item *it, const struct stanza *orig)
{
    return mam_result_build(req->acct->bare, res->full, req->queryid, it, orig);
}

static void rsm_elem(struct stanza *st, struct xml_node *set, const char *name, const char *text)
{
    struct xml_node *el = xml_add_child(st, set, name, NS_RSM);
    xml_add_text(st, el, text, strlen(text));
}

/* The IQ result that ends the results (§4.3.2): <fin complete stable> with
 * the RSM <set/> of the page. */
struct stanza *mam_fin_build(const struct stanza *iq, const struct archive_page *p,
                             bool backward)
{
    char num[32];
    struct stanza *r = stanza_iq_result(iq);
    struct xml_node *fin = xml_add_child(r, r->root, "fin", NS_MAM);
    if (p->complete)
        xml_set_attr(r, fin, "complete", "true");
    if (!p->stable)
        xml_set_attr(r, fin, "stable", "false");
    struct xml_node *set = xml_add_child(r, fin, "set", NS_RSM);
    if (p->n > 0) {
        rsm_elem(r, set, "first", p->items[0].id);
        /* The index is optional (XEP-0059 §2.6). We leave it out of pages
         * read backward: clients that stop iterating when index + items =
         * count (slixmpp 1.8's XEP-0059 iterator does) would stop after the
         * last page, which is the first one read backward. */
        if (p->first_index >= 0 && !backward) {
            snprintf(num, sizeof num, "%lld", (long long)p->first_index);
            xml_set_attr(r, set->last, "index", num);
        }
        rsm_elem(r, set, "last", p->items[p->n - 1].id);
    }
    if (p->count >= 0) {
        snprintf(num, sizeof num, "%lld", (long long)p->count);
        rsm_elem(r, set, "count", num);
    }
    return r;
}

static void query_done(void *ud, int err, const struct archive_page *page)
{
    struct mam_query_req *req = ud;
    struct account *acct = req->acct;
    /* Everything goes straight to the querying session, in order: the
     * results, then the IQ result (§4: "the server MUST send the IQ result
     * after last query result"). A session gone meanwhile gets nothing. */
    struct resource *res = resource_by_session(acct, req->session_id);
    if (!res)
        goto out;
    if (err < 0) {
        const char *cond = err == ALDIS_ENOTFOUND ? "item-not-found"
                           : err == ALDIS_EINVAL  ? "bad-request"
                                                  : "internal-server-error";
        if (err != ALDIS_ENOTFOUND && err != ALDIS_EINVAL)
            log_warn("mam", "archive query for %s failed: %s", acct->bare, aldis_strerror(err));
        account_send(acct, res,
                     stanza_error_reply(req->iq, err == ALDIS_ENOTFOUND ? "cancel" : "modify",
                                        cond, NULL));
        goto out;
    }
    /* Items the account's clearance no longer permits are left out and
     * not counted (ARCHITECTURE.md §6: no count leaks). */
    struct archive_page shown = *page;
    for (size_t k = 0; k < page->n; k++) {
        const struct archive_item *it = &page->items[req->flip ? page->n - 1 - k : k];
        struct stanza *orig = stanza_parse(it->xml, it->len);
        if (!orig) {
            log_warn("mam", "archive item %s of %s does not parse; skipped", it->id, acct->bare);
            continue;
        }
        if (security_account_permits(acct, orig, SECURITY_PATH_ARCHIVE) != 0) {
            if (shown.count > 0)
                shown.count--;
            stanza_unref(orig);
            continue;
        }
        account_send(acct, res, result_message(req, res, it, orig));
        stanza_unref(orig);
    }
    account_send(acct, res, mam_fin_build(req->iq, &shown, req->backward));
out:
    account_release(acct);
    stanza_unref(req->iq);
    free(req->queryid);
    free(req);
}

/* <query xmlns='urn:xmpp:mam:2'/>: get = the form (§4.1.5), set = a
 * search (§4). Only the user may read their archive (§9.1: forbidden). */
int mam__query_iq(struct iq_ctx *ctx)
{
    if (!ctx->from_self) {
        mam__iq_error(ctx->iq, "auth", "forbidden");
        return 0;
    }
    if (ctx->kind == IQ_GET) {
        mam_query_form_send(ctx->iq);
        return 0;
    }
    struct resource *res =
        ctx->from->resource ? account_resource(ctx->acct, ctx->from->resource) : NULL;
    if (!res) {
        /* Results go to one session; an IQ from the account that no bound
         * session sent (cannot happen from c2s) has nowhere to go. */
        mam__iq_error(ctx->iq, "cancel", "not-allowed");
        return 0;
    }
    struct mam_search *s = calloc(1, sizeof *s);
    ALDIS_ASSERT(s != NULL);
    s->q.owner = ctx->acct->bare;
    const char *cond = search_parse(s, ctx->payload);
    if (cond) {
        mam__iq_error(ctx->iq,
                      strcmp(cond, "feature-not-implemented") == 0 ? "cancel" : "modify", cond);
        goto out;
    }
    struct mam_query_req *req = calloc(1, sizeof *req);
    ALDIS_ASSERT(req != NULL);
    req->acct = ctx->acct;
    req->iq = stanza_ref(ctx->iq);
    req->session_id = res->session_id;
    const char *qid = xml_attr(ctx->payload, "queryid");
    if (qid) {
        req->queryid = strdup(qid);
        ALDIS_ASSERT(req->queryid != NULL);
    }
    req->flip = xml_child(ctx->payload, "flip-page", NS_MAM) != NULL;
    req->backward = s->q.backward;
    account_hold(ctx->acct);
    store_archive_query(&s->q, query_done, req); /* copies the query */
out:
    search_free(s);
    free(s);
    return 0;
}

/* ---- archive metadata (§5) --------------------------------------------- */

struct mam_meta_req {
    struct stanza *iq; /* ref */
    char *owner;
    bool has_start;
    char start_id[ARCHIVE_ID_MAX + 1];
    int64_t start_ts;
};

static void meta_item(struct stanza *r, struct xml_node *md, const char *name,
                      const char *id, int64_t ts)
{
    char stamp[48];
    struct xml_node *el = xml_add_child(r, md, name, NS_MAM);
    xml_set_attr(r, el, "id", id);
    mam__time_format(ts, stamp, sizeof stamp);
    xml_set_attr(r, el, "timestamp", stamp);
}

static void meta_req_free(struct mam_meta_req *m)
{
    stanza_unref(m->iq);
    free(m->owner);
    free(m);
}

static void meta_end_done(void *ud, int err, const struct archive_page *page)
{
    struct mam_meta_req *m = ud;
    if (err < 0) {
        mam__iq_error(m->iq, "wait", "internal-server-error");
    } else {
        struct stanza *r = stanza_iq_result(m->iq);
        struct xml_node *md = xml_add_child(r, r->root, "metadata", NS_MAM);
        /* An empty archive answers with an empty <metadata/>. */
        if (m->has_start && page->n == 1) {
            meta_item(r, md, "start", m->start_id, m->start_ts);
            meta_item(r, md, "end", page->items[0].id, page->items[0].ts);
        }
        router_route(r);
    }
    meta_req_free(m);
}

static void meta_start_done(void *ud, int err, const struct archive_page *page)
{
    struct mam_meta_req *m = ud;
    if (err < 0) {
        mam__iq_error(m->iq, "wait", "internal-server-error");
        meta_req_free(m);
        return;
    }
    if (page->n == 1) {
        m->has_start = true;
        snprintf(m->start_id, sizeof m->start_id, "%s", page->items[0].id);
        m->start_ts = page->items[0].ts;
    }
    struct archive_query q = {.owner = m->owner, .dir = -1, .max = 1, .backward = true};
    store_archive_query(&q, meta_end_done, m);
}

/* <metadata xmlns='urn:xmpp:mam:2'/> get: the first and last items. */
int mam__metadata_iq(struct iq_ctx *ctx)
{
    if (!ctx->from_self) {
        mam__iq_error(ctx->iq, "auth", "forbidden");
        return 0;
    }
    struct mam_meta_req *m = calloc(1, sizeof *m);
    ALDIS_ASSERT(m != NULL);
    m->iq = stanza_ref(ctx->iq);
    m->owner = strdup(ctx->acct->bare);
    ALDIS_ASSERT(m->owner != NULL);
    struct archive_query q = {.owner = m->owner, .dir = -1, .max = 1};
    store_archive_query(&q, meta_start_done, m);
    return 0;
}

/* ---- searching other archives (MUC rooms: XEP-0313 §5.1.2) -------------- */

const char *mam_search_parse(const struct xml_node *query, const char *owner,
                             struct mam_search **out)
{
    struct mam_search *s = calloc(1, sizeof *s);
    ALDIS_ASSERT(s != NULL);
    s->q.owner = owner;
    const char *cond = search_parse(s, query);
    if (cond) {
        mam_search_free(s);
        *out = NULL;
        return cond;
    }
    *out = s;
    return NULL;
}

const struct archive_query *mam_search_query(const struct mam_search *s)
{
    return &s->q;
}

void mam_search_free(struct mam_search *s)
{
    if (!s)
        return;
    search_free(s);
    free(s);
}

const char *mam_error_type(const char *cond)
{
    return strcmp(cond, "feature-not-implemented") == 0 ? "cancel" : "modify";
}

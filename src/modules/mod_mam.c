/* mod_mam.c - Message Archive Management for user archives (XEP-0313), with
 * XEP-0359 stanza ids: which messages go into whose archive (recipient's
 * copy on HOOK_MESSAGE_IN, sender's on HOOK_MESSAGE_OUT), the stanza-id
 * stamped on delivered messages, the archiving preferences (XEP-0441, the
 * <prefs/> of urn:xmpp:mam:2), XEP-0424 retraction tombstones and the
 * retention limit. Queries are mam_query.c. Runs on the account's owner;
 * archive writes go to the store thread asynchronously, batched there. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/xml.h"
#include "modules/mam.h"
#include "modules/roster.h"

#define NS_HINTS "urn:xmpp:hints"
#define NS_RETRACT "urn:xmpp:message-retract:1"
#define NS_RETRACT_0 "urn:xmpp:message-retract:0"
#define NS_FASTEN "urn:xmpp:fasten:0"

/* The key of the preferences in the per-user key/value store: the <prefs/>
 * element as it is answered to a prefs get. */
#define MAM_PREFS_KEY "mam_prefs"
/* JIDs one preference list may hold (bounds memory and each check). */
#define MAM_PREFS_MAX 1000
/* Archive ids: 16 base32 characters, 80 random bits (XEP-0313 §5.2 asks
 * for unpredictable ids; XEP-0359 §4 for unique ones). */
#define MAM_ID_LEN 16
/* Retention: items deleted per store request, and how often to look. */
#define MAM_PURGE_BATCH 5000
#define MAM_PURGE_INTERVAL_US (600 * INT64_C(1000000))

extern struct module mod_mam;

enum mam_default { MAM_ALWAYS = 0, MAM_ROSTER, MAM_NEVER };
static const char *const mam_default_names[] = {"always", "roster", "never"};

/* Options (mam.*). */
static enum mam_default mam_default_pref = MAM_ALWAYS;
static long mam_max_age_days = 0; /* 0: keep forever */
long mam__page_default = 50;
long mam__page_max = 250;

/* MODULE_DATA(acct): the account's preferences, and the id its last
 * outbound message got (for mam_sent_id). Always allocated on load. */
struct mam_account {
    enum mam_default def;
    char **always, **never; /* prepared JIDs, bare or full */
    size_t nalways, nnever;
    const struct stanza *sent_st; /* compared only, never dereferenced */
    char sent_id[MAM_ID_LEN + 1];
};

/* ---- small helpers --------------------------------------------------------- */

static int64_t mam_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void mam_id_new(char out[MAM_ID_LEN + 1])
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[MAM_ID_LEN];
    ALDIS_ASSERT(RAND_bytes(rnd, sizeof rnd) == 1);
    for (size_t i = 0; i < MAM_ID_LEN; i++)
        out[i] = b32[rnd[i] & 31];
    out[MAM_ID_LEN] = '\0';
}

static char *mam_strdup(const char *s)
{
    char *d = strdup(s);
    ALDIS_ASSERT(d != NULL);
    return d;
}

static struct mam_account *mam_state(struct account *acct)
{
    return MODULE_DATA(acct, mod_mam);
}

/* ---- preferences (XEP-0441, namespace urn:xmpp:mam:2) ---------------------- */

static void prefs_lists_free(struct mam_account *p)
{
    for (size_t i = 0; i < p->nalways; i++)
        free(p->always[i]);
    for (size_t i = 0; i < p->nnever; i++)
        free(p->never[i]);
    free(p->always);
    free(p->never);
    p->always = p->never = NULL;
    p->nalways = p->nnever = 0;
}

/* Read the <jid/> children of <always/> or <never/>. */
static const char *prefs_list_parse(const struct xml_node *list, char ***out, size_t *n)
{
    if (!list)
        return NULL;
    for (struct xml_node *j = xml_child(list, "jid", NS_MAM); j; j = xml_next(j, "jid", NS_MAM)) {
        const char *text = xml_text(NULL, j);
        struct jid parsed;
        char buf[JID_STR_MAX];
        int rc = jid_parse(text, &parsed);
        free((void *)text);
        if (rc < 0)
            return "jid-malformed";
        if (*n == MAM_PREFS_MAX)
            return "policy-violation";
        char **grown = realloc(*out, (*n + 1) * sizeof *grown);
        ALDIS_ASSERT(grown != NULL);
        *out = grown;
        grown[(*n)++] = mam_strdup(jid_full(&parsed, buf, sizeof buf));
    }
    return NULL;
}

/* Fill p from a <prefs/> element; NULL or the error condition (then p's
 * lists are left empty). */
static const char *prefs_parse(struct mam_account *p, const struct xml_node *prefs)
{
    const char *def = xml_attr(prefs, "default");
    const char *cond = NULL;
    size_t d = 0;
    while (def && d < 3 && strcmp(def, mam_default_names[d]) != 0)
        d++;
    if (!def || d == 3)
        return "bad-request";
    p->def = (enum mam_default)d;
    if ((cond = prefs_list_parse(xml_child(prefs, "always", NS_MAM), &p->always, &p->nalways)) ||
        (cond = prefs_list_parse(xml_child(prefs, "never", NS_MAM), &p->never, &p->nnever)))
        prefs_lists_free(p);
    return cond;
}

/* <prefs default><always><jid/>...</always><never>...</never></prefs> as a
 * child of parent (or as the root of st when parent is NULL). */
static void prefs_build(struct stanza *st, struct xml_node *parent, const struct mam_account *p)
{
    struct xml_node *prefs = parent ? xml_add_child(st, parent, "prefs", NS_MAM) : st->root;
    xml_set_attr(st, prefs, "default", mam_default_names[p->def]);
    struct xml_node *always = xml_add_child(st, prefs, "always", NS_MAM);
    for (size_t i = 0; i < p->nalways; i++) {
        struct xml_node *j = xml_add_child(st, always, "jid", NS_MAM);
        xml_add_text(st, j, p->always[i], strlen(p->always[i]));
    }
    struct xml_node *never = xml_add_child(st, prefs, "never", NS_MAM);
    for (size_t i = 0; i < p->nnever; i++) {
        struct xml_node *j = xml_add_child(st, never, "jid", NS_MAM);
        xml_add_text(st, j, p->never[i], strlen(p->never[i]));
    }
}

static bool prefs_list_has(char *const *list, size_t n, const char *bare, const char *full)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], bare) == 0 || (full && strcmp(list[i], full) == 0))
            return true;
    return false;
}

/* Does the account archive messages with peer (XEP-0441 §2)? A JID on the
 * never list wins over the always list (privacy first), then the default;
 * 'roster' means contacts in the roster. */
static bool prefs_allow(struct account *acct, const struct jid *peer)
{
    struct mam_account *p = mam_state(acct);
    char bare[JID_STR_MAX], full[JID_STR_MAX];
    jid_bare(peer, bare, sizeof bare);
    const char *f = peer->resource ? jid_full(peer, full, sizeof full) : NULL;
    enum mam_default def = p ? p->def : mam_default_pref;
    if (p && prefs_list_has(p->never, p->nnever, bare, f))
        return false;
    if (p && prefs_list_has(p->always, p->nalways, bare, f))
        return true;
    switch (def) {
    case MAM_ALWAYS:
        return true;
    case MAM_NEVER:
        return false;
    case MAM_ROSTER:
        return roster_find(acct, bare) != NULL;
    }
    return false;
}

struct mam_load {
    struct account *acct;
    void (*done)(struct account *);
};

static void mam_prefs_loaded(void *ud, int err, const char *value, size_t len)
{
    struct mam_load *load = ud;
    struct mam_account *p = calloc(1, sizeof *p);
    ALDIS_ASSERT(p != NULL);
    p->def = mam_default_pref;
    if (err == 0 && value) {
        struct stanza *st = stanza_parse(value, len);
        if (!st || !xml_is(st->root, "prefs", NS_MAM) || prefs_parse(p, st->root))
            log_warn("mam", "stored archiving preferences of %s are unreadable; using defaults",
                     load->acct->bare);
        if (st)
            stanza_unref(st);
    } else if (err < 0 && err != ALDIS_ENOTFOUND) {
        log_warn("mam", "reading the archiving preferences of %s failed: %s", load->acct->bare,
                 aldis_strerror(err));
    }
    MODULE_DATA(load->acct, mod_mam) = p;
    load->done(load->acct);
    free(load);
}

static void mam_account_load(struct account *acct, void (*done)(struct account *))
{
    struct mam_load *load = malloc(sizeof *load);
    ALDIS_ASSERT(load != NULL);
    load->acct = acct;
    load->done = done;
    store_kv_get(acct->bare, MAM_PREFS_KEY, mam_prefs_loaded, load);
}

static void mam_account_free(struct account *acct)
{
    struct mam_account *p = mam_state(acct);
    if (p) {
        prefs_lists_free(p);
        free(p);
    }
    MODULE_DATA(acct, mod_mam) = NULL;
}

struct mam_prefs_save {
    struct stanza *iq;    /* the set, ref */
    struct stanza *reply; /* its result, sent once stored */
};

static void prefs_saved(void *ud, int err)
{
    struct mam_prefs_save *save = ud;
    if (err < 0) {
        log_error("mam", "storing archiving preferences failed: %s", aldis_strerror(err));
        mam__iq_error(save->iq, "wait", "internal-server-error");
        stanza_unref(save->reply);
    } else {
        router_route(save->reply);
    }
    stanza_unref(save->iq);
    free(save);
}

/* <prefs/> get and set (XEP-0441 §3): the user only. A set replaces the
 * preferences and is answered with them as stored, once they are. */
static int mam_prefs_iq(struct iq_ctx *ctx)
{
    struct mam_account *p = mam_state(ctx->acct);
    if (!ctx->from_self) {
        mam__iq_error(ctx->iq, "auth", "forbidden");
        return 0;
    }
    if (!p) { /* not loaded: the core loads before dispatching; be safe */
        mam__iq_error(ctx->iq, "wait", "internal-server-error");
        return 0;
    }
    if (ctx->kind == IQ_GET) {
        struct stanza *r = stanza_iq_result(ctx->iq);
        prefs_build(r, r->root, p);
        router_route(r);
        return 0;
    }
    struct mam_account next = {0};
    const char *cond = prefs_parse(&next, ctx->payload);
    if (cond) {
        mam__iq_error(ctx->iq, "modify", cond);
        return 0;
    }
    prefs_lists_free(p);
    p->def = next.def;
    p->always = next.always;
    p->nalways = next.nalways;
    p->never = next.never;
    p->nnever = next.nnever;

    struct stanza *value = stanza_new("prefs", NS_MAM);
    prefs_build(value, NULL, p);
    size_t len;
    char *xml = stanza_to_string(value, &len);
    stanza_unref(value);
    struct mam_prefs_save *save = malloc(sizeof *save);
    ALDIS_ASSERT(save != NULL);
    save->iq = stanza_ref(ctx->iq);
    save->reply = stanza_iq_result(ctx->iq);
    prefs_build(save->reply, save->reply->root, p);
    store_kv_put(ctx->acct->bare, MAM_PREFS_KEY, xml, len, prefs_saved, save);
    free(xml);
    return 0;
}

/* ---- what gets archived (§7.1.1) -------------------------------------------- */

/* The id a XEP-0424 retraction names, or NULL: <retract id/> (namespace
 * :1) or the older <apply-to id><retract/></apply-to> (:0, XEP-0422). */
static const char *retract_target(const struct stanza *st)
{
    struct xml_node *r = xml_child(st->root, "retract", NS_RETRACT);
    if (r)
        return xml_attr(r, "id");
    struct xml_node *a = xml_child(st->root, "apply-to", NS_FASTEN);
    if (a && xml_child(a, "retract", NS_RETRACT_0))
        return xml_attr(a, "id");
    return NULL;
}

/* XEP-0313 §7.1.1: messages of type normal or chat with a <body/> (a
 * missing or unknown type is normal, RFC 6121 §5.2.2); never errors,
 * headlines, or groupchat (MAY; a user archive here leaves room traffic to
 * the room's archive). XEP-0334: <store/> asks for bodyless ones too,
 * <no-store/> and <no-permanent-store/> keep any message out. XEP-0424:
 * retractions are always kept. XEP-0308 corrections are messages with a
 * body: kept as they are, the client applies them. */
static bool mam_wanted(const struct stanza *st)
{
    const char *type = stanza_type(st);
    if (type && (strcmp(type, "error") == 0 || strcmp(type, "groupchat") == 0 ||
                 strcmp(type, "headline") == 0))
        return false;
    if (xml_child(st->root, "no-store", NS_HINTS) ||
        xml_child(st->root, "no-permanent-store", NS_HINTS))
        return false;
    /* Archive results and forwards made by servers are not conversation. */
    if (xml_child(st->root, "result", NS_MAM))
        return false;
    return xml_child(st->root, "body", NULL) || xml_child(st->root, "store", NS_HINTS) ||
           retract_target(st);
}

/* XEP-0359 origin-id of a message, else its 'id': what a retraction names. */
static const char *origin_of(const struct stanza *st)
{
    struct xml_node *o = xml_child(st->root, "origin-id", NS_SID);
    const char *id = o ? xml_attr(o, "id") : NULL;
    return id ? id : stanza_id(st);
}

/* XEP-0424 tombstones: once a retraction is archived, the message it names
 * in the same archive, same conversation and same direction (so from the
 * same sender: §6 business rules) has its content replaced by
 * <retracted stamp/>, keeping its attributes and origin-id; id, time and
 * party stay (XEP-0313 §3.2: no holes). Its XEP-0308 corrections (later
 * messages of the same sender with <replace id/> naming it) carry the
 * retracted text too: they get tombstones as well, so the archive tells
 * one consistent story (XEP-0424 §4: everything that would leak the
 * original goes; a correction alone is archived as is, original kept). */
#define NS_CORRECT "urn:xmpp:message-correct:0"
/* How many later messages of the conversation are searched for
 * corrections ("last message" correction: they follow closely). */
#define MAM_CORRECTION_SCAN 100

struct mam_retract {
    char *owner;
    char *stamp;
    char *with;
    int dir;
    char *orig_id;     /* the retracted message's 'id' attribute, or NULL */
    char *orig_origin; /* and its origin-id, or NULL */
};

static void retract_free(struct mam_retract *r)
{
    free(r->owner);
    free(r->stamp);
    free(r->with);
    free(r->orig_id);
    free(r->orig_origin);
    free(r);
}

static void tombstone_done(void *ud, int err)
{
    if (err < 0 && err != ALDIS_ENOTFOUND)
        log_warn("mam", "writing a retraction tombstone for %s failed: %s", (char *)ud,
                 aldis_strerror(err));
    free(ud);
}

/* Replace archived item `it` (parsed as `orig`) by its tombstone. */
static void tombstone_write(const struct mam_retract *r, const struct archive_item *it,
                            const struct stanza *orig)
{
    struct stanza *tomb = stanza_new("message", NULL);
    for (const struct xml_attr *a = orig->root->attrs; a; a = a->next)
        if (a->ns)
            xml_set_attr_ns(tomb, tomb->root, a->ns, a->name, a->value);
        else
            xml_set_attr(tomb, tomb->root, a->name, a->value);
    struct xml_node *rd = xml_add_child(tomb, tomb->root, "retracted", NS_RETRACT);
    xml_set_attr(tomb, rd, "stamp", r->stamp);
    struct xml_node *oid = xml_child(orig->root, "origin-id", NS_SID);
    if (oid)
        xml_copy_into(tomb, tomb->root, oid);
    size_t len;
    char *xml = stanza_to_string(tomb, &len);
    store_archive_update(r->owner, it->id, xml, len, it->flags | ARCHIVE_FLAG_RETRACTED,
                         tombstone_done, mam_strdup(r->owner));
    free(xml);
    stanza_unref(tomb);
}

/* The messages after the retracted one: tombstone its corrections. */
static void corrections_found(void *ud, int err, const struct archive_page *page)
{
    struct mam_retract *r = ud;
    for (size_t i = 0; err >= 0 && i < page->n; i++) {
        const struct archive_item *it = &page->items[i];
        if (it->flags & ARCHIVE_FLAG_RETRACTED)
            continue;
        struct stanza *st = stanza_parse(it->xml, it->len);
        if (!st)
            continue;
        struct xml_node *rep = xml_child(st->root, "replace", NS_CORRECT);
        const char *target = rep ? xml_attr(rep, "id") : NULL;
        if (target && ((r->orig_id && strcmp(target, r->orig_id) == 0) ||
                       (r->orig_origin && strcmp(target, r->orig_origin) == 0)))
            tombstone_write(r, it, st);
        stanza_unref(st);
    }
    retract_free(r);
}

static void retract_found(void *ud, int err, const struct archive_page *page)
{
    struct mam_retract *r = ud;
    if (err < 0 || page->n == 0 || (page->items[0].flags & ARCHIVE_FLAG_RETRACTED))
        goto out;
    const struct archive_item *it = &page->items[0];
    struct stanza *orig = stanza_parse(it->xml, it->len);
    if (!orig)
        goto out;
    tombstone_write(r, it, orig);
    const char *id = stanza_id(orig);
    struct xml_node *oid = xml_child(orig->root, "origin-id", NS_SID);
    const char *origin = oid ? xml_attr(oid, "id") : NULL;
    r->orig_id = id ? mam_strdup(id) : NULL;
    r->orig_origin = origin ? mam_strdup(origin) : NULL;
    stanza_unref(orig);
    if (!r->orig_id && !r->orig_origin)
        goto out;
    struct archive_query q = {.owner = r->owner, .with = r->with, .after_id = it->id,
                              .dir = r->dir, .max = MAM_CORRECTION_SCAN};
    store_archive_query(&q, corrections_found, r);
    return;
out:
    retract_free(r);
}

static void retract_apply(const char *owner, const char *with, enum archive_dir dir,
                          const char *target, int64_t now)
{
    char stamp[48];
    struct mam_retract *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    mam__time_format(now, stamp, sizeof stamp);
    r->owner = mam_strdup(owner);
    r->stamp = mam_strdup(stamp);
    r->with = mam_strdup(with);
    r->dir = (int)dir;
    /* Newest first: the message retracted is normally a recent one. */
    struct archive_query q = {.owner = owner, .with = with, .origin_id = target,
                              .dir = (int)dir, .max = 1, .backward = true};
    store_archive_query(&q, retract_found, r);
}

/* ---- retention ------------------------------------------------------------ */

/* When the next purge may run (µs), shared by all workers; 0 = now. */
static _Atomic int64_t mam_next_purge;

static void purge_done(void *ud, int err, int64_t deleted)
{
    if (err < 0)
        log_warn("mam", "archive retention purge failed: %s", aldis_strerror(err));
    else if (deleted == MAM_PURGE_BATCH)
        atomic_store(&mam_next_purge, 0); /* more to go: again at the next append */
    if (deleted > 0)
        log_debug("mam", "retention removed %lld archived messages", (long long)deleted);
}

/* Option max_age_days: checked at append time, at most every ten minutes
 * (plus right after a full batch), so the cost on the hot path is one
 * atomic read; the purge itself runs on the store thread in bounded
 * batches. */
static void retention_tick(int64_t now)
{
    if (mam_max_age_days <= 0)
        return;
    int64_t next = atomic_load(&mam_next_purge);
    if (now < next ||
        !atomic_compare_exchange_strong(&mam_next_purge, &next, now + MAM_PURGE_INTERVAL_US))
        return;
    store_archive_purge(now - mam_max_age_days * 86400 * INT64_C(1000000), MAM_PURGE_BATCH,
                        purge_done, NULL);
}

/* ---- archiving ------------------------------------------------------------ */

/* Write st to owner's archive under id; with/peer: the other party. */
static void archive_append(struct account *acct, const char *id, const struct stanza *st,
                           const struct jid *peer, enum archive_dir dir, int64_t now)
{
    char with[JID_STR_MAX], full[JID_STR_MAX];
    jid_bare(peer, with, sizeof with);
    jid_full(peer, full, sizeof full);
    size_t len;
    char *xml = stanza_to_string(st, &len);
    const char *origin = origin_of(st);
    struct archive_item it = {.id = (char *)id, .ts = now, .with = with, .peer = full,
                              .dir = dir, .origin_id = (char *)origin, .xml = xml, .len = len};
    store_archive_append(acct->bare, &it, NULL, NULL);
    free(xml);
    const char *target = retract_target(st);
    if (target)
        retract_apply(acct->bare, with, dir, target, now);
    retention_tick(now);
}

/* XEP-0359 §4: a stanza-id claiming to be by this archive and not put there
 * by us is a forgery; remove every one. Returns whether there was one. */
static bool strip_own_stanza_ids(struct stanza *st, const char *by)
{
    bool found = false;
    struct xml_node *el = xml_child(st->root, "stanza-id", NS_SID);
    while (el) {
        struct xml_node *next = xml_next(el, "stanza-id", NS_SID);
        const char *b = xml_attr(el, "by");
        if (b && strcmp(b, by) == 0) {
            if (st->frozen)
                return true; /* only looking */
            xml_remove(el);
            found = true;
        }
        el = next;
    }
    return found;
}

/* Would mod_message drop or bounce this rather than deliver or store it?
 * RFC 6121 §8.5.3.2.1: to a full JID with no such resource, only chat is
 * taken (as if to the bare JID). XEP-0313 §7.1: what is refused is not
 * archived. */
static bool refused_for_full_jid(struct hook_ctx *ctx)
{
    if (!ctx->to || !ctx->to->resource || account_resource(ctx->acct, ctx->to->resource))
        return false;
    const char *type = stanza_type(ctx->st);
    return !type || strcmp(type, "chat") != 0;
}

/* HOOK_MESSAGE_IN, above mod_message and carbons, below blocking (a
 * blocked message is refused, so not archived): the recipient's copy.
 * The message delivered carries <stanza-id by=archive id=.../> (§3.5). */
static int mam_message_in(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    if (!acct->exists || !ctx->from)
        return HOOK_PASS;
    bool forged = strip_own_stanza_ids(ctx->st, acct->bare);
    bool archive = mam_wanted(ctx->st) && !refused_for_full_jid(ctx) &&
                   prefs_allow(acct, ctx->from);
    if (!archive && !forged)
        return HOOK_PASS;

    /* A stanza routed here is frozen and shared: change a copy, which
     * replaces it for the later hooks (module.h). One made by an earlier
     * hook is not frozen and already ours to change. */
    struct stanza *st = ctx->st;
    if (st->frozen) {
        st = stanza_copy(ctx->st);
        ctx->st = st;
    }
    strip_own_stanza_ids(st, acct->bare);
    if (!archive)
        return HOOK_PASS;

    char id[MAM_ID_LEN + 1];
    mam_id_new(id);
    archive_append(acct, id, st, ctx->from, ARCHIVE_IN, mam_now_us());
    struct xml_node *sid = xml_add_child(st, st->root, "stanza-id", NS_SID);
    xml_set_attr(st, sid, "id", id);
    xml_set_attr(st, sid, "by", acct->bare);
    return HOOK_PASS;
}

/* HOOK_MESSAGE_OUT: the sender's copy, as sent. No stanza-id goes out with
 * it (§3.5: the recipient may not read the sender's archive); mam_sent_id
 * gives it to sent carbons. A message to one's own bare JID is archived
 * once, as it arrives (HOOK_MESSAGE_IN). */
static int mam_message_out(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    struct mam_account *p = mam_state(acct);
    if (p)
        p->sent_st = NULL;
    if (!acct->exists || !ctx->to || !mam_wanted(ctx->st))
        return HOOK_PASS;
    char bare[JID_STR_MAX];
    if (strcmp(jid_bare(ctx->to, bare, sizeof bare), acct->bare) == 0)
        return HOOK_PASS;
    if (!prefs_allow(acct, ctx->to))
        return HOOK_PASS;
    char id[MAM_ID_LEN + 1];
    mam_id_new(id);
    archive_append(acct, id, ctx->st, ctx->to, ARCHIVE_OUT, mam_now_us());
    if (p) {
        p->sent_st = ctx->st;
        memcpy(p->sent_id, id, sizeof p->sent_id);
    }
    return HOOK_PASS;
}

const char *mam_sent_id(struct account *acct, const struct stanza *st)
{
    if (!host_module_enabled(acct->host, &mod_mam))
        return NULL;
    struct mam_account *p = mam_state(acct);
    return p && p->sent_st && p->sent_st == st ? p->sent_id : NULL;
}

/* ---- module ------------------------------------------------------------------ */

static int mam_init(const struct config *cfg, char *err, size_t errlen)
{
    int rc;
    const char *def = config_module_str(cfg, "mam", "default", "always");
    size_t d = 0;
    while (d < 3 && strcmp(def, mam_default_names[d]) != 0)
        d++;
    if (d == 3) {
        snprintf(err, errlen, "%s: option 'default' for module 'mam' must be always, roster "
                 "or never, not '%s'", cfg->path ? cfg->path : "config", def);
        return ALDIS_ECONFIG;
    }
    mam_default_pref = (enum mam_default)d;
    if ((rc = config_module_int(cfg, "mam", "max_age_days", 0, 0, 36500, &mam_max_age_days, err,
                                errlen)) < 0 ||
        (rc = config_module_int(cfg, "mam", "page_max", 250, 1, ARCHIVE_PAGE_MAX,
                                &mam__page_max, err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "mam", "page_default", 50, 1, ARCHIVE_PAGE_MAX,
                                &mam__page_default, err, errlen)) < 0)
        return rc;
    if (mam__page_default > mam__page_max)
        mam__page_default = mam__page_max;
    atomic_store(&mam_next_purge, 0);
    return 0;
}

static const char *const mam_host_features[] = {NS_SID, NULL};
/* XEP-0313 §8 (disco on the archive, the bare JID), XEP-0359 §7, XEP-0424
 * (retractions are archived; tombstones replace what they retract). */
static const char *const mam_account_features[] = {
    NS_MAM, NS_MAM_EXTENDED, "urn:xmpp:mam:2#groupchat-field", NS_SID,
    NS_RETRACT, NS_RETRACT "#tombstone", NULL};
static const struct iq_handler mam_iq[] = {
    {IQ_GET | IQ_SET, TARGET_ACCOUNT, NS_MAM, "query", mam__query_iq},
    {IQ_GET | IQ_SET, TARGET_ACCOUNT, NS_MAM, "prefs", mam_prefs_iq},
    {IQ_GET, TARGET_ACCOUNT, NS_MAM, "metadata", mam__metadata_iq},
    {0},
};
/* Blocking is at 1000 on HOOK_MESSAGE_IN, carbons at 1 and mod_message at
 * 0: archive (and stamp) between them. Sent carbons run at -100 on
 * HOOK_MESSAGE_OUT and may ask mam_sent_id. */
static const struct hook_row mam_hooks[] = {
    {HOOK_MESSAGE_IN, 500, mam_message_in},
    {HOOK_MESSAGE_OUT, 100, mam_message_out},
    {0},
};

struct module mod_mam = {
    .name = "mam",
    .host_features = mam_host_features,
    .account_features = mam_account_features,
    .iq_handlers = mam_iq,
    .hooks = mam_hooks,
    .init = mam_init,
    .account_load = mam_account_load,
    .account_free = mam_account_free,
};

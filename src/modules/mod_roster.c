/* mod_roster.c - the roster (RFC 6121 §2): per-account contact lists loaded
 * with the account, the jabber:iq:roster get/set protocol with roster
 * pushes, and the roster side of subscriptions (the items mod_presence
 * updates through roster_subscription_apply()).
 *
 * Memory: each account's roster is a sorted array of items keyed by the
 * contact's JID (binary search; rosters hold thousands of items). Writes
 * go through to the store, fire-and-forget, in the order they are made.
 *
 * Contacts that asked for a subscription but that the user never added are
 * kept as "unlisted" records (RFC 6121 §3.1.3: the server notes the request
 * but MUST NOT create a roster item): they are stored with the roster so
 * the request survives a restart, but roster gets and pushes skip them. In
 * the store, such a record's pending_stanza is the request wrapped in
 * <unlisted xmlns='urn:aldis:roster:0'/>; a listed item keeps the bare
 * request. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "modules/blocking.h"
#include "modules/roster.h"

#define NS_ROSTER "jabber:iq:roster"
#define NS_ALDIS_ROSTER "urn:aldis:roster:0"
#define ROSTER_NAME_MAX 1023  /* bytes of a 'name' (§2.3.3: not-acceptable beyond) */
#define ROSTER_GROUP_MAX 1023 /* bytes of one group name */
#define ROSTER_GROUPS_MAX 64  /* groups on one item */
/* A kept subscription request larger than this (a long <status/>, odd
 * extensions) is kept as a bare request instead: pending requests come from
 * strangers and are stored until answered. */
#define ROSTER_PENDING_STANZA_MAX 4096

extern struct module mod_roster;

struct ritem {
    struct roster_item it; /* every string malloc'd; it.pending_stanza is the bare request */
    bool unlisted;         /* a pending request only, not in the user's roster */
};

struct roster {
    struct ritem **items; /* sorted by it.jid (strcmp) */
    size_t n, cap;
    size_t unlisted; /* how many of the items are unlisted requests */
    /* XEP-0237 / RFC 6121 §2.6: the store's version counter, which every
     * put and delete of this roster bumps by one; mirrored here. */
    int64_t version;
};

static long roster_max_items = 10000;  /* listed items per account */
static long roster_max_pending = 1000; /* unlisted requests per account */

/* ---- items ------------------------------------------------------------- */

static void ritem_free(struct ritem *ri)
{
    if (!ri)
        return;
    free(ri->it.jid);
    free(ri->it.name);
    for (size_t i = 0; i < ri->it.ngroups; i++)
        free(ri->it.groups[i]);
    free(ri->it.groups);
    free(ri->it.pending_stanza);
    free(ri);
}

static struct ritem *ritem_new(const char *jid)
{
    struct ritem *ri = calloc(1, sizeof *ri);
    ALDIS_ASSERT(ri);
    ri->it.jid = aldis_strdup(jid);
    return ri;
}

static void ritem_set_groups(struct ritem *ri, char **groups, size_t n)
{
    for (size_t i = 0; i < ri->it.ngroups; i++)
        free(ri->it.groups[i]);
    free(ri->it.groups);
    ri->it.groups = groups;
    ri->it.ngroups = n;
}

static struct roster *roster_of(struct account *acct)
{
    if (!acct || !host_module_enabled(acct->host, &mod_roster))
        return NULL;
    return MODULE_DATA(acct, mod_roster);
}

/* Index of jid, or of where it would be inserted (*found false). */
static size_t roster_search(const struct roster *r, const char *jid, bool *found)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->items[mid]->it.jid, jid);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static struct ritem *roster_get(const struct roster *r, const char *jid)
{
    bool found;
    size_t i = roster_search(r, jid, &found);
    return found ? r->items[i] : NULL;
}

static void roster_insert(struct roster *r, struct ritem *ri)
{
    bool found;
    size_t i = roster_search(r, ri->it.jid, &found);
    ALDIS_ASSERT(!found);
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct ritem **items = realloc(r->items, cap * sizeof *items);
        ALDIS_ASSERT(items);
        r->items = items;
        r->cap = cap;
    }
    memmove(&r->items[i + 1], &r->items[i], (r->n - i) * sizeof *r->items);
    r->items[i] = ri;
    r->n++;
}

/* Unlink and return the item (the caller frees it). */
static struct ritem *roster_unlink(struct roster *r, const char *jid)
{
    bool found;
    size_t i = roster_search(r, jid, &found);
    if (!found)
        return NULL;
    struct ritem *ri = r->items[i];
    memmove(&r->items[i], &r->items[i + 1], (r->n - i - 1) * sizeof *r->items);
    r->n--;
    return ri;
}

static void roster_free(struct roster *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        ritem_free(r->items[i]);
    free(r->items);
    free(r);
}

/* ---- store ------------------------------------------------------------- */

static void store_write_done(void *ud, int err)
{
    char *bare = ud;
    if (err)
        log_error("roster", "store write for %s failed: %s", bare, aldis_strerror(err));
    free(bare);
}

static void roster_version_bump(struct account *acct)
{
    struct roster *r = MODULE_DATA(acct, mod_roster);
    if (r)
        r->version++;
}

/* Write one item through (the store copies the item when called). */
static void roster_store_put(struct account *acct, const struct ritem *ri)
{
    struct roster_item copy = ri->it;
    char *wrapped = NULL;
    if (ri->unlisted) {
        const char *req = ri->it.pending_stanza ? ri->it.pending_stanza : "";
        size_t len = strlen(req) + 64;
        wrapped = malloc(len);
        ALDIS_ASSERT(wrapped);
        snprintf(wrapped, len, "<unlisted xmlns='%s'>%s</unlisted>", NS_ALDIS_ROSTER, req);
        copy.pending_stanza = wrapped;
    }
    store_roster_put(acct->bare, &copy, store_write_done, aldis_strdup(acct->bare));
    free(wrapped);
    roster_version_bump(acct);
}

static void roster_store_del(struct account *acct, const char *contact)
{
    store_roster_del(acct->bare, contact, store_write_done, aldis_strdup(acct->bare));
    roster_version_bump(acct);
}

/* Rebuild the in-memory item from a stored one (see the file comment for
 * the pending_stanza encoding). */
static struct ritem *ritem_from_store(const struct roster_item *src)
{
    struct ritem *ri = ritem_new(src->jid);
    ri->it.name = aldis_strdup(src->name);
    ri->it.subscription = src->subscription;
    ri->it.ask = src->ask;
    ri->it.pending_in = src->pending_in;
    ri->it.approved = src->approved;
    if (src->ngroups) {
        ri->it.groups = calloc(src->ngroups, sizeof *ri->it.groups);
        ALDIS_ASSERT(ri->it.groups);
        for (size_t i = 0; i < src->ngroups; i++)
            ri->it.groups[i] = aldis_strdup(src->groups[i]);
        ri->it.ngroups = src->ngroups;
    }
    if (src->pending_stanza) {
        struct stanza *st = stanza_parse(src->pending_stanza, strlen(src->pending_stanza));
        if (st && xml_is(st->root, "unlisted", NS_ALDIS_ROSTER)) {
            struct xml_node *req = xml_first_elem(st->root);
            ri->unlisted = true;
            if (req) {
                struct buf b;
                buf_init(&b);
                xml_serialize(req, NULL, &b);
                ri->it.pending_stanza = buf_steal(&b, NULL);
            }
        } else if (st) {
            ri->it.pending_stanza = aldis_strdup(src->pending_stanza);
        }
        stanza_unref(st);
    }
    return ri;
}

struct load_req {
    struct account *acct;
    void (*done)(struct account *);
};

static void roster_loaded(void *ud, int err, const struct roster_item *items, size_t n,
                          int64_t version)
{
    struct load_req *req = ud;
    struct roster *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r);
    if (err) {
        /* The account still works, with an empty roster in memory; nothing
         * stored is overwritten unless the user changes that item. */
        log_error("roster", "loading the roster of %s failed: %s", req->acct->bare,
                  aldis_strerror(err));
    } else {
        r->version = version;
        for (size_t i = 0; i < n; i++) {
            if (!items[i].jid || roster_get(r, items[i].jid))
                continue;
            struct ritem *ri = ritem_from_store(&items[i]);
            r->unlisted += ri->unlisted;
            roster_insert(r, ri);
        }
    }
    MODULE_DATA(req->acct, mod_roster) = r;
    req->done(req->acct);
    free(req);
}

static void roster_account_load(struct account *acct, void (*done)(struct account *))
{
    struct load_req *req = malloc(sizeof *req);
    ALDIS_ASSERT(req);
    req->acct = acct;
    req->done = done;
    store_roster_load(acct->bare, roster_loaded, req);
}

static void roster_account_free(struct account *acct)
{
    roster_free(MODULE_DATA(acct, mod_roster));
    MODULE_DATA(acct, mod_roster) = NULL;
}

/* ---- building and pushing ---------------------------------------------- */

static void item_build(struct stanza *st, struct xml_node *query, const struct roster_item *it,
                       bool removed)
{
    struct xml_node *item = xml_add_child(st, query, "item", NULL);
    xml_set_attr(st, item, "jid", it->jid);
    if (removed) {
        xml_set_attr(st, item, "subscription", "remove");
        return;
    }
    if (it->name)
        xml_set_attr(st, item, "name", it->name);
    xml_set_attr(st, item, "subscription", roster_sub_name(it->subscription));
    if (it->ask)
        xml_set_attr(st, item, "ask", "subscribe");
    /* §2.1.2.1: shown only to mark a pre-approval (§3.4) */
    if (it->approved && !(it->subscription & SUB_FROM))
        xml_set_attr(st, item, "approved", "true");
    for (size_t i = 0; i < it->ngroups; i++) {
        struct xml_node *g = xml_add_child(st, item, "group", NULL);
        xml_add_text(st, g, it->groups[i], strlen(it->groups[i]));
    }
}

static void query_set_version(struct stanza *st, struct xml_node *query, const struct roster *r)
{
    char ver[32];
    snprintf(ver, sizeof ver, "%lld", (long long)r->version);
    xml_set_attr(st, query, "ver", ver);
}

/* RFC 6121 §2.1.6: a roster push to every interested resource (with the
 * roster version it leads to, §2.6.4). */
static void roster_push(struct account *acct, const struct roster_item *it, bool removed)
{
    const struct roster *r = MODULE_DATA(acct, mod_roster);
    static atomic_ullong push_seq; /* ids only need to be unique */
    for (struct resource *res = acct->resources; res; res = res->next) {
        if (!res->interested)
            continue;
        char id[32];
        snprintf(id, sizeof id, "push%llu", atomic_fetch_add(&push_seq, 1) + 1);
        struct stanza *st = stanza_new("iq", NULL);
        xml_set_attr(st, st->root, "type", "set");
        xml_set_attr(st, st->root, "id", id);
        xml_set_attr(st, st->root, "from", acct->bare);
        xml_set_attr(st, st->root, "to", res->full);
        struct xml_node *q = xml_add_child(st, st->root, "query", NS_ROSTER);
        query_set_version(st, q, r);
        item_build(st, q, it, removed);
        account_send(acct, res, st);
    }
}

/* Presence the server sends on the user's behalf; never to a blocked JID
 * (XEP-0191 §5.3). */
static void presence_send(struct account *acct, const char *from, const char *to,
                          const char *type)
{
    if (blocking_is_blocked(acct, to))
        return;
    struct stanza *st = stanza_new("presence", NULL);
    xml_set_attr(st, st->root, "from", from);
    xml_set_attr(st, st->root, "to", to);
    if (type)
        xml_set_attr(st, st->root, "type", type);
    router_route(st);
}

/* ---- the API of roster.h ------------------------------------------------ */

const struct roster_item *roster_find(struct account *acct, const char *contact_bare)
{
    struct roster *r = roster_of(acct);
    struct ritem *ri = r && contact_bare ? roster_get(r, contact_bare) : NULL;
    return ri && !ri->unlisted ? &ri->it : NULL;
}

bool roster_has_from(struct account *acct, const char *contact_bare)
{
    const struct roster_item *it = roster_find(acct, contact_bare);
    return it && (it->subscription & SUB_FROM);
}

bool roster_has_to(struct account *acct, const char *contact_bare)
{
    const struct roster_item *it = roster_find(acct, contact_bare);
    return it && (it->subscription & SUB_TO);
}

void roster_foreach(struct account *acct,
                    void (*fn)(const struct roster_item *item, void *ud), void *ud)
{
    struct roster *r = roster_of(acct);
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        if (!r->items[i]->unlisted)
            fn(&r->items[i]->it, ud);
}

void roster_foreach_pending(struct account *acct,
                            void (*fn)(const char *contact, struct stanza *request, void *ud),
                            void *ud)
{
    struct roster *r = roster_of(acct);
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        const struct roster_item *it = &r->items[i]->it;
        if (!it->pending_in)
            continue;
        struct stanza *st = NULL;
        if (it->pending_stanza)
            st = stanza_parse(it->pending_stanza, strlen(it->pending_stanza));
        if (st && !xml_is(st->root, "presence", NS_CLIENT)) {
            stanza_unref(st);
            st = NULL;
        }
        if (!st) {
            /* No kept copy: a minimal request says the same thing. */
            st = stanza_new("presence", NULL);
            xml_set_attr(st, st->root, "type", "subscribe");
        }
        xml_set_attr(st, st->root, "from", it->jid);
        xml_set_attr(st, st->root, "to", acct->bare);
        fn(it->jid, st, ud);
        stanza_unref(st);
    }
}

static bool state_trivial(const struct roster_state *s)
{
    return s->sub == SUB_NONE && !s->ask && !s->pending_in && !s->approved;
}

unsigned roster_subscription_apply(struct account *acct, const char *contact_bare,
                                   enum roster_event ev, const struct stanza *st)
{
    struct roster *r = roster_of(acct);
    if (!r || !contact_bare)
        return 0;
    bool outbound = ev < ROSTER_IN_SUBSCRIBE;
    struct ritem *ri = roster_get(r, contact_bare);
    struct roster_state cur = {SUB_NONE, false, false, false};
    if (ri)
        cur = (struct roster_state){ri->it.subscription, ri->it.ask, ri->it.pending_in,
                                    ri->it.approved};
    struct roster_state next;
    unsigned act = roster_state_apply(&cur, ev, &next);
    if (!(act & ROSTER_ACT_CHANGED))
        return act;

    bool was_listed = ri && !ri->unlisted;
    if (ri && ri->unlisted && state_trivial(&next)) {
        /* A request withdrawn or denied before the user added the contact:
         * nothing is left to remember (and no item was ever shown). */
        roster_store_del(acct, contact_bare);
        ritem_free(roster_unlink(r, contact_bare));
        r->unlisted--;
        return act & ~(unsigned)ROSTER_ACT_PUSH;
    }
    if (!ri) {
        /* Only the user's own actions create roster items (§3.1.2, §3.1.5,
         * §3.4.2); a contact's request is only noted (§3.1.3). */
        bool full = outbound ? (long)(r->n - r->unlisted) >= roster_max_items
                             : (long)r->unlisted >= roster_max_pending;
        if (full) {
            log_warn("roster", "%s: no room for %s (max_items %ld, max_pending %ld): %s ignored",
                     acct->bare, contact_bare, roster_max_items, roster_max_pending,
                     st && stanza_type(st) ? stanza_type(st) : "?");
            return 0;
        }
        ri = ritem_new(contact_bare);
        ri->unlisted = !outbound;
        r->unlisted += ri->unlisted;
        roster_insert(r, ri);
    } else if (outbound && ri->unlisted) {
        ri->unlisted = false;
        r->unlisted--;
    }
    ri->it.subscription = next.sub;
    ri->it.ask = next.ask;
    ri->it.pending_in = next.pending_in;
    ri->it.approved = next.approved;
    if (next.pending_in && !cur.pending_in && st) {
        size_t len;
        free(ri->it.pending_stanza);
        ri->it.pending_stanza = stanza_to_string(st, &len);
        if (len > ROSTER_PENDING_STANZA_MAX) {
            /* roster_foreach_pending rebuilds a bare request from NULL */
            free(ri->it.pending_stanza);
            ri->it.pending_stanza = NULL;
        }
    } else if (!next.pending_in) {
        free(ri->it.pending_stanza);
        ri->it.pending_stanza = NULL;
    }

    roster_store_put(acct, ri);
    if (!ri->unlisted && ((act & ROSTER_ACT_PUSH) || !was_listed))
        roster_push(acct, &ri->it, false);
    else
        act &= ~(unsigned)ROSTER_ACT_PUSH;
    return act;
}

/* ---- jabber:iq:roster --------------------------------------------------- */

static int iq_error(struct iq_ctx *ctx, const char *type, const char *cond, const char *text)
{
    router_route(stanza_error_reply(ctx->iq, type, cond, text));
    return 0;
}

/* RFC 6121 §2.1.3 roster get, with versioning (§2.6.3): a client that
 * sends the current version gets an empty result (the pushes that follow
 * bring it up to date); any other version, the whole roster with its
 * version. */
static int roster_get_handle(struct iq_ctx *ctx, struct roster *r)
{
    struct resource *res = ctx->from && ctx->from->resource ? account_resource(ctx->acct, ctx->from->resource)
                                               : NULL;
    if (res)
        res->interested = true; /* §2.1.6: it now receives roster pushes */
    struct stanza *reply = stanza_iq_result(ctx->iq);
    const char *ver = xml_attr(ctx->payload, "ver");
    char cur[32];
    snprintf(cur, sizeof cur, "%lld", (long long)r->version);
    if (ver && strcmp(ver, cur) == 0) {
        router_route(reply);
        return 0;
    }
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_ROSTER);
    query_set_version(reply, q, r);
    for (size_t i = 0; i < r->n; i++)
        if (!r->items[i]->unlisted)
            item_build(reply, q, &r->items[i]->it, false);
    router_route(reply);
    return 0;
}

/* RFC 6121 §2.5.2: removing an item also ends the subscriptions both ways. */
static int roster_remove(struct iq_ctx *ctx, struct roster *r, const char *jid)
{
    struct account *acct = ctx->acct;
    struct ritem *ri = roster_get(r, jid);
    if (!ri || ri->unlisted)
        return iq_error(ctx, "cancel", "item-not-found", NULL); /* §2.5.3 */
    const struct roster_item *it = &ri->it;
    if (it->subscription & SUB_FROM) {
        /* The contact loses sight of the user: unavailable first, while its
         * server still accepts presence from us (§3.2.2). */
        for (struct resource *res = acct->resources; res; res = res->next)
            if (res->available)
                presence_send(acct, res->full, jid, "unavailable");
    }
    if ((it->subscription & SUB_TO) || it->ask)
        presence_send(acct, acct->bare, jid, "unsubscribe");
    if ((it->subscription & SUB_FROM) || it->pending_in)
        presence_send(acct, acct->bare, jid, "unsubscribed");
    ri = roster_unlink(r, jid);
    roster_store_del(acct, jid);
    roster_push(acct, &ri->it, true);
    ritem_free(ri);
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

/* RFC 6121 §2.3 add and §2.4 update: the client sets name and groups; the
 * subscription state is the server's (a 'subscription' other than "remove"
 * and an 'ask' are ignored, §2.1.2.5, §2.1.2.2). */
static int roster_set_handle(struct iq_ctx *ctx, struct roster *r)
{
    struct xml_node *item = xml_child(ctx->payload, "item", NS_ROSTER);
    if (!item || xml_next(item, "item", NS_ROSTER))
        return iq_error(ctx, "modify", "bad-request", "a roster set carries exactly one item");
    const char *jid_attr = xml_attr(item, "jid");
    struct jid jid;
    if (!jid_attr || jid_parse(jid_attr, &jid) != 0)
        return iq_error(ctx, "modify", "bad-request", "invalid 'jid'");
    char contact[JID_STR_MAX];
    jid_full(&jid, contact, sizeof contact);
    if (strcmp(contact, ctx->acct->bare) == 0)
        return iq_error(ctx, "cancel", "not-allowed",
                        "the account itself cannot be a roster item");

    const char *sub = xml_attr(item, "subscription");
    if (sub && strcmp(sub, "remove") == 0)
        return roster_remove(ctx, r, contact);

    const char *name = xml_attr(item, "name");
    if (name && strlen(name) > ROSTER_NAME_MAX)
        return iq_error(ctx, "modify", "not-acceptable", "name too long");

    size_t ngroups = 0;
    for (struct xml_node *g = xml_child(item, "group", NS_ROSTER); g;
         g = xml_next(g, "group", NS_ROSTER))
        ngroups++;
    if (ngroups > ROSTER_GROUPS_MAX)
        return iq_error(ctx, "modify", "not-acceptable", "too many groups");
    char **groups = ngroups ? calloc(ngroups, sizeof *groups) : NULL;
    ALDIS_ASSERT(!ngroups || groups);
    size_t n = 0;
    const char *cond = NULL, *text = NULL;
    for (struct xml_node *g = xml_child(item, "group", NS_ROSTER); g;
         g = xml_next(g, "group", NS_ROSTER)) {
        char *name_g = (char *)xml_text(NULL, g);
        if (!*name_g) {
            cond = "not-acceptable", text = "empty group name";
        } else if (strlen(name_g) > ROSTER_GROUP_MAX) {
            cond = "not-acceptable", text = "group name too long";
        } else {
            for (size_t i = 0; i < n; i++)
                if (strcmp(groups[i], name_g) == 0)
                    cond = "bad-request", text = "duplicate group";
        }
        if (cond) {
            free(name_g);
            break;
        }
        groups[n++] = name_g;
    }
    if (cond) {
        for (size_t i = 0; i < n; i++)
            free(groups[i]);
        free(groups);
        return iq_error(ctx, "modify", cond, text);
    }

    struct ritem *ri = roster_get(r, contact);
    if (!ri) {
        if ((long)(r->n - r->unlisted) >= roster_max_items) {
            for (size_t i = 0; i < n; i++)
                free(groups[i]);
            free(groups);
            return iq_error(ctx, "cancel", "not-allowed", "the roster is full");
        }
        ri = ritem_new(contact);
        roster_insert(r, ri);
    }
    if (ri->unlisted) {
        ri->unlisted = false;
        r->unlisted--;
    }
    free(ri->it.name);
    ri->it.name = name && *name ? aldis_strdup(name) : NULL;
    ritem_set_groups(ri, groups, n);
    roster_store_put(ctx->acct, ri);
    roster_push(ctx->acct, &ri->it, false);
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

static int roster_iq(struct iq_ctx *ctx)
{
    /* §2.3.3: only the account's own resources manage its roster. */
    if (!ctx->from_self)
        return iq_error(ctx, "auth", "forbidden", NULL);
    struct roster *r = roster_of(ctx->acct);
    if (!r)
        return ALDIS_ENOTHANDLED;
    if (ctx->kind == IQ_GET)
        return roster_get_handle(ctx, r);
    return roster_set_handle(ctx, r);
}

static int roster_init(const struct config *cfg, char *err, size_t errlen)
{
    int rc = config_module_int(cfg, "roster", "max_items", 10000, 1, 1000000, &roster_max_items,
                               err, errlen);
    if (rc == 0)
        rc = config_module_int(cfg, "roster", "max_pending", 1000, 0, 100000,
                               &roster_max_pending, err, errlen);
    return rc;
}

static const struct iq_handler roster_iq_handlers[] = {
    {IQ_GET | IQ_SET, TARGET_ACCOUNT, NS_ROSTER, "query", roster_iq},
    {0},
};

/* RFC 6121 §2.6.1 (versioning) and §3.4.1 (pre-approval) stream features */
static const char *const roster_stream_features[] = {
    "<ver xmlns='urn:xmpp:features:rosterver'/>", "<sub xmlns='urn:xmpp:features:pre-approval'/>",
    NULL};

struct module mod_roster = {
    .name = "roster",
    .stream_features = roster_stream_features,
    .iq_handlers = roster_iq_handlers,
    .init = roster_init,
    .account_load = roster_account_load,
    .account_free = roster_account_free,
};

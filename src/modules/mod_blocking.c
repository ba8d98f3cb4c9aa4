/* mod_blocking.c - the Blocking Command (XEP-0191): the user's block list
 * (kv "blocklist", one JID per line), its IQ protocol with pushes, and its
 * enforcement. Inbound stanzas are checked on the account's owner; outbound
 * messages and IQs on the session's worker, against an immutable snapshot
 * of the list that the owner hands to every session (session_post) when it
 * binds and whenever the list changes; outbound presence on the owner
 * (directed here, broadcasts through blocking_is_blocked in mod_presence).
 * Section numbers are those of XEP-0191 1.3 (§4 JID Matching, §5.2-§5.5
 * the use cases). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/xml.h"
#include "modules/blocking.h"
#include "modules/roster.h"

#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_BLOCKING_ERRORS "urn:xmpp:blocking:errors"

extern struct module mod_blocking;

/* Option blocking.max_items: JIDs one account may block (bounds memory and
 * the cost of every check). */
static long blocking_max_items = 1000;

/* MODULE_DATA(res): the resource asked for the block list (§5.2), so it
 * gets pushes (§5.3). A flag, not a pointer. */
#define BLOCKING_INTERESTED ((void *)1)

/* ---- the list: immutable, reference-counted snapshots ------------------ */

struct block_item {
    char *jid;      /* prepared JID as listed and stored */
    char *local;    /* parts; NULL when absent */
    char *domain;
    char *resource;
};

/* Never changed once built: the owner replaces its snapshot on every change
 * and sessions on other workers keep theirs until the next one arrives.
 * The reference count is atomic because the last holder may be any of
 * those threads. */
struct blocklist {
    atomic_int refs;
    size_t n;
    struct block_item *items;
};

static struct blocklist *blocklist_new(size_t cap)
{
    struct blocklist *l = calloc(1, sizeof *l);
    ALDIS_ASSERT(l);
    atomic_init(&l->refs, 1);
    if (cap) {
        l->items = calloc(cap, sizeof *l->items);
        ALDIS_ASSERT(l->items);
    }
    return l;
}

static struct blocklist *blocklist_ref(struct blocklist *l)
{
    atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
    return l;
}

static void blocklist_unref(struct blocklist *l)
{
    if (!l || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].jid);
        free(l->items[i].local);
        free(l->items[i].domain);
        free(l->items[i].resource);
    }
    free(l->items);
    free(l);
}

static char *blocking_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    ALDIS_ASSERT(d);
    return d;
}

/* Append (the list is still being built, not yet shared). */
static void blocklist_add(struct blocklist *l, const struct jid *j)
{
    char buf[JID_STR_MAX];
    struct block_item *it = &l->items[l->n++];
    it->jid = blocking_strdup(jid_full(j, buf, sizeof buf));
    it->local = blocking_strdup(j->local);
    it->domain = blocking_strdup(j->domain);
    it->resource = blocking_strdup(j->resource);
}

static bool blocklist_contains(const struct blocklist *l, const char *jid)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].jid, jid) == 0)
            return true;
    return false;
}

/* XEP-0191 §4: user@domain/resource matches only that resource;
 * user@domain any of its resources; domain/resource only that resource of
 * the domain; domain the domain itself, every user@domain, domain/resource,
 * and any subdomain. */
static bool block_item_match(const struct block_item *it, const struct jid *j)
{
    if (it->local) {
        if (!j->local || strcmp(it->local, j->local) != 0 || strcmp(it->domain, j->domain) != 0)
            return false;
        return !it->resource || (j->resource && strcmp(it->resource, j->resource) == 0);
    }
    if (it->resource)
        return !j->local && j->resource && strcmp(it->domain, j->domain) == 0 &&
               strcmp(it->resource, j->resource) == 0;
    if (strcmp(it->domain, j->domain) == 0)
        return true;
    size_t dl = strlen(j->domain), il = strlen(it->domain);
    return dl > il && j->domain[dl - il - 1] == '.' &&
           strcmp(j->domain + dl - il, it->domain) == 0;
}

static bool blocklist_match(const struct blocklist *l, const struct jid *j)
{
    if (!l || !j)
        return false;
    for (size_t i = 0; i < l->n; i++)
        if (block_item_match(&l->items[i], j))
            return true;
    return false;
}

static struct blocklist *blocking_list_of(struct account *acct)
{
    return MODULE_DATA(acct, mod_blocking);
}

/* ---- exemptions ---------------------------------------------------------- */

/* The account's own JIDs and its server are never blocked: a user who
 * blocks their own domain must still be able to reach their server and
 * their other resources (and hear from them). */
static bool blocking_exempt(const struct jid *peer, const char *own_bare, const char *own_domain)
{
    if (!peer)
        return true;
    char bare[JID_STR_MAX];
    jid_bare(peer, bare, sizeof bare);
    if (strcmp(bare, own_bare) == 0)
        return true;
    return !peer->local && !peer->resource && strcmp(peer->domain, own_domain) == 0;
}

/* Our own "you blocked this contact" errors come back to the user "from"
 * the blocked contact (§5.3, example 'contact is blocked'); they must reach
 * the client. */
static bool blocking_is_own_error(const struct stanza *st)
{
    const char *type = stanza_type(st);
    if (!type || strcmp(type, "error") != 0)
        return false;
    struct xml_node *err = xml_child(st->root, "error", NULL);
    return err && xml_child(err, "blocked", NS_BLOCKING_ERRORS);
}

bool blocking_is_blocked(struct account *acct, const char *jid)
{
    if (!host_module_enabled(acct->host, &mod_blocking))
        return false;
    struct blocklist *l = blocking_list_of(acct);
    struct jid j;
    if (!l || !l->n || jid_parse(jid, &j) < 0)
        return false;
    if (blocking_exempt(&j, acct->bare, acct->host->domain))
        return false;
    return blocklist_match(l, &j);
}

/* §5.3: an outbound stanza to a blocked JID is not routed; the user gets
 * not-acceptable with <blocked xmlns='urn:xmpp:blocking:errors'/>. Errors
 * and IQ results are just dropped: nothing answers them with an error
 * (RFC 6120 §8.3.1, §8.2.3). */
static void blocking_refuse_outbound(const struct stanza *st)
{
    const char *type = stanza_type(st);
    if (type && (strcmp(type, "error") == 0 ||
                 (strcmp(type, "result") == 0 && strcmp(stanza_name(st), "iq") == 0)))
        return;
    struct stanza *reply = stanza_error_reply(st, "cancel", "not-acceptable", NULL);
    struct xml_node *err = xml_child(reply->root, "error", NULL);
    xml_add_child(reply, err, "blocked", NS_BLOCKING_ERRORS);
    router_route(reply);
}

/* ---- persistence ------------------------------------------------------- */

struct blocking_load {
    struct account *acct;
    void (*done)(struct account *);
};

static struct blocklist *blocklist_parse(const char *value, size_t len)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        if (value[i] == '\n')
            lines++;
    if (lines > (size_t)blocking_max_items)
        lines = (size_t)blocking_max_items;
    struct blocklist *l = blocklist_new(lines);
    size_t start = 0;
    for (size_t i = 0; i <= len && l->n < lines; i++) {
        if (i < len && value[i] != '\n')
            continue;
        size_t n = i - start;
        if (n > 0 && n < JID_STR_MAX) {
            char line[JID_STR_MAX];
            memcpy(line, value + start, n);
            line[n] = '\0';
            struct jid j;
            char buf[JID_STR_MAX];
            if (jid_parse(line, &j) == 0 && !blocklist_contains(l, jid_full(&j, buf, sizeof buf)))
                blocklist_add(l, &j);
        }
        start = i + 1;
    }
    return l;
}

static void blocking_loaded(void *ud, int err, const char *value, size_t len)
{
    struct blocking_load *load = ud;
    if (err < 0 && err != ALDIS_ENOTFOUND)
        log_warn("blocking", "reading the block list of %s failed: %s", load->acct->bare,
                 aldis_strerror(err));
    MODULE_DATA(load->acct, mod_blocking) =
        (err == 0 && value) ? blocklist_parse(value, len) : blocklist_new(0);
    load->done(load->acct);
    free(load);
}

static void blocking_account_load(struct account *acct, void (*done)(struct account *))
{
    struct blocking_load *load = malloc(sizeof *load);
    ALDIS_ASSERT(load);
    load->acct = acct;
    load->done = done;
    store_kv_get(acct->bare, "blocklist", blocking_loaded, load);
}

static void blocking_account_free(struct account *acct)
{
    blocklist_unref(MODULE_DATA(acct, mod_blocking));
    MODULE_DATA(acct, mod_blocking) = NULL;
}

static void blocking_saved(void *ud, int err)
{
    char *bare = ud;
    if (err < 0 && err != ALDIS_ENOTFOUND) /* deleting an empty list is fine */
        log_error("blocking", "storing the block list of %s failed: %s", bare,
                  aldis_strerror(err));
    free(bare);
}

static void blocklist_save(struct account *acct, const struct blocklist *l)
{
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            buf_addc(&b, '\n');
        buf_adds(&b, l->items[i].jid);
    }
    if (l->n)
        store_kv_put(acct->bare, "blocklist", b.data, b.len, blocking_saved,
                     blocking_strdup(acct->bare));
    else
        store_kv_del(acct->bare, "blocklist", blocking_saved, blocking_strdup(acct->bare));
    buf_free(&b);
}

/* ---- session snapshots --------------------------------------------------- */

static void blocking_session_set(struct session *s, void *arg)
{
    struct blocklist *old = session_data(s, &mod_blocking);
    session_set_data(s, &mod_blocking, blocklist_ref(arg));
    blocklist_unref(old);
}

static void blocking_arg_free(void *arg) { blocklist_unref(arg); }

static void blocking_session_push(struct resource *res, struct blocklist *l)
{
    session_post(res->worker, res->session_id, blocking_session_set, blocklist_ref(l),
                 blocking_arg_free);
}

static void blocking_session_free(struct session *s)
{
    blocklist_unref(session_data(s, &mod_blocking));
    session_set_data(s, &mod_blocking, NULL);
}

/* ---- presence effects of a change (§5.3, §5.4) -------------------------- */

struct blocking_change {
    struct account *acct;
    const struct blocklist *before;
    const struct blocklist *after;
};

/* Unavailable presence from every available resource (on block), or the
 * current presence of each (on unblock), to one contact. */
static void blocking_send_presence(struct account *acct, const char *to, bool available)
{
    for (struct resource *r = acct->resources; r; r = r->next) {
        if (!r->available)
            continue;
        struct stanza *p;
        if (available) {
            if (!r->presence)
                continue;
            p = stanza_copy(r->presence);
        } else {
            p = stanza_new("presence", NULL);
            xml_set_attr(p, p->root, "type", "unavailable");
        }
        xml_set_attr(p, p->root, "from", r->full);
        xml_set_attr(p, p->root, "to", to);
        router_route(p);
    }
}

/* §5.3: on block, contacts allowed to see the user's presence (RFC 6121
 * subscription from/both) that are newly blocked get unavailable presence;
 * §5.4: on unblock, those no longer blocked get the current presence. */
static void blocking_contact_changed(const struct roster_item *item, void *ud)
{
    struct blocking_change *c = ud;
    if (item->subscription != SUB_FROM && item->subscription != SUB_BOTH)
        return;
    struct jid j;
    if (jid_parse(item->jid, &j) < 0)
        return;
    bool was = blocklist_match(c->before, &j), now = blocklist_match(c->after, &j);
    if (was != now)
        blocking_send_presence(c->acct, item->jid, was);
}

/* A full-JID item (user@domain/resource) never matches a roster contact's
 * bare JID, so its one resource gets the presence directly. */
static void blocking_full_items_changed(struct account *acct, const struct blocklist *from,
                                        const struct blocklist *to, bool available)
{
    for (size_t i = 0; i < from->n; i++) {
        const struct block_item *it = &from->items[i];
        if (!it->local || !it->resource || blocklist_contains(to, it->jid))
            continue;
        char bare[JID_STR_MAX];
        snprintf(bare, sizeof bare, "%s@%s", it->local, it->domain);
        struct jid j;
        if (jid_parse(bare, &j) < 0 || blocklist_match(available ? to : from, &j))
            continue; /* the whole contact is (still) blocked anyway */
        if (roster_has_from(acct, bare))
            blocking_send_presence(acct, it->jid, available);
    }
}

/* Install the new list: store it, hand it to every session, push `change`
 * (a <block/> or <unblock/> element) to the interested resources (§5.3-§5.5)
 * and send the presence the XEP asks for. Takes the reference on `after`. */
static void blocking_apply(struct account *acct, struct blocklist *after,
                           const struct xml_node *change)
{
    struct blocklist *before = blocking_list_of(acct);
    MODULE_DATA(acct, mod_blocking) = after;
    blocklist_save(acct, after);

    static atomic_uint push_seq;
    for (struct resource *r = acct->resources; r; r = r->next) {
        blocking_session_push(r, after);
        if (MODULE_DATA(r, mod_blocking) != BLOCKING_INTERESTED)
            continue;
        struct stanza *push = stanza_new("iq", NULL);
        char id[32];
        snprintf(id, sizeof id, "blockpush-%u", atomic_fetch_add(&push_seq, 1));
        xml_set_attr(push, push->root, "type", "set");
        xml_set_attr(push, push->root, "id", id);
        xml_set_attr(push, push->root, "from", acct->bare);
        xml_set_attr(push, push->root, "to", r->full);
        xml_copy_into(push, push->root, change);
        router_route(push);
    }

    struct blocking_change c = {.acct = acct, .before = before, .after = after};
    roster_foreach(acct, blocking_contact_changed, &c);
    blocking_full_items_changed(acct, after, before, false);
    blocking_full_items_changed(acct, before, after, true);
    blocklist_unref(before);
}

/* ---- the IQ protocol ------------------------------------------------------ */

static int blocking_error(struct iq_ctx *ctx, const char *type, const char *condition,
                          const char *text)
{
    router_route(stanza_error_reply(ctx->iq, type, condition, text));
    return 0;
}

/* §5.2: the list; the asking resource now gets pushes. */
static int blocking_get(struct iq_ctx *ctx)
{
    struct resource *res = ctx->from && ctx->from->resource
                               ? account_resource(ctx->acct, ctx->from->resource)
                               : NULL;
    if (res)
        MODULE_DATA(res, mod_blocking) = BLOCKING_INTERESTED;
    struct blocklist *l = blocking_list_of(ctx->acct);
    struct stanza *reply = stanza_iq_result(ctx->iq);
    struct xml_node *list = xml_add_child(reply, reply->root, "blocklist", NS_BLOCKING);
    for (size_t i = 0; l && i < l->n; i++) {
        struct xml_node *item = xml_add_child(reply, list, "item", NS_BLOCKING);
        xml_set_attr(reply, item, "jid", l->items[i].jid);
    }
    router_route(reply);
    return 0;
}

/* Parse the <item jid=.../> children of <block/> or <unblock/> into a
 * fresh list (duplicates dropped). Returns the count, or a negative code
 * after answering the IQ: jid-malformed for a bad JID (§5.3 "other standard
 * XMPP stanza errors also apply"), not-acceptable over max_items. */
static int blocking_items(struct iq_ctx *ctx, struct blocklist **out)
{
    size_t n = 0;
    for (struct xml_node *c = xml_child(ctx->payload, "item", NS_BLOCKING); c;
         c = xml_next(c, "item", NS_BLOCKING))
        n++;
    if (n > (size_t)blocking_max_items) {
        blocking_error(ctx, "modify", "not-acceptable", "too many items");
        return ALDIS_ELIMIT;
    }
    struct blocklist *l = blocklist_new(n);
    for (struct xml_node *c = xml_child(ctx->payload, "item", NS_BLOCKING); c;
         c = xml_next(c, "item", NS_BLOCKING)) {
        struct jid j;
        char buf[JID_STR_MAX];
        if (jid_parse(xml_attr(c, "jid"), &j) < 0) {
            blocklist_unref(l);
            blocking_error(ctx, "modify", "jid-malformed", NULL);
            return ALDIS_EINVAL;
        }
        if (!blocklist_contains(l, jid_full(&j, buf, sizeof buf)))
            blocklist_add(l, &j);
    }
    *out = l;
    return (int)l->n;
}

/* The <block/> or <unblock/> as pushed: the prepared JIDs of `items`, or
 * an empty <unblock/> for "unblock all" (§5.5). */
static struct stanza *blocking_change_new(const char *name, const struct blocklist *items)
{
    struct stanza *st = stanza_new(name, NS_BLOCKING);
    for (size_t i = 0; items && i < items->n; i++) {
        struct xml_node *item = xml_add_child(st, st->root, "item", NS_BLOCKING);
        xml_set_attr(st, item, "jid", items->items[i].jid);
    }
    return st;
}

/* §5.3: block one or more JIDs; no item is bad-request. */
static int blocking_block(struct iq_ctx *ctx)
{
    struct blocklist *items = NULL;
    int n = blocking_items(ctx, &items);
    if (n < 0)
        return 0;
    if (n == 0) {
        blocklist_unref(items);
        return blocking_error(ctx, "modify", "bad-request", NULL);
    }
    struct blocklist *before = blocking_list_of(ctx->acct);
    size_t added = 0;
    for (size_t i = 0; i < items->n; i++)
        if (!blocklist_contains(before, items->items[i].jid))
            added++;
    if (before->n + added > (size_t)blocking_max_items) {
        blocklist_unref(items);
        return blocking_error(ctx, "modify", "not-acceptable", "block list full");
    }
    struct blocklist *after = blocklist_new(before->n + added);
    struct jid j;
    for (size_t i = 0; i < before->n; i++) {
        if (jid_parse(before->items[i].jid, &j) == 0)
            blocklist_add(after, &j);
    }
    for (size_t i = 0; i < items->n; i++) {
        if (!blocklist_contains(before, items->items[i].jid) &&
            jid_parse(items->items[i].jid, &j) == 0)
            blocklist_add(after, &j);
    }
    router_route(stanza_iq_result(ctx->iq));
    struct stanza *change = blocking_change_new("block", items);
    blocking_apply(ctx->acct, after, change->root);
    stanza_unref(change);
    blocklist_unref(items);
    return 0;
}

/* §5.4 / §5.5: unblock the listed JIDs, or everything for an empty
 * <unblock/>. */
static int blocking_unblock(struct iq_ctx *ctx)
{
    struct blocklist *items = NULL;
    int n = blocking_items(ctx, &items);
    if (n < 0)
        return 0;
    struct blocklist *before = blocking_list_of(ctx->acct);
    struct blocklist *after = blocklist_new(n == 0 ? 0 : before->n);
    struct jid j;
    for (size_t i = 0; n > 0 && i < before->n; i++) {
        if (!blocklist_contains(items, before->items[i].jid) &&
            jid_parse(before->items[i].jid, &j) == 0)
            blocklist_add(after, &j);
    }
    router_route(stanza_iq_result(ctx->iq));
    struct stanza *change = blocking_change_new("unblock", n == 0 ? NULL : items);
    blocking_apply(ctx->acct, after, change->root);
    stanza_unref(change);
    blocklist_unref(items);
    return 0;
}

/* The block list is the user's own business: anyone else gets the same
 * service-unavailable as for an account that does not exist. */
static int blocking_iq(struct iq_ctx *ctx)
{
    if (!ctx->from_self || !blocking_list_of(ctx->acct))
        return ALDIS_ENOTHANDLED;
    if (ctx->kind == IQ_GET)
        return xml_is(ctx->payload, "blocklist", NS_BLOCKING) ? blocking_get(ctx)
                                                              : ALDIS_ENOTHANDLED;
    if (xml_is(ctx->payload, "block", NS_BLOCKING))
        return blocking_block(ctx);
    if (xml_is(ctx->payload, "unblock", NS_BLOCKING))
        return blocking_unblock(ctx);
    return blocking_error(ctx, "modify", "bad-request", NULL);
}

/* ---- enforcement ---------------------------------------------------------- */

static bool blocking_inbound_blocked(struct hook_ctx *ctx)
{
    struct blocklist *l = blocking_list_of(ctx->acct);
    if (!l || !l->n || blocking_exempt(ctx->from, ctx->acct->bare, ctx->acct->host->domain))
        return false;
    return blocklist_match(l, ctx->from) && !blocking_is_own_error(ctx->st);
}

/* §5.3, inbound message from a blocked JID: not delivered; the sender gets
 * service-unavailable (SHOULD), so the user appears offline. */
static int blocking_message_in(struct hook_ctx *ctx)
{
    if (!blocking_inbound_blocked(ctx))
        return HOOK_PASS;
    const char *type = stanza_type(ctx->st);
    if (!type || strcmp(type, "error") != 0)
        router_route(stanza_error_reply(ctx->st, "cancel", "service-unavailable", NULL));
    return HOOK_DONE;
}

/* §5.3, inbound presence (notifications, subscriptions, probes): dropped,
 * no response and no error (MUST). */
static int blocking_presence_in(struct hook_ctx *ctx)
{
    return blocking_inbound_blocked(ctx) ? HOOK_DONE : HOOK_PASS;
}

/* §5.3, inbound IQ: get/set get service-unavailable (MUST error, SHOULD be
 * that one); result and error are dropped (MUST). */
static int blocking_iq_in(struct hook_ctx *ctx)
{
    if (!blocking_inbound_blocked(ctx))
        return HOOK_PASS;
    const char *type = stanza_type(ctx->st);
    if (type && (strcmp(type, "get") == 0 || strcmp(type, "set") == 0))
        router_route(stanza_error_reply(ctx->st, "cancel", "service-unavailable", NULL));
    return HOOK_DONE;
}

/* §5.3, outbound directed presence to a blocked JID (on the owner).
 * Broadcasts have no 'to': mod_presence skips blocked contacts itself. */
static int blocking_presence_out(struct hook_ctx *ctx)
{
    struct blocklist *l = blocking_list_of(ctx->acct);
    if (!ctx->to || !l || !l->n || blocking_exempt(ctx->to, ctx->acct->bare, ctx->acct->host->domain))
        return HOOK_PASS;
    if (!blocklist_match(l, ctx->to))
        return HOOK_PASS;
    blocking_refuse_outbound(ctx->st);
    return HOOK_DONE;
}

/* §5.3, outbound message or IQ to a blocked JID, checked where the client
 * sent it (the session's worker) against the session's snapshot. */
static int blocking_session_out(struct hook_ctx *ctx)
{
    const char *name = stanza_name(ctx->st);
    if (strcmp(name, "message") != 0 && strcmp(name, "iq") != 0)
        return HOOK_PASS;
    struct blocklist *l = session_data(ctx->sess, &mod_blocking);
    if (!l || !l->n)
        return HOOK_PASS;
    struct jid parsed;
    const struct jid *to = ctx->to;
    if (!to) {
        const char *to_attr = stanza_to(ctx->st);
        if (!to_attr || jid_parse(to_attr, &parsed) < 0)
            return HOOK_PASS;
        to = &parsed;
    }
    const struct jid *self = session_jid(ctx->sess);
    char own_bare[JID_STR_MAX];
    if (!self || blocking_exempt(to, jid_bare(self, own_bare, sizeof own_bare), self->domain))
        return HOOK_PASS;
    if (!blocklist_match(l, to))
        return HOOK_PASS;
    blocking_refuse_outbound(ctx->st);
    return HOOK_DONE;
}

/* A new session gets the current snapshot before its bind result (both are
 * posted by the owner, FIFO), so its first stanza is already checked. */
static int blocking_resource_bound(struct hook_ctx *ctx)
{
    struct blocklist *l = blocking_list_of(ctx->acct);
    if (ctx->res && l)
        blocking_session_push(ctx->res, l);
    return HOOK_PASS;
}

static void blocking_resource_free(struct account *acct, struct resource *res)
{
    MODULE_DATA(res, mod_blocking) = NULL;
}

static int blocking_init(const struct config *cfg, char *err, size_t errlen)
{
    return config_module_int(cfg, "blocking", "max_items", 1000, 1, 100000, &blocking_max_items,
                             err, errlen);
}

static const char *const blocking_host_features[] = {NS_BLOCKING, NULL};
static const char *const blocking_account_features[] = {NULL};
static const struct iq_handler blocking_iqs[] = {
    {IQ_GET, TARGET_ACCOUNT, NS_BLOCKING, "blocklist", blocking_iq},
    {IQ_SET, TARGET_ACCOUNT, NS_BLOCKING, "block", blocking_iq},
    {IQ_SET, TARGET_ACCOUNT, NS_BLOCKING, "unblock", blocking_iq},
    {0},
};
/* Inbound and outbound checks run before every other module (mod_message,
 * mod_presence, mod_offline, mod_last all use lower priorities). */
static const struct hook_row blocking_hooks[] = {
    {HOOK_MESSAGE_IN, 1000, blocking_message_in},
    {HOOK_PRESENCE_IN, 1000, blocking_presence_in},
    {HOOK_IQ_IN, 1000, blocking_iq_in},
    {HOOK_PRESENCE_OUT, 1000, blocking_presence_out},
    {HOOK_SESSION_OUT, 1000, blocking_session_out},
    {HOOK_RESOURCE_BOUND, 0, blocking_resource_bound},
    {0},
};

struct module mod_blocking = {
    .name = "blocking",
    .host_features = blocking_host_features,
    .account_features = blocking_account_features,
    .iq_handlers = blocking_iqs,
    .hooks = blocking_hooks,
    .init = blocking_init,
    .account_load = blocking_account_load,
    .account_free = blocking_account_free,
    .resource_free = blocking_resource_free,
    .session_free = blocking_session_free,
};

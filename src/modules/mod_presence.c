/* mod_presence.c - presence (RFC 6121 §3, §4): subscription stanzas in and
 * out (the state machine is roster_state.c, the items mod_roster's),
 * initial presence with probes, broadcast, directed presence, probes from
 * contacts, and unavailable presence when a resource goes away.
 *
 * Everything runs on the account's owner worker. Stanzas for other
 * accounts go through router_route() (they reach the contact's owner as
 * HOOK_PRESENCE_IN); stanzas for this account's resources go through
 * account_send() and are never routed again, so nothing loops. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "modules/blocking.h"
#include "modules/roster.h"

#define DIRECTED_MAX 1024 /* directed-presence recipients kept per resource */

extern struct module mod_presence;

/* Per resource: who got directed available presence from it and must get
 * unavailable presence when it goes away (RFC 6121 §4.6.2). */
struct directed {
    char **jids;
    size_t n, cap;
};

/* ---- helpers ------------------------------------------------------------ */

static struct stanza *presence_new(const char *from, const char *to, const char *type)
{
    struct stanza *st = stanza_new("presence", NULL);
    xml_set_attr(st, st->root, "from", from);
    xml_set_attr(st, st->root, "to", to);
    if (type)
        xml_set_attr(st, st->root, "type", type);
    return st;
}

/* A copy of `src` addressed to `to` (and from `from` when not NULL). */
static struct stanza *presence_readdress(const struct stanza *src, const char *from, const char *to)
{
    struct stanza *st = stanza_copy(src);
    if (from)
        xml_set_attr(st, st->root, "from", from);
    xml_set_attr(st, st->root, "to", to);
    return st;
}

static void route_type(const char *from, const char *to, const char *type)
{
    router_route(presence_new(from, to, type));
}

/* XEP-0191 §5.3: nothing the server sends on the user's behalf (broadcasts,
 * probes, automatic presence) goes to a JID the user blocked. Stanzas the
 * client addresses itself are checked by mod_blocking's own hook. */
static bool may_send(struct account *acct, const char *jid)
{
    return !blocking_is_blocked(acct, jid);
}

static bool type_is(const char *type, const char *want)
{
    return type && strcmp(type, want) == 0;
}

/* RFC 6121 §4.7.2.3: an integer in -128..127; absent means 0. */
static int priority_parse(const struct stanza *st, int *out)
{
    *out = 0;
    struct xml_node *p = xml_child(st->root, "priority", st->root->ns);
    if (!p)
        return 0;
    char *text = (char *)xml_text(NULL, p);
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    bool ok = end != text && errno == 0 && v >= -128 && v <= 127;
    while (ok && *end == ' ')
        end++;
    ok = ok && *end == '\0';
    free(text);
    if (!ok)
        return ALDIS_EINVAL;
    *out = (int)v;
    return 0;
}

static void bounce(const struct stanza *st, const char *type, const char *cond, const char *text)
{
    router_route(stanza_error_reply(st, type, cond, text));
}

/* ---- directed presence list --------------------------------------------- */

static struct directed *directed_of(struct resource *res, bool create)
{
    struct directed *d = MODULE_DATA(res, mod_presence);
    if (!d && create) {
        d = calloc(1, sizeof *d);
        ALDIS_ASSERT(d);
        MODULE_DATA(res, mod_presence) = d;
    }
    return d;
}

static void directed_add(struct resource *res, const char *jid)
{
    struct directed *d = directed_of(res, true);
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->jids[i], jid) == 0)
            return;
    if (d->n >= DIRECTED_MAX) {
        log_warn("presence", "%s: directed presence list full, %s not tracked", res->full, jid);
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **jids = realloc(d->jids, cap * sizeof *jids);
        ALDIS_ASSERT(jids);
        d->jids = jids;
        d->cap = cap;
    }
    d->jids[d->n] = strdup(jid);
    ALDIS_ASSERT(d->jids[d->n]);
    d->n++;
}

static void directed_del(struct resource *res, const char *jid)
{
    struct directed *d = directed_of(res, false);
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->jids[i], jid) == 0) {
            free(d->jids[i]);
            d->jids[i] = d->jids[--d->n];
            return;
        }
}

static void directed_clear(struct directed *d)
{
    for (size_t i = 0; d && i < d->n; i++)
        free(d->jids[i]);
    if (d)
        d->n = 0;
}

/* ---- broadcast ---------------------------------------------------------- */

struct bcast {
    struct account *acct;
    const struct stanza *st; /* the presence, from the resource's full JID */
};

static void bcast_contact(const struct roster_item *it, void *ud)
{
    struct bcast *b = ud;
    if ((it->subscription & SUB_FROM) && may_send(b->acct, it->jid))
        router_route(presence_readdress(b->st, NULL, it->jid));
}

/* RFC 6121 §4.2.2, §4.4.2, §4.5.2: to every contact subscribed to the
 * user's presence (from/both) and to the user's available resources
 * (`skip` excepted). */
static void broadcast(struct account *acct, const struct stanza *st, struct resource *skip)
{
    struct bcast b = {.acct = acct, .st = st};
    roster_foreach(acct, bcast_contact, &b);
    for (struct resource *r = acct->resources; r; r = r->next)
        if (r->available && r != skip)
            account_send(acct, r, presence_readdress(st, NULL, r->full));
}

static void probe_contact(const struct roster_item *it, void *ud)
{
    struct account *acct = ud;
    /* §4.3.1: probes go from the user's bare JID to contacts the user is
     * subscribed to; the answers come to the bare JID and so to every
     * available resource. */
    if ((it->subscription & SUB_TO) && may_send(acct, it->jid))
        route_type(acct->bare, it->jid, "probe");
}

struct pending_target {
    struct account *acct;
    struct resource *res;
};

static void deliver_pending(const char *contact, struct stanza *request, void *ud)
{
    struct pending_target *t = ud;
    (void)contact;
    account_send(t->acct, t->res, stanza_ref(request));
}

/* Current presence of each available resource to `to` (§3.1.5, §4.3.2). */
static void send_current_presence(struct account *acct, const char *to)
{
    if (!may_send(acct, to))
        return;
    for (struct resource *r = acct->resources; r; r = r->next)
        if (r->available && r->presence)
            router_route(presence_readdress(r->presence, NULL, to));
}

static void send_unavailable_to(struct account *acct, const char *to)
{
    if (!may_send(acct, to))
        return;
    for (struct resource *r = acct->resources; r; r = r->next)
        if (r->available)
            route_type(r->full, to, "unavailable");
}

/* The resource goes unavailable (§4.5.2): contacts with from/both, the
 * other available resources and the directed-presence recipients (§4.6.2)
 * get unavailable presence. `st` is the client's own unavailable presence
 * (its status is kept) or NULL when the session ended. */
static void go_unavailable(struct account *acct, struct resource *res, const struct stanza *st)
{
    struct stanza *u;
    if (st) {
        u = stanza_copy(st);
        xml_set_attr(u, u->root, "to", NULL);
        xml_set_attr(u, u->root, "from", res->full);
    } else {
        u = presence_new(res->full, NULL, "unavailable");
    }
    stanza_freeze(u);
    bool was_available = res->available;
    res->available = false;
    stanza_unref(res->presence);
    res->presence = NULL;
    if (was_available)
        broadcast(acct, u, res);
    struct directed *d = directed_of(res, false);
    for (size_t i = 0; d && i < d->n; i++) {
        struct jid j;
        char bare[JID_STR_MAX];
        /* a subscribed contact already had it from the broadcast */
        if (was_available && jid_parse(d->jids[i], &j) == 0 &&
            roster_has_from(acct, jid_bare(&j, bare, sizeof bare)))
            continue;
        if (!may_send(acct, d->jids[i]))
            continue;
        router_route(presence_readdress(u, NULL, d->jids[i]));
    }
    directed_clear(d);
    stanza_unref(u);
}

/* ---- outbound (from one of the account's resources) --------------------- */

static int out_available(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    struct resource *res = ctx->res;
    int priority;
    if (priority_parse(ctx->st, &priority) < 0) {
        bounce(ctx->st, "modify", "bad-request", "priority must be an integer in -128..127");
        return HOOK_DONE;
    }
    bool initial = !res->available;
    struct stanza *p = stanza_copy(ctx->st);
    xml_set_attr(p, p->root, "to", NULL);
    xml_set_attr(p, p->root, "from", res->full);
    stanza_freeze(p);
    stanza_unref(res->presence);
    res->presence = p;
    res->priority = priority;
    res->available = true;

    /* §4.2.2 / §4.4.2: to the subscribers and to every available resource,
     * the sender included. */
    broadcast(acct, p, NULL);
    if (!initial)
        return HOOK_DONE;

    /* Initial presence (§4.2.2): the new resource learns the presence of
     * the user's other resources, then of its contacts (probes), and gets
     * the subscription requests still waiting for an answer (§3.1.3). */
    for (struct resource *r = acct->resources; r; r = r->next)
        if (r != res && r->available && r->presence)
            account_send(acct, res, presence_readdress(r->presence, NULL, res->full));
    roster_foreach(acct, probe_contact, acct);
    struct pending_target target = {acct, res};
    roster_foreach_pending(acct, deliver_pending, &target);
    return HOOK_DONE;
}

/* §4.6: directed presence goes as sent (from the full JID); the recipients
 * of available presence are remembered for the unavailable at logout. */
static int out_directed(struct hook_ctx *ctx, const char *type)
{
    struct resource *res = ctx->res;
    char to[JID_STR_MAX], to_bare[JID_STR_MAX];
    jid_full(ctx->to, to, sizeof to);
    jid_bare(ctx->to, to_bare, sizeof to_bare);
    if (type_is(type, "unavailable"))
        directed_del(res, to);
    else if (!type && strcmp(to_bare, ctx->acct->bare) != 0)
        directed_add(res, to);
    router_route(stanza_ref(ctx->st));
    return HOOK_DONE;
}

/* §3.1.2, §3.1.5, §3.2.2, §3.3.2: the user subscribes, approves, cancels or
 * unsubscribes. */
static int out_subscription(struct hook_ctx *ctx, enum roster_event ev)
{
    struct account *acct = ctx->acct;
    if (!ctx->to) {
        bounce(ctx->st, "modify", "bad-request", "a subscription stanza needs a 'to'");
        return HOOK_DONE;
    }
    char contact[JID_STR_MAX];
    /* a full JID is treated as the bare JID (§3.1.2) */
    jid_bare(ctx->to, contact, sizeof contact);
    if (strcmp(contact, acct->bare) == 0) {
        /* The user is implicitly subscribed to itself: nothing to do. */
        return HOOK_DONE;
    }
    unsigned act = roster_subscription_apply(acct, contact, ev, ctx->st);
    if (act & ROSTER_ACT_SEND_UNAVAILABLE)
        send_unavailable_to(acct, contact);
    if (act & ROSTER_ACT_ROUTE) {
        /* §3: outbound subscription stanzas carry the bare JID. */
        router_route(presence_readdress(ctx->st, acct->bare, contact));
    }
    if (act & ROSTER_ACT_SEND_PRESENCE)
        send_current_presence(acct, contact);
    return HOOK_DONE;
}

static int presence_out(struct hook_ctx *ctx)
{
    const char *type = stanza_type(ctx->st);
    if (stanza_to(ctx->st) && !ctx->to) {
        /* A 'to' that is not a JID must not turn into a broadcast. */
        if (!type_is(type, "error"))
            bounce(ctx->st, "modify", "jid-malformed", NULL);
        return HOOK_DONE;
    }
    int ev = roster_event_from_type(type, true);
    if (ev >= 0)
        return out_subscription(ctx, (enum roster_event)ev);
    if (type_is(type, "probe")) {
        /* §4.3: probes are the server's business, not a client's. */
        return HOOK_DONE;
    }
    if (type_is(type, "error")) {
        if (ctx->to)
            router_route(stanza_ref(ctx->st));
        return HOOK_DONE;
    }
    if (type && !type_is(type, "unavailable")) {
        bounce(ctx->st, "modify", "bad-request", "unknown presence type");
        return HOOK_DONE;
    }
    if (ctx->to)
        return out_directed(ctx, type);
    if (type)
        go_unavailable(ctx->acct, ctx->res, ctx->st);
    else
        out_available(ctx);
    return HOOK_DONE;
}

/* ---- inbound (to this account, from elsewhere) -------------------------- */

/* Deliver to the addressed resource (full JID, §8.5.3) or to every
 * available resource (bare JID, §8.5.2.1.1); `interested_only` for
 * subscription requests, which need a roster-aware client. */
static void deliver(struct hook_ctx *ctx, struct stanza *st, bool interested_only)
{
    struct account *acct = ctx->acct;
    if (ctx->to && ctx->to->resource) {
        struct resource *r = account_resource(acct, ctx->to->resource);
        if (r)
            account_send(acct, r, stanza_ref(st));
        return; /* §8.5.3.2.1: no such resource, ignored */
    }
    for (struct resource *r = acct->resources; r; r = r->next)
        if (r->available && (!interested_only || r->interested))
            account_send(acct, r, stanza_ref(st));
}

static int in_subscription(struct hook_ctx *ctx, enum roster_event ev, const char *contact)
{
    struct account *acct = ctx->acct;
    /* Kept and delivered with the bare JIDs (§3.1.3), whatever the sender's
     * server used. */
    struct stanza *st = presence_readdress(ctx->st, contact, acct->bare);
    unsigned act = roster_subscription_apply(acct, contact, ev, st);
    if (act & ROSTER_ACT_SEND_UNAVAILABLE)
        send_unavailable_to(acct, contact);
    if (act & ROSTER_ACT_AUTO_SUBSCRIBED)
        route_type(acct->bare, contact, "subscribed");
    if (act & ROSTER_ACT_SEND_PRESENCE)
        send_current_presence(acct, contact);
    if (act & ROSTER_ACT_DELIVER) {
        struct hook_ctx bare_ctx = *ctx;
        bare_ctx.to = NULL; /* subscription stanzas go to the bare JID */
        deliver(&bare_ctx, stanza_freeze(st), ev == ROSTER_IN_SUBSCRIBE);
    }
    stanza_unref(st);
    return HOOK_DONE;
}

/* §4.3.2: a contact's server asks for the user's presence. */
static int in_probe(struct hook_ctx *ctx, const char *contact)
{
    struct account *acct = ctx->acct;
    if (strcmp(contact, acct->bare) != 0 && !roster_has_from(acct, contact)) {
        /* Not subscribed: nothing is revealed, and the prober learns it
         * has no subscription. */
        route_type(acct->bare, contact, "unsubscribed");
        return HOOK_DONE;
    }
    send_current_presence(acct, stanza_from(ctx->st));
    return HOOK_DONE;
}

static int presence_in(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    const char *type = stanza_type(ctx->st);
    if (!ctx->from)
        return HOOK_DONE;
    char contact[JID_STR_MAX];
    jid_bare(ctx->from, contact, sizeof contact);
    int ev = roster_event_from_type(type, false);

    if (!acct->exists) {
        /* §3.1.3, §4.3.2: no such user; tell the requester so it does not
         * wait forever. Anything else is dropped. */
        if (ev == ROSTER_IN_SUBSCRIBE || type_is(type, "probe"))
            route_type(acct->bare, contact, "unsubscribed");
        return HOOK_DONE;
    }
    if (ev >= 0)
        return in_subscription(ctx, (enum roster_event)ev, contact);
    if (type_is(type, "probe"))
        return in_probe(ctx, contact);
    if (!type || type_is(type, "unavailable") || type_is(type, "error")) {
        /* §4.4.3, §4.5.3, §4.6.3, §8.5: delivered. An unavailable from a
         * contact that just lost its subscription must get through too. */
        deliver(ctx, ctx->st, false);
        return HOOK_DONE;
    }
    return HOOK_DONE; /* unknown type: ignored */
}

/* ---- resources ---------------------------------------------------------- */

static int presence_unbound(struct hook_ctx *ctx)
{
    struct directed *d = directed_of(ctx->res, false);
    if (ctx->res->available || (d && d->n))
        go_unavailable(ctx->acct, ctx->res, NULL);
    return HOOK_PASS;
}

static void presence_resource_free(struct account *acct, struct resource *res)
{
    struct directed *d = MODULE_DATA(res, mod_presence);
    directed_clear(d);
    if (d)
        free(d->jids);
    free(d);
    MODULE_DATA(res, mod_presence) = NULL;
}

static const struct hook_row presence_hooks[] = {
    {HOOK_PRESENCE_OUT, 0, presence_out},
    {HOOK_PRESENCE_IN, 0, presence_in},
    {HOOK_RESOURCE_UNBOUND, 0, presence_unbound},
    {0},
};

struct module mod_presence = {
    .name = "presence",
    .hooks = presence_hooks,
    .resource_free = presence_resource_free,
};

/* pubsub_access.c - who may do what on the PubSub service (XEP-0060):
 * the access models open, presence, roster, whitelist and authorize
 * (§4.5, §6.1.3, §6.5.9) with the owners' rosters read asynchronously
 * from the store, the visibility of nodes in disco, and the owner's
 * approval of pending subscriptions on authorize nodes (§8.6). Runs on the
 * service's owner worker. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/store.h"
#include "modules/pubsub.h"

#define NS_PUBSUB_SUB_AUTH "http://jabber.org/protocol/pubsub#subscribe_authorization"
/* Requests of one service waiting for an owner's roster. */
#define PUBSUB_WAITING_MAX 256

static int fail(struct pubsub_req *r, const char *type, const char *cond, const char *app,
                const char *feature)
{
    return pep_iq_error(r->iq, type, cond, app, feature);
}

/* ---- access (§4.5, §6.1.3) --------------------------------------------------------- */

/* An access check needing an owner's roster runs on the store thread; the
 * request is replayed when it comes back, with the node marked as
 * checked. */
struct access_wait {
    char *domain;
    struct stanza *iq;
    char *node;
    char *requester;
    char *owner;
    size_t owner_index; /* which of the node's owners is being asked */
};

static bool groups_allowed(const struct roster_item *it, const struct pep_config *cfg)
{
    for (size_t g = 0; g < it->ngroups; g++)
        for (size_t a = 0; a < cfg->ngroups; a++)
            if (strcmp(it->groups[g], cfg->groups[a]) == 0)
                return true;
    return false;
}

/* The n-th owner of node, or NULL. */
static const char *nth_owner(const struct pep_node *node, size_t n)
{
    for (size_t i = 0; i < node->naffs; i++)
        if (node->affs[i].aff == PEP_AFF_OWNER && n-- == 0)
            return node->affs[i].jid;
    return NULL;
}

/* XEP-0060 §6.1.3.2 / §6.1.3.3 errors for a refused entity. */
static int fail_access(struct pubsub_req *r, const struct pep_node *node)
{
    switch (node->cfg.access) {
    case PEP_ACCESS_PRESENCE:
        return fail(r, "auth", "not-authorized", "presence-subscription-required", NULL);
    case PEP_ACCESS_ROSTER:
        return fail(r, "auth", "not-authorized", "not-in-roster-group", NULL);
    case PEP_ACCESS_AUTHORIZE: /* §6.5.9.4: items for subscribers only */
        return fail(r, "auth", "not-authorized", "not-subscribed", NULL);
    default:
        return fail(r, "cancel", "not-allowed", "closed-node", NULL);
    }
}

static void access_wait_free(struct access_wait *w)
{
    stanza_unref(w->iq);
    free(w->domain);
    free(w->node);
    free(w->requester);
    free(w->owner);
    free(w);
}

static void roster_checked(void *ud, int err, const struct roster_item *items, size_t n,
                           int64_t version)
{
    (void)version;
    struct access_wait *w = ud;
    struct pubsub_service *s = pubsub_service_get(w->domain);
    if (s)
        s->nwaiting--;
    struct pep_node *node = s && s->ps ? pep_node_find(s->ps, w->node) : NULL;
    if (!node) {
        /* Gone meanwhile: replaying answers item-not-found. */
        if (s && s->ps)
            pubsub_dispatch(s, w->iq, NULL);
        access_wait_free(w);
        return;
    }
    bool ok = false;
    for (size_t i = 0; !err && i < n && !ok; i++) {
        if (strcmp(items[i].jid, w->requester) != 0 || !(items[i].subscription & SUB_FROM))
            continue;
        ok = node->cfg.access == PEP_ACCESS_PRESENCE || groups_allowed(&items[i], &node->cfg);
    }
    if (ok) {
        pubsub_dispatch(s, w->iq, w->node);
        access_wait_free(w);
        return;
    }
    const char *next = nth_owner(node, ++w->owner_index);
    if (next) {
        free(w->owner);
        w->owner = aldis_strdup(next);
        s->nwaiting++;
        store_roster_load(w->owner, roster_checked, w);
        return;
    }
    struct pubsub_req r = {.s = s, .iq = w->iq};
    fail_access(&r, node);
    access_wait_free(w);
}

/* Has bare JID `bare` an approved subscription to node? */
bool pubsub_is_subscriber(const struct pep_node *node, const char *bare)
{
    for (size_t i = 0; i < node->nsubs; i++) {
        struct jid j;
        char b[JID_STR_MAX];
        if (!node->subs[i].pending && jid_parse(node->subs[i].jid, &j) == 0 &&
            strcmp(jid_bare(&j, b, sizeof b), bare) == 0)
            return true;
    }
    return false;
}

/* 1: allowed; 0: refused, the error answered; -1: waiting for a roster
 * (the request is replayed). `checked_node` names a node whose roster
 * check already passed for this request; `subscribing`: a subscribe,
 * which an authorize node turns into a pending subscription. */
int pubsub_access_check(struct pubsub_req *r, const struct pep_node *node,
                        const char *checked_node, bool subscribing)
{
    enum pep_affiliation aff = pep_node_affiliation(node, r->from_bare);
    if (aff == PEP_AFF_OUTCAST) /* §6.1.3.8 */
        return fail(r, "auth", "forbidden", NULL, NULL), 0;
    if (aff >= PEP_AFF_PUBLISHER)
        return 1;
    switch (node->cfg.access) {
    case PEP_ACCESS_OPEN:
        return 1;
    case PEP_ACCESS_WHITELIST:
        if (aff == PEP_AFF_MEMBER)
            return 1;
        return fail_access(r, node), 0;
    case PEP_ACCESS_AUTHORIZE:
        if (aff == PEP_AFF_MEMBER || subscribing || pubsub_is_subscriber(node, r->from_bare))
            return 1;
        return fail_access(r, node), 0;
    case PEP_ACCESS_PRESENCE:
    case PEP_ACCESS_ROSTER:
        if (checked_node && strcmp(checked_node, node->name) == 0)
            return 1;
        break;
    }
    const char *owner = nth_owner(node, 0);
    if (!owner)
        return fail_access(r, node), 0;
    if (r->s->nwaiting >= PUBSUB_WAITING_MAX)
        return fail(r, "wait", "resource-constraint", NULL, NULL), 0;
    r->s->nwaiting++;
    struct access_wait *w = calloc(1, sizeof *w);
    ALDIS_ASSERT(w != NULL);
    w->domain = aldis_strdup(r->s->domain);
    w->iq = stanza_ref(r->iq);
    w->node = aldis_strdup(node->name);
    w->requester = aldis_strdup(r->from_bare);
    w->owner = aldis_strdup(owner);
    store_roster_load(w->owner, roster_checked, w);
    return -1;
}

/* May the requester see that the node exists (disco)? Whitelist nodes are
 * listed to their affiliates only. */
bool pubsub_node_visible(const struct pep_node *node, const char *bare)
{
    enum pep_affiliation aff = pep_node_affiliation(node, bare);
    if (aff == PEP_AFF_OUTCAST)
        return false;
    return node->cfg.access != PEP_ACCESS_WHITELIST || aff >= PEP_AFF_MEMBER;
}

/* ---- subscription approval (§8.6) ------------------------------------------------ */

static void form_field_add(struct stanza *st, struct xml_node *x, const char *var,
                           const char *type, const char *value)
{
    struct xml_node *f = xml_add_child(st, x, "field", NS_DATA);
    xml_set_attr(st, f, "var", var);
    xml_set_attr(st, f, "type", type);
    struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
    xml_add_text(st, v, value, strlen(value));
}

/* §8.6.1: every owner gets the subscribe_authorization form. */
void pubsub_ask_owners(struct pubsub_service *s, const struct pep_node *node,
                       const struct pep_sub *sub)
{
    for (size_t i = 0; i < node->naffs; i++) {
        if (node->affs[i].aff != PEP_AFF_OWNER)
            continue;
        struct stanza *m = stanza_new("message", NULL);
        xml_set_attr(m, m->root, "from", s->domain);
        xml_set_attr(m, m->root, "to", node->affs[i].jid);
        char id[32];
        pep_item_id_new(id, sizeof id);
        xml_set_attr(m, m->root, "id", id);
        struct xml_node *x = xml_add_child(m, m->root, "x", NS_DATA);
        xml_set_attr(m, x, "type", "form");
        struct xml_node *t = xml_add_child(m, x, "title", NS_DATA);
        xml_add_text(m, t, "PubSub subscriber request", strlen("PubSub subscriber request"));
        form_field_add(m, x, "FORM_TYPE", "hidden", NS_PUBSUB_SUB_AUTH);
        form_field_add(m, x, "pubsub#subid", "hidden", sub->subid);
        form_field_add(m, x, "pubsub#node", "text-single", node->name);
        form_field_add(m, x, "pubsub#subscriber_jid", "jid-single", sub->jid);
        form_field_add(m, x, "pubsub#allow", "boolean", "false");
        router_route(m);
    }
}

/* The first value of field `var` of form x (text owned by scratch). */
static const char *form_value(struct stanza *scratch, const struct xml_node *x, const char *var)
{
    for (struct xml_node *f = xml_child(x, "field", NS_DATA); f; f = xml_next(f, "field", NS_DATA)) {
        const char *v = xml_attr(f, "var");
        if (v && strcmp(v, var) == 0) {
            struct xml_node *val = xml_child(f, "value", NS_DATA);
            return val ? xml_text(scratch, val) : "";
        }
    }
    return NULL;
}

/* §8.6.2: an owner's answer, a message carrying the submitted form. The
 * subscriber is told the outcome with a <subscription/> event. Answers
 * that do not match a pending subscription of a node the sender owns are
 * ignored (messages get no error replies here, §8.6.2 has none). */
void pubsub_approval_in(struct pubsub_service *s, struct stanza *st, const struct jid *from)
{
    struct xml_node *x = xml_child(st->root, "x", NS_DATA);
    const char *type = x ? xml_attr(x, "type") : NULL;
    if (!type || strcmp(type, "submit") != 0)
        return;
    const char *ft = form_value(st, x, "FORM_TYPE");
    if (!ft || strcmp(ft, NS_PUBSUB_SUB_AUTH) != 0)
        return;
    const char *name = form_value(st, x, "pubsub#node");
    const char *who = form_value(st, x, "pubsub#subscriber_jid");
    const char *subid = form_value(st, x, "pubsub#subid");
    const char *allow = form_value(st, x, "pubsub#allow");
    char bare[JID_STR_MAX];
    jid_bare(from, bare, sizeof bare);
    struct pep_node *node = name && strlen(name) <= PEP_MAX_ID ? pep_node_find(s->ps, name) : NULL;
    if (!node || !who || !allow || pep_node_affiliation(node, bare) != PEP_AFF_OWNER)
        return;
    struct jid wj;
    char wfull[JID_STR_MAX];
    if (jid_parse(who, &wj) < 0)
        return;
    jid_full(&wj, wfull, sizeof wfull);
    struct pep_sub *sub = pep_node_sub_find(node, wfull);
    if (!sub || !sub->pending || (subid && strcmp(subid, sub->subid) != 0))
        return;
    bool yes = pep_attr_true(allow);
    struct xml_node *event;
    struct stanza *ev = pep_event_new(s->domain, node, &event);
    xml_set_attr(ev, ev->root, "to", wfull);
    struct xml_node *el = xml_add_child(ev, event, "subscription", NS_PUBSUB_EVENT);
    xml_set_attr(ev, el, "node", node->name);
    xml_set_attr(ev, el, "jid", wfull);
    xml_set_attr(ev, el, "subscription", yes ? "subscribed" : "none");
    if (yes) {
        xml_set_attr(ev, el, "subid", sub->subid);
        sub->pending = false;
    } else {
        pep_node_sub_remove(node, sub);
    }
    pubsub_node_save(s, node);
    router_route(ev);
    if (yes)
        pubsub_send_last_item(s, node, wfull);
}

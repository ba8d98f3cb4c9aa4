/* mod_pubsub.c - XEP-0060 Publish-Subscribe as a service domain
 * ("pubsub.HOST"): the module table, each service's state on its owner
 * worker (loaded from the store on first use, stanzas queued meanwhile),
 * the dispatch of every stanza addressed to the service, service and node
 * discovery (§5, with the pubsub#meta-data form), the access models open,
 * presence, roster, whitelist and authorize (§4.5, with the owner's
 * approval of pending subscriptions, §8.6), notifications to subscribers
 * (§7.1.2) and the entity use cases: create (§8.1, here because any local
 * user may create), publish with item ids and publish-options (§7.1),
 * retract (§7.2), subscribe / unsubscribe (§6.1, §6.2), items (§6.5) and
 * one's own subscriptions and affiliations (§5.6, §5.7).
 *
 * Who may do what (access models, disco visibility, approvals) is in
 * pubsub_access.c, the owner use cases in pubsub_owner.c.
 *
 * Nodes are the node engine of pep_node.c, shared with PEP; a service has
 * one owner worker, worker_owner_of(domain), as stanzas to a domain JID
 * all arrive there, so it needs no locks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "aldis/store_pubsub.h"
#include "aldis/worker.h"
#include "core/router.h"
#include "core/security.h"
#include "lib/map.h"
#include "modules/labels.h"
#include "modules/pubsub.h"

#define NS_PING "urn:xmpp:ping"
#define NS_PUBSUB_META "http://jabber.org/protocol/pubsub#meta-data"
/* Stanzas waiting for a service to come back from the store. */
#define PUBSUB_QUEUE_MAX 1024

struct pubsub_options pubsub_opts = {
    .max_nodes = 1000,
    .max_subscriptions = 1000,
    .max_affiliations = 1000,
    .max_service_bytes = 64L * 1024 * 1024,
};

struct pubsub_queued {
    struct pubsub_queued *next;
    struct stanza *st;
};

struct pubsub_worker {
    struct map services; /* domain -> struct pubsub_service */
};

static struct pubsub_worker **workers;
static int nworkers;
static pthread_once_t workers_once = PTHREAD_ONCE_INIT;

static void workers_alloc(void)
{
    nworkers = worker_count();
    if (nworkers < 1)
        nworkers = 1;
    workers = calloc((size_t)nworkers, sizeof *workers);
    ALDIS_ASSERT(workers != NULL);
}

/* The calling worker's table (made on first use; only it writes its slot). */
static struct pubsub_worker *pubsub_worker(void)
{
    pthread_once(&workers_once, workers_alloc);
    int id = worker_id(worker_current());
    ALDIS_ASSERT(id >= 0 && id < nworkers);
    if (!workers[id]) {
        struct pubsub_worker *pw = calloc(1, sizeof *pw);
        ALDIS_ASSERT(pw != NULL);
        map_init(&pw->services, 0);
        workers[id] = pw;
    }
    return workers[id];
}

static int fail(struct pubsub_req *r, const char *type, const char *cond, const char *app,
                const char *feature)
{
    return pep_iq_error(r->iq, type, cond, app, feature);
}

/* ---- nodes ------------------------------------------------------------------- */

void pubsub_node_save(struct pubsub_service *s, const struct pep_node *node)
{
    pep_store_node(s->domain, node);
}

struct pep_node *pubsub_node_arg(struct pubsub_req *r, const struct xml_node *el)
{
    const char *name = xml_attr(el, "node");
    if (!name || !*name) {
        fail(r, "modify", "bad-request", "nodeid-required", NULL);
        return NULL;
    }
    struct pep_node *node = strlen(name) <= PEP_MAX_ID ? pep_node_find(r->s->ps, name) : NULL;
    if (!node)
        fail(r, "cancel", "item-not-found", NULL, NULL);
    return node;
}

static size_t service_bytes(const struct pubsub_service *s)
{
    return pep_state_bytes(s->ps);
}

/* ---- notifications (§7.1.2, §4.4) ------------------------------------------------- */

void pubsub_broadcast(struct pubsub_service *s, const struct pep_node *node,
                      const struct stanza *ev)
{
    (void)s;
    if (!node->cfg.deliver_notifications)
        return;
    for (size_t i = 0; i < node->nsubs; i++) {
        if (node->subs[i].pending)
            continue;
        struct stanza *st = stanza_copy(ev);
        xml_set_attr(st, st->root, "to", node->subs[i].jid);
        router_route(st);
    }
}

static void notify_item(struct pubsub_service *s, const struct pep_node *node,
                        const struct pep_item *item)
{
    struct xml_node *event;
    struct stanza *ev = pep_event_new(s->domain, node, &event);
    pep_event_add_item(ev, event, node, item);
    pubsub_broadcast(s, node, ev);
    stanza_unref(ev);
}

/* §6.1.7: the last published item to a new subscription. */
void pubsub_send_last_item(struct pubsub_service *s, const struct pep_node *node, const char *to)
{
    if (!node->nitems || node->cfg.send_last == PEP_SEND_NEVER)
        return;
    struct xml_node *event;
    struct stanza *ev = pep_event_new(s->domain, node, &event);
    pep_event_add_item(ev, event, node, &node->items[node->nitems - 1]);
    xml_set_attr(ev, ev->root, "to", to);
    router_route(ev);
}

/* May a local user create nodes here? Users of the service's host may. */
static bool may_create(const struct pubsub_req *r)
{
    const char *dot = strchr(r->s->domain, '.');
    return r->from->local && dot && strcmp(r->from->domain, dot + 1) == 0;
}

/* ---- entity use cases ------------------------------------------------------------- */

/* A new node owned by the requester, configured by `form` (NULL: the
 * defaults). NULL having answered the error. */
static struct pep_node *node_new(struct pubsub_req *r, const char *name,
                                 const struct xml_node *form, const char *form_type,
                                 const char *bad_type, const char *bad_cond, const char *bad_app)
{
    struct pep_config cfg;
    pep_config_default(&cfg);
    /* XEP-0060 §16.4.4 defaults for a service: open, items persisted. */
    cfg.access = PEP_ACCESS_OPEN;
    cfg.max_items = 10;
    cfg.send_last = PEP_SEND_ON_SUB;
    const char *bad = NULL;
    if (form && pep_config_apply_form(&cfg, form, form_type, &bad) != 0) {
        pep_config_clear(&cfg);
        fail(r, bad_type, bad_cond, bad_app, NULL);
        return NULL;
    }
    struct pep_node *node = pep_node_add(r->s->ps, name, &cfg);
    if (!node) {
        pep_config_clear(&cfg);
        fail(r, "wait", "resource-constraint", NULL, NULL);
        return NULL;
    }
    pep_node_affiliation_set(node, r->from_bare, PEP_AFF_OWNER,
                             (size_t)pubsub_opts.max_affiliations);
    node->creator = aldis_strdup(r->from_bare);
    node->created = (long long)time(NULL);
    pubsub_node_save(r->s, node);
    return node;
}

/* §8.1: create, instant (§8.1.2) or named, optionally configured (§8.1.3). */
static int op_create(struct pubsub_req *r, const struct xml_node *create)
{
    if (!may_create(r))
        return fail(r, "auth", "forbidden", NULL, NULL);
    const char *given = xml_attr(create, "node");
    char instant[32];
    const char *name = given;
    if (!name || !*name) {
        do
            pep_item_id_new(instant, sizeof instant);
        while (pep_node_find(r->s->ps, instant));
        name = instant;
    }
    if (strlen(name) > PEP_MAX_ID)
        return fail(r, "modify", "not-acceptable", NULL, NULL);
    if (pep_node_find(r->s->ps, name))
        return fail(r, "cancel", "conflict", NULL, NULL);
    struct xml_node *configure = xml_child(r->payload, "configure", NS_PUBSUB);
    struct xml_node *form = configure ? xml_child(configure, "x", NS_DATA) : NULL;
    if (!node_new(r, name, form, NS_PUBSUB_NODE_CONFIG, "modify", "not-acceptable", NULL))
        return 0;
    struct stanza *reply = stanza_iq_result(r->iq);
    struct xml_node *ps = xml_add_child(reply, reply->root, "pubsub", NS_PUBSUB);
    struct xml_node *c = xml_add_child(reply, ps, "create", NS_PUBSUB);
    xml_set_attr(reply, c, "node", name);
    router_route(reply);
    return 0;
}

/* §7.1.3.1 / publish_model: may the requester publish to node? */
static bool may_publish(struct pubsub_req *r, struct pep_node *node)
{
    enum pep_affiliation aff = pep_node_affiliation(node, r->from_bare);
    if (aff == PEP_AFF_OUTCAST)
        return false;
    if (aff >= PEP_AFF_PUBLISHER || node->cfg.publish_model == PEP_PUBLISH_OPEN)
        return true;
    return node->cfg.publish_model == PEP_PUBLISH_SUBSCRIBERS &&
           pubsub_is_subscriber(node, r->from_bare);
}

/* §7.1: publish, auto-creating the node (§7.1.4) with publish-options
 * (§7.1.5) as its configuration, or checking them as preconditions. */
static int op_publish(struct pubsub_req *r, const struct xml_node *publish)
{
    const char *name = xml_attr(publish, "node");
    if (!name || !*name)
        return fail(r, "modify", "bad-request", "nodeid-required", NULL);
    if (strlen(name) > PEP_MAX_ID)
        return fail(r, "modify", "not-acceptable", NULL, NULL);
    struct pep_node *node = pep_node_find(r->s->ps, name);
    if (node && !may_publish(r, node))
        return fail(r, "auth", "forbidden", NULL, NULL);
    if (!node && !may_create(r))
        return fail(r, "cancel", "item-not-found", NULL, NULL);
    struct xml_node *po = xml_child(r->payload, "publish-options", NS_PUBSUB);
    struct xml_node *form = po ? xml_child(po, "x", NS_DATA) : NULL;
    const char *bad = NULL;
    if (node && form && !pep_config_form_matches(&node->cfg, form, &bad))
        return fail(r, "cancel", "conflict", "precondition-not-met", NULL);

    struct pep_publish pub;
    const char *etype, *econd, *eapp;
    if (pep_publish_take(publish, &pub, &etype, &econd, &eapp) < 0)
        return fail(r, etype, econd, eapp, NULL);
    const struct pep_item *prev = node ? pep_item_find(node, pub.id) : NULL;
    if (service_bytes(r->s) - (prev ? prev->size : 0) + pub.size >
        (size_t)pubsub_opts.max_service_bytes) {
        pep_publish_drop(&pub);
        return fail(r, "wait", "resource-constraint", NULL, NULL);
    }
    if (!node && !(node = node_new(r, name, form, NS_PUBSUB_PUBLISH_OPTIONS, "cancel",
                                   "conflict", "precondition-not-met"))) {
        pep_publish_drop(&pub);
        return 0;
    }
    const struct pep_item *stored = pep_publish_commit(r->s->domain, node, r->iq, r->from, &pub);
    notify_item(r->s, node, stored);
    return 0;
}

/* §7.2: retract one item, notifying when asked (§7.2.2.1) or, without a
 * 'notify' attribute, when the node says so. */
static int op_retract(struct pubsub_req *r, const struct xml_node *retract)
{
    struct pep_node *node = pubsub_node_arg(r, retract);
    if (!node)
        return 0;
    struct xml_node *item = xml_child(retract, "item", NS_PUBSUB);
    const char *id = item ? xml_attr(item, "id") : NULL;
    if (!id || !*id)
        return fail(r, "modify", "bad-request", "item-required", NULL);
    if (pep_node_affiliation(node, r->from_bare) < PEP_AFF_PUBLISHER)
        return fail(r, "auth", "forbidden", NULL, NULL); /* §7.2.3.1 */
    struct pep_item *found = pep_item_find(node, id);
    if (!found)
        return fail(r, "cancel", "item-not-found", NULL, NULL);
    char *id_copy = aldis_strdup(id);
    struct stanza *label = found->label ? stanza_ref(found->label) : NULL;
    pep_item_remove(node, found);
    if (node->cfg.persist_items)
        store_pubsub_item_del(r->s->domain, node->name, id_copy, NULL, NULL);
    router_route(stanza_iq_result(r->iq));
    const char *notify = xml_attr(retract, "notify");
    if (notify ? pep_attr_true(notify) : node->cfg.notify_retract) {
        struct xml_node *event;
        struct stanza *ev = pep_event_new(r->s->domain, node, &event);
        pep_event_add_retract(ev, event, node, id_copy, label);
        pubsub_broadcast(r->s, node, ev);
        stanza_unref(ev);
    }
    free(id_copy);
    if (label)
        stanza_unref(label);
    return 0;
}

/* The 'jid' attribute of a subscribe/unsubscribe, prepared; NULL having
 * answered the error. Only one's own JID (bare or full) is accepted
 * (§6.1.3.1 jid-mismatch / §6.2.3.3), except for an owner unsubscribing
 * someone. */
static const char *sub_jid_arg(struct pubsub_req *r, const struct xml_node *el, bool owner,
                               char *out, size_t size)
{
    const char *given = xml_attr(el, "jid");
    struct jid j;
    char bare[JID_STR_MAX];
    if (!given || jid_parse(given, &j) < 0) {
        fail(r, "modify", "bad-request", "jid-required", NULL);
        return NULL;
    }
    if (!owner && strcmp(jid_bare(&j, bare, sizeof bare), r->from_bare) != 0) {
        fail(r, "modify", "bad-request", "invalid-jid", NULL);
        return NULL;
    }
    return jid_full(&j, out, size);
}

static void subscription_el(struct stanza *st, struct xml_node *parent, const char *ns,
                            const char *node_name, const struct pep_sub *sub, const char *state)
{
    struct xml_node *el = xml_add_child(st, parent, "subscription", ns);
    if (node_name)
        xml_set_attr(st, el, "node", node_name);
    xml_set_attr(st, el, "jid", sub->jid);
    xml_set_attr(st, el, "subid", sub->subid);
    xml_set_attr(st, el, "subscription", state);
}

/* §6.1: subscribe (one subscription per JID: asking again answers the
 * existing one, §6.1.6). */
static int op_subscribe(struct pubsub_req *r, const struct xml_node *subscribe,
                        const char *checked_node)
{
    struct pep_node *node = pubsub_node_arg(r, subscribe);
    if (!node)
        return 0;
    char jid[JID_STR_MAX];
    if (!sub_jid_arg(r, subscribe, false, jid, sizeof jid))
        return 0;
    if (xml_child(r->payload, "options", NS_PUBSUB))
        return fail(r, "modify", "not-acceptable", "invalid-options", NULL);
    int access = pubsub_access_check(r, node, checked_node, true);
    if (access <= 0)
        return 0;
    struct pep_sub *sub = pep_node_sub_find(node, jid);
    bool is_new = !sub;
    if (!sub) {
        if (!(sub = pep_node_sub_add(node, jid, (size_t)pubsub_opts.max_subscriptions)))
            return fail(r, "cancel", "not-allowed", "too-many-subscriptions", NULL);
        /* §6.1.4: on an authorize node a non-member waits for an owner. */
        sub->pending = node->cfg.access == PEP_ACCESS_AUTHORIZE &&
                       pep_node_affiliation(node, r->from_bare) < PEP_AFF_MEMBER;
        pubsub_node_save(r->s, node);
    }
    struct stanza *reply = stanza_iq_result(r->iq);
    struct xml_node *ps = xml_add_child(reply, reply->root, "pubsub", NS_PUBSUB);
    subscription_el(reply, ps, NS_PUBSUB, node->name, sub,
                    sub->pending ? "pending" : "subscribed");
    router_route(reply);
    if (is_new && sub->pending)
        pubsub_ask_owners(r->s, node, sub);
    else if (is_new)
        pubsub_send_last_item(r->s, node, jid);
    return 0;
}

/* §6.2: unsubscribe (an owner may unsubscribe anyone, §8.8.2). */
static int op_unsubscribe(struct pubsub_req *r, const struct xml_node *unsub)
{
    struct pep_node *node = pubsub_node_arg(r, unsub);
    if (!node)
        return 0;
    bool owner = pep_node_affiliation(node, r->from_bare) == PEP_AFF_OWNER;
    char jid[JID_STR_MAX];
    if (!sub_jid_arg(r, unsub, owner, jid, sizeof jid))
        return 0;
    struct pep_sub *sub = pep_node_sub_find(node, jid);
    if (!sub)
        return fail(r, "cancel", "unexpected-request", "not-subscribed", NULL); /* §6.2.3.2 */
    const char *subid = xml_attr(unsub, "subid");
    if (subid && strcmp(subid, sub->subid) != 0)
        return fail(r, "modify", "not-acceptable", "invalid-subid", NULL); /* §6.2.3.5 */
    pep_node_sub_remove(node, sub);
    pubsub_node_save(r->s, node);
    router_route(stanza_iq_result(r->iq));
    return 0;
}

/* §6.5: items. */
static int op_items(struct pubsub_req *r, const struct xml_node *items, const char *checked_node)
{
    struct pep_node *node = pubsub_node_arg(r, items);
    if (!node)
        return 0;
    if (pubsub_access_check(r, node, checked_node, false) <= 0)
        return 0;
    return pep_items_answer(r->iq, node, items);
}

/* §5.6: the requester's subscriptions (optionally on one node). */
static int op_my_subscriptions(struct pubsub_req *r, const struct xml_node *el)
{
    const char *only = xml_attr(el, "node");
    struct stanza *reply = stanza_iq_result(r->iq);
    struct xml_node *ps = xml_add_child(reply, reply->root, "pubsub", NS_PUBSUB);
    struct xml_node *subs = xml_add_child(reply, ps, "subscriptions", NS_PUBSUB);
    if (only)
        xml_set_attr(reply, subs, "node", only);
    for (size_t i = 0; i < r->s->ps->nnodes; i++) {
        const struct pep_node *node = r->s->ps->nodes[i];
        if (only && strcmp(only, node->name) != 0)
            continue;
        for (size_t k = 0; k < node->nsubs; k++) {
            struct jid j;
            char bare[JID_STR_MAX];
            if (jid_parse(node->subs[k].jid, &j) == 0 &&
                strcmp(jid_bare(&j, bare, sizeof bare), r->from_bare) == 0)
                subscription_el(reply, subs, NS_PUBSUB, node->name, &node->subs[k],
                                node->subs[k].pending ? "pending" : "subscribed");
        }
    }
    router_route(reply);
    return 0;
}

/* §5.7: the requester's affiliations (optionally on one node). */
static int op_my_affiliations(struct pubsub_req *r, const struct xml_node *el)
{
    const char *only = xml_attr(el, "node");
    struct stanza *reply = stanza_iq_result(r->iq);
    struct xml_node *ps = xml_add_child(reply, reply->root, "pubsub", NS_PUBSUB);
    struct xml_node *affs = xml_add_child(reply, ps, "affiliations", NS_PUBSUB);
    if (only)
        xml_set_attr(reply, affs, "node", only);
    for (size_t i = 0; i < r->s->ps->nnodes; i++) {
        const struct pep_node *node = r->s->ps->nodes[i];
        if (only && strcmp(only, node->name) != 0)
            continue;
        enum pep_affiliation aff = pep_node_affiliation(node, r->from_bare);
        if (aff == PEP_AFF_NONE)
            continue;
        struct xml_node *a = xml_add_child(reply, affs, "affiliation", NS_PUBSUB);
        xml_set_attr(reply, a, "node", node->name);
        xml_set_attr(reply, a, "affiliation", pep_affiliation_name(aff));
    }
    router_route(reply);
    return 0;
}

static int entity_iq(struct pubsub_req *r, const char *checked_node)
{
    struct xml_node *op = NULL;
    for (struct xml_node *c = r->payload->children; c && !op; c = c->next)
        if (c->kind == XML_ELEM && strcmp(c->ns, NS_PUBSUB) == 0 &&
            strcmp(c->name, "publish-options") != 0 && strcmp(c->name, "configure") != 0 &&
            strcmp(c->name, "options") != 0)
            op = c;
    if (!op)
        return fail(r, "modify", "bad-request", NULL, NULL);
    const char *name = op->name;
    if (r->get) {
        if (strcmp(name, "items") == 0)
            return op_items(r, op, checked_node);
        if (strcmp(name, "subscriptions") == 0)
            return op_my_subscriptions(r, op);
        if (strcmp(name, "affiliations") == 0)
            return op_my_affiliations(r, op);
        return fail(r, "cancel", "feature-not-implemented", "unsupported",
                    strcmp(name, "default") == 0 ? "retrieve-default" : "subscription-options");
    }
    bool writes = strcmp(name, "create") == 0 || strcmp(name, "publish") == 0 ||
                  strcmp(name, "retract") == 0 || strcmp(name, "subscribe") == 0 ||
                  strcmp(name, "unsubscribe") == 0;
    if (!writes)
        return fail(r, "cancel", "feature-not-implemented", "unsupported",
                    strcmp(name, "options") == 0 ? "subscription-options" : name);
    if (r->s->broken)
        return fail(r, "wait", "internal-server-error", NULL, NULL);
    if (strcmp(name, "create") == 0)
        return op_create(r, op);
    if (strcmp(name, "publish") == 0)
        return op_publish(r, op);
    if (strcmp(name, "retract") == 0)
        return op_retract(r, op);
    if (strcmp(name, "subscribe") == 0)
        return op_subscribe(r, op, checked_node);
    return op_unsubscribe(r, op);
}

/* ---- disco (§5) ---------------------------------------------------------------------- */

static const char *const service_features[] = {
    NS_DISCO_INFO,
    NS_DISCO_ITEMS,
    NS_PING,
    NS_PUBSUB,
    NS_PUBSUB "#access-authorize",
    NS_PUBSUB "#access-open",
    NS_PUBSUB "#access-presence",
    NS_PUBSUB "#access-roster",
    NS_PUBSUB "#access-whitelist",
    NS_PUBSUB "#auto-create",
    NS_PUBSUB "#config-node",
    NS_PUBSUB "#config-node-max",
    NS_PUBSUB "#create-and-configure",
    NS_PUBSUB "#create-nodes",
    NS_PUBSUB "#delete-items",
    NS_PUBSUB "#delete-nodes",
    NS_PUBSUB "#instant-nodes",
    NS_PUBSUB "#item-ids",
    NS_PUBSUB "#last-published",
    NS_PUBSUB "#manage-affiliations",
    NS_PUBSUB "#manage-subscriptions",
    NS_PUBSUB "#meta-data",
    NS_PUBSUB "#modify-affiliations",
    NS_PUBSUB "#persistent-items",
    NS_PUBSUB "#publish",
    NS_PUBSUB "#publish-options",
    NS_PUBSUB "#publisher-affiliation",
    NS_PUBSUB "#purge-nodes",
    NS_PUBSUB "#retract-items",
    NS_PUBSUB "#retrieve-affiliations",
    NS_PUBSUB "#retrieve-default",
    NS_PUBSUB "#retrieve-items",
    NS_PUBSUB "#retrieve-subscriptions",
    NS_PUBSUB "#subscribe",
    NULL,
};

static void add_field(struct stanza *st, struct xml_node *x, const char *var, const char *type,
                      const char *value)
{
    struct xml_node *f = xml_add_child(st, x, "field", NS_DATA);
    xml_set_attr(st, f, "var", var);
    if (type)
        xml_set_attr(st, f, "type", type);
    if (value) {
        struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
        xml_add_text(st, v, value, strlen(value));
    }
}

static void add_jids(struct stanza *st, struct xml_node *x, const char *var,
                     const struct pep_node *node, enum pep_affiliation aff)
{
    struct xml_node *f = xml_add_child(st, x, "field", NS_DATA);
    xml_set_attr(st, f, "var", var);
    xml_set_attr(st, f, "type", "jid-multi");
    for (size_t i = 0; i < node->naffs; i++)
        if (node->affs[i].aff == aff) {
            struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
            xml_add_text(st, v, node->affs[i].jid, strlen(node->affs[i].jid));
        }
}

/* §5.4: node meta-data (XEP-0128 extended info). */
static void node_meta(struct stanza *st, struct xml_node *q, const struct pep_node *node)
{
    static const char *const access[] = {"open", "presence", "roster", "whitelist",
                                         "authorize"};
    static const char *const publish[] = {"publishers", "subscribers", "open"};
    struct xml_node *x = xml_add_child(st, q, "x", NS_DATA);
    xml_set_attr(st, x, "type", "result");
    add_field(st, x, "FORM_TYPE", "hidden", NS_PUBSUB_META);
    add_field(st, x, "pubsub#title", "text-single", node->cfg.title ? node->cfg.title : "");
    if (node->creator)
        add_field(st, x, "pubsub#creator", "jid-single", node->creator);
    if (node->created) {
        char when[32];
        time_t t = (time_t)node->created;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm); /* XEP-0082 */
        add_field(st, x, "pubsub#creation_date", "text-single", when);
    }
    add_jids(st, x, "pubsub#owner", node, PEP_AFF_OWNER);
    add_jids(st, x, "pubsub#publisher", node, PEP_AFF_PUBLISHER);
    add_field(st, x, "pubsub#access_model", "list-single", access[node->cfg.access]);
    add_field(st, x, "pubsub#publish_model", "list-single", publish[node->cfg.publish_model]);
    char num[32];
    snprintf(num, sizeof num, "%ld", pep_config_max(&node->cfg));
    add_field(st, x, "pubsub#max_items", "text-single", num);
    snprintf(num, sizeof num, "%zu", node->nsubs);
    add_field(st, x, "pubsub#num_subscribers", "text-single", num);
    if (node->nitems && node->items[node->nitems - 1].payload) {
        /* §5.4: the payload type is the namespace of the payload. */
        const char *ns = node->items[node->nitems - 1].payload->root->ns;
        if (ns && *ns)
            add_field(st, x, "pubsub#type", "text-single", ns);
    }
}

static void disco_info(struct pubsub_req *r, const struct xml_node *q)
{
    const char *node_name = xml_attr(q, "node");
    const struct pep_node *node = NULL;
    if (node_name) {
        node = pep_node_find(r->s->ps, node_name);
        if (!node || !pubsub_node_visible(node, r->from_bare)) {
            fail(r, "cancel", "item-not-found", NULL, NULL);
            return;
        }
    }
    struct stanza *reply = stanza_iq_result(r->iq);
    struct xml_node *rq = xml_add_child(reply, reply->root, "query", NS_DISCO_INFO);
    struct xml_node *id = xml_add_child(reply, rq, "identity", NS_DISCO_INFO);
    xml_set_attr(reply, id, "category", "pubsub");
    if (node) {
        xml_set_attr(reply, rq, "node", node_name);
        xml_set_attr(reply, id, "type", "leaf"); /* §5.3 */
        struct xml_node *f = xml_add_child(reply, rq, "feature", NS_DISCO_INFO);
        xml_set_attr(reply, f, "var", NS_PUBSUB);
        if (security_active()) { /* XEP-0314 §4.1: per-node catalogs */
            f = xml_add_child(reply, rq, "feature", NS_DISCO_INFO);
            xml_set_attr(reply, f, "var", LABEL_CATALOG_NS);
        }
        node_meta(reply, rq, node);
    } else {
        xml_set_attr(reply, id, "type", "service"); /* §5.1 */
        xml_set_attr(reply, id, "name", "Publish-Subscribe");
        for (const char *const *f = service_features; *f; f++) {
            struct xml_node *fe = xml_add_child(reply, rq, "feature", NS_DISCO_INFO);
            xml_set_attr(reply, fe, "var", *f);
        }
        /* XEP-0314 §4.1: labels on items, and catalogs, when a policy is on */
        static const char *const label_features[] = {LABEL_NS, LABEL_CATALOG_NS, NULL};
        for (const char *const *f = label_features; security_active() && *f; f++) {
            struct xml_node *fe = xml_add_child(reply, rq, "feature", NS_DISCO_INFO);
            xml_set_attr(reply, fe, "var", *f);
        }
    }
    router_route(reply);
}

/* XEP-0314 §4.1: the label catalog for the service or one of its nodes.
 * Nodes have no clearance of their own here, so the catalog is what the
 * requester may use (its own clearance bounds it); a node the requester
 * may not see is item-not-found, as everywhere. */
static void catalog_get(struct pubsub_req *r, const struct xml_node *cat)
{
    const char *node_name = xml_attr(cat, "node");
    if (node_name) {
        const struct pep_node *node = pep_node_find(r->s->ps, node_name);
        if (!node || !pubsub_node_visible(node, r->from_bare)) {
            fail(r, "cancel", "item-not-found", NULL, NULL);
            return;
        }
    }
    labels_catalog_request(r->iq, r->from_bare, r->from_bare, r->s->domain, node_name);
}

static void disco_items(struct pubsub_req *r, const struct xml_node *q)
{
    const char *node_name = xml_attr(q, "node");
    const struct pep_node *node = NULL;
    if (node_name) {
        node = pep_node_find(r->s->ps, node_name);
        if (!node || !pubsub_node_visible(node, r->from_bare)) {
            fail(r, "cancel", "item-not-found", NULL, NULL);
            return;
        }
        /* §5.5: item ids are listed to those who may read the items
         * without a roster check: affiliates, or anyone on open nodes. */
        if (node->cfg.access != PEP_ACCESS_OPEN &&
            pep_node_affiliation(node, r->from_bare) < PEP_AFF_MEMBER) {
            fail(r, "auth", "forbidden", NULL, NULL);
            return;
        }
    }
    struct stanza *reply = stanza_iq_result(r->iq);
    struct xml_node *rq = xml_add_child(reply, reply->root, "query", NS_DISCO_ITEMS);
    if (node) {
        xml_set_attr(reply, rq, "node", node_name);
        for (size_t i = 0; i < node->nitems; i++) {
            struct xml_node *it = xml_add_child(reply, rq, "item", NS_DISCO_ITEMS);
            xml_set_attr(reply, it, "jid", r->s->domain);
            xml_set_attr(reply, it, "name", node->items[i].id);
        }
    } else {
        /* §5.2: the nodes at the root (no collections here). */
        for (size_t i = 0; i < r->s->ps->nnodes; i++) {
            const struct pep_node *n = r->s->ps->nodes[i];
            if (!pubsub_node_visible(n, r->from_bare))
                continue;
            struct xml_node *it = xml_add_child(reply, rq, "item", NS_DISCO_ITEMS);
            xml_set_attr(reply, it, "jid", r->s->domain);
            xml_set_attr(reply, it, "node", n->name);
            if (n->cfg.title)
                xml_set_attr(reply, it, "name", n->cfg.title);
        }
    }
    router_route(reply);
}

/* ---- dispatch ------------------------------------------------------------------------ */

void pubsub_dispatch(struct pubsub_service *s, struct stanza *st, const char *checked_node)
{
    const char *kind = stanza_name(st);
    const char *type = stanza_type(st);
    if (strcmp(kind, "iq") != 0) {
        /* Messages carry owners' approvals (§8.6); errors about
         * notifications are dropped (the subscription stays until the
         * subscriber leaves); presence is dropped. */
        struct jid mfrom;
        const char *mf = stanza_from(st);
        if (strcmp(kind, "message") == 0 && !(type && strcmp(type, "error") == 0) && mf &&
            jid_parse(mf, &mfrom) == 0)
            pubsub_approval_in(s, st, &mfrom);
        return;
    }
    if (!type || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
        return;
    struct jid from;
    const char *f = stanza_from(st);
    if (!f || jid_parse(f, &from) < 0)
        return;
    struct pubsub_req r = {.s = s, .iq = st, .from = &from, .get = strcmp(type, "get") == 0};
    jid_bare(&from, r.from_bare, sizeof r.from_bare);
    struct xml_node *payload = xml_first_elem(st->root);
    r.payload = payload;
    if (!payload) {
        fail(&r, "modify", "bad-request", NULL, NULL);
    } else if (r.get && xml_is(payload, "query", NS_DISCO_INFO)) {
        disco_info(&r, payload);
    } else if (r.get && xml_is(payload, "query", NS_DISCO_ITEMS)) {
        disco_items(&r, payload);
    } else if (r.get && xml_is(payload, "ping", NS_PING)) {
        router_route(stanza_iq_result(st)); /* XEP-0199 §4.2 */
    } else if (r.get && xml_is(payload, "catalog", LABEL_CATALOG_NS) && security_active()) {
        catalog_get(&r, payload);
    } else if (xml_is(payload, "pubsub", NS_PUBSUB)) {
        entity_iq(&r, checked_node);
    } else if (xml_is(payload, "pubsub", NS_PUBSUB_OWNER)) {
        pubsub_owner_iq(&r);
    } else {
        router_bounce(st, "cancel", "service-unavailable", NULL);
    }
}

/* ---- the service state ------------------------------------------------------------------ */

struct pubsub_service *pubsub_service_get(const char *domain)
{
    return map_get(&pubsub_worker()->services, domain);
}

static void queued_free(struct pubsub_queued *q)
{
    stanza_unref(q->st);
    free(q);
}

static void service_loaded(void *ud, int err, const struct pubsub_node_rec *nodes, size_t n)
{
    char *domain = ud;
    struct pubsub_service *s = pubsub_service_get(domain);
    free(domain);
    if (!s)
        return;
    s->ps = pep_state_from_records(nodes, n, s->domain);
    s->ps->max_nodes = pubsub_opts.max_nodes;
    if (err) {
        log_error("pubsub", "loading the nodes of %s failed: %s", s->domain,
                  aldis_strerror(err));
        s->broken = true;
    }
    for (struct pubsub_queued *q = s->head, *next; q; q = next) {
        next = q->next;
        pubsub_dispatch(s, q->st, NULL);
        queued_free(q);
    }
    s->head = s->tail = NULL;
    s->nqueued = 0;
}

static void pubsub_stanza(struct service *svc, struct stanza *st, const struct jid *to,
                          const struct jid *from)
{
    (void)from;
    if (to->local || to->resource) {
        router_bounce(st, "cancel", "service-unavailable", NULL); /* nothing lives there */
        return;
    }
    struct pubsub_worker *pw = pubsub_worker();
    struct pubsub_service *s = map_get(&pw->services, svc->domain);
    if (!s) {
        s = calloc(1, sizeof *s);
        ALDIS_ASSERT(s != NULL);
        s->domain = aldis_strdup(svc->domain);
        map_put(&pw->services, svc->domain, s);
        store_pubsub_load(s->domain, service_loaded, aldis_strdup(s->domain));
    }
    if (s->ps) {
        pubsub_dispatch(s, st, NULL);
        return;
    }
    if (s->nqueued >= PUBSUB_QUEUE_MAX) {
        router_bounce(st, "wait", "resource-constraint", NULL);
        return;
    }
    struct pubsub_queued *q = calloc(1, sizeof *q);
    ALDIS_ASSERT(q != NULL);
    q->st = stanza_ref(st);
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
    s->nqueued++;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static int pubsub_init(const struct config *cfg, char *err, size_t errlen)
{
    if (config_module_int(cfg, "pubsub", "max_nodes", 1000, 1, 1000000, &pubsub_opts.max_nodes,
                          err, errlen) < 0 ||
        config_module_int(cfg, "pubsub", "max_subscriptions", 1000, 1, 1000000,
                          &pubsub_opts.max_subscriptions, err, errlen) < 0 ||
        config_module_int(cfg, "pubsub", "max_affiliations", 1000, 1, 1000000,
                          &pubsub_opts.max_affiliations, err, errlen) < 0 ||
        config_module_int(cfg, "pubsub", "max_service_bytes", 64L * 1024 * 1024, 65536,
                          16L * 1024 * 1024 * 1024, &pubsub_opts.max_service_bytes, err,
                          errlen) < 0)
        return ALDIS_ECONFIG;
    return 0;
}

/* After the workers stopped: free what every worker held. */
static void pubsub_shutdown(void)
{
    for (int i = 0; workers && i < nworkers; i++) {
        struct pubsub_worker *pw = workers[i];
        if (!pw)
            continue;
        const char *key;
        void *val;
        for (size_t it = 0; map_next(&pw->services, &it, &key, &val);) {
            struct pubsub_service *s = val;
            for (struct pubsub_queued *q = s->head, *next; q; q = next) {
                next = q->next;
                queued_free(q);
            }
            pep_state_free(s->ps);
            free(s->domain);
            free(s);
        }
        map_free(&pw->services);
        free(pw);
        workers[i] = NULL;
    }
}

static const struct hook_row pubsub_hooks[] = {{0}};
static const struct iq_handler pubsub_iqs[] = {{0}};

struct module mod_pubsub = {
    .name = "pubsub",
    .hooks = pubsub_hooks,
    .iq_handlers = pubsub_iqs,
    .init = pubsub_init,
    .shutdown = pubsub_shutdown,
    .service_subdomain = "pubsub",
    .service_stanza = pubsub_stanza,
};

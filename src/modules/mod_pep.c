/* mod_pep.c - Personal Eventing (XEP-0163): every account is a PubSub
 * service at its bare JID, with the XEP-0060 subset PEP needs — publish
 * (auto-create, publish-options preconditions), retract, items, create,
 * configure, default, delete, purge — access models open, presence, roster
 * and whitelist, and notifications to the account's own resources and to
 * the contacts the access model admits, filtered by the "+notify" features
 * of their Entity Capabilities (XEP-0115, pep_caps.c). Whitelist nodes with
 * publish-options are the user's private storage (XEP-0223); bookmarks
 * (XEP-0402) keep a legacy copy in step (pep_bookmarks.c).
 *
 * Nodes and items live in memory while the account is loaded
 * (pep_node.c) and are written through to the store; everything runs on
 * the account's owner worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/store_pubsub.h"
#include "aldis/worker.h"
#include "modules/blocking.h"
#include "modules/pep.h"
#include "modules/roster.h"


long pep_opt_max_items = 256;
long pep_opt_max_nodes = 256;
long pep_opt_max_item_size = 262144;
long pep_opt_max_account_bytes = 16 * 1024 * 1024;

static int pep_init(const struct config *cfg, char *err, size_t errlen)
{
    if (config_module_int(cfg, "pep", "max_items", 256, 1, 100000, &pep_opt_max_items, err,
                          errlen) < 0 ||
        config_module_int(cfg, "pep", "max_nodes", 256, 1, 100000, &pep_opt_max_nodes, err,
                          errlen) < 0 ||
        config_module_int(cfg, "pep", "max_item_size", 262144, 256, 16 * 1024 * 1024,
                          &pep_opt_max_item_size, err, errlen) < 0 ||
        config_module_int(cfg, "pep", "max_account_bytes", 16 * 1024 * 1024, 65536,
                          1024L * 1024 * 1024, &pep_opt_max_account_bytes, err, errlen) < 0)
        return ALDIS_ECONFIG;
    return 0;
}

static struct pep_state *state_of(struct account *acct)
{
    return MODULE_DATA(acct, mod_pep);
}

/* ---- errors --------------------------------------------------------------- */

static int pep_fail(struct iq_ctx *ctx, const char *type, const char *cond, const char *app,
                    const char *feature)
{
    return pep_iq_error(ctx->iq, type, cond, app, feature);
}

/* ---- access (XEP-0060 §4.5) ------------------------------------------------- */

static bool roster_group_allowed(const struct roster_item *it, const struct pep_config *cfg)
{
    for (size_t g = 0; g < it->ngroups; g++)
        for (size_t a = 0; a < cfg->ngroups; a++)
            if (strcmp(it->groups[g], cfg->groups[a]) == 0)
                return true;
    return false;
}

/* May `bare` see the node's items? The owner always may. */
static bool pep_may_access(struct account *acct, const struct pep_node *node, const char *bare)
{
    if (strcmp(bare, acct->bare) == 0)
        return true;
    switch (node->cfg.access) {
    case PEP_ACCESS_OPEN:
        return true;
    case PEP_ACCESS_PRESENCE:
        return roster_has_from(acct, bare);
    case PEP_ACCESS_ROSTER: {
        const struct roster_item *it = roster_find(acct, bare);
        return it && (it->subscription & SUB_FROM) && roster_group_allowed(it, &node->cfg);
    }
    case PEP_ACCESS_AUTHORIZE: /* refused at configuration */
    case PEP_ACCESS_WHITELIST:
        /* Affiliations are not kept: the whitelist is the owner alone, which
         * is what XEP-0223 private storage needs. */
        return false;
    }
    return false;
}

/* XEP-0060 §6.5.9: the error for an entity the access model refuses. */
static int pep_fail_access(struct iq_ctx *ctx, const struct pep_node *node)
{
    switch (node->cfg.access) {
    case PEP_ACCESS_PRESENCE:
        return pep_fail(ctx, "auth", "not-authorized", "presence-subscription-required", NULL);
    case PEP_ACCESS_ROSTER:
        return pep_fail(ctx, "auth", "not-authorized", "not-in-roster-group", NULL);
    default:
        return pep_fail(ctx, "cancel", "not-allowed", "closed-node", NULL);
    }
}

/* ---- notifications (XEP-0163 §4.3, XEP-0060 §7.1.2) ----------------------------- */

/* Does this available resource get notifications of `node`? Its caps must
 * carry "<node>+notify" (§4.2 filtered notifications); a contact must also
 * pass the access model and not be blocked (§4.3.3 rule 3). */
static bool peer_wants(struct account *acct, const struct pep_peer *p, const struct pep_node *node)
{
    if (!p->caps || !node->cfg.deliver_notifications)
        return false;
    char feature[PEP_MAX_ID + 16];
    snprintf(feature, sizeof feature, "%s+notify", node->name);
    if (!pep_caps_has(p->caps, feature))
        return false;
    if (p->own)
        return true;
    return pep_may_access(acct, node, p->bare) && !blocking_is_blocked(acct, p->full);
}

static struct stanza *event_new(struct account *acct, const struct pep_node *node,
                                struct xml_node **event_out)
{
    return pep_event_new(acct->bare, node, event_out);
}

/* The resource part of an own peer's full JID. */
static const char *own_resource(struct account *acct, const struct pep_peer *p)
{
    size_t n = strlen(acct->bare);
    return strncmp(p->full, acct->bare, n) == 0 && p->full[n] == '/' ? p->full + n + 1 : NULL;
}

/* Send a copy of `ev` to one resource: the account's own through its
 * session, a contact's through the router (§4.3.1: from the bare JID, to
 * the full JID we have presence from). */
static void event_send(struct account *acct, const struct pep_peer *p, const struct stanza *ev)
{
    struct stanza *st = stanza_copy(ev);
    xml_set_attr(st, st->root, "to", p->full);
    if (p->own) {
        const char *name = own_resource(acct, p);
        struct resource *r = name ? account_resource(acct, name) : NULL;
        if (r)
            account_send(acct, r, st);
        else
            stanza_unref(st);
        return;
    }
    router_route(st);
}

/* To every resource that wants notifications of the node. */
static void event_broadcast(struct account *acct, const struct pep_node *node,
                            const struct stanza *ev)
{
    struct pep_state *ps = state_of(acct);
    for (struct pep_peer *p = ps->peers; p; p = p->next)
        if (peer_wants(acct, p, node))
            event_send(acct, p, ev);
}

void pep_notify_item(struct account *acct, const struct pep_node *node,
                        const struct pep_item *item)
{
    struct xml_node *event;
    struct stanza *ev = event_new(acct, node, &event);
    pep_event_add_item(ev, event, node, item);
    event_broadcast(acct, node, ev);
    stanza_unref(ev);
}

void pep_notify_retract(struct account *acct, const struct pep_node *node, const char *id,
                        const struct stanza *label)
{
    struct xml_node *event;
    struct stanza *ev = event_new(acct, node, &event);
    pep_event_add_retract(ev, event, node, id, label);
    event_broadcast(acct, node, ev);
    stanza_unref(ev);
}

/* <delete node/> or <purge node/> (XEP-0060 §8.4.2, §8.5.2). */
static void notify_node(struct account *acct, const struct pep_node *node, const char *what)
{
    struct xml_node *event;
    struct stanza *ev = event_new(acct, node, &event);
    struct xml_node *el = xml_add_child(ev, event, what, NS_PUBSUB_EVENT);
    xml_set_attr(ev, el, "node", node->name);
    event_broadcast(acct, node, ev);
    stanza_unref(ev);
}

/* XEP-0163 §4.3.4: the last item of each node the resource wants (and did
 * not want before, when old_caps says what it wanted). */
static void send_last_items(struct account *acct, struct pep_peer *peer,
                            const struct pep_caps *old_caps)
{
    struct pep_state *ps = state_of(acct);
    for (size_t i = 0; i < ps->nnodes; i++) {
        const struct pep_node *node = ps->nodes[i];
        if (!node->nitems || node->cfg.send_last != PEP_SEND_ON_SUB_AND_PRESENCE ||
            !peer_wants(acct, peer, node))
            continue;
        if (old_caps) {
            char feature[PEP_MAX_ID + 16];
            snprintf(feature, sizeof feature, "%s+notify", node->name);
            if (pep_caps_has(old_caps, feature))
                continue;
        }
        struct xml_node *event;
        struct stanza *ev = event_new(acct, node, &event);
        pep_event_add_item(ev, event, node, &node->items[node->nitems - 1]);
        event_send(acct, peer, ev);
        stanza_unref(ev);
    }
}

/* A resource just became available, or changed its caps, and we now know
 * its features: XEP-0163 §4.3.3 rule 2. */
void pep_caps_resolved(struct account *acct, struct pep_peer *peer)
{
    if (!state_of(acct) || !peer->want_last)
        return;
    send_last_items(acct, peer, peer->old_caps);
    peer->want_last = false;
    pep_caps_unref(peer->old_caps);
    peer->old_caps = NULL;
}

bool pep_attr_true(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* ---- pubsub (XEP-0060 §6, §7) -------------------------------------------------- */

/* A node name from `el`, or NULL after answering the error (§7.1.3.3,
 * §6.5.9.x: nodeid-required). */
static const char *node_attr(struct iq_ctx *ctx, const struct xml_node *el)
{
    const char *name = xml_attr(el, "node");
    if (!name || !*name) {
        pep_fail(ctx, "modify", "bad-request", "nodeid-required", NULL);
        return NULL;
    }
    if (strlen(name) > PEP_MAX_ID) {
        pep_fail(ctx, "modify", "not-acceptable", NULL, NULL);
        return NULL;
    }
    return name;
}

/* Make a node with the defaults overridden by a form (NULL: none). Returns
 * the node, or NULL having answered the error. */
static struct pep_node *node_create(struct iq_ctx *ctx, struct pep_state *ps, const char *name,
                                    const struct xml_node *form, const char *form_type,
                                    const char *bad_cond, const char *bad_app)
{
    struct pep_config cfg;
    pep_config_default(&cfg);
    const char *bad = NULL;
    if (form && (pep_config_apply_form(&cfg, form, form_type, &bad) != 0 ||
                 cfg.publish_model != PEP_PUBLISH_PUBLISHERS ||
                 cfg.access == PEP_ACCESS_AUTHORIZE)) {
        pep_config_clear(&cfg);
        pep_fail(ctx, strcmp(bad_cond, "conflict") == 0 ? "cancel" : "modify", bad_cond, bad_app,
                 NULL);
        return NULL;
    }
    struct pep_node *node = pep_node_add(ps, name, &cfg);
    if (!node) {
        pep_config_clear(&cfg);
        pep_fail(ctx, "wait", "resource-constraint", NULL, NULL);
        return NULL;
    }
    pep_store_node(ctx->acct->bare, node);
    return node;
}

/* XEP-0060 §7.1: publish, with auto-create (§7.1.4, XEP-0163 §3) and
 * publish-options preconditions (§7.1.5). */
static int pep_publish(struct iq_ctx *ctx, struct pep_state *ps, const struct xml_node *pubsub,
                       const struct xml_node *publish)
{
    const char *name = node_attr(ctx, publish);
    if (!name)
        return 0;
    struct pep_publish pub;
    const char *etype, *econd, *eapp;
    if (pep_publish_take(publish, &pub, &etype, &econd, &eapp) < 0)
        return pep_fail(ctx, etype, econd, eapp, NULL);

    struct xml_node *po = xml_child(pubsub, "publish-options", NS_PUBSUB);
    struct xml_node *form = po ? xml_child(po, "x", NS_DATA) : NULL;
    struct pep_node *node = pep_node_find(ps, name);
    const char *bad = NULL;
    if (node && form && !pep_config_form_matches(&node->cfg, form, &bad)) {
        pep_publish_drop(&pub);
        return pep_fail(ctx, "cancel", "conflict", "precondition-not-met", NULL);
    }
    /* The account's quota, counting the item this one replaces as gone. */
    const struct pep_item *prev = node ? pep_item_find(node, pub.id) : NULL;
    if (pep_state_bytes(ps) - (prev ? prev->size : 0) + pub.size >
        (size_t)pep_opt_max_account_bytes) {
        pep_publish_drop(&pub);
        return pep_fail(ctx, "wait", "resource-constraint", NULL, NULL);
    }
    if (!node) {
        /* §7.1.5: options that cannot be applied are a precondition that
         * cannot be met, as for an existing node. */
        node = node_create(ctx, ps, name, form, NS_PUBSUB_PUBLISH_OPTIONS, "conflict",
                           "precondition-not-met");
        if (!node) {
            pep_publish_drop(&pub);
            return 0;
        }
    }
    const struct pep_item *stored =
        pep_publish_commit(ctx->acct->bare, node, ctx->iq, ctx->from, &pub);

    pep_notify_item(ctx->acct, node, stored);
    pep_bookmarks_changed(ctx->acct, name, node);
    return 0;
}

/* XEP-0060 §7.2: retract one item; notify when asked to (§7.2.2.1) or,
 * without a 'notify' attribute, when the node says so. */
static int pep_retract(struct iq_ctx *ctx, struct pep_state *ps, const struct xml_node *retract)
{
    const char *name = node_attr(ctx, retract);
    if (!name)
        return 0;
    struct xml_node *item = xml_child(retract, "item", NS_PUBSUB);
    const char *id = item ? xml_attr(item, "id") : NULL;
    if (!id || !*id)
        return pep_fail(ctx, "modify", "bad-request", "item-required", NULL);
    struct pep_node *node = pep_node_find(ps, name);
    struct pep_item *found = node ? pep_item_find(node, id) : NULL;
    if (!found)
        return pep_fail(ctx, "cancel", "item-not-found", NULL, NULL);
    char *id_copy = strdup(id);
    ALDIS_ASSERT(id_copy != NULL);
    struct stanza *label = found->label ? stanza_ref(found->label) : NULL;
    pep_item_remove(node, found);
    if (node->cfg.persist_items)
        store_pubsub_item_del(ctx->acct->bare, name, id_copy, NULL, NULL);
    router_route(stanza_iq_result(ctx->iq));
    const char *notify = xml_attr(retract, "notify");
    if (notify ? pep_attr_true(notify) : node->cfg.notify_retract)
        pep_notify_retract(ctx->acct, node, id_copy, label);
    free(id_copy);
    if (label)
        stanza_unref(label);
    pep_bookmarks_changed(ctx->acct, name, node);
    return 0;
}

/* XEP-0060 §8.1: create, optionally configured (§8.1.3). PEP nodes are
 * named by their namespace: no instant nodes (§8.1.2 nodeid-required). */
static int pep_create(struct iq_ctx *ctx, struct pep_state *ps, const struct xml_node *pubsub,
                      const struct xml_node *create)
{
    const char *name = xml_attr(create, "node");
    if (!name || !*name)
        return pep_fail(ctx, "modify", "not-acceptable", "nodeid-required", NULL);
    if (strlen(name) > PEP_MAX_ID)
        return pep_fail(ctx, "modify", "not-acceptable", NULL, NULL);
    if (pep_node_find(ps, name))
        return pep_fail(ctx, "cancel", "conflict", NULL, NULL);
    struct xml_node *configure = xml_child(pubsub, "configure", NS_PUBSUB);
    struct xml_node *form = configure ? xml_child(configure, "x", NS_DATA) : NULL;
    if (!node_create(ctx, ps, name, form, NS_PUBSUB_NODE_CONFIG, "not-acceptable", NULL))
        return 0;
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

/* XEP-0060 §6.5: items, all (oldest first), the newest max_items
 * (§6.5.7) or by id (§6.5.8). */
static int pep_items(struct iq_ctx *ctx, struct pep_state *ps, const struct xml_node *items_el)
{
    const char *name = node_attr(ctx, items_el);
    if (!name)
        return 0;
    struct pep_node *node = pep_node_find(ps, name);
    if (!node)
        return pep_fail(ctx, "cancel", "item-not-found", NULL, NULL);
    char from_bare[JID_STR_MAX];
    jid_bare(ctx->from, from_bare, sizeof from_bare);
    if (!ctx->from_self && !pep_may_access(ctx->acct, node, from_bare))
        return pep_fail_access(ctx, node);

    return pep_items_answer(ctx->iq, node, items_el);
}

static int pep_iq(struct iq_ctx *ctx)
{
    struct pep_state *ps = state_of(ctx->acct);
    if (!ps)
        return pep_fail(ctx, "wait", "internal-server-error", NULL, NULL);
    struct xml_node *op = NULL;
    for (struct xml_node *c = ctx->payload->children; c && !op; c = c->next)
        if (c->kind == XML_ELEM && strcmp(c->ns, ctx->payload->ns) == 0 &&
            strcmp(c->name, "publish-options") != 0 && strcmp(c->name, "configure") != 0)
            op = c;
    if (!op && ctx->kind == IQ_SET && xml_child(ctx->payload, "configure", NS_PUBSUB))
        op = xml_child(ctx->payload, "configure", NS_PUBSUB);
    if (!op)
        return pep_fail(ctx, "modify", "bad-request", NULL, NULL);

    if (ctx->kind == IQ_GET) {
        if (strcmp(op->name, "items") == 0)
            return pep_items(ctx, ps, op);
        /* §5.6, §5.7: no explicit subscriptions or affiliations here; PEP
         * subscriptions are implicit (XEP-0163 §4.1). */
        return pep_fail(ctx, "cancel", "feature-not-implemented", "unsupported",
                        strcmp(op->name, "subscriptions") == 0  ? "retrieve-subscriptions"
                        : strcmp(op->name, "affiliations") == 0 ? "retrieve-affiliations"
                                                                : op->name);
    }
    bool writes = strcmp(op->name, "publish") == 0 || strcmp(op->name, "retract") == 0 ||
                  strcmp(op->name, "create") == 0;
    if (!writes)
        return pep_fail(ctx, "cancel", "feature-not-implemented", "unsupported",
                        strcmp(op->name, "subscribe") == 0 ? "subscribe" : op->name);
    /* XEP-0163 §2.2: the owner is the only publisher (XEP-0060 §7.1.3.1). */
    if (!ctx->from_self)
        return pep_fail(ctx, "auth", "forbidden", NULL, NULL);
    if (ps->broken)
        return pep_fail(ctx, "wait", "internal-server-error", NULL, NULL);
    if (strcmp(op->name, "publish") == 0)
        return pep_publish(ctx, ps, ctx->payload, op);
    if (strcmp(op->name, "retract") == 0)
        return pep_retract(ctx, ps, op);
    return pep_create(ctx, ps, ctx->payload, op);
}

/* ---- owner use cases (XEP-0060 §8) ------------------------------------------------ */

static struct stanza *owner_reply(struct iq_ctx *ctx, struct xml_node **pubsub)
{
    struct stanza *reply = stanza_iq_result(ctx->iq);
    *pubsub = xml_add_child(reply, reply->root, "pubsub", NS_PUBSUB_OWNER);
    return reply;
}

/* §8.2: configuration form (get) or its submission (set). */
static int owner_configure(struct iq_ctx *ctx, struct pep_state *ps, const struct xml_node *el)
{
    const char *name = node_attr(ctx, el);
    if (!name)
        return 0;
    struct pep_node *node = pep_node_find(ps, name);
    if (!node)
        return pep_fail(ctx, "cancel", "item-not-found", NULL, NULL);
    if (ctx->kind == IQ_GET) {
        struct xml_node *pubsub;
        struct stanza *reply = owner_reply(ctx, &pubsub);
        struct xml_node *conf = xml_add_child(reply, pubsub, "configure", NS_PUBSUB_OWNER);
        xml_set_attr(reply, conf, "node", name);
        pep_config_form(reply, conf, &node->cfg);
        router_route(reply);
        return 0;
    }
    struct pep_config cfg;
    const char *cond;
    int rc = pep_configure_take(node, el, &cfg, &cond);
    if (rc < 0)
        return pep_fail(ctx, "modify", cond, NULL, NULL);
    if (rc == 0) {
        /* XEP-0163 §2.2: the owner is the only publisher. */
        if (cfg.publish_model != PEP_PUBLISH_PUBLISHERS || cfg.access == PEP_ACCESS_AUTHORIZE) {
            pep_config_clear(&cfg);
            return pep_fail(ctx, "modify", "not-acceptable", NULL, NULL);
        }
        pep_configure_commit(ctx->acct->bare, node, &cfg);
        pep_store_node(ctx->acct->bare, node);
    }
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

/* §8.3: the default configuration. */
static int owner_default(struct iq_ctx *ctx)
{
    struct pep_config cfg;
    pep_config_default(&cfg);
    struct xml_node *pubsub;
    struct stanza *reply = owner_reply(ctx, &pubsub);
    struct xml_node *def = xml_add_child(reply, pubsub, "default", NS_PUBSUB_OWNER);
    pep_config_form(reply, def, &cfg);
    router_route(reply);
    return 0;
}

/* §8.4 delete, §8.5 purge. */
static int owner_delete_or_purge(struct iq_ctx *ctx, struct pep_state *ps,
                                 const struct xml_node *el, bool delete)
{
    const char *name = node_attr(ctx, el);
    if (!name)
        return 0;
    struct pep_node *node = pep_node_find(ps, name);
    if (!node)
        return pep_fail(ctx, "cancel", "item-not-found", NULL, NULL);
    char *name_copy = strdup(name);
    ALDIS_ASSERT(name_copy != NULL);
    router_route(stanza_iq_result(ctx->iq));
    if (delete) {
        if (node->cfg.notify_delete)
            notify_node(ctx->acct, node, "delete");
        pep_node_remove(ps, node);
        store_pubsub_node_del(ctx->acct->bare, name_copy, NULL, NULL);
        pep_bookmarks_changed(ctx->acct, name_copy, NULL);
    } else {
        pep_items_clear(node);
        store_pubsub_purge(ctx->acct->bare, name_copy, NULL, NULL);
        if (node->cfg.notify_retract)
            notify_node(ctx->acct, node, "purge");
        pep_bookmarks_changed(ctx->acct, name_copy, node);
    }
    free(name_copy);
    return 0;
}

static int pep_owner_iq(struct iq_ctx *ctx)
{
    struct pep_state *ps = state_of(ctx->acct);
    if (!ps)
        return pep_fail(ctx, "wait", "internal-server-error", NULL, NULL);
    /* §8: only the owner manages nodes. */
    if (!ctx->from_self)
        return pep_fail(ctx, "auth", "forbidden", NULL, NULL);
    struct xml_node *op = xml_first_elem(ctx->payload);
    if (!op || strcmp(op->ns, ctx->payload->ns) != 0)
        return pep_fail(ctx, "modify", "bad-request", NULL, NULL);
    if (ctx->kind == IQ_SET && ps->broken)
        return pep_fail(ctx, "wait", "internal-server-error", NULL, NULL);
    if (strcmp(op->name, "configure") == 0)
        return owner_configure(ctx, ps, op);
    if (ctx->kind == IQ_GET && strcmp(op->name, "default") == 0)
        return owner_default(ctx);
    if (ctx->kind == IQ_SET && strcmp(op->name, "delete") == 0)
        return owner_delete_or_purge(ctx, ps, op, true);
    if (ctx->kind == IQ_SET && strcmp(op->name, "purge") == 0)
        return owner_delete_or_purge(ctx, ps, op, false);
    return pep_fail(ctx, "cancel", "feature-not-implemented", "unsupported",
                    strcmp(op->name, "affiliations") == 0    ? "modify-affiliations"
                    : strcmp(op->name, "subscriptions") == 0 ? "manage-subscriptions"
                                                             : op->name);
}

/* ---- disco (XEP-0163 §6, XEP-0030) --------------------------------------------------- */

/* §6.1/§6.2: disco#items of the bare JID lists the nodes the requester may
 * see; disco#info on one of them describes it as a leaf node. Only
 * requesters mod_disco would answer (the owner, subscribers) get this;
 * everything else goes on to mod_disco. */
static bool pep_disco(struct account *acct, struct stanza *iq, const struct jid *from)
{
    struct pep_state *ps = state_of(acct);
    struct xml_node *q = xml_first_elem(iq->root);
    if (!q || strcmp(q->name, "query") != 0)
        return false;
    bool items = strcmp(q->ns, NS_DISCO_ITEMS) == 0;
    if (!items && strcmp(q->ns, NS_DISCO_INFO) != 0)
        return false;
    char bare[JID_STR_MAX];
    jid_bare(from, bare, sizeof bare);
    bool self = strcmp(bare, acct->bare) == 0;
    if (!self && !roster_has_from(acct, bare))
        return false;
    const char *node_name = xml_attr(q, "node");
    if (items && node_name)
        return false;
    if (!items) {
        struct pep_node *node = node_name ? pep_node_find(ps, node_name) : NULL;
        if (!node || !pep_may_access(acct, node, bare))
            return false;
        struct stanza *reply = stanza_iq_result(iq);
        struct xml_node *rq = xml_add_child(reply, reply->root, "query", NS_DISCO_INFO);
        xml_set_attr(reply, rq, "node", node_name);
        struct xml_node *id = xml_add_child(reply, rq, "identity", NS_DISCO_INFO);
        xml_set_attr(reply, id, "category", "pubsub");
        xml_set_attr(reply, id, "type", "leaf");
        struct xml_node *f = xml_add_child(reply, rq, "feature", NS_DISCO_INFO);
        xml_set_attr(reply, f, "var", NS_PUBSUB);
        router_route(reply);
        return true;
    }
    struct stanza *reply = stanza_iq_result(iq);
    struct xml_node *rq = xml_add_child(reply, reply->root, "query", NS_DISCO_ITEMS);
    for (size_t i = 0; i < ps->nnodes; i++) {
        if (!pep_may_access(acct, ps->nodes[i], bare))
            continue;
        struct xml_node *it = xml_add_child(reply, rq, "item", NS_DISCO_ITEMS);
        xml_set_attr(reply, it, "jid", acct->bare);
        xml_set_attr(reply, it, "node", ps->nodes[i]->name);
    }
    router_route(reply);
    return true;
}

/* ---- hooks ---------------------------------------------------------------------------- */

static bool is_type(const char *type, const char *want)
{
    return type && strcmp(type, want) == 0;
}

/* XEP-0163 §4.3.4: a contact that just gained a subscription to the
 * user's presence is a new (implicit) subscriber and gets the last items.
 * Checked after mod_presence has updated the roster: posted to this same
 * worker, so it runs once the current event is done. */
struct new_subscriber {
    struct account *acct;
    char contact[];
};

static void new_subscriber_check(struct worker *w, void *arg)
{
    (void)w;
    struct new_subscriber *ns = arg;
    struct account *acct = ns->acct;
    if (state_of(acct) && roster_has_from(acct, ns->contact))
        for (struct pep_peer *p = state_of(acct)->peers; p; p = p->next)
            if (!p->own && p->caps && strcmp(p->bare, ns->contact) == 0)
                send_last_items(acct, p, NULL);
    account_release(acct);
    free(ns);
}

static void new_subscriber_later(struct account *acct, const struct jid *contact)
{
    char bare[JID_STR_MAX];
    jid_bare(contact, bare, sizeof bare);
    if (strcmp(bare, acct->bare) == 0 || roster_has_from(acct, bare))
        return; /* not new */
    struct new_subscriber *ns = malloc(sizeof *ns + strlen(bare) + 1);
    ALDIS_ASSERT(ns != NULL);
    ns->acct = acct;
    strcpy(ns->contact, bare);
    account_hold(acct);
    worker_post(worker_id(worker_current()), new_subscriber_check, ns);
}

static void peer_seen(struct account *acct, const char *full, bool own, const struct stanza *st)
{
    bool is_new;
    struct pep_peer *p = pep_peer_available(acct, full, own, st, &is_new);
    if (p && p->caps && p->want_last)
        pep_caps_resolved(acct, p);
}

/* Presence a contact's resource sends to the account: XEP-0163 §4.3.3
 * availability and caps. Runs before mod_presence and lets it go on. */
static int pep_presence_in(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    if (!acct->exists || !state_of(acct) || !ctx->from || !ctx->from->resource)
        return HOOK_PASS;
    char full[JID_STR_MAX], bare[JID_STR_MAX];
    jid_full(ctx->from, full, sizeof full);
    if (strcmp(jid_bare(ctx->from, bare, sizeof bare), acct->bare) == 0)
        return HOOK_PASS; /* own resources are seen going out */
    if (ctx->to && ctx->to->resource)
        return HOOK_PASS; /* directed to one resource, not to the service */
    const char *type = stanza_type(ctx->st);
    if (!type)
        peer_seen(acct, full, false, ctx->st);
    else if (is_type(type, "unavailable") || is_type(type, "error"))
        pep_peer_gone(acct, full);
    return HOOK_PASS;
}

/* XEP-0163 §4.3.1 rule 2: errors about notifications come back to the bare
 * JID for the service to handle; the resource that bounced one gets no
 * more until it is seen again, and the user's clients are not bothered. */
static int pep_message_in(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    if (!acct->exists || !state_of(acct) || !ctx->from || (ctx->to && ctx->to->resource) ||
        !is_type(stanza_type(ctx->st), "error") ||
        !xml_child(ctx->st->root, "event", NS_PUBSUB_EVENT))
        return HOOK_PASS;
    char full[JID_STR_MAX];
    pep_peer_gone(acct, jid_full(ctx->from, full, sizeof full));
    return HOOK_DONE;
}

/* Broadcast presence of the account's own resources. */
static int pep_presence_out(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    if (!acct->exists || !state_of(acct) || !ctx->res)
        return HOOK_PASS;
    if (stanza_to(ctx->st)) {
        /* An approval (RFC 6121 §3.1.5) may make a new subscriber. */
        if (ctx->to && is_type(stanza_type(ctx->st), "subscribed"))
            new_subscriber_later(acct, ctx->to);
        return HOOK_PASS;
    }
    const char *type = stanza_type(ctx->st);
    if (!type)
        peer_seen(acct, ctx->res->full, true, ctx->st);
    else if (is_type(type, "unavailable"))
        pep_peer_gone(acct, ctx->res->full);
    return HOOK_PASS;
}

static int pep_unbound(struct hook_ctx *ctx)
{
    if (state_of(ctx->acct) && ctx->res)
        pep_peer_gone(ctx->acct, ctx->res->full);
    return HOOK_PASS;
}

static int pep_iq_in(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    if (!acct->exists || !state_of(acct) || !ctx->from || !ctx->to || ctx->to->resource)
        return HOOK_PASS;
    const char *type = stanza_type(ctx->st);
    if (is_type(type, "result") || is_type(type, "error"))
        return pep_caps_iq_result(acct, ctx->st, ctx->from) ? HOOK_DONE : HOOK_PASS;
    if (is_type(type, "get"))
        return pep_disco(acct, ctx->st, ctx->from) ? HOOK_DONE : HOOK_PASS;
    if (is_type(type, "set")) {
        /* Legacy bookmarks stored by the owner: mirror into PEP, then let
         * mod_private store them as usual. */
        struct xml_node *q = xml_first_elem(ctx->st->root);
        struct xml_node *storage =
            q && xml_is(q, "query", NS_PRIVATE) ? xml_child(q, "storage", NS_BOOKMARKS_LEGACY)
                                                 : NULL;
        char bare[JID_STR_MAX];
        if (storage && !state_of(acct)->broken &&
            strcmp(jid_bare(ctx->from, bare, sizeof bare), acct->bare) == 0)
            pep_bookmarks_from_private(acct, ctx->from, storage);
    }
    return HOOK_PASS;
}

static void pep_account_load(struct account *acct, void (*done)(struct account *))
{
    pep_state_load(acct, done);
}

static void pep_account_free(struct account *acct)
{
    pep_state_free(state_of(acct));
    MODULE_DATA(acct, mod_pep) = NULL;
}

static const char *const pep_identities[] = {"pubsub/pep", NULL};
static const char *const pep_account_features[] = {
    NS_PUBSUB,
    NS_PUBSUB "#access-open",
    NS_PUBSUB "#access-presence",
    NS_PUBSUB "#access-roster",
    NS_PUBSUB "#access-whitelist",
    NS_PUBSUB "#auto-create",
    NS_PUBSUB "#auto-subscribe",
    NS_PUBSUB "#config-node",
    NS_PUBSUB "#config-node-max",
    NS_PUBSUB "#create-and-configure",
    NS_PUBSUB "#create-nodes",
    NS_PUBSUB "#delete-items",
    NS_PUBSUB "#delete-nodes",
    NS_PUBSUB "#filtered-notifications",
    NS_PUBSUB "#item-ids",
    NS_PUBSUB "#last-published",
    NS_PUBSUB "#persistent-items",
    NS_PUBSUB "#presence-notifications",
    NS_PUBSUB "#publish",
    NS_PUBSUB "#publish-options",
    NS_PUBSUB "#purge-nodes",
    NS_PUBSUB "#retract-items",
    NS_PUBSUB "#retrieve-default",
    NS_PUBSUB "#retrieve-items",
    NS_BOOKMARKS "#compat",
    NULL,
};
static const struct iq_handler pep_iqs[] = {
    {IQ_GET | IQ_SET, TARGET_ACCOUNT, NS_PUBSUB, "pubsub", pep_iq},
    {IQ_GET | IQ_SET, TARGET_ACCOUNT, NS_PUBSUB_OWNER, "pubsub", pep_owner_iq},
    {0},
};
/* Above mod_presence (priority 0), which ends presence events. */
static const struct hook_row pep_hooks[] = {
    {HOOK_PRESENCE_IN, 10, pep_presence_in},
    {HOOK_PRESENCE_OUT, 10, pep_presence_out},
    {HOOK_RESOURCE_UNBOUND, 10, pep_unbound},
    {HOOK_IQ_IN, 10, pep_iq_in},
    /* Above mod_mam (500) so bounced notifications are not archived, below
     * mod_blocking (1000). */
    {HOOK_MESSAGE_IN, 600, pep_message_in},
    {0},
};

struct module mod_pep = {
    .name = "pep",
    .account_features = pep_account_features,
    .account_identities = pep_identities,
    .iq_handlers = pep_iqs,
    .hooks = pep_hooks,
    .init = pep_init,
    .account_load = pep_account_load,
    .account_free = pep_account_free,
};

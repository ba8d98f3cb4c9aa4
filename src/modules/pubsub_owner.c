/* pubsub_owner.c - the owner use cases of the PubSub service (XEP-0060
 * §8): configure (§8.2), default configuration (§8.3), delete with an
 * optional redirect (§8.4), purge (§8.5), and managing subscriptions
 * (§8.8) and affiliations (§8.9). Runs on the service's owner worker. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/store_pubsub.h"
#include "modules/pubsub.h"

static int fail(struct pubsub_req *r, const char *type, const char *cond, const char *app,
                const char *feature)
{
    return pep_iq_error(r->iq, type, cond, app, feature);
}

static struct stanza *owner_reply(struct pubsub_req *r, struct xml_node **pubsub)
{
    struct stanza *reply = stanza_iq_result(r->iq);
    *pubsub = xml_add_child(reply, reply->root, "pubsub", NS_PUBSUB_OWNER);
    return reply;
}

/* §8.2: the configuration form (get) or its submission (set), applied all
 * or nothing (§8.2.5.3). */
static int owner_configure(struct pubsub_req *r, struct pep_node *node,
                           const struct xml_node *el)
{
    if (r->get) {
        struct xml_node *pubsub;
        struct stanza *reply = owner_reply(r, &pubsub);
        struct xml_node *conf = xml_add_child(reply, pubsub, "configure", NS_PUBSUB_OWNER);
        xml_set_attr(reply, conf, "node", node->name);
        pep_config_form(reply, conf, &node->cfg);
        router_route(reply);
        return 0;
    }
    struct pep_config cfg;
    const char *cond;
    int rc = pep_configure_take(node, el, &cfg, &cond);
    if (rc < 0)
        return fail(r, "modify", cond, NULL, NULL);
    if (rc == 0) {
        pep_configure_commit(r->s->domain, node, &cfg);
        pubsub_node_save(r->s, node);
    }
    router_route(stanza_iq_result(r->iq));
    return 0;
}

/* §8.4: delete, telling subscribers (with the redirect URI, §8.4.3). */
static int owner_delete(struct pubsub_req *r, struct pep_node *node, const struct xml_node *el)
{
    struct xml_node *redirect = xml_child(el, "redirect", NS_PUBSUB_OWNER);
    const char *uri = redirect ? xml_attr(redirect, "uri") : NULL;
    if (uri && strlen(uri) > 2048)
        return fail(r, "modify", "not-acceptable", NULL, NULL);
    router_route(stanza_iq_result(r->iq));
    if (node->cfg.notify_delete) {
        struct xml_node *event;
        struct stanza *ev = pep_event_new(r->s->domain, node, &event);
        struct xml_node *d = xml_add_child(ev, event, "delete", NS_PUBSUB_EVENT);
        xml_set_attr(ev, d, "node", node->name);
        if (uri) {
            struct xml_node *re = xml_add_child(ev, d, "redirect", NS_PUBSUB_EVENT);
            xml_set_attr(ev, re, "uri", uri);
        }
        pubsub_broadcast(r->s, node, ev);
        stanza_unref(ev);
    }
    store_pubsub_node_del(r->s->domain, node->name, NULL, NULL);
    pep_node_remove(r->s->ps, node);
    return 0;
}

/* §8.5: purge every item. */
static int owner_purge(struct pubsub_req *r, struct pep_node *node)
{
    pep_items_clear(node);
    store_pubsub_purge(r->s->domain, node->name, NULL, NULL);
    router_route(stanza_iq_result(r->iq));
    if (node->cfg.notify_retract) {
        struct xml_node *event;
        struct stanza *ev = pep_event_new(r->s->domain, node, &event);
        struct xml_node *p = xml_add_child(ev, event, "purge", NS_PUBSUB_EVENT);
        xml_set_attr(ev, p, "node", node->name);
        pubsub_broadcast(r->s, node, ev);
        stanza_unref(ev);
    }
    return 0;
}

/* A 'jid' attribute, prepared (full form kept); false on a bad one. */
static bool jid_arg(const struct xml_node *el, char *out, size_t size, bool bare)
{
    const char *given = xml_attr(el, "jid");
    struct jid j;
    if (!given || jid_parse(given, &j) < 0)
        return false;
    if (bare)
        jid_bare(&j, out, size);
    else
        jid_full(&j, out, size);
    return true;
}

/* §8.8: every subscription of the node (get), or changes to them (set:
 * 'subscribed' adds, 'none' removes; other states are not kept). The
 * changes are checked first and applied together. */
static int owner_subscriptions(struct pubsub_req *r, struct pep_node *node,
                               const struct xml_node *el)
{
    if (r->get) {
        struct xml_node *pubsub;
        struct stanza *reply = owner_reply(r, &pubsub);
        struct xml_node *subs = xml_add_child(reply, pubsub, "subscriptions", NS_PUBSUB_OWNER);
        xml_set_attr(reply, subs, "node", node->name);
        for (size_t i = 0; i < node->nsubs; i++) {
            struct xml_node *s = xml_add_child(reply, subs, "subscription", NS_PUBSUB_OWNER);
            xml_set_attr(reply, s, "jid", node->subs[i].jid);
            xml_set_attr(reply, s, "subscription", node->subs[i].pending ? "pending" : "subscribed");
            xml_set_attr(reply, s, "subid", node->subs[i].subid);
        }
        router_route(reply);
        return 0;
    }
    char jid[JID_STR_MAX];
    size_t n = 0;
    for (struct xml_node *s = xml_child(el, "subscription", NS_PUBSUB_OWNER); s;
         s = xml_next(s, "subscription", NS_PUBSUB_OWNER)) {
        const char *state = xml_attr(s, "subscription");
        if (!jid_arg(s, jid, sizeof jid, false) || !state ||
            (strcmp(state, "subscribed") != 0 && strcmp(state, "none") != 0))
            return fail(r, "modify", "bad-request", NULL, NULL);
        if (++n > (size_t)pubsub_opts.max_subscriptions)
            return fail(r, "modify", "not-acceptable", NULL, NULL);
    }
    for (struct xml_node *s = xml_child(el, "subscription", NS_PUBSUB_OWNER); s;
         s = xml_next(s, "subscription", NS_PUBSUB_OWNER)) {
        jid_arg(s, jid, sizeof jid, false);
        struct pep_sub *sub = pep_node_sub_find(node, jid);
        if (strcmp(xml_attr(s, "subscription"), "none") == 0) {
            if (sub)
                pep_node_sub_remove(node, sub);
        } else if (sub) {
            sub->pending = false; /* approving a pending one (§8.8.2) */
        } else if (!pep_node_sub_add(node, jid, (size_t)pubsub_opts.max_subscriptions)) {
            pubsub_node_save(r->s, node);
            return fail(r, "cancel", "not-allowed", "too-many-subscriptions", NULL);
        }
    }
    pubsub_node_save(r->s, node);
    router_route(stanza_iq_result(r->iq));
    return 0;
}

/* Drop every subscription of a bare JID (an outcast keeps none, §8.9). */
static void subs_drop_bare(struct pep_node *node, const char *bare)
{
    for (size_t i = node->nsubs; i-- > 0;) {
        struct jid j;
        char b[JID_STR_MAX];
        if (jid_parse(node->subs[i].jid, &j) == 0 &&
            strcmp(jid_bare(&j, b, sizeof b), bare) == 0)
            pep_node_sub_remove(node, &node->subs[i]);
    }
}

/* §8.9: the node's affiliations (get), or changes to them (set). A change
 * that would leave the node without an owner is refused (§8.9.2.4). */
static int owner_affiliations(struct pubsub_req *r, struct pep_node *node,
                              const struct xml_node *el)
{
    if (r->get) {
        struct xml_node *pubsub;
        struct stanza *reply = owner_reply(r, &pubsub);
        struct xml_node *affs = xml_add_child(reply, pubsub, "affiliations", NS_PUBSUB_OWNER);
        xml_set_attr(reply, affs, "node", node->name);
        for (size_t i = 0; i < node->naffs; i++) {
            struct xml_node *a = xml_add_child(reply, affs, "affiliation", NS_PUBSUB_OWNER);
            xml_set_attr(reply, a, "jid", node->affs[i].jid);
            xml_set_attr(reply, a, "affiliation", pep_affiliation_name(node->affs[i].aff));
        }
        router_route(reply);
        return 0;
    }
    char jid[JID_STR_MAX];
    size_t n = 0;
    /* Check everything on a scratch count of owners first. */
    size_t owners = pep_node_owner_count(node);
    for (struct xml_node *a = xml_child(el, "affiliation", NS_PUBSUB_OWNER); a;
         a = xml_next(a, "affiliation", NS_PUBSUB_OWNER)) {
        enum pep_affiliation aff;
        const char *name = xml_attr(a, "affiliation");
        if (!jid_arg(a, jid, sizeof jid, true) || !name || pep_affiliation_parse(name, &aff) < 0)
            return fail(r, "modify", "bad-request", NULL, NULL);
        if (++n > (size_t)pubsub_opts.max_affiliations)
            return fail(r, "modify", "not-acceptable", NULL, NULL);
        bool was_owner = pep_node_affiliation(node, jid) == PEP_AFF_OWNER;
        if (was_owner && aff != PEP_AFF_OWNER)
            owners--;
        else if (!was_owner && aff == PEP_AFF_OWNER)
            owners++;
    }
    if (owners == 0)
        return fail(r, "modify", "not-acceptable", NULL, NULL);
    for (struct xml_node *a = xml_child(el, "affiliation", NS_PUBSUB_OWNER); a;
         a = xml_next(a, "affiliation", NS_PUBSUB_OWNER)) {
        enum pep_affiliation aff;
        jid_arg(a, jid, sizeof jid, true);
        pep_affiliation_parse(xml_attr(a, "affiliation"), &aff);
        if (pep_node_affiliation_set(node, jid, aff, (size_t)pubsub_opts.max_affiliations) < 0) {
            pubsub_node_save(r->s, node);
            return fail(r, "wait", "resource-constraint", NULL, NULL);
        }
        if (aff == PEP_AFF_OUTCAST)
            subs_drop_bare(node, jid);
    }
    pubsub_node_save(r->s, node);
    router_route(stanza_iq_result(r->iq));
    return 0;
}

/* §8.3: the default configuration of a new node here. */
static int owner_default(struct pubsub_req *r)
{
    struct pep_config cfg;
    pep_config_default(&cfg);
    cfg.access = PEP_ACCESS_OPEN;
    cfg.max_items = 10;
    cfg.send_last = PEP_SEND_ON_SUB;
    struct xml_node *pubsub;
    struct stanza *reply = owner_reply(r, &pubsub);
    struct xml_node *def = xml_add_child(reply, pubsub, "default", NS_PUBSUB_OWNER);
    pep_config_form(reply, def, &cfg);
    router_route(reply);
    return 0;
}

int pubsub_owner_iq(struct pubsub_req *r)
{
    struct xml_node *op = xml_first_elem(r->payload);
    if (!op || strcmp(op->ns, NS_PUBSUB_OWNER) != 0)
        return fail(r, "modify", "bad-request", NULL, NULL);
    if (r->get && strcmp(op->name, "default") == 0)
        return owner_default(r);
    bool known = strcmp(op->name, "configure") == 0 || strcmp(op->name, "subscriptions") == 0 ||
                 strcmp(op->name, "affiliations") == 0 ||
                 (!r->get && (strcmp(op->name, "delete") == 0 || strcmp(op->name, "purge") == 0));
    if (!known)
        return fail(r, "cancel", "feature-not-implemented", "unsupported", op->name);
    struct pep_node *node = pubsub_node_arg(r, op);
    if (!node)
        return 0;
    /* §8: only owners manage a node. */
    if (pep_node_affiliation(node, r->from_bare) != PEP_AFF_OWNER)
        return fail(r, "auth", "forbidden", NULL, NULL);
    if (!r->get && r->s->broken)
        return fail(r, "wait", "internal-server-error", NULL, NULL);
    if (strcmp(op->name, "configure") == 0)
        return owner_configure(r, node, op);
    if (strcmp(op->name, "subscriptions") == 0)
        return owner_subscriptions(r, node, op);
    if (strcmp(op->name, "affiliations") == 0)
        return owner_affiliations(r, node, op);
    if (strcmp(op->name, "delete") == 0)
        return owner_delete(r, node, op);
    return owner_purge(r, node);
}

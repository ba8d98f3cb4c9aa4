/* mod_disco.c - service discovery (XEP-0030) for the domain and, on their
 * behalf, for the accounts it hosts. The features come from every module
 * enabled on the host (its host_features / account_features rows); this
 * module only assembles them. disco#info to a full JID goes to the client
 * (the core delivers it), so it never reaches us. */
#include <stdbool.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/module.h"
#include "aldis/xml.h"
#include "modules/roster.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

/* Hosts have at most CONFIG_MAX_MODULES modules with a handful of features
 * each; a fixed table keeps duplicates out without allocating. */
#define DISCO_MAX_FEATURES 512

struct disco_features {
    struct stanza *reply;
    struct xml_node *query;
    const char *seen[DISCO_MAX_FEATURES];
    size_t n;
};

/* Add one <feature/>, once: two modules may announce the same namespace
 * and XEP-0115 §5.4 hashes reject duplicates. */
static void disco_feature_add(const char *feature, void *ud)
{
    struct disco_features *f = ud;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->seen[i], feature) == 0)
            return;
    if (f->n == DISCO_MAX_FEATURES)
        return;
    f->seen[f->n++] = feature;
    struct xml_node *el = xml_add_child(f->reply, f->query, "feature", NS_DISCO_INFO);
    xml_set_attr(f->reply, el, "var", feature);
}

/* Add one <identity/> from a module's "category/type" string (e.g.
 * "pubsub/pep" for XEP-0163 §6.1). */
static void disco_identity_add(const char *identity, void *ud)
{
    struct disco_features *f = ud;
    const char *slash = strchr(identity, '/');
    char category[64];
    if (!slash || (size_t)(slash - identity) >= sizeof category)
        return;
    memcpy(category, identity, (size_t)(slash - identity));
    category[slash - identity] = '\0';
    struct xml_node *el = xml_add_child(f->reply, f->query, "identity", NS_DISCO_INFO);
    xml_set_attr(f->reply, el, "category", category);
    xml_set_attr(f->reply, el, "type", slash + 1);
}

/* XEP-0157 contact addresses, published as XEP-0128 extended information
 * in the host's disco#info. Options modules.disco.<field>: a URI or a list
 * of URIs (mailto:, xmpp:, https:). Read once at startup. */
static const char *const contact_fields[] = {
    "abuse-addresses",    "admin-addresses",   "feedback-addresses", "sales-addresses",
    "security-addresses", "support-addresses", "status-addresses",   NULL};
static const char *contact_values[sizeof contact_fields / sizeof *contact_fields];
static bool have_contacts;

static int disco_init(const struct config *cfg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    have_contacts = false;
    for (size_t i = 0; contact_fields[i]; i++) {
        contact_values[i] = config_module_str(cfg, "disco", contact_fields[i], NULL);
        have_contacts |= contact_values[i] != NULL;
    }
    return 0;
}

static void disco_add_contacts(struct stanza *reply, struct xml_node *query)
{
    if (!have_contacts)
        return;
    struct xml_node *x = xml_add_child(reply, query, "x", "jabber:x:data");
    xml_set_attr(reply, x, "type", "result");
    struct xml_node *f = xml_add_child(reply, x, "field", NULL);
    xml_set_attr(reply, f, "var", "FORM_TYPE");
    xml_set_attr(reply, f, "type", "hidden");
    struct xml_node *v = xml_add_child(reply, f, "value", NULL);
    static const char form_type[] = "http://jabber.org/network/serverinfo";
    xml_add_text(reply, v, form_type, sizeof form_type - 1);
    for (size_t i = 0; contact_fields[i]; i++) {
        if (!contact_values[i])
            continue;
        f = xml_add_child(reply, x, "field", NULL);
        xml_set_attr(reply, f, "var", contact_fields[i]);
        /* a YAML list arrives newline-separated; commas separate too */
        const char *p = contact_values[i];
        while (*p) {
            size_t n = strcspn(p, "\n,");
            size_t start = 0;
            while (start < n && p[start] == ' ')
                start++;
            if (n > start) {
                v = xml_add_child(reply, f, "value", NULL);
                xml_add_text(reply, v, p + start, n - start);
            }
            p += n;
            if (*p)
                p++;
        }
    }
}

static int disco_error(struct iq_ctx *ctx, const char *type, const char *condition)
{
    router_route(stanza_error_reply(ctx->iq, type, condition, NULL));
    return 0;
}

/* XEP-0030 §3.1: identity server/im plus every feature of the host.
 * A 'node' we do not know is item-not-found (§3.2 / §7). */
static int disco_host_info(struct iq_ctx *ctx)
{
    if (xml_attr(ctx->payload, "node"))
        return disco_error(ctx, "cancel", "item-not-found");
    struct disco_features f = {.reply = stanza_iq_result(ctx->iq)};
    f.query = xml_add_child(f.reply, f.reply->root, "query", NS_DISCO_INFO);
    struct xml_node *id = xml_add_child(f.reply, f.query, "identity", NS_DISCO_INFO);
    xml_set_attr(f.reply, id, "category", "server");
    xml_set_attr(f.reply, id, "type", "im");
    xml_set_attr(f.reply, id, "name", "Aldis");
    modules_host_features(ctx->host, disco_feature_add, &f);
    disco_add_contacts(f.reply, f.query);
    router_route(f.reply);
    return 0;
}

struct service_items {
    struct stanza *reply;
    struct xml_node *query;
};

static void disco_service_item(struct service *svc, void *ud)
{
    struct service_items *si = ud;
    struct xml_node *item = xml_add_child(si->reply, si->query, "item", NULL);
    xml_set_attr(si->reply, item, "jid", svc->domain);
}

/* XEP-0030 §4.1: the host's items are its services (rooms, PubSub...);
 * an entity without items returns an empty <query/>, not an error (§7). */
static int disco_host_items(struct iq_ctx *ctx)
{
    if (xml_attr(ctx->payload, "node"))
        return disco_error(ctx, "cancel", "item-not-found");
    struct stanza *reply = stanza_iq_result(ctx->iq);
    struct service_items si = {reply, xml_add_child(reply, reply->root, "query", NS_DISCO_ITEMS)};
    services_foreach(ctx->host, disco_service_item, &si);
    router_route(reply);
    return 0;
}

/* XEP-0030 §8 (security): the server answers for a bare JID only to the
 * account itself and to entities allowed to see its presence
 * (subscription from/both). */
static bool disco_account_visible(struct iq_ctx *ctx)
{
    if (ctx->from_self)
        return true;
    if (!ctx->from)
        return false;
    char bare[JID_STR_MAX];
    jid_bare(ctx->from, bare, sizeof bare);
    return roster_has_from(ctx->acct, bare);
}

/* XEP-0030 §3.1: disco#info to a bare JID, answered by the server with the
 * account/registered identity and the account features of the host's
 * modules. §8 rule 1: otherwise service-unavailable, so nobody learns
 * whether the account exists (the core already answers service-unavailable
 * for a user that does not). */
static int disco_account_info(struct iq_ctx *ctx)
{
    if (!disco_account_visible(ctx))
        return disco_error(ctx, "cancel", "service-unavailable");
    if (xml_attr(ctx->payload, "node"))
        return disco_error(ctx, "cancel", "item-not-found");
    struct disco_features f = {.reply = stanza_iq_result(ctx->iq)};
    f.query = xml_add_child(f.reply, f.reply->root, "query", NS_DISCO_INFO);
    struct xml_node *id = xml_add_child(f.reply, f.query, "identity", NS_DISCO_INFO);
    xml_set_attr(f.reply, id, "category", "account");
    xml_set_attr(f.reply, id, "type", "registered");
    modules_account_identities(ctx->host, disco_identity_add, &f);
    modules_account_features(ctx->host, disco_feature_add, &f);
    router_route(f.reply);
    return 0;
}

/* XEP-0030 §4.1 and §8 rule 2: an account's items. The account has none to
 * list yet (its resources are not listed: that would leak availability),
 * so the result is empty for everyone; a node is item-not-found for those
 * who may see the account and an empty result for others. */
static int disco_account_items(struct iq_ctx *ctx)
{
    if (xml_attr(ctx->payload, "node") && disco_account_visible(ctx))
        return disco_error(ctx, "cancel", "item-not-found");
    struct stanza *reply = stanza_iq_result(ctx->iq);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_DISCO_ITEMS);
    const char *node = xml_attr(ctx->payload, "node");
    if (node)
        xml_set_attr(reply, q, "node", node);
    router_route(reply);
    return 0;
}

static const char *const disco_host_features[] = {NS_DISCO_INFO, NS_DISCO_ITEMS, NULL};
static const char *const disco_account_features[] = {NS_DISCO_INFO, NS_DISCO_ITEMS, NULL};
static const struct iq_handler disco_iq[] = {
    {IQ_GET, TARGET_HOST, NS_DISCO_INFO, "query", disco_host_info},
    {IQ_GET, TARGET_HOST, NS_DISCO_ITEMS, "query", disco_host_items},
    {IQ_GET, TARGET_ACCOUNT, NS_DISCO_INFO, "query", disco_account_info},
    {IQ_GET, TARGET_ACCOUNT, NS_DISCO_ITEMS, "query", disco_account_items},
    {0},
};
static const struct hook_row disco_hooks[] = {{0}};

struct module mod_disco = {
    .name = "disco",
    .init = disco_init,
    .host_features = disco_host_features,
    .account_features = disco_account_features,
    .iq_handlers = disco_iq,
    .hooks = disco_hooks,
};

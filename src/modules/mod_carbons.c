/* mod_carbons.c - Message Carbons (XEP-0280 1.0) with the XEP-0334
 * <no-copy/> hint: the per-resource enable/disable switch, and copies of a
 * user's conversations for the user's other carbons-enabled resources, of
 * received messages (after mod_message delivered them, HOOK_MESSAGE_DELIVERED)
 * and of sent ones (HOOK_MESSAGE_OUT at the sender's owner). Everything runs
 * on the account's owner worker. Section numbers are those of XEP-0280 1.0.1:
 * §4/§5 enable and disable, §6 eligible messages, §7 receiving, §8 sending,
 * §9 avoiding carbons for one message. */
#include <string.h>

#include "aldis/error.h"
#include "aldis/module.h"
#include "aldis/xml.h"
#include "modules/mam.h"
#include "modules/message.h"

#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_HINTS "urn:xmpp:hints"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_CONFERENCE "jabber:x:conference"
#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define NS_RECEIPTS "urn:xmpp:receipts"
#define NS_MARKERS "urn:xmpp:chat-markers:0"

extern struct module mod_carbons;

/* MODULE_DATA(res): the resource enabled carbons (§4). A flag, not a
 * pointer: nothing to free when the resource goes. */
#define CARBONS_ENABLED ((void *)1)

/* MODULE_DATA(acct): borrowed, only between this module's HOOK_MESSAGE_IN
 * hook and the HOOK_MESSAGE_DELIVERED that mod_message raises for the same
 * message within the same call: the copy from which we removed <private/>
 * (§9), so that the stripped message is still known to be private. Never
 * dereferenced; reset on every message. */

/* ---- §4, §5: enabling and disabling ------------------------------------ */

/* <enable/> or <disable/> (IQ set to the user's own bare JID, or without
 * 'to'). Repeating either is not an error (§10.1). A request about someone
 * else's account gets the same service-unavailable as one for an account
 * that does not exist, so it does not reveal whether the account exists
 * (rather than §4.1's not-allowed, which would). */
static int carbons_iq(struct iq_ctx *ctx)
{
    if (!ctx->from_self || !ctx->from || !ctx->from->resource)
        return ALDIS_ENOTHANDLED;
    struct resource *res = account_resource(ctx->acct, ctx->from->resource);
    if (!res) /* the session is already gone: the answer goes nowhere */
        return ALDIS_ENOTHANDLED;
    if (strcmp(ctx->payload->name, "enable") == 0) {
        MODULE_DATA(res, mod_carbons) = CARBONS_ENABLED;
    } else if (strcmp(ctx->payload->name, "disable") == 0) {
        MODULE_DATA(res, mod_carbons) = NULL;
    } else {
        router_route(stanza_error_reply(ctx->iq, "modify", "bad-request", NULL));
        return 0;
    }
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

/* A carbons-enabled resource that takes messages: an available one (a
 * resource that never sent presence takes only what is addressed to it). */
static bool carbons_wanted(const struct resource *r)
{
    return r->available && MODULE_DATA(r, mod_carbons) == CARBONS_ENABLED;
}

/* ---- §6: which messages are copied ------------------------------------- */

/* An element used in instant messaging conversations without a body
 * (§6: chat states XEP-0085, receipts XEP-0184, markers XEP-0333). */
static bool carbons_im_payload(const struct xml_node *msg)
{
    for (const struct xml_node *c = xml_first_elem(msg); c; c = xml_next(c, NULL, NULL))
        if (strcmp(c->ns, NS_CHATSTATES) == 0 || strcmp(c->ns, NS_RECEIPTS) == 0 ||
            strcmp(c->ns, NS_MARKERS) == 0)
            return true;
    return false;
}

/* §6 with §9 and XEP-0334 §4 (<no-copy/>: "not to be copied to addresses
 * other than the one it is addressed to, e.g. through Message Carbons").
 * `inbound`: a message received by the account rather than sent by it. */
static bool carbons_eligible(const struct stanza *st, bool inbound)
{
    const struct xml_node *m = st->root;
    if (xml_child(m, "private", NS_CARBONS) || xml_child(m, "no-copy", NS_HINTS))
        return false;
    /* A carbon is never copied again: from outside it could only be a forgery
     * (§11: clients must ignore carbons not from their own bare JID). */
    if (xml_child(m, "received", NS_CARBONS) || xml_child(m, "sent", NS_CARBONS))
        return false;
    /* Errors: §6 allows copying an error answering an eligible message only
     * with tracking the server does not do; groupchat SHOULD NOT be copied
     * (§6.1, the room sends it to every joined client); headline is not a
     * conversation. */
    const char *type = stanza_type(st);
    bool chat = type && strcmp(type, "chat") == 0;
    if (type && (strcmp(type, "error") == 0 || strcmp(type, "groupchat") == 0 ||
                 strcmp(type, "headline") == 0))
        return false;
    /* §6.1: invitations (mediated, XEP-0045 §7.8.2; direct, XEP-0249) are
     * copied; a private message from a room occupant is not (the room copies
     * it to all the user's joined clients), one to an occupant is. */
    const struct xml_node *muc = xml_child(m, "x", NS_MUC_USER);
    if (muc && xml_child(muc, "invite", NS_MUC_USER))
        return true;
    if (muc && inbound)
        return false;
    if (xml_child(m, "x", NS_CONFERENCE))
        return true;
    /* §6: chat; normal (also any unknown type, RFC 6121 §5.2.2) with a body;
     * IM payloads of any type left. */
    return chat || xml_child(m, "body", m->ns) || carbons_im_payload(m);
}

/* <message from=bare to=full type=same><{sent,received} xmlns=carbons>
 * <forwarded xmlns=forward>original</forwarded></...></message> (§7, §8,
 * wrapped as XEP-0297 says). */
static struct stanza *carbons_wrap(const struct stanza *orig, const char *bare,
                                   const char *to_full, const char *direction,
                                   const char *archive_id)
{
    struct stanza *c = stanza_new("message", NULL);
    xml_set_attr(c, c->root, "from", bare);
    xml_set_attr(c, c->root, "to", to_full);
    const char *type = stanza_type(orig);
    if (type)
        xml_set_attr(c, c->root, "type", type);
    struct xml_node *wrapper = xml_add_child(c, c->root, direction, NS_CARBONS);
    struct xml_node *fwd = xml_add_child(c, wrapper, "forwarded", NS_FORWARD);
    struct xml_node *copy = xml_copy_into(c, fwd, orig->root);
    if (archive_id) {
        /* XEP-0313 §3.5: the sender's archive id travels in the sent carbon */
        struct xml_node *sid = xml_add_child(c, copy, "stanza-id", "urn:xmpp:sid:0");
        xml_set_attr(c, sid, "by", bare);
        xml_set_attr(c, sid, "id", archive_id);
    }
    return c;
}

/* ---- §7: received messages --------------------------------------------- */

/* Runs just above mod_message (priority 0): §9 says the receiving server
 * SHOULD remove <private/> before delivering, so the resources get a copy
 * without it, remembered in MODULE_DATA(acct) for carbons_delivered. */
static int carbons_message_in(struct hook_ctx *ctx)
{
    MODULE_DATA(ctx->acct, mod_carbons) = NULL;
    if (!ctx->acct->exists || !xml_child(ctx->st->root, "private", NS_CARBONS))
        return HOOK_PASS;
    struct stanza *copy = stanza_copy(ctx->st);
    struct xml_node *p;
    while ((p = xml_child(copy->root, "private", NS_CARBONS)) != NULL)
        xml_remove(p);
    ctx->st = copy; /* the core releases both (module.h) */
    MODULE_DATA(ctx->acct, mod_carbons) = copy;
    return HOOK_PASS;
}

/* §7: after delivery under RFC 6121, a copy for each carbons-enabled
 * resource that did not get the message: not the matching full JID, nor
 * the resources the bare-JID rules chose (MUST NOT, §7). A message a user
 * sends to their own account is not copied back to the sending resource. */
static int carbons_delivered(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    bool was_private = MODULE_DATA(acct, mod_carbons) == ctx->st;
    MODULE_DATA(acct, mod_carbons) = NULL;
    if (was_private || !carbons_eligible(ctx->st, true))
        return HOOK_PASS;
    const char *from = stanza_from(ctx->st);
    for (struct resource *r = acct->resources; r; r = r->next) {
        if (!carbons_wanted(r))
            continue;
        bool got_it = ctx->res ? r == ctx->res : message_bare_recipient(acct, r, ctx->st);
        if (got_it || (from && strcmp(from, r->full) == 0))
            continue;
        account_send(acct, r, carbons_wrap(ctx->st, acct->bare, r->full, "received", NULL));
    }
    return HOOK_PASS;
}

/* ---- §8: sent messages ------------------------------------------------- */

/* A copy for every other carbons-enabled resource of the sender, whether
 * the sending one has carbons enabled or not (§8), never for the sender
 * itself. A message to the user's own account is left to §7, which copies
 * it as received once it arrives (else those resources would get both). */
static int carbons_message_out(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    if (!ctx->res || !ctx->to || !carbons_eligible(ctx->st, false))
        return HOOK_PASS;
    char to_bare[JID_STR_MAX];
    if (strcmp(jid_bare(ctx->to, to_bare, sizeof to_bare), acct->bare) == 0)
        return HOOK_PASS;
    const char *archive_id = mam_sent_id(acct, ctx->st);
    for (struct resource *r = acct->resources; r; r = r->next)
        if (r != ctx->res && carbons_wanted(r))
            account_send(acct, r, carbons_wrap(ctx->st, acct->bare, r->full, "sent", archive_id));
    return HOOK_PASS;
}

static const char *const carbons_host_features[] = {NS_CARBONS, NULL};
static const char *const carbons_no_features[] = {NULL};
static const struct iq_handler carbons_iq_handlers[] = {
    {IQ_SET, TARGET_ACCOUNT, NS_CARBONS, NULL, carbons_iq},
    {0},
};
static const struct hook_row carbons_hooks[] = {
    /* just above mod_message (0), below every filter (blocking: 1000) */
    {HOOK_MESSAGE_IN, 1, carbons_message_in},
    {HOOK_MESSAGE_DELIVERED, 0, carbons_delivered},
    /* late: copies show what is routed, after modules that stamp it */
    {HOOK_MESSAGE_OUT, -100, carbons_message_out},
    {0},
};

struct module mod_carbons = {
    .name = "carbons",
    .host_features = carbons_host_features,
    .account_features = carbons_no_features,
    .iq_handlers = carbons_iq_handlers,
    .hooks = carbons_hooks,
};

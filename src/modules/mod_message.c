/* mod_message.c - delivery of messages addressed to local accounts, the
 * server rules of RFC 6121 §8.5: which of the account's resources get a
 * message, when it is offered to offline storage (HOOK_MESSAGE_UNDELIVERABLE)
 * and when the sender gets an error instead. Runs on the account's owner.
 * Raises HOOK_MESSAGE_DELIVERED once a message is taken (for carbons). */
#include <string.h>

#include "aldis/module.h"
#include "aldis/xml.h"
#include "modules/message.h"

enum message_type { MSG_NORMAL, MSG_CHAT, MSG_GROUPCHAT, MSG_HEADLINE, MSG_ERROR };

/* RFC 6121 §5.2.2: a missing or unknown 'type' means "normal". */
static enum message_type message_type_of(const struct stanza *st)
{
    const char *t = stanza_type(st);
    if (!t)
        return MSG_NORMAL;
    if (strcmp(t, "chat") == 0)
        return MSG_CHAT;
    if (strcmp(t, "groupchat") == 0)
        return MSG_GROUPCHAT;
    if (strcmp(t, "headline") == 0)
        return MSG_HEADLINE;
    if (strcmp(t, "error") == 0)
        return MSG_ERROR;
    return MSG_NORMAL;
}

/* The error RFC 6121 §8.5 asks for everywhere a message cannot be taken.
 * Never called for type="error" (RFC 6120 §8.3.1: no error about an error). */
static void message_bounce(const struct stanza *st)
{
    router_route(stanza_error_reply(st, "cancel", "service-unavailable", NULL));
}

/* HOOK_MESSAGE_DELIVERED (module.h): tell other modules (XEP-0280 carbons)
 * that the account took the message and who got it: `res` for a matching
 * full JID, NULL when the bare-JID rules (message_bare_recipient) chose. */
static void message_delivered(struct hook_ctx *ctx, struct resource *res)
{
    struct hook_ctx d = *ctx;
    d.res = res;
    hooks_run(HOOK_MESSAGE_DELIVERED, &d);
}

/* RFC 6121 §8.5.2.2.1 (no available resource, or only negative ones as
 * §8.5.2.1.1 says): normal and chat go to offline storage if a module takes
 * them, else the sender gets service-unavailable; headline is dropped. */
static int message_undeliverable(struct hook_ctx *ctx, enum message_type type)
{
    if (type == MSG_HEADLINE)
        return HOOK_DONE;
    struct hook_ctx u = *ctx;
    u.event = HOOK_MESSAGE_UNDELIVERABLE;
    if (hooks_run(HOOK_MESSAGE_UNDELIVERABLE, &u) != HOOK_DONE)
        message_bounce(ctx->st);
    else
        message_delivered(ctx, NULL); /* stored: no resource got it */
    return HOOK_DONE;
}

/* The highest non-negative priority of an available resource, or -1. */
static int message_best_priority(const struct account *acct)
{
    int best = -1;
    for (const struct resource *r = acct->resources; r; r = r->next)
        if (r->available && r->priority >= 0 && r->priority > best)
            best = r->priority;
    return best;
}

/* The bare-JID rule below for one resource (best from message_best_priority). */
static bool message_bare_takes(const struct resource *r, enum message_type type, int best)
{
    if (best < 0 || type == MSG_GROUPCHAT || type == MSG_ERROR)
        return false;
    if (!r->available || r->priority < 0)
        return false;
    return type == MSG_HEADLINE || r->priority == best;
}

bool message_bare_recipient(const struct account *acct, const struct resource *r,
                            const struct stanza *st)
{
    return message_bare_takes(r, message_type_of(st), message_best_priority(acct));
}

/* RFC 6121 §8.5.2.1.1, a message to the bare JID. Resources with a negative
 * priority never get one. normal and chat: we take the option "deliver to
 * the most available resource or resources", reading "most available" as
 * the highest priority, so every available resource tied at the highest
 * non-negative priority gets a copy (a client that wants every message uses
 * carbons, XEP-0280, rather than equal priorities). headline: every
 * available resource with a non-negative priority (MUST). groupchat: error
 * (MUST, SHOULD be service-unavailable). error: silently dropped (MUST).
 * The 'to' is never rewritten: the same frozen stanza goes to everyone. */
static int message_to_bare(struct hook_ctx *ctx, enum message_type type)
{
    if (type == MSG_ERROR)
        return HOOK_DONE;
    if (type == MSG_GROUPCHAT) {
        message_bounce(ctx->st);
        return HOOK_DONE;
    }
    int best = message_best_priority(ctx->acct);
    unsigned sent = 0;
    for (struct resource *r = ctx->acct->resources; r; r = r->next) {
        if (message_bare_takes(r, type, best)) {
            account_send(ctx->acct, r, stanza_ref(ctx->st));
            sent++;
        }
    }
    if (!sent)
        return message_undeliverable(ctx, type);
    message_delivered(ctx, NULL);
    return HOOK_DONE;
}

static int message_in(struct hook_ctx *ctx)
{
    enum message_type type = message_type_of(ctx->st);

    /* RFC 6121 §8.5.1: no such user. We bounce normal and chat (option b,
     * the sender learns the message went nowhere) and drop the rest. */
    if (!ctx->acct->exists) {
        if (type == MSG_NORMAL || type == MSG_CHAT)
            message_bounce(ctx->st);
        return HOOK_DONE;
    }

    if (!ctx->to || !ctx->to->resource)
        return message_to_bare(ctx, type);

    /* RFC 6121 §8.5.3.1: a resource matches the full JID exactly. It gets
     * the message whatever its type, available or only connected. */
    struct resource *res = account_resource(ctx->acct, ctx->to->resource);
    if (res) {
        account_send(ctx->acct, res, stanza_ref(ctx->st));
        message_delivered(ctx, res);
        return HOOK_DONE;
    }

    /* RFC 6121 §8.5.3.2.1: no resource matches. chat is handled as if sent
     * to the bare JID; error is silently ignored (MUST); normal, groupchat
     * and headline MUST be ignored or answered with an error: we answer
     * normal and groupchat with service-unavailable (the sender should know
     * the resource is gone) and ignore headline, which is never bounced. */
    switch (type) {
    case MSG_CHAT:
        return message_to_bare(ctx, type);
    case MSG_NORMAL:
    case MSG_GROUPCHAT:
        message_bounce(ctx->st);
        return HOOK_DONE;
    case MSG_HEADLINE:
    case MSG_ERROR:
        return HOOK_DONE;
    }
    return HOOK_DONE;
}

static const char *const message_no_features[] = {NULL};
static const struct iq_handler message_iq[] = {{0}};
static const struct hook_row message_hooks[] = {
    {HOOK_MESSAGE_IN, 0, message_in},
    {0},
};

struct module mod_message = {
    .name = "message",
    .host_features = message_no_features,
    .account_features = message_no_features,
    .iq_handlers = message_iq,
    .hooks = message_hooks,
};

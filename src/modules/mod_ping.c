/* mod_ping.c - XMPP Ping (XEP-0199): answers pings to the domain (§4.2,
 * client-to-server) and, on the account's behalf, to a bare JID. Pinging
 * idle clients is the core's job. */
#include "aldis/error.h"
#include "aldis/module.h"
#include "aldis/xml.h"
#include "modules/roster.h"

#define NS_PING "urn:xmpp:ping"

/* XEP-0199 §3: the pinged entity answers with an empty IQ result. */
static int ping_host(struct iq_ctx *ctx)
{
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

/* A ping to a bare JID is answered by the server for the account (RFC 6121
 * §8.5.2.1.3 / §8.5.2.2.3). A result would tell anyone that the account
 * exists, so, as XEP-0030 §8 does for disco, only the user and entities
 * allowed to see the user's presence get one; others get the same
 * service-unavailable as for an account that does not exist. */
static int ping_account(struct iq_ctx *ctx)
{
    if (!ctx->from_self) {
        char bare[JID_STR_MAX];
        if (!ctx->from || !roster_has_from(ctx->acct, jid_bare(ctx->from, bare, sizeof bare)))
            return ALDIS_ENOTHANDLED;
    }
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

static const char *const ping_host_features[] = {NS_PING, NULL};
static const char *const ping_account_features[] = {NS_PING, NULL};
static const struct iq_handler ping_iq[] = {
    {IQ_GET, TARGET_HOST, NS_PING, "ping", ping_host},
    {IQ_GET, TARGET_ACCOUNT, NS_PING, "ping", ping_account},
    {0},
};
static const struct hook_row ping_hooks[] = {{0}};

struct module mod_ping = {
    .name = "ping",
    .host_features = ping_host_features,
    .account_features = ping_account_features,
    .iq_handlers = ping_iq,
    .hooks = ping_hooks,
};

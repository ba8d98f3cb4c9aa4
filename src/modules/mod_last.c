/* mod_last.c - Last Activity (XEP-0012): the server's uptime when asked at
 * the domain (§5), and for a bare JID the time since the account's last
 * resource went away with the status it left (§3), kept in the store under
 * kv "last" as "<unix seconds>\n<status>". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/xml.h"
#include "modules/roster.h"

#define NS_LAST "jabber:iq:last"

extern struct module mod_last;

static struct stanza *last_reply(const struct stanza *iq, int64_t seconds, const char *status)
{
    struct stanza *reply = stanza_iq_result(iq);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_LAST);
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, seconds < 0 ? 0 : seconds);
    xml_set_attr(reply, q, "seconds", num);
    if (status && *status)
        xml_add_text(reply, q, status, strlen(status));
    return reply;
}

/* XEP-0012 §5: at the domain, the seconds the server has been up and no
 * character data. */
static int last_host(struct iq_ctx *ctx)
{
    router_route(last_reply(ctx->iq, (int64_t)time(NULL) - server_start_time(), NULL));
    return 0;
}

struct last_req {
    struct account *acct;
    struct stanza *iq;
};

static void last_loaded(void *ud, int err, const char *value, size_t len)
{
    struct last_req *req = ud;
    if (err == ALDIS_ENOTFOUND || (err == 0 && !value)) {
        /* Never logged out since the store has existed: nothing to tell. */
        router_route(stanza_error_reply(req->iq, "cancel", "item-not-found", NULL));
        goto out;
    }
    if (err < 0) {
        log_warn("last", "reading last activity of %s failed: %s", req->acct->bare,
                 aldis_strerror(err));
        router_route(stanza_error_reply(req->iq, "wait", "internal-server-error", NULL));
        goto out;
    }
    char *copy = strndup(value, len);
    ALDIS_ASSERT(copy);
    char *nl = strchr(copy, '\n');
    int64_t when = strtoll(copy, NULL, 10);
    router_route(last_reply(req->iq, (int64_t)time(NULL) - when, nl ? nl + 1 : NULL));
    free(copy);
out:
    stanza_unref(req->iq);
    account_release(req->acct);
    free(req);
}

/* XEP-0012 §3: only the user and entities allowed to see the user's
 * presence (subscription from/both) may ask, others get forbidden (§3 and
 * §8). With an available resource the answer is seconds='0'; otherwise the
 * time since the last resource went away. */
static int last_account(struct iq_ctx *ctx)
{
    if (!ctx->from_self) {
        char bare[JID_STR_MAX];
        if (!ctx->from || !roster_has_from(ctx->acct, jid_bare(ctx->from, bare, sizeof bare))) {
            router_route(stanza_error_reply(ctx->iq, "auth", "forbidden", NULL));
            return 0;
        }
    }
    for (struct resource *r = ctx->acct->resources; r; r = r->next) {
        if (r->available) {
            router_route(last_reply(ctx->iq, 0, NULL));
            return 0;
        }
    }
    struct last_req *req = malloc(sizeof *req);
    ALDIS_ASSERT(req);
    req->acct = ctx->acct;
    req->iq = stanza_ref(ctx->iq);
    account_hold(ctx->acct);
    store_kv_get(ctx->acct->bare, "last", last_loaded, req);
    return 0;
}

/* HOOK_PRESENCE_OUT (before mod_presence): remember the <status/> of the
 * resource's unavailable broadcast, which §3 returns as the text. */
static int last_presence_out(struct hook_ctx *ctx)
{
    const char *type = stanza_type(ctx->st);
    if (!ctx->res || ctx->to || !type || strcmp(type, "unavailable") != 0)
        return HOOK_PASS;
    struct xml_node *status = xml_child(ctx->st->root, "status", NULL);
    free(MODULE_DATA(ctx->res, mod_last));
    MODULE_DATA(ctx->res, mod_last) = status ? (void *)xml_text(NULL, status) : NULL;
    return HOOK_PASS;
}

/* HOOK_RESOURCE_UNBOUND: when the account's last resource goes, record the
 * time and the status it left (empty if the session just ended). */
static int last_unbound(struct hook_ctx *ctx)
{
    struct account *acct = ctx->acct;
    if (!ctx->res || acct->resources != ctx->res || ctx->res->next)
        return HOOK_PASS;
    const char *status = MODULE_DATA(ctx->res, mod_last);
    char *value = NULL;
    int len = asprintf(&value, "%" PRId64 "\n%s", (int64_t)time(NULL), status ? status : "");
    ALDIS_ASSERT(len >= 0);
    store_kv_put(acct->bare, "last", value, (size_t)len, NULL, NULL);
    free(value);
    return HOOK_PASS;
}

static void last_resource_free(struct account *acct, struct resource *res)
{
    free(MODULE_DATA(res, mod_last));
    MODULE_DATA(res, mod_last) = NULL;
}

static const char *const last_host_features[] = {NS_LAST, NULL};
static const char *const last_account_features[] = {NS_LAST, NULL};
static const struct iq_handler last_iq[] = {
    {IQ_GET, TARGET_HOST, NS_LAST, "query", last_host},
    {IQ_GET, TARGET_ACCOUNT, NS_LAST, "query", last_account},
    {0},
};
static const struct hook_row last_hooks[] = {
    {HOOK_PRESENCE_OUT, 600, last_presence_out},
    {HOOK_RESOURCE_UNBOUND, 0, last_unbound},
    {0},
};

struct module mod_last = {
    .name = "last",
    .host_features = last_host_features,
    .account_features = last_account_features,
    .iq_handlers = last_iq,
    .hooks = last_hooks,
    .resource_free = last_resource_free,
};

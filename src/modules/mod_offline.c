/* mod_offline.c - offline message storage (XEP-0160): keeps the normal and
 * chat messages no resource could take, stamped with an XEP-0203 delay, and
 * hands them, oldest first, to the first resource of the account that sends
 * available presence with a non-negative priority. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/xml.h"
#include "core/security.h"

#define NS_DELAY "urn:xmpp:delay"
#define NS_HINTS "urn:xmpp:hints"

extern struct module mod_offline;

/* Option offline.max_messages: messages kept per account (XEP-0160 §2
 * step 3: over it the sender gets service-unavailable). */
static long offline_max_messages = 1000;

/* MODULE_DATA(res): set once the resource has been given the queue, so a
 * later presence update does not pop again. Not a pointer: nothing to free. */
#define OFFLINE_DELIVERED ((void *)1)

static int offline_init(const struct config *cfg, char *err, size_t errlen)
{
    return config_module_int(cfg, "offline", "max_messages", 1000, 1, 1000000,
                             &offline_max_messages, err, errlen);
}

/* What XEP-0160 §3 (business rules) and XEP-0334 let us keep: messages with
 * content worth reading later (a <body/>), or that the sender explicitly
 * asked us to store (<store/> hint); never those marked <no-store/>.
 * mod_message raises the event for normal and chat only. */
static bool offline_wanted(const struct stanza *st)
{
    if (xml_child(st->root, "no-store", NS_HINTS))
        return false;
    return xml_child(st->root, "body", NULL) || xml_child(st->root, "store", NS_HINTS);
}

static void offline_push_done(void *ud, int err)
{
    struct stanza *orig = ud;
    if (err < 0) {
        /* XEP-0160 §2 step 3: the queue is full (ALDIS_ELIMIT) or storage
         * failed: the sender must not believe the message was kept. */
        if (err != ALDIS_ELIMIT)
            log_warn("offline", "storing a message failed: %s", aldis_strerror(err));
        router_route(stanza_error_reply(orig, "cancel", "service-unavailable", NULL));
    }
    stanza_unref(orig);
}

/* HOOK_MESSAGE_UNDELIVERABLE: store a copy with <delay/> (XEP-0203 §3, from
 * = our domain, stamp in UTC per XEP-0082). */
static int offline_store(struct hook_ctx *ctx)
{
    if (!ctx->acct->exists || !offline_wanted(ctx->st))
        return HOOK_PASS;

    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

    struct stanza *copy = stanza_copy(ctx->st);
    struct xml_node *delay = xml_add_child(copy, copy->root, "delay", NS_DELAY);
    xml_set_attr(copy, delay, "from", ctx->acct->host->domain);
    xml_set_attr(copy, delay, "stamp", stamp);
    xml_add_text(copy, delay, "Offline Storage", strlen("Offline Storage"));
    size_t len;
    char *xml = stanza_to_string(copy, &len);
    stanza_unref(copy);

    store_offline_push(ctx->acct->bare, xml, len, offline_max_messages,
                       offline_push_done, stanza_ref(ctx->st));
    free(xml);
    return HOOK_DONE;
}

struct offline_pop_req {
    struct account *acct;
    uint64_t session_id;
};

static void offline_pop_done(void *ud, int err, const struct offline_msg *msgs, size_t n)
{
    struct offline_pop_req *req = ud;
    struct account *acct = req->acct;
    struct resource *res = acct->resources;
    while (res && res->session_id != req->session_id)
        res = res->next;

    if (err < 0) {
        log_warn("offline", "reading offline messages of %s failed: %s", acct->bare,
                 aldis_strerror(err));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!res) {
            /* The session ended while we read: the messages were already
             * taken out of the store, so put them back rather than lose
             * them (no limit: they were within it when stored). */
            store_offline_push(acct->bare, msgs[i].xml, msgs[i].len, INT64_MAX, NULL, NULL);
            continue;
        }
        struct stanza *st = stanza_parse(msgs[i].xml, msgs[i].len);
        if (!st) {
            log_warn("offline", "dropping an unparsable stored message for %s", acct->bare);
            continue;
        }
        /* The clearance may have changed since it was stored. */
        if (security_account_permits(acct, st, SECURITY_PATH_OFFLINE) != 0) {
            stanza_unref(st);
            continue;
        }
        account_send(acct, res, st);
    }
out:
    account_release(acct);
    free(req);
}

static int offline_priority_of(const struct stanza *st)
{
    struct xml_node *p = xml_child(st->root, "priority", NULL);
    if (!p)
        return 0;
    const char *text = xml_text(NULL, p);
    long v = strtol(text, NULL, 10);
    free((void *)text);
    return (int)v;
}

/* HOOK_PRESENCE_OUT, before mod_presence: XEP-0160 §2 step 5, "when the
 * recipient next sends non-negative available presence to the server, the
 * server delivers the message to the resource that has sent that
 * presence". Broadcast (no 'to') available presence only. */
static int offline_presence_out(struct hook_ctx *ctx)
{
    struct resource *res = ctx->res;
    if (!res || ctx->to || stanza_type(ctx->st) || !ctx->acct->exists)
        return HOOK_PASS;
    if (MODULE_DATA(res, mod_offline) == OFFLINE_DELIVERED)
        return HOOK_PASS;
    if (offline_priority_of(ctx->st) < 0)
        return HOOK_PASS;
    MODULE_DATA(res, mod_offline) = OFFLINE_DELIVERED;

    struct offline_pop_req *req = malloc(sizeof *req);
    ALDIS_ASSERT(req);
    req->acct = ctx->acct;
    req->session_id = res->session_id;
    account_hold(ctx->acct);
    store_offline_pop(ctx->acct->bare, offline_pop_done, req);
    return HOOK_PASS;
}

static void offline_resource_free(struct account *acct, struct resource *res)
{
    MODULE_DATA(res, mod_offline) = NULL;
}

static const char *const offline_host_features[] = {"msgoffline", NULL};
static const char *const offline_account_features[] = {NULL};
static const struct iq_handler offline_iq[] = {{0}};
/* The presence hook runs above mod_presence (priority 0) so that it sees
 * the presence before the resource is marked available. */
static const struct hook_row offline_hooks[] = {
    {HOOK_MESSAGE_UNDELIVERABLE, 0, offline_store},
    {HOOK_PRESENCE_OUT, 500, offline_presence_out},
    {0},
};

struct module mod_offline = {
    .name = "offline",
    .host_features = offline_host_features,
    .account_features = offline_account_features,
    .iq_handlers = offline_iq,
    .hooks = offline_hooks,
    .init = offline_init,
    .resource_free = offline_resource_free,
};

/* mod_vcard.c - vcard-temp (XEP-0054): the account's vCard, readable by
 * anyone at the bare JID, writable only by the user, kept whole in the
 * store under kv "vcard" (serialised <vCard/> element). */
#include <stdlib.h>
#include <string.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/xml.h"

#define NS_VCARD "vcard-temp"

/* Option vcard.max_size: bytes of one serialised vCard. Avatars used to be
 * embedded as base64 PHOTO, so this is generous but bounded. */
static long vcard_max_size = 65536;

static int vcard_init(const struct config *cfg, char *err, size_t errlen)
{
    return config_module_int(cfg, "vcard", "max_size", 65536, 256, 16 * 1024 * 1024,
                             &vcard_max_size, err, errlen);
}

struct vcard_req {
    struct account *acct;
    struct stanza *iq;
    bool from_self;
};

static struct vcard_req *vcard_req_new(struct iq_ctx *ctx)
{
    struct vcard_req *req = malloc(sizeof *req);
    ALDIS_ASSERT(req);
    req->acct = ctx->acct;
    req->iq = stanza_ref(ctx->iq);
    req->from_self = ctx->from_self;
    account_hold(ctx->acct);
    return req;
}

static void vcard_req_free(struct vcard_req *req)
{
    stanza_unref(req->iq);
    account_release(req->acct);
    free(req);
}

/* XEP-0054 §3 "Retrieving One's vCard" and "Viewing Another User's vCard":
 * the stored vCard. With none, the user gets "an IQ-result containing an
 * empty <vCard/> element" (the option we take over item-not-found so
 * clients need no special case); anyone else MUST get an error, and we use
 * service-unavailable, the same as for an account that does not exist. */
static void vcard_loaded(void *ud, int err, const char *value, size_t len)
{
    struct vcard_req *req = ud;
    if (err < 0 && err != ALDIS_ENOTFOUND) {
        log_warn("vcard", "reading the vCard of %s failed: %s", req->acct->bare,
                 aldis_strerror(err));
        router_route(stanza_error_reply(req->iq, "wait", "internal-server-error", NULL));
        goto out;
    }
    struct stanza *stored = (err == 0 && value && len) ? stanza_parse(value, len) : NULL;
    if (stored && !xml_is(stored->root, "vCard", NS_VCARD)) {
        stanza_unref(stored);
        stored = NULL;
    }
    if (!stored && !req->from_self) {
        router_route(stanza_error_reply(req->iq, "cancel", "service-unavailable", NULL));
        goto out;
    }
    struct stanza *reply = stanza_iq_result(req->iq);
    if (stored)
        xml_copy_into(reply, reply->root, stored->root);
    else
        xml_add_child(reply, reply->root, "vCard", NS_VCARD);
    stanza_unref(stored);
    router_route(reply);
out:
    vcard_req_free(req);
}

static void vcard_saved(void *ud, int err)
{
    struct vcard_req *req = ud;
    if (err < 0) {
        log_warn("vcard", "storing the vCard of %s failed: %s", req->acct->bare,
                 aldis_strerror(err));
        router_route(stanza_error_reply(req->iq, "wait", "internal-server-error", NULL));
    } else {
        router_route(stanza_iq_result(req->iq));
    }
    vcard_req_free(req);
}

/* XEP-0054 §3 "Updating One's vCard": only the user updates their own
 * vCard (others: forbidden, as the XEP suggests); the whole element
 * replaces the stored one. Over max_size: not-acceptable (the request is
 * understood but does not meet our criteria, RFC 6120 §8.3.3.9). */
static int vcard_set(struct iq_ctx *ctx)
{
    if (!ctx->from_self) {
        router_route(stanza_error_reply(ctx->iq, "auth", "forbidden", NULL));
        return 0;
    }
    struct buf b;
    buf_init(&b);
    xml_serialize(ctx->payload, NULL, &b);
    if (b.len > (size_t)vcard_max_size) {
        buf_free(&b);
        router_route(stanza_error_reply(ctx->iq, "modify", "not-acceptable", "vCard too large"));
        return 0;
    }
    store_kv_put(ctx->acct->bare, "vcard", b.data, b.len, vcard_saved, vcard_req_new(ctx));
    buf_free(&b);
    return 0;
}

static int vcard_iq(struct iq_ctx *ctx)
{
    if (ctx->kind == IQ_SET)
        return vcard_set(ctx);
    store_kv_get(ctx->acct->bare, "vcard", vcard_loaded, vcard_req_new(ctx));
    return 0;
}

static const char *const vcard_host_features[] = {NS_VCARD, NULL};
static const char *const vcard_account_features[] = {NULL};
static const struct iq_handler vcard_iqs[] = {
    {IQ_GET | IQ_SET, TARGET_ACCOUNT, NS_VCARD, "vCard", vcard_iq},
    {0},
};
static const struct hook_row vcard_hooks[] = {{0}};

struct module mod_vcard = {
    .name = "vcard",
    .host_features = vcard_host_features,
    .account_features = vcard_account_features,
    .iq_handlers = vcard_iqs,
    .hooks = vcard_hooks,
    .init = vcard_init,
};

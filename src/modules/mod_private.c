/* mod_private.c - private XML storage (XEP-0049): each child of the
 * jabber:iq:private <query/> is kept for the user alone, keyed by its name
 * and namespace, in the store under kv "private:{ns}name" (a
 * <private xmlns='jabber:iq:private'> wrapper around the stored elements,
 * since a set may carry several elements of one namespace). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/xml.h"

#define NS_PRIVATE "jabber:iq:private"
/* One request may name at most this many elements (bounds the work one
 * IQ can cause). */
#define PRIVATE_MAX_CHILDREN 32

/* Option private.max_size: bytes stored under one name+namespace. */
static long private_max_size = 65536;

static int private_init(const struct config *cfg, char *err, size_t errlen)
{
    return config_module_int(cfg, "private", "max_size", 65536, 256, 16 * 1024 * 1024,
                             &private_max_size, err, errlen);
}

struct private_req {
    struct account *acct;
    struct stanza *iq;
    size_t n;                /* children of <query/> */
    size_t pending;          /* store calls not answered yet */
    bool failed;
    struct xml_node *children[PRIVATE_MAX_CHILDREN]; /* in req->iq, borrowed */
    struct stanza *found[PRIVATE_MAX_CHILDREN];      /* get: stored wrapper or NULL */
};

struct private_slot {
    struct private_req *req;
    size_t index;
};

static char *private_key(const struct xml_node *el)
{
    char *key = NULL;
    ALDIS_ASSERT(asprintf(&key, "private:{%s}%s", el->ns, el->name) >= 0);
    return key;
}

static bool private_same_key(const struct xml_node *a, const struct xml_node *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->ns, b->ns) == 0;
}

static void private_req_free(struct private_req *req)
{
    for (size_t i = 0; i < req->n; i++)
        stanza_unref(req->found[i]);
    stanza_unref(req->iq);
    account_release(req->acct);
    free(req);
}

/* XEP-0049 "Elements": the result carries, for each requested element, what is
 * stored, or the element as it was asked for when nothing is. */
static void private_get_reply(struct private_req *req)
{
    struct stanza *reply = stanza_iq_result(req->iq);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_PRIVATE);
    for (size_t i = 0; i < req->n; i++) {
        struct stanza *found = req->found[i];
        bool any = false;
        if (found) {
            for (struct xml_node *c = found->root->children; c; c = c->next) {
                if (c->kind == XML_ELEM && private_same_key(c, req->children[i])) {
                    xml_copy_into(reply, q, c);
                    any = true;
                }
            }
        }
        if (!any)
            xml_copy_into(reply, q, req->children[i]);
    }
    router_route(reply);
}

static void private_loaded(void *ud, int err, const char *value, size_t len)
{
    struct private_slot *slot = ud;
    struct private_req *req = slot->req;
    if (err < 0 && err != ALDIS_ENOTFOUND) {
        log_warn("private", "reading private data of %s failed: %s", req->acct->bare,
                 aldis_strerror(err));
        req->failed = true;
    } else if (err == 0 && value && len) {
        req->found[slot->index] = stanza_parse(value, len);
    }
    free(slot);
    if (--req->pending)
        return;
    if (req->failed)
        router_route(stanza_error_reply(req->iq, "wait", "internal-server-error", NULL));
    else
        private_get_reply(req);
    private_req_free(req);
}

static void private_saved(void *ud, int err)
{
    struct private_req *req = ud;
    if (err < 0) {
        log_warn("private", "storing private data of %s failed: %s", req->acct->bare,
                 aldis_strerror(err));
        req->failed = true;
    }
    if (--req->pending)
        return;
    if (req->failed)
        router_route(stanza_error_reply(req->iq, "wait", "internal-server-error", NULL));
    else
        router_route(stanza_iq_result(req->iq));
    private_req_free(req);
}

/* XEP-0049 "Elements": every element is stored whole under its name+namespace;
 * several elements with the same key in one set are kept together. All
 * sizes are checked before anything is written, so a refused set changes
 * nothing. */
static int private_set(struct private_req *req)
{
    size_t n = req->n;
    struct buf values[PRIVATE_MAX_CHILDREN];
    bool leader[PRIVATE_MAX_CHILDREN];
    bool too_large = false;
    for (size_t i = 0; i < n; i++) {
        buf_init(&values[i]);
        leader[i] = true;
        for (size_t j = 0; j < i; j++)
            if (private_same_key(req->children[j], req->children[i]))
                leader[i] = false;
        if (!leader[i])
            continue;
        buf_adds(&values[i], "<private xmlns='" NS_PRIVATE "'>");
        for (size_t j = i; j < n; j++)
            if (private_same_key(req->children[j], req->children[i]))
                xml_serialize(req->children[j], NS_PRIVATE, &values[i]);
        buf_adds(&values[i], "</private>");
        if (values[i].len > (size_t)private_max_size)
            too_large = true;
    }
    if (too_large) {
        router_route(stanza_error_reply(req->iq, "modify", "not-acceptable",
                                        "private data too large"));
        private_req_free(req);
        goto out;
    }
    /* One extra count held until every put is queued, so a callback that
     * comes back early cannot answer (and free req) half way. */
    req->pending = 1;
    for (size_t i = 0; i < n; i++) {
        if (!leader[i])
            continue;
        char *key = private_key(req->children[i]);
        req->pending++;
        store_kv_put(req->acct->bare, key, values[i].data, values[i].len, private_saved, req);
        free(key);
    }
    private_saved(req, 0);
out:
    for (size_t i = 0; i < n; i++)
        buf_free(&values[i]);
    return 0;
}

static bool private_ns_reserved(const char *ns)
{
    return strcmp(ns, NS_CLIENT) == 0 || strcmp(ns, NS_SERVER) == 0 ||
           strcmp(ns, NS_PRIVATE) == 0;
}

static int private_iq(struct iq_ctx *ctx)
{
    /* XEP-0049 "Elements": another user's data is forbidden (preferred
     * over service-unavailable); "Security Considerations": no entity but
     * the user may create, update or delete it. */
    if (!ctx->from_self) {
        router_route(stanza_error_reply(ctx->iq, "auth", "forbidden", NULL));
        return 0;
    }
    struct private_req *req = calloc(1, sizeof *req);
    ALDIS_ASSERT(req);
    for (struct xml_node *c = ctx->payload->children; c; c = c->next) {
        if (c->kind != XML_ELEM)
            continue;
        /* XEP-0049 "Elements": the stored fragment needs its own namespace; the
         * stream and storage namespaces are refused (not-acceptable). */
        if (private_ns_reserved(c->ns) || req->n == PRIVATE_MAX_CHILDREN) {
            free(req);
            router_route(stanza_error_reply(ctx->iq, "modify", "not-acceptable", NULL));
            return 0;
        }
        req->children[req->n++] = c;
    }
    /* XEP-0049 "Elements": at least one child element, else
     * not-acceptable. */
    if (req->n == 0) {
        free(req);
        router_route(stanza_error_reply(ctx->iq, "modify", "not-acceptable", NULL));
        return 0;
    }
    req->acct = ctx->acct;
    req->iq = stanza_ref(ctx->iq);
    account_hold(ctx->acct);
    if (ctx->kind == IQ_SET)
        return private_set(req);

    req->pending = req->n;
    for (size_t i = 0; i < req->n; i++) {
        struct private_slot *slot = malloc(sizeof *slot);
        ALDIS_ASSERT(slot);
        slot->req = req;
        slot->index = i;
        char *key = private_key(req->children[i]);
        store_kv_get(req->acct->bare, key, private_loaded, slot);
        free(key);
    }
    return 0;
}

static const char *const private_host_features[] = {NULL};
static const char *const private_account_features[] = {NULL};
static const struct iq_handler private_iqs[] = {
    {IQ_GET | IQ_SET, TARGET_ACCOUNT, NS_PRIVATE, "query", private_iq},
    {0},
};
static const struct hook_row private_hooks[] = {{0}};

struct module mod_private = {
    .name = "private",
    .host_features = private_host_features,
    .account_features = private_account_features,
    .iq_handlers = private_iqs,
    .hooks = private_hooks,
    .init = private_init,
};

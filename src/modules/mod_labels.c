/* mod_labels.c - security labels (XEP-0258) as a module: it loads the
 * policy at startup (src/core/security.c does the enforcing), holds each
 * account's clearance (loaded with the account) and hands a copy to each
 * bound session, advertises the XEP-0258 features and answers catalog
 * requests (XEP-0258 §6 "Catalog Discovery").
 *
 * The label checks themselves are not hooks of this module: they are fixed
 * calls in the core's delivery paths that no module can reorder or skip
 * (ARCHITECTURE.md §6). Disabling this module on a host leaves every user of
 * the host at the policy's lowest clearance, which fails closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/label.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store_labels.h"
#include "aldis/xml.h"
#include "core/security.h"
#include "modules/labels.h"

extern struct module mod_labels;

static enum label_format catalog_format = LABEL_FORMAT_ESS;
static bool catalog_restrict;
static const char *catalog_default; /* security.default_label, borrowed from the config */

/* ---- lifecycle --------------------------------------------------------- */

static const char *const labels_features_on[] = {LABEL_NS, LABEL_CATALOG_NS, NULL};
static const char *const labels_features_off[] = {NULL};

static int labels_init(const struct config *cfg, char *err, size_t errlen)
{
    const char *fmt = config_module_str(cfg, "labels", "catalog_format", "ess");
    if (strcmp(fmt, "ess") == 0) {
        catalog_format = LABEL_FORMAT_ESS;
    } else if (strcmp(fmt, "4774") == 0) {
        catalog_format = LABEL_FORMAT_4774;
    } else {
        snprintf(err, errlen, "%s: modules.labels.catalog_format must be 'ess' or '4774'",
                 cfg->path);
        return ALDIS_ECONFIG;
    }
    int rc = config_module_bool(cfg, "labels", "catalog_restrict", false, &catalog_restrict, err,
                                errlen);
    if (rc < 0)
        return rc;
    catalog_default = cfg->security_default_label;
    rc = security_start(cfg, err, errlen);
    if (rc < 0)
        return rc;
    /* Features only when labels are enforced: a client must not believe a
     * server without a policy honours its labels. */
    mod_labels.host_features = security_active() ? labels_features_on : labels_features_off;
    return 0;
}

static void labels_shutdown(void) { security_stop(); }

/* ---- per-account clearance -------------------------------------------- */

struct load_req {
    struct account *acct;
    void (*done)(struct account *);
};

/* Parse a stored clearance; a bad one (the policy changed under it) falls
 * back to the lowest clearance, never to something higher. */
static struct clearance *clearance_from_text(const char *subject, const char *text)
{
    struct clearance *c = NULL;
    char why[256] = "";
    if (!text || !security_active())
        return NULL;
    if (clearance_parse(security_policy(), text, &c, why, sizeof why) < 0) {
        log_warn("labels", "stored clearance of %s does not parse under the policy (%s): using "
                 "the lowest", subject, why);
        return NULL;
    }
    return c;
}

static void labels_loaded(void *ud, int err, const char *text)
{
    struct load_req *r = ud;
    if (err == 0)
        MODULE_DATA(r->acct, mod_labels) = clearance_from_text(r->acct->bare, text);
    else if (err != ALDIS_ENOTFOUND)
        log_warn("labels", "reading the clearance of %s failed: %s; using the lowest",
                 r->acct->bare, aldis_strerror(err));
    /* Rooms and PubSub, on other workers, see the same clearance. */
    security_subject_update(r->acct->bare, MODULE_DATA(r->acct, mod_labels));
    r->done(r->acct);
    free(r);
}

static void labels_account_load(struct account *acct, void (*done)(struct account *))
{
    if (!security_active()) {
        done(acct);
        return;
    }
    struct load_req *r = malloc(sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->acct = acct;
    r->done = done;
    store_labels_get(acct->bare, labels_loaded, r);
}

static void labels_account_free(struct account *acct)
{
    clearance_free(MODULE_DATA(acct, mod_labels));
    MODULE_DATA(acct, mod_labels) = NULL;
}

static void session_clearance_apply(struct session *s, void *arg)
{
    security_session_clearance_set(s, clearance_dup(arg));
}

static void clearance_free_arg(void *arg) { clearance_free(arg); }

/* The session's worker gets its own copy before the bind result (both are
 * posted from here to that worker, in this order), so the session never
 * sends or receives with a missing clearance. */
static int labels_resource_bound(struct hook_ctx *ctx)
{
    const struct clearance *c = MODULE_DATA(ctx->acct, mod_labels);
    if (c)
        session_post(ctx->res->worker, ctx->res->session_id, session_clearance_apply,
                     clearance_dup(c), clearance_free_arg);
    return HOOK_PASS;
}

static void labels_session_free(struct session *s) { security_session_clearance_set(s, NULL); }

/* ---- XEP-0258 §6: catalog discovery ------------------------------------- */

struct catalog_req {
    struct stanza *iq;  /* ref */
    char *target;       /* bare JID or domain the catalog is for */
    char *requester;    /* bare JID of the asker */
    char *target_text;  /* the target's stored clearance, or NULL */
    char *to_attr;      /* the answer's 'to' and 'node', as asked (XEP-0314 §4.1) */
    char *node;
};

static void catalog_req_free(struct catalog_req *r)
{
    stanza_unref(r->iq);
    free(r->target);
    free(r->requester);
    free(r->target_text);
    free(r->to_attr);
    free(r->node);
    free(r);
}

/* Drop the catalog items the requester itself may not use: a user is only
 * offered labels both ends may handle (issue 5: "a user is never offered a
 * label the target cannot receive", and sending one above its own
 * clearance would be refused anyway). Returns the number kept. */
static unsigned catalog_filter(struct xml_node *cat, const struct clearance *requester)
{
    unsigned kept = 0;
    struct xml_node *item = xml_child(cat, "item", LABEL_CATALOG_NS);
    while (item) {
        struct xml_node *next = xml_next(item, "item", LABEL_CATALOG_NS);
        struct xml_node *sl = xml_child(item, "securitylabel", LABEL_NS);
        struct label *l = NULL;
        char why[128];
        bool keep = sl && label_from_xep0258(security_policy(), sl, &l, why, sizeof why) == 0 &&
                    l && label_decide(security_policy(), requester, l, why, sizeof why);
        label_free(l);
        if (keep)
            kept++;
        else
            xml_remove(item);
        item = next;
    }
    return kept;
}

static void catalog_answer(struct catalog_req *r, const char *requester_text)
{
    struct clearance *target = clearance_from_text(r->target, r->target_text);
    struct clearance *requester = clearance_from_text(r->requester, requester_text);
    struct buf out;
    buf_init(&out);
    struct stanza *cat = NULL, *reply = NULL;
    const struct clearance *tc = target ? target : security_default_clearance();
    const struct clearance *asker = requester ? requester : security_default_clearance();
    if (label_catalog(security_policy(), tc, r->target, catalog_default, catalog_restrict,
                      catalog_format, &out) < 0 ||
        !(cat = stanza_parse(out.data, out.len))) {
        log_warn("labels", "building the catalog for %s failed", r->target);
        reply = stanza_error_reply(r->iq, "wait", "internal-server-error", NULL);
        goto out;
    }
    char size[24];
    snprintf(size, sizeof size, "%u", catalog_filter(cat->root, asker));
    xml_set_attr(cat, cat->root, "size", size);
    if (r->to_attr)
        xml_set_attr(cat, cat->root, "to", r->to_attr);
    if (r->node)
        xml_set_attr(cat, cat->root, "node", r->node);
    reply = stanza_iq_result(r->iq);
    xml_copy_into(reply, reply->root, cat->root);
out:
    router_route(reply);
    stanza_unref(cat);
    buf_free(&out);
    clearance_free(target);
    clearance_free(requester);
}

static void catalog_requester_loaded(void *ud, int err, const char *text)
{
    struct catalog_req *r = ud;
    catalog_answer(r, err == 0 ? text : NULL);
    catalog_req_free(r);
}

static void catalog_target_loaded(void *ud, int err, const char *text)
{
    struct catalog_req *r = ud;
    if (err == 0 && text) {
        r->target_text = strdup(text);
        ALDIS_ASSERT(r->target_text != NULL);
    }
    store_labels_get(r->requester, catalog_requester_loaded, r);
}

/* <catalog xmlns='urn:xmpp:sec-label:catalog:2' to='TARGET'/> sent to our
 * domain (XEP-0258 §6.1). The target is a user, a room or a domain; its
 * clearance (and the requester's) is read from the store, so this runs on
 * any worker without touching account state. */
static int labels_catalog_get(struct iq_ctx *ctx)
{
    if (!security_active())
        return ALDIS_ENOTHANDLED;
    const char *to = xml_attr(ctx->payload, "to");
    struct jid target;
    char bare[JID_STR_MAX], req[JID_STR_MAX];
    if (!to || jid_parse(to, &target) < 0) {
        router_route(stanza_error_reply(ctx->iq, "modify", "bad-request",
                                        "the catalog request needs a valid 'to'"));
        return 0;
    }
    labels_catalog_request(ctx->iq, jid_bare(&target, bare, sizeof bare),
                           jid_bare(ctx->from, req, sizeof req), NULL, NULL);
    return 0;
}

void labels_catalog_request(struct stanza *iq, const char *target, const char *requester,
                            const char *to_attr, const char *node)
{
    struct catalog_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->iq = stanza_ref(iq);
    r->target = aldis_strdup(target);
    r->requester = aldis_strdup(requester);
    r->to_attr = aldis_strdup(to_attr);
    r->node = aldis_strdup(node);
    store_labels_get(r->target, catalog_target_loaded, r);
}

static const struct iq_handler labels_iq[] = {
    {IQ_GET, TARGET_HOST, LABEL_CATALOG_NS, "catalog", labels_catalog_get},
    {0},
};
static const struct hook_row labels_hooks[] = {
    {HOOK_RESOURCE_BOUND, 0, labels_resource_bound},
    {0},
};

struct module mod_labels = {
    .name = "labels",
    .host_features = labels_features_off,
    .account_features = labels_features_off,
    .iq_handlers = labels_iq,
    .hooks = labels_hooks,
    .init = labels_init,
    .account_load = labels_account_load,
    .account_free = labels_account_free,
    .session_free = labels_session_free,
    .shutdown = labels_shutdown,
};

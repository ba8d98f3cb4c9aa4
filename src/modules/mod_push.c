/* mod_push.c - XEP-0357 Push Notifications, the user's server side: the
 * enable/disable IQs (§5, §6) kept per account in the store, and the
 * notification (§7): a PubSub publish to the registered app server's node
 * with the urn:xmpp:push:summary form, sent when a message the user may
 * miss arrives — one that goes to offline storage, or one delivered only
 * to a session that told us it is inactive (XEP-0352). An error from the
 * app server disables that registration (§9 "the app server MAY...
 * remove", here on the user's server side as §7 advises).
 *
 * Registrations, the pending publishes and the summary counters live on
 * the account's owner worker; the CSI state is per session, on its worker,
 * watched here without taking the nonza from mod_csi. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/worker.h"
#include "core/account.h"

#define NS_PUSH "urn:xmpp:push:0"
#define NS_PUSH_SUMMARY "urn:xmpp:push:summary"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_PUBSUB_PUBLISH_OPTIONS "http://jabber.org/protocol/pubsub#publish-options"
#define NS_DATA "jabber:x:data"
#define NS_CSI "urn:xmpp:csi:0"
#define PUSH_STORE_KEY "push"
#define PUSH_MAX_NODE 1024       /* bytes of a node name */
#define PUSH_MAX_FORM 8192       /* bytes of a serialised publish-options form */
#define PUSH_MAX_PENDING 32      /* publishes awaiting the app server's answer */
#define PUSH_MAX_BODY 1024       /* bytes of last-message-body sent */
#define PUSH_ID_PREFIX "push-"

extern struct module mod_push;

static long push_max_registrations = 8;
static bool push_include_body = false;

struct push_reg {
    char *jid;
    char *node;
    struct stanza *form; /* frozen publish-options <x/>, or NULL */
};

struct push_pending {
    char id[40];
    char *jid;
    char *node;
};

/* MODULE_DATA(acct, mod_push), owner worker. */
struct push_state {
    struct push_reg *regs;
    size_t nregs;
    struct push_pending pending[PUSH_MAX_PENDING];
    size_t npending, next_pending; /* a ring: the oldest is overwritten */
    long count;                    /* messages since a resource last bound */
    char last_id[128];             /* the message last pushed (dedup) */
};

/* ---- registrations ---------------------------------------------------------- */

static void reg_clear(struct push_reg *r)
{
    free(r->jid);
    free(r->node);
    if (r->form)
        stanza_unref(r->form);
}

static void pending_clear(struct push_pending *p)
{
    free(p->jid);
    free(p->node);
    p->jid = p->node = NULL;
    p->id[0] = '\0';
}

static void state_free(struct push_state *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->nregs; i++)
        reg_clear(&ps->regs[i]);
    free(ps->regs);
    for (size_t i = 0; i < PUSH_MAX_PENDING; i++)
        pending_clear(&ps->pending[i]);
    free(ps);
}

static struct push_reg *reg_find(struct push_state *ps, const char *jid, const char *node)
{
    for (size_t i = 0; i < ps->nregs; i++)
        if (strcmp(ps->regs[i].jid, jid) == 0 && strcmp(ps->regs[i].node, node) == 0)
            return &ps->regs[i];
    return NULL;
}

static void reg_remove(struct push_state *ps, struct push_reg *r)
{
    size_t i = (size_t)(r - ps->regs);
    reg_clear(r);
    memmove(&ps->regs[i], &ps->regs[i + 1], (ps->nregs - i - 1) * sizeof *ps->regs);
    ps->nregs--;
}

/* Stored as <push><enable jid node>[form]</enable>...</push>. */
static void state_save(struct account *acct, const struct push_state *ps)
{
    if (!ps->nregs) {
        store_kv_del(acct->bare, PUSH_STORE_KEY, NULL, NULL);
        return;
    }
    struct stanza *doc = stanza_new("push", NS_PUSH);
    for (size_t i = 0; i < ps->nregs; i++) {
        struct xml_node *e = xml_add_child(doc, doc->root, "enable", NS_PUSH);
        xml_set_attr(doc, e, "jid", ps->regs[i].jid);
        xml_set_attr(doc, e, "node", ps->regs[i].node);
        if (ps->regs[i].form)
            xml_copy_into(doc, e, ps->regs[i].form->root);
    }
    size_t len;
    char *xml = stanza_to_string(doc, &len);
    stanza_unref(doc);
    store_kv_put(acct->bare, PUSH_STORE_KEY, xml, len, NULL, NULL);
    free(xml);
}

/* A frozen copy of a publish-options form, or NULL. */
static struct stanza *form_copy(const struct xml_node *x)
{
    struct buf b;
    buf_init(&b);
    xml_serialize(x, NS_CLIENT, &b);
    struct stanza *st = b.len <= PUSH_MAX_FORM ? stanza_parse(b.data, b.len) : NULL;
    buf_free(&b);
    return st ? stanza_freeze(st) : NULL;
}

/* Add or update; ALDIS_ELIMIT when the account has too many. */
static int reg_put(struct push_state *ps, const char *jid, const char *node, const struct xml_node *x)
{
    struct push_reg *r = reg_find(ps, jid, node);
    if (!r) {
        if ((long)ps->nregs >= push_max_registrations)
            return ALDIS_ELIMIT;
        struct push_reg *grown = realloc(ps->regs, (ps->nregs + 1) * sizeof *grown);
        ALDIS_ASSERT(grown != NULL);
        ps->regs = grown;
        r = &ps->regs[ps->nregs++];
        r->jid = aldis_strdup(jid);
        r->node = aldis_strdup(node);
        r->form = NULL;
    }
    if (r->form)
        stanza_unref(r->form);
    r->form = x ? form_copy(x) : NULL;
    return 0;
}

struct push_load {
    struct account *acct;
    void (*done)(struct account *);
};

static void push_loaded(void *ud, int err, const char *value, size_t len)
{
    struct push_load *load = ud;
    struct push_state *ps = calloc(1, sizeof *ps);
    ALDIS_ASSERT(ps != NULL);
    if (err == 0 && value && len) {
        struct stanza *doc = stanza_parse(value, len);
        if (!doc)
            log_warn("push", "%s: stored registrations unreadable; ignored", load->acct->bare);
        for (struct xml_node *e = doc ? xml_child(doc->root, "enable", NS_PUSH) : NULL; e;
             e = xml_next(e, "enable", NS_PUSH)) {
            const char *jid = xml_attr(e, "jid"), *node = xml_attr(e, "node");
            if (jid && node)
                reg_put(ps, jid, node, xml_child(e, "x", NS_DATA));
        }
        if (doc)
            stanza_unref(doc);
    } else if (err && err != ALDIS_ENOTFOUND) {
        log_warn("push", "%s: loading registrations failed: %s", load->acct->bare,
                 aldis_strerror(err));
    }
    MODULE_DATA(load->acct, mod_push) = ps;
    load->done(load->acct);
    free(load);
}

static void push_account_load(struct account *acct, void (*done)(struct account *))
{
    struct push_load *load = malloc(sizeof *load);
    ALDIS_ASSERT(load != NULL);
    load->acct = acct;
    load->done = done;
    store_kv_get(acct->bare, PUSH_STORE_KEY, push_loaded, load);
}

static void push_account_free(struct account *acct)
{
    state_free(MODULE_DATA(acct, mod_push));
    MODULE_DATA(acct, mod_push) = NULL;
}

/* ---- enable / disable (§5, §6) ------------------------------------------------ */

static int push_fail(struct iq_ctx *ctx, const char *type, const char *cond)
{
    router_route(stanza_error_reply(ctx->iq, type, cond, NULL));
    return 0;
}

/* The 'jid' attribute prepared as a JID, into out; false when bad. */
static bool jid_attr(const struct xml_node *el, char *out, size_t size)
{
    const char *given = xml_attr(el, "jid");
    struct jid j;
    if (!given || jid_parse(given, &j) < 0)
        return false;
    jid_full(&j, out, size);
    return true;
}

static int push_enable(struct iq_ctx *ctx)
{
    struct push_state *ps = MODULE_DATA(ctx->acct, mod_push);
    if (!ctx->from_self)
        return push_fail(ctx, "auth", "forbidden");
    if (!ps)
        return push_fail(ctx, "wait", "internal-server-error");
    char jid[JID_STR_MAX];
    const char *node = xml_attr(ctx->payload, "node");
    if (!jid_attr(ctx->payload, jid, sizeof jid) || !node || !*node ||
        strlen(node) > PUSH_MAX_NODE)
        return push_fail(ctx, "modify", "bad-request");
    /* §5: the optional form is publish-options for every notification. */
    struct xml_node *x = xml_child(ctx->payload, "x", NS_DATA);
    if (x) {
        struct buf b;
        buf_init(&b);
        xml_serialize(x, NS_CLIENT, &b);
        size_t len = b.len;
        buf_free(&b);
        if (len > PUSH_MAX_FORM)
            return push_fail(ctx, "modify", "not-acceptable");
    }
    if (reg_put(ps, jid, node, x) < 0)
        return push_fail(ctx, "wait", "resource-constraint");
    state_save(ctx->acct, ps);
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

static int push_disable(struct iq_ctx *ctx)
{
    struct push_state *ps = MODULE_DATA(ctx->acct, mod_push);
    if (!ctx->from_self)
        return push_fail(ctx, "auth", "forbidden");
    if (!ps)
        return push_fail(ctx, "wait", "internal-server-error");
    char jid[JID_STR_MAX];
    if (!jid_attr(ctx->payload, jid, sizeof jid))
        return push_fail(ctx, "modify", "bad-request");
    /* §6: without a node, every registration with that app server goes. */
    const char *node = xml_attr(ctx->payload, "node");
    for (size_t i = ps->nregs; i-- > 0;)
        if (strcmp(ps->regs[i].jid, jid) == 0 && (!node || strcmp(ps->regs[i].node, node) == 0))
            reg_remove(ps, &ps->regs[i]);
    state_save(ctx->acct, ps);
    router_route(stanza_iq_result(ctx->iq));
    return 0;
}

static int push_iq(struct iq_ctx *ctx)
{
    if (strcmp(ctx->payload->name, "enable") == 0)
        return push_enable(ctx);
    if (strcmp(ctx->payload->name, "disable") == 0)
        return push_disable(ctx);
    return push_fail(ctx, "modify", "bad-request");
}

/* ---- notifications (§7) ---------------------------------------------------------- */

static void add_field(struct stanza *st, struct xml_node *x, const char *var, const char *value)
{
    struct xml_node *f = xml_add_child(st, x, "field", NS_DATA);
    xml_set_attr(st, f, "var", var);
    struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
    xml_add_text(st, v, value, strlen(value));
}

/* The body text, cut to PUSH_MAX_BODY bytes on a UTF-8 boundary. */
static void body_field(struct stanza *st, struct xml_node *x, struct stanza *msg)
{
    struct xml_node *body = xml_child(msg->root, "body", NULL);
    const char *text = body ? xml_text(msg, body) : NULL;
    if (!text)
        return;
    size_t n = strlen(text);
    if (n > PUSH_MAX_BODY) {
        n = PUSH_MAX_BODY;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    struct xml_node *f = xml_add_child(st, x, "field", NS_DATA);
    xml_set_attr(st, f, "var", "last-message-body");
    struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
    xml_add_text(st, v, text, n);
}

/* One publish to one app server (§7, Example 6). */
static void push_send(struct account *acct, struct push_state *ps, const struct push_reg *reg,
                      struct stanza *msg)
{
    struct stanza *iq = stanza_new("iq", NULL);
    /* A fresh id: an answer is matched to its registration by it. */
    unsigned char raw[8] = {0};
    static _Thread_local unsigned long fallback;
    char id[40];
    if (RAND_bytes(raw, sizeof raw) == 1)
        snprintf(id, sizeof id, PUSH_ID_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1],
                 raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
    else
        snprintf(id, sizeof id, PUSH_ID_PREFIX "%lu", ++fallback);
    xml_set_attr(iq, iq->root, "type", "set");
    xml_set_attr(iq, iq->root, "from", acct->bare);
    xml_set_attr(iq, iq->root, "to", reg->jid);
    xml_set_attr(iq, iq->root, "id", id);
    struct xml_node *pubsub = xml_add_child(iq, iq->root, "pubsub", NS_PUBSUB);
    struct xml_node *publish = xml_add_child(iq, pubsub, "publish", NS_PUBSUB);
    xml_set_attr(iq, publish, "node", reg->node);
    struct xml_node *item = xml_add_child(iq, publish, "item", NS_PUBSUB);
    struct xml_node *note = xml_add_child(iq, item, "notification", NS_PUSH);
    struct xml_node *x = xml_add_child(iq, note, "x", NS_DATA);
    xml_set_attr(iq, x, "type", "submit");
    add_field(iq, x, "FORM_TYPE", NS_PUSH_SUMMARY);
    char count[32];
    snprintf(count, sizeof count, "%ld", ps->count);
    add_field(iq, x, "message-count", count);
    const char *sender = stanza_from(msg);
    if (sender)
        add_field(iq, x, "last-message-sender", sender);
    /* The body is private: only when the operator allows it (option
     * include_body), never by default. */
    if (push_include_body)
        body_field(iq, x, msg);
    if (reg->form) {
        struct xml_node *po = xml_add_child(iq, pubsub, "publish-options", NS_PUBSUB);
        xml_copy_into(iq, po, reg->form->root);
    }
    /* Remember it, to disable the registration on an error. */
    struct push_pending *p = &ps->pending[ps->next_pending];
    pending_clear(p);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->jid = aldis_strdup(reg->jid);
    p->node = aldis_strdup(reg->node);
    ps->next_pending = (ps->next_pending + 1) % PUSH_MAX_PENDING;
    if (ps->npending < PUSH_MAX_PENDING)
        ps->npending++;
    router_route(iq);
}

/* Is this a message a user would want to hear about? A chat or normal
 * message with a body (XEP-0357 §7 leaves what to push to the server). */
static bool push_worthy(const struct stanza *st)
{
    if (strcmp(stanza_name(st), "message") != 0)
        return false;
    const char *type = stanza_type(st);
    if (type && strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0)
        return false;
    return xml_child(st->root, "body", NULL) != NULL;
}

static void push_notify(struct account *acct, struct stanza *msg)
{
    struct push_state *ps = MODULE_DATA(acct, mod_push);
    if (!ps || !ps->nregs || !push_worthy(msg))
        return;
    /* One message reaching several inactive sessions is pushed once. */
    const char *id = stanza_id(msg);
    const char *from = stanza_from(msg);
    char key[sizeof ps->last_id];
    snprintf(key, sizeof key, "%s|%s", from ? from : "", id ? id : "");
    if (id && strcmp(key, ps->last_id) == 0)
        return;
    snprintf(ps->last_id, sizeof ps->last_id, "%s", key);
    ps->count++;
    for (size_t i = 0; i < ps->nregs; i++)
        push_send(acct, ps, &ps->regs[i], msg);
}

/* HOOK_MESSAGE_UNDELIVERABLE: the message goes to offline storage (this
 * runs first and lets mod_offline take it). */
static int push_undeliverable(struct hook_ctx *ctx)
{
    if (ctx->acct->exists)
        push_notify(ctx->acct, ctx->st);
    return HOOK_PASS;
}

/* A resource bound: the user is back, the summary counter restarts. */
static int push_bound(struct hook_ctx *ctx)
{
    struct push_state *ps = MODULE_DATA(ctx->acct, mod_push);
    if (ps) {
        ps->count = 0;
        ps->last_id[0] = '\0';
    }
    return HOOK_PASS;
}

/* The app server's answer to one of our publishes (to the bare JID): an
 * error disables the registration (§7). */
static int push_iq_in(struct hook_ctx *ctx)
{
    struct push_state *ps = MODULE_DATA(ctx->acct, mod_push);
    const char *type = stanza_type(ctx->st);
    const char *id = stanza_id(ctx->st);
    if (!ps || !id || strncmp(id, PUSH_ID_PREFIX, strlen(PUSH_ID_PREFIX)) != 0 || !type ||
        (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
        return HOOK_PASS;
    for (size_t i = 0; i < PUSH_MAX_PENDING; i++) {
        struct push_pending *p = &ps->pending[i];
        if (!p->jid || strcmp(p->id, id) != 0)
            continue;
        /* The answer must come from the app server we asked. */
        char from[JID_STR_MAX];
        if (!ctx->from || strcmp(jid_full(ctx->from, from, sizeof from), p->jid) != 0)
            return HOOK_PASS;
        if (strcmp(type, "error") == 0) {
            struct push_reg *r = reg_find(ps, p->jid, p->node);
            if (r) {
                log_info("push", "%s: app server %s node %s answered an error; disabled",
                         ctx->acct->bare, p->jid, p->node);
                reg_remove(ps, r);
                state_save(ctx->acct, ps);
            }
        }
        pending_clear(p);
        return HOOK_DONE;
    }
    return HOOK_PASS;
}

/* ---- inactive sessions (XEP-0352) --------------------------------------------------- */

/* session_data(s, &mod_push): non-NULL while the client said <inactive/>. */
static int push_session_element(struct hook_ctx *ctx)
{
    const struct xml_node *el = ctx->st->root;
    if (strcmp(el->ns, NS_CSI) != 0)
        return HOOK_PASS;
    if (strcmp(el->name, "inactive") == 0)
        session_set_data(ctx->sess, &mod_push, (void *)&mod_push);
    else if (strcmp(el->name, "active") == 0)
        session_set_data(ctx->sess, &mod_push, NULL);
    return HOOK_PASS; /* mod_csi acts on it */
}

struct push_post {
    struct host *host;
    struct stanza *msg;
    char bare[];
};

static void push_on_account(struct account *acct, void *arg)
{
    struct push_post *pp = arg;
    push_notify(acct, pp->msg);
    stanza_unref(pp->msg);
    free(pp);
}

static void push_on_owner(struct worker *w, void *arg)
{
    (void)w;
    struct push_post *pp = arg;
    account_with(pp->host, pp->bare, push_on_account, pp);
}

/* A message about to reach a session that is inactive: the user may not
 * see it, so the owner pushes (the message is still delivered). */
static int push_session_deliver(struct hook_ctx *ctx)
{
    /* away: CSI-inactive, or the connection is lost and stream management
     * holds the session (XEP-0357 §5: the client cannot see it now) */
    if ((!session_data(ctx->sess, &mod_push) && !session_detached(ctx->sess)) ||
        !push_worthy(ctx->st))
        return HOOK_PASS;
    const struct jid *me = session_jid(ctx->sess);
    if (!me || !ctx->host)
        return HOOK_PASS;
    char bare[JID_STR_MAX];
    jid_bare(me, bare, sizeof bare);
    struct push_post *pp = malloc(sizeof *pp + strlen(bare) + 1);
    ALDIS_ASSERT(pp != NULL);
    pp->host = ctx->host;
    pp->msg = stanza_ref(ctx->st);
    strcpy(pp->bare, bare);
    worker_post(worker_owner_of(bare), push_on_owner, pp);
    return HOOK_PASS;
}

/* Nothing to free: the session slot only marks inactivity. */
static void push_session_free(struct session *s)
{
    session_set_data(s, &mod_push, NULL);
}

/* ---- module ------------------------------------------------------------------------ */

static int push_init(const struct config *cfg, char *err, size_t errlen)
{
    if (config_module_int(cfg, "push", "max_registrations", 8, 1, 100, &push_max_registrations,
                          err, errlen) < 0 ||
        config_module_bool(cfg, "push", "include_body", false, &push_include_body, err,
                           errlen) < 0)
        return ALDIS_ECONFIG;
    return 0;
}

static const char *const push_account_features[] = {NS_PUSH, NULL};
static const struct iq_handler push_iqs[] = {
    {IQ_SET, TARGET_ACCOUNT, NS_PUSH, "enable", push_iq},
    {IQ_SET, TARGET_ACCOUNT, NS_PUSH, "disable", push_iq},
    {0},
};
static const struct hook_row push_hooks[] = {
    /* Before mod_offline (0), which ends the event. */
    {HOOK_MESSAGE_UNDELIVERABLE, 100, push_undeliverable},
    {HOOK_RESOURCE_BOUND, 0, push_bound},
    /* Before mod_pep's caps results (10): ours are told by their id. */
    {HOOK_IQ_IN, 50, push_iq_in},
    /* Before mod_csi (0 and 1000), which takes the nonza and holds. */
    {HOOK_SESSION_ELEMENT, 100, push_session_element},
    {HOOK_SESSION_DELIVER, 1100, push_session_deliver},
    {0},
};

struct module mod_push = {
    .name = "push",
    .account_features = push_account_features,
    .iq_handlers = push_iqs,
    .hooks = push_hooks,
    .init = push_init,
    .account_load = push_account_load,
    .account_free = push_account_free,
    .session_free = push_session_free,
};

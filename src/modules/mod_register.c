/* mod_register.c - XEP-0077 In-Band Registration: new accounts before
 * authentication (off unless modules.register.allow_registration is true,
 * and rate-limited per IP address), password change and account removal
 * for authenticated users. Credentials are stored as SCRAM keys only. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store_account.h"
#include "lib/map.h"
#include <stdio.h>

#define NS_REGISTER "jabber:iq:register"
#define MIN_PASSWORD 6

struct module mod_register;

static bool allow_registration;
static long min_interval; /* seconds between registrations from one IP */
static long password_min;

static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map recent = {.integer = 0}; /* IP -> last registration time */

static const char *const register_preauth_features[] = {
    "<register xmlns='http://jabber.org/features/iq-register'/>", NULL};

static int register_init(const struct config *cfg, char *err, size_t errlen)
{
    int rc = config_module_bool(cfg, "register", "allow_registration", false, &allow_registration,
                                err, errlen);
    if (rc == 0)
        rc = config_module_int(cfg, "register", "min_interval", 300, 0, 86400, &min_interval, err,
                               errlen);
    if (rc == 0)
        rc = config_module_int(cfg, "register", "min_password_length", MIN_PASSWORD, 1, 1024,
                               &password_min, err, errlen);
    mod_register.preauth_features = allow_registration ? register_preauth_features : NULL;
    return rc;
}

static void register_shutdown(void)
{
    pthread_mutex_lock(&recent_lock);
    void *v;
    for (size_t it = 0; map_next(&recent, &it, NULL, &v);)
        free(v);
    map_free(&recent);
    pthread_mutex_unlock(&recent_lock);
}

/* XEP-0077 §8 / XEP-0205: one registration per IP per min_interval. */
static bool register_rate_ok(const char *ip, bool record)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&recent_lock);
    /* forget addresses whose interval is over, so the table stays bounded
     * by the registrations of the last min_interval seconds */
    if (recent.count > 256) {
        const char *k;
        void *v;
        for (size_t it = 0; map_next(&recent, &it, &k, &v);)
            if (now - *(time_t *)v >= (time_t)min_interval) {
                map_del(&recent, k);
                free(v);
            }
    }
    time_t *last = map_get(&recent, ip);
    bool ok = !last || now - *last >= (time_t)min_interval;
    if (ok && record) {
        if (!last) {
            last = malloc(sizeof *last);
            ALDIS_ASSERT(last != NULL);
            map_put(&recent, ip, last);
        }
        *last = now;
    }
    pthread_mutex_unlock(&recent_lock);
    return ok;
}

static struct stanza *reply_error(const struct stanza *iq, const char *type, const char *cond,
                                  const char *text)
{
    struct stanza *e = stanza_error_reply(iq, type, cond, text);
    xml_set_attr(e, e->root, "to", NULL);
    xml_set_attr(e, e->root, "from", NULL);
    return e;
}

static void session_answer(struct session *s, struct stanza *st)
{
    session_reply(s, st);
    stanza_unref(st);
}

/* ---- before authentication ---- */

struct pending {
    uint64_t sid;
    struct stanza *iq;
    char user[JID_PART_MAX + 1];
    const char *domain;
};

static void created(void *ud, int err)
{
    struct pending *p = ud;
    struct session *s = session_find(p->sid);
    if (s) {
        struct stanza *r;
        if (err == 0) {
            r = stanza_iq_result(p->iq);
            xml_set_attr(r, r->root, "to", NULL);
            xml_set_attr(r, r->root, "from", NULL);
            log_info("register", "%s: registered %s@%s", session_peer(s), p->user, p->domain);
        } else if (err == ALDIS_EEXIST) {
            r = reply_error(p->iq, "cancel", "conflict", "that user name is taken");
        } else {
            r = reply_error(p->iq, "wait", "internal-server-error", "the account store failed");
        }
        session_answer(s, r);
    }
    stanza_unref(p->iq);
    free(p);
}

static int register_preauth(struct hook_ctx *ctx)
{
    struct stanza *iq = ctx->st;
    struct xml_node *q = xml_child(iq->root, "query", NS_REGISTER);
    const char *type = stanza_type(iq);
    if (!q || !type || !allow_registration)
        return HOOK_PASS;
    if (strcmp(type, "get") == 0) {
        /* XEP-0077 §3.1: the fields we need */
        struct stanza *r = stanza_iq_result(iq);
        xml_set_attr(r, r->root, "to", NULL);
        xml_set_attr(r, r->root, "from", NULL);
        struct xml_node *rq = xml_add_child(r, r->root, "query", NS_REGISTER);
        struct xml_node *ins = xml_add_child(r, rq, "instructions", NULL);
        static const char text[] = "Choose a user name and a password.";
        xml_add_text(r, ins, text, sizeof text - 1);
        xml_add_child(r, rq, "username", NULL);
        xml_add_child(r, rq, "password", NULL);
        session_answer(ctx->sess, r);
        return HOOK_DONE;
    }
    if (strcmp(type, "set") != 0)
        return HOOK_PASS;
    const char *user = xml_text(iq, xml_child(q, "username", NS_REGISTER));
    const char *password = xml_text(iq, xml_child(q, "password", NS_REGISTER));
    char prepped[JID_PART_MAX + 1];
    if (!*user || jid_nodeprep(user, prepped) < 0) {
        session_answer(ctx->sess, reply_error(iq, "modify", "jid-malformed", "invalid user name"));
        return HOOK_DONE;
    }
    if ((long)strlen(password) < password_min) {
        session_answer(ctx->sess, reply_error(iq, "modify", "not-acceptable", "password too short"));
        return HOOK_DONE;
    }
    if (!register_rate_ok(session_peer(ctx->sess), true)) {
        session_answer(ctx->sess, reply_error(iq, "wait", "resource-constraint",
                                              "too many registrations from your address; wait"));
        return HOOK_DONE;
    }
    struct scram_keys keys;
    if (scram_keys_derive(password, SCRAM_ITERATIONS_DEFAULT, &keys) < 0) {
        session_answer(ctx->sess, reply_error(iq, "modify", "not-acceptable", "unusable password"));
        return HOOK_DONE;
    }
    struct pending *p = calloc(1, sizeof *p);
    ALDIS_ASSERT(p != NULL);
    p->sid = session_id(ctx->sess);
    p->iq = stanza_ref(iq);
    snprintf(p->user, sizeof p->user, "%s", prepped);
    p->domain = ctx->host->domain;
    store_user_create(ctx->host->domain, prepped, &keys, created, p);
    memset(&keys, 0, sizeof keys);
    return HOOK_DONE;
}

/* ---- authenticated: password change and removal (XEP-0077 §3.2, §3.3) ---- */

struct account_change {
    struct stanza *iq;
    struct account *acct;
    bool removal;
    char resource[JID_PART_MAX + 1]; /* the requesting resource */
};

/* XEP-0077 §3.3: the account is gone, so are its streams */
static void kick(struct session *s, void *arg)
{
    (void)arg;
    session_close(s, "not-authorized", "the account was removed");
}

static void changed(void *ud, int err)
{
    struct account_change *ch = ud;
    struct stanza *r = err ? stanza_error_reply(ch->iq, "wait", "internal-server-error", NULL)
                           : stanza_iq_result(ch->iq);
    /* straight to the requesting resource, so the answer reaches it before
     * its stream is closed below (both are posted to its worker in order) */
    struct resource *asker = account_resource(ch->acct, ch->resource);
    if (asker)
        account_send(ch->acct, asker, r);
    else
        router_route(r);
    if (!err && ch->removal) {
        log_info("register", "%s: account removed by its owner", ch->acct->bare);
        ch->acct->exists = false;
        for (struct resource *res = ch->acct->resources; res; res = res->next)
            session_post(res->worker, res->session_id, kick, NULL, NULL);
    }
    account_release(ch->acct);
    stanza_unref(ch->iq);
    free(ch);
}

static int register_account_iq(struct iq_ctx *ctx)
{
    if (!ctx->from_self)
        return ALDIS_ENOTHANDLED;
    if (ctx->kind == IQ_GET) {
        struct stanza *r = stanza_iq_result(ctx->iq);
        struct xml_node *q = xml_add_child(r, r->root, "query", NS_REGISTER);
        xml_add_child(r, q, "registered", NULL);
        struct xml_node *u = xml_add_child(r, q, "username", NULL);
        xml_add_text(r, u, ctx->acct->user, strlen(ctx->acct->user));
        router_route(r);
        return 0;
    }
    struct account_change *ch = calloc(1, sizeof *ch);
    ALDIS_ASSERT(ch != NULL);
    ch->iq = stanza_ref(ctx->iq);
    ch->acct = ctx->acct;
    snprintf(ch->resource, sizeof ch->resource, "%s", ctx->from->resource ? ctx->from->resource : "");
    if (xml_child(ctx->payload, "remove", NS_REGISTER)) {
        ch->removal = true;
        account_hold(ctx->acct);
        store_user_delete(ctx->host->domain, ctx->acct->user, changed, ch);
        return 0;
    }
    const char *user = xml_text(ctx->iq, xml_child(ctx->payload, "username", NS_REGISTER));
    const char *password = xml_text(ctx->iq, xml_child(ctx->payload, "password", NS_REGISTER));
    struct scram_keys keys;
    const char *problem = NULL;
    if (*user && strcmp(user, ctx->acct->user) != 0)
        problem = "that is not your user name";
    else if ((long)strlen(password) < password_min)
        problem = "password too short";
    else if (scram_keys_derive(password, SCRAM_ITERATIONS_DEFAULT, &keys) < 0)
        problem = "unusable password";
    if (problem) {
        router_route(stanza_error_reply(ctx->iq, "modify", "not-acceptable", problem));
        stanza_unref(ch->iq);
        free(ch);
        return 0;
    }
    account_hold(ctx->acct);
    store_user_set_keys(ctx->host->domain, ctx->acct->user, &keys, changed, ch);
    memset(&keys, 0, sizeof keys);
    return 0;
}

static const char *const register_features[] = {NS_REGISTER, NULL};

static const struct iq_handler register_iq[] = {
    {IQ_GET | IQ_SET, TARGET_ACCOUNT, NS_REGISTER, "query", register_account_iq},
    {0},
};

static const struct hook_row register_hooks[] = {
    {HOOK_SESSION_PREAUTH, 0, register_preauth},
    {0},
};

struct module mod_register = {
    .name = "register",
    .host_features = register_features,
    .iq_handlers = register_iq,
    .hooks = register_hooks,
    .init = register_init,
    .shutdown = register_shutdown,
};

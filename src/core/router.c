/* router.c - where a stanza goes (ARCHITECTURE.md §4): by the domain of its
 * 'to' to a host handler, to the owner worker of a local account, or back
 * as an error for domains we do not serve (S2S comes later as one more
 * route). Stanzas are frozen (serialised once) before they cross workers. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/account.h"
#include "core/modules.h"
#include "core/router.h"
#include "core/security.h"
#include "core/session.h"
#include "core/worker_internal.h"

static bool type_is(const struct stanza *st, const char *t)
{
    const char *ty = stanza_type(st);
    return ty && strcmp(ty, t) == 0;
}

void router_bounce(struct stanza *st, const char *type, const char *condition, const char *text)
{
    /* never answer an error with an error (RFC 6120 §8.3.1) and never
     * answer IQ results */
    if (type_is(st, "error") || (strcmp(stanza_name(st), "iq") == 0 && type_is(st, "result")))
        return;
    if (!stanza_from(st))
        return;
    router_route(stanza_error_reply(st, type, condition, text));
}

static void host_stanza(struct stanza *st, struct host *h, const struct jid *to)
{
    if (strcmp(stanza_name(st), "iq") != 0)
        return; /* message/presence to the bare domain: nothing to do */
    const char *type = stanza_type(st);
    enum iq_kind kind = 0;
    if (type && strcmp(type, "get") == 0)
        kind = IQ_GET;
    else if (type && strcmp(type, "set") == 0)
        kind = IQ_SET;
    if (!kind)
        return; /* results/errors to the server: its pings are taken by c2s */
    struct jid from;
    if (jid_parse(stanza_from(st), &from) < 0)
        return;
    struct xml_node *payload = xml_first_elem(st->root);
    const struct iq_handler *hd = iq_handler_find(h, TARGET_HOST, kind, payload);
    if (hd) {
        struct iq_ctx ctx = {.host = h, .iq = st, .payload = payload, .from = &from, .to = to,
                             .kind = kind};
        if (hd->fn(&ctx) == 0)
            return;
    }
    router_bounce(st, "cancel", "service-unavailable", NULL);
}

static void account_iq(struct account *acct, struct stanza *st, const struct jid *to,
                       const struct jid *from)
{
    struct hook_ctx hc = {.host = acct->host, .acct = acct, .st = st, .to = to, .from = from};
    if (hooks_run(HOOK_IQ_IN, &hc) == HOOK_DONE)
        return;
    const char *type = stanza_type(st);
    bool request = type && (strcmp(type, "get") == 0 || strcmp(type, "set") == 0);
    if (to->resource) {
        struct resource *r = account_resource(acct, to->resource);
        if (r)
            account_send(acct, r, stanza_ref(st));
        else if (request)
            router_bounce(st, "cancel", "service-unavailable", NULL);
        return;
    }
    if (!request)
        return;
    if (!acct->exists) {
        router_bounce(st, "cancel", "service-unavailable", NULL);
        return;
    }
    enum iq_kind kind = strcmp(type, "get") == 0 ? IQ_GET : IQ_SET;
    struct xml_node *payload = xml_first_elem(st->root);
    const struct iq_handler *hd = iq_handler_find(acct->host, TARGET_ACCOUNT, kind, payload);
    if (hd) {
        struct iq_ctx ctx = {.host = acct->host, .acct = acct, .iq = st, .payload = payload,
                             .from = from, .to = to, .kind = kind};
        char from_bare[JID_STR_MAX];
        ctx.from_self = strcmp(jid_bare(from, from_bare, sizeof from_bare), acct->bare) == 0;
        if (hd->fn(&ctx) == 0)
            return;
    }
    router_bounce(st, "cancel", "service-unavailable", NULL);
}

/* A stanza on its way to an account's owner. `to` is the destination as
 * routed: the stanza's own 'to', or the sender's bare JID for a client
 * stanza without one (RFC 6120 §10.3), which is why it travels apart. */
struct to_owner {
    struct stanza *st;
    struct host *host;
    char *bare; /* points into to_buf */
    char to_buf[];
};

static void account_dispatch(struct account *acct, void *arg)
{
    struct to_owner *m = arg;
    struct stanza *st = m->st;
    struct jid to, from;
    /* A reply the server makes on the account's behalf to a request without
     * 'to' carries no 'from' (RFC 6120 §8.1.2.1); it comes from the server. */
    const char *from_attr = stanza_from(st);
    if (jid_parse(m->to_buf, &to) < 0 || jid_parse(from_attr ? from_attr : acct->host->domain, &from) < 0)
        goto out;
    /* ARCHITECTURE.md §6: the label decision for this recipient, before
     * any module (carbons, archive, offline, notifications) sees it. */
    if (security_account_inbound(acct, st) != 0)
        goto out;
    const char *name = stanza_name(st);
    struct hook_ctx hc = {.host = acct->host, .acct = acct, .st = st, .to = &to, .from = &from};
    if (strcmp(name, "message") == 0) {
        if (hooks_run(HOOK_MESSAGE_IN, &hc) != HOOK_DONE)
            log_debug("router", "message to %s not taken by any module", acct->bare);
        if (hc.st != st)
            stanza_unref(hc.st);
    } else if (strcmp(name, "presence") == 0) {
        hooks_run(HOOK_PRESENCE_IN, &hc);
    } else if (strcmp(name, "iq") == 0) {
        account_iq(acct, st, &to, &from);
    }
out:
    stanza_unref(st);
    free(m);
}

static void on_owner(struct worker *w, void *arg)
{
    (void)w;
    struct to_owner *m = arg;
    account_with(m->host, m->bare, account_dispatch, m);
}

struct to_service {
    struct stanza *st;
    struct service *svc;
    char to[];
};

static void on_service_owner(struct worker *w, void *arg)
{
    (void)w;
    struct to_service *m = arg;
    struct jid to, from;
    const char *f = stanza_from(m->st);
    if (jid_parse(m->to, &to) == 0 && jid_parse(f ? f : m->svc->host->domain, &from) == 0)
        m->svc->mod->service_stanza(m->svc, m->st, &to, &from);
    stanza_unref(m->st);
    free(m);
}

static void route_to_service(struct stanza *st, struct service *svc, const struct jid *to)
{
    char full[JID_STR_MAX], bare[JID_STR_MAX];
    jid_full(to, full, sizeof full);
    jid_bare(to, bare, sizeof bare);
    size_t len = strlen(full) + 1;
    struct to_service *m = malloc(sizeof *m + len);
    ALDIS_ASSERT(m != NULL);
    m->st = st;
    m->svc = svc;
    memcpy(m->to, full, len);
    worker_post(worker_owner_of(bare), on_service_owner, m);
}

void router_route_to(struct stanza *st, const struct jid *to)
{
    stanza_freeze(st);
    struct host *h = host_find(to->domain);
    if (!h) {
        struct service *svc = service_find(to->domain);
        if (svc) {
            route_to_service(st, svc, to);
            return;
        }
        /* A stanza for another domain passes the domain's clearance first
         * (ARCHITECTURE.md §6: the peer is a route like any other). */
        char text[300];
        bool is_presence = strcmp(stanza_name(st), "presence") == 0;
        if (security_peer_permits(to->domain, st, text, sizeof text) != 0) {
            if (!is_presence)
                router_bounce(st, "auth", "forbidden", text);
            stanza_unref(st);
            return;
        }
        /* RFC 6120 §10.4.3: no route to a domain we do not serve (S2S is a
         * later milestone): remote-server-not-found for message and IQ. */
        if (!is_presence)
            router_bounce(st, "cancel", "remote-server-not-found", NULL);
        stanza_unref(st);
        return;
    }
    if (!to->local) {
        host_stanza(st, h, to);
        stanza_unref(st);
        return;
    }
    char full[JID_STR_MAX], bare[JID_STR_MAX];
    jid_full(to, full, sizeof full);
    jid_bare(to, bare, sizeof bare);
    size_t flen = strlen(full) + 1, blen = strlen(bare) + 1;
    struct to_owner *m = malloc(sizeof *m + flen + blen);
    ALDIS_ASSERT(m != NULL);
    m->st = st;
    m->host = h;
    memcpy(m->to_buf, full, flen);
    m->bare = m->to_buf + flen;
    memcpy(m->bare, bare, blen);
    worker_post(worker_owner_of(bare), on_owner, m);
}

void router_route(struct stanza *st)
{
    struct jid to;
    const char *t = stanza_to(st);
    if (!t || jid_parse(t, &to) < 0) {
        stanza_freeze(st);
        if (t)
            router_bounce(st, "modify", "jid-malformed", NULL);
        else
            log_debug("router", "dropping a <%s/> without 'to'", stanza_name(st));
        stanza_unref(st);
        return;
    }
    router_route_to(st, &to);
}

void account_send(struct account *acct, struct resource *res, struct stanza *st)
{
    (void)acct;
    session_deliver_post(res->worker, res->session_id, stanza_freeze(st));
}

/* session.c - sessions on their worker: registry by id, delivery, binding
 * and unbinding through the account owner, and routing of client stanzas.
 * RFC 6120 §7 (binding) and §7.7.2.2 (resource conflicts: the newer
 * session wins and the older one gets a <conflict/> stream error). */
#include <openssl/rand.h>
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

static atomic_ullong next_session_id = 1;
static atomic_long alive;

long sessions_alive(void) { return atomic_load(&alive); }

static struct map *sessions(void) { return &worker_state(worker_current())->sessions; }

void session_register(struct session *s, const struct session_ops *ops)
{
    s->id = atomic_fetch_add(&next_session_id, 1);
    s->data = calloc(modules_count() ? modules_count() : 1, sizeof *s->data);
    ALDIS_ASSERT(s->data != NULL);
    s->worker = worker_id(worker_current());
    s->ops = ops;
    map_iput(sessions(), s->id, s);
    atomic_fetch_add(&alive, 1);
}

struct session *session_find(uint64_t id) { return map_iget(sessions(), id); }
void session_reply(struct session *s, struct stanza *st) { s->ops->deliver_raw(s, stanza_freeze(st)); }
const char *session_peer(const struct session *s) { return s->peer ? s->peer : "?"; }
bool session_encrypted(const struct session *s) { return s->encrypted; }
bool session_detached(const struct session *s) { return s->detached; }
void *session_data(struct session *s, const struct module *m) { return s->data[m->index]; }
void session_set_data(struct session *s, const struct module *m, void *d) { s->data[m->index] = d; }
const struct jid *session_jid(const struct session *s) { return s->jid; }

void session_set_account(struct session *s, const char *bare)
{
    free(s->bare);
    s->bare = strdup(bare);
    ALDIS_ASSERT(s->bare != NULL);
}
uint64_t session_id(const struct session *s) { return s->id; }

/* ---- unbind ---- */

struct unbind_msg {
    struct host *host;
    uint64_t sid;
    char resource[JID_PART_MAX + 1];
    char bare[];
};

static void unbind_on_account(struct account *acct, void *arg)
{
    struct unbind_msg *m = arg;
    struct resource *r = account_resource(acct, m->resource);
    if (r && r->session_id == m->sid)
        account_resource_remove(acct, r);
    free(m);
}

static void unbind_on_owner(struct worker *w, void *arg)
{
    (void)w;
    struct unbind_msg *m = arg;
    account_with(m->host, m->bare, unbind_on_account, m);
}

static void post_unbind(struct host *host, const char *bare, const char *resource, uint64_t sid)
{
    size_t len = strlen(bare) + 1;
    struct unbind_msg *m = malloc(sizeof *m + len);
    ALDIS_ASSERT(m != NULL);
    m->host = host;
    m->sid = sid;
    snprintf(m->resource, sizeof m->resource, "%s", resource);
    memcpy(m->bare, bare, len);
    worker_post(worker_owner_of(bare), unbind_on_owner, m);
}

void session_unbind_orphan(struct host *host, const char *bare, const char *resource, uint64_t sid)
{
    post_unbind(host, bare, resource, sid);
}

void session_unregister(struct session *s)
{
    struct hook_ctx hc = {.host = s->host, .sess = s};
    hooks_run(HOOK_SESSION_CLOSED, &hc);
    for (size_t i = 0; i < modules_count(); i++) {
        struct module *m = module_at(i);
        if (m->session_free && s->data[m->index])
            m->session_free(s);
    }
    if (s->bound) {
        post_unbind(s->host, s->bare, s->jid->resource, s->id);
        s->bound = false;
    }
    free(s->jid);
    free(s->bare);
    free(s->full);
    free(s->data);
    s->jid = NULL;
    s->bare = s->full = NULL;
    s->data = NULL;
    map_idel(sessions(), s->id);
    atomic_fetch_sub(&alive, 1);
}

/* ---- delivery ---- */

struct deliver_msg {
    uint64_t sid;
    struct stanza *st;
};

/* Sessions that moved to another worker (XEP-0198 resumption on a
 * connection accepted elsewhere): deliveries still addressed here are
 * passed on for a while, until the owner knows the new place. */
#define FORWARD_KEEP_MS 120000

struct forward {
    int worker;
    uint64_t since;
};

#define forwards (worker_state(worker_current())->forwards)

static void forwards_purge(uint64_t now)
{
    void *v;
    uint64_t id;
    for (size_t it = 0; map_inext(&forwards, &it, &id, &v);) {
        struct forward *f = v;
        if (now - f->since > FORWARD_KEEP_MS) {
            map_idel(&forwards, id);
            free(f);
        }
    }
}

void session_forget(struct session *s, int forward_to)
{
    uv_loop_t *loop = worker_loop(worker_current());
    forwards_purge(uv_now(loop));
    struct forward *f = malloc(sizeof *f);
    ALDIS_ASSERT(f != NULL);
    f->worker = forward_to;
    f->since = uv_now(loop);
    free(map_iget(&forwards, s->id));
    map_iput(&forwards, s->id, f);
    map_idel(sessions(), s->id);
    atomic_fetch_sub(&alive, 1);
}

int session_forwarded_to(uint64_t id)
{
    struct forward *f = map_iget(&forwards, id);
    return f ? f->worker : -1;
}

void session_adopt_id(struct session *s, uint64_t id)
{
    map_idel(sessions(), s->id);
    s->id = id;
    map_iput(sessions(), id, s);
    struct forward *f = map_idel(&forwards, id);
    free(f);
}

void sessions_forwards_free(void)
{
    void *v;
    for (size_t it = 0; map_inext(&forwards, &it, NULL, &v);)
        free(v);
    map_free(&forwards);
    map_init(&forwards, 1);
}

static void deliver_on_worker(struct worker *w, void *arg)
{
    (void)w;
    struct deliver_msg *m = arg;
    struct session *s = session_find(m->sid);
    if (s) {
        struct hook_ctx hc = {.host = s->host, .sess = s, .st = m->st};
        /* Last defence (ARCHITECTURE.md §6): nothing reaches a client its
         * clearance does not permit, whatever path built the stanza. */
        if (security_session_deliver(s, m->st) == 0 &&
            hooks_run(HOOK_SESSION_DELIVER, &hc) != HOOK_DONE)
            s->ops->deliver(s, m->st);
    } else {
        struct forward *f = map_iget(&forwards, m->sid);
        if (f) {
            worker_post(f->worker, deliver_on_worker, m);
            return;
        }
        /* The session ended after the owner chose it (its unbind was posted
         * from here first, so the owner no longer has the resource): route
         * the stanza again, so a message goes to another resource or to
         * offline storage per RFC 6121 §8.5 instead of being lost. */
        const char *type = stanza_type(m->st);
        if (strcmp(stanza_name(m->st), "message") == 0 && !(type && strcmp(type, "error") == 0))
            router_route(stanza_ref(m->st));
    }
    stanza_unref(m->st);
    free(m);
}

void session_deliver_post(int worker, uint64_t id, struct stanza *st)
{
    struct deliver_msg *m = malloc(sizeof *m);
    ALDIS_ASSERT(m != NULL);
    m->sid = id;
    m->st = stanza_freeze(st);
    worker_post(worker, deliver_on_worker, m);
}

struct post_msg {
    uint64_t sid;
    void (*fn)(struct session *s, void *arg);
    void *arg;
    void (*free_arg)(void *arg);
};

static void post_on_worker(struct worker *w, void *arg)
{
    (void)w;
    struct post_msg *m = arg;
    struct session *s = session_find(m->sid);
    if (s)
        m->fn(s, m->arg);
    if (m->free_arg)
        m->free_arg(m->arg);
    free(m);
}

void session_post(int worker, uint64_t sid, void (*fn)(struct session *, void *), void *arg,
                  void (*free_arg)(void *))
{
    struct post_msg *m = malloc(sizeof *m);
    ALDIS_ASSERT(m != NULL);
    *m = (struct post_msg){sid, fn, arg, free_arg};
    worker_post(worker, post_on_worker, m);
}

/* ---- moving a bound session to another worker ---- */

struct move_msg {
    struct host *host;
    uint64_t sid;
    int worker;
    char resource[JID_PART_MAX + 1];
    char bare[];
};

static void move_on_account(struct account *acct, void *arg)
{
    struct move_msg *m = arg;
    struct resource *r = account_resource(acct, m->resource);
    if (r && r->session_id == m->sid)
        r->worker = m->worker;
    free(m);
}

static void move_on_owner(struct worker *w, void *arg)
{
    (void)w;
    struct move_msg *m = arg;
    account_with(m->host, m->bare, move_on_account, m);
}

void session_moved(struct session *s)
{
    size_t len = strlen(s->bare) + 1;
    struct move_msg *m = malloc(sizeof *m + len);
    ALDIS_ASSERT(m != NULL);
    m->host = s->host;
    m->sid = s->id;
    m->worker = s->worker;
    snprintf(m->resource, sizeof m->resource, "%s", s->jid->resource);
    memcpy(m->bare, s->bare, len);
    worker_post(worker_owner_of(s->bare), move_on_owner, m);
}

/* ---- binding ---- */

struct bind_msg {
    struct host *host;
    uint64_t sid;
    int worker;
    void (*done)(struct session *s, int err, const char *condition);
    int err;
    const char *condition;
    char resource[JID_PART_MAX + 1];
    char bare[JID_STR_MAX];
};

static void close_conflict(struct session *s, void *arg)
{
    (void)arg;
    s->bound = false; /* the owner already removed the resource */
    s->ops->close(s, "conflict", "replaced by a new session with the same resource");
}

static void bind_reply(struct worker *w, void *arg)
{
    (void)w;
    struct bind_msg *m = arg;
    struct session *s = session_find(m->sid);
    if (s) {
        struct jid bare, full;
        if (m->err == 0 && (jid_parse(m->bare, &bare) < 0 ||
                            jid_from_parts(bare.local, bare.domain, m->resource, &full) < 0)) {
            m->err = ALDIS_EINVAL;
            m->condition = "internal-server-error";
        }
        if (m->err == 0) {
            char buf[JID_STR_MAX];
            s->bound = true;
            free(s->jid);
            free(s->full);
            s->jid = jid_dup(&full);
            s->full = strdup(jid_full(&full, buf, sizeof buf));
            ALDIS_ASSERT(s->jid && s->full);
        }
        m->done(s, m->err, m->condition);
    } else if (m->err == 0) {
        /* the session went away while binding: undo at the owner */
        size_t len = strlen(m->bare) + 1;
        struct unbind_msg *u = malloc(sizeof *u + len);
        ALDIS_ASSERT(u != NULL);
        u->host = m->host;
        u->sid = m->sid;
        snprintf(u->resource, sizeof u->resource, "%s", m->resource);
        memcpy(u->bare, m->bare, len);
        worker_post(worker_owner_of(m->bare), unbind_on_owner, u);
    }
    free(m);
}

static void bind_on_account(struct account *acct, void *arg)
{
    struct bind_msg *m = arg;
    unsigned max = acct->host->config->max_sessions_per_user;
    if (!acct->exists) {
        m->err = ALDIS_EAUTH;
        m->condition = "not-authorized";
        goto reply;
    }
    struct resource *old = account_resource(acct, m->resource);
    size_t n = 0;
    for (struct resource *r = acct->resources; r; r = r->next)
        n++;
    if (!old && max && n >= max) {
        /* RFC 6120 §7.6.2.1 */
        m->err = ALDIS_ELIMIT;
        m->condition = "resource-constraint";
        goto reply;
    }
    if (old) {
        log_info("c2s", "%s/%s: resource conflict, replacing the older session", acct->bare,
                 m->resource);
        session_post(old->worker, old->session_id, close_conflict, NULL, NULL);
        account_resource_remove(acct, old);
    }
    account_resource_add(acct, m->resource, m->worker, m->sid);
reply:
    worker_post(m->worker, bind_reply, m);
}

static void bind_on_owner(struct worker *w, void *arg)
{
    (void)w;
    struct bind_msg *m = arg;
    account_with(m->host, m->bare, bind_on_account, m);
}

void session_bind(struct session *s, const char *resource,
                  void (*done)(struct session *s, int err, const char *condition))
{
    struct bind_msg *m = calloc(1, sizeof *m);
    ALDIS_ASSERT(m != NULL);
    m->host = s->host;
    m->sid = s->id;
    m->worker = s->worker;
    m->done = done;
    snprintf(m->bare, sizeof m->bare, "%s", s->bare);
    if (resource) {
        snprintf(m->resource, sizeof m->resource, "%s", resource);
    } else {
        /* RFC 6120 §7.6.2.1: a server-generated resource must be unique;
         * 60 random bits make a collision negligible. */
        unsigned char rnd[12];
        RAND_bytes(rnd, sizeof rnd);
        static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
        memcpy(m->resource, "aldis-", 6);
        for (size_t i = 0; i < 12; i++)
            m->resource[6 + i] = b32[rnd[i] & 31];
        m->resource[18] = '\0';
    }
    worker_post(worker_owner_of(s->bare), bind_on_owner, m);
}

/* ---- routing client stanzas ---- */

struct outbound_msg {
    struct host *host;
    struct stanza *st;
    uint64_t sid;
    char resource[JID_PART_MAX + 1];
    char bare[];
};

/* Presence (always) and messages (when a module wants them) go through the
 * sender's owner first: subscriptions, broadcasts, carbons and the sender's
 * archive live there. */
static void outbound_on_account(struct account *acct, void *arg)
{
    struct outbound_msg *m = arg;
    struct resource *r = account_resource(acct, m->resource);
    bool presence = strcmp(stanza_name(m->st), "presence") == 0;
    if (r && r->session_id == m->sid) {
        struct jid from, to;
        jid_parse(stanza_from(m->st), &from);
        const char *t = stanza_to(m->st);
        bool has_to = t && jid_parse(t, &to) == 0;
        struct hook_ctx hc = {.host = acct->host, .acct = acct, .res = r, .st = m->st,
                              .from = &from, .to = has_to ? &to : NULL};
        if (presence) {
            hooks_run(HOOK_PRESENCE_OUT, &hc);
        } else if (hooks_run(HOOK_MESSAGE_OUT, &hc) != HOOK_DONE) {
            /* route what the hooks left (maybe a stamped copy) */
            struct stanza *out = hc.st == m->st ? m->st : (stanza_unref(m->st), hc.st);
            if (has_to) {
                router_route_to(out, &to);
            } else {
                /* RFC 6120 §10.3: no 'to' means the user's own bare JID */
                struct jid bare;
                jid_from_parts(from.local, from.domain, NULL, &bare);
                router_route_to(out, &bare);
            }
            free(m);
            return;
        } else if (hc.st != m->st) {
            stanza_unref(hc.st);
        }
    }
    stanza_unref(m->st);
    free(m);
}

static void outbound_on_owner(struct worker *w, void *arg)
{
    (void)w;
    struct outbound_msg *m = arg;
    account_with(m->host, m->bare, outbound_on_account, m);
}

void session_route(struct session *s, struct stanza *st)
{
    /* A client may only send labels its clearance permits (ARCHITECTURE.md §6). */
    if (security_session_send(s, st) != 0) {
        stanza_unref(st);
        return;
    }
    struct hook_ctx hc = {.host = s->host, .sess = s, .st = st, .from = s->jid};
    if (hooks_run(HOOK_SESSION_OUT, &hc) == HOOK_DONE) {
        stanza_unref(st);
        return;
    }
    const char *name = stanza_name(st);
    if (strcmp(name, "presence") == 0 ||
        (strcmp(name, "message") == 0 && hooks_any(HOOK_MESSAGE_OUT))) {
        size_t len = strlen(s->bare) + 1;
        struct outbound_msg *m = malloc(sizeof *m + len);
        ALDIS_ASSERT(m != NULL);
        m->host = s->host;
        m->st = stanza_freeze(st);
        m->sid = s->id;
        snprintf(m->resource, sizeof m->resource, "%s", s->jid->resource);
        memcpy(m->bare, s->bare, len);
        worker_post(worker_owner_of(s->bare), outbound_on_owner, m);
        return;
    }
    if (!stanza_to(st)) {
        /* RFC 6120 §10.3: no 'to' means the user's own bare JID */
        struct jid bare;
        jid_from_parts(s->jid->local, s->jid->domain, NULL, &bare);
        router_route_to(st, &bare);
        return;
    }
    router_route(st);
}

void session_close(struct session *s, const char *condition, const char *text)
{
    s->ops->close(s, condition, text);
}

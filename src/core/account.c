/* account.c - per-bare-JID state on its owner worker: loading (each module's
 * account_load, with stanzas queued until all are done), resources, holds,
 * and unloading idle accounts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "core/account.h"
#include "core/modules.h"
#include "core/worker_internal.h"

#define ACCOUNT_IDLE_MS 60000
#define SWEEP_MS 30000

struct waiter {
    struct waiter *next;
    void (*fn)(struct account *acct, void *arg);
    void *arg;
};

struct account_core {
    struct account pub; /* first: a struct account* is a struct account_core* */
    int loading;        /* module loads outstanding (+1 for the user lookup) */
    struct waiter *waiting, *waiting_tail;
    int holds;
    uint64_t idle_since;
};

static struct map *accounts(void) { return &worker_state(worker_current())->accounts; }

static void account_ready(struct account_core *ac)
{
    struct waiter *w = ac->waiting;
    ac->waiting = ac->waiting_tail = NULL;
    ac->holds++;
    while (w) {
        struct waiter *next = w->next;
        w->fn(&ac->pub, w->arg);
        free(w);
        w = next;
    }
    ac->holds--;
    ac->idle_since = uv_now(worker_loop(worker_current()));
}

static void load_step_done(struct account *acct)
{
    struct account_core *ac = (struct account_core *)acct;
    if (--ac->loading > 0)
        return;
    struct hook_ctx ctx = {.event = HOOK_ACCOUNT_LOADED, .host = acct->host, .acct = acct};
    hooks_run(ctx.event, &ctx);
    account_ready(ac);
}

static void user_looked_up(void *ud, int err, const struct scram_keys *k)
{
    (void)k;
    struct account_core *ac = ud;
    ac->pub.exists = err == 0;
    if (err && err != ALDIS_ENOTFOUND)
        log_warn("account", "%s: user lookup failed: %s", ac->pub.bare, aldis_strerror(err));
    /* modules load only for registered users */
    if (ac->pub.exists)
        for (size_t i = 0; i < modules_count(); i++) {
            struct module *m = module_at(i);
            if (m->account_load && host_module_enabled(ac->pub.host, m)) {
                ac->loading++;
                m->account_load(&ac->pub, load_step_done);
            }
        }
    load_step_done(&ac->pub);
}

void account_with(struct host *h, const char *bare, void (*fn)(struct account *, void *), void *arg)
{
    struct account_core *ac = map_get(accounts(), bare);
    if (ac && !ac->loading) {
        ac->holds++;
        fn(&ac->pub, arg);
        ac->holds--;
        ac->idle_since = uv_now(worker_loop(worker_current()));
        return;
    }
    struct waiter *w = malloc(sizeof *w);
    ALDIS_ASSERT(w != NULL);
    w->next = NULL;
    w->fn = fn;
    w->arg = arg;
    if (ac) {
        ac->waiting_tail->next = w;
        ac->waiting_tail = w;
        return;
    }
    ac = calloc(1, sizeof *ac);
    ALDIS_ASSERT(ac != NULL);
    ac->pub.data = calloc(modules_count() ? modules_count() : 1, sizeof *ac->pub.data);
    ALDIS_ASSERT(ac->pub.data != NULL);
    ac->pub.bare = strdup(bare);
    const char *at = strchr(bare, '@');
    ac->pub.user = strndup(bare, at ? (size_t)(at - bare) : 0);
    ac->pub.host = h;
    ac->loading = 1;
    ac->waiting = ac->waiting_tail = w;
    map_put(accounts(), bare, ac);
    store_user_get(h->domain, ac->pub.user, user_looked_up, ac);
}

void account_hold(struct account *acct) { ((struct account_core *)acct)->holds++; }

void account_release(struct account *acct)
{
    struct account_core *ac = (struct account_core *)acct;
    ALDIS_ASSERT(ac->holds > 0);
    ac->holds--;
    ac->idle_since = uv_now(worker_loop(worker_current()));
}

struct resource *account_resource(struct account *acct, const char *name)
{
    for (struct resource *r = acct->resources; r; r = r->next)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

struct resource *account_resource_add(struct account *acct, const char *name, int worker,
                                      uint64_t session_id)
{
    struct resource *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->data = calloc(modules_count() ? modules_count() : 1, sizeof *r->data);
    ALDIS_ASSERT(r->data != NULL);
    r->name = strdup(name);
    size_t len = strlen(acct->bare) + strlen(name) + 2;
    r->full = malloc(len);
    ALDIS_ASSERT(r->name && r->full);
    snprintf(r->full, len, "%s/%s", acct->bare, name);
    r->worker = worker;
    r->session_id = session_id;
    r->next = acct->resources;
    acct->resources = r;
    struct hook_ctx ctx = {.event = HOOK_RESOURCE_BOUND, .host = acct->host, .acct = acct, .res = r};
    hooks_run(ctx.event, &ctx);
    return r;
}

void account_resource_remove(struct account *acct, struct resource *res)
{
    struct hook_ctx ctx = {.event = HOOK_RESOURCE_UNBOUND, .host = acct->host, .acct = acct, .res = res};
    hooks_run(ctx.event, &ctx);
    for (struct resource **pp = &acct->resources; *pp; pp = &(*pp)->next)
        if (*pp == res) {
            *pp = res->next;
            break;
        }
    for (size_t i = 0; i < modules_count(); i++) {
        struct module *m = module_at(i);
        if (m->resource_free && res->data[m->index])
            m->resource_free(acct, res);
    }
    stanza_unref(res->presence);
    free(res->name);
    free(res->full);
    free(res->data);
    free(res);
    ((struct account_core *)acct)->idle_since = uv_now(worker_loop(worker_current()));
}

static void account_free(struct account_core *ac)
{
    while (ac->pub.resources) {
        struct resource *r = ac->pub.resources;
        ac->pub.resources = r->next;
        for (size_t i = 0; i < modules_count(); i++) {
            struct module *m = module_at(i);
            if (m->resource_free && r->data[m->index])
                m->resource_free(&ac->pub, r);
        }
        stanza_unref(r->presence);
        free(r->name);
        free(r->full);
        free(r->data);
        free(r);
    }
    for (size_t i = 0; i < modules_count(); i++) {
        struct module *m = module_at(i);
        if (m->account_free && ac->pub.data[m->index])
            m->account_free(&ac->pub);
    }
    free(ac->pub.bare);
    free(ac->pub.user);
    free(ac->pub.data);
    free(ac);
}

static void sweep(uv_timer_t *t)
{
    (void)t;
    struct map *m = accounts();
    uint64_t now = uv_now(worker_loop(worker_current()));
    const char *key;
    void *val;
    for (size_t it = 0; map_next(m, &it, &key, &val);) {
        struct account_core *ac = val;
        if (ac->pub.resources || ac->holds || ac->loading || ac->waiting ||
            now - ac->idle_since < ACCOUNT_IDLE_MS)
            continue;
        map_del(m, key);
        account_free(ac);
    }
}

void accounts_init_worker(uv_loop_t *loop)
{
    uv_timer_t *t = &worker_state(worker_current())->sweep;
    uv_timer_init(loop, t);
    uv_timer_start(t, sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)t);
}

void accounts_free_worker(void)
{
    struct map *m = accounts();
    void *val;
    for (size_t it = 0; map_next(m, &it, NULL, &val);) {
        struct account_core *ac = val;
        struct waiter *w = ac->waiting;
        while (w) {
            struct waiter *next = w->next;
            free(w);
            w = next;
        }
        account_free(ac);
    }
    map_free(m);
    map_init(m, 0);
}

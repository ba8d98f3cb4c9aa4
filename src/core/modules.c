/* modules.c - the module registry: indexes the compiled-in modules, builds
 * per-event hook lists sorted by priority, finds IQ handlers, and holds the
 * served hosts. The core knows no XEP; this file only dispatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/modules.h"

struct hook_entry {
    int priority;
    hook_fn fn;
    struct module *mod;
};

static struct hook_entry *hooks[HOOK_COUNT];
static size_t nhooks[HOOK_COUNT];
static size_t nmodules;
static struct host hosts[CONFIG_MAX_HOSTS];
static size_t nhosts;
static int64_t started_at;
static struct service *services;
static size_t nservices;

struct service *service_find(const char *domain)
{
    if (!domain)
        return NULL;
    for (size_t i = 0; i < nservices; i++)
        if (strcmp(services[i].domain, domain) == 0)
            return &services[i];
    return NULL;
}

void services_foreach(const struct host *h, void (*fn)(struct service *, void *), void *ud)
{
    for (size_t i = 0; i < nservices; i++)
        if (!h || services[i].host == h)
            fn(&services[i], ud);
}

static void services_free(void)
{
    for (size_t i = 0; i < nservices; i++)
        free((char *)services[i].domain);
    free(services);
    services = NULL;
    nservices = 0;
}

/* One service per (host, enabled module with a service_subdomain). */
static int services_build(const struct config *cfg, char *err, size_t errlen)
{
    services_free();
    for (size_t h = 0; h < nhosts; h++)
        for (size_t i = 0; i < nmodules; i++) {
            struct module *m = modules_builtin[i];
            if (!m->service_subdomain || !m->service_stanza || !hosts[h].enabled[i])
                continue;
            const char *label = config_module_str(cfg, m->name, "service_domain", NULL);
            char domain[JID_PART_MAX + 1], prepped[JID_PART_MAX + 1];
            if (label)
                snprintf(domain, sizeof domain, "%s", label);
            else
                snprintf(domain, sizeof domain, "%s.%s", m->service_subdomain, hosts[h].domain);
            if (jid_domainprep(domain, prepped) < 0 || host_find(prepped) || service_find(prepped)) {
                snprintf(err, errlen, "%s: module %s: service domain '%s' is invalid or already "
                         "used (set modules.%s.service_domain)", cfg->path, m->name, domain, m->name);
                return ALDIS_ECONFIG;
            }
            struct service *n = realloc(services, (nservices + 1) * sizeof *n);
            ALDIS_ASSERT(n != NULL);
            services = n;
            services[nservices++] = (struct service){strdup(prepped), &hosts[h], m};
        }
    return 0;
}

int64_t server_start_time(void) { return started_at; }

size_t modules_count(void) { return nmodules; }
struct module *module_at(size_t i) { return i < nmodules ? modules_builtin[i] : NULL; }
size_t hosts_count(void) { return nhosts; }
struct host *host_at(size_t i) { return i < nhosts ? &hosts[i] : NULL; }

struct module *module_find(const char *name)
{
    for (size_t i = 0; i < nmodules; i++)
        if (strcmp(modules_builtin[i]->name, name) == 0)
            return modules_builtin[i];
    return NULL;
}

struct host *host_find(const char *domain)
{
    if (!domain)
        return NULL;
    for (size_t i = 0; i < nhosts; i++)
        if (strcmp(hosts[i].domain, domain) == 0)
            return &hosts[i];
    return NULL;
}

bool host_module_enabled(const struct host *h, const struct module *m)
{
    return h && m && h->enabled[m->index];
}

static int cmp_hook(const void *a, const void *b)
{
    const struct hook_entry *x = a, *y = b;
    return (y->priority > x->priority) - (y->priority < x->priority);
}

int modules_start(const struct config *cfg, char *err, size_t errlen)
{
    started_at = (int64_t)time(NULL);
    nmodules = 0;
    while (modules_builtin[nmodules])
        nmodules++;
    ALDIS_ASSERT(nmodules <= CONFIG_MAX_MODULES);
    for (size_t i = 0; i < nmodules; i++)
        modules_builtin[i]->index = (int)i;

    nhosts = cfg->nhosts;
    for (size_t i = 0; i < nhosts; i++) {
        const struct host_config *hc = &cfg->hosts[i];
        struct host *h = &hosts[i];
        memset(h, 0, sizeof *h);
        h->domain = hc->domain;
        h->cfg = hc;
        h->config = cfg;
        if (hc->nmodules == 0) {
            for (size_t m = 0; m < nmodules; m++)
                h->enabled[m] = true;
            continue;
        }
        for (size_t k = 0; k < hc->nmodules; k++) {
            struct module *m = module_find(hc->modules[k]);
            if (!m) {
                snprintf(err, errlen, "%s: host %s: unknown module '%s' (known:", cfg->path,
                         hc->domain, hc->modules[k]);
                for (size_t j = 0; j < nmodules; j++) {
                    size_t l = strlen(err);
                    snprintf(err + l, errlen - l, " %s", modules_builtin[j]->name);
                }
                size_t l = strlen(err);
                snprintf(err + l, errlen - l, ")");
                return ALDIS_ECONFIG;
            }
            h->enabled[m->index] = true;
        }
    }

    for (int e = 0; e < HOOK_COUNT; e++) {
        free(hooks[e]);
        hooks[e] = NULL;
        nhooks[e] = 0;
    }
    for (size_t i = 0; i < nmodules; i++) {
        struct module *m = modules_builtin[i];
        for (const struct hook_row *r = m->hooks; r && r->fn; r++) {
            ALDIS_ASSERT(r->event < HOOK_COUNT);
            struct hook_entry *n = realloc(hooks[r->event], (nhooks[r->event] + 1) * sizeof *n);
            ALDIS_ASSERT(n != NULL);
            hooks[r->event] = n;
            n[nhooks[r->event]++] = (struct hook_entry){r->priority, r->fn, m};
        }
    }
    for (int e = 0; e < HOOK_COUNT; e++)
        if (nhooks[e] > 1)
            qsort(hooks[e], nhooks[e], sizeof *hooks[e], cmp_hook);

    if (services_build(cfg, err, errlen) < 0)
        return ALDIS_ECONFIG;
    for (size_t i = 0; i < nmodules; i++) {
        struct module *m = modules_builtin[i];
        if (m->init && m->init(cfg, err, errlen) < 0) {
            if (!err[0])
                snprintf(err, errlen, "module %s failed to start", m->name);
            return ALDIS_ECONFIG;
        }
    }
    return config_check_unused(cfg, err, errlen);
}

bool modules_worker_stopping(void)
{
    bool spoke = false;
    for (size_t i = 0; i < nmodules; i++)
        if (modules_builtin[i]->worker_stopping && modules_builtin[i]->worker_stopping())
            spoke = true;
    return spoke;
}

void modules_stop(void)
{
    services_free();
    for (size_t i = 0; i < nmodules; i++)
        if (modules_builtin[i]->shutdown)
            modules_builtin[i]->shutdown();
    for (int e = 0; e < HOOK_COUNT; e++) {
        free(hooks[e]);
        hooks[e] = NULL;
        nhooks[e] = 0;
    }
}

bool hooks_any(enum hook_event event) { return event < HOOK_COUNT && nhooks[event] > 0; }

int hooks_run(enum hook_event event, struct hook_ctx *ctx)
{
    ALDIS_ASSERT(event < HOOK_COUNT);
    ctx->event = event;
    /* A hook may replace ctx->st with its own stanza (module.h). When a
     * later hook replaces it again, the intermediate one is released here;
     * the caller releases the last one if it differs from the original. */
    struct stanza *orig = ctx->st;
    struct hook_entry *list = hooks[event];
    for (size_t i = 0; i < nhooks[event]; i++) {
        if (ctx->host && !ctx->host->enabled[list[i].mod->index])
            continue;
        struct stanza *before = ctx->st;
        int r = list[i].fn(ctx);
        if (ctx->st != before && before != orig)
            stanza_unref(before);
        if (r == HOOK_DONE)
            return HOOK_DONE;
    }
    return HOOK_PASS;
}

const struct iq_handler *iq_handler_find(const struct host *h, enum iq_target target,
                                         enum iq_kind kind, const struct xml_node *payload)
{
    if (!payload)
        return NULL;
    for (size_t i = 0; i < nmodules; i++) {
        struct module *m = modules_builtin[i];
        if (h && !h->enabled[m->index])
            continue;
        for (const struct iq_handler *r = m->iq_handlers; r && r->fn; r++)
            if (r->target == target && (r->kinds & kind) && strcmp(r->ns, payload->ns) == 0 &&
                (!r->name || strcmp(r->name, payload->name) == 0))
                return r;
    }
    return NULL;
}

enum feature_kind { FEATURES_HOST, FEATURES_ACCOUNT, FEATURES_STREAM, FEATURES_PREAUTH, IDENTITIES_ACCOUNT };

static void features_of(const struct host *h, enum feature_kind kind,
                        void (*each)(const char *feature, void *ud), void *ud)
{
    for (size_t i = 0; i < nmodules; i++) {
        struct module *m = modules_builtin[i];
        if (h && !h->enabled[m->index])
            continue;
        const char *const *f = kind == FEATURES_ACCOUNT     ? m->account_features
                               : kind == FEATURES_STREAM    ? m->stream_features
                               : kind == FEATURES_PREAUTH   ? m->preauth_features
                               : kind == IDENTITIES_ACCOUNT ? m->account_identities
                                                            : m->host_features;
        for (; f && *f; f++)
            each(*f, ud);
    }
}

void modules_host_features(const struct host *h, void (*each)(const char *, void *), void *ud)
{
    features_of(h, FEATURES_HOST, each, ud);
}

void modules_account_features(const struct host *h, void (*each)(const char *, void *), void *ud)
{
    features_of(h, FEATURES_ACCOUNT, each, ud);
}

void modules_stream_features(const struct host *h, void (*each)(const char *, void *), void *ud)
{
    features_of(h, FEATURES_STREAM, each, ud);
}

void modules_account_identities(const struct host *h, void (*each)(const char *, void *), void *ud)
{
    features_of(h, IDENTITIES_ACCOUNT, each, ud);
}

void modules_preauth_features(const struct host *h, void (*each)(const char *, void *), void *ud)
{
    features_of(h, FEATURES_PREAUTH, each, ud);
}

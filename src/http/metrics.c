/* metrics.c - the counters behind /metrics and their Prometheus text
 * exposition (https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Slots are per worker and written only by their worker; the scrape reads
 * every slot with relaxed atomic loads (a scrape may see a counter one
 * increment old, never a torn value). */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aldis/error.h"
#include "aldis/worker.h"
#include "http/http_internal.h"
#include "http/metrics.h"

#define METRICS_MAX_WORKERS 256
#define HIST_BUCKETS 12

/* histogram upper bounds in seconds (Prometheus "le"), as nanoseconds */
static const uint64_t hist_le_ns[HIST_BUCKETS] = {
    10000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
    50000000, 250000000, 1000000000,
};
static const char *const hist_le[HIST_BUCKETS] = {
    "1e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.05", "0.25", "1",
};

struct hist {
    _Atomic uint64_t bucket[HIST_BUCKETS]; /* non-cumulative; summed at scrape */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
};

enum { ST_MESSAGE, ST_PRESENCE, ST_IQ, ST_OTHER, ST_KINDS };
static const char *const stanza_kinds[ST_KINDS] = {"message", "presence", "iq", "other"};
static const char *const transports[MT_TRANSPORTS] = {"tcp", "websocket", "bosh"};

enum { HS_2XX, HS_3XX, HS_4XX, HS_5XX, HS_KINDS };
static const char *const status_classes[HS_KINDS] = {"2xx", "3xx", "4xx", "5xx"};

struct slot {
    _Atomic int64_t sessions[MT_TRANSPORTS];
    _Atomic uint64_t sessions_total[MT_TRANSPORTS];
    _Atomic uint64_t stanzas[2][ST_KINDS];
    _Atomic uint64_t auth_failures;
    _Atomic uint64_t tls_handshakes;
    _Atomic uint64_t http_requests[HS_KINDS];
    struct hist routing, store;
    char pad[64]; /* keep neighbouring workers off one cache line */
};

static struct slot slots[METRICS_MAX_WORKERS];

static struct slot *my_slot(void)
{
    int id = worker_id(worker_current());
    return id >= 0 && id < METRICS_MAX_WORKERS ? &slots[id] : NULL;
}

/* single writer: a relaxed load and store is a plain increment */
#define BUMP(field, by)                                                                            \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (by),   \
                          memory_order_relaxed)
#define READ(field) atomic_load_explicit(&(field), memory_order_relaxed)

void metrics_session(enum metric_transport t, int delta)
{
    struct slot *s = my_slot();
    if (!s || t >= MT_TRANSPORTS)
        return;
    BUMP(s->sessions[t], delta);
    if (delta > 0)
        BUMP(s->sessions_total[t], (uint64_t)delta);
}

void metrics_stanza(enum metric_dir d, const char *name)
{
    struct slot *s = my_slot();
    if (!s)
        return;
    int k = ST_OTHER;
    if (name && name[0] == 'm' && strcmp(name, "message") == 0)
        k = ST_MESSAGE;
    else if (name && name[0] == 'p' && strcmp(name, "presence") == 0)
        k = ST_PRESENCE;
    else if (name && name[0] == 'i' && strcmp(name, "iq") == 0)
        k = ST_IQ;
    BUMP(s->stanzas[d == MD_OUT][k], 1);
}

void metrics_auth_failure(void)
{
    struct slot *s = my_slot();
    if (s)
        BUMP(s->auth_failures, 1);
}

void metrics_tls_handshake(void)
{
    struct slot *s = my_slot();
    if (s)
        BUMP(s->tls_handshakes, 1);
}

static void hist_observe(struct hist *h, uint64_t ns)
{
    int b = 0;
    while (b < HIST_BUCKETS && ns > hist_le_ns[b])
        b++;
    if (b < HIST_BUCKETS)
        BUMP(h->bucket[b], 1);
    BUMP(h->count, 1);
    BUMP(h->sum_ns, ns);
}

void metrics_routing_latency(uint64_t ns)
{
    struct slot *s = my_slot();
    if (s)
        hist_observe(&s->routing, ns);
}

void metrics_store_latency(uint64_t ns)
{
    struct slot *s = my_slot();
    if (s)
        hist_observe(&s->store, ns);
}

void metrics_http_request(int status)
{
    struct slot *s = my_slot();
    if (!s || status < 200 || status > 599)
        return;
    BUMP(s->http_requests[status / 100 - 2], 1);
}

/* ---- exposition ---- */

static void hist_write(struct buf *b, const char *name, const char *help, size_t off)
{
    uint64_t bucket[HIST_BUCKETS] = {0}, count = 0, sum = 0;
    int n = worker_count() < METRICS_MAX_WORKERS ? worker_count() : METRICS_MAX_WORKERS;
    for (int w = 0; w < n; w++) {
        struct hist *h = (struct hist *)((char *)&slots[w] + off);
        for (int i = 0; i < HIST_BUCKETS; i++)
            bucket[i] += READ(h->bucket[i]);
        count += READ(h->count);
        sum += READ(h->sum_ns);
    }
    buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        cum += bucket[i];
        buf_printf(b, "%s_bucket{le=\"%s\"} %llu\n", name, hist_le[i], (unsigned long long)cum);
    }
    buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n", name,
               (unsigned long long)count, name, (double)sum / 1e9, name, (unsigned long long)count);
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

static void metrics_render(struct buf *b)
{
    int n = worker_count() < METRICS_MAX_WORKERS ? worker_count() : METRICS_MAX_WORKERS;
    buf_adds(b, "# HELP aldis_sessions Client sessions open now, by transport.\n"
                "# TYPE aldis_sessions gauge\n");
    for (int t = 0; t < MT_TRANSPORTS; t++) {
        int64_t v = 0;
        for (int w = 0; w < n; w++)
            v += READ(slots[w].sessions[t]);
        buf_printf(b, "aldis_sessions{transport=\"%s\"} %lld\n", transports[t], (long long)v);
    }
    buf_adds(b, "# HELP aldis_sessions_opened_total Client sessions opened, by transport.\n"
                "# TYPE aldis_sessions_opened_total counter\n");
    for (int t = 0; t < MT_TRANSPORTS; t++) {
        uint64_t v = 0;
        for (int w = 0; w < n; w++)
            v += READ(slots[w].sessions_total[t]);
        buf_printf(b, "aldis_sessions_opened_total{transport=\"%s\"} %llu\n", transports[t],
                   (unsigned long long)v);
    }
    buf_adds(b, "# HELP aldis_stanzas_total Stanzas from and to clients, by direction and kind.\n"
                "# TYPE aldis_stanzas_total counter\n");
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < ST_KINDS; k++) {
            uint64_t v = 0;
            for (int w = 0; w < n; w++)
                v += READ(slots[w].stanzas[d][k]);
            buf_printf(b, "aldis_stanzas_total{direction=\"%s\",type=\"%s\"} %llu\n",
                       d ? "out" : "in", stanza_kinds[k], (unsigned long long)v);
        }
    uint64_t af = 0, tls = 0, hr[HS_KINDS] = {0};
    for (int w = 0; w < n; w++) {
        af += READ(slots[w].auth_failures);
        tls += READ(slots[w].tls_handshakes);
        for (int i = 0; i < HS_KINDS; i++)
            hr[i] += READ(slots[w].http_requests[i]);
    }
    buf_printf(b, "# HELP aldis_auth_failures_total Failed SASL authentications.\n"
                  "# TYPE aldis_auth_failures_total counter\naldis_auth_failures_total %llu\n",
               (unsigned long long)af);
    buf_printf(b, "# HELP aldis_tls_handshakes_total Completed TLS handshakes on XMPP ports.\n"
                  "# TYPE aldis_tls_handshakes_total counter\naldis_tls_handshakes_total %llu\n",
               (unsigned long long)tls);
    buf_adds(b, "# HELP aldis_http_responses_total HTTP responses, by status class.\n"
                "# TYPE aldis_http_responses_total counter\n");
    for (int i = 0; i < HS_KINDS; i++)
        buf_printf(b, "aldis_http_responses_total{code=\"%s\"} %llu\n", status_classes[i],
                   (unsigned long long)hr[i]);
    hist_write(b, "aldis_routing_latency_seconds",
               "Time from a stanza's arrival to its delivery to a local session.",
               offsetof(struct slot, routing));
    hist_write(b, "aldis_store_latency_seconds", "Time from a store request to its answer.",
               offsetof(struct slot, store));
    buf_printf(b, "# HELP aldis_resident_memory_bytes Resident set size of the process.\n"
                  "# TYPE aldis_resident_memory_bytes gauge\naldis_resident_memory_bytes %ld\n",
               rss_bytes());
    buf_printf(b, "# HELP aldis_workers Worker threads.\n# TYPE aldis_workers gauge\n"
                  "aldis_workers %d\n", worker_count());
}

/* Constant-time comparison: the token is a secret. */
static bool token_ok(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = gl != wl;
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(given[i < gl ? i : 0] ^ want[i]);
    return diff == 0;
}

int http_metrics(struct lws *wsi, bool head)
{
    const char *token = http_cfg->http_metrics_token;
    if (token && *token) {
        char auth[512] = "";
        lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
        if (strncmp(auth, "Bearer ", 7) != 0 || !token_ok(auth + 7, token)) {
            static const char *const h[] = {"www-authenticate:", "Bearer realm=\"metrics\"", NULL};
            return http_respond(wsi, 401, "text/plain; charset=utf-8", h, "401 Unauthorized\n",
                                17);
        }
    }
    (void)head;
    struct buf b;
    buf_init(&b);
    metrics_render(&b);
    static const char *const h[] = {"cache-control:", "no-store", NULL};
    int rc = http_respond(wsi, 200, "text/plain; version=0.0.4; charset=utf-8", h, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* aldis-bench: XMPP client load generator — options, worker threads (one
 * epoll loop each, many connections per thread; for the ws* scenarios one
 * libwebsockets loop each, in ws.c), the scenarios (login, idle, chat,
 * latency, register, muc, and login/idle/chat/latency over WebSocket) and
 * the report. Every run is bounded: setup
 * (and for muc, entering the room) by --setup-timeout, measurement by
 * --duration, the final drain by 5 s. */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

atomic_int bench_phase = PHASE_SETUP;
unsigned bench_run_id;
double bench_traffic_start;
double bench_measure_start;
static atomic_int bench_interrupted;
static atomic_int register_next; /* next user to register, shared by workers */

/* muc: the room's state as the creator sees it, shared by the workers. */
enum muc_room_state { MUC_ROOM_NONE, MUC_ROOM_CREATING, MUC_ROOM_READY, MUC_ROOM_FAILED };
static atomic_int muc_join_go;   /* set by main once every session is up */
static atomic_int muc_room;      /* enum muc_room_state */
static atomic_int muc_failed;    /* an occupant could not enter, or a message bounced */
/* Groupchat messages sent and copies received (any phase, this run only):
 * sent * occupants - received is what the room still has to deliver. */
static atomic_uint_fast64_t muc_sent;
static atomic_uint_fast64_t muc_recv;
#define LAT_MAX_SAMPLES (8u << 20) /* per worker; beyond it, decimate */

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_sleep(double seconds)
{
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !atomic_load(&bench_interrupted))
        ;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&bench_interrupted, 1);
}

/* ---- scenario callbacks from conn.c */

static int is_pair_scenario(const struct bench_opts *o)
{
    return o->scenario == SCEN_CHAT || o->scenario == SCEN_LATENCY;
}

/* Both partners are up again after a reconnect: forget what was lost in
 * flight so the windows start empty. */
static void pair_resync(struct conn *c)
{
    struct conn *p = c->partner;
    c->sent = p->received;
    p->sent = c->received;
}

void bench_on_ready(struct conn *c)
{
    c->was_ready = 1;
    c->ready_at = bench_now();
    atomic_fetch_add(&c->w->ready, 1);
    const struct bench_opts *o = c->w->opts;
    if (is_pair_scenario(o) && c->partner->state == CS_READY) {
        pair_resync(c);
        int phase = atomic_load(&bench_phase);
        if (o->scenario == SCEN_CHAT && (phase == PHASE_WARMUP || phase == PHASE_MEASURE)) {
            conn_send_messages(c, o->window);
            conn_send_messages(c->partner, o->window);
        }
    }
}

/* Keep one latency sample. Past LAT_MAX_SAMPLES a worker halves what it
 * kept (every other sample) and from then on keeps one in two, and so on:
 * memory stays bounded and the samples stay spread over the whole run. */
static void lat_record(struct worker *w, double lat_us)
{
    if (w->lat_every > 1 && ++w->lat_skip % w->lat_every != 0)
        return;
    if (w->lat_len == w->lat_cap) {
        if (w->lat_cap >= LAT_MAX_SAMPLES) {
            for (size_t i = 0; i < w->lat_len / 2; i++)
                w->lat[i] = w->lat[2 * i];
            w->lat_len /= 2;
            w->lat_every = w->lat_every ? w->lat_every * 2 : 2;
        } else {
            size_t cap = w->lat_cap ? w->lat_cap * 2 : 65536;
            uint32_t *p = realloc(w->lat, cap * sizeof *p);
            if (!p)
                return;
            w->lat = p;
            w->lat_cap = cap;
        }
    }
    if (lat_us < 0)
        lat_us = 0;
    w->lat[w->lat_len++] = lat_us > 4e9 ? 4000000000u : (uint32_t)lat_us;
}

static void muc_fail(struct conn *c, const char *what)
{
    struct worker *w = c->w;
    atomic_fetch_add(&w->errors, 1);
    snprintf(w->last_error, sizeof w->last_error, "user %d: %s%s%.60s", c->user, what,
             c->text_len ? " — " : "", c->text_len ? c->text : "");
    if (w->opts->verbose)
        fprintf(stderr, "aldis-bench: %s\n", w->last_error);
    atomic_store(&muc_failed, 1);
}

/* Presence from the room: our own (status 110) completes the join; the
 * creator's also says whether the room is new (201) and so locked until its
 * configuration is accepted (XEP-0045 §10.1.1). Other occupants' presence
 * is only parsed. */
void bench_on_presence(struct conn *c)
{
    const struct bench_opts *o = c->w->opts;
    if (o->scenario != SCEN_MUC)
        return;
    size_t rl = strlen(o->room_jid);
    if (strncmp(c->top_from, o->room_jid, rl) != 0 || (c->top_from[rl] != '/' && c->top_from[rl]))
        return;
    if (!strcmp(c->top_type, "error")) {
        if (c->join_sent && !c->joined) {
            if (c->user == 1)
                atomic_store(&muc_room, MUC_ROOM_FAILED);
            muc_fail(c, "cannot enter the room");
        }
        return;
    }
    if (c->top_type[0] || !c->st110 || c->joined)
        return;
    c->joined = 1;
    atomic_fetch_add(&c->w->joined, 1);
    if (c->user == 1 && atomic_load(&muc_room) == MUC_ROOM_CREATING) {
        if (c->st201)
            conn_send_muc_config(c); /* instant room: unlock it */
        else
            atomic_store(&muc_room, MUC_ROOM_READY); /* it existed already */
    }
}

void bench_on_iq_result(struct conn *c, int ok)
{
    if (c->w->opts->scenario != SCEN_MUC || c->user != 1)
        return;
    if (ok) {
        atomic_store(&muc_room, MUC_ROOM_READY);
    } else {
        atomic_store(&muc_room, MUC_ROOM_FAILED);
        muc_fail(c, "room configuration refused");
    }
}

/* A bounced groupchat message would never reach the others: the run is
 * void (and the saturation window would never drain). */
void bench_on_message_error(struct conn *c)
{
    if (c->w->opts->scenario == SCEN_MUC)
        muc_fail(c, "message bounced");
}

/* Messages sent to the room whose copies have not all arrived yet. */
static uint64_t muc_in_flight(const struct bench_opts *o)
{
    uint64_t n = (uint64_t)o->occupants;
    uint64_t due = atomic_load(&muc_sent) * n;
    uint64_t got = atomic_load(&muc_recv);
    return due > got ? (due - got + n - 1) / n : 0;
}

/* Saturation: keep at most senders * window messages in flight (sent to the
 * room and not yet received by every occupant). Refilled once half of it
 * has arrived, spread over this worker's senders, one write per sender. */
static void muc_refill(struct worker *w)
{
    const struct bench_opts *o = w->opts;
    if (o->rate_set || w->nsenders == 0)
        return;
    int phase = atomic_load(&bench_phase);
    if (phase != PHASE_WARMUP && phase != PHASE_MEASURE)
        return;
    uint64_t limit = (uint64_t)o->senders * (uint64_t)o->window;
    uint64_t in_flight = muc_in_flight(o);
    if (in_flight > limit / 2)
        return;
    uint64_t budget = limit - in_flight;
    int eligible = 0;
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->sender && c->state == CS_READY && c->joined)
            eligible++;
    }
    if (eligible == 0)
        return;
    /* Count before sending: another worker's refill sees these at once. */
    atomic_fetch_add(&muc_sent, budget);
    uint64_t each = budget / (uint64_t)eligible, extra = budget % (uint64_t)eligible;
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (!c->sender || c->state != CS_READY || !c->joined)
            continue;
        uint64_t k = each + (extra > 0);
        if (extra > 0)
            extra--;
        if (k > 0)
            conn_send_groupchat(c, (int)k);
    }
}

/* A copy of a groupchat message reached occupant c. */
static void muc_on_message(struct conn *c, unsigned long long sent_us)
{
    struct worker *w = c->w;
    int phase = atomic_load(&bench_phase);
    c->received++;
    atomic_fetch_add_explicit(&muc_recv, 1, memory_order_relaxed);
    if (phase != PHASE_WARMUP && phase != PHASE_MEASURE)
        return;
    atomic_fetch_add_explicit(&w->delivered, 1, memory_order_relaxed);
    if (phase == PHASE_MEASURE && (double)sent_us >= bench_measure_start * 1e6)
        lat_record(w, bench_now() * 1e6 - (double)sent_us);
    muc_refill(w);
}

void bench_on_message(struct conn *c, const char *body)
{
    struct worker *w = c->w;
    const struct bench_opts *o = w->opts;
    int phase = atomic_load(&bench_phase);
    unsigned run_id;
    unsigned long long seq, sent_us;
    if (sscanf(body, "%u %llu %llu", &run_id, &seq, &sent_us) != 3 || run_id != bench_run_id)
        return; /* not ours: an earlier run's message, from offline storage */
    if (o->scenario == SCEN_MUC) {
        muc_on_message(c, sent_us);
        return;
    }
    c->received++;
    if (phase != PHASE_WARMUP && phase != PHASE_MEASURE)
        return;
    atomic_fetch_add_explicit(&w->delivered, 1, memory_order_relaxed);
    if (o->scenario == SCEN_LATENCY) {
        /* Only messages sent during the measurement count: the warm-up
         * absorbs the servers' first-use costs (caches, JIT, allocation). */
        if (phase == PHASE_MEASURE && (double)sent_us >= bench_measure_start * 1e6)
            lat_record(w, bench_now() * 1e6 - (double)sent_us);
        return;
    }
    if (o->scenario == SCEN_CHAT) {
        /* The partner sent this; refill its window once half of it has
         * drained, so writes are batched rather than one per message. */
        struct conn *sender = c->partner;
        uint64_t in_flight = sender->sent - c->received;
        if (sender->sent < c->received)
            in_flight = 0;
        if (in_flight <= (uint64_t)o->window / 2)
            conn_send_messages(sender, o->window - (int)in_flight);
    }
}

void bench_on_register(struct conn *c, int ok, int conflict)
{
    if (ok)
        atomic_fetch_add(&c->w->registered, 1);
    else if (conflict)
        atomic_fetch_add(&c->w->reg_conflicts, 1);
    else
        atomic_fetch_add(&c->w->errors, 1);
}

void bench_on_closed(struct conn *c)
{
    if (c->was_ready) {
        c->was_ready = 0;
        atomic_fetch_sub(&c->w->ready, 1);
    }
    if (c->joined)
        atomic_fetch_sub(&c->w->joined, 1);
    c->joined = c->join_sent = 0; /* a new session enters the room again */
    int phase = atomic_load(&bench_phase);
    if (phase == PHASE_STOP)
        return;
    switch (c->w->opts->scenario) {
    case SCEN_LOGIN:
        c->start_pending = 1;
        break;
    case SCEN_REGISTER:
        c->start_pending = 1; /* takes the next user, if any */
        break;
    default:
        /* Sessions that drop are reopened: the scenario measures a
         * steady population. The error was counted by conn_fail. */
        c->start_pending = 1;
        break;
    }
}

/* ---- worker thread */

static int worker_pick_user(struct worker *w, struct conn *c)
{
    const struct bench_opts *o = w->opts;
    switch (o->scenario) {
    case SCEN_LOGIN:
        c->user = (int)((w->next_user++ * (unsigned)o->threads + (unsigned)w->index) %
                        (unsigned)o->users) + 1;
        return 0;
    case SCEN_REGISTER: {
        int u = atomic_fetch_add(&register_next, 1) + 1;
        if (u > o->users)
            return -1;
        c->user = u;
        return 0;
    }
    default:
        return 0; /* fixed per slot, set at creation */
    }
}

/* Start the pending connections, at most `concurrency` handshaking at once
 * per worker so a burst of connects does not trip the server's listen
 * backlog or a connection-rate limit. */
static void worker_start_pending(struct worker *w, int *active_handshakes)
{
    const struct bench_opts *o = w->opts;
    int limit = o->concurrency / o->threads;
    if (limit < 1)
        limit = 1;
    int handshaking = 0;
    for (int i = 0; i < w->nconns; i++) {
        enum conn_state s = w->conns[i].state;
        if (s != CS_FREE && s != CS_READY)
            handshaking++;
    }
    double now = bench_now();
    for (int i = 0; i < w->nconns && handshaking < limit; i++) {
        struct conn *c = &w->conns[i];
        if (!c->start_pending || c->retry_at > now)
            continue;
        c->start_pending = 0;
        if (worker_pick_user(w, c) < 0)
            continue;
        if (conn_start(c) == 0) {
            handshaking++;
        } else {
            c->start_pending = 1;
            c->failures++;
            c->retry_at = now + (c->failures < 20 ? 0.05 * c->failures : 1.0);
        }
    }
    *active_handshakes = handshaking;
}

/* latency: send at the fixed rate, spread round-robin over the senders. */
static void worker_pace(struct worker *w)
{
    const struct bench_opts *o = w->opts;
    double per_worker = o->rate / o->threads;
    double elapsed = bench_now() - bench_traffic_start;
    uint64_t target = (uint64_t)(elapsed * per_worker);
    int budget = 2000;
    int skipped = 0;
    while (w->rate_sent < target && budget-- > 0 && skipped < w->nconns) {
        struct conn *c = &w->conns[w->rr];
        w->rr = (w->rr + 1) % w->nconns;
        /* A sender whose partner is far behind is saturated: skip it
         * rather than queue without bound (counts against the rate). */
        if (c->state != CS_READY || !c->partner || c->partner->state != CS_READY ||
            c->sent - c->partner->received > 10000) {
            skipped++;
            continue;
        }
        skipped = 0;
        conn_send_messages(c, 1);
        w->rate_sent++;
    }
}

/* muc at a fixed --rate: this worker's share of the rate (by its number of
 * senders), round-robin over its senders. When the room is behind by more
 * than the window, the due messages are dropped rather than queued, so the
 * client never builds an unbounded backlog (the achieved rate is reported). */
static void worker_pace_muc(struct worker *w)
{
    const struct bench_opts *o = w->opts;
    if (w->nsenders == 0)
        return;
    double per_worker = o->rate * (double)w->nsenders / (double)o->senders;
    uint64_t target = (uint64_t)((bench_now() - bench_traffic_start) * per_worker);
    uint64_t limit = (uint64_t)o->senders * (uint64_t)o->window;
    int budget = 2000;
    while (w->rate_sent < target && budget-- > 0) {
        if (muc_in_flight(o) >= limit) {
            w->rate_sent = target;
            break;
        }
        struct conn *c = NULL;
        for (int k = 0; k < w->nconns && !c; k++) {
            struct conn *x = &w->conns[w->rr];
            w->rr = (w->rr + 1) % w->nconns;
            if (x->sender && x->state == CS_READY && x->joined)
                c = x;
        }
        if (!c)
            break;
        atomic_fetch_add(&muc_sent, 1);
        conn_send_groupchat(c, 1);
        w->rate_sent++;
    }
}

/* muc: enter the room. The creator (user 1, first slot of worker 0) goes
 * first; the others wait until the room is unlocked, then enter with at
 * most --concurrency joins outstanding (sent, own presence not back yet). */
static void worker_muc_joins(struct worker *w)
{
    const struct bench_opts *o = w->opts;
    if (!atomic_load(&muc_join_go) || atomic_load(&w->joined) >= w->nconns)
        return;
    int room = atomic_load(&muc_room);
    if (room == MUC_ROOM_NONE) {
        struct conn *c = &w->conns[0];
        int expected = MUC_ROOM_NONE;
        if (c->user == 1 && c->state == CS_READY && !c->join_sent &&
            atomic_compare_exchange_strong(&muc_room, &expected, MUC_ROOM_CREATING))
            conn_send_muc_join(c);
        return;
    }
    if (room != MUC_ROOM_READY)
        return;
    int limit = o->concurrency / o->threads;
    if (limit < 1)
        limit = 1;
    int pending = 0;
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].join_sent && !w->conns[i].joined && w->conns[i].state == CS_READY)
            pending++;
    for (int i = 0; i < w->nconns && pending < limit; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == CS_READY && !c->join_sent) {
            conn_send_muc_join(c);
            pending++;
        }
    }
}

static int worker_busy(struct worker *w)
{
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].state != CS_FREE || w->conns[i].start_pending)
            return 1;
    return 0;
}

/* Messages sent between live partners and not received yet. */
static uint64_t worker_in_flight(struct worker *w)
{
    uint64_t total = 0;
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->partner && c->state == CS_READY && c->partner->state == CS_READY &&
            c->sent > c->partner->received)
            total += c->sent - c->partner->received;
    }
    return total;
}

int worker_tick(struct worker *w)
{
    const struct bench_opts *o = w->opts;
    int phase = atomic_load(&bench_phase);
    if (phase == PHASE_STOP)
        return -1;
    int measuring = phase == PHASE_WARMUP || phase == PHASE_MEASURE; /* traffic on */
    if (measuring && !w->started) {
        w->started = 1;
        if (o->scenario == SCEN_CHAT)
            for (int i = 0; i < w->nconns; i++)
                conn_send_messages(&w->conns[i], o->window);
    }
    if (phase == PHASE_DRAIN)
        atomic_store(&w->drained, worker_in_flight(w) == 0);
    int handshakes = 0;
    /* The scan for connections to (re)open is linear: with many
     * connections it runs at most every 10 ms once setup is over, or
     * it would cost more than the traffic (muc: 1000 sessions). */
    double now = bench_now();
    if ((o->scenario != SCEN_LOGIN || measuring) &&
        (w->nconns <= 64 || phase == PHASE_SETUP || now >= w->next_scan)) {
        worker_start_pending(w, &handshakes);
        w->next_scan = now + 0.01;
    }
    if (o->scenario == SCEN_REGISTER && !worker_busy(w))
        return -1;
    if (o->scenario == SCEN_LATENCY && measuring)
        worker_pace(w);
    if (o->scenario == SCEN_MUC) {
        worker_muc_joins(w);
        if (measuring && o->rate_set)
            worker_pace_muc(w);
        else if (measuring)
            muc_refill(w); /* the first window, and after a reconnect */
    }
    int paced = measuring && (o->scenario == SCEN_LATENCY ||
                              (o->scenario == SCEN_MUC && o->rate_set));
    /* Joins are sent from this loop: do not sleep long while they run. */
    int joining = o->scenario == SCEN_MUC && atomic_load(&muc_join_go) &&
                  atomic_load(&w->joined) < w->nconns;
    return paced || joining ? 1 : 50;
}

void worker_conns_free(struct worker *w)
{
    for (int i = 0; i < w->nconns; i++) {
        conn_reset(&w->conns[i]);
        if (w->conns[i].parser)
            XML_ParserFree(w->conns[i].parser);
        w->conns[i].parser = NULL;
        free(w->conns[i].out);
        w->conns[i].out = NULL;
    }
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];

    if (w->opts->ws) {
        ws_worker_run(w);
        return NULL;
    }
    for (;;) {
        int timeout = worker_tick(w);
        if (timeout < 0)
            break;
        int n = epoll_wait(w->epfd, evs, 256, timeout);
        for (int i = 0; i < n; i++) {
            uint32_t slot = (uint32_t)evs[i].data.u64;
            uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
            if (slot >= (uint32_t)w->nconns)
                continue;
            struct conn *c = &w->conns[slot];
            if (c->gen != gen || c->state == CS_FREE)
                continue; /* event for a socket closed earlier in this batch */
            conn_on_event(c, evs[i].events);
        }
    }
    worker_conns_free(w);
    return NULL;
}

/* ---- server and client resource use */

/* CPU seconds (user + system, all threads) of a process, from
 * /proc/PID/stat fields 14 and 15 (proc(5)); -1 if unreadable. */
static double proc_cpu_seconds(int pid)
{
    char path[64], buf[1024];
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces: start after its ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Resident set size in KiB, from VmRSS in /proc/PID/status; -1 if unknown. */
static long proc_rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static double self_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- setup, report */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aldis-bench SCENARIO [options]\n"
            "scenarios:\n"
            "  login     repeated full logins (connect, STARTTLS, SCRAM, bind, close)\n"
            "            with --concurrency connections -> logins/s\n"
            "  idle      open --users authenticated sessions, report when all are up,\n"
            "            hold them for --duration seconds\n"
            "  chat      --pairs pairs of sessions exchanging messages, --window in\n"
            "            flight per sender -> delivered messages/s\n"
            "  latency   chat at a fixed total --rate msgs/s -> p50/p99 latency (ms)\n"
            "  register  create users PREFIX1..PREFIXN by in-band registration (XEP-0077)\n"
            "  muc       --occupants sessions enter one room (XEP-0045), then --senders\n"
            "            of them send groupchat messages, at saturation (--window in\n"
            "            flight per sender) or at a total --rate -> deliveries/s, p50/p99\n"
            "  wslogin, wsidle, wschat, wslatency\n"
            "            the same over XMPP over WebSocket (RFC 7395, subprotocol xmpp):\n"
            "            ws://HOST:PORT/xmpp-websocket, or wss:// with --tls; no STARTTLS\n"
            "options:\n"
            "  --host H            server address (default 127.0.0.1)\n"
            "  --port P            c2s port (default 5222); ws*: the HTTP(S) port\n"
            "                      (default 5280, 5281 with --tls)\n"
            "  --tls               ws*: wss:// (TLS, certificate not verified)\n"
            "  --ws-path PATH      ws*: the endpoint (default /xmpp-websocket)\n"
            "  --domain D          XMPP domain (default localhost)\n"
            "  --user-prefix S     users are S1..SN (default bench)\n"
            "  --password PW       password of every user (default: the username)\n"
            "  --users N           user pool / idle sessions (default 100)\n"
            "  --pairs P           chat/latency pairs (default users/2)\n"
            "  --concurrency C     login: connections at once; idle/chat/register:\n"
            "                      handshakes in progress at once (default 20)\n"
            "  --window W          chat: messages in flight per sender (default 32);\n"
            "                      muc: messages sent to the room and not yet received\n"
            "                      by every occupant, per sender (default 2)\n"
            "  --rate R            latency: total messages per second (default 1000);\n"
            "                      muc: total groupchat messages per second (default:\n"
            "                      none, saturation)\n"
            "  --occupants N       muc: sessions in the room, users 1..N (default 1000)\n"
            "  --senders S         muc: occupants 1..S send (default 10)\n"
            "  --room NODE         muc: the room's name (default bench)\n"
            "  --muc-domain D      muc: the MUC service (default conference.DOMAIN)\n"
            "  --duration S        measurement seconds (default 10)\n"
            "  --setup-timeout S   seconds allowed to open the sessions (default 60)\n"
            "  --warmup S          login/chat/latency: seconds of uncounted traffic\n"
            "                      before the measurement (default 1)\n"
            "  --threads T         client threads, one epoll loop each (default 1)\n"
            "  --server-pid PID    also report that local server's CPU time (from\n"
            "                      /proc/PID/stat) and RSS (VmRSS) over the run\n"
            "  --json              one JSON object on stdout\n"
            "  --verbose           log every connection error to stderr\n"
            "Progress and the idle \"ready\" line go to stderr.\n");
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'H'},     {"port", required_argument, 0, 'p'},
        {"domain", required_argument, 0, 'd'},   {"user-prefix", required_argument, 0, 'u'},
        {"password", required_argument, 0, 'w'}, {"users", required_argument, 0, 'n'},
        {"pairs", required_argument, 0, 'P'},    {"concurrency", required_argument, 0, 'c'},
        {"window", required_argument, 0, 'W'},   {"rate", required_argument, 0, 'r'},
        {"duration", required_argument, 0, 't'}, {"setup-timeout", required_argument, 0, 's'},
        {"threads", required_argument, 0, 'T'},  {"json", no_argument, 0, 'j'},
        {"warmup", required_argument, 0, 'A'},   {"server-pid", required_argument, 0, 'S'},
        {"verbose", no_argument, 0, 'v'},        {"help", no_argument, 0, 'h'},
        {"occupants", required_argument, 0, 'O'}, {"senders", required_argument, 0, 'E'},
        {"room", required_argument, 0, 'R'},     {"muc-domain", required_argument, 0, 'M'},
        {"tls", no_argument, 0, 'L'},            {"ws-path", required_argument, 0, 'X'},
        {0, 0, 0, 0}};
    int window_set = 0, port_set = 0;
    *o = (struct bench_opts){.host = "127.0.0.1",
                             .port = 5222,
                             .domain = "localhost",
                             .user_prefix = "bench",
                             .users = 100,
                             .duration = 10,
                             .setup_timeout = 60,
                             .warmup = 1,
                             .rate = 1000,
                             .threads = 1,
                             .concurrency = 20,
                             .pairs = 0,
                             .window = 32,
                             .occupants = 1000,
                             .senders = 10,
                             .room = "bench",
                             .ws_path = "/xmpp-websocket"};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? -1 : 1;
    }
    const char *s = argv[1];
    /* wsNAME: scenario NAME over WebSocket. Registration and MUC stay on
     * TCP (the accounts are made before, the room is a TCP figure). */
    if (!strncmp(s, "ws", 2) && (!strcmp(s + 2, "login") || !strcmp(s + 2, "idle") ||
                                 !strcmp(s + 2, "chat") || !strcmp(s + 2, "latency"))) {
        o->ws = 1;
        s += 2;
    }
    if (!strcmp(s, "login"))
        o->scenario = SCEN_LOGIN;
    else if (!strcmp(s, "idle"))
        o->scenario = SCEN_IDLE;
    else if (!strcmp(s, "chat"))
        o->scenario = SCEN_CHAT;
    else if (!strcmp(s, "latency"))
        o->scenario = SCEN_LATENCY;
    else if (!strcmp(s, "register"))
        o->scenario = SCEN_REGISTER;
    else if (!strcmp(s, "muc"))
        o->scenario = SCEN_MUC;
    else {
        fprintf(stderr, "aldis-bench: unknown scenario '%s'\n", s);
        usage(stderr);
        return -1;
    }
    optind = 2;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H': o->host = optarg; break;
        case 'p': o->port = atoi(optarg); port_set = 1; break;
        case 'L': o->ws_tls = 1; break;
        case 'X': o->ws_path = optarg; break;
        case 'd': o->domain = optarg; break;
        case 'u': o->user_prefix = optarg; break;
        case 'w': o->password = optarg; break;
        case 'n': o->users = atoi(optarg); break;
        case 'P': o->pairs = atoi(optarg); break;
        case 'c': o->concurrency = atoi(optarg); break;
        case 'W': o->window = atoi(optarg); window_set = 1; break;
        case 'r': o->rate = atof(optarg); o->rate_set = 1; break;
        case 'O': o->occupants = atoi(optarg); break;
        case 'E': o->senders = atoi(optarg); break;
        case 'R': o->room = optarg; break;
        case 'M': o->muc_domain = optarg; break;
        case 't': o->duration = atof(optarg); break;
        case 's': o->setup_timeout = atof(optarg); break;
        case 'T': o->threads = atoi(optarg); break;
        case 'j': o->json = 1; break;
        case 'A': o->warmup = atof(optarg); break;
        case 'S': o->server_pid = atoi(optarg); break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    if (o->pairs == 0)
        o->pairs = o->users / 2;
    if (o->ws && !port_set)
        o->port = o->ws_tls ? 5281 : 5280;
    if ((o->ws_tls && !o->ws) || o->ws_path[0] != '/' || strlen(o->ws_path) > 200) {
        fprintf(stderr, "aldis-bench: --tls is for the ws* scenarios; --ws-path is /PATH\n");
        return -1;
    }
    if (o->port <= 0 || o->port > 65535 || o->users < 1 || o->threads < 1 || o->threads > 64 ||
        o->concurrency < 1 || o->window < 1 || o->rate <= 0 || o->duration <= 0 ||
        o->duration > 86400 || o->setup_timeout <= 0 || o->warmup < 0 || o->warmup > 3600) {
        fprintf(stderr, "aldis-bench: invalid option value\n");
        return -1;
    }
    if ((o->scenario == SCEN_CHAT || o->scenario == SCEN_LATENCY) &&
        (o->pairs < 1 || o->pairs * 2 > o->users)) {
        fprintf(stderr, "aldis-bench: --pairs must be between 1 and users/2\n");
        return -1;
    }
    if (o->scenario == SCEN_MUC) {
        if (o->occupants < 1 || o->occupants > 1000000 || o->senders < 1 ||
            o->senders > o->occupants) {
            fprintf(stderr, "aldis-bench: need 1 <= --senders <= --occupants <= 1000000\n");
            return -1;
        }
        if (!window_set)
            o->window = 2;
        if (o->users < o->occupants)
            o->users = o->occupants; /* the SCRAM cache is indexed by user */
        int n;
        if (o->muc_domain)
            n = snprintf(o->room_jid, sizeof o->room_jid, "%s@%s", o->room, o->muc_domain);
        else
            n = snprintf(o->room_jid, sizeof o->room_jid, "%s@conference.%s", o->room,
                         o->domain);
        if (n < 0 || (size_t)n >= sizeof o->room_jid) {
            fprintf(stderr, "aldis-bench: room JID too long\n");
            return -1;
        }
    }
    if (o->threads > o->concurrency && (o->scenario == SCEN_LOGIN || o->scenario == SCEN_REGISTER))
        o->threads = o->concurrency;
    return 0;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Slots of worker w: how many connections it runs and their users. */
static int worker_setup(struct worker *w, int index, const struct bench_opts *o, SSL_CTX *ctx)
{
    memset(w, 0, sizeof *w);
    w->index = index;
    w->opts = o;
    w->ssl_ctx = ctx;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return -1;
    w->cache = calloc((size_t)o->users, sizeof *w->cache);
    if (!w->cache)
        return -1;

    int T = o->threads;
    int n = 0;
    switch (o->scenario) {
    case SCEN_LOGIN:
    case SCEN_REGISTER:
        n = o->concurrency / T + (index < o->concurrency % T);
        break;
    case SCEN_IDLE:
        n = o->users / T + (index < o->users % T);
        break;
    case SCEN_CHAT:
    case SCEN_LATENCY:
        n = 2 * (o->pairs / T + (index < o->pairs % T));
        break;
    case SCEN_MUC:
        n = o->occupants / T + (index < o->occupants % T);
        break;
    }
    w->nconns = n;
    w->conns = calloc((size_t)(n ? n : 1), sizeof *w->conns);
    if (!w->conns)
        return -1;
    for (int i = 0; i < n; i++) {
        struct conn *c = &w->conns[i];
        c->w = w;
        c->slot = i;
        c->fd = -1;
        c->start_pending = 1;
        if (o->scenario == SCEN_IDLE || o->scenario == SCEN_MUC) {
            c->user = index + 1 + i * T; /* users index+1, index+1+T, ... */
            c->sender = o->scenario == SCEN_MUC && c->user <= o->senders;
            w->nsenders += c->sender;
        } else if (is_pair_scenario(o)) {
            int pair = index + (i / 2) * T; /* pairs are dealt round-robin */
            c->user = 2 * pair + 1 + (i % 2);
            c->partner = &w->conns[i ^ 1];
        }
    }
    if (o->ws && ws_worker_setup(w) < 0)
        return -1;
    return 0;
}

static uint64_t sum_u64(struct worker *ws, int n, size_t off)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += atomic_load((atomic_uint_fast64_t *)((char *)&ws[i] + off));
    return total;
}

static int sum_int(struct worker *ws, int n, size_t off)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += atomic_load((atomic_int *)((char *)&ws[i] + off));
    return total;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Copy s as the inside of a JSON string (quotes, backslashes, controls). */
static void json_escape(char *dst, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(dst + o, size - o, "\\u%04x", ch);
        } else {
            dst[o++] = (char)ch;
        }
    }
    dst[o] = '\0';
}

static const char *scenario_name(const struct bench_opts *o)
{
    static const char *names[] = {"login", "idle", "chat", "latency", "register", "muc"};
    static const char *ws_names[] = {"wslogin", "wsidle", "wschat", "wslatency", "", ""};
    return o->ws ? ws_names[o->scenario] : names[o->scenario];
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 2 : 0;

    raise_fd_limit();
    ws_log_init(o.verbose);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* The servers under test use self-signed certificates: no verification
     * (this is a load generator, never a client for real use). No session
     * cache either, so every login pays a full handshake as a new client does. */
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        fprintf(stderr, "aldis-bench: SSL_CTX_new failed\n");
        return 1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);

    struct worker *ws = calloc((size_t)o.threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)o.threads, sizeof *tids);
    if (!ws || !tids)
        return 1;
    for (int i = 0; i < o.threads; i++) {
        if (worker_setup(&ws[i], i, &o, ctx) < 0) {
            fprintf(stderr, "aldis-bench: out of memory, or no libwebsockets context\n");
            return 1;
        }
    }

    int needed = 0;
    if (o.scenario == SCEN_IDLE)
        needed = o.users;
    else if (is_pair_scenario(&o))
        needed = 2 * o.pairs;
    else if (o.scenario == SCEN_MUC)
        needed = o.occupants;

    unsigned char rid[4];
    if (RAND_bytes(rid, sizeof rid) != 1)
        return 1;
    bench_run_id = ((unsigned)rid[0] << 24 | (unsigned)rid[1] << 16 | (unsigned)rid[2] << 8 | rid[3]);
    long rss_start = proc_rss_kb(o.server_pid);
    double cpu_start = proc_cpu_seconds(o.server_pid);
    double t0 = bench_now();
    double warmup = o.warmup;
    if (o.scenario == SCEN_IDLE || o.scenario == SCEN_REGISTER)
        warmup = 0;
    if (needed == 0) {
        bench_traffic_start = bench_measure_start = t0;
        atomic_store(&bench_phase, warmup > 0 ? PHASE_WARMUP : PHASE_MEASURE);
    }
    for (int i = 0; i < o.threads; i++)
        pthread_create(&tids[i], NULL, worker_run, &ws[i]);

    /* Setup: bring the sessions up. */
    int ready = 0;
    double setup_seconds = 0;
    int setup_ok = 1;
    if (needed > 0) {
        for (;;) {
            ready = sum_int(ws, o.threads, offsetof(struct worker, ready));
            if (ready >= needed || atomic_load(&bench_interrupted))
                break;
            if (bench_now() - t0 > o.setup_timeout) {
                setup_ok = 0;
                break;
            }
            bench_sleep(0.01);
        }
        setup_seconds = bench_now() - t0;
        if (!setup_ok) {
            fprintf(stderr, "aldis-bench: only %d of %d sessions up after %.1f s (last error: %s)\n",
                    ready, needed, setup_seconds, ws[0].last_error[0] ? ws[0].last_error : "none");
        } else if (!atomic_load(&bench_interrupted)) {
            fprintf(stderr, "aldis-bench: ready: %d sessions up in %.2f s\n", ready,
                    setup_seconds);
        }
        fflush(stderr);
    }

    /* muc: every session is up; now they enter the room, the creator first.
     * Bounded by --setup-timeout again. The server's CPU time for it is
     * reported apart: entering costs a presence to every occupant (O(N^2)). */
    int joined = 0;
    double join_seconds = 0, cpu_j0 = -1, cpu_j1 = -1;
    if (o.scenario == SCEN_MUC && setup_ok && !atomic_load(&bench_interrupted)) {
        double j0 = bench_now();
        cpu_j0 = proc_cpu_seconds(o.server_pid);
        atomic_store(&muc_join_go, 1);
        for (;;) {
            joined = sum_int(ws, o.threads, offsetof(struct worker, joined));
            if (joined >= o.occupants || atomic_load(&bench_interrupted) ||
                atomic_load(&muc_failed))
                break;
            if (bench_now() - j0 > o.setup_timeout)
                break;
            bench_sleep(0.01);
        }
        join_seconds = bench_now() - j0;
        cpu_j1 = proc_cpu_seconds(o.server_pid);
        if (joined < o.occupants) {
            setup_ok = 0;
            const char *err = "none";
            for (int i = 0; i < o.threads; i++)
                if (ws[i].last_error[0])
                    err = ws[i].last_error;
            fprintf(stderr, "aldis-bench: only %d of %d occupants in %s after %.1f s (room %s; "
                    "last error: %s)\n", joined, o.occupants, o.room_jid, join_seconds,
                    atomic_load(&muc_room) == MUC_ROOM_READY ? "unlocked" : "not unlocked", err);
        } else if (!atomic_load(&bench_interrupted)) {
            fprintf(stderr, "aldis-bench: joined: %d occupants in %s in %.2f s\n", joined,
                    o.room_jid, join_seconds);
        }
        fflush(stderr);
    }

    /* Warm up, then measure. Counters are snapshots taken at the start. */
    uint64_t logins0 = 0, delivered0 = 0, muc_sent0 = 0;
    double m0 = bench_now(), m1 = m0;
    double cpu_m0 = cpu_start, cpu_m1, client_m0 = self_cpu_seconds(), client_m1;
    long rss_m0 = -1, rss_m1;
    if (setup_ok && !atomic_load(&bench_interrupted)) {
        if (needed > 0 && warmup > 0) {
            bench_traffic_start = bench_now();
            atomic_store(&bench_phase, PHASE_WARMUP);
        }
        if (warmup > 0) {
            bench_sleep(warmup);
        }
        logins0 = sum_u64(ws, o.threads, offsetof(struct worker, logins));
        delivered0 = sum_u64(ws, o.threads, offsetof(struct worker, delivered));
        muc_sent0 = atomic_load(&muc_sent);
        bench_measure_start = m0 = bench_now();
        cpu_m0 = proc_cpu_seconds(o.server_pid);
        client_m0 = self_cpu_seconds();
        rss_m0 = proc_rss_kb(o.server_pid);
        if (warmup <= 0 && needed > 0)
            bench_traffic_start = m0;
        if (needed > 0 || warmup > 0)
            atomic_store(&bench_phase, PHASE_MEASURE);
        else
            m0 = t0;
        double end = m0 + o.duration;
        while (!atomic_load(&bench_interrupted) && bench_now() < end) {
            if (o.scenario == SCEN_REGISTER) {
                int done = 1;
                for (int i = 0; i < o.threads; i++)
                    if (worker_busy(&ws[i]))
                        done = 0;
                if (done && atomic_load(&register_next) >= o.users)
                    break;
            }
            double left = end - bench_now();
            bench_sleep(left < 0.05 ? (left > 0 ? left : 0) : 0.05);
        }
    }
    m1 = bench_now();
    cpu_m1 = proc_cpu_seconds(o.server_pid);
    client_m1 = self_cpu_seconds();
    rss_m1 = proc_rss_kb(o.server_pid);
    uint64_t logins = sum_u64(ws, o.threads, offsetof(struct worker, logins)) - logins0;
    uint64_t delivered = sum_u64(ws, o.threads, offsetof(struct worker, delivered)) - delivered0;
    uint64_t muc_sent_measured = atomic_load(&muc_sent) - muc_sent0;
    int joined_end = sum_int(ws, o.threads, offsetof(struct worker, joined));
    int ready_end = sum_int(ws, o.threads, offsetof(struct worker, ready));
    if (is_pair_scenario(&o) && setup_ok) {
        /* Let what is in flight arrive (at most 5 s) before closing. */
        atomic_store(&bench_phase, PHASE_DRAIN);
        double drain_end = bench_now() + 5;
        while (!atomic_load(&bench_interrupted) && bench_now() < drain_end) {
            bench_sleep(0.06);
            if (sum_int(ws, o.threads, offsetof(struct worker, drained)) == o.threads)
                break;
        }
    }
    if (o.scenario == SCEN_MUC && setup_ok) {
        /* Every copy in flight arrives (at most 5 s) before the sessions
         * close, so the servers are not left fanning out to departed
         * occupants while the next scenario starts. */
        atomic_store(&bench_phase, PHASE_DRAIN);
        double drain_end = bench_now() + 5;
        while (!atomic_load(&bench_interrupted) && bench_now() < drain_end &&
               muc_in_flight(&o) > 0)
            bench_sleep(0.02);
    }
    atomic_store(&bench_phase, PHASE_STOP);
    for (int i = 0; i < o.threads; i++)
        pthread_join(tids[i], NULL);

    uint64_t errors = sum_u64(ws, o.threads, offsetof(struct worker, errors));
    int registered = sum_int(ws, o.threads, offsetof(struct worker, registered));
    int conflicts = sum_int(ws, o.threads, offsetof(struct worker, reg_conflicts));
    double secs = m1 - m0;
    if (secs <= 0)
        secs = 1e-9;
    const char *last_error = "";
    for (int i = 0; i < o.threads; i++)
        if (ws[i].last_error[0])
            last_error = ws[i].last_error;

    /* Latency percentiles over all samples. */
    size_t nlat = 0;
    unsigned lat_every = 1;
    for (int i = 0; i < o.threads; i++) {
        nlat += ws[i].lat_len;
        if (ws[i].lat_every > lat_every)
            lat_every = ws[i].lat_every;
    }
    double p50 = 0, p90 = 0, p99 = 0, pmax = 0;
    if (nlat > 0) {
        uint32_t *all = malloc(nlat * sizeof *all);
        if (all) {
            size_t k = 0;
            for (int i = 0; i < o.threads; i++) {
                memcpy(all + k, ws[i].lat, ws[i].lat_len * sizeof *all);
                k += ws[i].lat_len;
            }
            qsort(all, nlat, sizeof *all, cmp_u32);
            p50 = all[nlat * 50 / 100] / 1000.0;
            p90 = all[nlat * 90 / 100] / 1000.0;
            p99 = all[nlat * 99 / 100] / 1000.0;
            pmax = all[nlat - 1] / 1000.0;
            free(all);
        }
    }

    const char *metric = "";
    double value = 0;
    switch (o.scenario) {
    case SCEN_LOGIN: metric = "logins_per_s"; value = (double)logins / secs; break;
    case SCEN_IDLE: metric = "sessions"; value = setup_ok ? ready : 0; break;
    case SCEN_CHAT: metric = "msgs_per_s"; value = (double)delivered / secs; break;
    case SCEN_LATENCY: metric = "p50_ms"; value = p50; break;
    case SCEN_REGISTER: metric = "registered"; value = registered + conflicts; break;
    case SCEN_MUC: metric = "deliveries_per_s"; value = (double)delivered / secs; break;
    }
    int ok = setup_ok && !atomic_load(&bench_interrupted);
    if (o.scenario == SCEN_REGISTER)
        ok = ok && registered + conflicts == o.users;
    if (o.scenario == SCEN_LOGIN || o.scenario == SCEN_CHAT || o.scenario == SCEN_LATENCY)
        ok = ok && value > 0;
    if (o.scenario == SCEN_MUC)
        ok = ok && value > 0 && !atomic_load(&muc_failed);

    const char *mechanism = "";
    for (int i = 0; i < o.threads; i++)
        if (ws[i].mechanism[0])
            mechanism = ws[i].mechanism;
    double server_cpu = cpu_m0 >= 0 && cpu_m1 >= 0 ? cpu_m1 - cpu_m0 : -1;
    double server_setup_cpu = cpu_start >= 0 && cpu_m0 >= 0 ? cpu_m0 - cpu_start : -1;

    char last_error_json[512];
    json_escape(last_error_json, sizeof last_error_json, last_error);
    if (o.json) {
        printf("{\"scenario\":\"%s\",\"ok\":%s,\"metric\":\"%s\",\"value\":%.3f,"
               "\"seconds\":%.3f,\"setup_seconds\":%.3f,\"sessions\":%d,\"logins\":%llu,"
               "\"delivered\":%llu,\"rate\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
               "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"registered\":%d,\"existing\":%d,"
               "\"errors\":%llu,\"threads\":%d,\"mechanism\":\"%s\",\"client_cpu_s\":%.3f,"
               "\"server_cpu_s\":%.3f,\"server_setup_cpu_s\":%.3f,\"server_rss_kb_start\":%ld,"
               "\"server_rss_kb_ready\":%ld,\"server_rss_kb_end\":%ld,\"last_error\":\"%s\"",
               scenario_name(&o), ok ? "true" : "false", metric, value, secs,
               setup_seconds, o.scenario == SCEN_IDLE ? ready : ready_end,
               (unsigned long long)logins, (unsigned long long)delivered,
               o.scenario == SCEN_LATENCY || o.rate_set ? o.rate : 0.0, p50, p90, p99, pmax,
               registered,
               conflicts, (unsigned long long)errors, o.threads, mechanism, client_m1 - client_m0,
               server_cpu, server_setup_cpu, rss_start, rss_m0, rss_m1, last_error_json);
        if (o.scenario == SCEN_MUC)
            printf(",\"room\":\"%s\",\"mode\":\"%s\",\"occupants\":%d,\"senders\":%d,"
                   "\"window\":%d,\"joined\":%d,\"joined_end\":%d,\"join_seconds\":%.3f,"
                   "\"server_join_cpu_s\":%.3f,\"messages_sent\":%llu,\"latency_samples\":%zu,"
                   "\"latency_every\":%u",
                   o.room_jid, o.rate_set ? "rate" : "saturation", o.occupants, o.senders,
                   o.window, joined, joined_end, join_seconds,
                   cpu_j0 >= 0 && cpu_j1 >= 0 ? cpu_j1 - cpu_j0 : -1.0,
                   (unsigned long long)muc_sent_measured, nlat, lat_every);
        printf("}\n");
    } else {
        printf("scenario:   %s (%s)\n", scenario_name(&o), ok ? "ok" : "FAILED");
        switch (o.scenario) {
        case SCEN_LOGIN:
            printf("logins:     %llu in %.2f s = %.1f logins/s (concurrency %d)\n",
                   (unsigned long long)logins, secs, value, o.concurrency);
            break;
        case SCEN_IDLE:
            printf("sessions:   %d of %d up in %.2f s, held %.2f s, %d up at the end\n", ready,
                   needed, setup_seconds, secs, ready_end);
            break;
        case SCEN_CHAT:
            printf("delivered:  %llu messages in %.2f s = %.1f msgs/s (%d pairs, window %d)\n",
                   (unsigned long long)delivered, secs, value, o.pairs, o.window);
            break;
        case SCEN_LATENCY:
            printf("delivered:  %llu messages in %.2f s = %.1f msgs/s (target %.0f)\n",
                   (unsigned long long)delivered, secs, (double)delivered / secs, o.rate);
            printf("latency:    p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n", p50, p90,
                   p99, pmax);
            break;
        case SCEN_REGISTER:
            printf("registered: %d new, %d already existing, of %d\n", registered, conflicts,
                   o.users);
            break;
        case SCEN_MUC:
            printf("room:       %s, %d of %d occupants entered in %.2f s", o.room_jid, joined,
                   o.occupants, join_seconds);
            if (cpu_j0 >= 0 && cpu_j1 >= 0)
                printf(" (server %.2f CPU s)", cpu_j1 - cpu_j0);
            printf("\n");
            printf("sent:       %llu groupchat messages by %d senders = %.1f msgs/s (%s)\n",
                   (unsigned long long)muc_sent_measured, o.senders,
                   (double)muc_sent_measured / secs, o.rate_set ? "fixed rate" : "saturation");
            printf("delivered:  %llu copies in %.2f s = %.1f deliveries/s\n",
                   (unsigned long long)delivered, secs, value);
            printf("latency:    p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms (%zu samples)\n",
                   p50, p90, p99, pmax, nlat);
            if (server_cpu > 0)
                printf("efficiency: %.0f deliveries per server CPU-second\n",
                       (double)delivered / server_cpu);
            break;
        }
        if (mechanism[0])
            printf("sasl:       %s\n", mechanism);
        printf("client cpu: %.2f s during the measurement\n", client_m1 - client_m0);
        if (o.server_pid > 0) {
            printf("server:     pid %d, %.2f CPU s during the measurement (%.2f s before it)\n",
                   o.server_pid, server_cpu, server_setup_cpu);
            printf("server rss: %ld KiB at start, %ld KiB after setup, %ld KiB at the end\n",
                   rss_start, rss_m0, rss_m1);
        }
        printf("errors:     %llu%s%s\n", (unsigned long long)errors, last_error[0] ? " — last: " : "",
               last_error);
    }
    for (int i = 0; i < o.threads; i++) {
        free(ws[i].conns);
        free(ws[i].cache);
        free(ws[i].lat);
        close(ws[i].epfd);
        ws_worker_free(&ws[i]);
    }
    free(ws);
    free(tids);
    SSL_CTX_free(ctx);
    return ok ? 0 : 1;
}

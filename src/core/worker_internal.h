/* worker_internal.h - what the core (not modules) knows about workers:
 * startup/shutdown and the per-worker core state. */
#ifndef ALDIS_WORKER_INTERNAL_H
#define ALDIS_WORKER_INTERNAL_H
#include <stdbool.h>

#include "aldis/worker.h"
#include "aldis/buf.h"
#include "lib/map.h"

struct worker_state {
    struct map sessions; /* session id -> struct session* (this worker's) */
    struct map accounts; /* bare JID -> struct account_core* (owned here) */
    struct map forwards; /* moved session id -> struct forward* (core/session.c) */
    uv_prepare_t flush;  /* flushes connections written during this turn */
    uv_timer_t sweep;    /* periodic: unload idle accounts */
    struct conn *dirty;  /* connections with pending output */
    struct buf tls_scratch; /* TLS output on its way to a socket (net/conn.c) */
    uv_timer_t c2s_idle;    /* stream/c2s.c: releases idle sessions' buffers */
    bool c2s_idle_on;
    void *listeners;     /* net/listener.c private */
    int stopping;
};

/* Start n workers; `init` runs first on each worker's thread. */
int worker_start_all(int n, void (*init)(struct worker *w));
/* Post fn(w, arg) to every worker. */
void worker_broadcast(worker_fn fn, void *arg);
/* Stop every loop and join the threads (handles stay open). */
void worker_stop_threads(void);
/* After worker_stop_threads (and store_close): run leftover mail on the
 * calling thread, then cleanup(w) as each worker, close all handles and
 * free the workers. */
void worker_finish(void (*cleanup)(struct worker *w));
struct worker_state *worker_state(struct worker *w);

#endif

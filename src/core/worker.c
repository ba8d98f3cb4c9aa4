/* worker.c - worker threads, each with one libuv loop and a mailbox.
 *
 * The mailbox is a mutex-protected FIFO of closures plus a uv_async_t to
 * wake the loop; a sender holds the lock for two pointer writes, and the
 * receiver swaps the whole list out at once, so contention stays low. Order
 * is FIFO per sender, which the core relies on (e.g. bind before unbind). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/worker_internal.h"
#include "lib/map.h"

struct mail {
    struct mail *next;
    worker_fn fn;
    void *arg;
};

struct worker {
    int id;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    pthread_mutex_t lock;
    struct mail *head, *tail;
    int closing;
    void (*init)(struct worker *w);
    struct worker_state state;
    pthread_barrier_t *ready;
};

static struct worker *workers;
static int nworkers;
/* Destroyed only in worker_finish: a thread may still be returning from
 * pthread_barrier_wait when the main thread passes it. */
static pthread_barrier_t ready_barrier;
static _Thread_local struct worker *current;

int worker_count(void) { return nworkers; }
struct worker *worker_current(void) { return current; }
struct worker *worker_get(int id) { return (id >= 0 && id < nworkers) ? &workers[id] : NULL; }
int worker_id(const struct worker *w) { return w ? w->id : -1; }
uv_loop_t *worker_loop(struct worker *w) { return &w->loop; }
struct worker_state *worker_state(struct worker *w) { return &w->state; }

int worker_owner_of(const char *bare)
{
    if (nworkers <= 1)
        return 0;
    return (int)(map_hash_str(bare) % (uint64_t)nworkers);
}

void worker_post(int target, worker_fn fn, void *arg)
{
    ALDIS_ASSERT(target >= 0 && target < nworkers);
    struct worker *w = &workers[target];
    struct mail *m = malloc(sizeof *m);
    ALDIS_ASSERT(m != NULL);
    m->next = NULL;
    m->fn = fn;
    m->arg = arg;
    pthread_mutex_lock(&w->lock);
    int was_empty = w->head == NULL;
    if (w->tail)
        w->tail->next = m;
    else
        w->head = m;
    w->tail = m;
    pthread_mutex_unlock(&w->lock);
    /* uv_async_send coalesces; only needed when the list was empty, but a
     * spurious send is harmless and avoids a lost wake-up race. */
    (void)was_empty;
    uv_async_send(&w->wake);
}

static void on_wake(uv_async_t *h)
{
    struct worker *w = h->data;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        struct mail *m = w->head;
        w->head = w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        if (!m)
            return;
        while (m) {
            struct mail *next = m->next;
            m->fn(w, m->arg);
            free(m);
            m = next;
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    current = w;
    w->init(w);
    pthread_barrier_wait(w->ready);
    while (!w->closing)
        uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

int worker_start_all(int n, void (*init)(struct worker *w))
{
    workers = calloc((size_t)n, sizeof *workers);
    if (!workers)
        return ALDIS_ENOMEM;
    nworkers = n;
    pthread_barrier_init(&ready_barrier, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        struct worker *w = &workers[i];
        w->id = i;
        w->init = init;
        w->ready = &ready_barrier;
        pthread_mutex_init(&w->lock, NULL);
        uv_loop_init(&w->loop);
        uv_async_init(&w->loop, &w->wake, on_wake);
        w->wake.data = w;
        map_init(&w->state.sessions, 1);
        map_init(&w->state.accounts, 0);
        map_init(&w->state.forwards, 1);
    }
    for (int i = 0; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            log_error("worker", "cannot start worker thread %d", i);
            abort();
        }
    pthread_barrier_wait(&ready_barrier);
    return 0;
}

void worker_broadcast(worker_fn fn, void *arg)
{
    for (int i = 0; i < nworkers; i++)
        worker_post(i, fn, arg);
}

static void stop_loop(struct worker *w, void *arg)
{
    (void)arg;
    w->closing = 1;
    uv_stop(&w->loop);
}

void worker_stop_threads(void)
{
    worker_broadcast(stop_loop, NULL);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i].thread, NULL);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void worker_finish(void (*cleanup)(struct worker *w))
{
    /* The threads have exited. Run what is still in the mailboxes on this
     * thread, as that worker, so closures free what they own; then close
     * every handle and the loops. */
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < nworkers; i++) {
            current = &workers[i];
            on_wake(&workers[i].wake);
            uv_run(&workers[i].loop, UV_RUN_NOWAIT);
        }
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        current = w;
        if (cleanup)
            cleanup(w);
        uv_walk(&w->loop, close_any, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        on_wake(&w->wake);
        uv_loop_close(&w->loop);
        buf_free(&w->state.tls_scratch);
        pthread_mutex_destroy(&w->lock);
        map_free(&w->state.sessions);
        map_free(&w->state.accounts);
        map_free(&w->state.forwards);
    }
    current = NULL;
    pthread_barrier_destroy(&ready_barrier);
    free(workers);
    workers = NULL;
    nworkers = 0;
}

/* worker.h - W worker threads, each with its own libuv loop and mailbox.
 * Every piece of mutable state has exactly one owner worker; owners talk only
 * by posting closures through worker_post (MPSC queue + uv_async). */
#ifndef ALDIS_WORKER_H
#define ALDIS_WORKER_H
#include <stdint.h>
#include <uv.h>

struct worker;
typedef void (*worker_fn)(struct worker *w, void *arg);

/* Number of workers and the worker running the calling thread (NULL on a
 * thread that is not a worker, e.g. the store thread or aldisctl). */
int worker_count(void);
struct worker *worker_current(void);
struct worker *worker_get(int id);
int worker_id(const struct worker *w);
uv_loop_t *worker_loop(struct worker *w);

/* Run fn(target, arg) on the target worker's thread, after everything posted
 * to it earlier by the same thread (FIFO per sender). If the target is the
 * calling worker, fn still runs later from the loop (never re-entrantly).
 * Never fails (allocation failure is fatal). */
void worker_post(int target, worker_fn fn, void *arg);

/* The owner worker of a bare JID (or room, node...): a stable hash. */
int worker_owner_of(const char *bare);

#endif

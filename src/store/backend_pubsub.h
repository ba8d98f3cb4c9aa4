/* backend_pubsub.h - the synchronous PubSub part of a storage backend.
 *
 * A backend that stores PubSub nodes points `store_backend_ops.pubsub` at a
 * table of these functions (sqlite/sqlite_pubsub.c for SQLite); callers use
 * the backend_pubsub_* wrappers, which answer ALDIS_ENOTHANDLED for a
 * backend without one. Same conventions as backend.h: 0 or a negative
 * ALDIS_E* code, results malloc'd and freed with backend_pubsub_nodes_free. */
#ifndef ALDIS_STORE_BACKEND_PUBSUB_H
#define ALDIS_STORE_BACKEND_PUBSUB_H
#include <stddef.h>
#include <stdint.h>

#include "aldis/error.h"
#include "aldis/store_pubsub.h"
#include "store/backend.h"

struct store_pubsub_ops {
    int (*load)(struct store_backend *b, const char *service,
                struct pubsub_node_rec **nodes, size_t *n);
    int (*node_put)(struct store_backend *b, const char *service, const char *node,
                    const char *config);
    int (*node_del)(struct store_backend *b, const char *service, const char *node);
    int (*item_put)(struct store_backend *b, const char *service, const char *node,
                    const char *id, const char *xml, size_t len, const char *publisher,
                    int64_t max_items);
    int (*item_del)(struct store_backend *b, const char *service, const char *node,
                    const char *id);
    int (*purge)(struct store_backend *b, const char *service, const char *node);
};

extern const struct store_pubsub_ops sqlite_pubsub_ops;

/* The schema of the SQLite PubSub tables (one migration of sqlite_store.c)
 * and the deletion of everything a deleted account published. */
extern const char sqlite__pubsub_schema[];
int sqlite__pubsub_owner_del(struct store_backend *b, const char *bare);

/* What sqlite_store.c lends its PubSub half: the connection, and the
 * logging of a database failure (returns ALDIS_ESTORE). */
struct sqlite3;
struct sqlite3 *sqlite__db(struct store_backend *b);
int sqlite__fail(struct store_backend *b, const char *what);

void backend_pubsub_nodes_free(struct pubsub_node_rec *nodes, size_t n);

#define BACKEND_PUBSUB_CALL(b, fn, ...)                                                 \
    ((b)->ops->pubsub ? (b)->ops->pubsub->fn((b), __VA_ARGS__) : ALDIS_ENOTHANDLED)

/* Every node of `service` with its items (oldest first). */
static inline int backend_pubsub_load(struct store_backend *b, const char *service,
                                      struct pubsub_node_rec **nodes, size_t *n)
{
    *nodes = NULL;
    *n = 0;
    return BACKEND_PUBSUB_CALL(b, load, service, nodes, n);
}

static inline int backend_pubsub_node_put(struct store_backend *b, const char *service,
                                          const char *node, const char *config)
{
    return BACKEND_PUBSUB_CALL(b, node_put, service, node, config);
}

static inline int backend_pubsub_node_del(struct store_backend *b, const char *service,
                                          const char *node)
{
    return BACKEND_PUBSUB_CALL(b, node_del, service, node);
}

static inline int backend_pubsub_item_put(struct store_backend *b, const char *service,
                                          const char *node, const char *id, const char *xml,
                                          size_t len, const char *publisher, int64_t max_items)
{
    return BACKEND_PUBSUB_CALL(b, item_put, service, node, id, xml, len, publisher, max_items);
}

static inline int backend_pubsub_item_del(struct store_backend *b, const char *service,
                                          const char *node, const char *id)
{
    return BACKEND_PUBSUB_CALL(b, item_del, service, node, id);
}

static inline int backend_pubsub_purge(struct store_backend *b, const char *service,
                                       const char *node)
{
    return BACKEND_PUBSUB_CALL(b, purge, service, node);
}

/* Run `run(backend, arg)` on the store thread in FIFO order with every other
 * request, then `done(arg, err)` with its result on the calling worker (on
 * the store thread when the caller is not a worker). When the store is not
 * running, done gets ALDIS_ECLOSED without run. done always runs once and
 * must free arg. Defined in store.c; used by store_pubsub.c. */
void store__call(int (*run)(struct store_backend *b, void *arg),
                 void (*done)(void *arg, int err), void *arg);

#endif

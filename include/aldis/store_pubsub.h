/* store_pubsub.h - asynchronous storage of PubSub nodes and items (XEP-0060),
 * used by PEP (XEP-0163: one service per account, named by its bare JID) and
 * later by a PubSub component (service = its domain).
 *
 * Same rules as store.h: calls are made on a worker, run in FIFO order on
 * the store thread, and the callback (may be NULL) runs once on the calling
 * worker. Everything given is copied; result memory lives only during the
 * callback. A node's configuration is an opaque string owned by the caller
 * (mod_pep keeps "key=value" lines); an item is its id plus its payload
 * serialised as XML (empty for a notification-only item). */
#ifndef ALDIS_STORE_PUBSUB_H
#define ALDIS_STORE_PUBSUB_H
#include <stddef.h>
#include <stdint.h>

#include "aldis/store.h"

struct pubsub_item_rec {
    char *id;
    char *publisher; /* full or bare JID of the publisher, may be NULL */
    int64_t stamp;   /* seconds since the epoch, when published */
    char *xml;       /* payload, NUL-terminated */
    size_t len;
};

struct pubsub_node_rec {
    char *node;
    char *config;
    struct pubsub_item_rec *items; /* oldest first */
    size_t nitems;
};

typedef void (*store_pubsub_load_cb)(void *ud, int err, const struct pubsub_node_rec *nodes,
                                     size_t n);

/* Every node of `service` with its items. No node is not an error (n 0). */
void store_pubsub_load(const char *service, store_pubsub_load_cb cb, void *ud);
/* Create the node or replace its configuration (its items stay). */
void store_pubsub_node_put(const char *service, const char *node, const char *config,
                           store_done_cb cb, void *ud);
/* Delete the node and its items; ALDIS_ENOTFOUND when absent. */
void store_pubsub_node_del(const char *service, const char *node, store_done_cb cb, void *ud);
/* Store an item (replacing one with the same id, which becomes the newest),
 * then keep only the newest `max_items` items of the node (max_items <= 0:
 * no limit). The node must exist (ALDIS_ENOTFOUND otherwise). */
void store_pubsub_item_put(const char *service, const char *node, const char *id,
                           const char *xml, size_t len, const char *publisher,
                           int64_t max_items, store_done_cb cb, void *ud);
/* Delete one item; ALDIS_ENOTFOUND when absent. */
void store_pubsub_item_del(const char *service, const char *node, const char *id,
                           store_done_cb cb, void *ud);
/* Delete every item of the node (the node stays). */
void store_pubsub_purge(const char *service, const char *node, store_done_cb cb, void *ud);

#endif

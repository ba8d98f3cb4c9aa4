/* store_pubsub.c - the asynchronous PubSub requests (aldis/store_pubsub.h):
 * each one copies its arguments, runs its backend_pubsub_* call on the store
 * thread through store__call (so it keeps FIFO order with every other store
 * request of the same worker) and answers on the calling worker. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store_pubsub.h"
#include "store/backend_pubsub.h"

enum ps_op { PS_LOAD, PS_NODE_PUT, PS_NODE_DEL, PS_ITEM_PUT, PS_ITEM_DEL, PS_PURGE };

struct ps_req {
    enum ps_op op;
    union {
        store_done_cb done;
        store_pubsub_load_cb load;
    } cb;
    void *ud;
    char *service, *node, *id, *config, *publisher, *xml;
    size_t len;
    int64_t max_items;
    struct pubsub_node_rec *nodes; /* PS_LOAD result */
    size_t nnodes;
};

static char *ps_dup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    ALDIS_ASSERT(d != NULL);
    return d;
}

static struct ps_req *ps_req_new(enum ps_op op, const char *service, const char *node, void *ud)
{
    struct ps_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->op = op;
    r->ud = ud;
    r->service = ps_dup(service);
    r->node = ps_dup(node);
    return r;
}

static int ps_run(struct store_backend *b, void *arg)
{
    struct ps_req *r = arg;
    switch (r->op) {
    case PS_LOAD:
        return backend_pubsub_load(b, r->service, &r->nodes, &r->nnodes);
    case PS_NODE_PUT:
        return backend_pubsub_node_put(b, r->service, r->node, r->config);
    case PS_NODE_DEL:
        return backend_pubsub_node_del(b, r->service, r->node);
    case PS_ITEM_PUT:
        return backend_pubsub_item_put(b, r->service, r->node, r->id, r->xml, r->len,
                                       r->publisher, r->max_items);
    case PS_ITEM_DEL:
        return backend_pubsub_item_del(b, r->service, r->node, r->id);
    case PS_PURGE:
        return backend_pubsub_purge(b, r->service, r->node);
    }
    return ALDIS_EINVAL;
}

static void ps_done(void *arg, int err)
{
    struct ps_req *r = arg;
    if (r->op == PS_LOAD) {
        if (r->cb.load)
            r->cb.load(r->ud, err, err ? NULL : r->nodes, err ? 0 : r->nnodes);
    } else if (r->cb.done) {
        r->cb.done(r->ud, err);
    } else if (err && err != ALDIS_ENOTFOUND) {
        /* Fire-and-forget writes would otherwise fail silently. */
        log_warn("store", "pubsub write for %s node %s failed: %s", r->service,
                 r->node ? r->node : "-", aldis_strerror(err));
    }
    backend_pubsub_nodes_free(r->nodes, r->nnodes);
    free(r->service);
    free(r->node);
    free(r->id);
    free(r->config);
    free(r->publisher);
    free(r->xml);
    free(r);
}

void store_pubsub_load(const char *service, store_pubsub_load_cb cb, void *ud)
{
    struct ps_req *r = ps_req_new(PS_LOAD, service, NULL, ud);
    r->cb.load = cb;
    store__call(ps_run, ps_done, r);
}

void store_pubsub_node_put(const char *service, const char *node, const char *config,
                           store_done_cb cb, void *ud)
{
    struct ps_req *r = ps_req_new(PS_NODE_PUT, service, node, ud);
    r->cb.done = cb;
    r->config = ps_dup(config);
    store__call(ps_run, ps_done, r);
}

void store_pubsub_node_del(const char *service, const char *node, store_done_cb cb, void *ud)
{
    struct ps_req *r = ps_req_new(PS_NODE_DEL, service, node, ud);
    r->cb.done = cb;
    store__call(ps_run, ps_done, r);
}

void store_pubsub_item_put(const char *service, const char *node, const char *id,
                           const char *xml, size_t len, const char *publisher,
                           int64_t max_items, store_done_cb cb, void *ud)
{
    struct ps_req *r = ps_req_new(PS_ITEM_PUT, service, node, ud);
    r->cb.done = cb;
    r->id = ps_dup(id);
    r->publisher = ps_dup(publisher);
    r->xml = malloc(len + 1);
    ALDIS_ASSERT(r->xml != NULL);
    if (len)
        memcpy(r->xml, xml, len);
    r->xml[len] = '\0';
    r->len = len;
    r->max_items = max_items;
    store__call(ps_run, ps_done, r);
}

void store_pubsub_item_del(const char *service, const char *node, const char *id,
                           store_done_cb cb, void *ud)
{
    struct ps_req *r = ps_req_new(PS_ITEM_DEL, service, node, ud);
    r->cb.done = cb;
    r->id = ps_dup(id);
    store__call(ps_run, ps_done, r);
}

void store_pubsub_purge(const char *service, const char *node, store_done_cb cb, void *ud)
{
    struct ps_req *r = ps_req_new(PS_PURGE, service, node, ud);
    r->cb.done = cb;
    store__call(ps_run, ps_done, r);
}

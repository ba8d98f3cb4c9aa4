/* store_labels.c - the asynchronous clearance requests (aldis/store_labels.h):
 * each copies its arguments, runs its backend_labels_* call on the store
 * thread through store__call (FIFO with every other store request) and
 * answers on the calling worker. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store_labels.h"
#include "store/backend_labels.h"
#include "store/backend_pubsub.h" /* store__call */

enum lb_op { LB_GET, LB_PUT, LB_DEL };

struct lb_req {
    enum lb_op op;
    union {
        store_done_cb done;
        store_labels_get_cb get;
    } cb;
    void *ud;
    char *subject;
    char *clearance; /* LB_PUT argument, LB_GET result */
};

static int lb_run(struct store_backend *b, void *arg)
{
    struct lb_req *r = arg;
    switch (r->op) {
    case LB_GET:
        return backend_labels_get(b, r->subject, &r->clearance);
    case LB_PUT:
        return backend_labels_put(b, r->subject, r->clearance);
    case LB_DEL:
        return backend_labels_del(b, r->subject);
    }
    return ALDIS_EINVAL;
}

static void lb_done(void *arg, int err)
{
    struct lb_req *r = arg;
    if (r->op == LB_GET) {
        if (r->cb.get)
            r->cb.get(r->ud, err, err ? NULL : r->clearance);
    } else if (r->cb.done) {
        r->cb.done(r->ud, err);
    } else if (err && err != ALDIS_ENOTFOUND) {
        log_warn("store", "clearance write for %s failed: %s", r->subject, aldis_strerror(err));
    }
    free(r->subject);
    free(r->clearance);
    free(r);
}

static struct lb_req *lb_req_new(enum lb_op op, const char *subject, void *ud)
{
    struct lb_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->op = op;
    r->ud = ud;
    r->subject = strdup(subject);
    ALDIS_ASSERT(r->subject != NULL);
    return r;
}

void store_labels_get(const char *subject, store_labels_get_cb cb, void *ud)
{
    struct lb_req *r = lb_req_new(LB_GET, subject, ud);
    r->cb.get = cb;
    store__call(lb_run, lb_done, r);
}

void store_labels_put(const char *subject, const char *clearance, store_done_cb cb, void *ud)
{
    struct lb_req *r = lb_req_new(LB_PUT, subject, ud);
    r->cb.done = cb;
    r->clearance = strdup(clearance);
    ALDIS_ASSERT(r->clearance != NULL);
    store__call(lb_run, lb_done, r);
}

void store_labels_del(const char *subject, store_done_cb cb, void *ud)
{
    struct lb_req *r = lb_req_new(LB_DEL, subject, ud);
    r->cb.done = cb;
    store__call(lb_run, lb_done, r);
}

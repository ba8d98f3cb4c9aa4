/* store_upload.c - the asynchronous XEP-0363 upload requests
 * (aldis/store_upload.h): each copies its arguments, runs its
 * backend_upload_* call on the store thread through store__call (FIFO with
 * every other store request of the same worker) and answers on the calling
 * worker. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store_upload.h"
#include "store/backend_pubsub.h" /* store__call */
#include "store/backend_upload.h"

enum up_op { UP_ADD, UP_GET, UP_COMPLETE, UP_DEL, UP_SWEEP };

struct up_req {
    enum up_op op;
    union {
        store_done_cb done;
        store_upload_add_cb add;
        store_upload_get_cb get;
        store_upload_sweep_cb sweep;
    } cb;
    void *ud;
    struct upload_rec rec; /* UP_ADD argument, UP_GET result; rec.id for the others */
    uint64_t quota;
    struct upload_usage usage;
    int64_t files_before, slots_before;
    size_t limit;
    char **ids; /* UP_SWEEP result */
    size_t nids;
};

static char *up_dup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    ALDIS_ASSERT(d != NULL);
    return d;
}

static struct up_req *up_req_new(enum up_op op, const char *id, void *ud)
{
    struct up_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->op = op;
    r->ud = ud;
    r->rec.id = up_dup(id);
    return r;
}

static int up_run(struct store_backend *b, void *arg)
{
    struct up_req *r = arg;
    switch (r->op) {
    case UP_ADD:
        return backend_upload_add(b, &r->rec, r->quota, &r->usage);
    case UP_GET: {
        char *id = r->rec.id;
        int rc = backend_upload_get(b, id, &r->rec);
        free(id); /* replaced by the row's own copy (or cleared) */
        return rc;
    }
    case UP_COMPLETE:
        return backend_upload_complete(b, r->rec.id);
    case UP_DEL:
        return backend_upload_del(b, r->rec.id);
    case UP_SWEEP:
        return backend_upload_sweep(b, r->files_before, r->slots_before, r->limit, &r->ids,
                                    &r->nids);
    }
    return ALDIS_EINVAL;
}

static void up_done(void *arg, int err)
{
    struct up_req *r = arg;
    switch (r->op) {
    case UP_ADD:
        if (r->cb.add)
            r->cb.add(r->ud, err, &r->usage);
        break;
    case UP_GET:
        if (r->cb.get)
            r->cb.get(r->ud, err, err ? NULL : &r->rec);
        break;
    case UP_SWEEP:
        if (r->cb.sweep)
            r->cb.sweep(r->ud, err, err ? NULL : r->ids, err ? 0 : r->nids);
        break;
    case UP_COMPLETE:
    case UP_DEL:
        if (r->cb.done)
            r->cb.done(r->ud, err);
        else if (err && err != ALDIS_ENOTFOUND)
            log_warn("store", "upload write for slot %s failed: %s",
                     r->rec.id ? r->rec.id : "-", aldis_strerror(err));
        break;
    }
    backend_upload_rec_clear(&r->rec);
    backend_upload_ids_free(r->ids, r->nids);
    free(r);
}

void store_upload_add(const struct upload_rec *rec, uint64_t quota, store_upload_add_cb cb,
                      void *ud)
{
    struct up_req *r = up_req_new(UP_ADD, rec->id, ud);
    r->cb.add = cb;
    r->rec.owner = up_dup(rec->owner);
    r->rec.filename = up_dup(rec->filename);
    r->rec.content_type = up_dup(rec->content_type);
    r->rec.label = up_dup(rec->label);
    r->rec.size = rec->size;
    r->rec.created = rec->created;
    r->rec.expires = rec->expires;
    r->rec.completed = rec->completed;
    r->quota = quota;
    store__call(up_run, up_done, r);
}

void store_upload_get(const char *id, store_upload_get_cb cb, void *ud)
{
    struct up_req *r = up_req_new(UP_GET, id, ud);
    r->cb.get = cb;
    store__call(up_run, up_done, r);
}

void store_upload_complete(const char *id, store_done_cb cb, void *ud)
{
    struct up_req *r = up_req_new(UP_COMPLETE, id, ud);
    r->cb.done = cb;
    store__call(up_run, up_done, r);
}

void store_upload_del(const char *id, store_done_cb cb, void *ud)
{
    struct up_req *r = up_req_new(UP_DEL, id, ud);
    r->cb.done = cb;
    store__call(up_run, up_done, r);
}

void store_upload_sweep(int64_t files_before, int64_t slots_before, size_t limit,
                        store_upload_sweep_cb cb, void *ud)
{
    struct up_req *r = up_req_new(UP_SWEEP, NULL, ud);
    r->cb.sweep = cb;
    r->files_before = files_before;
    r->slots_before = slots_before;
    r->limit = limit;
    store__call(up_run, up_done, r);
}

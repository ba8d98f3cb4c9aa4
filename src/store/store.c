/* store.c - the asynchronous store (aldis/store.h): one store thread owns
 * the backend connection and runs requests from a FIFO queue; each result
 * goes back to the worker that asked, through worker_post.
 *
 * Threads: store_* request functions may be called from any thread. The
 * callback runs on the calling worker's thread, or - when the caller is not a
 * worker (worker_current() == NULL: unit tests, aldisctl, startup code) - on
 * the store thread itself, so such callers must synchronise on their own.
 * Memory: a request copies every argument it is given, so the caller's
 * buffers may go away at once; the result memory handed to a callback is
 * freed as soon as the callback returns. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "aldis/worker.h"
#include "store/backend.h"
#include "store/backend_pubsub.h"

enum store_op {
    OP_USER_GET = 0,
    OP_ROSTER_LOAD,
    OP_ROSTER_PUT,
    OP_ROSTER_DEL,
    OP_KV_GET,
    OP_KV_PUT,
    OP_KV_DEL,
    OP_OFFLINE_PUSH,
    OP_OFFLINE_POP,
    OP_CALL, /* store__call: a request made by another store_*.c file */
    OP_ARCHIVE_APPEND,
    OP_ARCHIVE_QUERY,
    OP_ARCHIVE_UPDATE,
    OP_ARCHIVE_PURGE,
    OP_ARCHIVE_DELETE,
};

static const char *const op_names[] = {
    "user get", "roster load", "roster put", "roster delete", "kv get",
    "kv put", "kv delete", "offline push", "offline pop", "call",
    "archive append", "archive query", "archive update", "archive purge",
};

/* An archive query with its own copies of every string it points to. */
struct archive_query_copy {
    struct archive_query q;
    char *strs[8];
    char **ids;
};

/* Appends that arrive back to back are written in one transaction (one
 * commit per batch instead of one per message); this bounds a batch so a
 * flood of appends cannot delay the requests queued behind it for long. */
#define ARCHIVE_BATCH_MAX 64

/* One request: arguments (owned copies), where to answer, and the result.
 * Owned by the queue, then the store thread, then the answering thread. */
struct store_req {
    struct store_req *next;
    enum store_op op;
    int caller; /* worker id, or -1 when the caller was not a worker */
    union {
        store_done_cb done;
        store_creds_cb creds;
        store_roster_cb roster;
        store_kv_cb kv;
        store_offline_cb offline;
        store_archive_cb archive;
        store_count_cb count;
    } cb;
    bool has_cb;
    void *ud;

    /* arguments */
    char *host, *user, *bare, *key, *contact;
    char *data;
    size_t len;
    int64_t max;
    struct roster_item item;
    int (*call_run)(struct store_backend *b, void *arg); /* OP_CALL, arg = ud */
    void (*call_done)(void *arg, int err);
    struct archive_item aitem;         /* OP_ARCHIVE_APPEND */
    struct archive_query_copy aquery;  /* OP_ARCHIVE_QUERY */

    /* results */
    int err;
    struct scram_keys keys;
    struct roster_item *items;
    size_t nitems;
    int64_t version;
    char *value;
    size_t vlen;
    struct offline_msg *msgs;
    size_t nmsgs;
    struct archive_page page;
    int64_t count;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_req *head, *tail;
    bool running;  /* the thread exists */
    bool stopping; /* store_close called: accept nothing new */
    pthread_t thread;
    struct store_backend *backend;
} store = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Out of memory is fatal in Aldis (see buf.h): no half-made requests. */
static struct store_req *req_new(enum store_op op, void *ud)
{
    struct store_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->op = op;
    r->ud = ud;
    struct worker *w = worker_current();
    r->caller = w ? worker_id(w) : -1;
    return r;
}

static void req_free(struct store_req *r)
{
    free(r->host);
    free(r->user);
    free(r->bare);
    free(r->key);
    free(r->contact);
    free(r->data);
    free(r->item.jid);
    free(r->item.name);
    for (size_t g = 0; g < r->item.ngroups; g++)
        free(r->item.groups[g]);
    free(r->item.groups);
    free(r->item.pending_stanza);
    backend_roster_items_free(r->items, r->nitems);
    free(r->value);
    backend_offline_msgs_free(r->msgs, r->nmsgs);
    backend_archive_item_clear(&r->aitem);
    for (size_t i = 0; i < sizeof r->aquery.strs / sizeof r->aquery.strs[0]; i++)
        free(r->aquery.strs[i]);
    for (size_t i = 0; r->aquery.ids && i < r->aquery.q.nids; i++)
        free(r->aquery.ids[i]);
    free(r->aquery.ids);
    backend_archive_page_clear(&r->page);
    free(r);
}

/* Run the callback with the result, then free everything. */
static void req_complete(struct store_req *r)
{
    switch (r->op) {
    case OP_USER_GET:
        if (r->cb.creds)
            r->cb.creds(r->ud, r->err, r->err ? NULL : &r->keys);
        break;
    case OP_ROSTER_LOAD:
        if (r->cb.roster)
            r->cb.roster(r->ud, r->err, r->items, r->nitems, r->version);
        break;
    case OP_KV_GET:
        if (r->cb.kv)
            r->cb.kv(r->ud, r->err, r->value, r->vlen);
        break;
    case OP_OFFLINE_POP:
        if (r->cb.offline)
            r->cb.offline(r->ud, r->err, r->msgs, r->nmsgs);
        break;
    case OP_CALL:
        r->call_done(r->ud, r->err);
        break;
    case OP_ARCHIVE_QUERY:
        if (r->cb.archive)
            r->cb.archive(r->ud, r->err, r->err ? NULL : &r->page);
        break;
    case OP_ARCHIVE_PURGE:
    case OP_ARCHIVE_DELETE:
        if (r->cb.count)
            r->cb.count(r->ud, r->err, r->count);
        break;
    case OP_ARCHIVE_APPEND:
    case OP_ARCHIVE_UPDATE:
    case OP_ROSTER_PUT:
    case OP_ROSTER_DEL:
    case OP_KV_PUT:
    case OP_KV_DEL:
    case OP_OFFLINE_PUSH:
        if (r->cb.done)
            r->cb.done(r->ud, r->err);
        break;
    }
    /* Credentials do not linger in freed memory. */
    memset(&r->keys, 0, sizeof r->keys);
    req_free(r);
}

static void req_complete_on_worker(struct worker *w, void *arg)
{
    req_complete(arg);
}

static bool req_has_cb(const struct store_req *r)
{
    return r->has_cb;
}

/* Hand a finished request back to its caller's thread. */
static void req_answer(struct store_req *r)
{
    if (!req_has_cb(r))
        req_free(r);
    else if (r->caller >= 0)
        worker_post(r->caller, req_complete_on_worker, r);
    else
        req_complete(r);
}

static void req_run(struct store_backend *b, struct store_req *r)
{
    switch (r->op) {
    case OP_USER_GET:
        r->err = backend_user_get(b, r->host, r->user, &r->keys);
        break;
    case OP_ROSTER_LOAD:
        r->err = backend_roster_load(b, r->bare, &r->items, &r->nitems, &r->version);
        break;
    case OP_ROSTER_PUT:
        r->err = backend_roster_put(b, r->bare, &r->item);
        break;
    case OP_ROSTER_DEL:
        r->err = backend_roster_del(b, r->bare, r->contact);
        break;
    case OP_KV_GET:
        r->err = backend_kv_get(b, r->bare, r->key, &r->value, &r->vlen);
        break;
    case OP_KV_PUT:
        r->err = backend_kv_put(b, r->bare, r->key, r->data, r->len);
        break;
    case OP_KV_DEL:
        r->err = backend_kv_del(b, r->bare, r->key);
        break;
    case OP_OFFLINE_PUSH:
        r->err = backend_offline_push(b, r->bare, r->data, r->len, r->max);
        break;
    case OP_OFFLINE_POP:
        r->err = backend_offline_pop(b, r->bare, &r->msgs, &r->nmsgs);
        break;
    case OP_CALL:
        r->err = r->call_run(b, r->ud);
        break;
    case OP_ARCHIVE_APPEND: {
        /* A batch of one; store_thread_main batches consecutive ones. */
        struct archive_append_row row = {r->bare, &r->aitem, 0};
        backend_archive_append(b, &row, 1);
        r->err = row.err;
        break;
    }
    case OP_ARCHIVE_QUERY:
        r->err = backend_archive_query(b, &r->aquery.q, &r->page);
        break;
    case OP_ARCHIVE_UPDATE:
        r->err = backend_archive_update(b, r->bare, r->key, r->data, r->len,
                                        (unsigned)r->max);
        break;
    case OP_ARCHIVE_PURGE:
        r->err = backend_archive_purge(b, r->max, (int64_t)r->len, &r->count);
        break;
    case OP_ARCHIVE_DELETE:
        r->err = backend_archive_delete(b, r->bare, &r->count);
        break;
    }
    /* Write failures with no callback would otherwise vanish silently. */
    if (r->err && r->err != ALDIS_ENOTFOUND && !req_has_cb(r))
        log_warn("store", "%s for %s failed: %s", op_names[r->op],
                 r->bare ? r->bare : "?", aldis_strerror(r->err));
}

/* Run a chain of n archive appends as one backend batch. */
static void archive_append_batch(struct store_backend *b, struct store_req *first,
                                 size_t n)
{
    struct archive_append_row rows[ARCHIVE_BATCH_MAX];
    struct store_req *r = first;
    for (size_t i = 0; i < n; i++, r = r->next)
        rows[i] = (struct archive_append_row){r->bare, &r->aitem, 0};
    backend_archive_append(b, rows, n);
    r = first;
    for (size_t i = 0; i < n; i++, r = r->next) {
        r->err = rows[i].err;
        if (r->err && !req_has_cb(r))
            log_warn("store", "archive append for %s failed: %s", r->bare,
                     aldis_strerror(r->err));
    }
}

static void *store_thread_main(void *arg)
{
    struct store_backend *b = arg;
    for (;;) {
        pthread_mutex_lock(&store.mu);
        while (!store.head && !store.stopping)
            pthread_cond_wait(&store.cv, &store.mu);
        struct store_req *r = store.head;
        if (!r) { /* stopping and drained */
            pthread_mutex_unlock(&store.mu);
            break;
        }
        store.head = r->next;
        /* Take the archive appends queued right behind this one too: they
         * go to the database in one transaction. The FIFO order with every
         * other request is kept, since only a consecutive run is taken. */
        size_t nbatch = 1;
        if (r->op == OP_ARCHIVE_APPEND) {
            struct store_req *last = r;
            while (store.head && store.head->op == OP_ARCHIVE_APPEND &&
                   nbatch < ARCHIVE_BATCH_MAX) {
                last = store.head;
                store.head = store.head->next;
                nbatch++;
            }
            last->next = NULL;
        } else {
            r->next = NULL;
        }
        if (!store.head)
            store.tail = NULL;
        pthread_mutex_unlock(&store.mu);

        if (nbatch > 1)
            archive_append_batch(b, r, nbatch);
        else
            req_run(b, r);
        while (r) {
            struct store_req *next = r->next;
            r->next = NULL;
            req_answer(r);
            r = next;
        }
    }
    return NULL;
}

/* Queue a request, or answer it at once with ALDIS_ECLOSED when the store is
 * not running (the callback still runs exactly once, never re-entrantly on a
 * worker: it is posted like any other answer). */
static void req_submit(struct store_req *r)
{
    pthread_mutex_lock(&store.mu);
    if (store.running && !store.stopping) {
        if (store.tail)
            store.tail->next = r;
        else
            store.head = r;
        store.tail = r;
        pthread_cond_signal(&store.cv);
        pthread_mutex_unlock(&store.mu);
        return;
    }
    pthread_mutex_unlock(&store.mu);
    r->err = ALDIS_ECLOSED;
    req_answer(r);
}

int store_open(const char *backend, const char *path)
{
    char err[512];
    int rc = 0;

    pthread_mutex_lock(&store.mu);
    if (store.running) {
        rc = ALDIS_EEXIST;
        goto out;
    }
    struct store_backend *b = backend_open(backend, path, err, sizeof err);
    if (!b) {
        log_error("store", "%s", err);
        rc = ALDIS_ESTORE;
        goto out;
    }
    store.backend = b;
    store.stopping = false;
    store.head = store.tail = NULL;
    if (pthread_create(&store.thread, NULL, store_thread_main, b) != 0) {
        log_error("store", "cannot start the store thread");
        backend_close(b);
        store.backend = NULL;
        rc = ALDIS_ESTORE;
        goto out;
    }
    store.running = true;
    log_info("store", "%s store open: %s", backend ? backend : "sqlite", path);
out:
    pthread_mutex_unlock(&store.mu);
    return rc;
}

void store_close(void)
{
    pthread_mutex_lock(&store.mu);
    if (!store.running || store.stopping) {
        pthread_mutex_unlock(&store.mu);
        return;
    }
    /* New requests are refused from here on; queued ones all complete. */
    store.stopping = true;
    pthread_cond_signal(&store.cv);
    pthread_mutex_unlock(&store.mu);

    pthread_join(store.thread, NULL);
    backend_close(store.backend);

    pthread_mutex_lock(&store.mu);
    store.backend = NULL;
    store.running = false;
    store.stopping = false;
    pthread_mutex_unlock(&store.mu);
}

/* ---- requests -------------------------------------------------------- */

void store_user_get(const char *host, const char *user, store_creds_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_USER_GET, ud);
    r->cb.creds = cb;
    r->has_cb = cb != NULL;
    r->host = aldis_strdup(host);
    r->user = aldis_strdup(user);
    req_submit(r);
}

void store_roster_load(const char *bare, store_roster_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_ROSTER_LOAD, ud);
    r->cb.roster = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(bare);
    req_submit(r);
}

void store_roster_put(const char *bare, const struct roster_item *item,
                      store_done_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_ROSTER_PUT, ud);
    r->cb.done = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(bare);
    ALDIS_ASSERT(backend_roster_item_copy(&r->item, item) == 0);
    req_submit(r);
}

void store_roster_del(const char *bare, const char *contact, store_done_cb cb,
                      void *ud)
{
    struct store_req *r = req_new(OP_ROSTER_DEL, ud);
    r->cb.done = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(bare);
    r->contact = aldis_strdup(contact);
    req_submit(r);
}

void store_kv_get(const char *bare, const char *key, store_kv_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_KV_GET, ud);
    r->cb.kv = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(bare);
    r->key = aldis_strdup(key);
    req_submit(r);
}

/* Copy a binary buffer (NUL-terminated for convenience). */
static char *dup_mem(const char *p, size_t len)
{
    char *d = malloc(len + 1);
    ALDIS_ASSERT(d != NULL);
    if (len)
        memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

void store_kv_put(const char *bare, const char *key, const char *value,
                  size_t len, store_done_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_KV_PUT, ud);
    r->cb.done = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(bare);
    r->key = aldis_strdup(key);
    r->data = dup_mem(value, len);
    r->len = len;
    req_submit(r);
}

void store_kv_del(const char *bare, const char *key, store_done_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_KV_DEL, ud);
    r->cb.done = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(bare);
    r->key = aldis_strdup(key);
    req_submit(r);
}

void store_offline_push(const char *bare, const char *xml, size_t len,
                        int64_t max, store_done_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_OFFLINE_PUSH, ud);
    r->cb.done = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(bare);
    r->data = dup_mem(xml, len);
    r->len = len;
    r->max = max;
    req_submit(r);
}

void store_offline_pop(const char *bare, store_offline_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_OFFLINE_POP, ud);
    r->cb.offline = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(bare);
    req_submit(r);
}

void store__call(int (*run)(struct store_backend *b, void *arg),
                 void (*done)(void *arg, int err), void *arg)
{
    struct store_req *r = req_new(OP_CALL, arg);
    r->call_run = run;
    r->call_done = done;
    r->has_cb = true; /* done frees arg: it must always run */
    req_submit(r);
}

/* ---- message archive (XEP-0313) -------------------------------------- */

void store_archive_append(const char *owner, const struct archive_item *item,
                          store_done_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_ARCHIVE_APPEND, ud);
    r->cb.done = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(owner);
    r->aitem.id = aldis_strdup(item->id);
    r->aitem.ts = item->ts;
    r->aitem.with = aldis_strdup(item->with);
    r->aitem.peer = aldis_strdup(item->peer);
    r->aitem.dir = item->dir;
    r->aitem.origin_id = aldis_strdup(item->origin_id);
    r->aitem.flags = item->flags;
    r->aitem.xml = dup_mem(item->xml ? item->xml : "", item->len);
    r->aitem.len = item->len;
    req_submit(r);
}

/* Copy one string of a query into the request; returns the copy. */
static const char *query_str(struct archive_query_copy *c, size_t slot, const char *s)
{
    ALDIS_ASSERT(slot < sizeof c->strs / sizeof c->strs[0]);
    c->strs[slot] = aldis_strdup(s);
    return c->strs[slot];
}

void store_archive_query(const struct archive_query *q, store_archive_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_ARCHIVE_QUERY, ud);
    struct archive_query_copy *c = &r->aquery;
    r->cb.archive = cb;
    r->has_cb = cb != NULL;
    c->q = *q;
    c->q.owner = query_str(c, 0, q->owner);
    c->q.with = query_str(c, 1, q->with);
    c->q.peer = query_str(c, 2, q->peer);
    c->q.after_id = query_str(c, 3, q->after_id);
    c->q.before_id = query_str(c, 4, q->before_id);
    c->q.origin_id = query_str(c, 5, q->origin_id);
    c->q.page_after = query_str(c, 6, q->page_after);
    c->q.page_before = query_str(c, 7, q->page_before);
    c->q.ids = NULL;
    if (q->nids > 0) {
        c->ids = calloc(q->nids, sizeof *c->ids);
        ALDIS_ASSERT(c->ids != NULL);
        for (size_t i = 0; i < q->nids; i++)
            c->ids[i] = aldis_strdup(q->ids[i]);
        c->q.ids = (const char *const *)c->ids;
    }
    r->bare = aldis_strdup(q->owner); /* for log lines */
    req_submit(r);
}

void store_archive_update(const char *owner, const char *id, const char *xml,
                          size_t len, unsigned flags, store_done_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_ARCHIVE_UPDATE, ud);
    r->cb.done = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(owner);
    r->key = aldis_strdup(id);
    r->data = dup_mem(xml, len);
    r->len = len;
    r->max = flags;
    req_submit(r);
}

void store_archive_delete(const char *owner, store_count_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_ARCHIVE_DELETE, ud);
    r->cb.count = cb;
    r->has_cb = cb != NULL;
    r->bare = aldis_strdup(owner);
    req_submit(r);
}

void store_archive_purge(int64_t before, int64_t limit, store_count_cb cb, void *ud)
{
    struct store_req *r = req_new(OP_ARCHIVE_PURGE, ud);
    r->cb.count = cb;
    r->has_cb = cb != NULL;
    r->max = before;
    r->len = limit > 0 ? (size_t)limit : 0;
    req_submit(r);
}

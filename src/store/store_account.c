/* store_account.c - account changes made by the running server, run on
 * the store thread through store__call (FIFO with every other request). */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/store_account.h"
#include "store/backend.h"
#include "store/backend_pubsub.h"

enum account_op { ACCOUNT_CREATE, ACCOUNT_SET_KEYS, ACCOUNT_DELETE };

struct account_req {
    enum account_op op;
    char *host, *user;
    struct scram_keys keys;
    store_done_cb cb;
    void *ud;
};

static int account_run(struct store_backend *b, void *arg)
{
    struct account_req *r = arg;
    switch (r->op) {
    case ACCOUNT_CREATE:
        return backend_user_put(b, r->host, r->user, &r->keys, BACKEND_PUT_CREATE);
    case ACCOUNT_SET_KEYS:
        return backend_user_put(b, r->host, r->user, &r->keys, BACKEND_PUT_REPLACE);
    case ACCOUNT_DELETE:
        return backend_user_del(b, r->host, r->user);
    }
    return ALDIS_EINVAL;
}

static void account_done(void *arg, int err)
{
    struct account_req *r = arg;
    if (r->cb)
        r->cb(r->ud, err);
    /* the keys are secrets: do not leave them in freed memory */
    memset(&r->keys, 0, sizeof r->keys);
    free(r->host);
    free(r->user);
    free(r);
}

static void account_submit(enum account_op op, const char *host, const char *user,
                           const struct scram_keys *keys, store_done_cb cb, void *ud)
{
    struct account_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->op = op;
    r->host = strdup(host);
    r->user = strdup(user);
    ALDIS_ASSERT(r->host && r->user);
    if (keys)
        r->keys = *keys;
    r->cb = cb;
    r->ud = ud;
    store__call(account_run, account_done, r);
}

void store_user_create(const char *host, const char *user, const struct scram_keys *keys,
                       store_done_cb cb, void *ud)
{
    account_submit(ACCOUNT_CREATE, host, user, keys, cb, ud);
}

void store_user_set_keys(const char *host, const char *user, const struct scram_keys *keys,
                         store_done_cb cb, void *ud)
{
    account_submit(ACCOUNT_SET_KEYS, host, user, keys, cb, ud);
}

void store_user_delete(const char *host, const char *user, store_done_cb cb, void *ud)
{
    account_submit(ACCOUNT_DELETE, host, user, NULL, cb, ud);
}

/* backend.h - the synchronous storage backend interface.
 *
 * A backend is one connection to one database, used by one thread at a time:
 * the store thread (src/store/store.c) in the server, or aldisctl directly.
 * Each backend (sqlite/, later pg/ with the same file names) fills a
 * `struct store_backend_ops` vtable; callers use the backend_* wrappers below
 * and never see which database is underneath.
 *
 * Conventions: every function returns 0 or a negative ALDIS_E* code
 * (ALDIS_ENOTFOUND, ALDIS_EEXIST, ALDIS_ELIMIT, ALDIS_ESTORE for a database
 * failure). Accounts are keyed by (host, user) with user the nodeprep'd local
 * part; per-user data by the bare JID string "user@host". Results handed out
 * through pointer arguments are malloc'd and owned by the caller, who frees
 * them with the matching *_free function. */
#ifndef ALDIS_STORE_BACKEND_H
#define ALDIS_STORE_BACKEND_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/store.h"

/* How backend_user_put treats an existing / missing account. */
enum backend_put_mode {
    BACKEND_PUT_UPSERT = 0, /* create or replace */
    BACKEND_PUT_CREATE,     /* ALDIS_EEXIST if the account exists */
    BACKEND_PUT_REPLACE,    /* ALDIS_ENOTFOUND if it does not */
};

/* Called once per account by backend_user_list, in (host, user) order.
 * Returning non-zero stops the listing and becomes its return value. */
typedef int (*backend_user_fn)(void *ud, const char *host, const char *user);

struct store_backend;
struct store_pubsub_ops;
struct store_upload_ops;
struct store_labels_ops;

/* One archive append of a batch: the item is written to owner's archive
 * and `err` says how that went (a batch is one transaction, but one bad row,
 * e.g. a duplicate id, fails alone). item->ts is updated to the stamp the
 * item was stored with. */
struct archive_append_row {
    const char *owner;
    struct archive_item *item;
    int err;
};

struct store_backend_ops {
    const char *name; /* "sqlite" */
    void (*close)(struct store_backend *b);
    const char *(*last_error)(struct store_backend *b);
    int (*schema_version)(struct store_backend *b, int *version);

    int (*user_put)(struct store_backend *b, const char *host, const char *user,
                    const struct scram_keys *keys, enum backend_put_mode mode);
    int (*user_get)(struct store_backend *b, const char *host, const char *user,
                    struct scram_keys *out);
    int (*user_del)(struct store_backend *b, const char *host, const char *user);
    int (*user_list)(struct store_backend *b, const char *host,
                     backend_user_fn fn, void *ud);

    int (*roster_load)(struct store_backend *b, const char *bare,
                       struct roster_item **items, size_t *n, int64_t *version);
    int (*roster_put)(struct store_backend *b, const char *bare,
                      const struct roster_item *item);
    int (*roster_del)(struct store_backend *b, const char *bare,
                      const char *contact);

    int (*kv_get)(struct store_backend *b, const char *bare, const char *key,
                  char **value, size_t *len);
    int (*kv_put)(struct store_backend *b, const char *bare, const char *key,
                  const char *value, size_t len);
    int (*kv_del)(struct store_backend *b, const char *bare, const char *key);

    int (*offline_push)(struct store_backend *b, const char *bare,
                        const char *xml, size_t len, int64_t max);
    int (*offline_pop)(struct store_backend *b, const char *bare,
                       struct offline_msg **msgs, size_t *n);
    int (*offline_count)(struct store_backend *b, const char *bare,
                         int64_t *count);

    /* Message archive (XEP-0313): see the backend_archive_* wrappers. */
    int (*archive_append)(struct store_backend *b,
                          struct archive_append_row *rows, size_t n);
    int (*archive_query)(struct store_backend *b, const struct archive_query *q,
                         struct archive_page *out);
    int (*archive_update)(struct store_backend *b, const char *owner,
                          const char *id, const char *xml, size_t len,
                          unsigned flags);
    int (*archive_purge)(struct store_backend *b, int64_t before, int64_t limit,
                         int64_t *deleted);
    int (*archive_delete)(struct store_backend *b, const char *owner, int64_t *deleted);

    /* PubSub nodes and items (store/backend_pubsub.h), NULL when the
     * backend keeps none. */
    const struct store_pubsub_ops *pubsub;
    /* HTTP upload slots and files (store/backend_upload.h). */
    const struct store_upload_ops *upload;
    /* Security clearances (store/backend_labels.h). */
    const struct store_labels_ops *labels;
};

/* Every backend's connection struct starts with this. */
struct store_backend {
    const struct store_backend_ops *ops;
};

/* Open the backend named `name` ("sqlite") on `path` (a file for SQLite, a
 * connection string for PostgreSQL), creating and migrating the schema as
 * needed. Returns NULL and writes a one-line reason into err on failure. */
struct store_backend *backend_open(const char *name, const char *path,
                                   char *err, size_t errlen);
struct store_backend *sqlite_backend_open(const char *path, char *err,
                                          size_t errlen);

/* The newest schema version this build knows (for aldisctl and tests). */
int sqlite_backend_schema_latest(void);

static inline void backend_close(struct store_backend *b)
{
    if (b)
        b->ops->close(b);
}

/* The database's own message for the last ALDIS_ESTORE (never NULL). */
static inline const char *backend_last_error(struct store_backend *b)
{
    return b->ops->last_error(b);
}

static inline int backend_schema_version(struct store_backend *b, int *version)
{
    return b->ops->schema_version(b, version);
}

/* Accounts: credentials are SCRAM keys only (never a password). */
static inline int backend_user_put(struct store_backend *b, const char *host,
                                   const char *user,
                                   const struct scram_keys *keys,
                                   enum backend_put_mode mode)
{
    return b->ops->user_put(b, host, user, keys, mode);
}

/* ALDIS_ENOTFOUND when the account does not exist. */
static inline int backend_user_get(struct store_backend *b, const char *host,
                                   const char *user, struct scram_keys *out)
{
    return b->ops->user_get(b, host, user, out);
}

/* Delete the account and, in the same transaction, everything stored for
 * "user@host": roster (and its version), key/value entries, offline
 * messages, the message archive. ALDIS_ENOTFOUND when the account does
 * not exist. */
static inline int backend_user_del(struct store_backend *b, const char *host,
                                   const char *user)
{
    return b->ops->user_del(b, host, user);
}

/* host NULL lists every host's accounts. */
static inline int backend_user_list(struct store_backend *b, const char *host,
                                    backend_user_fn fn, void *ud)
{
    return b->ops->user_list(b, host, fn, ud);
}

/* The whole roster of `bare`, ordered by contact JID, with its version
 * (RFC 6121 §2.6: it grows on every change; 0 for a roster never written).
 * An empty roster is not an error: *items NULL, *n 0. */
static inline int backend_roster_load(struct store_backend *b, const char *bare,
                                      struct roster_item **items, size_t *n,
                                      int64_t *version)
{
    return b->ops->roster_load(b, bare, items, n, version);
}

/* Create or replace item->jid in the roster of `bare` (groups included). */
static inline int backend_roster_put(struct store_backend *b, const char *bare,
                                     const struct roster_item *item)
{
    return b->ops->roster_put(b, bare, item);
}

/* ALDIS_ENOTFOUND when the contact is not in the roster. */
static inline int backend_roster_del(struct store_backend *b, const char *bare,
                                     const char *contact)
{
    return b->ops->roster_del(b, bare, contact);
}

/* Values are binary-safe blobs; *value is also NUL-terminated for
 * convenience (not counted in *len). ALDIS_ENOTFOUND when absent. */
static inline int backend_kv_get(struct store_backend *b, const char *bare,
                                 const char *key, char **value, size_t *len)
{
    return b->ops->kv_get(b, bare, key, value, len);
}

static inline int backend_kv_put(struct store_backend *b, const char *bare,
                                 const char *key, const char *value, size_t len)
{
    return b->ops->kv_put(b, bare, key, value, len);
}

/* Deleting an absent key is not an error. */
static inline int backend_kv_del(struct store_backend *b, const char *bare,
                                 const char *key)
{
    return b->ops->kv_del(b, bare, key);
}

/* Queue a message; ALDIS_ELIMIT when `bare` already has `max` messages
 * (max <= 0: no limit). */
static inline int backend_offline_push(struct store_backend *b,
                                       const char *bare, const char *xml,
                                       size_t len, int64_t max)
{
    return b->ops->offline_push(b, bare, xml, len, max);
}

/* Fetch and delete (one transaction) all queued messages, oldest first.
 * Nothing queued: *msgs NULL, *n 0, return 0. */
static inline int backend_offline_pop(struct store_backend *b, const char *bare,
                                      struct offline_msg **msgs, size_t *n)
{
    return b->ops->offline_pop(b, bare, msgs, n);
}

static inline int backend_offline_count(struct store_backend *b,
                                        const char *bare, int64_t *count)
{
    return b->ops->offline_count(b, bare, count);
}

/* Message archive (XEP-0313), see store.h for the model. Append a batch of
 * items in one transaction; each row gets its own err. Returns 0, or an
 * error that failed the whole batch (every row's err is then set too). */
static inline int backend_archive_append(struct store_backend *b,
                                         struct archive_append_row *rows,
                                         size_t n)
{
    return b->ops->archive_append(b, rows, n);
}

/* Run a query into *out (items malloc'd: backend_archive_page_clear).
 * ALDIS_ENOTFOUND when a named id is not in the archive. */
static inline int backend_archive_query(struct store_backend *b,
                                        const struct archive_query *q,
                                        struct archive_page *out)
{
    return b->ops->archive_query(b, q, out);
}

/* Replace one item's stanza and flags; ALDIS_ENOTFOUND when absent. */
static inline int backend_archive_update(struct store_backend *b,
                                         const char *owner, const char *id,
                                         const char *xml, size_t len,
                                         unsigned flags)
{
    return b->ops->archive_update(b, owner, id, xml, len, flags);
}

/* Delete a whole archive (a destroyed room's). */
static inline int backend_archive_delete(struct store_backend *b, const char *owner,
                                         int64_t *deleted)
{
    return b->ops->archive_delete(b, owner, deleted);
}

/* Delete up to `limit` of the oldest items stamped before `before`. */
static inline int backend_archive_purge(struct store_backend *b, int64_t before,
                                        int64_t limit, int64_t *deleted)
{
    return b->ops->archive_purge(b, before, limit, deleted);
}

/* Free the strings of one item, or a page's items (NULL-safe). */
static inline void backend_archive_item_clear(struct archive_item *it)
{
    free(it->id);
    free(it->with);
    free(it->peer);
    free(it->origin_id);
    free(it->xml);
    memset(it, 0, sizeof *it);
}

static inline void backend_archive_page_clear(struct archive_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        backend_archive_item_clear(&p->items[i]);
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

/* Free results (NULL-safe). */
void backend_roster_items_free(struct roster_item *items, size_t n);
void backend_offline_msgs_free(struct offline_msg *msgs, size_t n);
/* Deep copy one item into dst (for callers that keep items). Returns 0 or
 * ALDIS_ENOMEM; on failure dst is left empty. */
int backend_roster_item_copy(struct roster_item *dst, const struct roster_item *src);

#endif

/* backend_upload.h - the synchronous upload part of a storage backend.
 *
 * A backend that stores XEP-0363 slots points `store_backend_ops.upload` at
 * a table of these functions (sqlite/sqlite_upload.c for SQLite); callers
 * use the backend_upload_* wrappers, which answer ALDIS_ENOTHANDLED for a
 * backend without one. Conventions of backend.h; the semantics of each call
 * are those of the matching store_upload_* request (aldis/store_upload.h). */
#ifndef ALDIS_STORE_BACKEND_UPLOAD_H
#define ALDIS_STORE_BACKEND_UPLOAD_H
#include <stddef.h>
#include <stdint.h>

#include "aldis/error.h"
#include "aldis/store_upload.h"
#include "store/backend.h"

struct store_upload_ops {
    int (*add)(struct store_backend *b, const struct upload_rec *rec, uint64_t quota,
               struct upload_usage *usage);
    int (*get)(struct store_backend *b, const char *id, struct upload_rec *out);
    int (*complete)(struct store_backend *b, const char *id);
    int (*del)(struct store_backend *b, const char *id);
    int (*sweep)(struct store_backend *b, int64_t files_before, int64_t slots_before,
                 size_t limit, char ***ids, size_t *n);
};

extern const struct store_upload_ops sqlite_upload_ops;
/* The schema of the SQLite upload tables (one migration of sqlite_store.c)
 * and the deletion of a deleted account's upload data: its rows go at once,
 * its slot ids are remembered so the next sweep removes the files. */
extern const char sqlite__upload_schema[];
int sqlite__upload_owner_del(struct store_backend *b, const char *bare);

/* Free the strings of a record (NULL-safe) and a sweep's id list. */
void backend_upload_rec_clear(struct upload_rec *rec);
void backend_upload_ids_free(char **ids, size_t n);

#define BACKEND_UPLOAD_CALL(b, fn, ...)                                                 \
    ((b)->ops->upload ? (b)->ops->upload->fn((b), __VA_ARGS__) : ALDIS_ENOTHANDLED)

static inline int backend_upload_add(struct store_backend *b, const struct upload_rec *rec,
                                     uint64_t quota, struct upload_usage *usage)
{
    return BACKEND_UPLOAD_CALL(b, add, rec, quota, usage);
}

static inline int backend_upload_get(struct store_backend *b, const char *id,
                                     struct upload_rec *out)
{
    return BACKEND_UPLOAD_CALL(b, get, id, out);
}

static inline int backend_upload_complete(struct store_backend *b, const char *id)
{
    return BACKEND_UPLOAD_CALL(b, complete, id);
}

static inline int backend_upload_del(struct store_backend *b, const char *id)
{
    return BACKEND_UPLOAD_CALL(b, del, id);
}

static inline int backend_upload_sweep(struct store_backend *b, int64_t files_before,
                                       int64_t slots_before, size_t limit, char ***ids,
                                       size_t *n)
{
    *ids = NULL;
    *n = 0;
    return BACKEND_UPLOAD_CALL(b, sweep, files_before, slots_before, limit, ids, n);
}

#endif

/* backend_labels.h - the synchronous clearance part of a storage backend.
 *
 * A clearance is stored as its text form (clearance_parse/clearance_format
 * in aldis/label.h) under a subject: a bare JID, a room JID or a domain. The
 * store does not interpret the text; the policy is checked by whoever reads
 * it. A backend that stores clearances points `store_backend_ops.labels` at
 * a table of these functions (sqlite/sqlite_labels.c for SQLite); callers
 * use the backend_labels_* wrappers, which answer ALDIS_ENOTHANDLED for a
 * backend without one. Results are malloc'd and owned by the caller. */
#ifndef ALDIS_STORE_BACKEND_LABELS_H
#define ALDIS_STORE_BACKEND_LABELS_H
#include "aldis/error.h"
#include "store/backend.h"

/* Longest clearance text and subject accepted (hostile input bound). */
#define LABELS_CLEARANCE_MAX 4096
#define LABELS_SUBJECT_MAX 3072

struct store_labels_ops {
    /* *clearance = malloc'd text; ALDIS_ENOTFOUND when none is set. */
    int (*get)(struct store_backend *b, const char *subject, char **clearance);
    /* Set or replace. */
    int (*put)(struct store_backend *b, const char *subject, const char *clearance);
    /* ALDIS_ENOTFOUND when none was set. */
    int (*del)(struct store_backend *b, const char *subject);
    /* Every stored clearance, by subject; `each` returning non-zero stops
     * the walk and is returned. */
    int (*list)(struct store_backend *b,
                int (*each)(void *ud, const char *subject, const char *clearance), void *ud);
};

extern const struct store_labels_ops sqlite_labels_ops;
/* The schema of the SQLite labels tables (one migration of sqlite_store.c)
 * and the deletion of a deleted account's labels data. */
extern const char sqlite__labels_schema[];
int sqlite__labels_owner_del(struct store_backend *b, const char *bare);

#define BACKEND_LABELS_CALL(b, fn, ...)                                                  \
    ((b)->ops->labels ? (b)->ops->labels->fn((b), __VA_ARGS__) : ALDIS_ENOTHANDLED)

static inline int backend_labels_get(struct store_backend *b, const char *subject,
                                     char **clearance)
{
    *clearance = 0;
    return BACKEND_LABELS_CALL(b, get, subject, clearance);
}

static inline int backend_labels_put(struct store_backend *b, const char *subject,
                                     const char *clearance)
{
    return BACKEND_LABELS_CALL(b, put, subject, clearance);
}

static inline int backend_labels_del(struct store_backend *b, const char *subject)
{
    return BACKEND_LABELS_CALL(b, del, subject);
}

static inline int backend_labels_list(struct store_backend *b,
                                      int (*each)(void *ud, const char *subject,
                                                  const char *clearance),
                                      void *ud)
{
    return BACKEND_LABELS_CALL(b, list, each, ud);
}

#endif

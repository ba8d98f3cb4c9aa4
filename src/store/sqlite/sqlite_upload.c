/* sqlite_upload.c - the SQLite half of XEP-0363 upload storage
 * (backend_upload.h): one row per slot, the quota check and the insert in
 * one transaction, single-use completion, and the retention sweep. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "aldis/error.h"
#include "store/backend_upload.h"

/* Lent by sqlite_store.c (also declared in backend_pubsub.h). */
struct sqlite3 *sqlite__db(struct store_backend *b);
int sqlite__fail(struct store_backend *b, const char *what);

/* Applied by sqlite_store.c as schema version 4. `label` is NULL until the
 * labels work stores the label protecting a file. upload_gone holds the
 * slot ids of deleted accounts until the sweep has removed their files
 * (the account's rows themselves go in the account's own transaction). */
const char sqlite__upload_schema[] =
    "CREATE TABLE upload_files ("
    " id TEXT PRIMARY KEY,"
    " owner TEXT NOT NULL,"
    " filename TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " content_type TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " completed INTEGER NOT NULL DEFAULT 0,"
    " label TEXT);"
    "CREATE INDEX upload_files_owner ON upload_files (owner);"
    "CREATE INDEX upload_files_age ON upload_files (completed, created);"
    "CREATE TABLE upload_gone (id TEXT PRIMARY KEY);";

static sqlite3_stmt *up_prepare(struct store_backend *b, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sqlite__db(b), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite__fail(b, "upload prepare");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static int up_tx(struct store_backend *b, const char *sql)
{
    return sqlite3_exec(sqlite__db(b), sql, NULL, NULL, NULL) == SQLITE_OK ? 0
                                                                           : sqlite__fail(b, sql);
}

static int up_tx_end(struct store_backend *b, int rc)
{
    if (rc == 0)
        rc = up_tx(b, "COMMIT");
    if (rc != 0 && sqlite3_get_autocommit(sqlite__db(b)) == 0)
        sqlite3_exec(sqlite__db(b), "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* One statement on one text parameter; *changes gets the rows touched. */
static int up_exec1(struct store_backend *b, const char *sql, const char *p, int *changes)
{
    sqlite3_stmt *st = up_prepare(b, sql);
    if (!st)
        return ALDIS_ESTORE;
    sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqlite__fail(b, "upload write");
    if (rc == 0 && changes)
        *changes = sqlite3_changes(sqlite__db(b));
    sqlite3_finalize(st);
    return rc;
}

void backend_upload_rec_clear(struct upload_rec *rec)
{
    if (!rec)
        return;
    free(rec->id);
    free(rec->owner);
    free(rec->filename);
    free(rec->content_type);
    free(rec->label);
    memset(rec, 0, sizeof *rec);
}

void backend_upload_ids_free(char **ids, size_t n)
{
    if (!ids)
        return;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static int usage_read(struct store_backend *b, const char *owner, int64_t now,
                      struct upload_usage *u)
{
    memset(u, 0, sizeof *u);
    sqlite3_stmt *st = up_prepare(
        b, "SELECT coalesce(sum(size), 0),"
           " min(CASE WHEN completed = 0 THEN expires END),"
           " min(CASE WHEN completed = 1 THEN created END)"
           " FROM upload_files WHERE owner = ?1 AND (completed = 1 OR expires >= ?2)");
    if (!st)
        return ALDIS_ESTORE;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 used = sqlite3_column_int64(st, 0);
        u->used = used > 0 ? (uint64_t)used : 0;
        u->next_expiry = sqlite3_column_int64(st, 1); /* NULL reads as 0 */
        u->oldest_created = sqlite3_column_int64(st, 2);
    } else {
        rc = sqlite__fail(b, "upload usage");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sqlite_upload_add(struct store_backend *b, const struct upload_rec *rec,
                             uint64_t quota, struct upload_usage *usage)
{
    if (rec->size > (uint64_t)INT64_MAX)
        return ALDIS_EINVAL;
    int rc = up_tx(b, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    if ((rc = usage_read(b, rec->owner, rec->created, usage)) != 0)
        goto end;
    /* Written so that neither side can overflow: used <= quota first. */
    if (quota && (usage->used > quota || rec->size > quota - usage->used)) {
        rc = ALDIS_ELIMIT;
        goto end;
    }
    sqlite3_stmt *st = up_prepare(
        b, "INSERT INTO upload_files (id, owner, filename, size, content_type, created,"
           " expires, completed, label) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    if (!st) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rec->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rec->filename, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)rec->size);
    sqlite3_bind_text(st, 5, rec->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, rec->created);
    sqlite3_bind_int64(st, 7, rec->expires);
    sqlite3_bind_int(st, 8, rec->completed ? 1 : 0);
    if (rec->label)
        sqlite3_bind_text(st, 9, rec->label, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if ((step & 0xff) == SQLITE_CONSTRAINT) /* extended codes are on */
        rc = ALDIS_EEXIST;
    else if (step != SQLITE_DONE)
        rc = sqlite__fail(b, "upload add");
    sqlite3_finalize(st);
end:
    if (rc == ALDIS_ELIMIT || rc == ALDIS_EEXIST) {
        /* Not a database failure: nothing to keep, answer with the usage. */
        sqlite3_exec(sqlite__db(b), "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return up_tx_end(b, rc);
}

static char *col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

static int sqlite_upload_get(struct store_backend *b, const char *id, struct upload_rec *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = up_prepare(b, "SELECT id, owner, filename, size, content_type, created,"
                                     " expires, completed, label FROM upload_files WHERE id = ?1");
    if (!st)
        return ALDIS_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = 0, step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = ALDIS_ENOTFOUND;
    } else if (step != SQLITE_ROW) {
        rc = sqlite__fail(b, "upload get");
    } else {
        out->id = col_dup(st, 0);
        out->owner = col_dup(st, 1);
        out->filename = col_dup(st, 2);
        sqlite3_int64 size = sqlite3_column_int64(st, 3);
        out->size = size > 0 ? (uint64_t)size : 0;
        out->content_type = col_dup(st, 4);
        out->created = sqlite3_column_int64(st, 5);
        out->expires = sqlite3_column_int64(st, 6);
        out->completed = sqlite3_column_int(st, 7) != 0;
        out->label = col_dup(st, 8);
        if (!out->id || !out->owner || !out->filename || !out->content_type ||
            (sqlite3_column_type(st, 8) != SQLITE_NULL && !out->label)) {
            backend_upload_rec_clear(out);
            rc = ALDIS_ENOMEM;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int sqlite_upload_complete(struct store_backend *b, const char *id)
{
    int changes = 0;
    int rc = up_exec1(b, "UPDATE upload_files SET completed = 1 WHERE id = ?1 AND completed = 0",
                      id, &changes);
    if (rc || changes)
        return rc;
    /* Nothing changed: tell a used slot from a missing one. */
    struct upload_rec rec;
    rc = sqlite_upload_get(b, id, &rec);
    backend_upload_rec_clear(&rec);
    return rc == 0 ? ALDIS_EEXIST : rc;
}

static int sqlite_upload_del(struct store_backend *b, const char *id)
{
    int changes = 0;
    int rc = up_exec1(b, "DELETE FROM upload_files WHERE id = ?1", id, &changes);
    return rc ? rc : changes ? 0 : ALDIS_ENOTFOUND;
}

/* Collect the ids a query returns into *ids (growing *n). */
static int ids_collect(struct store_backend *b, sqlite3_stmt *st, char ***ids, size_t *n,
                       size_t limit)
{
    int step = SQLITE_DONE;
    while (*n < limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
        char **grown = realloc(*ids, (*n + 1) * sizeof *grown);
        if (!grown)
            return ALDIS_ENOMEM;
        *ids = grown;
        if (!((*ids)[*n] = col_dup(st, 0)))
            return ALDIS_ENOMEM;
        (*n)++;
    }
    if (*n < limit && step != SQLITE_DONE)
        return sqlite__fail(b, "upload sweep");
    return 0;
}

static int sqlite_upload_sweep(struct store_backend *b, int64_t files_before,
                               int64_t slots_before, size_t limit, char ***ids_out,
                               size_t *n_out)
{
    char **ids = NULL;
    size_t n = 0;
    sqlite3_stmt *st = NULL;
    int rc = up_tx(b, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    if (!(st = up_prepare(b, "SELECT id FROM upload_gone LIMIT ?1"))) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
    if ((rc = ids_collect(b, st, &ids, &n, limit)) != 0)
        goto end;
    size_t ngone = n;
    sqlite3_finalize(st);
    if (!(st = up_prepare(b, "SELECT id FROM upload_files WHERE"
                             " (completed = 1 AND created < ?1) OR"
                             " (completed = 0 AND expires < ?2) LIMIT ?3"))) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    sqlite3_bind_int64(st, 1, files_before > 0 ? files_before : INT64_MIN);
    sqlite3_bind_int64(st, 2, slots_before);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(limit - n));
    if ((rc = ids_collect(b, st, &ids, &n, limit)) != 0)
        goto end;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = up_exec1(b, i < ngone ? "DELETE FROM upload_gone WHERE id = ?1"
                                   : "DELETE FROM upload_files WHERE id = ?1",
                      ids[i], NULL);
end:
    sqlite3_finalize(st);
    rc = up_tx_end(b, rc);
    if (rc) {
        backend_upload_ids_free(ids, n);
        return rc;
    }
    *ids_out = ids;
    *n_out = n;
    return 0;
}

/* Called inside sqlite_user_del's transaction. */
int sqlite__upload_owner_del(struct store_backend *b, const char *bare)
{
    int rc = up_exec1(b, "INSERT OR IGNORE INTO upload_gone (id)"
                         " SELECT id FROM upload_files WHERE owner = ?1",
                      bare, NULL);
    if (rc == 0)
        rc = up_exec1(b, "DELETE FROM upload_files WHERE owner = ?1", bare, NULL);
    return rc;
}

const struct store_upload_ops sqlite_upload_ops = {
    .add = sqlite_upload_add,
    .get = sqlite_upload_get,
    .complete = sqlite_upload_complete,
    .del = sqlite_upload_del,
    .sweep = sqlite_upload_sweep,
};

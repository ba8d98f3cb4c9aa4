/* sqlite_labels.c - the SQLite half of clearance storage (backend_labels.h):
 * one row per subject (bare JID, room JID or domain) holding the clearance
 * text. Statements are prepared per call: clearances are read once when an
 * account is loaded and written only by aldisctl. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "aldis/error.h"
#include "store/backend_labels.h"
#include "store/backend_pubsub.h" /* sqlite__db, sqlite__fail */

/* Applied by sqlite_store.c as schema version 5. */
const char sqlite__labels_schema[] =
    "CREATE TABLE clearances ("
    " subject TEXT PRIMARY KEY NOT NULL,"
    " clearance TEXT NOT NULL);";

static sqlite3_stmt *lb_prepare(struct store_backend *b, const char *sql, const char *p1,
                                const char *p2)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sqlite__db(b), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite__fail(b, "labels prepare");
        sqlite3_finalize(st);
        return NULL;
    }
    sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
    if (p2)
        sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
    return st;
}

static int sqlite_labels_get(struct store_backend *b, const char *subject, char **clearance)
{
    int rc;
    if (strlen(subject) > LABELS_SUBJECT_MAX)
        return ALDIS_EINVAL;
    sqlite3_stmt *st = lb_prepare(b, "SELECT clearance FROM clearances WHERE subject = ?1",
                                  subject, NULL);
    if (!st)
        return ALDIS_ESTORE;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        *clearance = strdup(t ? (const char *)t : "");
        rc = *clearance ? 0 : ALDIS_ENOMEM;
    } else if (step == SQLITE_DONE) {
        rc = ALDIS_ENOTFOUND;
    } else {
        rc = sqlite__fail(b, "labels get");
    }
    sqlite3_finalize(st);
    return rc;
}

static int lb_write(struct store_backend *b, const char *sql, const char *p1, const char *p2,
                    bool need_change)
{
    sqlite3_stmt *st = lb_prepare(b, sql, p1, p2);
    if (!st)
        return ALDIS_ESTORE;
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqlite__fail(b, "labels write");
    if (rc == 0 && need_change && sqlite3_changes(sqlite__db(b)) == 0)
        rc = ALDIS_ENOTFOUND;
    sqlite3_finalize(st);
    return rc;
}

static int sqlite_labels_put(struct store_backend *b, const char *subject, const char *clearance)
{
    if (strlen(subject) > LABELS_SUBJECT_MAX || strlen(clearance) > LABELS_CLEARANCE_MAX)
        return ALDIS_EINVAL;
    return lb_write(b,
                    "INSERT INTO clearances (subject, clearance) VALUES (?1, ?2)"
                    " ON CONFLICT (subject) DO UPDATE SET clearance = excluded.clearance",
                    subject, clearance, false);
}

static int sqlite_labels_del(struct store_backend *b, const char *subject)
{
    return lb_write(b, "DELETE FROM clearances WHERE subject = ?1", subject, NULL, true);
}

int sqlite__labels_owner_del(struct store_backend *b, const char *bare)
{
    int rc = sqlite_labels_del(b, bare);
    return rc == ALDIS_ENOTFOUND ? 0 : rc;
}

static int sqlite_labels_list(struct store_backend *b,
                              int (*each)(void *ud, const char *subject, const char *clearance),
                              void *ud)
{
    int rc = 0, step;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sqlite__db(b), "SELECT subject, clearance FROM clearances ORDER BY subject",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return sqlite__fail(b, "labels list");
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *subject = sqlite3_column_text(st, 0);
        const unsigned char *clearance = sqlite3_column_text(st, 1);
        if (!subject || !clearance)
            continue;
        if ((rc = each(ud, (const char *)subject, (const char *)clearance)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite__fail(b, "labels list");
    sqlite3_finalize(st);
    return rc;
}

const struct store_labels_ops sqlite_labels_ops = {
    .get = sqlite_labels_get,
    .put = sqlite_labels_put,
    .del = sqlite_labels_del,
    .list = sqlite_labels_list,
};

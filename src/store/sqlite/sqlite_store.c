/* sqlite_store.c - the SQLite storage backend: one connection (WAL mode, so
 * aldisctl can write while the server runs), a versioned schema migrated at
 * open, and every statement prepared once and cached on the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fcntl.h>
#include <unistd.h>

#include <sqlite3.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "store/backend.h"
#include "store/backend_labels.h"
#include "store/backend_pubsub.h"
#include "store/backend_upload.h"

/* How long a writer waits for another process's (aldisctl's, or the
 * server's) write transaction before giving up with SQLITE_BUSY. */
#define SQLITE_BUSY_TIMEOUT_MS 10000

/* Schema migrations, applied in order at open, each in its own transaction
 * together with its row in schema_version. Never edit a released entry:
 * append a new version. A table added for per-user data must also be
 * cleared by sqlite_user_del. */
struct migration {
    int version;
    const char *sql;
};

static const struct migration migrations[] = {
    {1,
     /* Accounts: SCRAM keys only (RFC 5802 §3), never a password. */
     "CREATE TABLE users ("
     " host TEXT NOT NULL,"
     " user TEXT NOT NULL,"
     " salt BLOB NOT NULL,"
     " iterations INTEGER NOT NULL CHECK (iterations > 0),"
     " stored_key_sha1 BLOB NOT NULL,"
     " server_key_sha1 BLOB NOT NULL,"
     " stored_key_sha256 BLOB NOT NULL,"
     " server_key_sha256 BLOB NOT NULL,"
     " created INTEGER NOT NULL,"
     " PRIMARY KEY (host, user)) WITHOUT ROWID;"
     /* Rosters (RFC 6121 §2.1.2), keyed by the owner's bare JID. */
     "CREATE TABLE roster ("
     " owner TEXT NOT NULL,"
     " contact TEXT NOT NULL,"
     " name TEXT,"
     " subscription INTEGER NOT NULL CHECK (subscription BETWEEN 0 AND 3),"
     " ask INTEGER NOT NULL DEFAULT 0,"
     " pending_in INTEGER NOT NULL DEFAULT 0,"
     " approved INTEGER NOT NULL DEFAULT 0,"
     " pending_stanza TEXT,"
     " PRIMARY KEY (owner, contact));"
     /* Groups as child rows, in the order the client gave them. */
     "CREATE TABLE roster_groups ("
     " owner TEXT NOT NULL,"
     " contact TEXT NOT NULL,"
     " position INTEGER NOT NULL,"
     " name TEXT NOT NULL,"
     " PRIMARY KEY (owner, contact, name),"
     " FOREIGN KEY (owner, contact) REFERENCES roster (owner, contact)"
     "  ON DELETE CASCADE);"
     /* Roster versioning (RFC 6121 §2.6): one counter per roster. */
     "CREATE TABLE roster_version ("
     " owner TEXT PRIMARY KEY,"
     " version INTEGER NOT NULL);"
     "CREATE TABLE kv ("
     " owner TEXT NOT NULL,"
     " key TEXT NOT NULL,"
     " value BLOB NOT NULL,"
     " PRIMARY KEY (owner, key));"
     /* AUTOINCREMENT so ids only grow: "oldest first" is "lowest id". */
     "CREATE TABLE offline ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " owner TEXT NOT NULL,"
     " stamp INTEGER NOT NULL,"
     " xml BLOB NOT NULL);"
     "CREATE INDEX offline_owner ON offline (owner, id);"},
    /* PubSub nodes and items (XEP-0060, PEP): sqlite_pubsub.c. */
    {2, sqlite__pubsub_schema},
    {3,
     /* The message archive (XEP-0313). seq is the rowid: it grows with
      * every append, and the store keeps ts strictly increasing in append
      * order too, so (ts, seq) is the archive order and the oldest items
      * are a prefix of the table (retention deletes from the front).
      * `id` is the random archive id handed out as the XEP-0359 stanza-id.
      * The two indexes serve the queries: the whole archive by time, and one
      * conversation by time (XEP-0313 §4.1.1); both end in the rowid, which
      * orders ties. */
     "CREATE TABLE archive ("
     " seq INTEGER PRIMARY KEY,"
     " owner TEXT NOT NULL,"
     " id TEXT NOT NULL,"
     " ts INTEGER NOT NULL,"
     " with_bare TEXT NOT NULL,"
     " peer TEXT NOT NULL,"
     " direction INTEGER NOT NULL CHECK (direction IN (0, 1)),"
     " origin_id TEXT,"
     " flags INTEGER NOT NULL DEFAULT 0,"
     " xml BLOB NOT NULL);"
     "CREATE UNIQUE INDEX archive_owner_id ON archive (owner, id);"
     "CREATE INDEX archive_owner_ts ON archive (owner, ts);"
     "CREATE INDEX archive_owner_with_ts ON archive (owner, with_bare, ts);"},
    /* HTTP file upload slots and files (XEP-0363): sqlite_upload.c. */
    {4, sqlite__upload_schema},
    /* Security clearances: sqlite_labels.c. */
    {5, sqlite__labels_schema},
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

/* The cached statements, prepared on first use. */
enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_USER_GET,
    S_USER_INSERT,
    S_USER_UPSERT,
    S_USER_UPDATE,
    S_USER_DEL,
    S_USER_LIST,
    S_USER_LIST_HOST,
    S_OWNER_ROSTER_DEL,
    S_OWNER_GROUPS_DEL,
    S_OWNER_VERSION_DEL,
    S_OWNER_KV_DEL,
    S_OWNER_OFFLINE_DEL,
    S_ROSTER_ITEMS,
    S_ROSTER_GROUPS,
    S_ROSTER_VERSION,
    S_ROSTER_UPSERT,
    S_ROSTER_GROUPS_DEL,
    S_ROSTER_GROUP_ADD,
    S_ROSTER_DEL,
    S_ROSTER_BUMP,
    S_KV_GET,
    S_KV_PUT,
    S_KV_DEL,
    S_OFFLINE_COUNT,
    S_OFFLINE_PUSH,
    S_OFFLINE_LIST,
    S_OFFLINE_CLEAR,
    S_OWNER_ARCHIVE_DEL,
    S_ARCHIVE_LAST_TS,
    S_ARCHIVE_INSERT,
    S_ARCHIVE_LOCATE,
    S_ARCHIVE_UPDATE,
    S_ARCHIVE_PURGE,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    /* IMMEDIATE takes the write lock up front, so a read-then-write
     * transaction cannot deadlock against another process's writer. */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_USER_GET] = "SELECT salt, iterations, stored_key_sha1, server_key_sha1,"
                   " stored_key_sha256, server_key_sha256"
                   " FROM users WHERE host = ?1 AND user = ?2",
    [S_USER_INSERT] = "INSERT INTO users (host, user, salt, iterations,"
                      " stored_key_sha1, server_key_sha1, stored_key_sha256,"
                      " server_key_sha256, created)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, strftime('%s','now'))",
    [S_USER_UPSERT] = "INSERT INTO users (host, user, salt, iterations,"
                      " stored_key_sha1, server_key_sha1, stored_key_sha256,"
                      " server_key_sha256, created)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, strftime('%s','now'))"
                      " ON CONFLICT (host, user) DO UPDATE SET salt = excluded.salt,"
                      " iterations = excluded.iterations,"
                      " stored_key_sha1 = excluded.stored_key_sha1,"
                      " server_key_sha1 = excluded.server_key_sha1,"
                      " stored_key_sha256 = excluded.stored_key_sha256,"
                      " server_key_sha256 = excluded.server_key_sha256",
    [S_USER_UPDATE] = "UPDATE users SET salt = ?3, iterations = ?4,"
                      " stored_key_sha1 = ?5, server_key_sha1 = ?6,"
                      " stored_key_sha256 = ?7, server_key_sha256 = ?8"
                      " WHERE host = ?1 AND user = ?2",
    [S_USER_DEL] = "DELETE FROM users WHERE host = ?1 AND user = ?2",
    [S_USER_LIST] = "SELECT host, user FROM users ORDER BY host, user",
    [S_USER_LIST_HOST] = "SELECT host, user FROM users WHERE host = ?1 ORDER BY user",
    [S_OWNER_ROSTER_DEL] = "DELETE FROM roster WHERE owner = ?1",
    [S_OWNER_GROUPS_DEL] = "DELETE FROM roster_groups WHERE owner = ?1",
    [S_OWNER_VERSION_DEL] = "DELETE FROM roster_version WHERE owner = ?1",
    [S_OWNER_KV_DEL] = "DELETE FROM kv WHERE owner = ?1",
    [S_OWNER_OFFLINE_DEL] = "DELETE FROM offline WHERE owner = ?1",
    [S_ROSTER_ITEMS] = "SELECT contact, name, subscription, ask, pending_in,"
                       " approved, pending_stanza FROM roster WHERE owner = ?1"
                       " ORDER BY contact",
    [S_ROSTER_GROUPS] = "SELECT contact, name FROM roster_groups WHERE owner = ?1"
                        " ORDER BY contact, position",
    [S_ROSTER_VERSION] = "SELECT version FROM roster_version WHERE owner = ?1",
    [S_ROSTER_UPSERT] = "INSERT INTO roster (owner, contact, name, subscription,"
                        " ask, pending_in, approved, pending_stanza)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                        " ON CONFLICT (owner, contact) DO UPDATE SET"
                        " name = excluded.name, subscription = excluded.subscription,"
                        " ask = excluded.ask, pending_in = excluded.pending_in,"
                        " approved = excluded.approved,"
                        " pending_stanza = excluded.pending_stanza",
    [S_ROSTER_GROUPS_DEL] = "DELETE FROM roster_groups WHERE owner = ?1 AND contact = ?2",
    /* OR IGNORE: a client repeating a group name (RFC 6121 §2.1.2.2 forbids
     * it, but the store need not fail over it) keeps the first. */
    [S_ROSTER_GROUP_ADD] = "INSERT OR IGNORE INTO roster_groups (owner, contact,"
                           " position, name) VALUES (?1, ?2, ?3, ?4)",
    [S_ROSTER_DEL] = "DELETE FROM roster WHERE owner = ?1 AND contact = ?2",
    [S_ROSTER_BUMP] = "INSERT INTO roster_version (owner, version) VALUES (?1, 1)"
                      " ON CONFLICT (owner) DO UPDATE SET version = version + 1",
    [S_KV_GET] = "SELECT value FROM kv WHERE owner = ?1 AND key = ?2",
    [S_KV_PUT] = "INSERT INTO kv (owner, key, value) VALUES (?1, ?2, ?3)"
                 " ON CONFLICT (owner, key) DO UPDATE SET value = excluded.value",
    [S_KV_DEL] = "DELETE FROM kv WHERE owner = ?1 AND key = ?2",
    [S_OFFLINE_COUNT] = "SELECT count(*) FROM offline WHERE owner = ?1",
    [S_OFFLINE_PUSH] = "INSERT INTO offline (owner, stamp, xml)"
                       " VALUES (?1, strftime('%s','now'), ?2)",
    [S_OFFLINE_LIST] = "SELECT id, xml FROM offline WHERE owner = ?1 ORDER BY id",
    [S_OFFLINE_CLEAR] = "DELETE FROM offline WHERE owner = ?1 AND id <= ?2",
    [S_OWNER_ARCHIVE_DEL] = "DELETE FROM archive WHERE owner = ?1",
    /* The newest item is the one with the highest rowid: no scan. */
    [S_ARCHIVE_LAST_TS] = "SELECT ts FROM archive ORDER BY seq DESC LIMIT 1",
    [S_ARCHIVE_INSERT] = "INSERT INTO archive (owner, id, ts, with_bare, peer,"
                         " direction, origin_id, flags, xml)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_ARCHIVE_LOCATE] = "SELECT ts, seq FROM archive WHERE owner = ?1 AND id = ?2",
    [S_ARCHIVE_UPDATE] = "UPDATE archive SET xml = ?3, flags = ?4"
                         " WHERE owner = ?1 AND id = ?2",
    /* The oldest items are a prefix in rowid order (see the schema): look
     * at no more than `limit` rows from the front, whatever the table
     * size, and delete those of them that are old enough. */
    [S_ARCHIVE_PURGE] = "DELETE FROM archive WHERE seq IN (SELECT seq FROM"
                        " (SELECT seq, ts FROM archive ORDER BY seq LIMIT ?2)"
                        " WHERE ts < ?1)",
};

struct sqlite_backend {
    struct store_backend base; /* first: the vtable */
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmts[S_COUNT];
    char errmsg[256];
};

static const struct store_backend_ops sqlite_ops;

/* Remember and log a database failure; returns ALDIS_ESTORE. */
static int db_fail(struct sqlite_backend *s, const char *what)
{
    snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what, sqlite3_errmsg(s->db));
    log_error("store", "sqlite %s: %s", s->path, s->errmsg);
    return ALDIS_ESTORE;
}

/* The cached statement, reset and unbound, ready for binding. */
static sqlite3_stmt *stmt_get(struct sqlite_backend *s, enum stmt_id id)
{
    if (!s->stmts[id]) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->stmts[id], NULL) != SQLITE_OK) {
            db_fail(s, "prepare");
            s->stmts[id] = NULL;
            return NULL;
        }
    }
    return s->stmts[id];
}

/* Release a statement after use so it holds no read lock or bindings. */
static void stmt_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* Run a statement that returns no rows. */
static int stmt_exec(struct sqlite_backend *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(s, what);
    stmt_done(st);
    return ret;
}

static int tx_simple(struct sqlite_backend *s, enum stmt_id id, const char *what)
{
    sqlite3_stmt *st = stmt_get(s, id);
    return st ? stmt_exec(s, st, what) : ALDIS_ESTORE;
}

static int tx_begin(struct sqlite_backend *s)
{
    return tx_simple(s, S_BEGIN, "begin");
}

static int tx_commit(struct sqlite_backend *s)
{
    return tx_simple(s, S_COMMIT, "commit");
}

static void tx_rollback(struct sqlite_backend *s)
{
    /* Errors here are harmless: SQLite may already have rolled back. */
    if (sqlite3_get_autocommit(s->db) == 0) {
        sqlite3_stmt *st = stmt_get(s, S_ROLLBACK);
        if (st) {
            sqlite3_step(st);
            stmt_done(st);
        }
    }
}

/* Finish a transaction: commit on success, roll back otherwise. */
static int tx_end(struct sqlite_backend *s, int rc)
{
    if (rc == 0)
        rc = tx_commit(s);
    if (rc != 0)
        tx_rollback(s);
    return rc;
}

static int bind_text(sqlite3_stmt *st, int idx, const char *text)
{
    if (!text)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_text(st, idx, text, -1, SQLITE_STATIC);
}

static int bind_blob(sqlite3_stmt *st, int idx, const void *data, size_t len)
{
    /* A zero-length blob must still be a blob, not NULL (NOT NULL columns). */
    return sqlite3_bind_blob64(st, idx, len ? data : "", len, SQLITE_STATIC);
}

static char *col_strdup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

/* Copy a blob column into a fixed-size key field; the size must match. */
static int col_key(sqlite3_stmt *st, int col, unsigned char *out, size_t len)
{
    if ((size_t)sqlite3_column_bytes(st, col) != len)
        return ALDIS_ESTORE;
    const void *p = sqlite3_column_blob(st, col);
    if (!p)
        return ALDIS_ESTORE;
    memcpy(out, p, len);
    return 0;
}

static char *bare_jid(const char *host, const char *user)
{
    size_t n = strlen(user) + strlen(host) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s@%s", user, host);
    return s;
}

/* ---- schema ---------------------------------------------------------- */

static int schema_current(struct sqlite_backend *s, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "read schema version");
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        rc = db_fail(s, "read schema version");
    sqlite3_finalize(st);
    return rc;
}

static int schema_migrate(struct sqlite_backend *s, char *err, size_t errlen)
{
    int version = 0, rc;
    int latest = migrations[NMIGRATIONS - 1].version;

    if (sqlite3_exec(s->db,
                     "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(s, "create schema_version");
        snprintf(err, errlen, "%s: %s", s->path, s->errmsg);
        return ALDIS_ESTORE;
    }
    for (size_t i = 0; i < NMIGRATIONS; i++) {
        /* Read the version inside the write transaction: a second process
         * opening a fresh file at the same moment waits here and then sees
         * the migration already done. */
        if ((rc = tx_begin(s)) != 0 || (rc = schema_current(s, &version)) != 0)
            goto fail;
        if (version > latest) {
            tx_rollback(s);
            snprintf(err, errlen,
                     "%s: database schema version %d is newer than this build "
                     "understands (%d); upgrade aldis",
                     s->path, version, latest);
            return ALDIS_ESTORE;
        }
        if (migrations[i].version <= version) {
            tx_rollback(s);
            continue;
        }
        if (sqlite3_exec(s->db, migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK) {
            rc = db_fail(s, "migrate");
            goto fail;
        }
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_version (version, applied)"
                 " VALUES (%d, strftime('%%s','now'))",
                 migrations[i].version);
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            rc = db_fail(s, "migrate");
            goto fail;
        }
        if ((rc = tx_commit(s)) != 0)
            goto fail;
        log_info("store", "sqlite %s: schema migrated to version %d", s->path,
                 migrations[i].version);
    }
    return 0;
fail:
    tx_rollback(s);
    snprintf(err, errlen, "%s: schema migration failed: %s", s->path, s->errmsg);
    return rc;
}

int sqlite_backend_schema_latest(void)
{
    return migrations[NMIGRATIONS - 1].version;
}

static int sqlite_schema_version(struct store_backend *b, int *version)
{
    return schema_current((struct sqlite_backend *)b, version);
}

/* ---- open / close ---------------------------------------------------- */

static void sqlite_close(struct store_backend *b)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static const char *sqlite_last_error(struct store_backend *b)
{
    return ((struct sqlite_backend *)b)->errmsg;
}

/* A PRAGMA whose result row must read `want` (journal_mode answers with the
 * mode actually in effect, which is not WAL on e.g. some network FS). */
static int pragma_expect(struct sqlite_backend *s, const char *sql, const char *want)
{
    sqlite3_stmt *st = NULL;
    int rc = ALDIS_ESTORE;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, sql);
        goto out;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *got = (const char *)sqlite3_column_text(st, 0);
        if (want && (!got || strcasecmp(got, want) != 0)) {
            snprintf(s->errmsg, sizeof s->errmsg, "%s gave '%s', need '%s'", sql,
                     got ? got : "", want);
            goto out;
        }
    } else if (step != SQLITE_DONE) {
        db_fail(s, sql);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

struct store_backend *sqlite_backend_open(const char *path, char *err, size_t errlen)
{
    struct sqlite_backend *s = calloc(1, sizeof *s);
    if (!s || !path || !(s->path = strdup(path))) {
        snprintf(err, errlen, "%s", path ? "out of memory" : "no database path");
        goto fail;
    }
    s->base.ops = &sqlite_ops;
    /* The file holds credentials (SCRAM keys) and messages: create it
     * owner-only. SQLite gives its -wal and -shm files the same mode. */
    if (strcmp(path, ":memory:") != 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    /* NOMUTEX: one connection is used by one thread at a time (the store
     * thread, or aldisctl); SQLite's own locking still guards the file
     * against other processes. */
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, SQLITE_BUSY_TIMEOUT_MS);
    /* WAL: readers never block the writer, and aldisctl can add a user while
     * the server runs. synchronous=NORMAL is durable across application
     * crashes in WAL mode and only risks the last commits on power loss. */
    if (pragma_expect(s, "PRAGMA journal_mode = WAL", "wal") != 0 ||
        pragma_expect(s, "PRAGMA synchronous = NORMAL", NULL) != 0 ||
        pragma_expect(s, "PRAGMA foreign_keys = ON", NULL) != 0) {
        snprintf(err, errlen, "cannot set up database %s: %s", path, s->errmsg);
        goto fail;
    }
    if (schema_migrate(s, err, errlen) != 0)
        goto fail;
    return &s->base;
fail:
    if (s) {
        if (s->db)
            sqlite_close(&s->base);
        else {
            free(s->path);
            free(s);
        }
    }
    return NULL;
}

/* ---- accounts -------------------------------------------------------- */

static int sqlite_user_put(struct store_backend *b, const char *host,
                           const char *user, const struct scram_keys *k,
                           enum backend_put_mode mode)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    enum stmt_id id = mode == BACKEND_PUT_CREATE    ? S_USER_INSERT
                      : mode == BACKEND_PUT_REPLACE ? S_USER_UPDATE
                                                    : S_USER_UPSERT;
    sqlite3_stmt *st = stmt_get(s, id);
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, host);
    bind_text(st, 2, user);
    bind_blob(st, 3, k->salt, SCRAM_SALT_LEN);
    sqlite3_bind_int64(st, 4, k->iterations);
    bind_blob(st, 5, k->stored_key_sha1, SCRAM_SHA1_LEN);
    bind_blob(st, 6, k->server_key_sha1, SCRAM_SHA1_LEN);
    bind_blob(st, 7, k->stored_key_sha256, SCRAM_SHA256_LEN);
    bind_blob(st, 8, k->server_key_sha256, SCRAM_SHA256_LEN);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        ret = ALDIS_EEXIST;
    else if (rc != SQLITE_DONE)
        ret = db_fail(s, "user put");
    else if (mode == BACKEND_PUT_REPLACE && sqlite3_changes(s->db) == 0)
        ret = ALDIS_ENOTFOUND;
    stmt_done(st);
    return ret;
}

static int sqlite_user_get(struct store_backend *b, const char *host,
                           const char *user, struct scram_keys *out)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st = stmt_get(s, S_USER_GET);
    int ret = 0;
    if (!st)
        return ALDIS_ESTORE;
    memset(out, 0, sizeof *out);
    bind_text(st, 1, host);
    bind_text(st, 2, user);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = ALDIS_ENOTFOUND;
    } else if (rc != SQLITE_ROW) {
        ret = db_fail(s, "user get");
    } else {
        sqlite3_int64 iter = sqlite3_column_int64(st, 1);
        if (col_key(st, 0, out->salt, SCRAM_SALT_LEN) ||
            col_key(st, 2, out->stored_key_sha1, SCRAM_SHA1_LEN) ||
            col_key(st, 3, out->server_key_sha1, SCRAM_SHA1_LEN) ||
            col_key(st, 4, out->stored_key_sha256, SCRAM_SHA256_LEN) ||
            col_key(st, 5, out->server_key_sha256, SCRAM_SHA256_LEN) ||
            iter <= 0 || iter > 0x7fffffff) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "account %s@%s has malformed credentials", user, host);
            log_error("store", "sqlite %s: %s", s->path, s->errmsg);
            memset(out, 0, sizeof *out);
            ret = ALDIS_ESTORE;
        } else {
            out->iterations = (unsigned)iter;
        }
    }
    stmt_done(st);
    return ret;
}

/* Delete everything kept under a bare JID (not the account row). */
static int owner_data_del(struct sqlite_backend *s, const char *bare)
{
    static const enum stmt_id ids[] = {S_OWNER_GROUPS_DEL, S_OWNER_ROSTER_DEL,
                                       S_OWNER_VERSION_DEL, S_OWNER_KV_DEL,
                                       S_OWNER_OFFLINE_DEL, S_OWNER_ARCHIVE_DEL};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        sqlite3_stmt *st = stmt_get(s, ids[i]);
        if (!st)
            return ALDIS_ESTORE;
        bind_text(st, 1, bare);
        int rc = stmt_exec(s, st, "user delete");
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int sqlite_user_del(struct store_backend *b, const char *host,
                           const char *user)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    char *bare = bare_jid(host, user);
    int rc;
    if (!bare)
        return ALDIS_ENOMEM;
    if ((rc = tx_begin(s)) != 0)
        goto out;
    sqlite3_stmt *st = stmt_get(s, S_USER_DEL);
    if (!st) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    bind_text(st, 1, host);
    bind_text(st, 2, user);
    if ((rc = stmt_exec(s, st, "user delete")) != 0)
        goto end;
    if (sqlite3_changes(s->db) == 0) {
        rc = ALDIS_ENOTFOUND;
        goto end;
    }
    rc = owner_data_del(s, bare);
    if (rc == 0)
        rc = sqlite__pubsub_owner_del(b, bare);
    if (rc == 0)
        rc = sqlite__upload_owner_del(b, bare);
    if (rc == 0)
        rc = sqlite__labels_owner_del(b, bare);
end:
    rc = tx_end(s, rc);
out:
    free(bare);
    return rc;
}

static int sqlite_user_list(struct store_backend *b, const char *host,
                            backend_user_fn fn, void *ud)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st = stmt_get(s, host ? S_USER_LIST_HOST : S_USER_LIST);
    int rc, ret = 0;
    if (!st)
        return ALDIS_ESTORE;
    if (host)
        bind_text(st, 1, host);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = fn(ud, (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1));
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s, "user list");
    stmt_done(st);
    return ret;
}

/* ---- rosters --------------------------------------------------------- */

static int roster_version_read(struct sqlite_backend *s, const char *bare,
                               int64_t *version)
{
    sqlite3_stmt *st = stmt_get(s, S_ROSTER_VERSION);
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, bare);
    int rc = sqlite3_step(st), ret = 0;
    *version = 0;
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        ret = db_fail(s, "roster version");
    stmt_done(st);
    return ret;
}

static int group_append(struct roster_item *it, const char *name)
{
    char **g = realloc(it->groups, (it->ngroups + 1) * sizeof *g);
    if (!g)
        return ALDIS_ENOMEM;
    it->groups = g;
    if (!(g[it->ngroups] = strdup(name)))
        return ALDIS_ENOMEM;
    it->ngroups++;
    return 0;
}

static int sqlite_roster_load(struct store_backend *b, const char *bare,
                              struct roster_item **items_out, size_t *n_out,
                              int64_t *version)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    struct roster_item *items = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int rc = 0, step;

    *items_out = NULL;
    *n_out = 0;
    *version = 0;
    /* A read transaction so items, groups and version are one snapshot. */
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, "roster load");
    if ((rc = roster_version_read(s, bare, version)) != 0)
        goto out;
    if (!(st = stmt_get(s, S_ROSTER_ITEMS))) {
        rc = ALDIS_ESTORE;
        goto out;
    }
    bind_text(st, 1, bare);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            struct roster_item *grown = realloc(items, ncap * sizeof *grown);
            if (!grown) {
                rc = ALDIS_ENOMEM;
                goto out;
            }
            items = grown;
            cap = ncap;
        }
        struct roster_item *it = &items[n++];
        memset(it, 0, sizeof *it);
        it->jid = col_strdup(st, 0);
        it->name = col_strdup(st, 1);
        it->subscription = (enum roster_sub)(sqlite3_column_int(st, 2) & 3);
        it->ask = sqlite3_column_int(st, 3) != 0;
        it->pending_in = sqlite3_column_int(st, 4) != 0;
        it->approved = sqlite3_column_int(st, 5) != 0;
        it->pending_stanza = col_strdup(st, 6);
        if (!it->jid || (sqlite3_column_type(st, 1) != SQLITE_NULL && !it->name) ||
            (sqlite3_column_type(st, 6) != SQLITE_NULL && !it->pending_stanza)) {
            rc = ALDIS_ENOMEM;
            goto out;
        }
    }
    if (step != SQLITE_DONE) {
        rc = db_fail(s, "roster load");
        goto out;
    }
    stmt_done(st);

    /* Groups come ordered by contact like the items: merge in one pass. */
    if (!(st = stmt_get(s, S_ROSTER_GROUPS))) {
        rc = ALDIS_ESTORE;
        goto out;
    }
    bind_text(st, 1, bare);
    size_t i = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *contact = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        while (i < n && strcmp(items[i].jid, contact) < 0)
            i++;
        if (i == n || strcmp(items[i].jid, contact) != 0 || !name)
            continue; /* cannot happen with the foreign key; be safe */
        if ((rc = group_append(&items[i], name)) != 0)
            goto out;
    }
    if (step != SQLITE_DONE) {
        rc = db_fail(s, "roster load");
        goto out;
    }
out:
    stmt_done(st);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != 0) {
        backend_roster_items_free(items, n);
        *version = 0;
        return rc;
    }
    if (n == 0) {
        free(items);
        items = NULL;
    }
    *items_out = items;
    *n_out = n;
    return 0;
}

static int roster_bump(struct sqlite_backend *s, const char *bare)
{
    sqlite3_stmt *st = stmt_get(s, S_ROSTER_BUMP);
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, bare);
    return stmt_exec(s, st, "roster version");
}

static int sqlite_roster_put(struct store_backend *b, const char *bare,
                             const struct roster_item *it)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st;
    int rc;

    if (!it || !it->jid || (unsigned)it->subscription > SUB_BOTH)
        return ALDIS_EINVAL;
    if ((rc = tx_begin(s)) != 0)
        return rc;
    if (!(st = stmt_get(s, S_ROSTER_UPSERT))) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    bind_text(st, 1, bare);
    bind_text(st, 2, it->jid);
    bind_text(st, 3, it->name);
    sqlite3_bind_int(st, 4, (int)it->subscription);
    sqlite3_bind_int(st, 5, it->ask);
    sqlite3_bind_int(st, 6, it->pending_in);
    sqlite3_bind_int(st, 7, it->approved);
    bind_text(st, 8, it->pending_stanza);
    if ((rc = stmt_exec(s, st, "roster put")) != 0)
        goto end;
    /* Replace the groups wholesale: the item is replaced, not merged. */
    if (!(st = stmt_get(s, S_ROSTER_GROUPS_DEL))) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    bind_text(st, 1, bare);
    bind_text(st, 2, it->jid);
    if ((rc = stmt_exec(s, st, "roster put")) != 0)
        goto end;
    for (size_t g = 0; g < it->ngroups; g++) {
        if (!it->groups[g])
            continue;
        if (!(st = stmt_get(s, S_ROSTER_GROUP_ADD))) {
            rc = ALDIS_ESTORE;
            goto end;
        }
        bind_text(st, 1, bare);
        bind_text(st, 2, it->jid);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)g);
        bind_text(st, 4, it->groups[g]);
        if ((rc = stmt_exec(s, st, "roster put")) != 0)
            goto end;
    }
    rc = roster_bump(s, bare);
end:
    return tx_end(s, rc);
}

static int sqlite_roster_del(struct store_backend *b, const char *bare,
                             const char *contact)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st;
    int rc;

    if ((rc = tx_begin(s)) != 0)
        return rc;
    if (!(st = stmt_get(s, S_ROSTER_DEL))) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    bind_text(st, 1, bare);
    bind_text(st, 2, contact);
    /* The groups go with the item through ON DELETE CASCADE. */
    if ((rc = stmt_exec(s, st, "roster delete")) != 0)
        goto end;
    if (sqlite3_changes(s->db) == 0) {
        rc = ALDIS_ENOTFOUND;
        goto end;
    }
    rc = roster_bump(s, bare);
end:
    return tx_end(s, rc);
}

/* ---- key/value ------------------------------------------------------- */

static int sqlite_kv_get(struct store_backend *b, const char *bare,
                         const char *key, char **value, size_t *len)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st = stmt_get(s, S_KV_GET);
    int ret = 0;
    *value = NULL;
    *len = 0;
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, bare);
    bind_text(st, 2, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = ALDIS_ENOTFOUND;
    } else if (rc != SQLITE_ROW) {
        ret = db_fail(s, "kv get");
    } else {
        const void *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        char *copy = malloc(n + 1);
        if (!copy) {
            ret = ALDIS_ENOMEM;
        } else {
            if (n)
                memcpy(copy, p, n);
            copy[n] = '\0';
            *value = copy;
            *len = n;
        }
    }
    stmt_done(st);
    return ret;
}

static int sqlite_kv_put(struct store_backend *b, const char *bare,
                         const char *key, const char *value, size_t len)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st = stmt_get(s, S_KV_PUT);
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, bare);
    bind_text(st, 2, key);
    bind_blob(st, 3, value, len);
    return stmt_exec(s, st, "kv put");
}

static int sqlite_kv_del(struct store_backend *b, const char *bare,
                         const char *key)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st = stmt_get(s, S_KV_DEL);
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, bare);
    bind_text(st, 2, key);
    return stmt_exec(s, st, "kv delete");
}

/* ---- offline messages ------------------------------------------------ */

static int offline_count(struct sqlite_backend *s, const char *bare,
                         int64_t *count)
{
    sqlite3_stmt *st = stmt_get(s, S_OFFLINE_COUNT);
    int ret = 0;
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, bare);
    if (sqlite3_step(st) == SQLITE_ROW)
        *count = sqlite3_column_int64(st, 0);
    else
        ret = db_fail(s, "offline count");
    stmt_done(st);
    return ret;
}

static int sqlite_offline_count(struct store_backend *b, const char *bare,
                                int64_t *count)
{
    return offline_count((struct sqlite_backend *)b, bare, count);
}

static int sqlite_offline_push(struct store_backend *b, const char *bare,
                               const char *xml, size_t len, int64_t max)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    int64_t count = 0;
    sqlite3_stmt *st;
    int rc;

    /* Count and insert in one write transaction so concurrent pushes (the
     * server and, one day, another node) cannot both slip under `max`. */
    if ((rc = tx_begin(s)) != 0)
        return rc;
    if (max > 0) {
        if ((rc = offline_count(s, bare, &count)) != 0)
            goto end;
        if (count >= max) {
            rc = ALDIS_ELIMIT;
            goto end;
        }
    }
    if (!(st = stmt_get(s, S_OFFLINE_PUSH))) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    bind_text(st, 1, bare);
    bind_blob(st, 2, xml, len);
    rc = stmt_exec(s, st, "offline push");
end:
    return tx_end(s, rc);
}

static int sqlite_offline_pop(struct store_backend *b, const char *bare,
                              struct offline_msg **msgs_out, size_t *n_out)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    struct offline_msg *msgs = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int rc, step;

    *msgs_out = NULL;
    *n_out = 0;
    if ((rc = tx_begin(s)) != 0)
        return rc;
    if (!(st = stmt_get(s, S_OFFLINE_LIST))) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    bind_text(st, 1, bare);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            struct offline_msg *grown = realloc(msgs, ncap * sizeof *grown);
            if (!grown) {
                rc = ALDIS_ENOMEM;
                goto end;
            }
            msgs = grown;
            cap = ncap;
        }
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        const void *p = sqlite3_column_blob(st, 1);
        char *xml = malloc(len + 1);
        if (!xml) {
            rc = ALDIS_ENOMEM;
            goto end;
        }
        if (len)
            memcpy(xml, p, len);
        xml[len] = '\0';
        msgs[n].id = sqlite3_column_int64(st, 0);
        msgs[n].xml = xml;
        msgs[n].len = len;
        n++;
    }
    if (step != SQLITE_DONE) {
        rc = db_fail(s, "offline pop");
        goto end;
    }
    stmt_done(st);
    st = NULL;
    if (n > 0) {
        /* Delete exactly what was read (ids up to the last one). */
        if (!(st = stmt_get(s, S_OFFLINE_CLEAR))) {
            rc = ALDIS_ESTORE;
            goto end;
        }
        bind_text(st, 1, bare);
        sqlite3_bind_int64(st, 2, msgs[n - 1].id);
        rc = stmt_exec(s, st, "offline pop");
        st = NULL;
    }
end:
    stmt_done(st);
    rc = tx_end(s, rc);
    if (rc != 0) {
        backend_offline_msgs_free(msgs, n);
        return rc;
    }
    *msgs_out = msgs;
    *n_out = n;
    return 0;
}

/* ---- message archive (XEP-0313) ------------------------------------- */

/* The stamp of the newest item, or 0 for an empty table. */
static int archive_last_ts(struct sqlite_backend *s, int64_t *ts)
{
    sqlite3_stmt *st = stmt_get(s, S_ARCHIVE_LAST_TS);
    int ret = 0;
    *ts = 0;
    if (!st)
        return ALDIS_ESTORE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *ts = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        ret = db_fail(s, "archive append");
    stmt_done(st);
    return ret;
}

static int archive_insert(struct sqlite_backend *s, const char *owner,
                          const struct archive_item *it)
{
    sqlite3_stmt *st = stmt_get(s, S_ARCHIVE_INSERT);
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, owner);
    bind_text(st, 2, it->id);
    sqlite3_bind_int64(st, 3, it->ts);
    bind_text(st, 4, it->with);
    bind_text(st, 5, it->peer ? it->peer : it->with);
    sqlite3_bind_int(st, 6, it->dir == ARCHIVE_OUT ? 1 : 0);
    bind_text(st, 7, it->origin_id);
    sqlite3_bind_int64(st, 8, it->flags);
    bind_blob(st, 9, it->xml, it->len);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        ret = ALDIS_EEXIST; /* an id already used in this archive */
    else if (rc != SQLITE_DONE)
        ret = db_fail(s, "archive append");
    stmt_done(st);
    return ret;
}

/* One write transaction for the whole batch: on the hot path, a commit
 * (the fsync of WAL mode) per message would dominate the cost. A row that
 * fails alone (duplicate id, bad arguments) fails only its own statement;
 * SQLite keeps the transaction. */
static int sqlite_archive_append(struct store_backend *b,
                                 struct archive_append_row *rows, size_t n)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    int64_t last = 0;
    int rc;

    for (size_t i = 0; i < n; i++)
        rows[i].err = 0;
    if ((rc = tx_begin(s)) != 0 || (rc = archive_last_ts(s, &last)) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct archive_item *it = rows[i].item;
        if (!rows[i].owner || !it->id || !it->with || !it->xml ||
            strlen(it->id) > ARCHIVE_ID_MAX) {
            rows[i].err = ALDIS_EINVAL;
            continue;
        }
        /* Strictly increasing stamps in append order: the archive order is
         * the order messages reached us, even when workers' clocks or a
         * clock step disagree (see store.h). */
        if (it->ts <= last)
            it->ts = last + 1;
        rows[i].err = archive_insert(s, rows[i].owner, it);
        if (rows[i].err == 0)
            last = it->ts;
        else if (rows[i].err != ALDIS_EEXIST && sqlite3_get_autocommit(s->db)) {
            /* SQLite rolled the whole transaction back (disk full, I/O). */
            rc = rows[i].err;
            goto fail;
        }
    }
    if ((rc = tx_commit(s)) != 0)
        goto fail;
    return 0;
fail:
    tx_rollback(s);
    for (size_t i = 0; i < n; i++)
        rows[i].err = rc;
    return rc;
}

/* A position in the archive order. */
struct archive_key {
    int64_t ts;
    int64_t seq;
};

/* The position of item `id` of `owner`; ALDIS_ENOTFOUND when absent. */
static int archive_locate(struct sqlite_backend *s, const char *owner,
                          const char *id, struct archive_key *key)
{
    sqlite3_stmt *st = stmt_get(s, S_ARCHIVE_LOCATE);
    int ret = 0;
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, owner);
    bind_text(st, 2, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        key->ts = sqlite3_column_int64(st, 0);
        key->seq = sqlite3_column_int64(st, 1);
    } else if (rc == SQLITE_DONE) {
        ret = ALDIS_ENOTFOUND;
    } else {
        ret = db_fail(s, "archive query");
    }
    stmt_done(st);
    return ret;
}

/* Queries combine filters freely, so their SQL is built per query: the
 * text in `sql`, the values to bind in order in `binds`. */
#define ARCHIVE_BINDS_MAX (ARCHIVE_IDS_MAX + 24)

struct archive_sql {
    struct buf sql;
    struct {
        const char *text; /* NULL: num */
        int64_t num;
    } binds[ARCHIVE_BINDS_MAX];
    int nbinds;
};

static void sql_text(struct archive_sql *q, const char *text)
{
    ALDIS_ASSERT(q->nbinds < ARCHIVE_BINDS_MAX);
    q->binds[q->nbinds].text = text;
    q->binds[q->nbinds++].num = 0;
}

static void sql_num(struct archive_sql *q, int64_t num)
{
    ALDIS_ASSERT(q->nbinds < ARCHIVE_BINDS_MAX);
    q->binds[q->nbinds].text = NULL;
    q->binds[q->nbinds++].num = num;
}

/* Items after `k` in archive order. Written as a range on ts plus a
 * tie-break, which the (owner, ts) indexes can seek to, rather than a row
 * value comparison. */
static void sql_after(struct archive_sql *q, const struct archive_key *k)
{
    buf_adds(&q->sql, " AND ts >= ? AND NOT (ts = ? AND seq <= ?)");
    sql_num(q, k->ts);
    sql_num(q, k->ts);
    sql_num(q, k->seq);
}

static void sql_before(struct archive_sql *q, const struct archive_key *k)
{
    buf_adds(&q->sql, " AND ts <= ? AND NOT (ts = ? AND seq >= ?)");
    sql_num(q, k->ts);
    sql_num(q, k->ts);
    sql_num(q, k->seq);
}

/* Bound positions of a query, resolved from the ids it names. */
struct archive_bounds {
    bool has_after, has_before, has_page_after, has_page_before;
    struct archive_key after, before, page_after, page_before;
};

/* The WHERE clause of the set the filters select (no paging). */
static void sql_filters(struct archive_sql *q, const struct archive_query *aq,
                        const struct archive_bounds *bd)
{
    buf_adds(&q->sql, " WHERE owner = ?");
    sql_text(q, aq->owner);
    if (aq->with) {
        buf_adds(&q->sql, " AND with_bare = ?");
        sql_text(q, aq->with);
    }
    if (aq->peer) {
        buf_adds(&q->sql, " AND peer = ?");
        sql_text(q, aq->peer);
    }
    if (aq->has_start) {
        buf_adds(&q->sql, " AND ts >= ?");
        sql_num(q, aq->start);
    }
    if (aq->has_end) {
        buf_adds(&q->sql, " AND ts <= ?");
        sql_num(q, aq->end);
    }
    if (aq->dir >= 0) {
        buf_adds(&q->sql, " AND direction = ?");
        sql_num(q, aq->dir == ARCHIVE_OUT ? 1 : 0);
    }
    if (aq->origin_id) {
        buf_adds(&q->sql, " AND origin_id = ?");
        sql_text(q, aq->origin_id);
    }
    if (bd->has_after)
        sql_after(q, &bd->after);
    if (bd->has_before)
        sql_before(q, &bd->before);
    if (aq->nids) {
        buf_adds(&q->sql, " AND id IN (");
        for (size_t i = 0; i < aq->nids; i++) {
            buf_adds(&q->sql, i ? ", ?" : "?");
            sql_text(q, aq->ids[i]);
        }
        buf_addc(&q->sql, ')');
    }
}

/* Prepare q's SQL (not cached: every filter combination differs) and bind
 * its values. */
static sqlite3_stmt *sql_prepare(struct sqlite_backend *s, struct archive_sql *q)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, buf_cstr(&q->sql), -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, "archive query");
        return NULL;
    }
    for (int i = 0; i < q->nbinds; i++) {
        if (q->binds[i].text)
            bind_text(st, i + 1, q->binds[i].text);
        else
            sqlite3_bind_int64(st, i + 1, q->binds[i].num);
    }
    return st;
}

/* count(*) over the filtered set, optionally only before position k. */
static int archive_count(struct sqlite_backend *s, const struct archive_query *aq,
                         const struct archive_bounds *bd,
                         const struct archive_key *before, int64_t *count)
{
    struct archive_sql q;
    int ret = 0;
    buf_init(&q.sql);
    q.nbinds = 0;
    buf_adds(&q.sql, "SELECT count(*) FROM archive");
    sql_filters(&q, aq, bd);
    if (before)
        sql_before(&q, before);
    sqlite3_stmt *st = sql_prepare(s, &q);
    if (!st) {
        ret = ALDIS_ESTORE;
        goto out;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        *count = sqlite3_column_int64(st, 0);
    else
        ret = db_fail(s, "archive count");
    sqlite3_finalize(st);
out:
    buf_free(&q.sql);
    return ret;
}

static int archive_row_read(sqlite3_stmt *st, struct archive_item *it)
{
    memset(it, 0, sizeof *it);
    it->id = col_strdup(st, 0);
    it->ts = sqlite3_column_int64(st, 1);
    it->with = col_strdup(st, 2);
    it->peer = col_strdup(st, 3);
    it->dir = sqlite3_column_int(st, 4) ? ARCHIVE_OUT : ARCHIVE_IN;
    it->origin_id = col_strdup(st, 5);
    it->flags = (unsigned)sqlite3_column_int64(st, 6);
    size_t len = (size_t)sqlite3_column_bytes(st, 7);
    const void *p = sqlite3_column_blob(st, 7);
    it->xml = malloc(len + 1);
    if (!it->id || !it->with || !it->peer || !it->xml ||
        (sqlite3_column_type(st, 5) != SQLITE_NULL && !it->origin_id)) {
        backend_archive_item_clear(it);
        return ALDIS_ENOMEM;
    }
    if (len)
        memcpy(it->xml, p, len);
    it->xml[len] = '\0';
    it->len = len;
    return 0;
}

/* Resolve the ids a query names to positions; every one must exist
 * (XEP-0313 §4.1.3 and §4.3.2: item-not-found otherwise). */
static int archive_bounds_resolve(struct sqlite_backend *s,
                                  const struct archive_query *aq,
                                  struct archive_bounds *bd)
{
    struct {
        const char *id;
        bool *has;
        struct archive_key *key;
    } named[] = {
        {aq->after_id, &bd->has_after, &bd->after},
        {aq->before_id, &bd->has_before, &bd->before},
        {aq->page_after, &bd->has_page_after, &bd->page_after},
        {aq->page_before, &bd->has_page_before, &bd->page_before},
    };
    int rc;
    memset(bd, 0, sizeof *bd);
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (!named[i].id)
            continue;
        if ((rc = archive_locate(s, aq->owner, named[i].id, named[i].key)) != 0)
            return rc;
        *named[i].has = true;
    }
    for (size_t i = 0; i < aq->nids; i++) {
        struct archive_key unused;
        if (!aq->ids[i] || (rc = archive_locate(s, aq->owner, aq->ids[i], &unused)) != 0)
            return aq->ids[i] ? rc : ALDIS_EINVAL;
    }
    return 0;
}

static int sqlite_archive_query(struct store_backend *b,
                                const struct archive_query *aq,
                                struct archive_page *out)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    struct archive_bounds bd;
    struct archive_sql q;
    struct archive_item *items = NULL;
    sqlite3_stmt *st = NULL;
    size_t n = 0, max = aq->max > ARCHIVE_PAGE_MAX ? ARCHIVE_PAGE_MAX : aq->max;
    int64_t first_seq = 0;
    int rc = 0, step;

    memset(out, 0, sizeof *out);
    out->count = out->first_index = -1;
    buf_init(&q.sql);
    q.nbinds = 0;
    if (!aq->owner || aq->nids > ARCHIVE_IDS_MAX || aq->index < 0)
        return ALDIS_EINVAL;
    /* One read transaction: the page and its counts are one snapshot. */
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, "archive query");
    if ((rc = archive_bounds_resolve(s, aq, &bd)) != 0)
        goto out;

    /* One row more than the page tells whether the page is the last one in
     * its direction (XEP-0313 §4.3.2 'complete'). */
    buf_adds(&q.sql, "SELECT id, ts, with_bare, peer, direction, origin_id,"
                     " flags, xml, seq FROM archive");
    sql_filters(&q, aq, &bd);
    if (bd.has_page_after)
        sql_after(&q, &bd.page_after);
    if (bd.has_page_before)
        sql_before(&q, &bd.page_before);
    buf_adds(&q.sql, aq->backward ? " ORDER BY ts DESC, seq DESC" : " ORDER BY ts, seq");
    buf_adds(&q.sql, " LIMIT ? OFFSET ?");
    sql_num(&q, (int64_t)max + 1);
    sql_num(&q, aq->backward ? 0 : aq->index);
    if (!(st = sql_prepare(s, &q))) {
        rc = ALDIS_ESTORE;
        goto out;
    }
    if (max > 0 && !(items = calloc(max, sizeof *items))) {
        rc = ALDIS_ENOMEM;
        goto out;
    }
    out->complete = true;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == max) {
            out->complete = false;
            break;
        }
        if ((rc = archive_row_read(st, &items[n])) != 0)
            goto out;
        if (n == 0 || aq->backward)
            first_seq = sqlite3_column_int64(st, 8);
        n++;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = db_fail(s, "archive query");
        goto out;
    }
    /* A backward page was read newest first; results go oldest first. */
    if (aq->backward) {
        for (size_t i = 0; i < n / 2; i++) {
            struct archive_item t = items[i];
            items[i] = items[n - 1 - i];
            items[n - 1 - i] = t;
        }
    }
    if (aq->want_count) {
        if ((rc = archive_count(s, aq, &bd, NULL, &out->count)) != 0)
            goto out;
        if (n > 0) {
            struct archive_key first = {items[0].ts, first_seq};
            if ((rc = archive_count(s, aq, &bd, &first, &out->first_index)) != 0)
                goto out;
        }
    }
    out->stable = true;
out:
    sqlite3_finalize(st);
    buf_free(&q.sql);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            backend_archive_item_clear(&items[i]);
        free(items);
        memset(out, 0, sizeof *out);
        out->count = out->first_index = -1;
        return rc;
    }
    if (n == 0) {
        free(items);
        items = NULL;
    }
    out->items = items;
    out->n = n;
    return 0;
}

static int sqlite_archive_update(struct store_backend *b, const char *owner,
                                 const char *id, const char *xml, size_t len,
                                 unsigned flags)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st = stmt_get(s, S_ARCHIVE_UPDATE);
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, owner);
    bind_text(st, 2, id);
    bind_blob(st, 3, xml, len);
    sqlite3_bind_int64(st, 4, flags);
    int rc = stmt_exec(s, st, "archive update");
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = ALDIS_ENOTFOUND;
    return rc;
}

static int sqlite_archive_purge(struct store_backend *b, int64_t before,
                                int64_t limit, int64_t *deleted)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st = stmt_get(s, S_ARCHIVE_PURGE);
    *deleted = 0;
    if (!st)
        return ALDIS_ESTORE;
    if (limit <= 0)
        return ALDIS_EINVAL;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, limit);
    int rc = stmt_exec(s, st, "archive purge");
    if (rc == 0)
        *deleted = sqlite3_changes(s->db);
    return rc;
}

static int sqlite_archive_delete(struct store_backend *b, const char *owner, int64_t *deleted)
{
    struct sqlite_backend *s = (struct sqlite_backend *)b;
    sqlite3_stmt *st = stmt_get(s, S_OWNER_ARCHIVE_DEL);
    *deleted = 0;
    if (!st)
        return ALDIS_ESTORE;
    bind_text(st, 1, owner);
    int rc = stmt_exec(s, st, "archive delete");
    if (rc == 0)
        *deleted = sqlite3_changes(s->db);
    return rc;
}

static const struct store_backend_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .last_error = sqlite_last_error,
    .schema_version = sqlite_schema_version,
    .user_put = sqlite_user_put,
    .user_get = sqlite_user_get,
    .user_del = sqlite_user_del,
    .user_list = sqlite_user_list,
    .roster_load = sqlite_roster_load,
    .roster_put = sqlite_roster_put,
    .roster_del = sqlite_roster_del,
    .kv_get = sqlite_kv_get,
    .kv_put = sqlite_kv_put,
    .kv_del = sqlite_kv_del,
    .offline_push = sqlite_offline_push,
    .offline_pop = sqlite_offline_pop,
    .offline_count = sqlite_offline_count,
    .archive_append = sqlite_archive_append,
    .archive_query = sqlite_archive_query,
    .archive_update = sqlite_archive_update,
    .archive_purge = sqlite_archive_purge,
    .archive_delete = sqlite_archive_delete,
    .pubsub = &sqlite_pubsub_ops,
    .upload = &sqlite_upload_ops,
    .labels = &sqlite_labels_ops,
};

/* For sqlite_pubsub.c (backend_pubsub.h). */
struct sqlite3 *sqlite__db(struct store_backend *b)
{
    return ((struct sqlite_backend *)b)->db;
}

int sqlite__fail(struct store_backend *b, const char *what)
{
    return db_fail((struct sqlite_backend *)b, what);
}

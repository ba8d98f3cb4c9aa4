/* test_store_sqlite.c - the SQLite backend (src/store/sqlite) through the
 * backend_* API, and the asynchronous store (src/store/store.c) on top of it,
 * called from a non-worker thread so callbacks run on the store thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "aldis/worker.h"
#include "core/worker_internal.h"
#include "store/backend.h"

#include "store_fixture.h"

static void keys_fill(struct scram_keys *k, unsigned char seed)
{
    memset(k, 0, sizeof *k);
    memset(k->salt, seed, sizeof k->salt);
    k->iterations = 4096;
    memset(k->stored_key_sha1, seed + 1, sizeof k->stored_key_sha1);
    memset(k->server_key_sha1, seed + 2, sizeof k->server_key_sha1);
    memset(k->stored_key_sha256, seed + 3, sizeof k->stored_key_sha256);
    memset(k->server_key_sha256, seed + 4, sizeof k->server_key_sha256);
}

/* ---- schema ---------------------------------------------------------- */

static void test_schema(void **state)
{
    struct fixture *f = *state;
    int v = -1;
    char err[256];
    assert_int_equal(backend_schema_version(f->b, &v), 0);
    assert_int_equal(v, sqlite_backend_schema_latest());
    assert_true(v >= 1);

    /* Re-opening an up-to-date database migrates nothing and works. */
    struct store_backend *b2 = sqlite_backend_open(f->path, err, sizeof err);
    assert_non_null(b2);
    assert_int_equal(backend_schema_version(b2, &v), 0);
    assert_int_equal(v, sqlite_backend_schema_latest());
    backend_close(b2);

    /* A database from a newer build is refused with a clear message. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO schema_version VALUES (999, 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_null(sqlite_backend_open(f->path, err, sizeof err));
    assert_non_null(strstr(err, "newer"));

    /* The WAL journal is in use. */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    assert_null(backend_open("postgresql", f->path, err, sizeof err));
    assert_non_null(strstr(err, "not available"));
}

static void test_open_bad_path(void **state)
{
    char err[256] = "";
    assert_null(sqlite_backend_open("/nonexistent-dir/x/aldis.db", err, sizeof err));
    assert_true(strlen(err) > 0);
}

/* ---- accounts -------------------------------------------------------- */

static void test_user_put_get(void **state)
{
    struct fixture *f = *state;
    struct scram_keys a, b, got;
    keys_fill(&a, 1);
    keys_fill(&b, 7);

    assert_int_equal(backend_user_get(f->b, "example.org", "alice", &got),
                     ALDIS_ENOTFOUND);
    assert_int_equal(backend_user_put(f->b, "example.org", "alice", &a,
                                      BACKEND_PUT_REPLACE),
                     ALDIS_ENOTFOUND);
    assert_int_equal(backend_user_put(f->b, "example.org", "alice", &a,
                                      BACKEND_PUT_CREATE),
                     0);
    assert_int_equal(backend_user_put(f->b, "example.org", "alice", &b,
                                      BACKEND_PUT_CREATE),
                     ALDIS_EEXIST);
    assert_int_equal(backend_user_get(f->b, "example.org", "alice", &got), 0);
    assert_memory_equal(&got, &a, sizeof a);

    /* Same user name on another host is a different account. */
    assert_int_equal(backend_user_get(f->b, "example.com", "alice", &got),
                     ALDIS_ENOTFOUND);

    assert_int_equal(backend_user_put(f->b, "example.org", "alice", &b,
                                      BACKEND_PUT_REPLACE),
                     0);
    assert_int_equal(backend_user_get(f->b, "example.org", "alice", &got), 0);
    assert_memory_equal(&got, &b, sizeof b);

    keys_fill(&a, 20);
    a.iterations = 10000;
    assert_int_equal(backend_user_put(f->b, "example.org", "alice", &a,
                                      BACKEND_PUT_UPSERT),
                     0);
    assert_int_equal(backend_user_put(f->b, "example.org", "bob", &b,
                                      BACKEND_PUT_UPSERT),
                     0);
    assert_int_equal(backend_user_get(f->b, "example.org", "alice", &got), 0);
    assert_memory_equal(&got, &a, sizeof a);
    assert_int_equal(backend_user_get(f->b, "example.org", "bob", &got), 0);
    assert_memory_equal(&got, &b, sizeof b);
}

struct list_acc {
    char out[512];
    int stop_after;
    int seen;
};

static int list_fn(void *ud, const char *host, const char *user)
{
    struct list_acc *acc = ud;
    size_t n = strlen(acc->out);
    snprintf(acc->out + n, sizeof acc->out - n, "%s@%s;", user, host);
    acc->seen++;
    return acc->stop_after && acc->seen >= acc->stop_after ? 42 : 0;
}

static void test_user_list(void **state)
{
    struct fixture *f = *state;
    struct scram_keys k;
    keys_fill(&k, 3);
    const char *users[][2] = {{"b.org", "zed"}, {"a.org", "mia"},
                              {"b.org", "amy"}, {"a.org", "ann"}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(backend_user_put(f->b, users[i][0], users[i][1], &k,
                                          BACKEND_PUT_CREATE),
                         0);
    struct list_acc acc = {0};
    assert_int_equal(backend_user_list(f->b, NULL, list_fn, &acc), 0);
    assert_string_equal(acc.out, "ann@a.org;mia@a.org;amy@b.org;zed@b.org;");

    memset(&acc, 0, sizeof acc);
    assert_int_equal(backend_user_list(f->b, "b.org", list_fn, &acc), 0);
    assert_string_equal(acc.out, "amy@b.org;zed@b.org;");

    memset(&acc, 0, sizeof acc);
    assert_int_equal(backend_user_list(f->b, "c.org", list_fn, &acc), 0);
    assert_string_equal(acc.out, "");

    /* A non-zero return stops the listing and is passed back. */
    memset(&acc, 0, sizeof acc);
    acc.stop_after = 1;
    assert_int_equal(backend_user_list(f->b, NULL, list_fn, &acc), 42);
    assert_string_equal(acc.out, "ann@a.org;");
    /* ...and leaves the connection usable. */
    memset(&acc, 0, sizeof acc);
    assert_int_equal(backend_user_list(f->b, "a.org", list_fn, &acc), 0);
    assert_string_equal(acc.out, "ann@a.org;mia@a.org;");
}

static struct roster_item item_make(const char *jid, const char *name,
                                    enum roster_sub sub, char **groups,
                                    size_t ngroups)
{
    struct roster_item it = {0};
    it.jid = (char *)jid;
    it.name = (char *)name;
    it.subscription = sub;
    it.groups = groups;
    it.ngroups = ngroups;
    return it;
}

static void test_user_del_cascade(void **state)
{
    struct fixture *f = *state;
    struct scram_keys k, got;
    struct roster_item *items;
    size_t n;
    int64_t ver, count;
    char *val;
    size_t len;
    char *groups[] = {"Friends"};

    keys_fill(&k, 5);
    assert_int_equal(backend_user_put(f->b, "a.org", "alice", &k, BACKEND_PUT_CREATE), 0);
    assert_int_equal(backend_user_put(f->b, "a.org", "bob", &k, BACKEND_PUT_CREATE), 0);

    struct roster_item it = item_make("carol@c.org", "Carol", SUB_BOTH, groups, 1);
    assert_int_equal(backend_roster_put(f->b, "alice@a.org", &it), 0);
    assert_int_equal(backend_roster_put(f->b, "bob@a.org", &it), 0);
    assert_int_equal(backend_kv_put(f->b, "alice@a.org", "vcard", "<v/>", 4), 0);
    assert_int_equal(backend_kv_put(f->b, "bob@a.org", "vcard", "<w/>", 4), 0);
    assert_int_equal(backend_offline_push(f->b, "alice@a.org", "<m/>", 4, 10), 0);
    assert_int_equal(backend_offline_push(f->b, "bob@a.org", "<m/>", 4, 10), 0);

    assert_int_equal(backend_user_del(f->b, "a.org", "alice"), 0);
    assert_int_equal(backend_user_del(f->b, "a.org", "alice"), ALDIS_ENOTFOUND);
    assert_int_equal(backend_user_get(f->b, "a.org", "alice", &got), ALDIS_ENOTFOUND);

    /* Everything of alice's is gone, roster version included... */
    assert_int_equal(backend_roster_load(f->b, "alice@a.org", &items, &n, &ver), 0);
    assert_int_equal(n, 0);
    assert_null(items);
    assert_int_equal(ver, 0);
    assert_int_equal(backend_kv_get(f->b, "alice@a.org", "vcard", &val, &len),
                     ALDIS_ENOTFOUND);
    assert_int_equal(backend_offline_count(f->b, "alice@a.org", &count), 0);
    assert_int_equal(count, 0);

    /* ...and no group rows are left behind. */
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM roster_groups"
                                        " WHERE owner = 'alice@a.org'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Bob is untouched. */
    assert_int_equal(backend_user_get(f->b, "a.org", "bob", &got), 0);
    assert_int_equal(backend_roster_load(f->b, "bob@a.org", &items, &n, &ver), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].groups[0], "Friends");
    backend_roster_items_free(items, n);
    assert_int_equal(backend_kv_get(f->b, "bob@a.org", "vcard", &val, &len), 0);
    assert_string_equal(val, "<w/>");
    free(val);
    assert_int_equal(backend_offline_count(f->b, "bob@a.org", &count), 0);
    assert_int_equal(count, 1);
}

/* ---- rosters --------------------------------------------------------- */

static void test_roster(void **state)
{
    struct fixture *f = *state;
    struct roster_item *items = NULL;
    size_t n = 99;
    int64_t ver = -1, ver2;
    const char *owner = "alice@a.org";

    assert_int_equal(backend_roster_load(f->b, owner, &items, &n, &ver), 0);
    assert_null(items);
    assert_int_equal(n, 0);
    assert_int_equal(ver, 0);

    char *g1[] = {"Work", "Friends", "Work"}; /* duplicate kept once */
    struct roster_item zed = item_make("zed@z.org", NULL, SUB_NONE, g1, 3);
    zed.ask = true;
    zed.pending_stanza = "<presence type='subscribe'/>";
    struct roster_item amy = item_make("amy@b.org", "Amy \xc3\xa9", SUB_FROM, NULL, 0);
    amy.pending_in = true;
    amy.approved = true;
    assert_int_equal(backend_roster_put(f->b, owner, &zed), 0);
    assert_int_equal(backend_roster_put(f->b, owner, &amy), 0);

    assert_int_equal(backend_roster_load(f->b, owner, &items, &n, &ver), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ver, 2);
    /* Ordered by contact JID. */
    assert_string_equal(items[0].jid, "amy@b.org");
    assert_string_equal(items[0].name, "Amy \xc3\xa9");
    assert_int_equal(items[0].subscription, SUB_FROM);
    assert_false(items[0].ask);
    assert_true(items[0].pending_in);
    assert_true(items[0].approved);
    assert_int_equal(items[0].ngroups, 0);
    assert_null(items[0].pending_stanza);
    assert_string_equal(items[1].jid, "zed@z.org");
    assert_null(items[1].name);
    assert_int_equal(items[1].subscription, SUB_NONE);
    assert_true(items[1].ask);
    assert_false(items[1].pending_in);
    assert_int_equal(items[1].ngroups, 2);
    /* Groups keep the client's order. */
    assert_string_equal(items[1].groups[0], "Work");
    assert_string_equal(items[1].groups[1], "Friends");
    assert_string_equal(items[1].pending_stanza, "<presence type='subscribe'/>");

    /* The deep copy helper copies everything. */
    struct roster_item *copy = calloc(1, sizeof *copy);
    assert_non_null(copy);
    assert_int_equal(backend_roster_item_copy(copy, &items[1]), 0);
    backend_roster_items_free(items, n);
    assert_string_equal(copy->jid, "zed@z.org");
    assert_int_equal(copy->ngroups, 2);
    assert_string_equal(copy->groups[1], "Friends");
    assert_string_equal(copy->pending_stanza, "<presence type='subscribe'/>");
    backend_roster_items_free(copy, 1);

    /* Replacing an item replaces its groups too. */
    char *g2[] = {"Family"};
    zed = item_make("zed@z.org", "Zed", SUB_BOTH, g2, 1);
    assert_int_equal(backend_roster_put(f->b, owner, &zed), 0);
    assert_int_equal(backend_roster_load(f->b, owner, &items, &n, &ver2), 0);
    assert_true(ver2 > ver);
    assert_int_equal(n, 2);
    assert_string_equal(items[1].name, "Zed");
    assert_int_equal(items[1].subscription, SUB_BOTH);
    assert_false(items[1].ask);
    assert_null(items[1].pending_stanza);
    assert_int_equal(items[1].ngroups, 1);
    assert_string_equal(items[1].groups[0], "Family");
    backend_roster_items_free(items, n);

    /* Other owners do not see it. */
    assert_int_equal(backend_roster_load(f->b, "bob@a.org", &items, &n, &ver), 0);
    assert_int_equal(n, 0);

    /* Delete, version grows; deleting again is ENOTFOUND and keeps it. */
    assert_int_equal(backend_roster_del(f->b, owner, "zed@z.org"), 0);
    assert_int_equal(backend_roster_load(f->b, owner, &items, &n, &ver), 0);
    assert_int_equal(n, 1);
    assert_true(ver > ver2);
    assert_string_equal(items[0].jid, "amy@b.org");
    backend_roster_items_free(items, n);
    assert_int_equal(backend_roster_del(f->b, owner, "zed@z.org"), ALDIS_ENOTFOUND);
    assert_int_equal(backend_roster_load(f->b, owner, &items, &n, &ver2), 0);
    assert_int_equal(ver2, ver);
    backend_roster_items_free(items, n);

    /* Bad input. */
    struct roster_item bad = item_make(NULL, NULL, SUB_NONE, NULL, 0);
    assert_int_equal(backend_roster_put(f->b, owner, &bad), ALDIS_EINVAL);
}

/* ---- key/value ------------------------------------------------------- */

static void test_kv(void **state)
{
    struct fixture *f = *state;
    char *v;
    size_t len;
    const char bin[] = {'a', 0, 'b', (char)0xff};

    assert_int_equal(backend_kv_get(f->b, "a@a.org", "k", &v, &len), ALDIS_ENOTFOUND);
    assert_null(v);
    assert_int_equal(backend_kv_put(f->b, "a@a.org", "k", bin, sizeof bin), 0);
    assert_int_equal(backend_kv_get(f->b, "a@a.org", "k", &v, &len), 0);
    assert_int_equal(len, sizeof bin);
    assert_memory_equal(v, bin, sizeof bin);
    assert_int_equal(v[len], '\0');
    free(v);

    assert_int_equal(backend_kv_put(f->b, "a@a.org", "k", "second", 6), 0);
    assert_int_equal(backend_kv_get(f->b, "a@a.org", "k", &v, &len), 0);
    assert_string_equal(v, "second");
    free(v);

    /* Empty values are values, not absence. */
    assert_int_equal(backend_kv_put(f->b, "a@a.org", "empty", NULL, 0), 0);
    assert_int_equal(backend_kv_get(f->b, "a@a.org", "empty", &v, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(v, "");
    free(v);

    /* Keys are per owner. */
    assert_int_equal(backend_kv_get(f->b, "b@a.org", "k", &v, &len), ALDIS_ENOTFOUND);

    assert_int_equal(backend_kv_del(f->b, "a@a.org", "k"), 0);
    assert_int_equal(backend_kv_get(f->b, "a@a.org", "k", &v, &len), ALDIS_ENOTFOUND);
    assert_int_equal(backend_kv_del(f->b, "a@a.org", "k"), 0);
}

/* ---- offline --------------------------------------------------------- */

static void test_offline(void **state)
{
    struct fixture *f = *state;
    struct offline_msg *msgs = NULL;
    size_t n = 7;
    int64_t count;
    char xml[32];

    assert_int_equal(backend_offline_pop(f->b, "a@a.org", &msgs, &n), 0);
    assert_null(msgs);
    assert_int_equal(n, 0);

    for (int i = 0; i < 3; i++) {
        snprintf(xml, sizeof xml, "<message id='%d'/>", i);
        assert_int_equal(backend_offline_push(f->b, "a@a.org", xml, strlen(xml), 3), 0);
    }
    /* The limit: a fourth is refused, another user is not affected, and
     * max <= 0 means no limit. */
    assert_int_equal(backend_offline_push(f->b, "a@a.org", "<x/>", 4, 3), ALDIS_ELIMIT);
    assert_int_equal(backend_offline_push(f->b, "b@a.org", "<x/>", 4, 3), 0);
    assert_int_equal(backend_offline_count(f->b, "a@a.org", &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(backend_offline_push(f->b, "a@a.org", "<m id='3'/>", 11, 0), 0);

    assert_int_equal(backend_offline_pop(f->b, "a@a.org", &msgs, &n), 0);
    assert_int_equal(n, 4);
    for (int i = 0; i < 3; i++) {
        snprintf(xml, sizeof xml, "<message id='%d'/>", i);
        assert_string_equal(msgs[i].xml, xml);
        assert_int_equal(msgs[i].len, strlen(xml));
        if (i > 0)
            assert_true(msgs[i].id > msgs[i - 1].id);
    }
    assert_string_equal(msgs[3].xml, "<m id='3'/>");
    backend_offline_msgs_free(msgs, n);

    /* Popped means deleted. */
    assert_int_equal(backend_offline_pop(f->b, "a@a.org", &msgs, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(backend_offline_count(f->b, "b@a.org", &count), 0);
    assert_int_equal(count, 1);
}

/* A second connection (aldisctl while the server runs) sees the writes. */
static void test_two_connections(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct scram_keys k, got;
    struct store_backend *b2 = sqlite_backend_open(f->path, err, sizeof err);
    assert_non_null(b2);
    keys_fill(&k, 9);
    assert_int_equal(backend_user_put(b2, "a.org", "late", &k, BACKEND_PUT_CREATE), 0);
    assert_int_equal(backend_user_get(f->b, "a.org", "late", &got), 0);
    assert_memory_equal(&got, &k, sizeof k);
    backend_close(b2);
}

/* ---- the asynchronous store ------------------------------------------ */

/* Callbacks run on the store thread here (no workers): collect results under
 * a lock and wait for them. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int err;
    int order[16];
    int norder;
    struct scram_keys keys;
    size_t n;
    int64_t version;
    char text[256];
    pthread_t thread;
};

static struct waiter W = {.mu = PTHREAD_MUTEX_INITIALIZER,
                          .cv = PTHREAD_COND_INITIALIZER};

static void w_reset(void)
{
    pthread_mutex_lock(&W.mu);
    W.done = 0;
    W.err = 0;
    W.norder = 0;
    W.n = 0;
    W.version = 0;
    W.text[0] = '\0';
    memset(&W.keys, 0, sizeof W.keys);
    pthread_mutex_unlock(&W.mu);
}

static void w_signal(void)
{
    W.done++;
    W.thread = pthread_self();
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
}

static void w_wait(int count)
{
    pthread_mutex_lock(&W.mu);
    while (W.done < count)
        pthread_cond_wait(&W.cv, &W.mu);
    pthread_mutex_unlock(&W.mu);
}

static void on_done(void *ud, int err)
{
    pthread_mutex_lock(&W.mu);
    if (W.norder < 16)
        W.order[W.norder++] = (int)(intptr_t)ud;
    if (err)
        W.err = err;
    w_signal();
}

static void on_creds(void *ud, int err, const struct scram_keys *k)
{
    pthread_mutex_lock(&W.mu);
    W.err = err;
    if (k)
        W.keys = *k;
    w_signal();
}

static void on_roster(void *ud, int err, const struct roster_item *items,
                      size_t n, int64_t version)
{
    pthread_mutex_lock(&W.mu);
    W.err = err;
    W.n = n;
    W.version = version;
    W.text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(W.text, items[i].jid, sizeof W.text - strlen(W.text) - 2);
        strcat(W.text, ";");
    }
    w_signal();
}

static void on_kv(void *ud, int err, const char *value, size_t len)
{
    pthread_mutex_lock(&W.mu);
    W.err = err;
    W.n = len;
    snprintf(W.text, sizeof W.text, "%s", value ? value : "(null)");
    w_signal();
}

static void on_offline(void *ud, int err, const struct offline_msg *msgs, size_t n)
{
    pthread_mutex_lock(&W.mu);
    W.err = err;
    W.n = n;
    W.text[0] = '\0';
    for (size_t i = 0; i < n; i++)
        strncat(W.text, msgs[i].xml, sizeof W.text - strlen(W.text) - 1);
    w_signal();
}

static void test_async(void **state)
{
    struct fixture *f = *state;
    struct scram_keys k;

    /* Not open yet: the callback still runs once, with ECLOSED. */
    w_reset();
    store_kv_del("a@a.org", "k", on_done, NULL);
    w_wait(1);
    assert_int_equal(W.err, ALDIS_ECLOSED);

    keys_fill(&k, 11);
    assert_int_equal(backend_user_put(f->b, "a.org", "alice", &k, BACKEND_PUT_CREATE), 0);
    assert_int_equal(store_open("sqlite", f->path), 0);
    assert_int_equal(store_open("sqlite", f->path), ALDIS_EEXIST);

    w_reset();
    store_user_get("a.org", "alice", on_creds, NULL);
    w_wait(1);
    assert_int_equal(W.err, 0);
    assert_memory_equal(&W.keys, &k, sizeof k);
    /* No workers: the callback ran on the store thread, not ours. */
    assert_false(pthread_equal(W.thread, pthread_self()));

    w_reset();
    store_user_get("a.org", "nobody", on_creds, NULL);
    w_wait(1);
    assert_int_equal(W.err, ALDIS_ENOTFOUND);

    /* FIFO: writes complete in submission order. Arguments are copied, so
     * the caller's buffers may change at once. */
    w_reset();
    char jid[32];
    struct roster_item it = {0};
    it.jid = jid;
    for (int i = 0; i < 5; i++) {
        snprintf(jid, sizeof jid, "c%d@b.org", i);
        store_roster_put("alice@a.org", &it, on_done, (void *)(intptr_t)i);
    }
    store_roster_del("alice@a.org", "c0@b.org", on_done, (void *)(intptr_t)5);
    store_roster_del("alice@a.org", "nope@b.org", NULL, NULL); /* fire and forget */
    w_wait(6);
    assert_int_equal(W.err, 0);
    assert_int_equal(W.norder, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(W.order[i], i);

    w_reset();
    store_roster_load("alice@a.org", on_roster, NULL);
    w_wait(1);
    assert_int_equal(W.err, 0);
    assert_int_equal(W.n, 4);
    assert_int_equal(W.version, 6);
    assert_string_equal(W.text, "c1@b.org;c2@b.org;c3@b.org;c4@b.org;");

    w_reset();
    char val[8] = "hello";
    store_kv_put("alice@a.org", "k", val, 5, NULL, NULL);
    val[0] = 'X';
    store_kv_get("alice@a.org", "k", on_kv, NULL);
    w_wait(1);
    assert_int_equal(W.err, 0);
    assert_int_equal(W.n, 5);
    assert_string_equal(W.text, "hello");

    w_reset();
    store_kv_del("alice@a.org", "k", on_done, NULL);
    store_kv_get("alice@a.org", "k", on_kv, NULL);
    w_wait(2);
    assert_int_equal(W.err, ALDIS_ENOTFOUND);
    assert_string_equal(W.text, "(null)");

    w_reset();
    store_offline_push("alice@a.org", "<a/>", 4, 2, on_done, (void *)(intptr_t)0);
    store_offline_push("alice@a.org", "<b/>", 4, 2, on_done, (void *)(intptr_t)1);
    store_offline_push("alice@a.org", "<c/>", 4, 2, on_done, (void *)(intptr_t)2);
    w_wait(3);
    assert_int_equal(W.err, ALDIS_ELIMIT);
    w_reset();
    store_offline_pop("alice@a.org", on_offline, NULL);
    w_wait(1);
    assert_int_equal(W.err, 0);
    assert_int_equal(W.n, 2);
    assert_string_equal(W.text, "<a/><b/>");

    /* store_close drains: everything queued before it completes. */
    w_reset();
    for (int i = 0; i < 10; i++)
        store_kv_put("alice@a.org", "n", "v", 1, on_done, (void *)(intptr_t)i);
    store_close();
    pthread_mutex_lock(&W.mu);
    assert_int_equal(W.done, 10);
    pthread_mutex_unlock(&W.mu);

    /* Closed again: requests fail with ECLOSED; close twice is harmless. */
    store_close();
    w_reset();
    store_offline_pop("alice@a.org", on_offline, NULL);
    w_wait(1);
    assert_int_equal(W.err, ALDIS_ECLOSED);

    /* It can be opened again. */
    assert_int_equal(store_open("sqlite", f->path), 0);
    w_reset();
    store_kv_get("alice@a.org", "n", on_kv, NULL);
    w_wait(1);
    assert_int_equal(W.err, 0);
    assert_string_equal(W.text, "v");
    store_close();

    assert_int_equal(store_open("nosuch", f->path), ALDIS_ESTORE);
}

/* With real workers: each callback runs on the worker that made the call,
 * never on the store thread. */
static int worker_seen[16];
static int nworker_seen;

static void on_done_worker(void *ud, int err)
{
    pthread_mutex_lock(&W.mu);
    struct worker *w = worker_current();
    if (nworker_seen < 16)
        worker_seen[nworker_seen++] = w ? worker_id(w) : -1;
    if (err)
        W.err = err;
    w_signal();
}

static void on_kv_worker(void *ud, int err, const char *value, size_t len)
{
    pthread_mutex_lock(&W.mu);
    struct worker *w = worker_current();
    if (nworker_seen < 16)
        worker_seen[nworker_seen++] = w ? worker_id(w) : -1;
    W.err = err;
    snprintf(W.text, sizeof W.text, "%s", value ? value : "(null)");
    w_signal();
}

static void worker_noop_init(struct worker *w)
{
}

/* Runs on worker `arg`. */
static void worker_make_calls(struct worker *w, void *arg)
{
    char key[16];
    snprintf(key, sizeof key, "w%d", worker_id(w));
    store_kv_put("alice@a.org", key, key, strlen(key), on_done_worker, NULL);
    store_kv_get("alice@a.org", key, on_kv_worker, NULL);
}

static void test_async_workers(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_open("sqlite", f->path), 0);
    assert_int_equal(worker_start_all(2, worker_noop_init), 0);

    w_reset();
    nworker_seen = 0;
    worker_post(1, worker_make_calls, NULL);
    w_wait(2);
    assert_int_equal(W.err, 0);
    assert_string_equal(W.text, "w1");
    assert_int_equal(nworker_seen, 2);
    assert_int_equal(worker_seen[0], 1);
    assert_int_equal(worker_seen[1], 1);

    w_reset();
    nworker_seen = 0;
    worker_post(0, worker_make_calls, NULL);
    w_wait(2);
    assert_string_equal(W.text, "w0");
    assert_int_equal(worker_seen[0], 0);
    assert_int_equal(worker_seen[1], 0);

    /* The server's shutdown order (worker_internal.h). */
    worker_stop_threads();
    store_close();
    worker_finish(NULL);
}

int main(void)
{
    log_threshold = LOG_WARN; /* keep "schema migrated" lines out of the output */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test(test_open_bad_path),
        cmocka_unit_test_setup_teardown(test_user_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_del_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_workers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_store_archive.c - the message archive (XEP-0313) of the SQLite
 * backend through backend_archive_*: append batches, the order and stamp
 * rules, every filter, paging both ways without gap or duplicate, counts,
 * unknown ids, tombstone updates, retention, account deletion; then the
 * asynchronous store_archive_* calls on top (callbacks on the store thread,
 * since the caller is not a worker). */
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

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "store/backend.h"

#define ALICE "alice@example.org"
#define BOB "bob@example.org"
#define CAROL "carol@example.org"

#include "store_fixture.h"

/* Append one item; returns the row's err and the stamp it was stored with. */
static int append(struct store_backend *b, const char *owner, const char *id, int64_t ts,
                  const char *with, const char *peer, enum archive_dir dir,
                  const char *origin, int64_t *stored_ts)
{
    char xml[256];
    snprintf(xml, sizeof xml, "<message from='%s' to='%s'><body>%s</body></message>",
             dir == ARCHIVE_IN ? peer : owner, dir == ARCHIVE_IN ? owner : peer, id);
    struct archive_item it = {.id = (char *)id, .ts = ts, .with = (char *)with,
                              .peer = (char *)peer, .dir = dir,
                              .origin_id = (char *)origin, .xml = xml,
                              .len = strlen(xml)};
    struct archive_append_row row = {owner, &it, 0};
    backend_archive_append(b, &row, 1);
    if (stored_ts)
        *stored_ts = it.ts;
    return row.err;
}

static struct archive_query query_all(const char *owner)
{
    struct archive_query q = {.owner = owner, .dir = -1, .max = 100, .want_count = true};
    return q;
}

/* The ids of a page joined with ',' into buf. */
static const char *page_ids(const struct archive_page *p, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        if (i)
            strncat(buf, ",", size - strlen(buf) - 1);
        strncat(buf, p->items[i].id, size - strlen(buf) - 1);
    }
    return buf;
}

static void run(struct store_backend *b, const struct archive_query *q, const char *want,
                bool complete)
{
    struct archive_page p;
    char got[1024];
    assert_int_equal(backend_archive_query(b, q, &p), 0);
    assert_string_equal(page_ids(&p, got, sizeof got), want);
    assert_int_equal(p.complete, complete);
    assert_true(p.stable);
    backend_archive_page_clear(&p);
}

/* a1..a6 in alice's archive, b1 in bob's; stamps 1000, 2000... */
static void fill_small(struct store_backend *b)
{
    assert_int_equal(append(b, ALICE, "a1", 1000, BOB, BOB "/x", ARCHIVE_IN, "o1", NULL), 0);
    assert_int_equal(append(b, ALICE, "a2", 2000, BOB, BOB "/x", ARCHIVE_OUT, "o2", NULL), 0);
    assert_int_equal(append(b, ALICE, "a3", 3000, CAROL, CAROL, ARCHIVE_IN, NULL, NULL), 0);
    assert_int_equal(append(b, BOB, "b1", 3500, ALICE, ALICE, ARCHIVE_IN, NULL, NULL), 0);
    assert_int_equal(append(b, ALICE, "a4", 4000, BOB, BOB "/y", ARCHIVE_IN, "o4", NULL), 0);
    assert_int_equal(append(b, ALICE, "a5", 5000, CAROL, CAROL, ARCHIVE_OUT, NULL, NULL), 0);
    assert_int_equal(append(b, ALICE, "a6", 6000, ALICE, ALICE, ARCHIVE_IN, NULL, NULL), 0);
}

static void test_append_and_order(void **state)
{
    struct fixture *f = *state;
    int64_t ts;
    fill_small(f->b);

    struct archive_query q = query_all(ALICE);
    struct archive_page p;
    assert_int_equal(backend_archive_query(f->b, &q, &p), 0);
    assert_int_equal(p.n, 6);
    assert_int_equal(p.count, 6);
    assert_int_equal(p.first_index, 0);
    assert_true(p.complete);
    assert_string_equal(p.items[0].id, "a1");
    assert_int_equal(p.items[0].ts, 1000);
    assert_string_equal(p.items[0].with, BOB);
    assert_string_equal(p.items[0].peer, BOB "/x");
    assert_int_equal(p.items[0].dir, ARCHIVE_IN);
    assert_string_equal(p.items[0].origin_id, "o1");
    assert_null(p.items[2].origin_id);
    assert_int_equal(p.items[1].dir, ARCHIVE_OUT);
    assert_non_null(strstr(p.items[0].xml, "<body>a1</body>"));
    assert_int_equal(p.items[0].len, strlen(p.items[0].xml));
    backend_archive_page_clear(&p);

    /* A stamp from the past (another worker's clock, a clock step) is moved
     * after the newest: the archive order is the append order. */
    assert_int_equal(append(f->b, ALICE, "late", 10, BOB, BOB, ARCHIVE_IN, NULL, &ts), 0);
    assert_int_equal(ts, 6001);
    assert_int_equal(append(f->b, ALICE, "same", 6001, BOB, BOB, ARCHIVE_IN, NULL, &ts), 0);
    assert_int_equal(ts, 6002);
    run(f->b, &q, "a1,a2,a3,a4,a5,a6,late,same", true);

    /* Ids are unique within an archive, not across archives. */
    assert_int_equal(append(f->b, ALICE, "a1", 9000, BOB, BOB, ARCHIVE_IN, NULL, NULL),
                     ALDIS_EEXIST);
    assert_int_equal(append(f->b, CAROL, "a1", 9000, BOB, BOB, ARCHIVE_IN, NULL, NULL), 0);
    /* Missing fields are refused. */
    struct archive_item bad = {.id = "x", .with = NULL, .xml = "<m/>", .len = 4};
    struct archive_append_row row = {ALICE, &bad, 0};
    backend_archive_append(f->b, &row, 1);
    assert_int_equal(row.err, ALDIS_EINVAL);
}

static void test_batch(void **state)
{
    struct fixture *f = *state;
    char ids[5][8];
    char xml[] = "<message><body>x</body></message>";
    struct archive_item items[5];
    struct archive_append_row rows[5];
    for (int i = 0; i < 5; i++) {
        snprintf(ids[i], sizeof ids[i], "m%d", i);
        items[i] = (struct archive_item){.id = ids[i], .ts = 100, .with = BOB, .peer = BOB,
                                         .dir = ARCHIVE_IN, .xml = xml, .len = strlen(xml)};
        rows[i] = (struct archive_append_row){ALICE, &items[i], 0};
    }
    items[3].id = ids[1]; /* a duplicate fails alone */
    assert_int_equal(backend_archive_append(f->b, rows, 5), 0);
    assert_int_equal(rows[0].err, 0);
    assert_int_equal(rows[1].err, 0);
    assert_int_equal(rows[2].err, 0);
    assert_int_equal(rows[3].err, ALDIS_EEXIST);
    assert_int_equal(rows[4].err, 0);
    /* Same stamp given to all: stored strictly increasing. */
    assert_int_equal(items[0].ts, 100);
    assert_int_equal(items[1].ts, 101);
    assert_int_equal(items[4].ts, 103);
    struct archive_query q = query_all(ALICE);
    run(f->b, &q, "m0,m1,m2,m4", true);
}

static void test_filters(void **state)
{
    struct fixture *f = *state;
    fill_small(f->b);
    struct archive_query q = query_all(ALICE);

    q.with = BOB;
    run(f->b, &q, "a1,a2,a4", true);
    q.peer = BOB "/y"; /* a full JID matches exactly (XEP-0313 §4.1.1) */
    run(f->b, &q, "a4", true);
    q.peer = NULL;
    /* with = own JID: only messages to oneself. */
    q.with = ALICE;
    run(f->b, &q, "a6", true);
    q.with = "nobody@example.org";
    run(f->b, &q, "", true);

    q = query_all(ALICE);
    q.has_start = true;
    q.start = 2000; /* inclusive */
    q.has_end = true;
    q.end = 4000; /* inclusive */
    run(f->b, &q, "a2,a3,a4", true);
    q.with = CAROL;
    run(f->b, &q, "a3", true);

    q = query_all(ALICE);
    q.after_id = "a2";
    run(f->b, &q, "a3,a4,a5,a6", true);
    q.before_id = "a5";
    run(f->b, &q, "a3,a4", true);
    q.after_id = q.before_id = NULL;
    const char *ids[] = {"a5", "a1", "a3"};
    q.ids = ids;
    q.nids = 3;
    run(f->b, &q, "a1,a3,a5", true); /* archive order, not request order */
    q.nids = 0;

    q.dir = ARCHIVE_OUT;
    run(f->b, &q, "a2,a5", true);
    q.dir = -1;
    q.origin_id = "o4";
    q.with = BOB;
    run(f->b, &q, "a4", true);

    /* Bob's archive is his own. */
    q = query_all(BOB);
    run(f->b, &q, "b1", true);
}

static void test_unknown_ids(void **state)
{
    struct fixture *f = *state;
    fill_small(f->b);
    struct archive_page p;
    struct archive_query q = query_all(ALICE);
    const char *ids[] = {"a1", "zz"};

    q.after_id = "zz";
    assert_int_equal(backend_archive_query(f->b, &q, &p), ALDIS_ENOTFOUND);
    q = query_all(ALICE);
    q.before_id = "b1"; /* bob's item is not in alice's archive */
    assert_int_equal(backend_archive_query(f->b, &q, &p), ALDIS_ENOTFOUND);
    q = query_all(ALICE);
    q.page_after = "nope";
    assert_int_equal(backend_archive_query(f->b, &q, &p), ALDIS_ENOTFOUND);
    q = query_all(ALICE);
    q.page_before = "nope";
    q.backward = true;
    assert_int_equal(backend_archive_query(f->b, &q, &p), ALDIS_ENOTFOUND);
    q = query_all(ALICE);
    q.ids = ids;
    q.nids = 2;
    assert_int_equal(backend_archive_query(f->b, &q, &p), ALDIS_ENOTFOUND);
    q.nids = ARCHIVE_IDS_MAX + 1;
    assert_int_equal(backend_archive_query(f->b, &q, &p), ALDIS_EINVAL);
    assert_null(p.items);
}

#define N_PAGING 500

/* 500 items with bob interleaved with 100 with carol; page through bob's
 * in both directions with max=50: every item exactly once, in order. */
static void test_paging(void **state)
{
    struct fixture *f = *state;
    char id[32];
    int n_bob = 0;
    for (int i = 0; i < N_PAGING + 100; i++) {
        bool carol = i % 6 == 5;
        snprintf(id, sizeof id, "%s%04d", carol ? "c" : "b", carol ? i : n_bob++);
        assert_int_equal(append(f->b, ALICE, id, 1000 + i / 3 /* many equal stamps */,
                                carol ? CAROL : BOB, carol ? CAROL : BOB, ARCHIVE_IN, NULL,
                                NULL),
                         0);
    }
    assert_int_equal(n_bob, N_PAGING);

    /* Forward: RSM <after/> with the last id of the previous page. */
    char last[32] = "";
    int seen = 0, pages = 0;
    for (;;) {
        struct archive_query q = query_all(ALICE);
        struct archive_page p;
        q.with = BOB;
        q.max = 50;
        q.page_after = last[0] ? last : NULL;
        assert_int_equal(backend_archive_query(f->b, &q, &p), 0);
        assert_int_equal(p.count, N_PAGING);
        assert_int_equal(p.first_index, p.n ? seen : -1);
        for (size_t i = 0; i < p.n; i++) {
            snprintf(id, sizeof id, "b%04d", seen++);
            assert_string_equal(p.items[i].id, id);
        }
        pages++;
        bool complete = p.complete;
        if (p.n)
            snprintf(last, sizeof last, "%s", p.items[p.n - 1].id);
        assert_true(p.n == 50 || complete);
        backend_archive_page_clear(&p);
        assert_true(pages <= N_PAGING / 50 + 1);
        if (complete)
            break;
        assert_true(seen < N_PAGING);
    }
    assert_int_equal(seen, N_PAGING);
    /* 500 is a multiple of 50: the 10th page is full, and the one after it
     * is empty and complete (or the 10th already says complete). */
    assert_true(pages == 10 || pages == 11);

    /* Backward: the last page (empty <before/>), then <before/> with the
     * first id of the previous page. */
    char first[32] = "";
    int left = N_PAGING;
    pages = 0;
    for (;;) {
        struct archive_query q = query_all(ALICE);
        struct archive_page p;
        q.with = BOB;
        q.max = 50;
        q.backward = true;
        q.page_before = first[0] ? first : NULL;
        assert_int_equal(backend_archive_query(f->b, &q, &p), 0);
        assert_int_equal(p.first_index, p.n ? left - (int)p.n : -1);
        for (size_t i = 0; i < p.n; i++) {
            snprintf(id, sizeof id, "b%04d", left - (int)p.n + (int)i);
            assert_string_equal(p.items[i].id, id);
        }
        left -= (int)p.n;
        pages++;
        bool complete = p.complete;
        if (p.n)
            snprintf(first, sizeof first, "%s", p.items[0].id);
        backend_archive_page_clear(&p);
        assert_true(pages <= N_PAGING / 50 + 1);
        if (complete)
            break;
    }
    assert_int_equal(left, 0);

    /* max = 0: only the count (XEP-0059 §2.7). */
    struct archive_query q = query_all(ALICE);
    struct archive_page p;
    q.max = 0;
    assert_int_equal(backend_archive_query(f->b, &q, &p), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.count, N_PAGING + 100);
    assert_false(p.complete);
    backend_archive_page_clear(&p);

    /* <index/>: skip forward. */
    q = query_all(ALICE);
    q.with = BOB;
    q.max = 2;
    q.index = 10;
    run(f->b, &q, "b0010,b0011", false);

    /* The page cap. */
    q = query_all(ALICE);
    q.max = 100000;
    assert_int_equal(backend_archive_query(f->b, &q, &p), 0);
    assert_int_equal(p.n, N_PAGING + 100 < ARCHIVE_PAGE_MAX ? N_PAGING + 100 : ARCHIVE_PAGE_MAX);
    backend_archive_page_clear(&p);
}

static void test_update_purge_delete(void **state)
{
    struct fixture *f = *state;
    fill_small(f->b);
    const char tomb[] = "<message><retracted xmlns='urn:xmpp:message-retract:1'/></message>";
    assert_int_equal(backend_archive_update(f->b, ALICE, "a2", tomb, strlen(tomb),
                                            ARCHIVE_FLAG_RETRACTED),
                     0);
    assert_int_equal(backend_archive_update(f->b, ALICE, "b1", tomb, strlen(tomb), 0),
                     ALDIS_ENOTFOUND);
    struct archive_query q = query_all(ALICE);
    const char *ids[] = {"a2"};
    q.ids = ids;
    q.nids = 1;
    struct archive_page p;
    assert_int_equal(backend_archive_query(f->b, &q, &p), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].xml, tomb);
    assert_int_equal(p.items[0].flags, ARCHIVE_FLAG_RETRACTED);
    assert_int_equal(p.items[0].ts, 2000); /* id, time, party stay */
    assert_string_equal(p.items[0].with, BOB);
    backend_archive_page_clear(&p);

    /* Retention removes the oldest of every archive, at most `limit` a
     * call. */
    int64_t deleted = -1;
    assert_int_equal(backend_archive_purge(f->b, 3600, 2, &deleted), 0);
    assert_int_equal(deleted, 2); /* a1, a2 */
    assert_int_equal(backend_archive_purge(f->b, 3600, 2, &deleted), 0);
    assert_int_equal(deleted, 2); /* a3, b1 */
    assert_int_equal(backend_archive_purge(f->b, 3600, 2, &deleted), 0);
    assert_int_equal(deleted, 0);
    q = query_all(ALICE);
    run(f->b, &q, "a4,a5,a6", true);
    q = query_all(BOB);
    run(f->b, &q, "", true);
    assert_int_equal(backend_archive_purge(f->b, 0, 0, &deleted), ALDIS_EINVAL);
    /* Stamps stay increasing after the newest items are gone too. */
    int64_t ts;
    assert_int_equal(append(f->b, BOB, "b2", 1, ALICE, ALICE, ARCHIVE_IN, NULL, &ts), 0);
    assert_int_equal(ts, 6001);

    /* Deleting the account deletes its archive. */
    struct scram_keys k;
    memset(&k, 1, sizeof k);
    k.iterations = 4096;
    assert_int_equal(backend_user_put(f->b, "example.org", "alice", &k, BACKEND_PUT_CREATE), 0);
    assert_int_equal(backend_user_del(f->b, "example.org", "alice"), 0);
    q = query_all(ALICE);
    run(f->b, &q, "", true);
    q = query_all(BOB);
    run(f->b, &q, "b2", true);
}

/* ---- the asynchronous store -------------------------------------------- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int err;
    int64_t count;
    char ids[1024];
} W = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void w_wait(int count)
{
    pthread_mutex_lock(&W.mu);
    while (W.done < count)
        pthread_cond_wait(&W.cv, &W.mu);
    pthread_mutex_unlock(&W.mu);
}

static void w_signal(void)
{
    W.done++;
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
}

static void on_done(void *ud, int err)
{
    pthread_mutex_lock(&W.mu);
    if (err)
        W.err = err;
    w_signal();
}

static void on_page(void *ud, int err, const struct archive_page *p)
{
    pthread_mutex_lock(&W.mu);
    W.err = err;
    if (p) {
        page_ids(p, W.ids, sizeof W.ids);
        W.count = p->count;
    } else {
        W.ids[0] = '\0';
    }
    w_signal();
}

static void on_count(void *ud, int err, int64_t count)
{
    pthread_mutex_lock(&W.mu);
    W.err = err;
    W.count = count;
    w_signal();
}

static void test_async(void **state)
{
    struct fixture *f = *state;
    backend_close(f->b);
    f->b = NULL;
    assert_int_equal(store_open("sqlite", f->path), 0);

    /* Many appends in a row (the store thread batches them), the last one
     * with a callback; a query made after them sees them all. */
    char id[16], xml[64];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "q%03d", i);
        snprintf(xml, sizeof xml, "<message><body>%d</body></message>", i);
        struct archive_item it = {.id = id, .ts = 5, .with = BOB, .peer = BOB,
                                  .dir = ARCHIVE_OUT, .xml = xml, .len = strlen(xml)};
        store_archive_append(ALICE, &it, i == 199 ? on_done : NULL, NULL);
    }
    struct archive_query q = {.owner = ALICE, .with = BOB, .dir = -1, .max = 3,
                              .backward = true, .want_count = true};
    store_archive_query(&q, on_page, NULL);
    w_wait(2);
    assert_int_equal(W.err, 0);
    assert_string_equal(W.ids, "q197,q198,q199");
    assert_int_equal(W.count, 200);

    /* The query's strings were copied: the caller's may go at once. */
    char after[16] = "q010";
    const char *ids[] = {"q011", "q012", "q100"};
    q = (struct archive_query){.owner = ALICE, .dir = -1, .max = 2, .page_after = after,
                               .ids = ids, .nids = 3};
    store_archive_query(&q, on_page, NULL);
    after[0] = 'x';
    w_wait(3);
    assert_int_equal(W.err, 0);
    assert_string_equal(W.ids, "q011,q012");

    q.page_after = "missing";
    store_archive_query(&q, on_page, NULL);
    w_wait(4);
    assert_int_equal(W.err, ALDIS_ENOTFOUND);

    const char tomb[] = "<message/>";
    W.err = 0;
    store_archive_update(ALICE, "q000", tomb, strlen(tomb), ARCHIVE_FLAG_RETRACTED, on_done,
                         NULL);
    w_wait(5);
    assert_int_equal(W.err, 0);

    store_archive_purge(INT64_MAX, 150, on_count, NULL);
    w_wait(6);
    assert_int_equal(W.err, 0);
    assert_int_equal(W.count, 150);
    store_archive_purge(INT64_MAX, 150, on_count, NULL);
    w_wait(7);
    assert_int_equal(W.count, 50);

    store_close();
    /* After close: answered with ALDIS_ECLOSED, never lost. */
    store_archive_query(&q, on_page, NULL);
    w_wait(8);
    assert_int_equal(W.err, ALDIS_ECLOSED);

    char err[256];
    f->b = sqlite_backend_open(f->path, err, sizeof err);
    assert_non_null(f->b);
}

int main(void)
{
    log_threshold = LOG_ERROR; /* keep "schema migrated" lines out of the output */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_purge_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

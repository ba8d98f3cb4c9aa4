/* test_map.c - the open-addressing hash maps (src/lib/map.c): string and
 * integer keys, put/get/del, replacement, growth, tombstone reuse after
 * many deletions, and deletion while iterating. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/map.h"

#define V(i) ((void *)(uintptr_t)((i) + 1)) /* never NULL */

static void test_string_basic(void **state)
{
    (void)state;
    struct map m;
    map_init(&m, 0);
    assert_null(map_get(&m, "absent")); /* an empty map has no slots yet */
    assert_null(map_del(&m, "absent"));

    char key[16] = "alice";
    map_put(&m, key, V(1));
    key[0] = 'X'; /* the map owns a copy of the key */
    assert_ptr_equal(map_get(&m, "alice"), V(1));
    assert_null(map_get(&m, "Xlice"));
    assert_int_equal(m.count, 1);

    map_put(&m, "alice", V(2)); /* replace keeps one entry */
    assert_ptr_equal(map_get(&m, "alice"), V(2));
    assert_int_equal(m.count, 1);

    map_put(&m, "", V(3)); /* the empty string is a key like any other */
    assert_ptr_equal(map_get(&m, ""), V(3));

    assert_ptr_equal(map_del(&m, "alice"), V(2));
    assert_null(map_get(&m, "alice"));
    assert_null(map_del(&m, "alice"));
    assert_int_equal(m.count, 1);
    map_free(&m);
    assert_int_equal(m.count, 0);
    assert_null(map_get(&m, "")); /* usable (empty) after free */
    map_free(&m);
}

static void test_int_basic(void **state)
{
    (void)state;
    struct map m;
    map_init(&m, 1);
    assert_null(map_iget(&m, 0));
    map_iput(&m, 0, V(10));
    map_iput(&m, UINT64_MAX, V(11));
    map_iput(&m, 1ull << 63, V(12));
    assert_ptr_equal(map_iget(&m, 0), V(10));
    assert_ptr_equal(map_iget(&m, UINT64_MAX), V(11));
    assert_ptr_equal(map_iget(&m, 1ull << 63), V(12));
    assert_null(map_iget(&m, 1));
    map_iput(&m, 0, V(13));
    assert_ptr_equal(map_iget(&m, 0), V(13));
    assert_int_equal(m.count, 3);
    assert_ptr_equal(map_idel(&m, UINT64_MAX), V(11));
    assert_null(map_iget(&m, UINT64_MAX));
    assert_null(map_idel(&m, UINT64_MAX));
    assert_int_equal(m.count, 2);
    map_free(&m);
}

static void test_growth(void **state)
{
    (void)state;
    struct map m;
    map_init(&m, 0);
    char key[32];
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "user%d@example.org", i);
        map_put(&m, key, V(i));
    }
    assert_int_equal(m.count, N);
    assert_true(m.cap >= N);
    assert_int_equal(m.cap & (m.cap - 1), 0); /* power of two */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "user%d@example.org", i);
        assert_ptr_equal(map_get(&m, key), V(i));
    }
    snprintf(key, sizeof key, "user%d@example.org", N);
    assert_null(map_get(&m, key));
    map_free(&m);

    map_init(&m, 1);
    for (uint64_t i = 0; i < N; i++)
        map_iput(&m, i * 4096, V(i)); /* keys sharing low bits */
    for (uint64_t i = 0; i < N; i++)
        assert_ptr_equal(map_iget(&m, i * 4096), V(i));
    assert_null(map_iget(&m, 4095));
    map_free(&m);
}

/* Churn: insert and delete many keys so the table fills with tombstones;
 * lookups must stay correct and the table must not grow without bound. */
static void test_tombstones(void **state)
{
    (void)state;
    struct map m;
    map_init(&m, 0);
    char key[32];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 50; i++) {
            snprintf(key, sizeof key, "r%d-k%d", round, i);
            map_put(&m, key, V(i));
        }
        for (int i = 0; i < 50; i++) {
            if (i % 10 == 0 && round == 199)
                continue; /* keep a few of the last round */
            snprintf(key, sizeof key, "r%d-k%d", round, i);
            assert_ptr_equal(map_del(&m, key), V(i));
        }
    }
    assert_int_equal(m.count, 5);
    assert_true(m.cap <= 1024); /* rehashed in place, not doubled forever */
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "r199-k%d", i);
        if (i % 10 == 0)
            assert_ptr_equal(map_get(&m, key), V(i));
        else
            assert_null(map_get(&m, key));
    }
    snprintf(key, sizeof key, "r0-k0");
    assert_null(map_get(&m, key));

    /* re-inserting a deleted key reuses the table and is found again */
    map_put(&m, "r0-k0", V(77));
    assert_ptr_equal(map_get(&m, "r0-k0"), V(77));
    map_free(&m);

    /* the same churn on an integer map */
    map_init(&m, 1);
    for (uint64_t i = 0; i < 100000; i++) {
        map_iput(&m, i, V(i));
        if (i >= 10)
            assert_ptr_equal(map_idel(&m, i - 10), V(i - 10));
    }
    assert_int_equal(m.count, 10);
    assert_true(m.cap <= 64);
    for (uint64_t i = 100000 - 10; i < 100000; i++)
        assert_ptr_equal(map_iget(&m, i), V(i));
    map_free(&m);
}

static void test_iterate_delete(void **state)
{
    (void)state;
    struct map m;
    map_init(&m, 0);
    char key[32];
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        map_put(&m, key, V(i));
    }
    /* every key is visited exactly once */
    static unsigned char seen[N];
    memset(seen, 0, sizeof seen);
    const char *k;
    void *v;
    int visited = 0;
    for (size_t it = 0; map_next(&m, &it, &k, &v);) {
        int i = (int)((uintptr_t)v - 1);
        assert_true(i >= 0 && i < N);
        snprintf(key, sizeof key, "k%d", i);
        assert_string_equal(k, key);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        visited++;
    }
    assert_int_equal(visited, N);

    /* delete the odd ones while iterating */
    visited = 0;
    for (size_t it = 0; map_next(&m, &it, &k, &v);) {
        visited++;
        int i = (int)((uintptr_t)v - 1);
        if (i % 2) {
            /* k points into the slot; the deletion frees it, so copy */
            snprintf(key, sizeof key, "%s", k);
            assert_ptr_equal(map_del(&m, key), v);
        }
    }
    assert_int_equal(visited, N);
    assert_int_equal(m.count, N / 2);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (i % 2)
            assert_null(map_get(&m, key));
        else
            assert_ptr_equal(map_get(&m, key), V(i));
    }
    /* values only (NULL key out-pointer) and an integer map */
    visited = 0;
    for (size_t it = 0; map_next(&m, &it, NULL, &v);)
        visited++;
    assert_int_equal(visited, N / 2);
    map_free(&m);

    map_init(&m, 1);
    for (size_t it = 0; map_next(&m, &it, NULL, &v);)
        fail(); /* empty map: nothing */
    for (uint64_t i = 0; i < 100; i++)
        map_iput(&m, i, V(i));
    for (size_t it = 0; map_next(&m, &it, NULL, &v);)
        assert_ptr_equal(map_idel(&m, (uintptr_t)v - 1), v);
    assert_int_equal(m.count, 0);
    map_free(&m);
}

static void test_hash(void **state)
{
    (void)state;
    assert_int_equal(map_hash_str("abc"), map_hash_str("abc"));
    assert_true(map_hash_str("abc") != map_hash_str("abd"));
    assert_true(map_hash_str("") != map_hash_str("a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_basic), cmocka_unit_test(test_int_basic),
        cmocka_unit_test(test_growth),       cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_iterate_delete), cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

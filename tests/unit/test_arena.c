/* test_arena.c - the bump allocator (src/lib/arena.c): 16-byte alignment,
 * zeroed memory, many allocations spanning chunks, large allocations,
 * strdup/strndup and the size accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/arena.h"

static void test_alignment_and_zero(void **state)
{
    (void)state;
    struct arena *a = arena_new(0); /* tiny requests get a sane minimum */
    for (size_t sz = 0; sz < 100; sz++) {
        unsigned char *p = arena_alloc(a, sz);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t i = 0; i < sz; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xAB, sz); /* must not clobber anything else */
    }
    arena_free(a);
}

static void test_many_chunks(void **state)
{
    (void)state;
    struct arena *a = arena_new(256);
    size_t start = arena_size(a);
    assert_true(start >= 256);
    enum { N = 5000 };
    static uint32_t *ptrs[N];
    for (uint32_t i = 0; i < N; i++) {
        ptrs[i] = arena_alloc(a, sizeof(uint32_t) * 3);
        ptrs[i][0] = i;
        ptrs[i][1] = ~i;
        ptrs[i][2] = i * 7u;
    }
    /* every allocation kept its own contents across chunk changes */
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(ptrs[i][0], i);
        assert_int_equal(ptrs[i][1], ~i);
        assert_int_equal(ptrs[i][2], i * 7u);
        assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
    }
    /* 5000 x 16 bytes cannot fit the first chunk: the size grew */
    assert_true(arena_size(a) >= start + N * 16 - 256);
    arena_free(a);
}

static void test_large(void **state)
{
    (void)state;
    struct arena *a = arena_new(256);
    /* bigger than twice the current chunk: gets a chunk of its own */
    unsigned char *big = arena_alloc(a, 1 << 20);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 16, 0);
    memset(big, 1, 1 << 20);
    assert_true(arena_size(a) >= (1u << 20));
    /* small allocations still work afterwards */
    unsigned char *small = arena_alloc(a, 10);
    assert_int_equal(small[0], 0);
    assert_true(small + 10 <= big || small >= big + (1 << 20));
    arena_free(a);
    arena_free(NULL); /* freeing nothing is allowed */
}

static void test_strdup(void **state)
{
    (void)state;
    struct arena *a = arena_new(256);
    char src[] = "hello world";
    char *d = arena_strdup(a, src);
    assert_string_equal(d, "hello world");
    assert_ptr_not_equal(d, src);
    src[0] = 'j'; /* a copy, not an alias */
    assert_string_equal(d, "hello world");

    char *n = arena_strndup(a, "abcdef", 3);
    assert_string_equal(n, "abc");
    char *e = arena_strdup(a, "");
    assert_string_equal(e, "");
    /* strndup of bytes with an embedded NUL copies exactly len bytes */
    char *z = arena_strndup(a, "a\0b", 3);
    assert_memory_equal(z, "a\0b", 4);

    /* many strings across chunks */
    char buf[64];
    char *keep[300];
    for (int i = 0; i < 300; i++) {
        snprintf(buf, sizeof buf, "string number %d with some padding", i);
        keep[i] = arena_strdup(a, buf);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(buf, sizeof buf, "string number %d with some padding", i);
        assert_string_equal(keep[i], buf);
    }
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_zero),
        cmocka_unit_test(test_many_chunks),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_strdup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

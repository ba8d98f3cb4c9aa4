/* test_buf.c - the growable byte buffer (src/lib/buf.c): growth, XML
 * escaping for character data and attribute values, consume and steal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "aldis/buf.h"

static void test_empty(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* buf_cstr on an empty buffer gives "" rather than NULL */
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    /* adding nothing still leaves a terminated string */
    buf_add(&b, "", 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    buf_free(&b);
}

static void test_growth(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < 10000; i++)
        buf_addc(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > b.len); /* room for the terminator */
    assert_int_equal(b.data[10000], '\0');
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], 'a' + i % 26);

    /* binary data with NULs is kept as is */
    buf_consume(&b, b.len);
    buf_add(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 3);

    /* reserve makes room without changing the contents */
    size_t len = b.len;
    buf_reserve(&b, 1 << 20);
    assert_true(b.cap >= len + (1 << 20) + 1);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, "a\0b", 3);
    buf_free(&b);
}

static void test_adds_printf(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_adds(&b, "hello");
    buf_addc(&b, ' ');
    buf_printf(&b, "%s-%d", "world", 42);
    assert_string_equal(buf_cstr(&b), "hello world-42");
    assert_int_equal(b.len, strlen("hello world-42"));
    buf_printf(&b, "%s", ""); /* empty output: nothing changes */
    assert_int_equal(b.len, strlen("hello world-42"));

    /* a long formatted string forces growth inside buf_printf */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, strlen("hello world-42") + 2 + sizeof big - 1);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    buf_free(&b);
}

static void test_escape_text(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    const char *s = "a<b>&c\"d'e";
    buf_add_xml_escaped(&b, s, strlen(s), 0);
    /* character data: quotes stay as they are */
    assert_string_equal(buf_cstr(&b), "a&lt;b&gt;&amp;c\"d'e");
    buf_free(&b);

    buf_add_xml_escaped(&b, "plain", 5, 0);
    assert_string_equal(buf_cstr(&b), "plain");
    buf_free(&b);

    buf_add_xml_escaped(&b, "", 0, 0);
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);

    /* only `len` bytes are read */
    buf_add_xml_escaped(&b, "<<<", 1, 0);
    assert_string_equal(buf_cstr(&b), "&lt;");
    buf_free(&b);

    /* a carriage return would be turned into a line feed by the reader's
     * line-end normalisation (XML 1.0 §2.11), so it is written as a
     * character reference */
    buf_add_xml_escaped(&b, "a\r\nb", 4, 0);
    assert_string_equal(buf_cstr(&b), "a&#13;\nb");
    buf_free(&b);
}

static void test_escape_attr(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    const char *s = "a<b>&c\"d'e";
    buf_add_xml_escaped(&b, s, strlen(s), 1);
    assert_string_equal(buf_cstr(&b), "a&lt;b&gt;&amp;c&quot;d&apos;e");
    buf_free(&b);

    /* whitespace other than space would be normalised to a space by
     * attribute-value normalisation (XML 1.0 §3.3.3) */
    buf_add_xml_escaped(&b, "a\tb\nc\rd e", 9, 1);
    assert_string_equal(buf_cstr(&b), "a&#9;b&#10;c&#13;d e");
    buf_free(&b);

    /* appends to existing content */
    buf_adds(&b, "x='");
    buf_add_xml_escaped(&b, "&&", 2, 1);
    buf_addc(&b, '\'');
    assert_string_equal(buf_cstr(&b), "x='&amp;&amp;'");
    buf_free(&b);
}

static void test_consume(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_consume(&b, 10); /* on an empty buffer: harmless */
    assert_int_equal(b.len, 0);
    buf_adds(&b, "0123456789");
    buf_consume(&b, 0);
    assert_string_equal(buf_cstr(&b), "0123456789");
    buf_consume(&b, 3);
    assert_int_equal(b.len, 7);
    assert_string_equal(buf_cstr(&b), "3456789");
    buf_adds(&b, "ab");
    assert_string_equal(buf_cstr(&b), "3456789ab");
    buf_consume(&b, 9);
    assert_int_equal(b.len, 0);
    assert_string_equal(buf_cstr(&b), "");
    buf_adds(&b, "xyz");
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);
}

static void test_steal(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_adds(&b, "owned");
    size_t len = 0;
    char *s = buf_steal(&b, &len);
    assert_string_equal(s, "owned");
    assert_int_equal(len, 5);
    /* the buffer is reset and can be reused */
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_adds(&b, "again");
    assert_string_equal(buf_cstr(&b), "again");
    free(s);
    buf_free(&b);

    /* stealing an empty buffer still yields a string the caller frees */
    s = buf_steal(&b, NULL);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_adds_printf),  cmocka_unit_test(test_escape_text),
        cmocka_unit_test(test_escape_attr),  cmocka_unit_test(test_consume),
        cmocka_unit_test(test_steal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

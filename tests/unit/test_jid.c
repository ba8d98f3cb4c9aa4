/* test_jid.c - JIDs (src/xml/jid.c) per RFC 7622: splitting, preparation
 * of each part (nodeprep case folding, resourceprep keeping case, IDNA
 * domains with A-labels turned into U-labels, trailing dot, IP literals),
 * the invalid forms, printing and comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/jid.h"

/* Parse `in` and compare the full form with `expect` (NULL: must fail). */
static void check(const char *in, const char *expect)
{
    struct jid j;
    char out[JID_STR_MAX];
    int rc = jid_parse(in, &j);
    if (!expect) {
        if (rc == 0)
            fail_msg("accepted '%s' as '%s'", in, jid_full(&j, out, sizeof out));
        assert_int_equal(rc, ALDIS_EINVAL);
        return;
    }
    if (rc != 0)
        fail_msg("refused '%s' (%d)", in, rc);
    assert_string_equal(jid_full(&j, out, sizeof out), expect);
}

/* The per-thread memo of stringprep answers gives what libidn gives, for
 * repeats, for failures, and after many other inputs evicted the slots. */
static void test_prep_memo(void **state)
{
    (void)state;
    static const char *const in[] = {"Alice", "ALICE", "bob", "Bob\xc3\x9f", "a b", "x@y",
                                     "R\xc3\xa9sum\xc3\xa9", "\xef\xbc\xa1", NULL};
    char first[JID_PART_MAX + 1], again[JID_PART_MAX + 1], name[32];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; in[i]; i++) {
            int rc1 = jid_nodeprep(in[i], first);
            int rc2 = jid_nodeprep(in[i], again);
            assert_int_equal(rc1, rc2);
            if (rc1 == 0)
                assert_string_equal(first, again);
            rc1 = jid_resourceprep(in[i], first);
            rc2 = jid_resourceprep(in[i], again);
            assert_int_equal(rc1, rc2);
            if (rc1 == 0)
                assert_string_equal(first, again);
        }
        /* churn: every slot taken by something else */
        for (int k = 0; k < 2000; k++) {
            snprintf(name, sizeof name, "User%d", k);
            assert_int_equal(jid_nodeprep(name, first), 0);
            snprintf(name, sizeof name, "user%d", k);
            assert_string_equal(first, name);
        }
    }
    assert_int_equal(jid_nodeprep("ALICE", first), 0);
    assert_string_equal(first, "alice");
    assert_int_equal(jid_resourceprep("ALICE", first), 0);
    assert_string_equal(first, "ALICE");
    assert_true(jid_nodeprep("x@y", first) < 0);
    assert_true(jid_nodeprep("x@y", first) < 0);
    /* longer than the memo keeps: still prepared */
    char longname[200];
    memset(longname, 'A', 150);
    longname[150] = '\0';
    assert_int_equal(jid_nodeprep(longname, first), 0);
    assert_int_equal(first[0], 'a');
    assert_int_equal(strlen(first), 150);
}

static void test_parts(void **state)
{
    (void)state;
    struct jid j;
    assert_int_equal(jid_parse("juliet@example.com/balcony", &j), 0);
    assert_string_equal(j.local, "juliet");
    assert_string_equal(j.domain, "example.com");
    assert_string_equal(j.resource, "balcony");
    assert_int_equal(jid_parse("example.com", &j), 0);
    assert_null(j.local);
    assert_null(j.resource);
    assert_string_equal(j.domain, "example.com");
    assert_int_equal(jid_parse("example.com/res", &j), 0);
    assert_null(j.local);
    assert_string_equal(j.resource, "res");
    assert_int_equal(jid_parse("romeo@example.net", &j), 0);
    assert_string_equal(j.local, "romeo");
    assert_null(j.resource);
    /* RFC 7622 §3.1: the resource is everything after the first '/',
     * so '@' and '/' are fine there */
    assert_int_equal(jid_parse("a@b/c@d/e", &j), 0);
    assert_string_equal(j.local, "a");
    assert_string_equal(j.domain, "b");
    assert_string_equal(j.resource, "c@d/e");
    assert_int_equal(jid_parse("b/c@d", &j), 0);
    assert_null(j.local);
    assert_string_equal(j.domain, "b");
    assert_string_equal(j.resource, "c@d");
}

static void test_prepare(void **state)
{
    (void)state;
    /* localpart and domainpart are case-folded, the resource is not */
    check("Juliet@Example.COM/Balcony", "juliet@example.com/Balcony");
    check("ROMEO@EXAMPLE.NET", "romeo@example.net");
    check("\xc3\x84\x42\x43@example.com", "\xc3\xa4\x62\x63@example.com"); /* ÄBC -> äbc */
    check("\xce\xa9@example.com/ Res ", "\xcf\x89@example.com/ Res ");    /* Ω -> ω; spaces kept */
    check("stra\xc3\x9f" "e@example.com", "strasse@example.com");        /* ß folds to ss */
    /* IDN domains: lower-cased, kept in Unicode */
    check("x@Ex\xc3\xa4mple.com", "x@ex\xc3\xa4mple.com");
    check("x@EX\xc3\x84MPLE.COM", "x@ex\xc3\xa4mple.com");
    /* A-labels become U-labels (RFC 7622 §3.2.1) */
    check("x@xn--exmple-cua.com", "x@ex\xc3\xa4mple.com");
    check("x@XN--EXMPLE-CUA.COM", "x@ex\xc3\xa4mple.com");
    check("x@xn--abc.com", NULL); /* not a valid A-label */
    check("x@xn--xnk", NULL);     /* decodes to U+3238, disallowed (fuzz_jid) */
    /* IDNA mapping of full-width letters and the ideographic full stop */
    check("x@\xef\xbc\xa5\xef\xbc\xb8.com", "x@ex.com");
    check("x@ex\xe3\x80\x82" "com", "x@ex.com");
    /* RFC 7622 §3.2: one trailing dot is removed */
    check("a@example.com.", "a@example.com");
    check("a@example.com./r", "a@example.com/r");
    check("a@ex\xc3\xa4mple.com.", "a@ex\xc3\xa4mple.com");
    /* IP literals */
    check("x@127.0.0.1", "x@127.0.0.1");
    check("x@[::1]/r", "x@[::1]/r");
    check("x@[2001:DB8::1]", "x@[2001:db8::1]");
    check("x@[::ffff:192.0.2.1]", "x@[::ffff:192.0.2.1]");
    /* nodeprep maps some characters, e.g. a soft hyphen to nothing */
    check("ju\xc2\xadliet@example.com", "juliet@example.com");
}

static void test_invalid(void **state)
{
    (void)state;
    struct jid j;
    assert_int_equal(jid_parse(NULL, &j), ALDIS_EINVAL);
    /* empty parts */
    check("", NULL);
    check("@example.com", NULL);
    check("juliet@", NULL);
    check("juliet@/r", NULL);
    check("example.com/", NULL);
    check("juliet@example.com/", NULL);
    check("/r", NULL);
    check("@", NULL);
    check(".", NULL);
    check("a@.", NULL);
    /* bad domains */
    check("a@b..", NULL);
    check("a@.b", NULL);
    check("a@b..c", NULL);
    check("a@exa mple.com", NULL);
    check("a@exa<mple.com", NULL);
    check("a@\xc3\xa4 b.com", NULL);
    check("a@\xc3\xa4<b.com", NULL);
    check("a@ex%ample.com", NULL);
    /* ASCII labels next to an IDN label are checked too (found by
     * fuzz_jid: idn2 lets "\xc3\xa4.a@b" through with '@' in the domain) */
    check("x@\xc3\xa4.a@b", NULL);
    check("x\xef\xbc\xa5\xef\xbc\xb8.c@\xef\xbc\xa5\xef\xbc\xb8.a@b", NULL);
    check("x@\xc3\xa4.<b", NULL);
    check("x@\xc3\xa4.a b", NULL);
    check("x@\xc3\xa4..com", NULL);
    check("x@.\xc3\xa4.com", NULL);
    check("a@[]", NULL);
    check("a@[::1", NULL);
    check("a@[zz]", NULL);
    check("a@[1.2.3.4]", NULL);
    check("a@[::1]x", NULL);
    /* RFC 7622 §3.3.1: characters not allowed in a localpart */
    check("a\"b@example.com", NULL);
    check("a&b@example.com", NULL);
    check("a'b@example.com", NULL);
    check("a:b@example.com", NULL);
    check("a<b@example.com", NULL);
    check("a>b@example.com", NULL);
    check("a b@example.com", NULL);
    check("a@b@example.com", NULL); /* a second '@' ends up in the domain */
    /* not UTF-8, or control characters */
    check("\xff@example.com", NULL);
    check("a@\xff.com", NULL);
    check("a@b/\xff\xfe", NULL);
    check("a\x01@example.com", NULL);
    check("a@example.com/\x07", NULL);
}

static void test_lengths(void **state)
{
    (void)state;
    /* RFC 7622 §3.1: each part is at most 1023 octets */
    static char s[4 * JID_STR_MAX];
    char out[JID_STR_MAX];
    struct jid j;

    memset(s, 'a', 1023);
    strcpy(s + 1023, "@example.com");
    assert_int_equal(jid_parse(s, &j), 0);
    assert_int_equal(strlen(j.local), 1023);
    memset(s, 'a', 1024);
    strcpy(s + 1024, "@example.com");
    assert_int_equal(jid_parse(s, &j), ALDIS_EINVAL);

    strcpy(s, "a@example.com/");
    memset(s + 14, 'R', 1023);
    s[14 + 1023] = '\0';
    assert_int_equal(jid_parse(s, &j), 0);
    assert_int_equal(strlen(j.resource), 1023);
    s[14 + 1023] = 'R';
    s[14 + 1024] = '\0';
    assert_int_equal(jid_parse(s, &j), ALDIS_EINVAL);

    /* a DNS label is at most 63 octets */
    strcpy(s, "a@");
    memset(s + 2, 'd', 63);
    strcpy(s + 65, ".com");
    assert_int_equal(jid_parse(s, &j), 0);
    memset(s + 2, 'd', 64);
    strcpy(s + 66, ".com");
    assert_int_equal(jid_parse(s, &j), ALDIS_EINVAL);

    /* all three parts at their maximum together */
    memset(s, 'l', 1023);
    s[1023] = '@';
    size_t n = 1024;
    for (int label = 0; label < 16; label++) { /* 16 x (63 + '.') = 1024 */
        memset(s + n, 'd', 63);
        n += 63;
        s[n++] = '.';
    }
    n--; /* 1023 bytes of domain without the last dot */
    s[n++] = '/';
    memset(s + n, 'r', 1023);
    n += 1023;
    s[n] = '\0';
    assert_int_equal(jid_parse(s, &j), 0);
    assert_int_equal(strlen(j.local), 1023);
    assert_int_equal(strlen(j.domain), 1023);
    assert_int_equal(strlen(j.resource), 1023);
    assert_int_equal(strlen(jid_full(&j, out, sizeof out)), n);
    /* longer than any JID can be */
    memset(s, 'a', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    assert_int_equal(jid_parse(s, &j), ALDIS_EINVAL);
}

static void test_parts_api(void **state)
{
    (void)state;
    struct jid j;
    char out[JID_STR_MAX];
    assert_int_equal(jid_from_parts("Romeo", "Example.NET", "Orchard", &j), 0);
    assert_string_equal(jid_full(&j, out, sizeof out), "romeo@example.net/Orchard");
    assert_int_equal(jid_from_parts(NULL, "example.net", NULL, &j), 0);
    assert_string_equal(jid_full(&j, out, sizeof out), "example.net");
    assert_int_equal(jid_from_parts(NULL, NULL, NULL, &j), ALDIS_EINVAL);
    assert_int_equal(jid_from_parts("", "example.net", NULL, &j), ALDIS_EINVAL);
    assert_int_equal(jid_from_parts("a@b", "example.net", NULL, &j), ALDIS_EINVAL);
    assert_int_equal(jid_from_parts("a", "example.net", "", &j), ALDIS_EINVAL);
    /* a '/' in a resource given as a part is just a character */
    assert_int_equal(jid_from_parts("a", "example.net", "x/y", &j), 0);
    assert_string_equal(j.resource, "x/y");

    char part[JID_PART_MAX + 1];
    assert_int_equal(jid_nodeprep("JuLiEt", part), 0);
    assert_string_equal(part, "juliet");
    assert_int_equal(jid_nodeprep("a/b", part), ALDIS_EINVAL);
    assert_int_equal(jid_resourceprep("JuLiEt", part), 0);
    assert_string_equal(part, "JuLiEt");
    assert_int_equal(jid_domainprep("Example.COM.", part), 0);
    assert_string_equal(part, "example.com");
    assert_int_equal(jid_domainprep("", part), ALDIS_EINVAL);
    assert_int_equal(jid_domainprep(".", part), ALDIS_EINVAL);
}

static void test_print(void **state)
{
    (void)state;
    struct jid j;
    char out[JID_STR_MAX];
    assert_int_equal(jid_parse("juliet@example.com/balcony", &j), 0);
    assert_string_equal(jid_bare(&j, out, sizeof out), "juliet@example.com");
    assert_string_equal(jid_full(&j, out, sizeof out), "juliet@example.com/balcony");
    assert_int_equal(jid_parse("example.com/svc", &j), 0);
    assert_string_equal(jid_bare(&j, out, sizeof out), "example.com");
    assert_string_equal(jid_full(&j, out, sizeof out), "example.com/svc");
    assert_int_equal(jid_parse("a@example.com", &j), 0);
    assert_string_equal(jid_full(&j, out, sizeof out), "a@example.com");
    /* a small buffer truncates but stays terminated */
    char small[6];
    assert_ptr_equal(jid_full(&j, small, sizeof small), small);
    assert_string_equal(small, "a@exa");

    /* parse(print(j)) == j */
    const char *samples[] = {"a@b/c", "B/c@d", "x@[::1]/r/s", "\xcf\x89@ex\xc3\xa4mple.com/\xce\xa9"};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        struct jid a, b;
        assert_int_equal(jid_parse(samples[i], &a), 0);
        assert_int_equal(jid_parse(jid_full(&a, out, sizeof out), &b), 0);
        assert_true(jid_full_eq(&a, &b));
    }
}

static void test_equality_copy(void **state)
{
    (void)state;
    struct jid a, b, c, d, e;
    assert_int_equal(jid_parse("Juliet@Example.com/Balcony", &a), 0);
    assert_int_equal(jid_parse("juliet@EXAMPLE.COM/Balcony", &b), 0);
    assert_int_equal(jid_parse("juliet@example.com/balcony", &c), 0);
    assert_int_equal(jid_parse("juliet@example.com", &d), 0);
    assert_int_equal(jid_parse("example.com", &e), 0);
    assert_true(jid_full_eq(&a, &b));
    assert_true(jid_bare_eq(&a, &b));
    assert_false(jid_full_eq(&a, &c)); /* resources are case-sensitive */
    assert_true(jid_bare_eq(&a, &c));
    assert_false(jid_full_eq(&a, &d));
    assert_true(jid_bare_eq(&a, &d));
    assert_false(jid_bare_eq(&d, &e)); /* no localpart vs a localpart */
    assert_true(jid_full_eq(&e, &e));
    /* A-label and U-label forms of a domain are equal */
    struct jid u, al;
    assert_int_equal(jid_parse("x@ex\xc3\xa4mple.com", &u), 0);
    assert_int_equal(jid_parse("x@xn--exmple-cua.com", &al), 0);
    assert_true(jid_full_eq(&u, &al));

    /* jid_copy: pointers refer to the copy's own storage */
    struct jid *copy = malloc(sizeof *copy);
    assert_non_null(copy);
    jid_copy(copy, &a);
    memset(&a, 0x55, sizeof a); /* the original is gone */
    assert_true(jid_full_eq(copy, &b));
    assert_true(copy->local >= copy->storage && copy->local < copy->storage + sizeof copy->storage);
    assert_true(copy->resource >= copy->storage &&
                copy->resource < copy->storage + sizeof copy->storage);
    jid_copy(copy, &e);
    assert_null(copy->local);
    assert_null(copy->resource);
    assert_string_equal(copy->domain, "example.com");
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts),     cmocka_unit_test(test_prepare),
        cmocka_unit_test(test_invalid),   cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_parts_api), cmocka_unit_test(test_print),
        cmocka_unit_test(test_equality_copy), cmocka_unit_test(test_prep_memo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

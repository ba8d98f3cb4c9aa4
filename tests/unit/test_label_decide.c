/* test_label_decide.c - label_decide(), the one access decision (label.h,
 * ARCHITECTURE.md §6): one test per rule, against the shipped example
 * policy, plus clearances (text form, default, covers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "aldis/buf.h"
#include "aldis/xml.h"
#include "label_fixture.h"
#include "labels/label_internal.h"

static struct label_policy *pol;

static bool decide(const char *clearance, struct label *l, char *why, size_t whylen)
{
    struct clearance *c = clearance ? label_fixture_clearance(pol, clearance) : NULL;
    bool ok = label_decide(pol, c, l, why, whylen);
    clearance_free(c);
    return ok;
}

static void test_dominance(void **state)
{
    (void)state;
    char why[128];
    struct label *conf = label_fixture_make(pol, "CONFIDENTIAL", NULL, NULL);
    struct label *secret = label_fixture_make(pol, "SECRET", NULL, NULL);
    struct label *top = label_fixture_make(pol, "TOP SECRET", NULL, NULL);
    assert_true(decide("SECRET", conf, why, sizeof why));
    assert_true(decide("SECRET", secret, why, sizeof why));
    assert_false(decide("SECRET", top, why, sizeof why));
    assert_non_null(strstr(why, "TOP SECRET"));
    assert_false(decide("RESTRICTED", conf, why, sizeof why));
    assert_true(decide("TOP SECRET", top, why, sizeof why));
    label_free(conf);
    label_free(secret);
    label_free(top);
}

static void test_no_clearance_is_lowest(void **state)
{
    (void)state;
    char why[128];
    struct label *low = NULL, *restricted = label_fixture_make(pol, "RESTRICTED", NULL, NULL);
    assert_int_equal(label_default(pol, NULL, &low), 0);
    assert_string_equal(label_classification(pol, low), "UNCLASSIFIED");
    assert_true(label_decide(pol, NULL, low, why, sizeof why));
    assert_false(label_decide(pol, NULL, restricted, why, sizeof why));
    struct clearance *def = NULL;
    assert_int_equal(clearance_default(pol, &def), 0);
    assert_true(label_decide(pol, def, low, why, sizeof why));
    assert_false(label_decide(pol, def, restricted, why, sizeof why));
    clearance_free(def);
    label_free(low);
    label_free(restricted);
}

static void test_restrictive_all_held(void **state)
{
    (void)state;
    char why[128];
    struct label *l = label_fixture_make(pol, "SECRET", "Special Handling=KESTREL,OSPREY", NULL);
    assert_false(decide("SECRET", l, why, sizeof why));
    assert_false(decide("SECRET;Special Handling=KESTREL", l, why, sizeof why));
    assert_non_null(strstr(why, "OSPREY"));
    assert_true(decide("SECRET;Special Handling=KESTREL,OSPREY", l, why, sizeof why));
    assert_true(decide("TOP SECRET;Special Handling=OSPREY,KESTREL,KEYMAT", l, why, sizeof why));
    /* the classification rule still applies */
    assert_false(decide("CONFIDENTIAL;Special Handling=KESTREL,OSPREY", l, why, sizeof why));
    label_free(l);
}

static void test_permissive_one_held(void **state)
{
    (void)state;
    char why[128];
    struct label *l = label_fixture_make(pol, "SECRET", "Releasable To=GBR,USA", NULL);
    assert_true(decide("SECRET;Releasable To=USA", l, why, sizeof why));
    assert_true(decide("SECRET;Releasable To=GBR", l, why, sizeof why));
    assert_false(decide("SECRET;Releasable To=FRA", l, why, sizeof why));
    assert_non_null(strstr(why, "Releasable To"));
    assert_false(decide("SECRET", l, why, sizeof why));
    label_free(l);
}

static void test_permissive_group(void **state)
{
    (void)state;
    char why[128];
    /* REL NATO: any member nation may read */
    struct label *nato = label_fixture_make(pol, "SECRET", "Releasable To=NATO", NULL);
    assert_true(decide("SECRET;Releasable To=DEU", nato, why, sizeof why));
    assert_true(decide("SECRET;Releasable To=NATO", nato, why, sizeof why));
    assert_false(decide("SECRET", nato, why, sizeof why));
    /* holding the group value does not grant a single nation's release */
    struct label *gbr = label_fixture_make(pol, "SECRET", "Releasable To=GBR", NULL);
    assert_false(decide("SECRET;Releasable To=NATO", gbr, why, sizeof why));
    label_free(nato);
    label_free(gbr);
}

static void test_restrictive_and_permissive_together(void **state)
{
    (void)state;
    char why[128];
    struct label *l = label_fixture_make(pol, "CONFIDENTIAL", "Special Handling=KEYMAT",
                                         "Releasable To=FRA,NLD");
    assert_true(decide("SECRET;Special Handling=KEYMAT;Releasable To=NLD", l, why, sizeof why));
    assert_false(decide("SECRET;Releasable To=NLD", l, why, sizeof why));
    assert_false(decide("SECRET;Special Handling=KEYMAT;Releasable To=GBR", l, why, sizeof why));
    label_free(l);
}

static void test_informative_ignored(void **state)
{
    (void)state;
    char why[128];
    struct label *l = label_fixture_make(pol, "RESTRICTED", "Handling Notes=EXERCISE,PERSONAL",
                                         NULL);
    assert_true(decide("RESTRICTED", l, why, sizeof why));
    label_free(l);
}

static void test_unknown_policy_denied(void **state)
{
    (void)state;
    char why[128] = "";
    struct label *l = label_fixture_make(pol, "UNCLASSIFIED", NULL, NULL);
    strcpy(l->policy_id, "1.2.3.4");
    assert_false(decide("TOP SECRET", l, why, sizeof why));
    assert_non_null(strstr(why, "unknown security policy"));
    /* a label made under the partner policy is not ours either */
    struct label_policy *b = label_fixture_b();
    struct label *lb = label_fixture_make(b, "OPEN", NULL, NULL);
    assert_false(decide("TOP SECRET", lb, why, sizeof why));
    /* a clearance under another policy grants nothing */
    struct clearance *cb = label_fixture_clearance(b, "PARTNER SECRET");
    struct label *la = label_fixture_make(pol, "UNCLASSIFIED", NULL, NULL);
    assert_false(label_decide(pol, cb, la, why, sizeof why));
    clearance_free(cb);
    label_free(la);
    label_free(lb);
    label_policy_free(b);
    label_free(l);
}

static void test_malformed_denied(void **state)
{
    (void)state;
    char why[128] = "";
    struct label *l = label_fixture_make(pol, "UNCLASSIFIED", NULL, NULL);
    l->classification = 9; /* no such lacv */
    assert_false(decide("TOP SECRET", l, why, sizeof why));
    assert_non_null(strstr(why, "classification"));
    label_free(l);

    /* a category value the policy does not define */
    l = label_fixture_make(pol, "UNCLASSIFIED", "Releasable To=GBR", NULL);
    l->cats[0].lacv = 77;
    assert_false(decide("TOP SECRET;Releasable To=GBR,USA,FRA,DEU,NLD,NATO", l, why, sizeof why));
    /* a tag set the policy does not define */
    l->cats[0].lacv = 1;
    strcpy(l->cats[0].tagset, "1.3.6.1.4.1.99999.1.1.77");
    assert_false(decide("TOP SECRET;Releasable To=GBR", l, why, sizeof why));
    label_free(l);
    assert_false(label_decide(pol, NULL, NULL, why, sizeof why));
}

static void test_clearance_text(void **state)
{
    (void)state;
    char why[128] = "";
    struct clearance *c = NULL;
    assert_int_equal(clearance_parse(pol, "SECRET; Releasable To = USA , GBR ;Special Handling=KESTREL",
                                     &c, why, sizeof why),
                     0);
    struct buf b;
    buf_init(&b);
    assert_int_equal(clearance_format(pol, c, &b), 0);
    assert_string_equal(buf_cstr(&b), "SECRET;Special Handling=KESTREL;Releasable To=GBR,USA");
    struct clearance *again = NULL;
    assert_int_equal(clearance_parse(pol, b.data, &again, why, sizeof why), 0);
    assert_true(clearance_covers(pol, c, again) && clearance_covers(pol, again, c));
    buf_free(&b);
    clearance_free(again);

    struct clearance *dup = clearance_dup(c);
    assert_true(clearance_covers(pol, dup, c));
    clearance_free(dup);

    const char *bad[] = {"", "COSMIC", "SECRET;Nope=GBR", "SECRET;Releasable To=XXX",
                         "SECRET;Releasable To", "SECRET;Releasable To=,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct clearance *x = (struct clearance *)1;
        why[0] = '\0';
        assert_true(clearance_parse(pol, bad[i], &x, why, sizeof why) < 0);
        assert_null(x);
        assert_true(why[0] != '\0');
    }
    clearance_free(c);
}

static void test_clearance_covers(void **state)
{
    (void)state;
    struct clearance *user = label_fixture_clearance(pol, "SECRET;Releasable To=GBR,USA");
    struct clearance *room = label_fixture_clearance(pol, "CONFIDENTIAL;Releasable To=GBR");
    struct clearance *room2 = label_fixture_clearance(pol, "CONFIDENTIAL;Releasable To=FRA");
    struct clearance *room3 = label_fixture_clearance(pol, "TOP SECRET");
    struct clearance *room4 = label_fixture_clearance(pol, "SECRET;Special Handling=KESTREL");
    assert_true(clearance_covers(pol, user, room));
    assert_false(clearance_covers(pol, room, user));
    assert_false(clearance_covers(pol, user, room2));
    assert_false(clearance_covers(pol, user, room3));
    assert_false(clearance_covers(pol, user, room4));
    clearance_free(user);
    clearance_free(room);
    clearance_free(room2);
    clearance_free(room3);
    clearance_free(room4);
}

/* Workers share one policy and decide concurrently (label.h: immutable
 * after load, no locks). Run under ThreadSanitizer (-DALDIS_TSAN=ON) this
 * also checks the parsers' one-time initialisation. */
struct worker_arg {
    const char *stanza;
    int permitted;
};

static void *worker(void *argp)
{
    struct worker_arg *arg = argp;
    struct clearance *c = label_fixture_clearance(pol, "SECRET;Releasable To=USA");
    for (int i = 0; i < 200; i++) {
        struct stanza *st = stanza_parse(arg->stanza, strlen(arg->stanza));
        struct label *l = NULL;
        char why[128];
        if (st && label_from_stanza(pol, st->root, &l, why, sizeof why) == 0 && l &&
            label_decide(pol, c, l, why, sizeof why))
            arg->permitted++;
        struct buf b;
        buf_init(&b);
        if (l)
            label_to_xep0258(pol, l, (i & 1) ? LABEL_FORMAT_4774 : LABEL_FORMAT_ESS, &b);
        buf_free(&b);
        label_free(l);
        stanza_unref(st);
    }
    clearance_free(c);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    struct label *ess = label_fixture_make(pol, "SECRET", "Releasable To=GBR,USA", NULL);
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    buf_adds(&a, "<message xmlns='jabber:client'>");
    assert_int_equal(label_to_xep0258(pol, ess, LABEL_FORMAT_ESS, &a), 0);
    buf_adds(&a, "</message>");
    buf_adds(&b, "<message xmlns='jabber:client'>");
    assert_int_equal(label_to_xep0258(pol, ess, LABEL_FORMAT_4774, &b), 0);
    buf_adds(&b, "</message>");
    struct worker_arg args[4] = {{a.data, 0}, {b.data, 0}, {a.data, 0}, {b.data, 0}};
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].permitted, 200);
    }
    buf_free(&a);
    buf_free(&b);
    label_free(ess);
}

static int setup(void **state)
{
    (void)state;
    pol = label_fixture_a();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    label_policy_free(pol);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dominance),
        cmocka_unit_test(test_no_clearance_is_lowest),
        cmocka_unit_test(test_restrictive_all_held),
        cmocka_unit_test(test_permissive_one_held),
        cmocka_unit_test(test_permissive_group),
        cmocka_unit_test(test_restrictive_and_permissive_together),
        cmocka_unit_test(test_informative_ignored),
        cmocka_unit_test(test_unknown_policy_denied),
        cmocka_unit_test(test_malformed_denied),
        cmocka_unit_test(test_clearance_text),
        cmocka_unit_test(test_clearance_covers),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_label_policy.c - the SPIF loader (src/labels/label_policy.c): the
 * shipped example policies load with the expected contents, and malformed
 * or hostile SPIFs are refused with a message naming the place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "label_fixture.h"
#include "labels/label_internal.h"

static void test_example_policy(void **state)
{
    (void)state;
    struct label_policy *p = label_fixture_a();
    assert_string_equal(label_policy_id(p), "1.3.6.1.4.1.99999.1.1");
    assert_string_equal(label_policy_name(p), "ALDIS EXAMPLE");
    assert_string_equal(label_policy_lowest(p), "UNCLASSIFIED");
    assert_int_equal(p->nclasses, 5);
    const char *order[] = {"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(p->classes[i].name, order[i]);
    assert_string_equal(p->classes[3].bgcolor, "red");
    assert_string_equal(p->classes[3].fgcolor, "white");
    assert_int_equal(p->ntags, 3);
    assert_int_equal(p->tags[0].semantic, LABEL_SEM_RESTRICTIVE);
    assert_int_equal(p->tags[1].semantic, LABEL_SEM_PERMISSIVE);
    assert_int_equal(p->tags[2].semantic, LABEL_SEM_INFORMATIVE);
    assert_string_equal(p->tags[1].prefix, "REL");
    const struct label_value *nato = label__value_by_name(&p->tags[1], "NATO");
    assert_non_null(nato);
    assert_int_equal(nato->nmembers, 5);
    assert_int_equal(p->nequivs, 1);
    assert_string_equal(p->equivs[0].id, "1.3.6.1.4.1.99999.1.2");

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    label_policy_summary(p, f);
    fclose(f);
    assert_non_null(strstr(text, "TOP SECRET"));
    assert_non_null(strstr(text, "Releasable To [1.3.6.1.4.1.99999.1.1.2] permissive"));
    assert_non_null(strstr(text, "PARTNER (1.3.6.1.4.1.99999.1.2)"));
    free(text);
    label_policy_free(p);

    struct label_policy *b = label_fixture_b();
    assert_string_equal(label_policy_lowest(b), "OPEN");
    label_policy_free(b);
}

static const char head[] = "<SPIF xmlns='http://www.xmlspif.org/spif'>"
                           "<securityPolicyId name='T' id='1.2.3'/>";

static int parse(const char *body, char *why, size_t whylen)
{
    char xml[4096];
    snprintf(xml, sizeof xml, "%s%s</SPIF>", head, body);
    struct label_policy *p = NULL;
    int rc = label_policy_parse(xml, strlen(xml), &p, why, whylen);
    label_policy_free(p);
    return rc;
}

static void test_minimal(void **state)
{
    (void)state;
    char why[256] = "";
    assert_int_equal(parse("<securityClassifications><securityClassification name='A' lacv='0' "
                           "hierarchy='0'/></securityClassifications>",
                           why, sizeof why),
                     0);
}

static void test_malformed(void **state)
{
    (void)state;
    const struct {
        const char *body, *expect;
    } cases[] = {
        {"", "missing securityClassifications"},
        {"<securityClassifications/>", "securityClassification"},
        {"<securityClassifications><securityClassification name='A' hierarchy='0'/>"
         "</securityClassifications>",
         "missing attribute lacv"},
        {"<securityClassifications><securityClassification name='A' lacv='64' hierarchy='0'/>"
         "</securityClassifications>",
         "lacv"},
        {"<securityClassifications><securityClassification name='A' lacv='1' hierarchy='0'/>"
         "<securityClassification name='B' lacv='1' hierarchy='1'/></securityClassifications>",
         "duplicate"},
        {"<securityClassifications><securityClassification name='A' lacv='1' hierarchy='0'>"
         "<equivalentClassification policyRef='NOPE' lacv='1' applied='both'/>"
         "</securityClassification></securityClassifications>",
         "policyRef"},
        {"<securityClassifications><securityClassification name='A' lacv='1' hierarchy='0'/>"
         "</securityClassifications><securityCategoryTagSets><securityCategoryTagSet name='S' "
         "id='1.2.3.1'><securityCategoryTag name='S' tagType='weird'><tagCategory name='x' "
         "lacv='1'/></securityCategoryTag></securityCategoryTagSet></securityCategoryTagSets>",
         "unknown tagType"},
        {"<securityClassifications><securityClassification name='A' lacv='1' hierarchy='0'/>"
         "</securityClassifications><securityCategoryTagSets><securityCategoryTagSet name='S' "
         "id='1.2.3.1'><securityCategoryTag name='S' tagType='enumerated'><tagCategory name='x' "
         "lacv='1'/></securityCategoryTag></securityCategoryTagSet></securityCategoryTagSets>",
         "enumType"},
        {"<securityClassifications><securityClassification name='A' lacv='1' hierarchy='0'/>"
         "</securityClassifications><securityCategoryTagSets><securityCategoryTagSet name='S' "
         "id='not.an.oid'><securityCategoryTag name='S' tagType='restrictive'><tagCategory "
         "name='x' lacv='1'/></securityCategoryTag></securityCategoryTagSet>"
         "</securityCategoryTagSets>",
         "OID"},
        {"<securityClassifications><securityClassification name='A' lacv='1' hierarchy='0'/>"
         "</securityClassifications><securityCategoryTagSets><securityCategoryTagSet name='S' "
         "id='1.2.3.1'><securityCategoryTag name='S' tagType='restrictive' xmlns:ax='urn:xmpp:aldis:spif:0'>"
         "<tagCategory name='x' lacv='1'/><tagCategory name='y' lacv='2' ax:members='x'/>"
         "</securityCategoryTag></securityCategoryTagSet></securityCategoryTagSets>",
         "members"},
        {"<securityClassifications><securityClassification name='A' lacv='1' hierarchy='0'/>"
         "</securityClassifications><securityCategoryTagSets><securityCategoryTagSet name='S' "
         "id='1.2.3.1'><securityCategoryTag name='S' tagType='permissive'>"
         "<tagCategory name='x' lacv='1'/><tagCategory name='x' lacv='2'/>"
         "</securityCategoryTag></securityCategoryTagSet></securityCategoryTagSets>",
         "duplicate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[512] = "";
        assert_int_equal(parse(cases[i].body, why, sizeof why), ALDIS_ECONFIG);
        if (!strstr(why, cases[i].expect) || !strstr(why, "line ")) {
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, why, cases[i].expect);
            fail();
        }
    }
}

static void test_hostile(void **state)
{
    (void)state;
    const char *docs[] = {
        "",
        "not xml",
        "<SPIF xmlns='http://www.xmlspif.org/spif'>",
        "<other/>",
        "<SPIF xmlns='urn:wrong'/>",
        /* an internal subset with nested entities (one literal, split) */
        ("<!DOCTYPE SPIF [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;'>]>"
         "<SPIF xmlns='http://www.xmlspif.org/spif'><securityPolicyId name='&b;' id='1.2'/></SPIF>"),
        "<!DOCTYPE SPIF SYSTEM 'http://127.0.0.1:1/x.dtd'><SPIF/>",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct label_policy *p = (struct label_policy *)1;
        char why[512] = "";
        assert_true(label_policy_parse(docs[i], strlen(docs[i]), &p, why, sizeof why) < 0);
        assert_null(p);
        assert_true(why[0] != '\0');
    }
    /* more classifications than the bound */
    struct buf b;
    buf_init(&b);
    buf_adds(&b, head);
    buf_adds(&b, "<securityClassifications>");
    for (int i = 0; i < 65; i++)
        buf_printf(&b, "<securityClassification name='C%d' lacv='%d' hierarchy='%d'/>", i, i % 64, i);
    buf_adds(&b, "</securityClassifications></SPIF>");
    struct label_policy *p = NULL;
    char why[512];
    assert_int_equal(label_policy_parse(b.data, b.len, &p, why, sizeof why), ALDIS_ECONFIG);
    buf_free(&b);

    assert_int_equal(label_policy_load("/nonexistent/policy.xml", &p, why, sizeof why), ALDIS_EIO);
    assert_null(p);
    assert_int_equal(label_policy_load("/tmp", &p, why, sizeof why), ALDIS_EIO);
    assert_non_null(strstr(why, "not a regular file"));
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_policy),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

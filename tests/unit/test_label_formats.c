/* test_label_formats.c - label formats of the labels library: ESS
 * (RFC 2634 DER, libtasn1) and STANAG 4774 XML round trips, conversion
 * between them, XEP-0258 <securitylabel/> on stanzas (equivalent labels
 * included), mapping to the equivalent policy, malformed inputs, catalogs,
 * and RFC 5755 clearances from DER. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aldis/buf.h"
#include "aldis/xml.h"
#include "label_fixture.h"
#include "labels/label_internal.h"

static struct label_policy *pol, *polb;

static struct label *sample(int i)
{
    switch (i) {
    case 0: return label_fixture_make(pol, "UNCLASSIFIED", NULL, NULL);
    case 1: return label_fixture_make(pol, "SECRET", "Releasable To=GBR,USA", NULL);
    case 2:
        return label_fixture_make(pol, "TOP SECRET", "Special Handling=KESTREL,KEYMAT",
                                  "Releasable To=NATO");
    case 3: return label_fixture_make(pol, "RESTRICTED", "Handling Notes=EXERCISE,PERSONAL", NULL);
    default: {
        struct label *l = label_fixture_make(pol, "CONFIDENTIAL", "Releasable To=NLD", NULL);
        l->privacy_mark = strdup("STAFF IN CONFIDENCE");
        return l;
    }
    }
}

static void test_ess_known_vector(void **state)
{
    (void)state;
    /* SET { INTEGER 1, OID 1.3.6.1.4.1.99999.1.1 }: DER sorts the SET by tag */
    static const unsigned char expect[] = {0x31, 0x0f, 0x02, 0x01, 0x01, 0x06, 0x0a, 0x2b,
                                           0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01, 0x01};
    struct label *l = sample(0);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(label_to_ess_der(pol, l, &der, &len), 0);
    assert_int_equal(len, sizeof expect);
    assert_memory_equal(der, expect, len);
    free(der);
    label_free(l);

    /* labels written by others decode as they mean: XEP-0258 Example 9
     * (SECRET under policy 1.1) and a restrictive bit map with bit 8 set in
     * tag set 1.2.3.1 (the SDN.801c encoding other ESS implementations
     * test with) */
    static const unsigned char xep[] = {0x31, 0x06, 0x02, 0x01, 0x04, 0x06, 0x01, 0x29};
    struct label *raw = NULL;
    assert_int_equal(label__ess_decode_raw(xep, sizeof xep, &raw, NULL, 0), 0);
    assert_string_equal(raw->policy_id, "1.1");
    assert_int_equal(raw->classification, 4);
    assert_int_equal(raw->ncats, 0);
    label_free(raw);
    static const unsigned char bitmap[] = {
        0x31, 0x25, 0x02, 0x01, 0x01, 0x06, 0x02, 0x2a, 0x03, 0x31, 0x1c, 0x30, 0x1a, 0x80,
        0x0a, 0x60, 0x86, 0x48, 0x01, 0x65, 0x02, 0x01, 0x08, 0x03, 0x00, 0xa1, 0x0c, 0x30,
        0x0a, 0x06, 0x03, 0x2a, 0x03, 0x01, 0x03, 0x03, 0x07, 0x00, 0x80};
    assert_int_equal(label__ess_decode_raw(bitmap, sizeof bitmap, &raw, NULL, 0), 0);
    assert_string_equal(raw->policy_id, "1.2.3");
    assert_int_equal(raw->ncats, 1);
    assert_string_equal(raw->cats[0].tagset, "1.2.3.1");
    assert_int_equal(raw->cats[0].syntax, LABEL_SYN_RESTRICTIVE);
    assert_int_equal(raw->cats[0].lacv, 8);
    label_free(raw);

    /* and we write that label byte for byte the same */
    static const char spif[] =
        "<SPIF xmlns='http://www.xmlspif.org/spif'><securityPolicyId name='T' id='1.2.3'/>"
        "<securityClassifications><securityClassification name='P' lacv='1' hierarchy='1'/>"
        "</securityClassifications><securityCategoryTagSets><securityCategoryTagSet name='A' "
        "id='1.2.3.1'><securityCategoryTag name='R' tagType='restrictive'><tagCategory name='R8' "
        "lacv='8'/></securityCategoryTag></securityCategoryTagSet></securityCategoryTagSets></SPIF>";
    struct label_policy *t = NULL;
    assert_int_equal(label_policy_parse(spif, strlen(spif), &t, NULL, 0), 0);
    const char *cat = "R=R8";
    assert_int_equal(label_make(t, "P", &cat, 1, &l, NULL, 0), 0);
    assert_int_equal(label_to_ess_der(t, l, &der, &len), 0);
    assert_int_equal(len, sizeof bitmap);
    assert_memory_equal(der, bitmap, len);
    free(der);
    label_free(l);
    label_policy_free(t);
}

static void test_ess_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++) {
        struct label *l = sample(i), *back = NULL;
        unsigned char *der = NULL;
        size_t len = 0;
        char why[128] = "";
        assert_int_equal(label_to_ess_der(pol, l, &der, &len), 0);
        assert_int_equal(label_from_ess_der(pol, der, len, &back, why, sizeof why), 0);
        assert_true(label_equal(l, back));
        /* every truncation is refused, never crashes */
        for (size_t cut = 0; cut < len; cut++) {
            struct label *x = NULL;
            assert_true(label_from_ess_der(pol, der, cut, &x, why, sizeof why) < 0);
            assert_null(x);
        }
        /* trailing bytes are refused */
        unsigned char *longer = malloc(len + 1);
        memcpy(longer, der, len);
        longer[len] = 0;
        struct label *x = NULL;
        assert_true(label_from_ess_der(pol, longer, len + 1, &x, why, sizeof why) < 0);
        free(longer);
        free(der);
        label_free(back);
        label_free(l);
    }
}

static void test_ess_malformed(void **state)
{
    (void)state;
    char why[128];
    struct label *x = NULL;
    /* no classification */
    static const unsigned char noclass[] = {0x31, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
                                            0x01, 0x86, 0x8d, 0x1f, 0x01, 0x01};
    assert_true(label_from_ess_der(pol, noclass, sizeof noclass, &x, why, sizeof why) < 0);
    /* classification 9 is not in the policy */
    static const unsigned char badclass[] = {0x31, 0x0f, 0x02, 0x01, 0x09, 0x06, 0x0a, 0x2b, 0x06,
                                             0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01, 0x01};
    assert_int_equal(label_from_ess_der(pol, badclass, sizeof badclass, &x, why, sizeof why),
                     ALDIS_EINVAL);
    /* unknown policy 1.2.3 */
    static const unsigned char other[] = {0x31, 0x07, 0x02, 0x01, 0x01, 0x06, 0x02, 0x2a, 0x03};
    assert_int_equal(label_from_ess_der(pol, other, sizeof other, &x, why, sizeof why),
                     ALDIS_EINVAL);
    assert_non_null(strstr(why, "unknown security policy"));
    /* negative classification, garbage */
    static const unsigned char neg[] = {0x31, 0x07, 0x02, 0x01, 0xff, 0x06, 0x02, 0x2a, 0x03};
    assert_true(label_from_ess_der(pol, neg, sizeof neg, &x, why, sizeof why) < 0);
    /* a privacy mark that is not UTF-8 (found by fuzz_label_ess: it could
     * not be carried in a 4774 label) */
    static const unsigned char badmark[] = {
        0x31, 0x47, 0x02, 0x01, 0x02, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d,
        0x1f, 0x01, 0x01, 0x0c, 0x0d, 0x49, 0xb2, 0xdf, 0xbc, 0xb0, 0x4e, 0x46, 0x49, 0x44,
        0x45, 0x4e, 0x43, 0x45, 0x31, 0x27, 0x30, 0x25, 0x80, 0x0a, 0x60, 0x86, 0x48, 0x01,
        0x65, 0x02, 0x01, 0x08, 0x03, 0x03, 0xa1, 0x17, 0x30, 0x15, 0x06, 0x0b, 0x2b, 0x06,
        0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01, 0x01, 0x03, 0x31, 0x06, 0x02, 0x01, 0x01,
        0x02, 0x01, 0x02};
    assert_int_equal(label_from_ess_der(pol, badmark, sizeof badmark, &x, why, sizeof why),
                     ALDIS_EPROTO);
    /* the same label with a plain mark is fine */
    struct label *marked = sample(3);
    free(marked->privacy_mark);
    marked->privacy_mark = strdup(" padded");
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(label_to_ess_der(pol, marked, &der, &len), ALDIS_EINVAL);
    label_free(marked);
    static const unsigned char junk[] = {0x30, 0x80, 0x00, 0x00};
    assert_true(label_from_ess_der(pol, junk, sizeof junk, &x, why, sizeof why) < 0);
    assert_null(x);
}

static void test_4774_round_trip_and_conversion(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++) {
        struct label *l = sample(i), *back = NULL, *fromess = NULL;
        struct buf b;
        buf_init(&b);
        char why[256] = "";
        assert_int_equal(label_to_4774(pol, l, &b), 0);
        assert_int_equal(label_from_4774(pol, b.data, b.len, &back, why, sizeof why), 0);
        assert_true(label_equal(l, back));
        /* 4774 -> ESS -> label: the same label */
        unsigned char *der = NULL;
        size_t len = 0;
        assert_int_equal(label_to_ess_der(pol, back, &der, &len), 0);
        assert_int_equal(label_from_ess_der(pol, der, len, &fromess, why, sizeof why), 0);
        assert_true(label_equal(l, fromess));
        free(der);
        buf_free(&b);
        label_free(l);
        label_free(back);
        label_free(fromess);
    }
}

static void test_4774_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "<ConfidentialityLabel",
        "<ConfidentialityLabel xmlns='urn:wrong'/>",
        "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><ConfidentialityLabel "
        "xmlns='" LABEL_4774_NS "'>&e;</ConfidentialityLabel>",
        "<ConfidentialityLabel xmlns='" LABEL_4774_NS "'/>",
        "<ConfidentialityLabel xmlns='" LABEL_4774_NS "'><ConfidentialityInformation>"
        "<PolicyIdentifier URI='urn:oid:1.2.3'>X</PolicyIdentifier><Classification>SECRET"
        "</Classification></ConfidentialityInformation></ConfidentialityLabel>",
        "<ConfidentialityLabel xmlns='" LABEL_4774_NS "'><ConfidentialityInformation>"
        "<PolicyIdentifier URI='urn:oid:1.3.6.1.4.1.99999.1.1'/><Classification>COSMIC"
        "</Classification></ConfidentialityInformation></ConfidentialityLabel>",
        "<ConfidentialityLabel xmlns='" LABEL_4774_NS "'><ConfidentialityInformation>"
        "<PolicyIdentifier URI='urn:oid:1.3.6.1.4.1.99999.1.1'/><Classification>SECRET"
        "</Classification><Category TagName='Releasable To' Type='PERMISSIVE'>"
        "<GenericValue>ATLANTIS</GenericValue></Category>"
        "</ConfidentialityInformation></ConfidentialityLabel>",
        "<ConfidentialityLabel xmlns='" LABEL_4774_NS "'><ConfidentialityInformation>"
        "<PolicyIdentifier URI='urn:oid:1.3.6.1.4.1.99999.1.1'/><Classification>SECRET"
        "</Classification><Category TagName='Releasable To' Type='RESTRICTIVE'>"
        "<GenericValue>GBR</GenericValue></Category>"
        "</ConfidentialityInformation></ConfidentialityLabel>",
        "<ConfidentialityLabel xmlns='" LABEL_4774_NS "'><ConfidentialityInformation>"
        "<Classification>SECRET</Classification>"
        "</ConfidentialityInformation></ConfidentialityLabel>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct label *x = NULL;
        char why[256] = "";
        assert_true(label_from_4774(pol, bad[i], strlen(bad[i]), &x, why, sizeof why) < 0);
        assert_null(x);
        assert_true(why[0] != '\0');
    }
}

static struct stanza *message_with(const char *payload)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "<message xmlns='jabber:client' to='a@example.org'><body>hi</body>%s</message>",
               payload);
    struct stanza *st = stanza_parse(b.data, b.len);
    buf_free(&b);
    assert_non_null(st);
    return st;
}

static void test_xep0258_round_trip(void **state)
{
    (void)state;
    for (int f = 0; f < 2; f++) {
        for (int i = 0; i < 5; i++) {
            struct label *l = sample(i), *back = NULL;
            struct stanza *st = message_with("");
            assert_int_equal(label_attach(pol, l, f ? LABEL_FORMAT_4774 : LABEL_FORMAT_ESS, st,
                                          st->root),
                             0);
            char *text = stanza_to_string(st, NULL);
            struct stanza *again = stanza_parse(text, strlen(text));
            char why[256] = "";
            assert_int_equal(label_from_stanza(pol, again->root, &back, why, sizeof why), 0);
            assert_non_null(back);
            assert_true(label_equal(l, back));
            free(text);
            stanza_unref(again);
            stanza_unref(st);
            label_free(back);
            label_free(l);
        }
    }
    /* the display marking carries the policy's marking and colours */
    struct label *l = sample(1);
    struct buf b;
    buf_init(&b);
    assert_int_equal(label_to_xep0258(pol, l, LABEL_FORMAT_ESS, &b), 0);
    assert_non_null(strstr(b.data, "<displaymarking fgcolor='white' bgcolor='red'>"
                                   "SECRET REL GBR, USA</displaymarking>"));
    buf_free(&b);
    label_free(l);

    /* no label: 0 and NULL */
    struct stanza *st = message_with("");
    struct label *none = (struct label *)1;
    assert_int_equal(label_from_stanza(pol, st->root, &none, NULL, 0), 0);
    assert_null(none);
    stanza_unref(st);
}

static void test_xep0258_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "<securitylabel xmlns='urn:xmpp:sec-label:0'/>",
        "<securitylabel xmlns='urn:xmpp:sec-label:0'><label/></securitylabel>",
        "<securitylabel xmlns='urn:xmpp:sec-label:0'><label><esssecuritylabel "
        "xmlns='urn:xmpp:sec-label:ess:0'>!!!</esssecuritylabel></label></securitylabel>",
        "<securitylabel xmlns='urn:xmpp:sec-label:0'><label><esssecuritylabel "
        "xmlns='urn:xmpp:sec-label:ess:0'>MQA=</esssecuritylabel></label></securitylabel>",
        "<securitylabel xmlns='urn:xmpp:sec-label:0'><label><esssecuritylabel "
        "xmlns='urn:xmpp:sec-label:ess:0'>MQcCAQEGAioD</esssecuritylabel></label></securitylabel>",
        "<securitylabel xmlns='urn:xmpp:sec-label:0'><label><foo xmlns='urn:x'/></label>"
        "</securitylabel>",
        "<securitylabel xmlns='urn:xmpp:sec-label:0'><label><esssecuritylabel "
        "xmlns='urn:xmpp:sec-label:ess:0'>MQ8CAQEGCisGAQQBho0fAQE=</esssecuritylabel></label>"
        "<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQ8CAQEGCisGAQQBho0fAQE="
        "</esssecuritylabel></label></securitylabel>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct stanza *st = message_with(bad[i]);
        struct label *x = NULL;
        char why[256] = "";
        int rc = label_from_stanza(pol, st->root, &x, why, sizeof why);
        assert_true(rc == ALDIS_EPROTO || rc == ALDIS_EINVAL);
        assert_null(x);
        assert_true(why[0] != '\0');
        stanza_unref(st);
    }
    /* the well-formed one alone is fine */
    struct stanza *st = message_with(
        "<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking>LIES</displaymarking><label>"
        "<esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQ8CAQ\nEGCisGAQQBho0fAQE=</esssecuritylabel>"
        "</label></securitylabel>");
    struct label *x = NULL;
    assert_int_equal(label_from_stanza(pol, st->root, &x, NULL, 0), 0);
    assert_string_equal(label_classification(pol, x), "UNCLASSIFIED");
    label_free(x);
    stanza_unref(st);
}

static void test_equivalentlabel_fallback(void **state)
{
    (void)state;
    /* primary under an unknown policy (1.2.3), equivalent under ours */
    struct stanza *st = message_with(
        "<securitylabel xmlns='urn:xmpp:sec-label:0'>"
        "<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQcCAQEGAioD</esssecuritylabel></label>"
        "<equivalentlabel><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQcCAQEGAioE</esssecuritylabel></equivalentlabel>"
        "<equivalentlabel><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQ8CAQEGCisGAQQBho0fAQE=</esssecuritylabel></equivalentlabel>"
        "</securitylabel>");
    struct label *x = NULL;
    char why[256] = "";
    assert_int_equal(label_from_stanza(pol, st->root, &x, why, sizeof why), 0);
    assert_string_equal(label_classification(pol, x), "UNCLASSIFIED");
    label_free(x);
    stanza_unref(st);
    /* a 4774 primary under an unknown policy, an equivalent we know */
    st = message_with(
        "<securitylabel xmlns='urn:xmpp:sec-label:0'>"
        "<label><ConfidentialityLabel xmlns='" LABEL_4774_NS "'><ConfidentialityInformation>"
        "<PolicyIdentifier URI='urn:oid:1.2.3'>OTHER</PolicyIdentifier><Classification>X"
        "</Classification></ConfidentialityInformation></ConfidentialityLabel></label>"
        "<equivalentlabel><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQ8CAQQGCisGAQQBho0fAQE=</esssecuritylabel></equivalentlabel>"
        "</securitylabel>");
    x = NULL;
    assert_int_equal(label_from_stanza(pol, st->root, &x, why, sizeof why), 0);
    assert_string_equal(label_classification(pol, x), "SECRET");
    label_free(x);
    stanza_unref(st);
    /* a malformed primary is not rescued by an equivalent */
    st = message_with(
        "<securitylabel xmlns='urn:xmpp:sec-label:0'>"
        "<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQA=</esssecuritylabel></label>"
        "<equivalentlabel><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQ8CAQEGCisGAQQBho0fAQE=</esssecuritylabel></equivalentlabel>"
        "</securitylabel>");
    x = NULL;
    assert_true(label_from_stanza(pol, st->root, &x, why, sizeof why) < 0);
    assert_null(x);
    stanza_unref(st);
}

static void test_map_equivalent(void **state)
{
    (void)state;
    char why[256] = "", marking[256];
    struct label *l = label_fixture_make(pol, "SECRET", "Releasable To=GBR,USA,DEU",
                                         "Special Handling=KESTREL");
    struct label *m = NULL;
    assert_int_equal(label_map_equivalent(pol, l, label_policy_id(polb), &m, why, sizeof why), 0);
    assert_string_equal(label_marking(polb, m, marking, sizeof marking, NULL, NULL),
                        "PARTNER SECRET HAWK RELEASABLE TO UK, US");
    /* the mapped label is valid under the partner policy, in both formats */
    struct buf b;
    buf_init(&b);
    assert_int_equal(label_to_4774(polb, m, &b), 0);
    buf_free(&b);
    /* ... and our ESS of it maps back on the way in */
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(label_to_ess_der(pol, m, &der, &len), 0);
    struct label *back = NULL;
    assert_int_equal(label_from_ess_der(pol, der, len, &back, why, sizeof why), 0);
    struct label *expect = label_fixture_make(pol, "SECRET", "Releasable To=GBR,USA",
                                              "Special Handling=KESTREL");
    assert_true(label_equal(back, expect));
    free(der);
    label_free(back);
    label_free(expect);
    label_free(m);
    label_free(l);

    /* mapping never widens access */
    const char *cases[][2] = {
        {"TOP SECRET", NULL},                          /* no equivalent level */
        {"SECRET", "Special Handling=OSPREY"},         /* restrictive without equivalent */
        {"SECRET", "Releasable To=DEU,NLD"},           /* no permissive value survives */
    };
    for (size_t i = 0; i < 3; i++) {
        l = label_fixture_make(pol, cases[i][0], cases[i][1], NULL);
        m = NULL;
        assert_true(label_map_equivalent(pol, l, label_policy_id(polb), &m, why, sizeof why) < 0);
        assert_null(m);
        label_free(l);
    }
    l = sample(0);
    assert_true(label_map_equivalent(pol, l, "1.2.3", &m, why, sizeof why) < 0);
    label_free(l);
}

static void test_catalog(void **state)
{
    (void)state;
    struct clearance *c = label_fixture_clearance(pol, "SECRET;Releasable To=GBR,USA");
    struct buf b;
    buf_init(&b);
    assert_int_equal(label_catalog(pol, c, "alice@example.org", NULL, true, LABEL_FORMAT_ESS, &b),
                     0);
    assert_non_null(strstr(b.data, "selector='Classification|SECRET'"));
    assert_null(strstr(b.data, "TOP SECRET"));
    assert_non_null(strstr(b.data, "selector='Classification|UNCLASSIFIED' default='true'"));
    assert_non_null(strstr(b.data, "selector='Releasable To|SECRET REL GBR, USA'"));
    assert_non_null(strstr(b.data, "selector='Releasable To|SECRET REL NATO'"));
    assert_null(strstr(b.data, "FRA"));
    assert_null(strstr(b.data, "KESTREL"));
    assert_non_null(strstr(b.data, "restrict='true'"));
    /* every item parses and is receivable by the target */
    struct stanza *cat = stanza_parse(b.data, b.len);
    assert_non_null(cat);
    size_t n = 0;
    for (struct xml_node *it = xml_child(cat->root, "item", NULL); it;
         it = xml_next(it, "item", NULL)) {
        struct label *l = NULL;
        char why[256] = "";
        struct xml_node *sl = xml_child(it, "securitylabel", LABEL_NS);
        assert_non_null(sl);
        assert_int_equal(label_from_xep0258(pol, sl, &l, why, sizeof why), 0);
        assert_true(label_decide(pol, c, l, why, sizeof why));
        label_free(l);
        n++;
    }
    char size[32];
    snprintf(size, sizeof size, "%zu", n);
    assert_string_equal(xml_attr(cat->root, "size"), size);
    stanza_unref(cat);
    buf_free(&b);
    clearance_free(c);

    /* an uncleared target is offered the lowest level only */
    buf_init(&b);
    assert_int_equal(label_catalog(pol, NULL, NULL, "SECRET", false, LABEL_FORMAT_4774, &b), 0);
    assert_non_null(strstr(b.data, "size='1'"));
    assert_null(strstr(b.data, "default='true'"));
    buf_free(&b);
}

static void test_clearance_der(void **state)
{
    (void)state;
    char why[256] = "";
    struct clearance *c = label_fixture_clearance(pol, "SECRET;Releasable To=GBR;Special Handling=KEYMAT");
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(clearance__to_der(c, &der, &len), 0);
    struct clearance *back = NULL;
    assert_int_equal(clearance_from_der(pol, der, len, &back, why, sizeof why), 0);
    assert_true(clearance_covers(pol, c, back) && clearance_covers(pol, back, c));
    for (size_t cut = 0; cut < len; cut++) {
        struct clearance *x = NULL;
        assert_true(clearance_from_der(pol, der, cut, &x, why, sizeof why) < 0);
    }
    free(der);
    clearance_free(back);
    clearance_free(c);

    /* classList absent: DEFAULT {unclassified} (RFC 5755) */
    static const unsigned char def[] = {0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
                                        0x01, 0x86, 0x8d, 0x1f, 0x01, 0x01};
    assert_int_equal(clearance_from_der(pol, def, sizeof def, &back, why, sizeof why), 0);
    struct buf b;
    buf_init(&b);
    assert_int_equal(clearance_format(pol, back, &b), 0);
    assert_string_equal(b.data, "UNCLASSIFIED");
    buf_free(&b);
    clearance_free(back);
    /* inside a subjectDirectoryAttributes extension value: SEQUENCE OF
     * Attribute { 2.5.4.55, SET { Clearance } }, after another attribute */
    c = label_fixture_clearance(pol, "CONFIDENTIAL;Releasable To=FRA");
    assert_int_equal(clearance__to_der(c, &der, &len), 0);
    struct buf ext;
    buf_init(&ext);
    static const unsigned char other_attr[] = {0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03,
                                               0x31, 0x03, 0x0c, 0x01, 0x78};
    assert_true(len < 100);
    unsigned char head[] = {0x30, 0, 0x30, 0, 0x06, 0x03, 0x55, 0x04, 0x37, 0x31, 0};
    head[10] = (unsigned char)len;
    head[3] = (unsigned char)(len + 2 + 5);
    head[1] = (unsigned char)(sizeof other_attr + 2 + head[3]);
    buf_add(&ext, head, 2);
    buf_add(&ext, other_attr, sizeof other_attr);
    buf_add(&ext, head + 2, sizeof head - 2);
    buf_add(&ext, der, len);
    back = NULL;
    assert_int_equal(clearance_from_der(pol, (unsigned char *)ext.data, ext.len, &back, why,
                                        sizeof why),
                     0);
    assert_true(clearance_covers(pol, c, back) && clearance_covers(pol, back, c));
    clearance_free(back);
    /* the extension without a clearance attribute */
    unsigned char noclr[2 + sizeof other_attr] = {0x30, (unsigned char)sizeof other_attr};
    memcpy(noclr + 2, other_attr, sizeof other_attr);
    back = NULL;
    assert_true(clearance_from_der(pol, noclr, sizeof noclr, &back, why, sizeof why) < 0);
    assert_null(back);
    buf_free(&ext);
    free(der);
    clearance_free(c);

    /* another policy */
    static const unsigned char other[] = {0x30, 0x04, 0x06, 0x02, 0x2a, 0x03};
    assert_int_equal(clearance_from_der(pol, other, sizeof other, &back, why, sizeof why),
                     ALDIS_EINVAL);
    /* the certificate extension form carries the same clearance */
    unsigned char *xder = NULL;
    size_t extlen = 0;
    struct clearance *c2 = label_fixture_clearance(pol, "SECRET;Releasable To=GBR");
    assert_int_equal(clearance_to_extension_der(c2, &xder, &extlen), 0);
    struct clearance *back2 = NULL;
    assert_int_equal(clearance_from_der(pol, xder, extlen, &back2, why, sizeof why), 0);
    assert_true(clearance_covers(pol, back2, c2) && clearance_covers(pol, c2, back2));
    for (size_t cut = 1; cut < extlen; cut += 3) {
        struct clearance *x = NULL;
        assert_true(clearance_from_der(pol, xder, cut, &x, why, sizeof why) < 0);
        assert_null(x);
    }
    free(xder);
    clearance_free(back2);
    clearance_free(c2);
}

static void test_base64(void **state)
{
    (void)state;
    const char *ok[] = {"", "Zg==", "Zm8=", "Zm9v", " Zm9v\nYmFy "};
    const char *want[] = {"", "f", "fo", "foo", "foobar"};
    for (size_t i = 0; i < 5; i++) {
        unsigned char *out = NULL;
        size_t len = 0;
        assert_int_equal(label__b64_decode(ok[i], strlen(ok[i]), &out, &len), 0);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(out, want[i], len);
        char *enc = label__b64_encode(out, len);
        free(out);
        free(enc);
    }
    const char *bad[] = {"Z", "Zg=", "Zg==Zg==", "Z===", "Zg=a", "Zm9v!"};
    for (size_t i = 0; i < 6; i++) {
        unsigned char *out = NULL;
        size_t len = 0;
        assert_int_not_equal(label__b64_decode(bad[i], strlen(bad[i]), &out, &len), 0);
        assert_null(out);
    }
}

static int setup(void **state)
{
    (void)state;
    pol = label_fixture_a();
    polb = label_fixture_b();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    label_policy_free(pol);
    label_policy_free(polb);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ess_known_vector),
        cmocka_unit_test(test_ess_round_trip),
        cmocka_unit_test(test_ess_malformed),
        cmocka_unit_test(test_4774_round_trip_and_conversion),
        cmocka_unit_test(test_4774_malformed),
        cmocka_unit_test(test_xep0258_round_trip),
        cmocka_unit_test(test_xep0258_malformed),
        cmocka_unit_test(test_equivalentlabel_fallback),
        cmocka_unit_test(test_map_equivalent),
        cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_clearance_der),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

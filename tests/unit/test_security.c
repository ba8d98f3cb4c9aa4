/* test_security.c - src/core/security.c: finding every <securitylabel/> in
 * a stanza (nested in forwarded copies, bounded), the decision over a whole
 * stanza with the shipped example policy, and the audit line format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aldis/buf.h"
#include "aldis/label.h"
#include "aldis/xml.h"
#include "core/security.h"

static struct stanza *parse(const char *xml)
{
    struct stanza *st = stanza_parse(xml, strlen(xml));
    assert_non_null(st);
    return st;
}

#define SL "<securitylabel xmlns='urn:xmpp:sec-label:0'><label/></securitylabel>"

static void test_find_none(void **state)
{
    (void)state;
    const struct xml_node *found[4];
    struct stanza *st = parse("<message to='a@b'><body>hi</body><x xmlns='y'><z/></x></message>");
    assert_int_equal(security_labels_find(st->root, found, 4, 8), 0);
    stanza_unref(st);
}

static void test_find_nested(void **state)
{
    (void)state;
    const struct xml_node *found[4];
    /* A carbon of a MAM result: the label sits three levels down. */
    struct stanza *st = parse(
        "<message><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<message xmlns='jabber:client'><body>x</body>" SL "</message></forwarded></received>"
        SL "</message>");
    assert_int_equal(security_labels_find(st->root, found, 4, 8), 2);
    assert_string_equal(found[0]->name, "securitylabel");
    assert_string_equal(found[0]->parent->name, "message");
    assert_ptr_not_equal(found[0]->parent, st->root);
    assert_ptr_equal(found[1]->parent, st->root);
    stanza_unref(st);
}

static void test_find_wrong_namespace_ignored(void **state)
{
    (void)state;
    const struct xml_node *found[4];
    struct stanza *st = parse("<message><securitylabel xmlns='urn:other'/></message>");
    assert_int_equal(security_labels_find(st->root, found, 4, 8), 0);
    stanza_unref(st);
}

static void test_find_bounds(void **state)
{
    (void)state;
    const struct xml_node *found[2];
    /* more labels than the caller takes: refused, not truncated */
    struct stanza *st = parse("<message>" SL SL SL "</message>");
    assert_int_equal(security_labels_find(st->root, found, 2, 8), -1);
    stanza_unref(st);
    /* deeper than the bound, even without a label there: refused, since
     * a label could hide below */
    st = parse("<message><a><b><c><d/></c></b></a></message>");
    assert_int_equal(security_labels_find(st->root, found, 2, 3), -1);
    assert_int_equal(security_labels_find(st->root, found, 2, 4), 0);
    stanza_unref(st);
}

/* A catalog answer's labels are offers, not labels of content; the same
 * element anywhere else is searched like any other. */
static void test_find_catalog_answer(void **state)
{
    (void)state;
    const struct xml_node *found[4];
    struct stanza *st = parse("<iq type='result' id='c'><catalog xmlns='urn:xmpp:sec-label:catalog:2'>"
                              "<item>" SL "</item><item>" SL "</item><item>" SL "</item>"
                              "</catalog></iq>");
    assert_int_equal(security_labels_find(st->root, found, 2, 8), 0);
    stanza_unref(st);
    st = parse("<message><catalog xmlns='urn:xmpp:sec-label:catalog:2'><item>" SL "</item>"
               "</catalog></message>");
    assert_int_equal(security_labels_find(st->root, found, 4, 8), 1);
    stanza_unref(st);
    st = parse("<iq type='get' id='c'><catalog xmlns='urn:xmpp:sec-label:catalog:2'><item>" SL
               "</item></catalog></iq>");
    assert_int_equal(security_labels_find(st->root, found, 4, 8), 1);
    stanza_unref(st);
}

static void test_audit_format(void **state)
{
    (void)state;
    char line[256];
    size_t n = security_audit_format(line, sizeof line, 0, "deny", SECURITY_PATH_INBOUND,
                                     "a@example.org/res", "b@example.org", "SECRET",
                                     "classification too low");
    assert_string_equal(line, "1970-01-01T00:00:00Z deny path=inbound from=a@example.org/res "
                              "to=b@example.org label=SECRET reason=classification too low");
    assert_int_equal(n, strlen(line));
    /* hostile values cannot forge a second line or a field */
    security_audit_format(line, sizeof line, 0, "deny", SECURITY_PATH_ARCHIVE, "x\ny z", NULL,
                          "TOP SECRET", "bad\r\nlabel");
    assert_null(strchr(line, '\n'));
    assert_null(strchr(line, '\r'));
    assert_non_null(strstr(line, "from=x_y_z to=- label=TOP_SECRET reason=bad__label"));
    /* truncation keeps the string terminated */
    n = security_audit_format(line, 30, 0, "deny", SECURITY_PATH_SEND, "a", "b", "c", "d");
    assert_true(n < 30);
    assert_int_equal(strlen(line), n);
}

/* ---- decisions with the example policy ------------------------------------ */

struct fixture {
    struct label_policy *p;
    struct label *dflt;
};

static int policy_setup(void **state)
{
    static struct fixture fx;
    char path[4096], why[256] = "";
    /* the policy shipped in the source tree, found from this file's path */
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    if (!slash)
        return -1;
    snprintf(slash, sizeof path - (size_t)(slash - path), "/../../policies/aldis-example-policy.xml");
    if (label_policy_load(path, &fx.p, why, sizeof why) != 0) {
        fprintf(stderr, "cannot load %s: %s\n", path, why);
        return -1;
    }
    if (label_default(fx.p, NULL, &fx.dflt) != 0)
        return -1;
    *state = &fx;
    return 0;
}

static int policy_teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx)
        return 0;
    label_free(fx->dflt);
    label_policy_free(fx->p);
    return 0;
}

/* A message carrying `cls` as an ESS label, wrapped `wrap` times in a
 * forwarded copy (as MAM and carbons do). */
static struct stanza *labelled(const struct label_policy *p, const char *cls, int wrap)
{
    struct label *l = NULL;
    struct buf sl, xml;
    char why[256];
    buf_init(&sl);
    buf_init(&xml);
    assert_int_equal(label_make(p, cls, NULL, 0, &l, why, sizeof why), 0);
    assert_int_equal(label_to_xep0258(p, l, LABEL_FORMAT_ESS, &sl), 0);
    for (int i = 0; i < wrap; i++)
        buf_adds(&xml, "<message><result xmlns='urn:xmpp:mam:2'><forwarded "
                       "xmlns='urn:xmpp:forward:0'>");
    buf_printf(&xml, "<message xmlns='jabber:client'><body>text</body>%s</message>",
               buf_cstr(&sl));
    for (int i = 0; i < wrap; i++)
        buf_adds(&xml, "</forwarded></result></message>");
    struct stanza *st = parse(buf_cstr(&xml));
    label_free(l);
    buf_free(&sl);
    buf_free(&xml);
    return st;
}

static enum security_verdict decide(struct fixture *fx, const char *clearance,
                                    const struct stanza *st, char *label, size_t size)
{
    struct clearance *c = NULL;
    char why[256];
    assert_int_equal(clearance_parse(fx->p, clearance, &c, why, sizeof why), 0);
    enum security_verdict v =
        security_decide(fx->p, fx->dflt, true, c, st->root, label, size, why, sizeof why);
    if (v != SECURITY_PERMIT)
        assert_true(why[0] != '\0'); /* a deny always says why */
    clearance_free(c);
    return v;
}

static void test_decide_levels(void **state)
{
    struct fixture *fx = *state;
    char label[64];
    struct stanza *secret = labelled(fx->p, "SECRET", 0);
    assert_int_equal(decide(fx, "SECRET", secret, label, sizeof label), SECURITY_PERMIT);
    assert_int_equal(decide(fx, "TOP SECRET", secret, label, sizeof label), SECURITY_PERMIT);
    assert_int_equal(decide(fx, "CONFIDENTIAL", secret, label, sizeof label), SECURITY_DENY);
    assert_string_equal(label, "SECRET");
    stanza_unref(secret);
}

static void test_decide_nested(void **state)
{
    struct fixture *fx = *state;
    char label[64];
    /* a SECRET message inside two forwarded wrappers is still SECRET */
    struct stanza *st = labelled(fx->p, "SECRET", 2);
    assert_int_equal(decide(fx, "UNCLASSIFIED", st, label, sizeof label), SECURITY_DENY);
    assert_int_equal(decide(fx, "SECRET", st, label, sizeof label), SECURITY_PERMIT);
    stanza_unref(st);
}

static void test_decide_unlabelled_and_malformed(void **state)
{
    struct fixture *fx = *state;
    char label[64], why[128];
    struct stanza *plain = parse("<message><body>hello</body></message>");
    assert_int_equal(decide(fx, "UNCLASSIFIED", plain, label, sizeof label), SECURITY_PERMIT);
    /* the default label is checked when it is not the floor */
    struct clearance *c = NULL;
    struct label *secret = NULL;
    assert_int_equal(clearance_parse(fx->p, "UNCLASSIFIED", &c, why, sizeof why), 0);
    assert_int_equal(label_make(fx->p, "SECRET", NULL, 0, &secret, why, sizeof why), 0);
    assert_int_equal(security_decide(fx->p, secret, false, c, plain->root, label, sizeof label,
                                     why, sizeof why),
                     SECURITY_DENY);
    label_free(secret);
    clearance_free(c);
    stanza_unref(plain);

    struct stanza *bad = parse("<message><body>x</body><securitylabel xmlns='urn:xmpp:sec-label:0'>"
                               "<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>!!notb64"
                               "</esssecuritylabel></label></securitylabel></message>");
    assert_int_equal(decide(fx, "TOP SECRET", bad, label, sizeof label), SECURITY_MALFORMED);
    stanza_unref(bad);
    struct stanza *empty = parse("<message>" SL "</message>");
    assert_int_equal(decide(fx, "TOP SECRET", empty, label, sizeof label), SECURITY_MALFORMED);
    stanza_unref(empty);
}

/* One labelled and one unlabelled stanza inside: every label must pass. */
static void test_decide_every_label(void **state)
{
    struct fixture *fx = *state;
    char label[64];
    struct stanza *low = labelled(fx->p, "UNCLASSIFIED", 0);
    struct stanza *high = labelled(fx->p, "SECRET", 1);
    struct stanza *both = stanza_copy(low);
    xml_copy_into(both, both->root, high->root);
    assert_int_equal(decide(fx, "CONFIDENTIAL", both, label, sizeof label), SECURITY_DENY);
    assert_int_equal(decide(fx, "SECRET", both, label, sizeof label), SECURITY_PERMIT);
    stanza_unref(low);
    stanza_unref(high);
    stanza_unref(both);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_find_none),
        cmocka_unit_test(test_find_nested),
        cmocka_unit_test(test_find_wrong_namespace_ignored),
        cmocka_unit_test(test_find_bounds),
        cmocka_unit_test(test_find_catalog_answer),
        cmocka_unit_test(test_audit_format),
    };
    const struct CMUnitTest policy[] = {
        cmocka_unit_test(test_decide_levels),
        cmocka_unit_test(test_decide_nested),
        cmocka_unit_test(test_decide_unlabelled_and_malformed),
        cmocka_unit_test(test_decide_every_label),
    };
    int failed = cmocka_run_group_tests_name("security (pure)", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("security (example policy)", policy, policy_setup,
                                          policy_teardown);
    return failed;
}

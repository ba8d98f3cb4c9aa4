/* test_pep.c - the pure parts of PEP: the XEP-0115 §5 verification string
 * (the two worked examples of §5.2 and §5.3, and the §5.4 rejections), the
 * node configuration round trip through its stored form, publish-options
 * matching, a service node's affiliations and subscriptions through the
 * same stored text, and the SQLite PubSub tables through the
 * backend_pubsub_* API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/xml.h"
#include "modules/pep.h"
#include "store/backend.h"
#include "store/backend_pubsub.h"

static char *hash_of(const char *xml, const char *algo)
{
    struct stanza *st = stanza_parse(xml, strlen(xml));
    assert_non_null(st);
    char *h = pep_caps_hash(st->root, algo);
    stanza_unref(st);
    return h;
}

/* XEP-0115 §5.2 */
static void test_caps_simple(void **state)
{
    (void)state;
    char *h = hash_of("<query xmlns='http://jabber.org/protocol/disco#info'>"
                      "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
                      "<feature var='http://jabber.org/protocol/caps'/>"
                      "<feature var='http://jabber.org/protocol/disco#info'/>"
                      "<feature var='http://jabber.org/protocol/disco#items'/>"
                      "<feature var='http://jabber.org/protocol/muc'/>"
                      "</query>",
                      "sha-1");
    assert_non_null(h);
    assert_string_equal(h, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    free(h);
}

/* XEP-0115 §5.3: two identities in different languages, an extended form
 * with a multi-valued field; input order shuffled. */
static void test_caps_complex(void **state)
{
    (void)state;
    char *h = hash_of(
        "<query xmlns='http://jabber.org/protocol/disco#info'>"
        "<feature var='http://jabber.org/protocol/muc'/>"
        "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>"
        "<identity xml:lang='el' category='client' name='\xce\xa8 0.11' type='pc'/>"
        "<feature var='http://jabber.org/protocol/caps'/>"
        "<feature var='http://jabber.org/protocol/disco#info'/>"
        "<feature var='http://jabber.org/protocol/disco#items'/>"
        "<x xmlns='jabber:x:data' type='result'>"
        "<field var='os_version'><value>10.5.1</value></field>"
        "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>"
        "<field var='ip_version'><value>ipv6</value><value>ipv4</value></field>"
        "<field var='os'><value>Mac</value></field>"
        "<field var='software'><value>Psi</value></field>"
        "<field var='software_version'><value>0.11</value></field>"
        "</x></query>",
        "sha-1");
    assert_non_null(h);
    assert_string_equal(h, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    free(h);
}

/* A feature that is a prefix of another ("shim" and "shim#SubID") sorts
 * first: the order is of the strings, not of "string<" (the caps of
 * slixmpp 1.8 with avatar interest, as it computes them itself). */
static void test_caps_prefix_order(void **state)
{
    (void)state;
    char *h = hash_of("<query xmlns='http://jabber.org/protocol/disco#info'>"
                      "<identity category='client' type='bot'/>"
                      "<feature var='http://jabber.org/protocol/disco#info'/>"
                      "<feature var='jabber:x:data'/>"
                      "<feature var='http://jabber.org/protocol/shim'/>"
                      "<feature var='http://jabber.org/protocol/shim#SubID'/>"
                      "<feature var='http://jabber.org/protocol/caps'/>"
                      "<feature var='urn:xmpp:avatar:metadata+notify'/>"
                      "<feature var='urn:xmpp:avatar:metadata'/>"
                      "</query>",
                      "sha-1");
    assert_non_null(h);
    assert_string_equal(h, "PGeErA7aNdWzc6+apAtUtIEtaL0=");
    free(h);
}

/* §5.4: duplicate features are ill-formed; unknown hashes unsupported. */
static void test_caps_rejects(void **state)
{
    (void)state;
    assert_null(hash_of("<query xmlns='http://jabber.org/protocol/disco#info'>"
                        "<feature var='a'/><feature var='a'/></query>",
                        "sha-1"));
    assert_null(hash_of("<query xmlns='http://jabber.org/protocol/disco#info'>"
                        "<identity category='c' type='t'/><identity category='c' type='t'/>"
                        "</query>",
                        "sha-1"));
    assert_null(hash_of("<query xmlns='http://jabber.org/protocol/disco#info'/>", "md5"));
    char *h = hash_of("<query xmlns='http://jabber.org/protocol/disco#info'/>", "sha-256");
    assert_non_null(h);
    free(h);
}

static void test_config_roundtrip(void **state)
{
    (void)state;
    struct pep_config cfg, back;
    pep_config_default(&cfg);
    const char *access = "roster";
    const char *groups[] = {"Friends", "Line\nbreak\\slash"};
    const char *max = "max";
    const char *title = "My title";
    assert_int_equal(pep_config_set(&cfg, "pubsub#access_model", &access, 1), 0);
    assert_int_equal(pep_config_set(&cfg, "pubsub#roster_groups_allowed", groups, 2), 0);
    assert_int_equal(pep_config_set(&cfg, "pubsub#max_items", &max, 1), 0);
    assert_int_equal(pep_config_set(&cfg, "pubsub#title", &title, 1), 0);
    const char *bad = "sometimes";
    assert_int_equal(pep_config_set(&cfg, "pubsub#persist_items", &bad, 1), ALDIS_EINVAL);
    assert_int_equal(pep_config_set(&cfg, "pubsub#unknown", &bad, 1), ALDIS_ENOTFOUND);

    char *text = pep_config_serialize(&cfg);
    pep_config_parse(&back, text);
    free(text);
    assert_int_equal(back.access, PEP_ACCESS_ROSTER);
    assert_int_equal(back.max_items, -1);
    assert_int_equal(pep_config_max(&back), pep_opt_max_items);
    assert_string_equal(back.title, "My title");
    assert_int_equal(back.ngroups, 2);
    assert_string_equal(back.groups[1], "Line\nbreak\\slash");

    /* publish-options preconditions compare values, not spellings */
    const char *one = "1", *t = "true", *f = "false", *wl = "whitelist";
    assert_true(pep_config_matches(&back, "pubsub#persist_items", &one, 1));
    assert_true(pep_config_matches(&back, "pubsub#persist_items", &t, 1));
    assert_false(pep_config_matches(&back, "pubsub#persist_items", &f, 1));
    assert_true(pep_config_matches(&back, "pubsub#max_items", &max, 1));
    assert_false(pep_config_matches(&back, "pubsub#access_model", &wl, 1));
    assert_false(pep_config_matches(&back, "pubsub#whatever", &one, 1));
    pep_config_clear(&cfg);
    pep_config_clear(&back);
}

/* A service node keeps affiliations, subscriptions and its creation in
 * extra lines of the stored config, which the config parser skips. */
static void test_node_acl_roundtrip(void **state)
{
    (void)state;
    struct pep_node *node = calloc(1, sizeof *node);
    assert_non_null(node);
    node->name = strdup("news");
    pep_config_default(&node->cfg);
    const char *model = "subscribers";
    assert_int_equal(pep_config_set(&node->cfg, "pubsub#publish_model", &model, 1), 0);
    const char *badmodel = "anyone";
    assert_int_equal(pep_config_set(&node->cfg, "pubsub#publish_model", &badmodel, 1),
                     ALDIS_EINVAL);
    assert_int_equal(pep_node_affiliation_set(node, "a@x", PEP_AFF_OWNER, 4), 0);
    assert_int_equal(pep_node_affiliation_set(node, "b@x", PEP_AFF_PUBLISHER, 4), 0);
    assert_int_equal(pep_node_affiliation_set(node, "c@x", PEP_AFF_OUTCAST, 4), 0);
    assert_int_equal(pep_node_affiliation_set(node, "d@x", PEP_AFF_MEMBER, 4), 0);
    assert_int_equal(pep_node_affiliation_set(node, "e@x", PEP_AFF_MEMBER, 4), ALDIS_ELIMIT);
    assert_int_equal(pep_node_affiliation_set(node, "d@x", PEP_AFF_NONE, 4), 0);
    assert_int_equal(pep_node_affiliation(node, "d@x"), PEP_AFF_NONE);
    assert_int_equal(pep_node_owner_count(node), 1);
    struct pep_sub *s1 = pep_node_sub_add(node, "b@x/phone", 2);
    assert_non_null(s1);
    char subid[64];
    snprintf(subid, sizeof subid, "%s", s1->subid);
    assert_non_null(pep_node_sub_add(node, "f@x", 2));
    assert_null(pep_node_sub_add(node, "g@x", 2));
    node->creator = strdup("a@x");
    node->created = 1700000000;

    char *text = pep_node_serialize(node);
    struct pep_node *back = calloc(1, sizeof *back);
    assert_non_null(back);
    back->name = strdup("news");
    pep_config_parse(&back->cfg, text);
    pep_node_parse_extra(back, text);
    free(text);
    assert_int_equal(back->cfg.publish_model, PEP_PUBLISH_SUBSCRIBERS);
    assert_int_equal(back->naffs, 3);
    assert_int_equal(pep_node_affiliation(back, "a@x"), PEP_AFF_OWNER);
    assert_int_equal(pep_node_affiliation(back, "b@x"), PEP_AFF_PUBLISHER);
    assert_int_equal(pep_node_affiliation(back, "c@x"), PEP_AFF_OUTCAST);
    assert_int_equal(back->nsubs, 2);
    struct pep_sub *s = pep_node_sub_find(back, "b@x/phone");
    assert_non_null(s);
    assert_string_equal(s->subid, subid);
    assert_string_equal(back->creator, "a@x");
    assert_true(back->created == 1700000000);
    pep_node_sub_remove(back, s);
    assert_null(pep_node_sub_find(back, "b@x/phone"));
    assert_non_null(pep_node_sub_find(back, "f@x"));

    /* damaged lines are skipped */
    pep_node_parse_extra(back, "x-aff=king z@x\nx-sub=nospace\nx-aff=owner\n");
    assert_int_equal(back->naffs, 3);
    assert_int_equal(back->nsubs, 1);
    enum pep_affiliation aff;
    assert_int_equal(pep_affiliation_parse("publisher", &aff), 0);
    assert_int_equal(aff, PEP_AFF_PUBLISHER);
    assert_int_equal(pep_affiliation_parse("boss", &aff), ALDIS_EINVAL);
    pep_node_free(node);
    pep_node_free(back);
}

/* ---- SQLite PubSub tables ------------------------------------------------- */

struct db {
    char dir[256];
    char path[300];
    struct store_backend *b;
};

static int db_setup(void **state)
{
    struct db *d = calloc(1, sizeof *d);
    char err[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/aldis-test-pep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->dir))
        return -1;
    snprintf(d->path, sizeof d->path, "%s/aldis.db", d->dir);
    d->b = sqlite_backend_open(d->path, err, sizeof err);
    if (!d->b)
        return -1;
    *state = d;
    return 0;
}

static int db_teardown(void **state)
{
    struct db *d = *state;
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char p[320];
    backend_close(d->b);
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", d->path, suffixes[i]);
        unlink(p);
    }
    rmdir(d->dir);
    free(d);
    return 0;
}

static const char *const SVC = "alice@example.org";

static void item_put(struct store_backend *b, const char *node, const char *id, const char *xml,
                     int64_t max)
{
    assert_int_equal(backend_pubsub_item_put(b, SVC, node, id, xml, strlen(xml), "alice@example.org/r",
                                             max),
                     0);
}

/* XEP-0314: a label given in <publish/> stays with its item through the
 * stored form (<stored><payload/><securitylabel/></stored>). */
static struct stanza *parse(const char *xml)
{
    return stanza_parse(xml, strlen(xml));
}

static void test_labelled_item_roundtrip(void **state)
{
    (void)state;
    struct stanza *pub = parse(
        "<publish xmlns='http://jabber.org/protocol/pubsub' node='n'><item id='i'>"
        "<entry xmlns='urn:example:e'><title>t</title></entry></item>"
        "<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking>SECRET</displaymarking>"
        "<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQYCAQQGASk=</esssecuritylabel>"
        "</label></securitylabel></publish>");
    assert_non_null(pub);
    struct pep_publish taken;
    const char *type, *cond, *app = NULL;
    assert_int_equal(pep_publish_take(pub->root, &taken, &type, &cond, &app), 0);
    struct stanza *payload = taken.payload, *label = taken.label;
    assert_non_null(payload);
    assert_non_null(label);
    assert_string_equal(taken.id, "i");
    assert_string_equal(payload->root->name, "entry");
    struct xml_node *sl = xml_first_elem(label->root);
    assert_non_null(sl);
    assert_string_equal(sl->name, "securitylabel");
    /* the stored form, as pep_store_item writes it, loads back the same */
    struct buf b;
    buf_init(&b);
    buf_adds(&b, "<stored xmlns='" NS_PEP_STORED "'>");
    xml_serialize(payload->root, NS_PEP_STORED, &b);
    xml_serialize(sl, NS_PEP_STORED, &b);
    buf_adds(&b, "</stored>");
    struct pubsub_item_rec rec = {.id = (char *)"i", .xml = b.data, .len = b.len};
    struct pubsub_node_rec node = {.node = (char *)"n", .config = (char *)"", .items = &rec,
                                   .nitems = 1};
    struct pep_state *ps = pep_state_from_records(&node, 1, "test");
    assert_int_equal(ps->nnodes, 1);
    assert_int_equal(ps->nodes[0]->nitems, 1);
    const struct pep_item *it = &ps->nodes[0]->items[0];
    assert_non_null(it->payload);
    assert_string_equal(it->payload->root->name, "entry");
    assert_non_null(it->label);
    assert_string_equal(xml_first_elem(it->label->root)->name, "securitylabel");
    pep_state_free(ps);
    buf_free(&b);
    /* two labels in one publish: refused */
    struct stanza *two = parse(
        "<publish xmlns='http://jabber.org/protocol/pubsub' node='n'><item><e xmlns='urn:x'/></item>"
        "<securitylabel xmlns='urn:xmpp:sec-label:0'/><securitylabel xmlns='urn:xmpp:sec-label:0'/>"
        "</publish>");
    struct pep_publish refused;
    assert_int_equal(pep_publish_take(two->root, &refused, &type, &cond, &app), -1);
    assert_null(refused.payload);
    assert_null(refused.label);
    /* no item, two items, no payload: the XEP-0060 §7.1.3 conditions */
    struct stanza *bad = parse("<publish xmlns='http://jabber.org/protocol/pubsub' node='n'/>");
    assert_int_equal(pep_publish_take(bad->root, &refused, &type, &cond, &app), -1);
    assert_string_equal(app, "item-required");
    stanza_unref(bad);
    bad = parse("<publish xmlns='http://jabber.org/protocol/pubsub' node='n'><item/><item/>"
                "</publish>");
    assert_int_equal(pep_publish_take(bad->root, &refused, &type, &cond, &app), -1);
    assert_string_equal(app, "invalid-payload");
    stanza_unref(bad);
    bad = parse("<publish xmlns='http://jabber.org/protocol/pubsub' node='n'><item/></publish>");
    assert_int_equal(pep_publish_take(bad->root, &refused, &type, &cond, &app), -1);
    assert_string_equal(app, "payload-required");
    stanza_unref(bad);
    stanza_unref(two);
    pep_publish_drop(&taken);
    stanza_unref(pub);
}

static void test_store_items(void **state)
{
    struct db *d = *state;
    struct store_backend *b = d->b;
    struct pubsub_node_rec *nodes;
    size_t n;

    /* items need their node */
    assert_int_equal(backend_pubsub_item_put(b, SVC, "n1", "x", "<a/>", 4, NULL, 0),
                     ALDIS_ENOTFOUND);
    assert_int_equal(backend_pubsub_node_put(b, SVC, "n1", "cfg1"), 0);
    assert_int_equal(backend_pubsub_node_put(b, SVC, "n2", "cfg2"), 0);
    assert_int_equal(backend_pubsub_node_put(b, SVC, "n1", "cfg1b"), 0); /* replace */
    item_put(b, "n1", "a", "<a xmlns='x'/>", 3);
    item_put(b, "n1", "b", "<b xmlns='x'/>", 3);
    item_put(b, "n1", "c", "<c xmlns='x'/>", 3);
    item_put(b, "n1", "a", "<a2 xmlns='x'/>", 3); /* republished: newest */
    item_put(b, "n1", "d", "<d xmlns='x'/>", 3);  /* b is the oldest now: trimmed */
    item_put(b, "n2", "z", "", 0);

    assert_int_equal(backend_pubsub_load(b, SVC, &nodes, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(nodes[0].node, "n1");
    assert_string_equal(nodes[0].config, "cfg1b");
    assert_int_equal(nodes[0].nitems, 3);
    assert_string_equal(nodes[0].items[0].id, "c");
    assert_string_equal(nodes[0].items[1].id, "a");
    assert_string_equal(nodes[0].items[1].xml, "<a2 xmlns='x'/>");
    assert_string_equal(nodes[0].items[2].id, "d");
    assert_string_equal(nodes[0].items[2].publisher, "alice@example.org/r");
    assert_int_equal(nodes[1].nitems, 1);
    assert_int_equal(nodes[1].items[0].len, 0);
    backend_pubsub_nodes_free(nodes, n);

    assert_int_equal(backend_pubsub_item_del(b, SVC, "n1", "a"), 0);
    assert_int_equal(backend_pubsub_item_del(b, SVC, "n1", "a"), ALDIS_ENOTFOUND);
    assert_int_equal(backend_pubsub_purge(b, SVC, "n2"), 0);
    assert_int_equal(backend_pubsub_node_del(b, SVC, "n1"), 0);
    assert_int_equal(backend_pubsub_node_del(b, SVC, "n1"), ALDIS_ENOTFOUND);
    assert_int_equal(backend_pubsub_load(b, SVC, &nodes, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(nodes[0].node, "n2");
    assert_int_equal(nodes[0].nitems, 0);
    backend_pubsub_nodes_free(nodes, n);

    /* another service is separate; deleting the account clears its own */
    assert_int_equal(backend_pubsub_load(b, "bob@example.org", &nodes, &n), 0);
    assert_int_equal(n, 0);
    struct scram_keys k;
    assert_int_equal(scram_keys_derive("pw", 4096, &k), 0);
    assert_int_equal(backend_user_put(b, "example.org", "alice", &k, BACKEND_PUT_CREATE), 0);
    assert_int_equal(backend_user_del(b, "example.org", "alice"), 0);
    assert_int_equal(backend_pubsub_load(b, SVC, &nodes, &n), 0);
    assert_int_equal(n, 0);
}

int main(void)
{
    log_threshold = LOG_WARN;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps_simple),
        cmocka_unit_test(test_caps_complex),
        cmocka_unit_test(test_caps_prefix_order),
        cmocka_unit_test(test_caps_rejects),
        cmocka_unit_test(test_config_roundtrip),
        cmocka_unit_test(test_node_acl_roundtrip),
        cmocka_unit_test(test_labelled_item_roundtrip),
        cmocka_unit_test_setup_teardown(test_store_items, db_setup, db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

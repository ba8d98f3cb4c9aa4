/* test_xml_tree.c - stanza trees (src/xml/stanza.c): building, attributes,
 * lookups, text, copy and removal, the serialiser (namespaces written only
 * where they change, escaping, empty elements, namespaced attributes),
 * stanza_parse round trips, RFC 6120 §8.3 error replies, IQ results, and
 * the reference-count / freeze rules of xml.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aldis/xml.h"

/* Serialise with the root's xmlns written (storage form); caller frees. */
static char *str(const struct stanza *st)
{
    return stanza_to_string(st, NULL);
}

#define assert_xml(st, expected)                                               \
    do {                                                                       \
        char *s_ = str(st);                                                    \
        assert_string_equal(s_, expected);                                     \
        free(s_);                                                              \
    } while (0)

static void test_build(void **state)
{
    (void)state;
    struct stanza *st = stanza_new("iq", NULL);
    assert_string_equal(stanza_name(st), "iq");
    assert_string_equal(st->root->ns, NS_CLIENT); /* NULL = jabber:client */
    assert_null(st->root->parent);
    xml_set_attr(st, st->root, "type", "get");
    xml_set_attr(st, st->root, "id", "q1");
    struct xml_node *q = xml_add_child(st, st->root, "query", "jabber:iq:roster");
    struct xml_node *item = xml_add_child(st, q, "item", NULL); /* inherits */
    assert_string_equal(item->ns, "jabber:iq:roster");
    assert_ptr_equal(item->parent, q);
    assert_ptr_equal(q->children, item);
    assert_ptr_equal(q->last, item);
    xml_set_attr(st, item, "jid", "juliet@example.com");
    assert_string_equal(stanza_type(st), "get");
    assert_string_equal(stanza_id(st), "q1");
    assert_null(stanza_to(st));
    assert_null(stanza_from(st));
    /* the wire form (inside a jabber:client stream) omits the root xmlns */
    size_t len;
    const char *w = stanza_wire(st, &len);
    assert_string_equal(w, "<iq type='get' id='q1'><query xmlns='jabber:iq:roster'>"
                           "<item jid='juliet@example.com'/></query></iq>");
    assert_int_equal(len, strlen(w));
    stanza_unref(st);

    /* another root namespace */
    st = stanza_new("starttls", NS_TLS);
    assert_xml(st, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_string_equal(stanza_wire(st, NULL), "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    stanza_unref(st);
}

static void test_attrs(void **state)
{
    (void)state;
    struct stanza *st = stanza_new("message", NULL);
    struct xml_node *r = st->root;
    xml_set_attr(st, r, "to", "a@b");
    xml_set_attr(st, r, "type", "chat");
    xml_set_attr(st, r, "id", "1");
    /* replace keeps the position and a single attribute */
    xml_set_attr(st, r, "type", "normal");
    assert_string_equal(xml_attr(r, "type"), "normal");
    assert_xml(st, "<message xmlns='jabber:client' to='a@b' type='normal' id='1'/>");
    /* remove first, middle, last and an absent one */
    xml_set_attr(st, r, "type", NULL);
    assert_null(xml_attr(r, "type"));
    xml_set_attr(st, r, "nope", NULL);
    assert_xml(st, "<message xmlns='jabber:client' to='a@b' id='1'/>");
    xml_set_attr(st, r, "to", NULL);
    xml_set_attr(st, r, "id", NULL);
    assert_null(r->attrs);
    assert_xml(st, "<message xmlns='jabber:client'/>");

    /* value is copied */
    char v[8] = "en";
    xml_set_attr_ns(st, r, NS_XML, "lang", v);
    v[0] = 'd';
    assert_string_equal(xml_attr_ns(r, NS_XML, "lang"), "en");
    /* xml:lang and an unqualified "lang" are different attributes */
    assert_null(xml_attr(r, "lang"));
    xml_set_attr(st, r, "lang", "plain");
    assert_string_equal(xml_attr(r, "lang"), "plain");
    assert_string_equal(xml_attr_ns(r, NS_XML, "lang"), "en");
    xml_set_attr_ns(st, r, NS_XML, "lang", "fr");
    assert_string_equal(xml_attr_ns(r, NS_XML, "lang"), "fr");
    assert_null(xml_attr_ns(r, "urn:other", "lang"));
    assert_xml(st, "<message xmlns='jabber:client' xml:lang='fr' lang='plain'/>");
    xml_set_attr_ns(st, r, NS_XML, "lang", NULL);
    assert_null(xml_attr_ns(r, NS_XML, "lang"));
    assert_string_equal(xml_attr(r, "lang"), "plain");

    /* attributes in another namespace get a prefix declared on the element */
    struct xml_node *c = xml_add_child(st, r, "x", "urn:x");
    xml_set_attr_ns(st, c, "urn:attr", "mark", "a&b");
    xml_set_attr_ns(st, c, "urn:attr2", "other", "v");
    assert_xml(st, "<message xmlns='jabber:client' lang='plain'><x xmlns='urn:x'"
                   " xmlns:a0='urn:attr' a0:mark='a&amp;b' xmlns:a1='urn:attr2' a1:other='v'/>"
                   "</message>");
    stanza_unref(st);
}

static void test_children_text(void **state)
{
    (void)state;
    struct stanza *st = stanza_new("message", NULL);
    struct xml_node *r = st->root;
    assert_null(xml_first_elem(r));
    assert_null(xml_child(NULL, NULL, NULL));
    xml_add_text(st, r, "  ", 2); /* text first: xml_first_elem skips it */
    struct xml_node *body = xml_add_child(st, r, "body", NULL);
    struct xml_node *x1 = xml_add_child(st, r, "x", "urn:a");
    struct xml_node *x2 = xml_add_child(st, r, "x", "urn:b");
    struct xml_node *x3 = xml_add_child(st, r, "x", "urn:a");
    assert_ptr_equal(xml_first_elem(r), body);
    assert_ptr_equal(xml_child(r, "body", NULL), body);
    assert_ptr_equal(xml_child(r, "body", NS_CLIENT), body);
    assert_null(xml_child(r, "body", "urn:a"));
    assert_ptr_equal(xml_child(r, "x", NULL), x1);
    assert_ptr_equal(xml_child(r, "x", "urn:b"), x2);
    assert_ptr_equal(xml_child(r, NULL, "urn:b"), x2);
    assert_null(xml_child(r, "y", NULL));
    assert_ptr_equal(xml_next(x1, "x", "urn:a"), x3);
    assert_ptr_equal(xml_next(x1, "x", NULL), x2);
    assert_null(xml_next(x3, NULL, NULL));
    assert_null(xml_next(NULL, NULL, NULL));
    assert_true(xml_is(x2, "x", "urn:b"));
    assert_true(xml_is(x2, NULL, NULL));
    assert_false(xml_is(x2, "x", "urn:a"));
    assert_false(xml_is(NULL, NULL, NULL));
    assert_false(xml_is(r->children, NULL, NULL)); /* a text node */

    /* text: direct text children concatenated, child elements ignored */
    xml_add_text(st, body, "Hello, ", 7);
    struct xml_node *em = xml_add_child(st, body, "em", "urn:html");
    xml_add_text(st, em, "not me", 6);
    xml_add_text(st, body, "world<&>", 8);
    assert_string_equal(xml_text(st, body), "Hello, world<&>");
    assert_string_equal(xml_text(st, x1), ""); /* never NULL */
    assert_string_equal(xml_text(st, NULL), "");
    char *m = (char *)xml_text(NULL, body); /* malloc'd when st is NULL */
    assert_string_equal(m, "Hello, world<&>");
    free(m);
    /* a length shorter than the string copies only len bytes */
    xml_add_text(st, x3, "abcdef", 3);
    assert_string_equal(xml_text(st, x3), "abc");
    stanza_unref(st);
}

static void test_copy_remove(void **state)
{
    (void)state;
    struct stanza *a = stanza_new("message", NULL);
    xml_set_attr(a, a->root, "to", "x@y");
    struct xml_node *body = xml_add_child(a, a->root, "body", NULL);
    xml_add_text(a, body, "hi", 2);
    struct xml_node *x = xml_add_child(a, a->root, "x", "urn:x");
    xml_set_attr_ns(a, x, NS_XML, "lang", "en");

    /* deep copy into another stanza */
    struct stanza *b = stanza_new("forwarded", "urn:xmpp:forward:0");
    struct xml_node *cp = xml_copy_into(b, b->root, a->root);
    assert_ptr_equal(cp->parent, b->root);
    assert_ptr_not_equal(cp, a->root);
    assert_xml(b, "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' to='x@y'>"
                  "<body>hi</body><x xmlns='urn:x' xml:lang='en'/></message></forwarded>");
    /* the copy is independent of the original */
    xml_set_attr(a, a->root, "to", "changed");
    xml_add_text(a, body, "!", 1);
    assert_string_equal(xml_attr(cp, "to"), "x@y");
    assert_string_equal(xml_text(b, xml_child(cp, "body", NULL)), "hi");
    stanza_unref(b);

    /* stanza_copy: whole stanza, mutable, refs 1 */
    struct stanza *c = stanza_copy(a);
    assert_int_equal(atomic_load(&c->refs), 1);
    assert_false(c->frozen);
    char *sa = str(a), *sc = str(c);
    assert_string_equal(sa, sc);
    free(sa), free(sc);

    /* remove: middle, first, last, only; then an unlinked node again */
    struct xml_node *r = c->root;
    struct xml_node *n1 = xml_add_child(c, r, "n1", NULL);
    struct xml_node *n2 = xml_add_child(c, r, "n2", NULL);
    xml_remove(n1); /* middle */
    assert_null(n1->parent);
    assert_null(n1->next);
    assert_xml(c, "<message xmlns='jabber:client' to='changed'><body>hi!</body>"
                  "<x xmlns='urn:x' xml:lang='en'/><n2/></message>");
    xml_remove(n2); /* last: last pointer moves back */
    struct xml_node *cx = xml_child(r, "x", NULL);
    assert_ptr_equal(r->last, cx);
    xml_add_child(c, r, "n3", NULL); /* appending after removing the last works */
    assert_xml(c, "<message xmlns='jabber:client' to='changed'><body>hi!</body>"
                  "<x xmlns='urn:x' xml:lang='en'/><n3/></message>");
    xml_remove(xml_child(r, "body", NULL)); /* first */
    xml_remove(cx);
    xml_remove(xml_child(r, "n3", NULL));
    assert_null(r->children);
    assert_null(r->last);
    assert_xml(c, "<message xmlns='jabber:client' to='changed'/>");
    xml_remove(n1);      /* already unlinked: no-op */
    xml_remove(c->root); /* the root has no parent: no-op */
    xml_add_child(c, r, "again", NULL);
    assert_xml(c, "<message xmlns='jabber:client' to='changed'><again/></message>");
    stanza_unref(c);
    assert_string_equal(stanza_strdup(a, "dup"), "dup");
    stanza_unref(a);
}

static void test_serialize(void **state)
{
    (void)state;
    struct stanza *st = stanza_new("message", NULL);
    xml_set_attr(st, st->root, "to", "o'neil@example.com");
    xml_set_attr(st, st->root, "id", "\"<&>\"");
    struct xml_node *body = xml_add_child(st, st->root, "body", NULL);
    const char *text = "1 < 2 && \"quotes\" 'stay' > 0";
    xml_add_text(st, body, text, strlen(text));
    struct xml_node *ev = xml_add_child(st, st->root, "event", "urn:ev");
    struct xml_node *items = xml_add_child(st, ev, "items", NULL);
    xml_add_child(st, items, "item", "jabber:client"); /* back to the stream ns */
    xml_add_child(st, ev, "empty", "");                /* no namespace at all */
    const char *expect = "<message to='o&apos;neil@example.com' id='&quot;&lt;&amp;&gt;&quot;'>"
                         "<body>1 &lt; 2 &amp;&amp; \"quotes\" 'stay' &gt; 0</body>"
                         "<event xmlns='urn:ev'><items><item xmlns='jabber:client'/></items>"
                         "<empty xmlns=''/></event></message>";
    struct buf b;
    buf_init(&b);
    xml_serialize(st->root, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&b), expect);
    buf_free(&b);
    /* as a child of a jabber:server element the root gets an xmlns */
    xml_serialize(st->root, NS_SERVER, &b);
    assert_memory_equal(b.data, "<message xmlns='jabber:client' to=", 34);
    buf_free(&b);
    /* a lone subtree */
    xml_serialize(items, "urn:ev", &b);
    assert_string_equal(buf_cstr(&b), "<items><item xmlns='jabber:client'/></items>");
    buf_free(&b);
    /* a text node alone */
    xml_serialize(body->children, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&b), "1 &lt; 2 &amp;&amp; \"quotes\" 'stay' &gt; 0");
    buf_free(&b);

    size_t len = 0;
    char *s = stanza_to_string(st, &len);
    assert_int_equal(len, strlen(s));
    assert_memory_equal(s, "<message xmlns='jabber:client' to=", 34);
    free(s);
    stanza_unref(st);
}

/* parse -> serialise -> parse -> serialise gives the same bytes, and the
 * parsed tree has what the text says. */
static void roundtrip(const char *in, const char *expect)
{
    struct stanza *st = stanza_parse(in, strlen(in));
    assert_non_null(st);
    char *out = str(st);
    assert_string_equal(out, expect);
    struct stanza *again = stanza_parse(out, strlen(out));
    assert_non_null(again);
    char *out2 = str(again);
    assert_string_equal(out2, out);
    free(out), free(out2);
    stanza_unref(again);
    stanza_unref(st);
}

static void test_parse_roundtrip(void **state)
{
    (void)state;
    roundtrip("<message to='a@b' type=\"chat\"><body>hi &amp; bye</body></message>",
              "<message xmlns='jabber:client' to='a@b' type='chat'><body>hi &amp; bye</body></message>");
    roundtrip("<iq xmlns='jabber:server' type='set' id='x'><query xmlns='jabber:iq:roster'>"
              "<item jid='a@b' name='&lt;A&gt;'><group>G</group></item></query></iq>",
              "<iq xmlns='jabber:server' type='set' id='x'><query xmlns='jabber:iq:roster'>"
              "<item jid='a@b' name='&lt;A&gt;'><group>G</group></item></query></iq>");
    /* prefixed elements are read as namespace + local name */
    roundtrip("<p:presence xmlns:p='jabber:client'><p:show>away</p:show>"
              "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1'/></p:presence>",
              "<presence xmlns='jabber:client'><show>away</show>"
              "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1'/></presence>");
    /* xml:lang and prefixed attributes */
    roundtrip("<message xml:lang='en' xmlns:x='urn:x' x:a='1' x:b='2'/>",
              "<message xmlns='jabber:client' xml:lang='en' xmlns:a0='urn:x' a0:a='1'"
              " xmlns:a1='urn:x' a1:b='2'/>");
    /* character references, CDATA, quotes and whitespace in attributes */
    roundtrip("<message id='a&#9;b&#10;c&#13;d'><body>&#x263A; <![CDATA[<raw & stuff>]]>"
              "&#13;\n</body></message>",
              "<message xmlns='jabber:client' id='a&#9;b&#10;c&#13;d'><body>\xe2\x98\xba "
              "&lt;raw &amp; stuff&gt;&#13;\n</body></message>");
    /* an empty element written as start + end tag comes back empty */
    roundtrip("<presence></presence>", "<presence xmlns='jabber:client'/>");
    roundtrip("<a xmlns='urn:a'><b xmlns=''/></a>", "<a xmlns='urn:a'><b xmlns=''/></a>");

    /* the parsed tree */
    const char *in = "<message xml:lang='de' from='x@y/r'><body>one</body><body>two</body></message>";
    struct stanza *st = stanza_parse(in, strlen(in));
    assert_non_null(st);
    assert_string_equal(stanza_name(st), "message");
    assert_string_equal(st->root->ns, NS_CLIENT);
    assert_string_equal(stanza_from(st), "x@y/r");
    assert_string_equal(xml_attr_ns(st->root, NS_XML, "lang"), "de");
    struct xml_node *b1 = xml_child(st->root, "body", NS_CLIENT);
    assert_string_equal(xml_text(st, b1), "one");
    assert_string_equal(xml_text(st, xml_next(b1, "body", NULL)), "two");
    assert_false(st->frozen);
    stanza_unref(st);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "   ",
        "<message>",                           /* incomplete */
        "<message></presence>",                /* mismatched */
        "text",                                /* not an element */
        "<!-- c --><message/>",                /* comment (restricted XML) */
        "<?pi x?><message/>",                  /* processing instruction */
        "<message>&nbsp;</message>",           /* undefined entity */
        "<message a='1' a='2'/>",              /* duplicate attribute */
        "<x:message/>",                        /* unbound prefix */
        "</stream:stream>",                    /* closes the wrapper */
        "<message>\xff</message>",             /* not UTF-8 */
        "<message>&#0;</message>",             /* not an XML Char */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct stanza *st = stanza_parse(bad[i], strlen(bad[i]));
        if (st)
            fail_msg("accepted: %s", bad[i]);
    }
    /* only the first of two elements is returned */
    const char *two = "<a/><b/>";
    struct stanza *st = stanza_parse(two, strlen(two));
    assert_non_null(st);
    assert_string_equal(stanza_name(st), "a");
    stanza_unref(st);
    /* length is respected: no NUL terminator needed */
    st = stanza_parse("<a/>garbage", 4);
    assert_non_null(st);
    stanza_unref(st);
}

static void test_error_reply(void **state)
{
    (void)state;
    const char *iq = "<iq type='get' id='v1' to='example.com' from='a@example.com/r'>"
                     "<query xmlns='jabber:iq:version'/></iq>";
    struct stanza *st = stanza_parse(iq, strlen(iq));
    assert_non_null(st);
    struct stanza *r = stanza_error_reply(st, "cancel", "service-unavailable", NULL);
    assert_xml(r, "<iq xmlns='jabber:client' from='example.com' to='a@example.com/r' id='v1'"
                  " type='error'><query xmlns='jabber:iq:version'/><error type='cancel'>"
                  "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
    /* RFC 6120 §8.3.2: the condition is the error's first child element */
    struct xml_node *err = xml_child(r->root, "error", NS_CLIENT);
    assert_non_null(err);
    assert_true(xml_is(xml_first_elem(err), "service-unavailable", NS_STANZAS));
    stanza_unref(r);

    /* with text; a jabber:server IQ keeps its namespace */
    const char *iq2 = "<iq xmlns='jabber:server' type='set' id='s' from='a@b'><x xmlns='urn:x'/></iq>";
    struct stanza *st2 = stanza_parse(iq2, strlen(iq2));
    assert_non_null(st2);
    r = stanza_error_reply(st2, "modify", "bad-request", "no <way>");
    assert_xml(r, "<iq xmlns='jabber:server' to='a@b' id='s' type='error'><x xmlns='urn:x'/>"
                  "<error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                  "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>no &lt;way&gt;"
                  "</text></error></iq>");
    stanza_unref(r);
    stanza_unref(st2);

    /* the original is untouched */
    char *orig = str(st);
    assert_string_equal(orig, "<iq xmlns='jabber:client' type='get' id='v1' to='example.com'"
                              " from='a@example.com/r'><query xmlns='jabber:iq:version'/></iq>");
    free(orig);
    stanza_unref(st);

    /* a message keeps its payload, drops its other attributes (type is
     * replaced, xml:lang is dropped) and a previous <error/> */
    const char *msg = "<message to='b@x' from='a@x/r' type='chat' id='m1' xml:lang='en'>"
                      "<body>hello</body><error type='old'/></message>";
    st = stanza_parse(msg, strlen(msg));
    assert_non_null(st);
    r = stanza_error_reply(st, "cancel", "item-not-found", "gone");
    assert_xml(r, "<message xmlns='jabber:client' from='b@x' to='a@x/r' id='m1' type='error'>"
                  "<body>hello</body><error type='cancel'>"
                  "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                  "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>gone</text>"
                  "</error></message>");
    assert_false(r->frozen);
    stanza_unref(r);
    stanza_unref(st);

    /* presence without addresses or id */
    st = stanza_new("presence", NULL);
    r = stanza_error_reply(st, "auth", "forbidden", NULL);
    assert_xml(r, "<presence xmlns='jabber:client' type='error'><error type='auth'>"
                  "<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>");
    stanza_unref(r);
    /* an error reply to a frozen stanza is a new, mutable one */
    stanza_freeze(st);
    r = stanza_error_reply(st, "wait", "resource-constraint", NULL);
    assert_false(r->frozen);
    xml_set_attr(r, r->root, "x", "y");
    stanza_unref(r);
    stanza_unref(st);
}

static void test_iq_result(void **state)
{
    (void)state;
    const char *iq = "<iq type='get' id='p1' to='example.com' from='a@example.com/r'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>";
    struct stanza *st = stanza_parse(iq, strlen(iq));
    assert_non_null(st);
    struct stanza *r = stanza_iq_result(st);
    assert_xml(r, "<iq xmlns='jabber:client' from='example.com' to='a@example.com/r' id='p1'"
                  " type='result'/>");
    /* a result is mutable: handlers add their payload */
    xml_add_child(r, r->root, "query", "jabber:iq:version");
    assert_string_equal(stanza_wire(r, NULL), "<iq from='example.com' to='a@example.com/r' id='p1'"
                                              " type='result'><query xmlns='jabber:iq:version'/></iq>");
    stanza_unref(r);
    stanza_unref(st);
}

static void test_refcount_freeze(void **state)
{
    (void)state;
    struct stanza *st = stanza_new("message", NULL);
    xml_add_text(st, xml_add_child(st, st->root, "body", NULL), "x", 1);
    assert_int_equal(atomic_load(&st->refs), 1);
    assert_ptr_equal(stanza_ref(st), st);
    assert_int_equal(atomic_load(&st->refs), 2);
    assert_false(st->frozen);
    assert_null(st->wire);

    assert_ptr_equal(stanza_freeze(st), st);
    assert_true(st->frozen);
    assert_string_equal(st->wire, "<message><body>x</body></message>");
    assert_int_equal(st->wire_len, strlen(st->wire));
    /* idempotent: the same bytes, computed once */
    const char *w = st->wire;
    stanza_freeze(st);
    size_t len;
    assert_ptr_equal(stanza_wire(st, &len), w);
    assert_int_equal(len, st->wire_len);

    /* a copy of a frozen stanza is mutable and independent */
    struct stanza *c = stanza_copy(st);
    assert_false(c->frozen);
    assert_null(c->wire);
    assert_int_equal(atomic_load(&c->refs), 1);
    xml_set_attr(c, c->root, "to", "z@z");
    assert_string_equal(stanza_wire(c, NULL), "<message to='z@z'><body>x</body></message>");
    assert_string_equal(stanza_wire(st, NULL), "<message><body>x</body></message>");
    stanza_unref(c);

    stanza_unref(st);
    assert_int_equal(atomic_load(&st->refs), 1); /* still alive */
    assert_string_equal(st->wire, "<message><body>x</body></message>");
    stanza_unref(st); /* freed here (ASan builds check there is no leak) */
    stanza_unref(NULL);
}

/* Modifying a frozen stanza is a programmer error: ALDIS_ASSERT aborts. */
static void expect_abort(void (*fn)(struct stanza *))
{
    struct stanza *st = stanza_new("message", NULL);
    stanza_freeze(st);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        fn(st);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    stanza_unref(st);
}

static void frozen_add_child(struct stanza *st) { xml_add_child(st, st->root, "x", NULL); }
static void frozen_set_attr(struct stanza *st) { xml_set_attr(st, st->root, "to", "a@b"); }
static void frozen_add_text(struct stanza *st) { xml_add_text(st, st->root, "t", 1); }
static void frozen_copy_into(struct stanza *st) { xml_copy_into(st, st->root, st->root); }

static void test_frozen_is_immutable(void **state)
{
    (void)state;
    expect_abort(frozen_add_child);
    expect_abort(frozen_set_attr);
    expect_abort(frozen_add_text);
    expect_abort(frozen_copy_into);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build),           cmocka_unit_test(test_attrs),
        cmocka_unit_test(test_children_text),   cmocka_unit_test(test_copy_remove),
        cmocka_unit_test(test_serialize),       cmocka_unit_test(test_parse_roundtrip),
        cmocka_unit_test(test_parse_invalid),   cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_iq_result),       cmocka_unit_test(test_refcount_freeze),
        cmocka_unit_test(test_frozen_is_immutable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

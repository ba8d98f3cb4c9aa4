/* test_xml_stream.c - the XMPP stream parser (src/xml/parser.c): events for
 * a header, stanzas and the close tag must not depend on how the bytes are
 * split; whitespace keepalives; every stream error it reports (RFC 6120
 * §4.9.3: not-well-formed, restricted-xml per §11.1, invalid-namespace per
 * §4.8, policy-violation for the limits); stream restarts (§5.4.3.3,
 * §6.4.6) requested from a callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/xml.h"

#define HDR_C "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'" \
              " to='example.com' version='1.0'>"

/* Records every callback as one line of text, so runs can be compared. */
struct rec {
    struct buf log;
    int opens, elements, closes, errors;
    char cond[64];
    struct xml_stream *xs;
    const char *reset_on; /* element name that triggers xml_stream_reset */
    int reset_count;
};

static void on_open(void *ud, struct stanza *hdr)
{
    struct rec *r = ud;
    r->opens++;
    assert_string_equal(stanza_name(hdr), "stream");
    assert_string_equal(hdr->root->ns, NS_STREAMS);
    buf_adds(&r->log, "open");
    for (const struct xml_attr *a = hdr->root->attrs; a; a = a->next)
        buf_printf(&r->log, " %s=%s", a->name, a->value);
    buf_addc(&r->log, '\n');
}

static void on_element(void *ud, struct stanza *st)
{
    struct rec *r = ud;
    r->elements++;
    char *s = stanza_to_string(st, NULL);
    buf_printf(&r->log, "elem %s\n", s);
    free(s);
    bool reset = r->reset_on && strcmp(stanza_name(st), r->reset_on) == 0;
    stanza_unref(st); /* the callee owns the reference */
    if (reset) {
        r->reset_count++;
        xml_stream_reset(r->xs);
    }
}

static void on_close(void *ud)
{
    struct rec *r = ud;
    r->closes++;
    buf_adds(&r->log, "close\n");
}

static void on_error(void *ud, const char *condition, const char *text)
{
    struct rec *r = ud;
    r->errors++;
    assert_non_null(text);
    snprintf(r->cond, sizeof r->cond, "%s", condition);
    buf_printf(&r->log, "error %s\n", condition);
}

static const struct xml_stream_callbacks callbacks = {on_open, on_element, on_close, on_error};
static const struct xml_stream_limits default_limits = {256 * 1024, 32, 64};

static void rec_init(struct rec *r, const struct xml_stream_limits *lim, const char *ns)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->log);
    r->xs = xml_stream_new(lim ? lim : &default_limits, ns ? ns : NS_CLIENT, &callbacks, r);
    assert_non_null(r->xs);
}

static void rec_free(struct rec *r)
{
    xml_stream_free(r->xs);
    buf_free(&r->log);
}

/* Feed `data` in pieces of `step` bytes (0 = all at once); returns the
 * first error code. */
static int feed(struct rec *r, const char *data, size_t len, size_t step)
{
    if (!step)
        step = len ? len : 1;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        int rc = xml_stream_feed(r->xs, data + off, n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int feeds(struct rec *r, const char *s) { return feed(r, s, strlen(s), 0); }

static const char session[] =
    "<?xml version='1.0' encoding='UTF-8'?>\n" HDR_C
    "<message to='juliet@example.com' type='chat' xml:lang='en'><body>Wherefore &amp; art "
    "thou? &#x263A; <![CDATA[<b>]]></body><x xmlns='urn:x'><y a='&apos;'/></x></message>"
    " \n\t\r\n "
    "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"
    "\n"
    "<presence/>"
    "<p:presence xmlns:p='jabber:client'><p:show>dnd</p:show></p:presence>"
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    "\xe2\x80\x8b"; /* placeholder, replaced below */

static const char expected_log[] =
    "open to=example.com version=1.0\n"
    "elem <message xmlns='jabber:client' to='juliet@example.com' type='chat' xml:lang='en'>"
    "<body>Wherefore &amp; art thou? \xe2\x98\xba &lt;b&gt;</body><x xmlns='urn:x'>"
    "<y a='&apos;'/></x></message>\n"
    "elem <iq xmlns='jabber:client' type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>\n"
    "elem <presence xmlns='jabber:client'/>\n"
    "elem <presence xmlns='jabber:client'><show>dnd</show></presence>\n"
    "elem <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n"
    "close\n";

static void test_splits_give_same_events(void **state)
{
    (void)state;
    /* the whole session ends with the close tag */
    char doc[2048];
    size_t cut = strlen(session) - 3; /* drop the placeholder */
    memcpy(doc, session, cut);
    strcpy(doc + cut, "  </stream:stream>");
    size_t len = strlen(doc);

    const size_t steps[] = {0, 1, 2, 3, 7, 64};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        struct rec r;
        rec_init(&r, NULL, NULL);
        assert_int_equal(feed(&r, doc, len, steps[i]), 0);
        assert_string_equal(buf_cstr(&r.log), expected_log);
        assert_int_equal(r.opens, 1);
        assert_int_equal(r.elements, 5);
        assert_int_equal(r.closes, 1);
        assert_int_equal(r.errors, 0);
        rec_free(&r);
    }
    /* every two-piece split gives the same events too */
    for (size_t at = 1; at < len; at += 3) {
        struct rec r;
        rec_init(&r, NULL, NULL);
        assert_int_equal(xml_stream_feed(r.xs, doc, at), 0);
        assert_int_equal(xml_stream_feed(r.xs, doc + at, len - at), 0);
        assert_string_equal(buf_cstr(&r.log), expected_log);
        rec_free(&r);
    }
}

/* A stanza completed by a small read is delivered by that read, not when
 * the peer sends something else. Expat's reparse deferral (CVE-2023-52425)
 * would hold a 1000-byte start tag finished by 3 more bytes until the
 * buffered input doubled; the parser re-parses at once while the pending
 * input is small. */
static void test_small_reads_deliver_at_once(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL, NULL);
    char tag[1100];
    snprintf(tag, sizeof tag, "<message to='%01000d", 0);
    assert_int_equal(feeds(&r, HDR_C), 0);
    assert_int_equal(feeds(&r, tag), 0);
    assert_int_equal(r.elements, 0);
    assert_int_equal(feeds(&r, "'/>"), 0);
    assert_int_equal(r.elements, 1);
    /* the same for an end tag arriving a byte at a time */
    assert_int_equal(feeds(&r, "<presence><show>away</show></pres"), 0);
    assert_int_equal(feeds(&r, "e"), 0);
    assert_int_equal(feeds(&r, "n"), 0);
    assert_int_equal(feeds(&r, "c"), 0);
    assert_int_equal(feeds(&r, "e"), 0);
    assert_int_equal(r.elements, 1);
    assert_int_equal(feeds(&r, ">"), 0);
    assert_int_equal(r.elements, 2);
    rec_free(&r);
}

static void test_keepalives(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL, NULL);
    assert_int_equal(feeds(&r, HDR_C), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(feeds(&r, i % 2 ? " " : "\r\n"), 0);
    assert_int_equal(feeds(&r, "<presence/>"), 0);
    /* lots of whitespace overall, but never more than a few bytes between
     * items: the stanza size limit is not hit */
    for (int i = 0; i < 5000; i++)
        assert_int_equal(feeds(&r, "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"
                                   "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"),
                         0);
    assert_int_equal(feeds(&r, "<presence/>"), 0);
    assert_int_equal(r.elements, 2);
    assert_int_equal(r.errors, 0);
    /* an empty feed is fine */
    assert_int_equal(xml_stream_feed(r.xs, "", 0), 0);
    rec_free(&r);
}

/* Feed a document (at once and byte by byte) and expect one stream error. */
static void expect_error_ex(const char *doc, const char *condition, const struct xml_stream_limits *lim,
                            const char *ns)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct rec r;
        rec_init(&r, lim, ns);
        int rc = feed(&r, doc, strlen(doc), bytewise ? 1 : 0);
        if (rc != ALDIS_EPROTO || strcmp(r.cond, condition) != 0)
            fail_msg("%s%s: rc %d, condition '%s', wanted %s", bytewise ? "(bytewise) " : "", doc, rc,
                     r.cond, condition);
        assert_int_equal(r.errors, 1);
        /* after an error the parser refuses everything, without callbacks */
        assert_int_equal(xml_stream_feed(r.xs, "<presence/>", 11), ALDIS_EPROTO);
        assert_int_equal(xml_stream_feed(r.xs, "", 0), ALDIS_EPROTO);
        assert_int_equal(r.errors, 1);
        rec_free(&r);
    }
}

static void expect_error(const char *doc, const char *condition)
{
    expect_error_ex(doc, condition, NULL, NULL);
}

static void test_not_well_formed(void **state)
{
    (void)state;
    expect_error(HDR_C "<message></presence>", "not-well-formed");
    expect_error(HDR_C "hello", "not-well-formed"); /* text outside stanzas */
    expect_error(HDR_C " <presence/> x", "not-well-formed");
    expect_error(HDR_C "<message><body>\xff\xfe</body></message>", "not-well-formed");
    expect_error(HDR_C "<message><body>\xc3</body></message>", "not-well-formed");
    expect_error(HDR_C "<message a='1' a='2'/>", "not-well-formed");
    expect_error(HDR_C "<x:message/>", "not-well-formed"); /* unbound prefix */
    expect_error(HDR_C "<message>&#0;</message>", "not-well-formed");
    expect_error(HDR_C "<message>&#xD800;</message>", "not-well-formed");
    expect_error(HDR_C "<message a=b/>", "not-well-formed");
    expect_error(HDR_C "<message><</message>", "not-well-formed");
    expect_error(HDR_C "</stream:stream><presence/>", "not-well-formed");
    expect_error("garbage>", "not-well-formed");
    expect_error("\x01", "not-well-formed");
}

static void test_restricted_xml(void **state)
{
    (void)state;
    expect_error("<!DOCTYPE stream:stream>" HDR_C, "restricted-xml");
    expect_error("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>" HDR_C, "restricted-xml");
    /* billion laughs never gets to expand anything */
    expect_error("<!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]>" HDR_C
                 "<message>&b;</message>",
                 "restricted-xml");
    expect_error("<!-- hi -->" HDR_C, "restricted-xml");
    expect_error(HDR_C "<!-- between stanzas -->", "restricted-xml");
    expect_error(HDR_C "<message><!-- inside --></message>", "restricted-xml");
    expect_error("<?php echo 1; ?>" HDR_C, "restricted-xml");
    expect_error(HDR_C "<?pi data?>", "restricted-xml");
    expect_error(HDR_C "<message><?pi data?></message>", "restricted-xml");
    /* RFC 6120 §11.1: only the five predefined entities */
    expect_error(HDR_C "<message><body>&nbsp;</body></message>", "restricted-xml");
    expect_error(HDR_C "<message a='&foo;'/>", "restricted-xml");

    /* the XML declaration itself is allowed (RFC 6120 §11.5) */
    struct rec r;
    rec_init(&r, NULL, NULL);
    assert_int_equal(feeds(&r, "<?xml version='1.0'?>" HDR_C "<presence/>"), 0);
    assert_int_equal(r.elements, 1);
    rec_free(&r);
}

static void test_invalid_namespace(void **state)
{
    (void)state;
    /* RFC 6120 §4.8.1: the root must be stream in the streams namespace */
    expect_error("<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>", "invalid-namespace");
    expect_error("<stream xmlns='jabber:client'>", "invalid-namespace");
    expect_error("<stream:features xmlns='jabber:client' xmlns:stream='" NS_STREAMS "'>",
                 "invalid-namespace");
    /* §4.8.2: the default namespace must be the expected content namespace */
    expect_error("<stream:stream xmlns='jabber:server' xmlns:stream='" NS_STREAMS "'>",
                 "invalid-namespace");
    expect_error("<stream:stream xmlns:stream='" NS_STREAMS "'>", "invalid-namespace");
    expect_error("<stream:stream xmlns='' xmlns:stream='" NS_STREAMS "'>", "invalid-namespace");
    expect_error("<s:stream xmlns:s='" NS_STREAMS "' xmlns:stream='jabber:client'>", "invalid-namespace");
    /* a server stream wants jabber:server */
    expect_error_ex(HDR_C, "invalid-namespace", NULL, NS_SERVER);
    struct rec r;
    rec_init(&r, NULL, NS_SERVER);
    assert_int_equal(feeds(&r, "<stream:stream xmlns='jabber:server' xmlns:stream='" NS_STREAMS
                               "'><message/>"),
                     0);
    assert_int_equal(r.opens, 1);
    assert_string_equal(buf_cstr(&r.log), "open\nelem <message xmlns='jabber:server'/>\n");
    rec_free(&r);
    /* any prefix for the streams namespace is fine (§4.8.5 uses stream:
     * by convention only) */
    rec_init(&r, NULL, NULL);
    assert_int_equal(feeds(&r, "<s:stream xmlns='jabber:client' xmlns:s='" NS_STREAMS "'><presence/>"), 0);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.elements, 1);
    rec_free(&r);
}

static void test_stanza_size_limit(void **state)
{
    (void)state;
    const struct xml_stream_limits lim = {1000, 32, 64};
    char big[4096];
    /* many stanzas below the limit are fine: the count restarts per stanza */
    struct rec r;
    rec_init(&r, &lim, NULL);
    assert_int_equal(feeds(&r, HDR_C), 0);
    snprintf(big, sizeof big, "<message><body>%0600d</body></message>", 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(feed(&r, big, strlen(big), i % 3 ? 0 : 13), 0);
    assert_int_equal(r.elements, 50);
    rec_free(&r);

    /* one stanza over the limit: text */
    char doc[8192];
    snprintf(doc, sizeof doc, HDR_C "<message><body>%02000d</body></message>", 0);
    expect_error_ex(doc, "policy-violation", &lim, NULL);
    /* many small children */
    size_t n = (size_t)snprintf(doc, sizeof doc, HDR_C "<message>");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(doc + n, sizeof doc - n, "<x/>");
    snprintf(doc + n, sizeof doc - n, "</message>");
    expect_error_ex(doc, "policy-violation", &lim, NULL);
    /* a long attribute value */
    snprintf(doc, sizeof doc, HDR_C "<message a='%02000d'/>", 0);
    expect_error_ex(doc, "policy-violation", &lim, NULL);

    /* A giant start tag that never ends: expat produces no event, but the
     * buffered bytes still count, so it cannot grow memory without bound. */
    rec_init(&r, &lim, NULL);
    assert_int_equal(feeds(&r, HDR_C "<message to='"), 0);
    char chunk[1024];
    memset(chunk, 'a', sizeof chunk);
    int rc = 0;
    size_t fed = 0;
    for (int i = 0; i < 1000 && rc == 0; i++, fed += sizeof chunk)
        rc = xml_stream_feed(r.xs, chunk, sizeof chunk);
    assert_int_equal(rc, ALDIS_EPROTO);
    assert_string_equal(r.cond, "policy-violation");
    assert_true(fed <= 1000 + 4096 + 2 * sizeof chunk);
    rec_free(&r);

    /* the same before the stream header has been completed */
    rec_init(&r, &lim, NULL);
    assert_int_equal(feeds(&r, "<stream:stream xmlns='jabber:client' a='"), 0);
    rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = xml_stream_feed(r.xs, chunk, sizeof chunk);
    assert_int_equal(rc, ALDIS_EPROTO);
    assert_string_equal(r.cond, "policy-violation");
    rec_free(&r);

    /* and for a never-ending comment or text inside a stanza */
    rec_init(&r, &lim, NULL);
    assert_int_equal(feeds(&r, HDR_C "<message><body>"), 0);
    rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = xml_stream_feed(r.xs, chunk, sizeof chunk);
    assert_int_equal(rc, ALDIS_EPROTO);
    assert_string_equal(r.cond, "policy-violation");
    assert_int_equal(r.elements, 0);
    rec_free(&r);
}

static void test_depth_limit(void **state)
{
    (void)state;
    /* max_depth counts element levels of a stanza, its root included */
    const struct xml_stream_limits lim = {256 * 1024, 3, 64};
    struct rec r;
    rec_init(&r, &lim, NULL);
    assert_int_equal(feeds(&r, HDR_C "<message><a><b/></a></message>"), 0);
    assert_int_equal(r.elements, 1);
    rec_free(&r);
    expect_error_ex(HDR_C "<message><a><b><c/></b></a></message>", "policy-violation", &lim, NULL);

    /* a deep bomb is refused before its end */
    char doc[20000];
    size_t n = (size_t)snprintf(doc, sizeof doc, HDR_C);
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(doc + n, sizeof doc - n, "<a>");
    expect_error(doc, "policy-violation");
}

static void test_attr_limit(void **state)
{
    (void)state;
    const struct xml_stream_limits lim = {256 * 1024, 32, 3};
    struct rec r;
    rec_init(&r, &lim, NULL);
    /* namespace declarations are not attributes */
    assert_int_equal(feeds(&r, HDR_C "<message a='1' b='2' c='3' xmlns:x='urn:x'/>"), 0);
    assert_int_equal(r.elements, 1);
    rec_free(&r);
    expect_error_ex(HDR_C "<message a='1' b='2' c='3' d='4'/>", "policy-violation", &lim, NULL);
    expect_error_ex(HDR_C "<message><x a='1' b='2' c='3' d='4'/></message>", "policy-violation", &lim, NULL);
    /* the header is limited too */
    expect_error_ex("<stream:stream xmlns='jabber:client' xmlns:stream='" NS_STREAMS
                    "' a='1' b='2' c='3' d='4'>",
                    "policy-violation", &lim, NULL);
}

/* A stream restart requested from the element callback (after <proceed/>
 * or SASL <success/>): bytes after the restart point in the same chunk are
 * dropped (nothing sent before the restart may be read as part of the new
 * stream: RFC 6120 §5.4.3.3), the next feed starts a new document. */
static void test_reset_from_callback(void **state)
{
    (void)state;
    for (size_t step = 0; step < 3; step++) {
        struct rec r;
        rec_init(&r, NULL, NULL);
        r.reset_on = "auth";
        const char *first = HDR_C "<presence/><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
        assert_int_equal(feed(&r, first, strlen(first), step), 0);
        assert_int_equal(r.reset_count, 1);
        /* a new header, as after SASL success; a second XML declaration is
         * fine because this is a new document */
        const char *second = "<?xml version='1.0'?>" HDR_C "<iq type='set' id='b'/><message/>";
        assert_int_equal(feed(&r, second, strlen(second), step), 0);
        assert_int_equal(r.opens, 2);
        assert_int_equal(r.elements, 4);
        assert_int_equal(r.errors, 0);
        assert_string_equal(buf_cstr(&r.log),
                            "open to=example.com version=1.0\n"
                            "elem <presence xmlns='jabber:client'/>\n"
                            "elem <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>\n"
                            "open to=example.com version=1.0\n"
                            "elem <iq xmlns='jabber:client' type='set' id='b'/>\n"
                            "elem <message xmlns='jabber:client'/>\n");
        /* the new stream closes on its own */
        assert_int_equal(feeds(&r, "</stream:stream>"), 0);
        assert_int_equal(r.closes, 1);
        rec_free(&r);
    }

    /* data pipelined after the restart point in the same chunk is dropped */
    struct rec r;
    rec_init(&r, NULL, NULL);
    r.reset_on = "starttls";
    assert_int_equal(feeds(&r, HDR_C "<starttls xmlns='" NS_TLS "'/><message to='injected'/>"), 0);
    assert_int_equal(r.elements, 1);
    assert_int_equal(feeds(&r, HDR_C "<presence/>"), 0);
    assert_int_equal(r.opens, 2);
    assert_int_equal(r.elements, 2);
    assert_null(strstr(buf_cstr(&r.log), "injected"));
    rec_free(&r);

    /* a restart while a stanza is half-parsed frees it (ASan: no leak) */
    rec_init(&r, NULL, NULL);
    r.reset_on = "x";
    assert_int_equal(feeds(&r, HDR_C "<x/><message><body>half"), 0);
    assert_int_equal(feeds(&r, HDR_C "<message/>"), 0);
    assert_int_equal(r.elements, 2);
    rec_free(&r);
}

/* A restart asked for between two feeds (not from a callback) also starts
 * a new document with the next bytes, which are not lost. */
static void test_reset_between_feeds(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL, NULL);
    assert_int_equal(feeds(&r, HDR_C "<message><body>partial"), 0);
    xml_stream_reset(r.xs);
    assert_int_equal(feeds(&r, HDR_C "<presence/>"), 0);
    assert_int_equal(r.opens, 2);
    assert_int_equal(r.elements, 1);
    assert_int_equal(r.errors, 0);
    rec_free(&r);

    /* a reset on a fresh parser is harmless */
    rec_init(&r, NULL, NULL);
    xml_stream_reset(r.xs);
    assert_int_equal(feeds(&r, HDR_C "<presence/>"), 0);
    assert_int_equal(r.elements, 1);
    rec_free(&r);
}

/* xml_stream_release frees expat between stanzas; the next stanza parses
 * as before, prefixes declared on the root included, with no second open. */
static void test_release_when_idle(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL, NULL);
    assert_int_equal(feeds(&r, "<stream:stream xmlns='jabber:client' xmlns:stream="
                               "'http://etherx.jabber.org/streams' xmlns:ext='urn:example:ext' "
                               "to='example.com' version='1.0'><presence/>"),
                     0);
    assert_true(xml_stream_release(r.xs));
    assert_false(xml_stream_release(r.xs)); /* already released */
    assert_int_equal(feeds(&r, "<message><ext:x a='1'/><body>hi</body></message>"), 0);
    assert_true(xml_stream_release(r.xs));
    /* byte by byte after a release, and a partial stanza blocks releasing */
    assert_int_equal(feed(&r, "<iq type='get' id='2'><ext:q/></iq><presence", 44, 1), 0);
    assert_false(xml_stream_release(r.xs));
    assert_int_equal(feeds(&r, "/></stream:stream>"), 0);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.closes, 1);
    assert_string_equal(r.log.data,
                        "open to=example.com version=1.0\n"
                        "elem <presence xmlns='jabber:client'/>\n"
                        "elem <message xmlns='jabber:client'><x xmlns='urn:example:ext' a='1'/>"
                        "<body>hi</body></message>\n"
                        "elem <iq xmlns='jabber:client' type='get' id='2'><q xmlns='urn:example:ext'/></iq>\n"
                        "elem <presence xmlns='jabber:client'/>\n"
                        "close\n");
    rec_free(&r);
}

static void test_close(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL, NULL);
    assert_int_equal(feeds(&r, HDR_C "<presence/></stream:stream>"), 0);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.elements, 1);
    /* whitespace after the close is harmless */
    assert_int_equal(feeds(&r, "\n "), 0);
    assert_int_equal(r.errors, 0);
    rec_free(&r);

    /* a close tag for a different element is not-well-formed */
    expect_error(HDR_C "</stream:features>", "not-well-formed");
    /* freeing with a half-built stanza releases it */
    rec_init(&r, NULL, NULL);
    assert_int_equal(feeds(&r, HDR_C "<message><body>abc"), 0);
    assert_int_equal(r.closes, 0);
    rec_free(&r);
    /* no callbacks at all is allowed (elements are then dropped) */
    struct xml_stream_callbacks none = {0};
    struct xml_stream *xs = xml_stream_new(&default_limits, NS_CLIENT, &none, NULL);
    assert_non_null(xs);
    const char *doc = HDR_C "<message/></stream:stream>";
    assert_int_equal(xml_stream_feed(xs, doc, strlen(doc)), 0);
    assert_int_equal(xml_stream_feed(xs, "<x", 2), ALDIS_EPROTO);
    xml_stream_free(xs);
    xml_stream_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splits_give_same_events),
        cmocka_unit_test(test_small_reads_deliver_at_once),
        cmocka_unit_test(test_keepalives),
        cmocka_unit_test(test_not_well_formed),
        cmocka_unit_test(test_restricted_xml),
        cmocka_unit_test(test_invalid_namespace),
        cmocka_unit_test(test_stanza_size_limit),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_attr_limit),
        cmocka_unit_test(test_reset_from_callback),
        cmocka_unit_test(test_reset_between_feeds),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_release_when_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

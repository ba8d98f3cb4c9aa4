/* parser.c - the XML stream parser: expat in namespace mode, building one
 * arena-backed tree per top-level child of <stream:stream>.
 *
 * RFC 6120 §11.1 restricts XMPP to a subset of XML: comments, processing
 * instructions, DTDs and entity declarations are refused with the
 * restricted-xml stream error. Limits (stanza bytes, depth, attributes) are
 * checked while parsing, before a tree can grow unbounded: expat buffers an
 * incomplete tag internally, so the byte limit is also applied to input
 * that has not produced an event yet. */
#include <expat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/xml.h"
#include "lib/arena.h"

#define NS_SEP '\x01'

/* Expat >= 2.6 (and Debian's 2.5 security backports) defer re-parsing a
 * token that spans several feeds until the buffered input has doubled
 * (CVE-2023-52425): linear time, but the last bytes of a stanza that arrive
 * in a small read would wait for the peer's next packet. While the input
 * that has produced no event yet is small, re-parse at once (the cost per
 * feed stays bounded by this size); beyond it, keep expat's deferral. */
#define REPARSE_EAGER_MAX 4096

struct stanza *stanza__alloc(size_t hint);

struct xml_stream {
    XML_Parser parser;
    struct xml_stream_limits limits;
    const char *content_ns;
    struct xml_stream_callbacks cb;
    void *ud;
    unsigned depth;        /* 0 = outside the root; 1 = inside stream:stream */
    bool failed;
    bool restart;          /* reset requested from a callback */
    bool default_ns_ok;
    long long fed;         /* bytes fed to this parser */
    long long boundary;    /* offset after the last complete top-level item */
    long long consumed;    /* offset after the last event expat delivered */
    struct stanza *cur;    /* stanza being built */
    struct xml_node *node; /* current element in cur */
    /* Idle release: the root's namespace declarations, replayed into a
     * fresh parser when input comes again (xml_stream_release). */
    struct buf root_ns;
    bool released;
    bool replaying;        /* parsing the replayed root: no open callback */
};

#define ROOT_NS_MAX 2048

static void fail(struct xml_stream *xs, const char *cond, const char *text)
{
    if (xs->failed)
        return;
    xs->failed = true;
    if (xs->parser)
        XML_StopParser(xs->parser, XML_FALSE);
    if (xs->cb.error)
        xs->cb.error(xs->ud, cond, text);
}

/* Split "uri\x01local" into ns and local name (in place in a copy). */
static void split_name(const char *qname, const char **ns, size_t *ns_len, const char **local)
{
    const char *sep = strchr(qname, NS_SEP);
    if (!sep) {
        *ns = "";
        *ns_len = 0;
        *local = qname;
        return;
    }
    *ns = qname;
    *ns_len = (size_t)(sep - qname);
    *local = sep + 1;
}

static void mark_consumed(struct xml_stream *xs)
{
    xs->consumed = XML_GetCurrentByteIndex(xs->parser) + XML_GetCurrentByteCount(xs->parser);
}

static void check_size(struct xml_stream *xs)
{
    long long at = XML_GetCurrentByteIndex(xs->parser);
    if (xs->limits.max_stanza_bytes && at - xs->boundary > (long long)xs->limits.max_stanza_bytes)
        fail(xs, "policy-violation", "stanza too large");
}

static void add_attrs(struct xml_stream *xs, struct stanza *st, struct xml_node *el, const char **atts)
{
    unsigned n = 0;
    for (int i = 0; atts[i]; i += 2) {
        if (++n > xs->limits.max_attrs && xs->limits.max_attrs) {
            fail(xs, "policy-violation", "too many attributes");
            return;
        }
        const char *ns, *local;
        size_t ns_len;
        split_name(atts[i], &ns, &ns_len, &local);
        struct xml_attr *a = arena_alloc(st->arena, sizeof *a);
        a->name = arena_strdup(st->arena, local);
        a->ns = ns_len ? arena_strndup(st->arena, ns, ns_len) : NULL;
        a->value = arena_strdup(st->arena, atts[i + 1]);
        /* attributes keep document order */
        struct xml_attr **tail = &el->attrs;
        while (*tail)
            tail = &(*tail)->next;
        *tail = a;
    }
}

static struct xml_node *new_elem(struct stanza *st, const char *qname)
{
    const char *ns, *local;
    size_t ns_len;
    split_name(qname, &ns, &ns_len, &local);
    struct xml_node *n = arena_alloc(st->arena, sizeof *n);
    n->kind = XML_ELEM;
    n->name = arena_strdup(st->arena, local);
    n->ns = arena_strndup(st->arena, ns, ns_len);
    return n;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xml_stream *xs = ud;
    if (xs->failed)
        return;
    mark_consumed(xs);
    if (xs->depth == 0 && xs->replaying) {
        xs->replaying = false;
        xs->depth = 1;
        xs->boundary = XML_GetCurrentByteIndex(xs->parser) + XML_GetCurrentByteCount(xs->parser);
        xs->consumed = xs->boundary;
        return;
    }
    if (xs->depth == 0) {
        struct stanza *hdr = stanza__alloc(512);
        hdr->root = new_elem(hdr, name);
        add_attrs(xs, hdr, hdr->root, atts);
        xs->depth = 1;
        xs->boundary = XML_GetCurrentByteIndex(xs->parser) + XML_GetCurrentByteCount(xs->parser);
        if (xs->failed) {
            stanza_unref(hdr);
            return;
        }
        /* RFC 6120 §4.8.1: the root must be stream in the streams namespace */
        if (strcmp(hdr->root->ns, NS_STREAMS) != 0 || strcmp(hdr->root->name, "stream") != 0)
            fail(xs, "invalid-namespace", "the stream element must be <stream:stream/>");
        else if (!xs->default_ns_ok)
            fail(xs, "invalid-namespace", "wrong or missing default namespace");
        else if (xs->cb.open)
            xs->cb.open(xs->ud, hdr);
        stanza_unref(hdr);
        return;
    }
    const unsigned base = 1;
    if (xs->depth == base) {
        xs->cur = stanza__alloc(1024);
        xs->cur->root = xs->node = new_elem(xs->cur, name);
    } else {
        if (xs->limits.max_depth && xs->depth - base >= xs->limits.max_depth) {
            fail(xs, "policy-violation", "elements nested too deeply");
            return;
        }
        struct xml_node *n = new_elem(xs->cur, name);
        n->parent = xs->node;
        if (xs->node->last)
            xs->node->last->next = n;
        else
            xs->node->children = n;
        xs->node->last = n;
        xs->node = n;
    }
    xs->depth++;
    add_attrs(xs, xs->cur, xs->node, atts);
    check_size(xs);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xml_stream *xs = ud;
    (void)name;
    if (xs->failed)
        return;
    mark_consumed(xs);
    const unsigned base = 1;
    if (xs->depth == 1) {
        xs->depth = 0;
        if (xs->cb.close)
            xs->cb.close(xs->ud);
        return;
    }
    check_size(xs);
    if (xs->failed)
        return;
    xs->depth--;
    if (xs->depth == base) {
        struct stanza *st = xs->cur;
        xs->cur = NULL;
        xs->node = NULL;
        xs->boundary = XML_GetCurrentByteIndex(xs->parser) + XML_GetCurrentByteCount(xs->parser);
        if (xs->cb.element)
            xs->cb.element(xs->ud, st);
        else
            stanza_unref(st);
        return;
    }
    xs->node = xs->node->parent;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct xml_stream *xs = ud;
    if (xs->failed)
        return;
    mark_consumed(xs);
    if (!xs->cur) {
        /* whitespace between stanzas (keepalives) is fine; text is not */
        for (int i = 0; i < len; i++)
            if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
                fail(xs, "not-well-formed", "character data outside a stanza");
                return;
            }
        xs->boundary = XML_GetCurrentByteIndex(xs->parser) + XML_GetCurrentByteCount(xs->parser);
        return;
    }
    check_size(xs);
    if (xs->failed)
        return;
    /* merge adjacent text chunks expat delivers separately */
    struct xml_node *last = xs->node->last;
    if (last && last->kind == XML_TEXT) {
        char *t = arena_alloc(xs->cur->arena, last->text_len + (size_t)len + 1);
        memcpy(t, last->text, last->text_len);
        memcpy(t + last->text_len, s, (size_t)len);
        last->text = t;
        last->text_len += (size_t)len;
        return;
    }
    xml_add_text(xs->cur, xs->node, s, (size_t)len);
}

static void XMLCALL on_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    struct xml_stream *xs = ud;
    if (xs->depth != 0 || xs->replaying)
        return;
    if (!prefix)
        xs->default_ns_ok = uri && strcmp(uri, xs->content_ns) == 0;
    /* remembered for xml_stream_release; too many means never released */
    if (xs->root_ns.len > ROOT_NS_MAX)
        return;
    buf_adds(&xs->root_ns, prefix ? " xmlns:" : " xmlns");
    if (prefix)
        buf_adds(&xs->root_ns, prefix);
    buf_adds(&xs->root_ns, "='");
    buf_add_xml_escaped(&xs->root_ns, uri ? uri : "", uri ? strlen(uri) : 0, 1);
    buf_adds(&xs->root_ns, "'");
}

static void XMLCALL on_restricted_pi(void *ud, const XML_Char *t, const XML_Char *d)
{
    (void)t, (void)d;
    fail(ud, "restricted-xml", "processing instructions are not allowed");
}

static void XMLCALL on_restricted_comment(void *ud, const XML_Char *d)
{
    (void)d;
    fail(ud, "restricted-xml", "comments are not allowed");
}

static void XMLCALL on_restricted_doctype(void *ud, const XML_Char *n, const XML_Char *s,
                                          const XML_Char *p, int has_internal)
{
    (void)n, (void)s, (void)p, (void)has_internal;
    fail(ud, "restricted-xml", "DTDs are not allowed");
}

static void XMLCALL on_restricted_entity(void *ud, const XML_Char *name, int pe, const XML_Char *v,
                                         int vl, const XML_Char *b, const XML_Char *s,
                                         const XML_Char *p, const XML_Char *nn)
{
    (void)name, (void)pe, (void)v, (void)vl, (void)b, (void)s, (void)p, (void)nn;
    fail(ud, "restricted-xml", "entity declarations are not allowed");
}

static void XMLCALL on_skipped_entity(void *ud, const XML_Char *name, int pe)
{
    (void)name, (void)pe;
    fail(ud, "restricted-xml", "entity references are not allowed");
}

static void XMLCALL on_xml_decl(void *ud, const XML_Char *version, const XML_Char *encoding,
                                int standalone)
{
    (void)version, (void)standalone;
    /* RFC 6120 §11.6: UTF-8 only */
    if (encoding && strcasecmp(encoding, "UTF-8") != 0)
        fail(ud, "unsupported-encoding", "streams must be encoded in UTF-8");
}

static int setup_parser(struct xml_stream *xs)
{
    xs->parser = XML_ParserCreateNS("UTF-8", NS_SEP);
    if (!xs->parser)
        return ALDIS_ENOMEM;
    XML_SetUserData(xs->parser, xs);
    XML_SetElementHandler(xs->parser, on_start, on_end);
    XML_SetCharacterDataHandler(xs->parser, on_text);
    XML_SetStartNamespaceDeclHandler(xs->parser, on_ns_start);
    XML_SetProcessingInstructionHandler(xs->parser, on_restricted_pi);
    XML_SetCommentHandler(xs->parser, on_restricted_comment);
    XML_SetXmlDeclHandler(xs->parser, on_xml_decl);
    XML_SetStartDoctypeDeclHandler(xs->parser, on_restricted_doctype);
    XML_SetEntityDeclHandler(xs->parser, on_restricted_entity);
    XML_SetSkippedEntityHandler(xs->parser, on_skipped_entity);
    XML_SetParamEntityParsing(xs->parser, XML_PARAM_ENTITY_PARSING_NEVER);
    xs->depth = 0;
    xs->failed = false;
    xs->restart = false;
    xs->default_ns_ok = false;
    xs->fed = 0;
    xs->boundary = 0;
    xs->consumed = 0;
    return 0;
}

static void drop_partial(struct xml_stream *xs)
{
    if (xs->cur)
        stanza_unref(xs->cur);
    xs->cur = NULL;
    xs->node = NULL;
}

struct xml_stream *xml_stream_new(const struct xml_stream_limits *limits, const char *content_ns,
                                  const struct xml_stream_callbacks *cb, void *ud)
{
    struct xml_stream *xs = calloc(1, sizeof *xs);
    if (!xs)
        return NULL;
    xs->limits = *limits;
    xs->content_ns = content_ns;
    xs->cb = *cb;
    xs->ud = ud;
    if (setup_parser(xs) < 0) {
        free(xs);
        return NULL;
    }
    return xs;
}

void xml_stream_reset(struct xml_stream *xs)
{
    /* Called from inside a callback: the parser cannot be freed while it is
     * running, so stop it and rebuild in xml_stream_feed. */
    xs->restart = true;
    xs->released = false;
    if (xs->parser)
        XML_StopParser(xs->parser, XML_FALSE);
}

bool xml_stream_release(struct xml_stream *xs)
{
    /* only between stanzas, with nothing of the next one buffered */
    if (!xs->parser || xs->failed || xs->restart || xs->depth != 1 || xs->cur ||
        xs->fed != xs->consumed || xs->root_ns.len > ROOT_NS_MAX)
        return false;
    XML_ParserFree(xs->parser);
    xs->parser = NULL;
    xs->released = true;
    return true;
}

/* Rebuild a released parser: a fresh expat fed a root element with the
 * original namespace declarations, so the next stanza parses exactly as it
 * would have. */
static int revive(struct xml_stream *xs)
{
    xs->released = false;
    if (setup_parser(xs) < 0)
        return ALDIS_ENOMEM;
    xs->default_ns_ok = true;
    xs->replaying = true;
    struct buf hdr;
    buf_init(&hdr);
    buf_adds(&hdr, "<stream:stream");
    buf_add(&hdr, xs->root_ns.data, xs->root_ns.len);
    buf_adds(&hdr, ">");
    enum XML_Status st = XML_Parse(xs->parser, hdr.data, (int)hdr.len, XML_FALSE);
    xs->fed = (long long)hdr.len;
    buf_free(&hdr);
    if (st != XML_STATUS_OK || xs->depth != 1) {
        fail(xs, "internal-server-error", "cannot resume parsing");
        return ALDIS_EPROTO;
    }
    return 0;
}

int xml_stream_feed(struct xml_stream *xs, const char *data, size_t len)
{
    if (xs->failed)
        return ALDIS_EPROTO;
    if (xs->released && !xs->restart && revive(xs) < 0)
        return ALDIS_EPROTO;
    if (xs->restart) {
        /* reset between two feeds (not from a callback): the new stream
         * starts with these bytes */
        drop_partial(xs);
        if (xs->parser)
            XML_ParserFree(xs->parser);
        buf_consume(&xs->root_ns, xs->root_ns.len);
        if (setup_parser(xs) < 0)
            return ALDIS_ENOMEM;
    }
    if (len > (size_t)INT32_MAX)
        len = (size_t)INT32_MAX;
    xs->fed += (long long)len;
    XML_SetReparseDeferralEnabled(xs->parser, xs->fed - xs->consumed > REPARSE_EAGER_MAX);
    enum XML_Status s = XML_Parse(xs->parser, data, (int)len, XML_FALSE);
    if (xs->restart) {
        /* A stream restart (after STARTTLS or SASL success). The client must
         * wait for our response before sending anything more (RFC 6120
         * §5.4.3.3, §6.4.6), so bytes after the restart point in this chunk
         * are discarded: nothing sent in the clear survives a TLS upgrade. */
        drop_partial(xs);
        XML_ParserFree(xs->parser);
        buf_consume(&xs->root_ns, xs->root_ns.len);
        return setup_parser(xs);
    }
    if (xs->failed)
        return ALDIS_EPROTO;
    if (s != XML_STATUS_OK) {
        enum XML_Error e = XML_GetErrorCode(xs->parser);
        const char *msg = XML_ErrorString(e);
        if (e == XML_ERROR_UNDEFINED_ENTITY || e == XML_ERROR_ENTITY_DECLARED_IN_PE ||
            e == XML_ERROR_EXTERNAL_ENTITY_HANDLING)
            fail(xs, "restricted-xml", msg);
        else
            fail(xs, "not-well-formed", msg);
        return ALDIS_EPROTO;
    }
    /* Input expat holds but has not turned into events yet counts too,
     * including a stream header that never ends. */
    if (xs->limits.max_stanza_bytes &&
        xs->fed - xs->boundary > (long long)xs->limits.max_stanza_bytes + 4096) {
        fail(xs, "policy-violation", "stanza too large");
        return ALDIS_EPROTO;
    }
    return 0;
}

void xml_stream_free(struct xml_stream *xs)
{
    if (!xs)
        return;
    drop_partial(xs);
    if (xs->parser)
        XML_ParserFree(xs->parser);
    buf_free(&xs->root_ns);
    free(xs);
}

static void parse_keep_first(void *ud, struct stanza *st)
{
    struct stanza **slot = ud;
    if (*slot)
        stanza_unref(st);
    else
        *slot = st;
}

struct stanza *stanza_parse(const char *data, size_t len)
{
    /* Stored stanzas are trusted-ish (we wrote them) but still parsed with
     * the same restrictions; the stream wrapper supplies jabber:client as
     * the default namespace. */
    static const struct xml_stream_limits lim = {16 * 1024 * 1024, 256, 1024};
    static const char head[] = "<stream:stream xmlns='" NS_CLIENT "' xmlns:stream='" NS_STREAMS "'>";
    struct stanza *result = NULL;
    struct xml_stream_callbacks cb = {.element = parse_keep_first};
    struct xml_stream *xs = xml_stream_new(&lim, NS_CLIENT, &cb, &result);
    if (!xs)
        return NULL;
    if (xml_stream_feed(xs, head, sizeof head - 1) < 0 || xml_stream_feed(xs, data, len) < 0 ||
        xs->depth != 1 || xs->cur) {
        if (result)
            stanza_unref(result);
        result = NULL;
    }
    xml_stream_free(xs);
    return result;
}

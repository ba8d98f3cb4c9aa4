/* xml.h - stanza trees: parsed from the wire by the stream parser or built by
 * modules, serialised once.
 *
 * Ownership: every node, attribute and string of a stanza lives in the
 * stanza's arena, freed in one go when the last reference is dropped.
 * Handlers borrow a stanza for the duration of the call; stanza_ref() keeps
 * it. A stanza handed to the router is frozen: its wire form is computed once
 * and it must not be modified any more (stanza_copy() to change it). The
 * reference count is atomic, so frozen stanzas may cross worker threads. */
#ifndef ALDIS_XML_H
#define ALDIS_XML_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "aldis/buf.h"

#define NS_CLIENT "jabber:client"
#define NS_SERVER "jabber:server"
#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_XML "http://www.w3.org/XML/1998/namespace"

struct arena;

struct xml_attr {
    const char *name;  /* local name ("lang" for xml:lang) */
    const char *ns;    /* NULL for unqualified attributes */
    const char *value; /* unescaped */
    struct xml_attr *next;
};

enum xml_node_kind { XML_ELEM = 0, XML_TEXT = 1 };

struct xml_node {
    enum xml_node_kind kind;
    const char *name; /* element local name; NULL for text */
    const char *ns;   /* element namespace URI (never NULL for elements) */
    struct xml_attr *attrs;
    struct xml_node *parent;
    struct xml_node *children; /* first child */
    struct xml_node *last;     /* last child */
    struct xml_node *next;     /* next sibling */
    const char *text;          /* XML_TEXT: unescaped character data */
    size_t text_len;
};

struct stanza {
    atomic_int refs;
    struct arena *arena;
    struct xml_node *root;
    char *wire; /* serialised bytes, computed once by stanza_freeze() */
    size_t wire_len;
    bool frozen;
    uint64_t born; /* uv_hrtime() when read from a client (0: made by the server),
                      for the routing-latency metric; kept by stanza_copy */
};

/* ---- building ---------------------------------------------------------- */
/* A new stanza with one root element; ns NULL means jabber:client. */
struct stanza *stanza_new(const char *name, const char *ns);
/* Add a child element; ns NULL inherits the parent's namespace. */
struct xml_node *xml_add_child(struct stanza *st, struct xml_node *parent,
                               const char *name, const char *ns);
/* Add character data (copied). */
void xml_add_text(struct stanza *st, struct xml_node *parent, const char *text,
                  size_t len);
/* Set (or replace; value NULL removes) an unqualified attribute. */
void xml_set_attr(struct stanza *st, struct xml_node *el, const char *name,
                  const char *value);
/* Set an attribute in a namespace (e.g. NS_XML "lang"). */
void xml_set_attr_ns(struct stanza *st, struct xml_node *el, const char *ns,
                     const char *name, const char *value);
/* Deep-copy node `src` (from any stanza) as the last child of `parent`. */
struct xml_node *xml_copy_into(struct stanza *st, struct xml_node *parent,
                               const struct xml_node *src);
/* Unlink a node from its parent (memory stays in the arena). */
void xml_remove(struct xml_node *node);
/* Copy a string into the stanza's arena. */
const char *stanza_strdup(struct stanza *st, const char *s);

/* ---- reading ----------------------------------------------------------- */
const char *xml_attr(const struct xml_node *el, const char *name);
const char *xml_attr_ns(const struct xml_node *el, const char *ns,
                        const char *name);
/* First child element matching name and ns (either may be NULL = any). */
struct xml_node *xml_child(const struct xml_node *el, const char *name,
                           const char *ns);
/* Next sibling element after `after` matching name/ns (NULL = any). */
struct xml_node *xml_next(const struct xml_node *after, const char *name,
                          const char *ns);
/* First child element of any name (the payload of an IQ). */
struct xml_node *xml_first_elem(const struct xml_node *el);
/* Concatenated character data of direct text children, in the arena of st
 * (or malloc'd when st is NULL: caller frees). Never NULL. */
const char *xml_text(struct stanza *st, const struct xml_node *el);
bool xml_is(const struct xml_node *el, const char *name, const char *ns);

/* Shortcuts on the root element. */
static inline const char *stanza_name(const struct stanza *st) { return st->root->name; }
static inline const char *stanza_attr(const struct stanza *st, const char *n) { return xml_attr(st->root, n); }
#define stanza_to(st) stanza_attr((st), "to")
#define stanza_from(st) stanza_attr((st), "from")
#define stanza_type(st) stanza_attr((st), "type")
#define stanza_id(st) stanza_attr((st), "id")

/* ---- lifetime ---------------------------------------------------------- */
struct stanza *stanza_ref(struct stanza *st);
void stanza_unref(struct stanza *st);
/* A mutable deep copy (not frozen, refs = 1). */
struct stanza *stanza_copy(const struct stanza *st);
/* Serialise once and mark immutable. Idempotent. Returns st. */
struct stanza *stanza_freeze(struct stanza *st);

/* ---- serialisation ----------------------------------------------------- */
/* Serialise `node` as it would appear inside an element whose default
 * namespace is `parent_ns` (xmlns is written only where it changes). */
void xml_serialize(const struct xml_node *node, const char *parent_ns,
                   struct buf *out);
/* Wire bytes of a stanza in a jabber:client stream (freezes it). */
const char *stanza_wire(struct stanza *st, size_t *len);
/* Serialise to a malloc'd NUL-terminated string (for storage). */
char *stanza_to_string(const struct stanza *st, size_t *len);
/* Parse one complete element (e.g. from storage). NULL on error. Default
 * namespace when none is declared: jabber:client. */
struct stanza *stanza_parse(const char *data, size_t len);

/* ---- replies ----------------------------------------------------------- */
/* An error reply to `st` (RFC 6120 §8.3): to/from swapped, type="error",
 * <error type=...><condition xmlns=stanzas/>[<text/>]</error>. The original
 * payload is included for message and presence. */
struct stanza *stanza_error_reply(const struct stanza *st, const char *type,
                                  const char *condition, const char *text);
/* An empty type="result" IQ answering `iq` (to/from swapped, same id). */
struct stanza *stanza_iq_result(const struct stanza *iq);

/* ---- stream parser ----------------------------------------------------- */
struct xml_stream_limits {
    size_t max_stanza_bytes; /* bytes of one top-level child, default 256 KiB */
    unsigned max_depth;      /* element nesting inside a stanza */
    unsigned max_attrs;      /* attributes on one element */
};

struct xml_stream_callbacks {
    /* <stream:stream ...> opened; `header` holds its attributes (root name
     * "stream", ns NS_STREAMS). Borrowed for the call. */
    void (*open)(void *ud, struct stanza *header);
    /* A complete top-level child (stanza or nonza); callee takes the ref. */
    void (*element)(void *ud, struct stanza *st);
    /* </stream:stream> received. */
    void (*close)(void *ud);
    /* A stream-level error: `condition` is an RFC 6120 §4.9.3 name
     * (not-well-formed, restricted-xml, invalid-namespace, policy-violation,
     * bad-format...). After this the parser accepts no more input. */
    void (*error)(void *ud, const char *condition, const char *text);
};

struct xml_stream;
/* content_ns: the expected default namespace (jabber:client, jabber:server,
 * jabber:component:accept). */
struct xml_stream *xml_stream_new(const struct xml_stream_limits *limits,
                                  const char *content_ns,
                                  const struct xml_stream_callbacks *cb,
                                  void *ud);
/* Feed bytes. Returns 0, or ALDIS_EPROTO after an error callback. Callbacks
 * may call xml_stream_reset() (stream restart after STARTTLS/SASL): the
 * rest of that chunk is discarded (the client must wait for our answer
 * before sending more, and nothing sent in the clear may survive a TLS
 * upgrade); the next feed starts the new stream. */
int xml_stream_feed(struct xml_stream *xs, const char *data, size_t len);
void xml_stream_reset(struct xml_stream *xs);
/* Free the expat parser of an idle stream (between stanzas, nothing
 * buffered); the next feed rebuilds it with the stream's namespace
 * declarations. Returns whether it was released. Saves ~6 KiB per idle
 * session. */
bool xml_stream_release(struct xml_stream *xs);
void xml_stream_free(struct xml_stream *xs);

#endif

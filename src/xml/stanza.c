/* stanza.c - stanza trees: building, reading, copying, serialising once,
 * and the standard replies (RFC 6120 §8.3 errors, IQ results). */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/xml.h"
#include "lib/arena.h"

struct stanza *stanza__alloc(size_t hint)
{
    struct arena *a = arena_new(hint);
    struct stanza *st = arena_alloc(a, sizeof *st);
    st->arena = a;
    atomic_init(&st->refs, 1);
    return st;
}

static struct xml_node *node_new(struct stanza *st, const char *name, const char *ns)
{
    struct xml_node *n = arena_alloc(st->arena, sizeof *n);
    n->kind = XML_ELEM;
    n->name = arena_strdup(st->arena, name);
    n->ns = arena_strdup(st->arena, ns ? ns : "");
    return n;
}

static void node_append(struct xml_node *parent, struct xml_node *child)
{
    child->parent = parent;
    if (parent->last)
        parent->last->next = child;
    else
        parent->children = child;
    parent->last = child;
}

struct stanza *stanza_new(const char *name, const char *ns)
{
    struct stanza *st = stanza__alloc(1024);
    st->root = node_new(st, name, ns ? ns : NS_CLIENT);
    return st;
}

struct xml_node *xml_add_child(struct stanza *st, struct xml_node *parent,
                               const char *name, const char *ns)
{
    ALDIS_ASSERT(!st->frozen);
    struct xml_node *n = node_new(st, name, ns ? ns : parent->ns);
    node_append(parent, n);
    return n;
}

void xml_add_text(struct stanza *st, struct xml_node *parent, const char *text, size_t len)
{
    ALDIS_ASSERT(!st->frozen);
    struct xml_node *n = arena_alloc(st->arena, sizeof *n);
    n->kind = XML_TEXT;
    n->text = arena_strndup(st->arena, text, len);
    n->text_len = len;
    node_append(parent, n);
}

static struct xml_attr **attr_slot(struct xml_node *el, const char *ns, const char *name)
{
    struct xml_attr **pp = &el->attrs;
    for (; *pp; pp = &(*pp)->next) {
        const struct xml_attr *a = *pp;
        if (strcmp(a->name, name) == 0 &&
            ((!ns && !a->ns) || (ns && a->ns && strcmp(ns, a->ns) == 0)))
            return pp;
    }
    return pp;
}

void xml_set_attr_ns(struct stanza *st, struct xml_node *el, const char *ns,
                     const char *name, const char *value)
{
    ALDIS_ASSERT(!st->frozen);
    struct xml_attr **pp = attr_slot(el, ns, name);
    if (!value) {
        if (*pp)
            *pp = (*pp)->next;
        return;
    }
    if (*pp) {
        (*pp)->value = arena_strdup(st->arena, value);
        return;
    }
    struct xml_attr *a = arena_alloc(st->arena, sizeof *a);
    a->name = arena_strdup(st->arena, name);
    a->ns = ns ? arena_strdup(st->arena, ns) : NULL;
    a->value = arena_strdup(st->arena, value);
    *pp = a;
}

void xml_set_attr(struct stanza *st, struct xml_node *el, const char *name, const char *value)
{
    xml_set_attr_ns(st, el, NULL, name, value);
}

static struct xml_node *copy_node(struct stanza *st, const struct xml_node *src)
{
    struct xml_node *n = arena_alloc(st->arena, sizeof *n);
    n->kind = src->kind;
    if (src->kind == XML_TEXT) {
        n->text = arena_strndup(st->arena, src->text, src->text_len);
        n->text_len = src->text_len;
        return n;
    }
    n->name = arena_strdup(st->arena, src->name);
    n->ns = arena_strdup(st->arena, src->ns);
    struct xml_attr **tail = &n->attrs;
    for (const struct xml_attr *a = src->attrs; a; a = a->next) {
        struct xml_attr *c = arena_alloc(st->arena, sizeof *c);
        c->name = arena_strdup(st->arena, a->name);
        c->ns = a->ns ? arena_strdup(st->arena, a->ns) : NULL;
        c->value = arena_strdup(st->arena, a->value);
        *tail = c;
        tail = &c->next;
    }
    for (const struct xml_node *ch = src->children; ch; ch = ch->next)
        node_append(n, copy_node(st, ch));
    return n;
}

struct xml_node *xml_copy_into(struct stanza *st, struct xml_node *parent,
                               const struct xml_node *src)
{
    ALDIS_ASSERT(!st->frozen);
    struct xml_node *n = copy_node(st, src);
    node_append(parent, n);
    return n;
}

void xml_remove(struct xml_node *node)
{
    struct xml_node *p = node->parent;
    if (!p)
        return;
    struct xml_node *prev = NULL;
    for (struct xml_node *c = p->children; c; prev = c, c = c->next) {
        if (c != node)
            continue;
        if (prev)
            prev->next = c->next;
        else
            p->children = c->next;
        if (p->last == c)
            p->last = prev;
        break;
    }
    node->parent = NULL;
    node->next = NULL;
}

const char *stanza_strdup(struct stanza *st, const char *s) { return arena_strdup(st->arena, s); }

/* ---- reading ---- */

const char *xml_attr_ns(const struct xml_node *el, const char *ns, const char *name)
{
    for (const struct xml_attr *a = el->attrs; a; a = a->next)
        if (strcmp(a->name, name) == 0 &&
            ((!ns && !a->ns) || (ns && a->ns && strcmp(a->ns, ns) == 0)))
            return a->value;
    return NULL;
}

const char *xml_attr(const struct xml_node *el, const char *name) { return xml_attr_ns(el, NULL, name); }

bool xml_is(const struct xml_node *el, const char *name, const char *ns)
{
    return el && el->kind == XML_ELEM && (!name || strcmp(el->name, name) == 0) &&
           (!ns || strcmp(el->ns, ns) == 0);
}

struct xml_node *xml_next(const struct xml_node *after, const char *name, const char *ns)
{
    for (struct xml_node *c = after ? after->next : NULL; c; c = c->next)
        if (xml_is(c, name, ns))
            return c;
    return NULL;
}

struct xml_node *xml_child(const struct xml_node *el, const char *name, const char *ns)
{
    if (!el)
        return NULL;
    for (struct xml_node *c = el->children; c; c = c->next)
        if (xml_is(c, name, ns))
            return c;
    return NULL;
}

struct xml_node *xml_first_elem(const struct xml_node *el) { return xml_child(el, NULL, NULL); }

const char *xml_text(struct stanza *st, const struct xml_node *el)
{
    struct buf b;
    buf_init(&b);
    if (el)
        for (const struct xml_node *c = el->children; c; c = c->next)
            if (c->kind == XML_TEXT)
                buf_add(&b, c->text, c->text_len);
    buf_cstr(&b);
    if (!st)
        return buf_steal(&b, NULL);
    const char *r = arena_strndup(st->arena, b.data, b.len);
    buf_free(&b);
    return r;
}

/* ---- lifetime ---- */

struct stanza *stanza_ref(struct stanza *st)
{
    atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
    return st;
}

void stanza_unref(struct stanza *st)
{
    if (!st)
        return;
    if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(st->wire);
    arena_free(st->arena);
}

struct stanza *stanza_copy(const struct stanza *src)
{
    struct stanza *st = stanza__alloc(arena_size(src->arena));
    st->root = copy_node(st, src->root);
    st->born = src->born;
    return st;
}

struct stanza *stanza_freeze(struct stanza *st)
{
    if (st->frozen)
        return st;
    struct buf b;
    buf_init(&b);
    xml_serialize(st->root, NS_CLIENT, &b);
    st->wire = buf_steal(&b, &st->wire_len);
    st->frozen = true;
    return st;
}

/* ---- serialisation ---- */

static void serialize_attrs(const struct xml_node *el, struct buf *out)
{
    int prefix = 0;
    for (const struct xml_attr *a = el->attrs; a; a = a->next) {
        size_t vlen = strlen(a->value);
        if (!a->ns) {
            buf_printf(out, " %s='", a->name);
        } else if (strcmp(a->ns, NS_XML) == 0) {
            buf_printf(out, " xml:%s='", a->name);
        } else {
            buf_printf(out, " xmlns:a%d='", prefix);
            buf_add_xml_escaped(out, a->ns, strlen(a->ns), 1);
            buf_printf(out, "' a%d:%s='", prefix, a->name);
            prefix++;
        }
        buf_add_xml_escaped(out, a->value, vlen, 1);
        buf_addc(out, '\'');
    }
}

void xml_serialize(const struct xml_node *node, const char *parent_ns, struct buf *out)
{
    if (node->kind == XML_TEXT) {
        buf_add_xml_escaped(out, node->text, node->text_len, 0);
        return;
    }
    buf_addc(out, '<');
    buf_adds(out, node->name);
    if (!parent_ns || strcmp(parent_ns, node->ns) != 0) {
        buf_adds(out, " xmlns='");
        buf_add_xml_escaped(out, node->ns, strlen(node->ns), 1);
        buf_addc(out, '\'');
    }
    serialize_attrs(node, out);
    if (!node->children) {
        buf_adds(out, "/>");
        return;
    }
    buf_addc(out, '>');
    for (const struct xml_node *c = node->children; c; c = c->next)
        xml_serialize(c, node->ns, out);
    buf_adds(out, "</");
    buf_adds(out, node->name);
    buf_addc(out, '>');
}

const char *stanza_wire(struct stanza *st, size_t *len)
{
    stanza_freeze(st);
    if (len)
        *len = st->wire_len;
    return st->wire;
}

char *stanza_to_string(const struct stanza *st, size_t *len)
{
    struct buf b;
    buf_init(&b);
    xml_serialize(st->root, NULL, &b);
    return buf_steal(&b, len);
}

/* ---- replies ---- */

static void swap_addresses(struct stanza *reply, const struct stanza *orig)
{
    const char *to = stanza_to(orig), *from = stanza_from(orig), *id = stanza_id(orig);
    xml_set_attr(reply, reply->root, "from", to);
    xml_set_attr(reply, reply->root, "to", from);
    if (id)
        xml_set_attr(reply, reply->root, "id", id);
}

struct stanza *stanza_error_reply(const struct stanza *st, const char *type,
                                  const char *condition, const char *text)
{
    struct stanza *r;
    if (strcmp(stanza_name(st), "iq") == 0) {
        r = stanza_new("iq", st->root->ns);
        /* RFC 6120 §8.3.1: the payload may be included; we include it so
         * clients can match the failed request. */
        for (const struct xml_node *c = st->root->children; c; c = c->next)
            if (c->kind == XML_ELEM)
                xml_copy_into(r, r->root, c);
    } else {
        r = stanza_copy(st);
        r->root->attrs = NULL;
        /* drop a previous error child if any */
        struct xml_node *old = xml_child(r->root, "error", NULL);
        if (old)
            xml_remove(old);
    }
    swap_addresses(r, st);
    xml_set_attr(r, r->root, "type", "error");
    struct xml_node *err = xml_add_child(r, r->root, "error", NULL);
    xml_set_attr(r, err, "type", type);
    xml_add_child(r, err, condition, NS_STANZAS);
    if (text) {
        struct xml_node *t = xml_add_child(r, err, "text", NS_STANZAS);
        xml_set_attr_ns(r, t, NS_XML, "lang", "en");
        xml_add_text(r, t, text, strlen(text));
    }
    return r;
}

struct stanza *stanza_iq_result(const struct stanza *iq)
{
    struct stanza *r = stanza_new("iq", iq->root->ns);
    swap_addresses(r, iq);
    xml_set_attr(r, r->root, "type", "result");
    return r;
}

/* pep_bookmarks.c - PEP Native Bookmarks (XEP-0402) and their legacy copy:
 * the urn:xmpp:bookmarks:1 node is an ordinary PEP node, and this file keeps
 * the XEP-0048 <storage xmlns='storage:bookmarks'/> that older clients read
 * through private XML storage (XEP-0049, mod_private's kv key) in step with
 * it, both ways (the urn:xmpp:bookmarks:1#compat feature, as XEP-0411 did
 * for XEP-0048's own PEP node). Owner worker only. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "aldis/store_pubsub.h"
#include "modules/pep.h"

/* ---- PEP -> legacy -------------------------------------------------------- */

/* mod_private's key for <storage xmlns='storage:bookmarks'/>. */
#define BOOKMARKS_PRIVATE_KEY "private:{" NS_BOOKMARKS_LEGACY "}storage"

static struct pep_state *state_of(struct account *acct)
{
    return MODULE_DATA(acct, mod_pep);
}

static void child_text_copy(struct stanza *st, struct xml_node *parent, const struct xml_node *src,
                            const char *name, const char *src_ns, const char *dst_ns)
{
    struct xml_node *c = xml_child(src, name, src_ns);
    if (!c)
        return;
    char *text = (char *)xml_text(NULL, c);
    struct xml_node *el = xml_add_child(st, parent, name, dst_ns);
    xml_add_text(st, el, text, strlen(text));
    free(text);
}

/* PEP -> private storage: the legacy <storage xmlns='storage:bookmarks'/>
 * rebuilt from every bookmark item (XEP-0402 "Publishing via this
 * specification": the jid attribute is the item id), stored where
 * mod_private keeps it. */
static void bookmarks_mirror(struct account *acct, const struct pep_node *node)
{
    struct stanza *st = stanza_new("private", NS_PRIVATE);
    struct xml_node *storage = xml_add_child(st, st->root, "storage", NS_BOOKMARKS_LEGACY);
    for (size_t i = 0; node && i < node->nitems; i++) {
        const struct pep_item *it = &node->items[i];
        const struct xml_node *conf = it->payload ? it->payload->root : NULL;
        if (!conf || !xml_is(conf, "conference", NS_BOOKMARKS))
            continue;
        struct xml_node *c = xml_add_child(st, storage, "conference", NS_BOOKMARKS_LEGACY);
        xml_set_attr(st, c, "jid", it->id);
        if (xml_attr(conf, "name"))
            xml_set_attr(st, c, "name", xml_attr(conf, "name"));
        xml_set_attr(st, c, "autojoin", pep_attr_true(xml_attr(conf, "autojoin")) ? "true" : "false");
        child_text_copy(st, c, conf, "nick", NS_BOOKMARKS, NS_BOOKMARKS_LEGACY);
        child_text_copy(st, c, conf, "password", NS_BOOKMARKS, NS_BOOKMARKS_LEGACY);
    }
    size_t len;
    char *xml = stanza_to_string(st, &len);
    store_kv_put(acct->bare, BOOKMARKS_PRIVATE_KEY, xml, len, NULL, NULL);
    free(xml);
    stanza_unref(st);
}

void pep_bookmarks_changed(struct account *acct, const char *node_name,
                           const struct pep_node *node)
{
    if (strcmp(node_name, NS_BOOKMARKS) == 0)
        bookmarks_mirror(acct, node);
}

/* ---- legacy -> PEP (XEP-0402 "Publishing via the old specification") ---- */

/* The PEP payload for one legacy <conference/>. */
static struct stanza *bookmark_from_legacy(const struct xml_node *legacy)
{
    struct stanza *st = stanza_new("conference", NS_BOOKMARKS);
    const char *name = xml_attr(legacy, "name");
    if (name)
        xml_set_attr(st, st->root, "name", name);
    xml_set_attr(st, st->root, "autojoin",
                 pep_attr_true(xml_attr(legacy, "autojoin")) ? "true" : "false");
    child_text_copy(st, st->root, legacy, "nick", NS_BOOKMARKS_LEGACY, NS_BOOKMARKS);
    child_text_copy(st, st->root, legacy, "password", NS_BOOKMARKS_LEGACY, NS_BOOKMARKS);
    return st;
}

/* Is `b` the same payload as `a` (which may be NULL)? *size gets b's
 * serialised size. */
static bool payload_same(const struct stanza *a, const struct stanza *b, size_t *size)
{
    char *sb = stanza_to_string(b, size);
    char *sa = a ? stanza_to_string(a, NULL) : NULL;
    bool same = sa && strcmp(sa, sb) == 0;
    free(sa);
    free(sb);
    return same;
}

/* A client stored legacy bookmarks through XEP-0049: bring the
 * urn:xmpp:bookmarks:1 node in line, item by item, notifying only what
 * changed. mod_private still stores the legacy copy itself. */
void pep_bookmarks_from_private(struct account *acct, const struct jid *from,
                                const struct xml_node *storage)
{
    struct pep_state *ps = state_of(acct);
    struct pep_node *node = pep_node_find(ps, NS_BOOKMARKS);
    if (!node) {
        /* XEP-0402 §"Account setup": the node's configuration. */
        struct pep_config cfg;
        pep_config_default(&cfg);
        cfg.access = PEP_ACCESS_WHITELIST;
        cfg.max_items = -1;
        cfg.send_last = PEP_SEND_NEVER;
        if (!(node = pep_node_add(ps, NS_BOOKMARKS, &cfg))) {
            pep_config_clear(&cfg);
            return;
        }
        pep_store_node(acct->bare, node);
    }
    char publisher[JID_STR_MAX];
    jid_full(from, publisher, sizeof publisher);
    for (struct xml_node *c = xml_child(storage, "conference", NS_BOOKMARKS_LEGACY); c;
         c = xml_next(c, "conference", NS_BOOKMARKS_LEGACY)) {
        const char *room = xml_attr(c, "jid");
        struct jid j;
        if (!room || strlen(room) > PEP_MAX_ID || jid_parse(room, &j) < 0)
            continue;
        struct stanza *payload = bookmark_from_legacy(c);
        struct pep_item *old = pep_item_find(node, room);
        size_t size;
        if (payload_same(old ? old->payload : NULL, payload, &size) ||
            pep_state_bytes(ps) - (old ? old->size : 0) + size >
                (size_t)pep_opt_max_account_bytes) {
            stanza_unref(payload);
            continue;
        }
        pep_item_put(node, room, publisher, payload, NULL, size);
        const struct pep_item *it = pep_item_find(node, room);
        if (!it)
            continue; /* dropped by the item limit */
        pep_store_item(acct->bare, node, it);
        pep_notify_item(acct, node, it);
    }
    /* Bookmarks no longer listed are retracted. */
    for (size_t i = node->nitems; i-- > 0;) {
        bool listed = false;
        for (struct xml_node *c = xml_child(storage, "conference", NS_BOOKMARKS_LEGACY);
             c && !listed; c = xml_next(c, "conference", NS_BOOKMARKS_LEGACY))
            listed = xml_attr(c, "jid") && strcmp(xml_attr(c, "jid"), node->items[i].id) == 0;
        if (listed)
            continue;
        char *id = strdup(node->items[i].id);
        ALDIS_ASSERT(id != NULL);
        pep_item_remove(node, &node->items[i]);
        store_pubsub_item_del(acct->bare, NS_BOOKMARKS, id, NULL, NULL);
        pep_notify_retract(acct, node, id, NULL); /* bookmarks carry no label */
        free(id);
    }
}

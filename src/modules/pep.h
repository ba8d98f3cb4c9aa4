/* pep.h - the pieces of the PEP module (XEP-0163) shared by its files:
 *   pep_node.c   nodes, their configuration (XEP-0060 §16.4.4 fields) and
 *                items, kept in memory per account and written through to
 *                the store (store_pubsub.h);
 *   pep_caps.c   Entity Capabilities (XEP-0115): who is available with
 *                which features, a verified process-wide cache of caps
 *                hashes, and the disco#info queries that fill it;
 *   pep_bookmarks.c  XEP-0402 bookmarks and their legacy (XEP-0048/0049) copy;
 *   mod_pep.c    the module: IQ handlers, notifications, hooks.
 * Everything here runs on the account's owner worker, except the caps
 * cache, which is shared and locked. */
#ifndef ALDIS_MOD_PEP_H
#define ALDIS_MOD_PEP_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "aldis/module.h"
#include "aldis/xml.h"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_PUBSUB_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define NS_PUBSUB_NODE_CONFIG "http://jabber.org/protocol/pubsub#node_config"
#define NS_PUBSUB_PUBLISH_OPTIONS "http://jabber.org/protocol/pubsub#publish-options"
#define NS_DATA "jabber:x:data"
#define NS_CAPS "http://jabber.org/protocol/caps"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_BOOKMARKS "urn:xmpp:bookmarks:1"
#define NS_BOOKMARKS_LEGACY "storage:bookmarks"
#define NS_PRIVATE "jabber:iq:private"

#define PEP_MAX_ID 1024 /* bytes of an item id or node name */

extern struct module mod_pep;

/* Module options (mod_pep.c reads them at init). */
extern long pep_opt_max_items;     /* what "max" means, and the cap on max_items */
extern long pep_opt_max_nodes;     /* nodes per account */
extern long pep_opt_max_item_size; /* bytes of one serialised payload */
extern long pep_opt_max_account_bytes; /* payload bytes kept per account */

/* ---- nodes (pep_node.c) ------------------------------------------------- */

enum pep_access { PEP_ACCESS_OPEN, PEP_ACCESS_PRESENCE, PEP_ACCESS_ROSTER, PEP_ACCESS_WHITELIST };
enum pep_send_last { PEP_SEND_NEVER, PEP_SEND_ON_SUB, PEP_SEND_ON_SUB_AND_PRESENCE };

/* XEP-0060 §16.4.4 node configuration, the subset PEP uses. */
struct pep_config {
    enum pep_access access;
    long max_items;          /* -1: "max" (pep_opt_max_items) */
    bool persist_items;
    enum pep_send_last send_last;
    bool notify_retract;
    bool notify_delete;
    bool deliver_payloads;
    bool deliver_notifications;
    bool notification_normal; /* pubsub#notification_type normal, else headline */
    char *title;              /* NULL when none */
    char **groups;            /* pubsub#roster_groups_allowed */
    size_t ngroups;
};

struct pep_item {
    char *id;
    char *publisher;        /* full JID of the publishing resource */
    struct stanza *payload; /* frozen; root = the payload element; NULL when none */
    size_t size;            /* serialised payload bytes (for the quota) */
};

struct pep_node {
    char *name;
    struct pep_config cfg;
    struct pep_item *items; /* oldest first */
    size_t nitems;
    size_t bytes;           /* sum of the items' sizes */
};

struct pep_peer;
struct pep_query;

/* Per account (MODULE_DATA(acct, mod_pep)). */
struct pep_state {
    struct pep_node **nodes;
    size_t nnodes;
    bool broken;             /* loading failed: refuse writes */
    struct pep_peer *peers;  /* available resources we know the caps of */
    size_t npeers;
    struct pep_query *queries; /* disco#info queries in flight */
    size_t nqueries;
    unsigned next_query_id;
};

void pep_config_default(struct pep_config *cfg);
void pep_config_clear(struct pep_config *cfg);
int pep_config_copy(struct pep_config *dst, const struct pep_config *src);
/* The effective item limit (never 0 or "max"). */
long pep_config_max(const struct pep_config *cfg);
/* Apply one field; 0, or ALDIS_ENOTFOUND for a field we do not know, or
 * ALDIS_EINVAL for a bad value (text describes it). */
int pep_config_set(struct pep_config *cfg, const char *var, const char *const *values,
                   size_t nvalues);
/* Does the field `var` with these values match cfg (publish-options
 * preconditions, XEP-0060 §7.1.5)? Unknown fields never match. */
bool pep_config_matches(const struct pep_config *cfg, const char *var,
                        const char *const *values, size_t nvalues);
/* Apply every field of a data form (FORM_TYPE skipped; it must be
 * `form_type` when present). Returns 0, or the first error as above with
 * *bad_var naming the field (borrowed from the form). */
int pep_config_apply_form(struct pep_config *cfg, const struct xml_node *x,
                          const char *form_type, const char **bad_var);
/* Check every field of a publish-options form against cfg; false with
 * *bad_var on the first mismatch. */
bool pep_config_form_matches(const struct pep_config *cfg, const struct xml_node *x,
                             const char **bad_var);
/* Add the node_config form (type "form") for cfg under parent. */
void pep_config_form(struct stanza *st, struct xml_node *parent, const struct pep_config *cfg);
/* Storage form: "var=value" lines (malloc'd), and back. */
char *pep_config_serialize(const struct pep_config *cfg);
void pep_config_parse(struct pep_config *cfg, const char *text);

struct pep_node *pep_node_find(struct pep_state *ps, const char *name);
/* A new node in memory (no store write); NULL when the account has
 * pep_opt_max_nodes already. Takes cfg's contents. */
struct pep_node *pep_node_add(struct pep_state *ps, const char *name, struct pep_config *cfg);
void pep_node_remove(struct pep_state *ps, struct pep_node *node);
void pep_node_free(struct pep_node *node);
struct pep_item *pep_item_find(struct pep_node *node, const char *id);
/* Add or replace (the replaced one becomes the newest); takes `payload`'s
 * reference (NULL for an item without payload). The oldest items beyond the
 * node's limit are dropped from memory; the store trims itself the same way
 * when the item is written (store_pubsub_item_put's max_items). */
void pep_item_put(struct pep_node *node, const char *id, const char *publisher,
                  struct stanza *payload, size_t size);
/* Payload bytes kept by all the account's nodes. */
size_t pep_state_bytes(const struct pep_state *ps);
void pep_item_remove(struct pep_node *node, struct pep_item *item);
void pep_items_clear(struct pep_node *node);
/* Drop the oldest items beyond the limit (after a configuration change). */
void pep_items_trim(struct pep_node *node);
/* A fresh item id (XEP-0060 §7.1.1: the service generates one). */
void pep_item_id_new(char *out, size_t size);

/* Load every node of acct from the store; calls done(acct) once. */
void pep_state_load(struct account *acct, void (*done)(struct account *));
void pep_state_free(struct pep_state *ps);

/* Write-through helpers (fire-and-forget; failures are logged). */
void pep_store_node(struct account *acct, const struct pep_node *node);
void pep_store_item(struct account *acct, const struct pep_node *node, const struct pep_item *item);

/* ---- caps and peers (pep_caps.c) ---------------------------------------- */

/* A feature list from one disco#info result, sorted; shared (refcounted)
 * when it sits in the process-wide cache. Immutable once made. */
struct pep_caps {
    atomic_int refs;
    size_t n;
    char **features;
};

/* One available resource (a contact's, or the account's own) and what
 * its client told us about itself. */
struct pep_peer {
    char *full;
    char *bare;
    bool own;
    bool asked;              /* a disco#info query went to it */
    bool want_last;          /* send last items once the caps are known */
    char *caps_key;          /* "hash ver" (or "node#ver" for legacy caps), NULL = no caps */
    char *caps_node, *ver, *hash;
    struct pep_caps *caps;   /* NULL while unknown */
    struct pep_caps *old_caps; /* before a caps change, until resolved */
    struct pep_peer *next;
};

struct pep_query {
    char id[32];
    char *to;       /* the full JID asked */
    char *caps_key;
};

bool pep_caps_has(const struct pep_caps *caps, const char *feature);
void pep_caps_unref(struct pep_caps *caps);

struct pep_peer *pep_peer_find(struct pep_state *ps, const char *full);
/* Presence from `full` (own resource or contact): record it and its caps.
 * `presence` is the available presence. Returns the peer (new or updated)
 * or NULL when the account tracks too many; *is_new when it was not
 * available before. Resolves the caps from the cache or asks for them. */
struct pep_peer *pep_peer_available(struct account *acct, const char *full, bool own,
                                    const struct stanza *presence, bool *is_new);
void pep_peer_gone(struct account *acct, const char *full);
void pep_peers_free(struct pep_state *ps);
/* HOOK_IQ_IN: a disco#info result/error for one of our queries. Returns
 * true when it was ours (consumed). Calls pep_caps_resolved for each peer
 * that learnt its features. */
bool pep_caps_iq_result(struct account *acct, struct stanza *iq, const struct jid *from);

/* Implemented in mod_pep.c: a peer's caps just became known. */
void pep_caps_resolved(struct account *acct, struct pep_peer *peer);

/* ---- notifications (mod_pep.c) ------------------------------------------ */

/* An item published / retracted: notify whoever wants it. */
void pep_notify_item(struct account *acct, const struct pep_node *node,
                     const struct pep_item *item);
void pep_notify_retract(struct account *acct, const struct pep_node *node, const char *id);
/* XEP-0004 boolean true ("true" or "1"). */
bool pep_attr_true(const char *v);

/* ---- bookmarks (pep_bookmarks.c) ------------------------------------------- */

/* The node `node_name` changed (node NULL: deleted): when it is the
 * XEP-0402 bookmarks node, rewrite the legacy private-storage copy. */
void pep_bookmarks_changed(struct account *acct, const char *node_name,
                           const struct pep_node *node);
/* The user stored legacy bookmarks (XEP-0049): update the PEP node. */
void pep_bookmarks_from_private(struct account *acct, const struct jid *from,
                                const struct xml_node *storage);

/* XEP-0115 §5.1 verification string hash (base64 SHA-1/-256) of a
 * disco#info <query/>; NULL when the hash is unsupported or the query is
 * malformed (§5.4: duplicate identities/features or form fields). The
 * result is malloc'd. Exposed for unit tests. */
char *pep_caps_hash(const struct xml_node *query, const char *hash_name);

#endif

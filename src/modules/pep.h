/* pep.h - the XEP-0060 node engine and the pieces of the PEP module
 * (XEP-0163) shared by its files. The node engine (pep_node.c) is shared by
 * PEP on accounts and the PubSub service on pubsub.HOST (mod_pubsub.c):
 *   pep_node.c   nodes, their configuration (XEP-0060 §16.4.4 fields),
 *                affiliations and subscriptions (used by the service only),
 *                items, payload checks, item results and event
 *                notifications, kept in memory per account or service and
 *                written through to the store (store_pubsub.h);
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
#include "aldis/store_pubsub.h"
#include "aldis/xml.h"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_PUBSUB_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define NS_PUBSUB_NODE_CONFIG "http://jabber.org/protocol/pubsub#node_config"
#define NS_PUBSUB_PUBLISH_OPTIONS "http://jabber.org/protocol/pubsub#publish-options"
#define NS_DATA "jabber:x:data"
/* XEP-0314: the label of items (attributes 'id'/'label' in results) */
#define NS_SL_PUBSUB "urn:xmpp:sec-label:pubsub:0"
/* Ours: the element holding an item's label in memory, and the stored
 * form of a labelled item: <stored><payload/><securitylabel/></stored> */
#define NS_PEP_STORED "urn:aldis:pubsub:stored:0"
#define PEP_LABEL_HOLDER "label-holder"
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

/* XEP-0060 §4.5 access models; PEP refuses authorize (no owner to ask
 * but the user, and no subscriptions to approve). */
enum pep_access {
    PEP_ACCESS_OPEN,
    PEP_ACCESS_PRESENCE,
    PEP_ACCESS_ROSTER,
    PEP_ACCESS_WHITELIST,
    PEP_ACCESS_AUTHORIZE,
};
/* pubsub#publish_model (XEP-0060 §16.4.4); PEP allows only publishers
 * (XEP-0163 §2.2), the service all three. */
enum pep_publish_model { PEP_PUBLISH_PUBLISHERS, PEP_PUBLISH_SUBSCRIBERS, PEP_PUBLISH_OPEN };
/* XEP-0060 §4.1 affiliations, weakest first (publish-only is not kept). */
enum pep_affiliation {
    PEP_AFF_OUTCAST,
    PEP_AFF_NONE,
    PEP_AFF_MEMBER,
    PEP_AFF_PUBLISHER,
    PEP_AFF_OWNER,
};
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
    enum pep_publish_model publish_model;
    char *title;              /* NULL when none */
    char **groups;            /* pubsub#roster_groups_allowed */
    size_t ngroups;
};

struct pep_item {
    char *id;
    char *publisher;        /* full JID of the publishing resource */
    struct stanza *payload; /* frozen; root = the payload element; NULL when none */
    /* XEP-0314: the <securitylabel/> published with the item (in
     * <publish/>), as the one child of a PEP_LABEL_HOLDER root (frozen);
     * NULL when none. */
    struct stanza *label;
    size_t size;            /* serialised payload and label bytes (for the quota) */
};

/* A non-none affiliation of a bare JID with a node (service only). */
struct pep_affil {
    char *jid;
    enum pep_affiliation aff;
};

/* A subscription (service only): the subscribed JID (bare or full, as
 * asked, XEP-0060 §6.1) and its subid. */
struct pep_sub {
    char *jid;
    char *subid;
    bool pending; /* awaiting an owner's approval (authorize, §6.1.3.x) */
};

struct pep_node {
    char *name;
    struct pep_config cfg;
    struct pep_item *items; /* oldest first */
    size_t nitems;
    size_t bytes;           /* sum of the items' sizes */
    /* Service nodes only (PEP's owner is the account, its subscriptions
     * implicit): kept in the stored config text as extra lines. */
    struct pep_affil *affs;
    size_t naffs;
    struct pep_sub *subs;
    size_t nsubs;
    char *creator;          /* bare JID, NULL when unknown */
    long long created;      /* seconds since the epoch, 0 when unknown */
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
    long max_nodes;          /* 0: pep_opt_max_nodes */
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
/* The whole node's stored text: its configuration plus its affiliations,
 * subscriptions and creation lines (which pep_config_parse skips, so PEP
 * and service nodes share one format). malloc'd. */
char *pep_node_serialize(const struct pep_node *node);
/* Read the affiliation/subscription/creation lines of a stored text. */
void pep_node_parse_extra(struct pep_node *node, const char *text);

/* ---- affiliations and subscriptions (service nodes) ----------------------- */

const char *pep_affiliation_name(enum pep_affiliation aff);
/* 0, or ALDIS_EINVAL for an unknown name. */
int pep_affiliation_parse(const char *name, enum pep_affiliation *out);
/* The affiliation of a bare JID (PEP_AFF_NONE when it has none). */
enum pep_affiliation pep_node_affiliation(const struct pep_node *node, const char *bare);
/* Set (NONE removes). ALDIS_ELIMIT beyond `max` entries. */
int pep_node_affiliation_set(struct pep_node *node, const char *bare, enum pep_affiliation aff,
                             size_t max);
size_t pep_node_owner_count(const struct pep_node *node);
/* The subscription of exactly `jid`, or NULL. */
struct pep_sub *pep_node_sub_find(struct pep_node *node, const char *jid);
/* A new subscription with a fresh subid; NULL beyond `max`. */
struct pep_sub *pep_node_sub_add(struct pep_node *node, const char *jid, size_t max);
void pep_node_sub_remove(struct pep_node *node, struct pep_sub *sub);
struct pep_node *pep_node_find(struct pep_state *ps, const char *name);
/* A new node in memory (no store write); NULL when the account has
 * pep_opt_max_nodes already. Takes cfg's contents. */
struct pep_node *pep_node_add(struct pep_state *ps, const char *name, struct pep_config *cfg);
void pep_node_remove(struct pep_state *ps, struct pep_node *node);
void pep_node_free(struct pep_node *node);
struct pep_item *pep_item_find(struct pep_node *node, const char *id);
/* Add or replace (the replaced one becomes the newest); takes `payload`'s
 * and `label`'s references (NULL for an item without payload / label). The
 * oldest items beyond the node's limit are dropped from memory; the store
 * trims itself the same way when the item is written (store_pubsub_item_put's
 * max_items). */
void pep_item_put(struct pep_node *node, const char *id, const char *publisher,
                  struct stanza *payload, struct stanza *label, size_t size);
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
/* A state holding the nodes of a store_pubsub_load answer (records whose
 * payload does not parse are skipped and logged under `who`). */
struct pep_state *pep_state_from_records(const struct pubsub_node_rec *nodes, size_t n,
                                         const char *who);
void pep_state_free(struct pep_state *ps);

/* Write-through helpers, `service` being the store key (the account's
 * bare JID for PEP, the service domain for pubsub.HOST); fire-and-forget. */
void pep_store_node(const char *service, const struct pep_node *node);
void pep_store_item(const char *service, const struct pep_node *node,
                    const struct pep_item *item);

/* ---- protocol pieces shared by PEP and the service -------------------------- */

/* What a <publish/> carries (XEP-0060 §7.1.1, XEP-0314 §7.1). */
struct pep_publish {
    struct stanza *payload; /* the item's one payload, as a stanza of its own */
    struct stanza *label;   /* the <securitylabel/> of the <publish/>, or NULL */
    size_t size;            /* serialised payload and label bytes */
    char id[PEP_MAX_ID + 1]; /* the item id given, or a new one */
};
/* Read and check a publish: exactly one <item/> (item-required,
 * invalid-payload), an acceptable id, exactly one payload element within
 * the size limit (XEP-0060 §7.1.3), at most one label. 0, or -1 with
 * *type / *cond / *app naming the error to answer (nothing to free). */
int pep_publish_take(const struct xml_node *publish, struct pep_publish *out, const char **type,
                     const char **cond, const char **app);
/* Drop what pep_publish_take gave when the publish fails later. */
void pep_publish_drop(struct pep_publish *pub);
/* The end of a publish (XEP-0060 §7.1.2): keep the item (taking the
 * payload's and label's references), write it through under `service`, and
 * answer `iq` with the item id (it may be ours). Returns the stored item,
 * for the notifications. */
const struct pep_item *pep_publish_commit(const char *service, struct pep_node *node,
                                          const struct stanza *iq, const struct jid *publisher,
                                          struct pep_publish *pub);

/* Route an error reply to `iq`, with an optional XEP-0060 §7 application
 * condition in the pubsub#errors namespace (and its 'feature' for
 * unsupported). Returns 0. */
int pep_iq_error(const struct stanza *iq, const char *type, const char *cond, const char *app,
                 const char *feature);
/* A <configure/> submission (XEP-0060 §8.2.5, §8.2.6): 1 when it is a
 * cancel (answer a plain result); 0 with *out the node's configuration with
 * the form applied (all or nothing, §8.2.5.3: the caller owns it); -1 with
 * *cond the error (bad-request, not-acceptable). */
int pep_configure_take(const struct pep_node *node, const struct xml_node *configure,
                       struct pep_config *out, const char **cond);
/* Install `cfg` (taken) as the node's configuration, bringing its items in
 * line in memory and in the store under `service`: items beyond a lowered
 * limit go, a node that stops persisting is purged, one that starts writes
 * its items. The caller then stores the node itself. */
void pep_configure_commit(const char *service, struct pep_node *node, struct pep_config *cfg);
/* Answer an items request (XEP-0060 §6.5: all, the newest max_items, or
 * by id) from `node`, access already checked. */
int pep_items_answer(const struct stanza *iq, const struct pep_node *node,
                     const struct xml_node *items_el);
/* A notification message (XEP-0060 §7.1.2) from `from`, without 'to';
 * *event_out gets its <event/>. */
struct stanza *pep_event_new(const char *from, const struct pep_node *node,
                             struct xml_node **event_out);
/* <items node><item id>payload</item></items> under parent, and the
 * item's XEP-0314 label on the message itself (so the recipients' checks
 * see it; XEP-0314 §7.1). */
void pep_event_add_item(struct stanza *st, struct xml_node *parent, const struct pep_node *node,
                        const struct pep_item *item);
/* <items node><retract id/></items> under parent, with the retracted
 * item's label (NULL: none) on the message: those not cleared for the item
 * are not told it went either (XEP-0314 §7.2). */
void pep_event_add_retract(struct stanza *st, struct xml_node *parent,
                           const struct pep_node *node, const char *id,
                           const struct stanza *label);

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
void pep_notify_retract(struct account *acct, const struct pep_node *node, const char *id,
                        const struct stanza *label);
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

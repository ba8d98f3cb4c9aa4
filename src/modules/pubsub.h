/* pubsub.h - the pieces of the PubSub service module (XEP-0060 on
 * "pubsub.HOST") shared by its files:
 *   mod_pubsub.c    the module, the service state on its owner worker,
 *                   loading from the store, dispatch, disco,
 *                   notifications and the entity use cases (§6, §7);
 *   pubsub_access.c access models, disco visibility, approvals (§4.5,
 *                   §8.6);
 *   pubsub_owner.c  the owner use cases (§8).
 * Nodes, items, configuration, affiliations and subscriptions are the
 * shared node engine of pep.h (pep_node.c). Everything runs on
 * worker_owner_of(service domain): one owner for the whole service. */
#ifndef ALDIS_MOD_PUBSUB_H
#define ALDIS_MOD_PUBSUB_H
#include <stdbool.h>
#include <stddef.h>

#include "aldis/module.h"
#include "modules/pep.h"

extern struct module mod_pubsub;

/* Module options (read at init). */
struct pubsub_options {
    long max_nodes;         /* nodes per service */
    long max_subscriptions; /* subscriptions per node */
    long max_affiliations;  /* affiliations per node */
    long max_service_bytes; /* payload bytes kept per service */
};
extern struct pubsub_options pubsub_opts;

/* One service domain's state, on its owner worker. */
struct pubsub_service {
    char *domain;
    struct pep_state *ps; /* the nodes; NULL while loading */
    bool broken;          /* loading failed: refuse writes */
    struct pubsub_queued *head, *tail;
    size_t nqueued;
    size_t nwaiting;      /* access checks waiting for a roster */
};

/* One request being served: the IQ and who sent it. */
struct pubsub_req {
    struct pubsub_service *s;
    struct stanza *iq;        /* borrowed */
    const struct jid *from;
    char from_bare[JID_STR_MAX];
    struct xml_node *payload; /* the <pubsub/> element */
    bool get;
};

/* Broadcast an event stanza (no 'to') to every subscriber of node. */
void pubsub_broadcast(struct pubsub_service *s, const struct pep_node *node,
                      const struct stanza *ev);
/* Write the node (configuration, affiliations, subscriptions) through. */
void pubsub_node_save(struct pubsub_service *s, const struct pep_node *node);
/* The node named by el's 'node' attribute, or NULL having answered the
 * error (nodeid-required, item-not-found). */
struct pep_node *pubsub_node_arg(struct pubsub_req *r, const struct xml_node *el);

/* The service state of `domain` on this worker, or NULL (mod_pubsub.c). */
struct pubsub_service *pubsub_service_get(const char *domain);
/* Serve one stanza to a loaded service; `checked_node` names a node whose
 * roster-based access check already passed for this stanza (a replay). */
void pubsub_dispatch(struct pubsub_service *s, struct stanza *st, const char *checked_node);
/* §6.1.7: the node's last item to a new subscriber. */
void pubsub_send_last_item(struct pubsub_service *s, const struct pep_node *node,
                           const char *to);

/* ---- pubsub_access.c ------------------------------------------------------ */

/* 1: allowed; 0: refused, the error answered; -1: waiting for an owner's
 * roster (the request is replayed through pubsub_dispatch).
 * `subscribing`: a subscribe, which an authorize node turns into a pending
 * subscription rather than refusing. */
int pubsub_access_check(struct pubsub_req *r, const struct pep_node *node,
                        const char *checked_node, bool subscribing);
/* Has bare JID `bare` an approved subscription to node? */
bool pubsub_is_subscriber(const struct pep_node *node, const char *bare);
/* May `bare` see that the node exists (disco)? */
bool pubsub_node_visible(const struct pep_node *node, const char *bare);
/* §8.6.1: send every owner the subscribe_authorization form for sub. */
void pubsub_ask_owners(struct pubsub_service *s, const struct pep_node *node,
                       const struct pep_sub *sub);
/* §8.6.2: a message to the service, maybe an owner's approval. */
void pubsub_approval_in(struct pubsub_service *s, struct stanza *st, const struct jid *from);

/* The owner use cases (pubsub_owner.c): <pubsub xmlns='...#owner'>. */
int pubsub_owner_iq(struct pubsub_req *r);

#endif

/* module.h - what a module is and what it may call.
 *
 * A module is one `const struct module` table: its name, the disco features
 * it adds, its IQ handler rows, its hooks with priorities on core events, and
 * lifecycle functions. The core knows no XEP: it dispatches IQs by payload
 * namespace to these rows and runs hooks in priority order (highest first;
 * the first hook that returns HOOK_DONE stops the event, as in Prosody).
 *
 * Threads: ACCOUNT handlers and account hooks run on the account's owner
 * worker and may use the account's state freely. HOST handlers run on
 * whichever worker the stanza is on and may only read immutable state.
 * SESSION hooks run on the session's worker. Modules never write to sockets:
 * they hand stanzas to router_route() or account_send(). */
#ifndef ALDIS_MODULE_H
#define ALDIS_MODULE_H
#include <stdbool.h>
#include <stdint.h>

#include "aldis/config.h"
#include "aldis/jid.h"
#include "aldis/xml.h"

struct module;
struct service;
struct session;

/* A served domain. Immutable after startup (replaced whole on reload). */
struct host {
    const char *domain;
    const struct host_config *cfg;
    const struct config *config;
    bool enabled[CONFIG_MAX_MODULES]; /* by module index */
};

/* One bound resource of an account, as the account owner knows it. */
struct resource {
    char *name;
    char *full;          /* "user@host/resource" */
    int worker;          /* worker that owns the session */
    uint64_t session_id; /* unique across the process */
    int priority;
    bool available;      /* sent initial presence, not yet unavailable */
    bool interested;     /* requested the roster (RFC 6121 §2.1.6) */
    struct stanza *presence; /* last broadcast presence (frozen) or NULL */
    struct resource *next;
    void **data; /* per-module state, by module index (modules_count slots) */
};

/* Per bare JID state, owned by worker_owner_of(bare). */
struct account {
    char *bare;  /* "user@host" */
    char *user;  /* local part */
    struct host *host;
    bool exists; /* the user is registered */
    struct resource *resources;
    void **data; /* per-module state, by module index (modules_count slots) */
    /* core-private fields follow in the core's own struct */
};

enum iq_kind { IQ_GET = 1, IQ_SET = 2 };
enum iq_target {
    TARGET_HOST = 1,    /* to = the domain (or a component later) */
    TARGET_ACCOUNT = 2, /* to = a local bare JID, or no 'to' from a user */
};

struct iq_ctx {
    struct host *host;
    struct account *acct;    /* TARGET_ACCOUNT: the addressed account */
    struct stanza *iq;       /* borrowed for the call */
    struct xml_node *payload;
    const struct jid *from;  /* always a full JID for c2s senders */
    const struct jid *to;    /* bare for accounts, domain for the host */
    bool from_self;          /* from's bare JID is the addressed account */
    enum iq_kind kind;
};

/* Return 0 once a reply has been routed (or will be, asynchronously), or
 * ALDIS_ENOTHANDLED to let the core answer service-unavailable. */
typedef int (*iq_handler_fn)(struct iq_ctx *ctx);

struct iq_handler {
    unsigned kinds;          /* IQ_GET | IQ_SET */
    enum iq_target target;
    const char *ns;          /* payload namespace */
    const char *name;        /* payload element name, NULL = any */
    iq_handler_fn fn;
};

enum hook_event {
    /* owner worker */
    HOOK_ACCOUNT_LOADED = 0,  /* account state created (after account_load) */
    HOOK_RESOURCE_BOUND,      /* ctx.res bound */
    HOOK_RESOURCE_UNBOUND,    /* ctx.res going away (still in the list) */
    HOOK_MESSAGE_IN,          /* message to this account (bare or full) */
    HOOK_MESSAGE_UNDELIVERABLE, /* no resource takes it: offline storage */
    HOOK_PRESENCE_IN,         /* presence to this account from elsewhere */
    HOOK_PRESENCE_OUT,        /* presence from one of this account's resources */
    HOOK_IQ_IN,               /* any IQ to this account, before dispatch */
    HOOK_MESSAGE_OUT,         /* message from one of this account's resources,
                                 before routing (only raised when a module
                                 hooks it: it costs a hop to the owner) */
    /* session worker */
    HOOK_SESSION_OUT,         /* stanza from the client, from stamped, before routing */
    HOOK_SESSION_DELIVER,     /* stanza about to be written to the client */
    HOOK_SESSION_CLOSED,      /* session ended */
    HOOK_SESSION_PREAUTH,     /* an IQ from a client that has not authenticated
                                 yet (XEP-0077 registration); ctx.sess has no
                                 JID. Reply with session_reply(). Unclaimed
                                 ones end the stream with not-authorized */
    HOOK_SESSION_ELEMENT,     /* a top-level element that is not a stanza
                                 (e.g. XEP-0198 <r/>, XEP-0352 <active/>)
                                 from a bound client; unclaimed ones end the
                                 stream with unsupported-stanza-type */
    /* owner worker (added after the first version; raised by mod_message,
     * not by the core) */
    HOOK_MESSAGE_DELIVERED,   /* mod_message has applied RFC 6121 §8.5 to a
                                 message for an existing account and it was
                                 taken: ctx.res is the resource that got it
                                 when a full JID matched; NULL when the
                                 bare-JID rules chose the resources
                                 (message_bare_recipient() in
                                 src/modules/message.h tells which: maybe
                                 none, when offline storage took it).
                                 ctx.st is read-only here. For XEP-0280
                                 received carbons. */
    HOOK_COUNT
};

enum hook_result { HOOK_PASS = 0, HOOK_DONE = 1 };

struct hook_ctx {
    enum hook_event event;
    struct host *host;
    struct account *acct;    /* owner-worker events */
    struct resource *res;    /* the resource concerned, when there is one */
    struct session *sess;    /* session-worker events */
    /* Borrowed. On HOOK_MESSAGE_IN and HOOK_MESSAGE_OUT a hook may replace
     * it with a stanza of its own (e.g. a copy stamped with an XEP-0359
     * stanza-id): set ctx->st to the new stanza and do not unref the old
     * one; later hooks and the core use the new one, and the core releases
     * both. */
    struct stanza *st;
    const struct jid *from;
    const struct jid *to;
};

typedef int (*hook_fn)(struct hook_ctx *ctx);

struct hook_row {
    enum hook_event event;
    int priority;
    hook_fn fn;
};

struct module {
    const char *name;
    const char *const *host_features;    /* disco#info of the domain */
    const char *const *account_features; /* disco#info of a bare JID */
    /* Stream features offered to a client once authenticated, as XML
     * snippets (e.g. "<ver xmlns='urn:xmpp:features:rosterver'/>"). */
    const char *const *stream_features;
    /* Stream features offered before authentication (once TLS is up when
     * it is required), e.g. XEP-0077's <register/>. A module may set this
     * in init according to its options. */
    const char *const *preauth_features;
    const struct iq_handler *iq_handlers;   /* ends with {0} */
    const struct hook_row *hooks;           /* ends with {0} */
    /* Called once per process at startup; read options with config_module_*. */
    int (*init)(const struct config *cfg, char *err, size_t errlen);
    /* Load per-account state asynchronously; call done(acct) exactly once
     * (on failure too). NULL when the module has none. */
    void (*account_load)(struct account *acct, void (*done)(struct account *));
    /* Free per-account / per-resource / per-session state. */
    void (*account_free)(struct account *acct);
    void (*resource_free)(struct account *acct, struct resource *res);
    void (*session_free)(struct session *sess);
    /* Called on every worker when the server begins to shut down, while
     * client streams are still open: what it routes (e.g. XEP-0045 status
     * 332 to room occupants) is delivered before the streams close.
     * Returns true when it routed something (the core then waits a moment
     * for it to arrive). */
    bool (*worker_stopping)(void);
    void (*shutdown)(void);
    /* A module that serves a sub-domain of each host (MUC on
     * "conference.HOST", PubSub on "pubsub.HOST"...): its default label,
     * overridable per module with the option `service_domain`, and the
     * function that receives every stanza addressed to the service. It runs
     * on worker_owner_of(bare 'to') — one owner per room/node, and the
     * service domain itself owned by worker_owner_of(domain). Takes no
     * reference: ref the stanza to keep it. */
    const char *service_subdomain;
    void (*service_stanza)(struct service *svc, struct stanza *st, const struct jid *to,
                           const struct jid *from);
    /* Extra disco#info identities of a bare JID, as "category/type"
     * strings (e.g. "pubsub/pep", XEP-0163 §6.1); NULL when none. */
    const char *const *account_identities;
    int index; /* assigned by the registry; do not set */
};

/* A service domain (e.g. conference.example.org) of one host. Immutable. */
struct service {
    const char *domain;
    struct host *host;
    struct module *mod;
};

/* The service serving `domain`, or NULL. */
struct service *service_find(const char *domain);
/* Call fn for each service of host h (for disco#items of the host). */
void services_foreach(const struct host *h, void (*fn)(struct service *svc, void *ud), void *ud);

/* ---- core services for modules --------------------------------------- */

/* Route a stanza by its 'to' (takes the caller's reference; freezes it). */
void router_route(struct stanza *st);
/* Run the hooks of `event` with ctx in priority order, on the worker that
 * owns the event's state; returns HOOK_DONE when one took it.
 * Lets a module raise a follow-up event (mod_message raises
 * HOOK_MESSAGE_UNDELIVERABLE for mod_offline). */
int hooks_run(enum hook_event event, struct hook_ctx *ctx);
/* Deliver a stanza to one resource's session (takes the reference). */
void account_send(struct account *acct, struct resource *res, struct stanza *st);
/* Keep the account loaded across an asynchronous operation. */
void account_hold(struct account *acct);
void account_release(struct account *acct);
struct resource *account_resource(struct account *acct, const char *name);
/* The module's per-account slot. */
#define MODULE_DATA(obj, mod) ((obj)->data[(mod).index])
/* Is module `m` enabled on host h? */
bool host_module_enabled(const struct host *h, const struct module *m);
struct host *host_find(const char *domain);
/* Per-session module state and info (session worker only). */
void *session_data(struct session *s, const struct module *m);
void session_set_data(struct session *s, const struct module *m, void *data);
const struct jid *session_jid(const struct session *s);
uint64_t session_id(const struct session *s);
/* Write a stanza straight to a session of the current worker (pre-auth
 * answers; borrows st). Peer address and whether the stream is encrypted. */
void session_reply(struct session *s, struct stanza *st);
/* True while a session's connection is lost and XEP-0198 keeps it for a
 * resumption (stanzas delivered to it wait in its queue). */
bool session_detached(const struct session *s);
const char *session_peer(const struct session *s);
/* End a session with a stream error (condition NULL: a plain close). */
void session_close(struct session *s, const char *condition, const char *text);
bool session_encrypted(const struct session *s);
/* Deliver to a session on the current worker by id (NULL if gone). */
struct session *session_find(uint64_t id);
/* Server start time (for XEP-0012 uptime). */
int64_t server_start_time(void);
/* Call a function on the session's worker with the session (if it still
 * exists then). Used by owner-side modules to update session caches. */
void session_post(int worker, uint64_t session_id,
                  void (*fn)(struct session *s, void *arg), void *arg,
                  void (*free_arg)(void *arg));

/* Features registry for disco (read-only after startup). */
void modules_host_features(const struct host *h, void (*each)(const char *feature, void *ud), void *ud);
void modules_account_features(const struct host *h, void (*each)(const char *feature, void *ud), void *ud);
void modules_stream_features(const struct host *h, void (*each)(const char *xml, void *ud), void *ud);
void modules_preauth_features(const struct host *h, void (*each)(const char *xml, void *ud), void *ud);
/* The account_identities of the host's modules ("category/type"). */
void modules_account_identities(const struct host *h, void (*each)(const char *identity, void *ud), void *ud);

#endif

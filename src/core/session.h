/* session.h - the transport-independent part of a client session, as the
 * core sees it. A c2s TCP session (src/stream/c2s.c) embeds it; WebSocket
 * and BOSH sessions will too. A session belongs to the worker that accepted
 * its connection and is found there by id. */
#ifndef ALDIS_CORE_SESSION_H
#define ALDIS_CORE_SESSION_H
#include <stdint.h>

#include "aldis/module.h"

struct session;

struct session_ops {
    /* Write a (frozen) stanza to the client; borrows st. */
    void (*deliver)(struct session *s, struct stanza *st);
    /* End the session with a stream error condition (NULL = plain close). */
    void (*close)(struct session *s, const char *condition, const char *text);
    /* Write now, whatever the session's state (pre-auth answers). */
    void (*deliver_raw)(struct session *s, struct stanza *st);
};

struct session {
    uint64_t id;
    int worker;
    struct host *host;
    const struct session_ops *ops;
    bool bound;
    struct jid *jid; /* full JID once bound (a compact jid_dup copy), else NULL */
    char *bare;      /* "user@host" once authenticated, else NULL */
    char *full;      /* the full JID as a string once bound, else NULL */
    const char *peer; /* the client's IP address (owned by the transport) */
    bool encrypted;   /* TLS is up */
    bool detached;    /* XEP-0198: connection lost, waiting for a resumption */
    void **data; /* per-module state, by module index */
};

/* Register a new session on the current worker (assigns id, allocates the
 * per-module data slots). */
void session_register(struct session *s, const struct session_ops *ops);
/* Forget it (run HOOK_SESSION_CLOSED, module session_free, unbind at the
 * owner if bound) and free bare/full/jid. Call once, when the transport is
 * going away. */
void session_unregister(struct session *s);
/* Record the authenticated account (copies bare). */
void session_set_account(struct session *s, const char *bare);
/* Number of sessions alive in the whole process. */
long sessions_alive(void);
/* Deliver a stanza to a session by id on worker `worker` (takes the ref). */
void session_deliver_post(int worker, uint64_t id, struct stanza *st);
/* Ask the owner to bind resource `resource` (NULL = generate one) for an
 * authenticated session; done(s, err, condition) runs on the session's
 * worker if the session still exists. */
void session_bind(struct session *s, const char *resource,
                  void (*done)(struct session *s, int err, const char *condition));
/* XEP-0198 resumption across workers. session_forget: this worker drops
 * the session without unbinding it (its state moves to forward_to, where
 * deliveries still arriving here are sent for a while). session_adopt_id:
 * the session on the new worker takes over the old id. session_moved:
 * tell the owner the resource's session now lives on s->worker. */
void session_forget(struct session *s, int forward_to);
void session_adopt_id(struct session *s, uint64_t id);
void session_moved(struct session *s);
/* The worker a forgotten session moved to, or -1. */
int session_forwarded_to(uint64_t id);
/* Unbind a resource whose session object is gone (a resumption whose new
 * connection vanished mid-way). */
void session_unbind_orphan(struct host *host, const char *bare, const char *resource, uint64_t sid);
/* Free this worker's forwarding entries (shutdown). */
void sessions_forwards_free(void);
/* Route a stanza from a bound session (from already stamped; takes ref). */
void session_route(struct session *s, struct stanza *st);

#endif

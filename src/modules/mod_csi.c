/* mod_csi.c - Client State Indication (XEP-0352 1.0): the stream feature,
 * the <active/> and <inactive/> nonzas, and what the server does with them.
 * While a session is inactive, traffic that only tells the client about
 * state is held on the session's worker and collapsed: presence broadcasts
 * (the latest per sender full JID) and chat-state-only messages (XEP-0085;
 * the latest per sender, or per conversation for carbon copies). Anything
 * else is delivered at once, after everything held, in the original order.
 * <active/>, a full queue and a stream resumption (XEP-0198) release the
 * queue; the end of the session drops it. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/module.h"
#include "aldis/xml.h"
#include "core/session.h"
#include "lib/map.h"

#define NS_CSI "urn:xmpp:csi:0"
#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_HINTS "urn:xmpp:hints"
#define NS_SID "urn:xmpp:sid:0"
#define NS_DELAY "urn:xmpp:delay"

extern struct module mod_csi;

/* Option csi.max_held: stanzas one inactive session may hold. Reaching it
 * releases the queue (memory per session stays bounded whatever the
 * contacts do). */
static long csi_max_held = 1000;

/* One held stanza, in a doubly linked list so that a newer stanza with the
 * same key replaces it in O(1) wherever it is. */
struct csi_held {
    struct stanza *st; /* a reference */
    char *key;         /* collapse key (owned), also the by_key map key */
    struct csi_held *prev, *next;
};

/* session_data(s, &mod_csi); created at the first CSI nonza, freed with the
 * session (csi_session_free). Session worker only. */
struct csi_session {
    const struct session *sess; /* the session object it was made for */
    bool inactive;
    bool flushing;  /* our own releases re-run HOOK_SESSION_DELIVER */
    size_t count;
    struct csi_held *head, *tail;
    struct map by_key; /* key -> struct csi_held * */
};

/* ---- the queue ---------------------------------------------------------- */

static void csi_unlink(struct csi_session *cs, struct csi_held *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        cs->head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    else
        cs->tail = h->prev;
    map_del(&cs->by_key, h->key);
    cs->count--;
}

static void csi_held_free(struct csi_held *h)
{
    stanza_unref(h->st);
    free(h->key);
    free(h);
}

/* Hold st under key (takes ownership of key). A stanza already held under
 * the same key is dropped: the newer one says all the client needs, and it
 * goes to the end, so the queue keeps the order of the latest updates. */
static void csi_hold(struct csi_session *cs, struct stanza *st, char *key)
{
    struct csi_held *old = map_get(&cs->by_key, key);
    if (old) {
        csi_unlink(cs, old);
        csi_held_free(old);
    }
    struct csi_held *h = calloc(1, sizeof *h);
    ALDIS_ASSERT(h != NULL);
    h->st = stanza_ref(st);
    h->key = key;
    h->prev = cs->tail;
    if (cs->tail)
        cs->tail->next = h;
    else
        cs->head = h;
    cs->tail = h;
    map_put(&cs->by_key, key, h);
    cs->count++;
}

/* Write everything held, oldest first, through the rest of the delivery
 * path (the other HOOK_SESSION_DELIVER hooks, then the session's deliver),
 * as the core would have. The list is detached first and the session looked
 * up again before each write: a write may end the session, and then
 * csi_session_free has freed cs and the rest is only released. */
static void csi_flush(struct session *s, struct csi_session *cs)
{
    struct csi_held *h = cs->head;
    if (!h)
        return;
    uint64_t id = session_id(s);
    cs->head = cs->tail = NULL;
    cs->count = 0;
    map_free(&cs->by_key);
    map_init(&cs->by_key, 0);
    cs->flushing = true;
    bool alive = true;
    while (h) {
        struct csi_held *next = h->next;
        if (alive && session_find(id) == s) {
            struct hook_ctx hc = {.host = s->host, .sess = s, .st = h->st};
            if (hooks_run(HOOK_SESSION_DELIVER, &hc) != HOOK_DONE)
                s->ops->deliver(s, h->st);
        } else {
            alive = false;
        }
        csi_held_free(h);
        h = next;
    }
    if (alive && session_find(id) == s)
        cs->flushing = false;
}

/* XEP-0352 §5.2: a stream resumed with XEP-0198 starts active. Resumption
 * hands the session's module state to the new connection's session object,
 * which is how we notice it: at the next nonza or delivery, what was held
 * goes out first and nothing more is held until <inactive/>. */
static void csi_check_resumed(struct session *s, struct csi_session *cs)
{
    if (cs->sess == s)
        return;
    cs->sess = s;
    cs->inactive = false;
    cs->flushing = false;
    csi_flush(s, cs);
}

/* ---- what may wait ------------------------------------------------------ */

/* "<tag>\x1f<a>\x1f<b>", malloc'd. */
static char *csi_key(const char *tag, const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    size_t la = strlen(tag), lb = strlen(a), lc = strlen(b);
    char *k = malloc(la + lb + lc + 3);
    ALDIS_ASSERT(k != NULL);
    memcpy(k, tag, la);
    k[la] = '\x1f';
    memcpy(k + la + 1, a, lb);
    k[la + 1 + lb] = '\x1f';
    memcpy(k + la + lb + 2, b, lc);
    k[la + lb + lc + 2] = '\0';
    return k;
}

/* A message that carries only a chat state (XEP-0085 §5) and routing
 * decoration: no body, no other payload a client must see now. */
static bool csi_chat_state_only(const struct xml_node *msg)
{
    const char *type = xml_attr(msg, "type");
    if (type && strcmp(type, "error") == 0)
        return false;
    bool state = false;
    for (const struct xml_node *c = xml_first_elem(msg); c; c = xml_next(c, NULL, NULL)) {
        if (strcmp(c->ns, NS_CHATSTATES) == 0)
            state = true;
        else if (!(strcmp(c->ns, msg->ns) == 0 && strcmp(c->name, "thread") == 0) &&
                 strcmp(c->ns, NS_HINTS) != 0 && strcmp(c->ns, NS_SID) != 0 &&
                 strcmp(c->ns, NS_DELAY) != 0)
            return false;
    }
    return state;
}

/* The collapse key when st may wait while the client is inactive, else
 * NULL (deliver now). XEP-0352 §3.2 leaves the choice to the server; we
 * hold only what a newer stanza of the same kind fully replaces. */
static char *csi_hold_key(const struct session *s, const struct stanza *st)
{
    const char *name = stanza_name(st);
    const char *type = stanza_type(st);
    if (strcmp(name, "presence") == 0) {
        /* Availability broadcasts (RFC 6121 §4.2, §4.4, §4.5); not
         * subscription requests or answers, errors, or probes; nor the
         * echo of the client's own presence (RFC 6121 §4.2.2), which it
         * may be waiting for. */
        const char *from = stanza_from(st);
        if (from && s->full && strcmp(from, s->full) == 0)
            return NULL;
        if (!type || strcmp(type, "unavailable") == 0)
            return csi_key("p", from, NULL);
        return NULL;
    }
    if (strcmp(name, "message") != 0)
        return NULL;
    if (csi_chat_state_only(st->root))
        return csi_key("m", stanza_from(st), type);
    /* A carbon copy (XEP-0280) of a chat state: one per conversation and
     * direction; the outer 'from' is always the user's own bare JID. */
    static const char *const directions[] = {"received", "sent"};
    for (size_t i = 0; i < 2; i++) {
        const char *dir = directions[i];
        struct xml_node *w = xml_child(st->root, dir, NS_CARBONS);
        struct xml_node *f = w ? xml_child(w, "forwarded", NS_FORWARD) : NULL;
        struct xml_node *inner = f ? xml_child(f, "message", NULL) : NULL;
        if (inner && xml_first_elem(st->root) == w && !xml_next(w, NULL, NULL) &&
            csi_chat_state_only(inner))
            return csi_key(dir, xml_attr(inner, "from"), xml_attr(inner, "to"));
        if (w)
            return NULL;
    }
    return NULL;
}

/* ---- hooks -------------------------------------------------------------- */

/* XEP-0352 §4.2: <active/> and <inactive/>, only after authentication and
 * binding (the core passes nonzas from bound sessions only). No reply. A
 * session starts active (§4.2); <active/> releases what was held. */
static int csi_element(struct hook_ctx *ctx)
{
    const struct xml_node *el = ctx->st->root;
    if (strcmp(el->ns, NS_CSI) != 0)
        return HOOK_PASS;
    bool active = strcmp(el->name, "active") == 0;
    if (!active && strcmp(el->name, "inactive") != 0)
        return HOOK_PASS; /* not ours: unsupported-stanza-type */
    struct csi_session *cs = session_data(ctx->sess, &mod_csi);
    if (!cs) {
        if (active)
            return HOOK_DONE; /* already active, nothing held */
        cs = calloc(1, sizeof *cs);
        ALDIS_ASSERT(cs != NULL);
        map_init(&cs->by_key, 0);
        cs->sess = ctx->sess;
        session_set_data(ctx->sess, &mod_csi, cs);
    }
    csi_check_resumed(ctx->sess, cs);
    cs->inactive = !active;
    if (active)
        csi_flush(ctx->sess, cs);
    return HOOK_DONE;
}

/* Runs before the other delivery hooks, which see held stanzas when they
 * are released. */
static int csi_deliver(struct hook_ctx *ctx)
{
    struct csi_session *cs = session_data(ctx->sess, &mod_csi);
    if (!cs)
        return HOOK_PASS;
    csi_check_resumed(ctx->sess, cs);
    if (cs->flushing || !cs->inactive)
        return HOOK_PASS;
    char *key = csi_hold_key(ctx->sess, ctx->st);
    if (key && (map_get(&cs->by_key, key) || cs->count < (size_t)csi_max_held)) {
        csi_hold(cs, ctx->st, key);
        return HOOK_DONE;
    }
    /* Important, or the queue is full: what waited goes first, so the
     * client never sees this stanza before older ones (a message before the
     * presence of its sender, say). */
    free(key);
    csi_flush(ctx->sess, cs);
    return HOOK_PASS;
}

/* Held stanzas die with the session: presence and chat states are
 * ephemeral, and a resumed stream starts active (XEP-0352 §5.2). */
static void csi_session_free(struct session *s)
{
    struct csi_session *cs = session_data(s, &mod_csi);
    struct csi_held *h = cs->head;
    while (h) {
        struct csi_held *next = h->next;
        csi_held_free(h);
        h = next;
    }
    map_free(&cs->by_key);
    free(cs);
    session_set_data(s, &mod_csi, NULL);
}

static int csi_init(const struct config *cfg, char *err, size_t errlen)
{
    return config_module_int(cfg, "csi", "max_held", 1000, 1, 100000, &csi_max_held, err,
                             errlen);
}

static const char *const csi_no_features[] = {NULL};
static const char *const csi_stream_features[] = {"<csi xmlns='" NS_CSI "'/>", NULL};
static const struct iq_handler csi_iq[] = {{0}};
static const struct hook_row csi_hooks[] = {
    {HOOK_SESSION_ELEMENT, 0, csi_element},
    {HOOK_SESSION_DELIVER, 1000, csi_deliver},
    {0},
};

struct module mod_csi = {
    .name = "csi",
    .host_features = csi_no_features,
    .account_features = csi_no_features,
    .stream_features = csi_stream_features,
    .iq_handlers = csi_iq,
    .hooks = csi_hooks,
    .init = csi_init,
    .session_free = csi_session_free,
};

/* muc_room.c - the life of a room's occupants (XEP-0045 §7): entering
 * (§7.2, with room creation §10.1), presence updates, nick changes (§7.6),
 * leaving (§7.14), groupchat messages with XEP-0359 stanza-ids and
 * XEP-0421 occupant-ids (§7.4), history (§7.2.15), the subject (§8.1),
 * private messages (§7.5), mediated invitations (§7.8.2), voice requests
 * (§7.13), IQs to occupants (XEP-0410 self-ping) and the fan-out of one
 * frozen stanza per variant to every occupant.
 *
 * Everything runs on the room's owner worker. Stanzas sent to several
 * occupants carry no 'to': they are built once, frozen (serialised once)
 * and routed to each occupant's real JID with router_route_to; a client
 * takes a stanza without 'to' as addressed to itself (RFC 6120 §8.1.1.1). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/router.h"
#include "core/security.h"
#include "modules/muc.h"

#define MUC_FWD_MAX 64 /* forwarded IQs awaiting an answer, per room */
#define MUC_FWD_TTL 60 /* seconds before a forwarded IQ is forgotten */

/* type_is(st, NULL): no type attribute */
static bool type_is(const struct stanza *st, const char *t)
{
    const char *ty = stanza_type(st);
    return ty ? (t && strcmp(ty, t) == 0) : t == NULL;
}

static void bounce(struct stanza *st, const char *type, const char *cond, const char *text)
{
    router_bounce(st, type, cond, text);
}

void muc_timestamp(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void muc_send_to(struct stanza *st, const char *to)
{
    xml_set_attr(st, st->root, "to", to);
    router_route(st);
}

/* ---- names ---------------------------------------------------------------- */

static const char *const aff_names[] = {"outcast", "none", "member", "admin", "owner"};
static const char *const role_names[] = {"none", "visitor", "participant", "moderator"};

const char *muc_affiliation_name(enum muc_affiliation a) { return aff_names[a]; }
const char *muc_role_name(enum muc_role r) { return role_names[r]; }

int muc_affiliation_parse(const char *s)
{
    for (int i = 0; s && i < 5; i++)
        if (strcmp(s, aff_names[i]) == 0)
            return i;
    return -1;
}

int muc_role_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, role_names[i]) == 0)
            return i;
    return -1;
}

/* ---- affiliations and occupants ------------------------------------------ */

enum muc_affiliation muc_affiliation_of(const struct muc_room *r, const char *bare)
{
    for (size_t i = 0; i < r->naffs; i++)
        if (strcmp(r->affs[i].jid, bare) == 0)
            return r->affs[i].aff;
    return AFF_NONE;
}

void muc_affiliation_set(struct muc_room *r, const char *bare, enum muc_affiliation aff,
                         const char *reason)
{
    for (size_t i = 0; i < r->naffs; i++) {
        if (strcmp(r->affs[i].jid, bare) != 0)
            continue;
        if (aff == AFF_NONE) {
            free(r->affs[i].jid);
            free(r->affs[i].reason);
            free(r->affs[i].nick);
            r->affs[i] = r->affs[--r->naffs];
            return;
        }
        r->affs[i].aff = aff;
        free(r->affs[i].reason);
        r->affs[i].reason = reason && reason[0] ? aldis_strdup(reason) : NULL;
        return;
    }
    if (aff == AFF_NONE)
        return;
    if (r->naffs >= MUC_AFFS_MAX) {
        /* callers check first where they can answer; this is the last guard */
        log_warn("muc", "%s: affiliation list full, %s not added", r->jid, bare);
        return;
    }
    if (r->naffs == r->caffs) {
        size_t cap = r->caffs ? r->caffs * 2 : 8;
        struct muc_affil *n = realloc(r->affs, cap * sizeof *n);
        ALDIS_ASSERT(n != NULL);
        r->affs = n;
        r->caffs = cap;
    }
    r->affs[r->naffs++] = (struct muc_affil){aldis_strdup(bare), aff,
                                             reason && reason[0] ? aldis_strdup(reason) : NULL, NULL};
}

/* XEP-0045 §5.1.2: the role an occupant gets on entering. */
enum muc_role muc_role_default(const struct muc_room *r, enum muc_affiliation aff)
{
    switch (aff) {
    case AFF_OWNER:
    case AFF_ADMIN:
        return ROLE_MODERATOR;
    case AFF_MEMBER:
        return ROLE_PARTICIPANT;
    case AFF_NONE:
        return r->cfg.moderated ? ROLE_VISITOR : ROLE_PARTICIPANT;
    case AFF_OUTCAST:
        break;
    }
    return ROLE_NONE;
}

struct muc_occupant *muc_occupant_by_nick(struct muc_room *r, const char *nick)
{
    for (struct muc_occupant *o = r->occupants; o; o = o->next)
        if (strcmp(o->nick, nick) == 0)
            return o;
    return NULL;
}

struct muc_occupant *muc_occupant_by_real(struct muc_room *r, const char *full)
{
    for (struct muc_occupant *o = r->occupants; o; o = o->next)
        if (strcmp(o->real_full, full) == 0)
            return o;
    return NULL;
}

/* XEP-0045 §7.2.3 / §7.2.4: who sees an occupant's real JID. */
static bool can_see_jids(const struct muc_room *r, const struct muc_occupant *viewer)
{
    return r->cfg.whois_anyone || viewer->role == ROLE_MODERATOR;
}

/* XEP-0421 §4: the same user gets the same id in the room, and nobody can
 * tell the real JID from it: a hash of the room's secret and the bare JID. */
static void occupant_id_make(const struct muc_room *r, const char *bare, char *out, size_t size)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    size_t blen = strlen(bare);
    unsigned char *buf = malloc(sizeof r->secret + blen);
    ALDIS_ASSERT(buf != NULL);
    memcpy(buf, r->secret, sizeof r->secret);
    memcpy(buf + sizeof r->secret, bare, blen);
    SHA256(buf, sizeof r->secret + blen, md);
    free(buf);
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < 16 && n + 2 < size; i++) {
        out[n++] = hex[md[i] >> 4];
        out[n++] = hex[md[i] & 15];
    }
    out[n] = '\0';
}

void muc_occupant_free(struct muc_occupant *o)
{
    free(o->nick);
    free(o->real);
    free(o->real_full);
    free(o->real_bare);
    stanza_unref(o->presence);
    stanza_unref(o->pres_anon);
    stanza_unref(o->pres_full);
    free(o);
}

static void occupant_unlink(struct muc_room *r, struct muc_occupant *o)
{
    for (struct muc_occupant **p = &r->occupants; *p; p = &(*p)->next)
        if (*p == o) {
            *p = o->next;
            r->noccupants--;
            return;
        }
}

/* Remove what a client may not say in the room's name: its join element,
 * a forged muc#user element, occupant-ids (XEP-0421 §4: the service MUST
 * strip them) and stanza-ids claiming to be the room's (XEP-0359 §5). */
static void strip_client_claims(struct stanza *st, const char *room)
{
    for (struct xml_node *c = st->root->children, *next; c; c = next) {
        next = c->next;
        if (c->kind != XML_ELEM)
            continue;
        if (xml_is(c, "x", NS_MUC) || xml_is(c, "x", NS_MUC_USER) ||
            xml_is(c, "occupant-id", NS_OCCUPANT_ID)) {
            xml_remove(c);
        } else if (xml_is(c, "stanza-id", NS_SID)) {
            const char *by = xml_attr(c, "by");
            if (by && strcmp(by, room) == 0)
                xml_remove(c);
        }
    }
}

static void occupant_jid(const struct muc_room *r, const char *nick, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", r->jid, nick);
}

static void route_to_occupant(struct stanza *st, const struct muc_occupant *o)
{
    router_route_to(stanza_ref(st), o->real);
}

/* ---- presence ------------------------------------------------------------- */

static void add_status(struct stanza *st, struct xml_node *x, int code)
{
    char num[8];
    snprintf(num, sizeof num, "%d", code);
    struct xml_node *s = xml_add_child(st, x, "status", NULL);
    xml_set_attr(st, s, "code", num);
}

/* One variant of o's presence: with or without the real JID, o's own copy
 * (110) or everyone else's. No 'to'. Frozen. */
static struct stanza *pres_build(struct muc_room *r, struct muc_occupant *o,
                                 const struct muc_pres_opts *opts, bool with_jid, bool self)
{
    const struct stanza *base = NULL;
    if (opts && opts->base)
        base = opts->base;
    else if (!(opts && opts->type))
        base = o->presence;
    struct stanza *st;
    if (base) {
        st = stanza_copy(base);
        xml_set_attr(st, st->root, "to", NULL);
        xml_set_attr(st, st->root, "id", NULL);
        strip_client_claims(st, r->jid);
        struct xml_node *err = xml_child(st->root, "error", NULL);
        if (err)
            xml_remove(err);
    } else {
        st = stanza_new("presence", NULL);
    }
    char from[JID_STR_MAX];
    occupant_jid(r, o->nick, from, sizeof from);
    xml_set_attr(st, st->root, "from", from);
    xml_set_attr(st, st->root, "type", opts ? opts->type : NULL);
    struct xml_node *x = xml_add_child(st, st->root, "x", NS_MUC_USER);
    struct xml_node *item = xml_add_child(st, x, "item", NULL);
    bool none = opts && opts->forced_none;
    xml_set_attr(st, item, "affiliation",
                 none ? "none" : muc_affiliation_name(muc_affiliation_of(r, o->real_bare)));
    xml_set_attr(st, item, "role", none ? "none" : muc_role_name(o->role));
    if (with_jid)
        xml_set_attr(st, item, "jid", o->real_full);
    if (opts && opts->new_nick)
        xml_set_attr(st, item, "nick", opts->new_nick);
    if (opts && opts->actor_nick) {
        struct xml_node *a = xml_add_child(st, item, "actor", NULL);
        xml_set_attr(st, a, "nick", opts->actor_nick);
    }
    if (opts && opts->reason && opts->reason[0]) {
        struct xml_node *rs = xml_add_child(st, item, "reason", NULL);
        xml_add_text(st, rs, opts->reason, strlen(opts->reason));
    }
    if (opts && opts->destroy) {
        struct xml_node *d = xml_add_child(st, x, "destroy", NULL);
        if (opts->destroy_jid)
            xml_set_attr(st, d, "jid", opts->destroy_jid);
        if (opts->destroy_reason && opts->destroy_reason[0]) {
            struct xml_node *rs = xml_add_child(st, d, "reason", NULL);
            xml_add_text(st, rs, opts->destroy_reason, strlen(opts->destroy_reason));
        }
    }
    for (size_t i = 0; opts && i < opts->ncodes; i++)
        add_status(st, x, opts->codes[i]);
    if (self) {
        for (size_t i = 0; opts && i < opts->nself_codes; i++)
            add_status(st, x, opts->self_codes[i]);
        add_status(st, x, 110);
    }
    struct xml_node *oid = xml_add_child(st, st->root, "occupant-id", NS_OCCUPANT_ID);
    xml_set_attr(st, oid, "id", o->occupant_id);
    return stanza_freeze(st);
}

void muc_occupant_refresh(struct muc_room *r, struct muc_occupant *o)
{
    if (o->pres_anon)
        stanza_unref(o->pres_anon);
    if (o->pres_full)
        stanza_unref(o->pres_full);
    o->pres_anon = pres_build(r, o, NULL, false, false);
    o->pres_full = pres_build(r, o, NULL, true, false);
}

/* muc#roomconfig_presencebroadcast: do the others hear of o? Its
 * unavailable presence only when they heard it arrive; an available one
 * when its role is broadcast, or when they already know of it (so they
 * learn a change of role). */
static bool pres_to_others(struct muc_room *r, struct muc_occupant *o,
                           const struct muc_pres_opts *opts)
{
    if (opts && opts->type)
        return o->announced;
    if (r->cfg.presence_broadcast & MUC_ROLEBIT(o->role))
        o->announced = true;
    return o->announced;
}

void muc_presence_broadcast(struct muc_room *r, struct muc_occupant *o,
                            const struct muc_pres_opts *opts)
{
    struct stanza *anon = NULL, *full = NULL;
    if (!opts) {
        anon = stanza_ref(o->pres_anon);
        full = stanza_ref(o->pres_full);
    }
    bool others = pres_to_others(r, o, opts);
    for (struct muc_occupant *p = others ? r->occupants : NULL; p; p = p->next) {
        if (p == o)
            continue;
        bool see = can_see_jids(r, p);
        struct stanza **v = see ? &full : &anon;
        if (!*v)
            *v = pres_build(r, o, opts, see, false);
        route_to_occupant(*v, p);
    }
    struct stanza *self = pres_build(r, o, opts, true, true);
    route_to_occupant(self, o);
    stanza_unref(self);
    if (anon)
        stanza_unref(anon);
    if (full)
        stanza_unref(full);
}

void muc_occupant_remove(struct muc_room *r, struct muc_occupant *o,
                         const struct muc_pres_opts *opts)
{
    occupant_unlink(r, o);
    muc_presence_broadcast(r, o, opts);
    muc_occupant_free(o);
}

void muc_room_shutdown_notice(struct muc_room *r)
{
    /* XEP-0045 §15.6 status 332: each occupant hears that it is removed
     * because the service shuts down — its own presence only: everybody
     * leaves at once, and telling each about all the others would cost
     * occupants squared stanzas in a large room. */
    struct muc_pres_opts opts = {.type = "unavailable", .forced_none = true,
                                 .self_codes = {332}, .nself_codes = 1};
    for (struct muc_occupant *o = r->occupants; o; o = o->next) {
        struct stanza *self = pres_build(r, o, &opts, true, true);
        route_to_occupant(self, o);
        stanza_unref(self);
    }
}

void muc_room_check_empty(struct muc_room *r)
{
    /* XEP-0045 §10.1: a temporary room goes when its last occupant leaves. */
    if (r->noccupants == 0 && !r->cfg.persistent) {
        muc_mam_forget(r); /* logging may have been on at some time */
        muc_room_remove(r);
    }
}

void muc_room_broadcast(struct muc_room *r, struct stanza *st)
{
    for (struct muc_occupant *p = r->occupants; p; p = p->next)
        route_to_occupant(st, p);
}

/* A message from the room to every occupant (status codes, §10.2.1). */
void muc_room_notice(struct muc_room *r, const int *codes, size_t ncodes)
{
    struct stanza *st = stanza_new("message", NULL);
    xml_set_attr(st, st->root, "from", r->jid);
    xml_set_attr(st, st->root, "type", "groupchat");
    struct xml_node *x = xml_add_child(st, st->root, "x", NS_MUC_USER);
    for (size_t i = 0; i < ncodes; i++)
        add_status(st, x, codes[i]);
    stanza_freeze(st);
    muc_room_broadcast(r, st);
    stanza_unref(st);
}

bool muc_room_logging(const struct muc_room *r)
{
    /* Only persistent rooms are archived: a temporary room's name can be
     * taken again by anyone once it is gone, and its new occupants must not
     * read the old conversation. */
    return r->cfg.logging && r->cfg.persistent;
}

void muc_role_set(struct muc_room *r, struct muc_occupant *o, enum muc_role role,
                  const char *actor, const char *reason)
{
    if (role == ROLE_NONE) {
        /* §8.2: kicked, 307 to everyone */
        o->role = ROLE_NONE;
        struct muc_pres_opts opts = {.type = "unavailable", .actor_nick = actor, .reason = reason,
                                     .codes = {307}, .ncodes = 1};
        muc_occupant_remove(r, o, &opts);
        return;
    }
    bool saw = can_see_jids(r, o);
    o->role = role;
    muc_occupant_refresh(r, o);
    struct muc_pres_opts opts = {.actor_nick = actor, .reason = reason};
    muc_presence_broadcast(r, o, &opts);
    /* a new moderator of a semi-anonymous room now sees real JIDs */
    if (!saw && can_see_jids(r, o))
        for (struct muc_occupant *p = r->occupants; p; p = p->next)
            if (p != o && p->announced)
                route_to_occupant(p->pres_full, o);
}

/* ---- history -------------------------------------------------------------- */

void muc_history_drop(struct muc_room *r, const char *id)
{
    for (size_t i = 0; i < r->nhistory; i++) {
        struct xml_node *sid = xml_child(r->history[i].st->root, "stanza-id", NS_SID);
        const char *v = sid ? xml_attr(sid, "id") : NULL;
        if (!v || strcmp(v, id) != 0)
            continue;
        stanza_unref(r->history[i].st);
        memmove(r->history + i, r->history + i + 1, (r->nhistory - i - 1) * sizeof *r->history);
        r->nhistory--;
        return;
    }
}

void muc_history_push(struct muc_room *r, const struct stanza *msg, int64_t now)
{
    long cap = r->cfg.history_length;
    if (cap > muc_opts.max_history)
        cap = muc_opts.max_history;
    if (cap <= 0)
        return;
    struct stanza *h = stanza_copy(msg);
    char stamp[32];
    muc_timestamp(now, stamp, sizeof stamp);
    /* XEP-0203, from the room (§7.2.15) */
    struct xml_node *d = xml_add_child(h, h->root, "delay", NS_DELAY);
    xml_set_attr(h, d, "from", r->jid);
    xml_set_attr(h, d, "stamp", stamp);
    stanza_freeze(h);
    while (r->nhistory >= (size_t)cap) {
        stanza_unref(r->history[0].st);
        memmove(r->history, r->history + 1, (r->nhistory - 1) * sizeof *r->history);
        r->nhistory--;
    }
    if (!r->history) {
        r->history = calloc((size_t)muc_opts.max_history + 1, sizeof *r->history);
        ALDIS_ASSERT(r->history != NULL);
    }
    r->history[r->nhistory++] = (struct muc_history){h, now, h->wire_len};
}

/* XEP-0082 date-time, "CCYY-MM-DDThh:mm:ss[.sss](Z|(+|-)hh:mm)". */
static int parse_stamp(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return ALDIS_EINVAL;
    const char *p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    long offset = 0;
    if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return ALDIS_EINVAL;
        offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z') {
        return ALDIS_EINVAL;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm) - offset;
    return 0;
}

static bool attr_long(const struct xml_node *el, const char *name, long *out)
{
    const char *v = el ? xml_attr(el, name) : NULL;
    if (!v)
        return false;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < 0)
        return false;
    *out = n;
    return true;
}

/* §7.2.15: the history the new occupant asked for (maxchars, maxstanzas,
 * seconds and since all apply together), oldest first. */
static void history_send(struct muc_room *r, struct muc_occupant *o, const struct xml_node *hist,
                         int64_t now)
{
    long maxchars = -1, maxstanzas = -1, seconds = -1;
    int64_t since = INT64_MIN;
    attr_long(hist, "maxchars", &maxchars);
    attr_long(hist, "maxstanzas", &maxstanzas);
    attr_long(hist, "seconds", &seconds);
    const char *s = hist ? xml_attr(hist, "since") : NULL;
    if (s)
        parse_stamp(s, &since);
    if (seconds >= 0 && now - seconds > since)
        since = now - seconds;
    size_t start = r->nhistory, chars = 0, count = 0;
    while (start > 0) {
        const struct muc_history *h = &r->history[start - 1];
        if (maxstanzas >= 0 && count + 1 > (size_t)maxstanzas)
            break;
        if (maxchars >= 0 && chars + h->chars > (size_t)maxchars)
            break;
        if (h->stamp < since)
            break;
        chars += h->chars;
        count++;
        start--;
    }
    for (size_t i = start; i < r->nhistory; i++)
        route_to_occupant(r->history[i].st, o);
}

/* §7.2.16: the subject comes last, even when there is none (empty). */
static void subject_send(struct muc_room *r, struct muc_occupant *o)
{
    struct stanza *st = stanza_new("message", NULL);
    char from[JID_STR_MAX];
    if (r->subject_nick)
        occupant_jid(r, r->subject_nick, from, sizeof from);
    else
        snprintf(from, sizeof from, "%s", r->jid);
    xml_set_attr(st, st->root, "from", from);
    xml_set_attr(st, st->root, "type", "groupchat");
    struct xml_node *subj = xml_add_child(st, st->root, "subject", NULL);
    if (r->subject)
        xml_add_text(st, subj, r->subject, strlen(r->subject));
    muc_send_to(st, o->real_full);
}

/* ---- entering --------------------------------------------------------------- */

/* §7.2: an entity that is not an occupant sends available presence to
 * room/nick. `created`: the room was just made for it (§10.1.1). */
static void room_join(struct muc_room *r, struct stanza *st, const struct jid *to,
                      const struct jid *from, bool created)
{
    char bare[JID_STR_MAX], full[JID_STR_MAX];
    jid_bare(from, bare, sizeof bare);
    jid_full(from, full, sizeof full);
    enum muc_affiliation aff = muc_affiliation_of(r, bare);
    struct xml_node *mx = xml_child(st->root, "x", NS_MUC);
    /* §7.2.11: a user with a registered nick enters under it, whatever
     * nick it asked for, when that nick is free (210 says so) */
    const char *nick = to->resource;
    const char *reg = muc_nick_registered(r, bare);
    bool renamed = false;
    if (reg && strcmp(reg, nick) != 0 && !muc_occupant_by_nick(r, reg)) {
        nick = reg;
        renamed = true;
    }
    long max = r->cfg.max_users > 0 && r->cfg.max_users < muc_opts.max_occupants
                   ? r->cfg.max_users
                   : muc_opts.max_occupants;

    if (aff == AFF_OUTCAST) { /* §7.2.7 */
        bounce(st, "auth", "forbidden", NULL);
        return;
    }
    /* ARCHITECTURE.md §6: only a clearance covering the room's enters */
    if (!security_room_join_allowed(r->jid, bare)) {
        bounce(st, "auth", "forbidden", "Your clearance does not cover this room's");
        return;
    }
    if (r->locked && aff != AFF_OWNER) { /* §7.2.10 */
        bounce(st, "cancel", "item-not-found", NULL);
        return;
    }
    if (r->cfg.members_only && aff < AFF_MEMBER) { /* §7.2.6 */
        bounce(st, "auth", "registration-required", NULL);
        return;
    }
    /* §7.2.8, and §7.10: a nick registered by someone else is theirs */
    if (muc_occupant_by_nick(r, nick) || muc_nick_reserved_by_other(r, nick, bare)) {
        bounce(st, "cancel", "conflict", NULL);
        return;
    }
    /* §7.2.9: admins and owners may still enter a full room */
    if ((long)r->noccupants >= max &&
        (aff < AFF_ADMIN || (long)r->noccupants >= muc_opts.max_occupants)) {
        bounce(st, "wait", "service-unavailable", NULL);
        return;
    }
    if (r->cfg.password_protected && aff != AFF_OWNER) { /* §7.2.5 */
        struct xml_node *pw = mx ? xml_child(mx, "password", NULL) : NULL;
        char *given = pw ? (char *)xml_text(NULL, pw) : NULL;
        bool ok = given && r->cfg.password && strcmp(given, r->cfg.password) == 0;
        free(given);
        if (!ok) {
            bounce(st, "auth", "not-authorized", NULL);
            return;
        }
    }

    struct muc_occupant *o = calloc(1, sizeof *o);
    ALDIS_ASSERT(o != NULL);
    o->nick = aldis_strdup(nick);
    o->real = jid_dup(from);
    ALDIS_ASSERT(o->real != NULL);
    o->real_full = aldis_strdup(full);
    o->real_bare = aldis_strdup(bare);
    o->role = muc_role_default(r, aff);
    o->presence = stanza_ref(stanza_freeze(st));
    occupant_id_make(r, bare, o->occupant_id, sizeof o->occupant_id);
    muc_occupant_refresh(r, o);

    /* §7.2.3: the occupants already there, then everyone learns of the new
     * one, and the new one gets its own presence last (110). */
    bool see = can_see_jids(r, o);
    for (struct muc_occupant *p = r->occupants; p; p = p->next)
        if (p->announced) /* presencebroadcast */
            route_to_occupant(see ? p->pres_full : p->pres_anon, o);
    struct muc_occupant **tail = &r->occupants;
    while (*tail)
        tail = &(*tail)->next;
    *tail = o;
    r->noccupants++;
    struct muc_pres_opts opts = {0};
    if (r->cfg.whois_anyone) /* §7.2.4: non-anonymous */
        opts.self_codes[opts.nself_codes++] = 100;
    if (created) /* §10.1.1 */
        opts.self_codes[opts.nself_codes++] = 201;
    if (muc_room_logging(r)) /* §7.2.12: the room is logged */
        opts.self_codes[opts.nself_codes++] = 170;
    if (renamed) /* §7.2.11 */
        opts.self_codes[opts.nself_codes++] = 210;
    o->announced = (r->cfg.presence_broadcast & MUC_ROLEBIT(o->role)) != 0;
    for (struct muc_occupant *p = o->announced ? r->occupants : NULL; p; p = p->next)
        if (p != o)
            route_to_occupant(can_see_jids(r, p) ? o->pres_full : o->pres_anon, p);
    struct stanza *self = pres_build(r, o, &opts, true, true);
    route_to_occupant(self, o);
    stanza_unref(self);

    history_send(r, o, mx ? xml_child(mx, "history", NULL) : NULL, (int64_t)time(NULL));
    subject_send(r, o);
}

/* §7.6: presence to room/newnick from an occupant. */
static void room_nick_change(struct muc_room *r, struct muc_occupant *o, struct stanza *st,
                             const struct jid *to)
{
    /* §7.6.3; §7.10: nor may one take a nick someone else registered */
    if (muc_occupant_by_nick(r, to->resource) ||
        muc_nick_reserved_by_other(r, to->resource, o->real_bare)) {
        bounce(st, "cancel", "conflict", NULL);
        return;
    }
    struct muc_pres_opts gone = {.type = "unavailable", .new_nick = to->resource,
                                 .codes = {303}, .ncodes = 1};
    muc_presence_broadcast(r, o, &gone);
    free(o->nick);
    o->nick = aldis_strdup(to->resource);
    stanza_unref(o->presence);
    o->presence = stanza_ref(stanza_freeze(st));
    muc_occupant_refresh(r, o);
    muc_presence_broadcast(r, o, NULL);
}

/* §7.14: the occupant leaves (its server says so too when the session
 * ends: mod_presence sends unavailable to directed-presence recipients). */
static void room_leave(struct muc_room *r, struct muc_occupant *o, struct stanza *st)
{
    struct muc_pres_opts opts = {.type = "unavailable", .base = st};
    o->role = ROLE_NONE;
    muc_occupant_remove(r, o, &opts);
    muc_room_check_empty(r);
}

/* An error from an occupant's server about something the room sent: the
 * occupant is gone ("ghost"), 333 to everyone (§15.6.2). */
static bool error_means_gone(const struct stanza *st)
{
    static const char *const gone[] = {"gone", "item-not-found", "recipient-unavailable",
                                       "redirect", "remote-server-not-found",
                                       "remote-server-timeout", "service-unavailable", NULL};
    struct xml_node *err = xml_child(st->root, "error", NULL);
    if (!err)
        return false;
    for (struct xml_node *c = err->children; c; c = c->next)
        if (c->kind == XML_ELEM && strcmp(c->ns, NS_STANZAS) == 0)
            for (const char *const *g = gone; *g; g++)
                if (strcmp(c->name, *g) == 0)
                    return true;
    return false;
}

static void room_ghost(struct muc_room *r, struct muc_occupant *o)
{
    struct muc_pres_opts opts = {.type = "unavailable", .codes = {333}, .ncodes = 1};
    o->role = ROLE_NONE;
    muc_occupant_remove(r, o, &opts);
    muc_room_check_empty(r);
}

static void room_presence(struct muc_room *r, struct stanza *st, const struct jid *to,
                          const struct jid *from)
{
    char full[JID_STR_MAX];
    struct muc_occupant *o = muc_occupant_by_real(r, jid_full(from, full, sizeof full));
    if (type_is(st, "unavailable")) {
        if (o)
            room_leave(r, o, st);
        return;
    }
    if (type_is(st, "error")) {
        if (o)
            room_ghost(r, o);
        return;
    }
    if (!type_is(st, NULL))
        return; /* subscriptions and probes mean nothing to a room */
    if (!to->resource) { /* §7.2.1: no nick */
        bounce(st, "modify", "jid-malformed", NULL);
        return;
    }
    if (!o) {
        room_join(r, st, to, from, false);
    } else if (strcmp(o->nick, to->resource) != 0) {
        room_nick_change(r, o, st, to);
    } else {
        /* §7.7: a presence update */
        stanza_unref(o->presence);
        o->presence = stanza_ref(stanza_freeze(st));
        muc_occupant_refresh(r, o);
        muc_presence_broadcast(r, o, NULL);
    }
}

void muc_room_absent(struct service *svc, struct stanza *st, const struct jid *to,
                     const struct jid *from)
{
    if (strcmp(stanza_name(st), "presence") != 0) {
        if (!type_is(st, "error") && !type_is(st, "result"))
            bounce(st, "cancel", "item-not-found", NULL);
        return;
    }
    if (!type_is(st, NULL))
        return;
    if (!to->resource) {
        bounce(st, "modify", "jid-malformed", NULL);
        return;
    }
    /* §10.1.1: rooms are made by the host's own users */
    if (!from->local || strcmp(from->domain, svc->host->domain) != 0) {
        bounce(st, "cancel", "not-allowed", NULL);
        return;
    }
    if (muc_room_count() >= (size_t)muc_opts.max_rooms) {
        bounce(st, "wait", "resource-constraint", NULL);
        return;
    }
    if (muc_opts.max_rooms_per_user > 0 || muc_opts.max_rooms_per_service > 0)
        muc_creation_ask(svc, st, to, from); /* counted where all rooms are known */
    else
        muc_room_create_for(svc, st, to, from);
}

void muc_room_create_for(struct service *svc, struct stanza *st, const struct jid *to,
                         const struct jid *from)
{
    char bare[JID_STR_MAX], owner[JID_STR_MAX];
    jid_bare(to, bare, sizeof bare);
    struct muc_room *r = muc_room_create(svc, bare);
    muc_affiliation_set(r, jid_bare(from, owner, sizeof owner), AFF_OWNER, NULL);
    r->creator = aldis_strdup(owner);
    /* §10.1.1: a client speaking the MUC protocol gets a locked room to
     * configure; an old groupchat client an instant room at once */
    r->locked = xml_child(st->root, "x", NS_MUC) != NULL;
    log_info("muc", "%s created by %s%s", bare, owner, r->locked ? " (locked)" : "");
    room_join(r, st, to, from, true);
    if (!r->locked)
        muc_directory_post(r, false);
}

/* ---- messages --------------------------------------------------------------- */

void muc_random_id(char *out, size_t size)
{
    unsigned char raw[12];
    ALDIS_ASSERT(RAND_bytes(raw, sizeof raw) == 1);
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < sizeof raw && n + 2 < size; i++) {
        out[n++] = hex[raw[i] >> 4];
        out[n++] = hex[raw[i] & 15];
    }
    out[n] = '\0';
}

/* §7.4: a message to all occupants, from room/nick, reflected to the
 * sender too; §8.1 when it carries only a subject. */
static void room_groupchat(struct muc_room *r, struct stanza *st, const struct jid *from)
{
    char full[JID_STR_MAX];
    struct muc_occupant *o = muc_occupant_by_real(r, jid_full(from, full, sizeof full));
    if (!o) {
        bounce(st, "modify", "not-acceptable", "Only occupants may send messages to the room");
        return;
    }
    struct xml_node *subject = xml_child(st->root, "subject", st->root->ns);
    struct xml_node *body = xml_child(st->root, "body", st->root->ns);
    bool subject_change = subject && !body;
    if (subject_change) {
        bool may = o->role == ROLE_MODERATOR ||
                   (r->cfg.change_subject && o->role >= ROLE_PARTICIPANT);
        if (!may) {
            bounce(st, "auth", "forbidden", "You may not change the subject");
            return;
        }
    } else if (o->role < ROLE_PARTICIPANT) {
        /* §5.1.1: a visitor has no voice */
        bounce(st, "auth", "forbidden", "Visitors may not speak in this room");
        return;
    }
    /* ARCHITECTURE.md §6: nothing above the room's ceiling (subjects too) */
    char why[300];
    enum security_verdict verdict = security_room_message(r->jid, st, full, why, sizeof why);
    if (verdict != SECURITY_PERMIT) {
        bounce(st, verdict == SECURITY_MALFORMED ? "modify" : "auth",
               verdict == SECURITY_MALFORMED ? "bad-request" : "forbidden", why);
        return;
    }
    struct stanza *m = stanza_copy(st);
    char nickjid[JID_STR_MAX], sid[32];
    occupant_jid(r, o->nick, nickjid, sizeof nickjid);
    xml_set_attr(m, m->root, "to", NULL);
    xml_set_attr(m, m->root, "from", nickjid);
    strip_client_claims(m, r->jid);
    /* XEP-0359 §3: the room stamps its own stanza-id */
    muc_random_id(sid, sizeof sid);
    struct xml_node *sidel = xml_add_child(m, m->root, "stanza-id", NS_SID);
    xml_set_attr(m, sidel, "id", sid);
    xml_set_attr(m, sidel, "by", r->jid);
    struct xml_node *oid = xml_add_child(m, m->root, "occupant-id", NS_OCCUPANT_ID);
    xml_set_attr(m, oid, "id", o->occupant_id);
    stanza_freeze(m);
    muc_room_broadcast(r, m);
    if (subject_change) {
        free(r->subject);
        free(r->subject_nick);
        r->subject = (char *)xml_text(NULL, subject);
        r->subject_nick = aldis_strdup(o->nick);
        muc_room_save(r);
    } else if (body) {
        muc_history_push(r, m, (int64_t)time(NULL));
        if (muc_room_logging(r))
            muc_mam_archive(r, m, sid, o->nick);
    }
    stanza_unref(m);
}

/* §7.5: a private message through the room to room/nick. */
static void room_private(struct muc_room *r, struct stanza *st, const struct jid *to,
                         const struct jid *from)
{
    char full[JID_STR_MAX];
    struct muc_occupant *o = muc_occupant_by_real(r, jid_full(from, full, sizeof full));
    if (type_is(st, "error")) {
        if (o && error_means_gone(st))
            room_ghost(r, o);
        return;
    }
    if (type_is(st, "groupchat")) { /* §7.5: not to one occupant */
        bounce(st, "modify", "bad-request", NULL);
        return;
    }
    if (!o) {
        bounce(st, "modify", "not-acceptable", "Only occupants may send private messages");
        return;
    }
    bool allowed = true;
    switch (r->cfg.allow_pm) {
    case PM_ANYONE: break;
    case PM_PARTICIPANTS: allowed = o->role >= ROLE_PARTICIPANT; break;
    case PM_MODERATORS: allowed = o->role == ROLE_MODERATOR; break;
    case PM_NONE: allowed = false; break;
    }
    if (!allowed) {
        bounce(st, "cancel", "not-allowed", "Private messages are not allowed here");
        return;
    }
    struct muc_occupant *target = muc_occupant_by_nick(r, to->resource);
    if (!target) {
        bounce(st, "cancel", "item-not-found", NULL);
        return;
    }
    struct stanza *m = stanza_copy(st);
    char nickjid[JID_STR_MAX];
    occupant_jid(r, o->nick, nickjid, sizeof nickjid);
    xml_set_attr(m, m->root, "from", nickjid);
    strip_client_claims(m, r->jid);
    /* §7.5: marked as coming through a room */
    xml_add_child(m, m->root, "x", NS_MUC_USER);
    struct xml_node *oid = xml_add_child(m, m->root, "occupant-id", NS_OCCUPANT_ID);
    xml_set_attr(m, oid, "id", o->occupant_id);
    muc_send_to(m, target->real_full);
}

/* §7.8.2: a decline goes back to the inviter, from the room. */
static void room_decline(struct muc_room *r, struct stanza *st, const char *bare,
                         struct xml_node *decline)
{
    struct jid to;
    const char *t = xml_attr(decline, "to");
    if (!t || jid_parse(t, &to) < 0) {
        bounce(st, "modify", "jid-malformed", NULL);
        return;
    }
    struct stanza *m = stanza_new("message", NULL);
    xml_set_attr(m, m->root, "from", r->jid);
    struct xml_node *mx = xml_add_child(m, m->root, "x", NS_MUC_USER);
    struct xml_node *d = xml_add_child(m, mx, "decline", NULL);
    xml_set_attr(m, d, "from", bare);
    struct xml_node *reason = xml_child(decline, "reason", NULL);
    if (reason)
        xml_copy_into(m, d, reason);
    char tbuf[JID_STR_MAX];
    muc_send_to(m, jid_full(&to, tbuf, sizeof tbuf));
}

/* §7.8.2: mediated invitations, sent on by the room. */
static void room_invites(struct muc_room *r, struct stanza *st, const struct jid *from,
                         struct xml_node *x)
{
    char full[JID_STR_MAX], bare[JID_STR_MAX];
    jid_full(from, full, sizeof full);
    jid_bare(from, bare, sizeof bare);
    struct xml_node *decline = xml_child(x, "decline", NULL);
    if (decline) {
        room_decline(r, st, bare, decline);
        return;
    }
    struct muc_occupant *o = muc_occupant_by_real(r, full);
    if (!o) {
        bounce(st, "modify", "not-acceptable", "Only occupants may invite");
        return;
    }
    enum muc_affiliation aff = muc_affiliation_of(r, bare);
    bool privileged = o->role == ROLE_MODERATOR || aff >= AFF_ADMIN;
    if ((!r->cfg.allow_invites || r->cfg.members_only) && !privileged) {
        bounce(st, "auth", "forbidden", "You may not invite others to this room");
        return;
    }
    /* check every invitee before sending anything */
    for (struct xml_node *inv = xml_child(x, "invite", NULL); inv;
         inv = xml_next(inv, "invite", NULL)) {
        struct jid to;
        const char *t = xml_attr(inv, "to");
        if (!t || jid_parse(t, &to) < 0) {
            bounce(st, "modify", "jid-malformed", NULL);
            return;
        }
    }
    for (struct xml_node *inv = xml_child(x, "invite", NULL); inv;
         inv = xml_next(inv, "invite", NULL)) {
        struct jid to;
        jid_parse(xml_attr(inv, "to"), &to);
        char tbuf[JID_STR_MAX], tbare[JID_STR_MAX];
        /* §7.8.2: in a members-only room the invitee becomes a member */
        if (r->cfg.members_only &&
            muc_affiliation_of(r, jid_bare(&to, tbare, sizeof tbare)) == AFF_NONE) {
            muc_affiliation_set(r, tbare, AFF_MEMBER, NULL);
            muc_room_save(r);
        }
        struct stanza *m = stanza_new("message", NULL);
        xml_set_attr(m, m->root, "from", r->jid);
        struct xml_node *mx = xml_add_child(m, m->root, "x", NS_MUC_USER);
        struct xml_node *i = xml_add_child(m, mx, "invite", NULL);
        xml_set_attr(m, i, "from", full);
        struct xml_node *reason = xml_child(inv, "reason", NULL);
        if (reason)
            xml_copy_into(m, i, reason);
        if (r->cfg.password_protected && r->cfg.password) {
            struct xml_node *pw = xml_add_child(m, mx, "password", NULL);
            xml_add_text(m, pw, r->cfg.password, strlen(r->cfg.password));
        }
        muc_send_to(m, jid_full(&to, tbuf, sizeof tbuf));
    }
}

/* §7.13: a visitor asks for voice; every moderator gets the form (§8.6). */
static void voice_request(struct muc_room *r, struct muc_occupant *o)
{
    if (o->role != ROLE_VISITOR)
        return; /* nothing to ask for */
    struct stanza *m = stanza_new("message", NULL);
    xml_set_attr(m, m->root, "from", r->jid);
    struct xml_node *x = xml_add_child(m, m->root, "x", NS_DATA);
    xml_set_attr(m, x, "type", "form");
    struct xml_node *title = xml_add_child(m, x, "title", NULL);
    xml_add_text(m, title, "Voice request", strlen("Voice request"));
    muc_form_field(m, x, "hidden", "FORM_TYPE", NULL, NS_MUC_REQUEST);
    muc_form_field(m, x, "list-single", "muc#role", "Requested role", "participant");
    muc_form_field(m, x, "jid-single", "muc#jid", "User ID", o->real_full);
    muc_form_field(m, x, "text-single", "muc#roomnick", "Room Nickname", o->nick);
    muc_form_field(m, x, "boolean", "muc#request_allow", "Grant voice to this person?", "false");
    stanza_freeze(m);
    for (struct muc_occupant *p = r->occupants; p; p = p->next)
        if (p->role == ROLE_MODERATOR)
            route_to_occupant(m, p);
    stanza_unref(m);
}

static void room_message_bare(struct muc_room *r, struct stanza *st, const struct jid *from)
{
    char full[JID_STR_MAX];
    struct muc_occupant *o = muc_occupant_by_real(r, jid_full(from, full, sizeof full));
    if (type_is(st, "error")) {
        if (o && error_means_gone(st))
            room_ghost(r, o);
        return;
    }
    struct xml_node *x = xml_child(st->root, "x", NS_MUC_USER);
    if (x && (xml_child(x, "invite", NULL) || xml_child(x, "decline", NULL))) {
        room_invites(r, st, from, x);
        return;
    }
    struct xml_node *form = xml_child(st->root, "x", NS_DATA);
    if (form) {
        /* the stanza is shared: its arena is not ours to grow */
        struct stanza *scratch = stanza_new("x", NS_DATA);
        const char *ft = muc_form_value(scratch, form, "FORM_TYPE");
        const char *ftype = xml_attr(form, "type");
        bool request = ft && strcmp(ft, NS_MUC_REQUEST) == 0 && ftype &&
                       strcmp(ftype, "submit") == 0;
        bool approval = request && muc_form_value(scratch, form, "muc#request_allow");
        stanza_unref(scratch);
        if (request) {
            if (!o)
                bounce(st, "modify", "not-acceptable", NULL);
            else if (approval && o->role != ROLE_MODERATOR)
                bounce(st, "auth", "forbidden", NULL);
            else if (approval)
                muc_voice_approve(r, o, form);
            else
                voice_request(r, o);
            return;
        }
    }
    bounce(st, "modify", "bad-request", NULL);
}

/* ---- IQs to occupants ----------------------------------------------------- */

static void fwd_free(struct muc_fwd *f)
{
    free(f->id);
    free(f->orig_id);
    free(f->orig_from);
    free(f->from_nick);
    free(f->to_full);
    free(f);
}

static void fwd_expire(struct muc_room *r, int64_t now)
{
    for (struct muc_fwd **p = &r->fwds; *p;) {
        if ((*p)->expires <= now) {
            struct muc_fwd *f = *p;
            *p = f->next;
            fwd_free(f);
            r->nfwds--;
        } else {
            p = &(*p)->next;
        }
    }
}

/* An answer from an occupant to an IQ we forwarded: back to the asker,
 * from room/nick of the answering occupant. */
static void fwd_answer(struct muc_room *r, struct stanza *st, struct muc_occupant *o)
{
    const char *id = stanza_id(st);
    for (struct muc_fwd **p = &r->fwds; id && *p; p = &(*p)->next) {
        struct muc_fwd *f = *p;
        if (strcmp(f->id, id) != 0 || strcmp(f->to_full, o->real_full) != 0)
            continue;
        *p = f->next;
        r->nfwds--;
        struct stanza *m = stanza_copy(st);
        char nickjid[JID_STR_MAX];
        occupant_jid(r, o->nick, nickjid, sizeof nickjid);
        xml_set_attr(m, m->root, "from", nickjid);
        xml_set_attr(m, m->root, "id", f->orig_id);
        muc_send_to(m, f->orig_from);
        fwd_free(f);
        return;
    }
}

/* IQs to room/nick: XEP-0410 self-pings are answered by the room; other
 * requests go on to the occupant with the ids rewritten, as in §7.5 for
 * messages (the asker never learns the real JID). */
static void room_iq_occupant(struct muc_room *r, struct stanza *st, const struct jid *to,
                             const struct jid *from)
{
    char full[JID_STR_MAX];
    struct muc_occupant *o = muc_occupant_by_real(r, jid_full(from, full, sizeof full));
    if (!(type_is(st, "get") || type_is(st, "set"))) {
        if (o)
            fwd_answer(r, st, o);
        return;
    }
    if (!o) { /* XEP-0410 §3.1: not joined (any more) */
        bounce(st, "cancel", "not-acceptable", NULL);
        return;
    }
    struct muc_occupant *target = muc_occupant_by_nick(r, to->resource);
    if (!target) {
        bounce(st, "cancel", "item-not-found", NULL);
        return;
    }
    struct xml_node *payload = xml_first_elem(st->root);
    if (target == o && payload && xml_is(payload, "ping", NS_PING)) {
        router_route(stanza_iq_result(st)); /* XEP-0410 §3.2 */
        return;
    }
    int64_t now = (int64_t)time(NULL);
    fwd_expire(r, now);
    if (r->nfwds >= MUC_FWD_MAX) {
        bounce(st, "wait", "resource-constraint", NULL);
        return;
    }
    struct muc_fwd *f = calloc(1, sizeof *f);
    ALDIS_ASSERT(f != NULL);
    char id[48];
    snprintf(id, sizeof id, "muc%llu", (unsigned long long)++r->fwd_seq);
    f->id = aldis_strdup(id);
    f->orig_id = aldis_strdup(stanza_id(st) ? stanza_id(st) : "");
    f->orig_from = aldis_strdup(full);
    f->from_nick = aldis_strdup(o->nick);
    f->to_full = aldis_strdup(target->real_full);
    f->expires = now + MUC_FWD_TTL;
    f->next = r->fwds;
    r->fwds = f;
    r->nfwds++;
    struct stanza *m = stanza_copy(st);
    char nickjid[JID_STR_MAX];
    occupant_jid(r, o->nick, nickjid, sizeof nickjid);
    xml_set_attr(m, m->root, "from", nickjid);
    xml_set_attr(m, m->root, "id", id);
    muc_send_to(m, target->real_full);
}

static void room_iq(struct muc_room *r, struct stanza *st, const struct jid *to,
                    const struct jid *from)
{
    if (to->resource) {
        room_iq_occupant(r, st, to, from);
        return;
    }
    if (!(type_is(st, "get") || type_is(st, "set")))
        return;
    char bare[JID_STR_MAX], full[JID_STR_MAX];
    jid_bare(from, bare, sizeof bare);
    struct xml_node *p = xml_first_elem(st->root);
    bool get = type_is(st, "get");
    if (r->locked && muc_affiliation_of(r, bare) != AFF_OWNER) {
        bounce(st, "cancel", "item-not-found", NULL); /* §10.1.1 */
    } else if (!p) {
        bounce(st, "modify", "bad-request", NULL);
    } else if (get && xml_is(p, "query", NS_DISCO_INFO) && xml_attr(p, "node") &&
               strcmp(xml_attr(p, "node"), "x-roomuser-item") == 0) {
        muc_reserved_nick_info(r, st, from);
    } else if (get && xml_is(p, "query", NS_DISCO_INFO)) {
        muc_room_disco_info(r, st, from);
    } else if (get && xml_is(p, "query", NS_DISCO_ITEMS)) {
        /* §6.5: occupants are not listed (that would undo anonymity) */
        struct stanza *reply = stanza_iq_result(st);
        struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_DISCO_ITEMS);
        if (xml_attr(p, "node"))
            xml_set_attr(reply, q, "node", xml_attr(p, "node"));
        router_route(reply);
    } else if (xml_is(p, "query", NS_MUC_ADMIN)) {
        muc_admin_iq(r, st, from, muc_occupant_by_real(r, jid_full(from, full, sizeof full)));
    } else if (xml_is(p, "query", NS_MUC_OWNER)) {
        muc_owner_iq(r, st, from);
    } else if (xml_is(p, "query", NS_MAM_2)) {
        muc_mam_query_iq(r, st, from);
    } else if (!get && xml_is(p, "moderate", NS_MODERATE)) {
        muc_moderate_iq(r, st, from, muc_occupant_by_real(r, jid_full(from, full, sizeof full)));
    } else if (xml_is(p, "query", NS_IQ_REGISTER)) {
        muc_register_iq(r, st, from);
    } else if (xml_is(p, "vCard", NS_VCARD)) {
        muc_vcard_iq(r, st, from);
    } else if (strcmp(p->ns, NS_PIN) == 0) {
        muc_pin_iq(r, st, from, muc_occupant_by_real(r, jid_full(from, full, sizeof full)));
    } else if (get && xml_is(p, "ping", NS_PING)) {
        router_route(stanza_iq_result(st));
    } else {
        bounce(st, "cancel", "service-unavailable", NULL);
    }
}

void muc_room_stanza(struct muc_room *r, struct stanza *st, const struct jid *to,
                     const struct jid *from)
{
    const char *name = stanza_name(st);
    if (strcmp(name, "presence") == 0) {
        room_presence(r, st, to, from);
    } else if (strcmp(name, "message") == 0) {
        if (to->resource)
            room_private(r, st, to, from);
        else if (type_is(st, "groupchat"))
            room_groupchat(r, st, from);
        else
            room_message_bare(r, st, from);
    } else if (strcmp(name, "iq") == 0) {
        room_iq(r, st, to, from);
    }
}

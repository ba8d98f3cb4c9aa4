/* muc_mam.c - a room's archive (XEP-0313 §5.1.2, "querying a MUC
 * archive") and moderated message retraction (XEP-0425 v0.3): which
 * groupchat messages go into the archive, who may read it, the queries
 * (the form, filters and RSM paging are mam_query.c's, shared with user
 * archives), and a moderator's retraction replacing an archived message by
 * a tombstone.
 *
 * The archive is the store's, with owner = the room's bare JID; each item's
 * id is the XEP-0359 stanza-id the room stamped on the message, so a
 * client can name a message it saw live when it pages or retracts. Items
 * are kept as the room sent them (from room/nick, no 'to'): with = the
 * room, peer = room/nick, so the 'with' filter selects one nick.
 *
 * Runs on the room's owner worker. Store callbacks come back on it but the
 * room may be gone by then (destroyed, or a temporary room emptied): they
 * hold the room's JID and look it up again rather than a pointer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "core/router.h"
#include "core/security.h"
#include "modules/mam.h"
#include "modules/muc.h"

/* Longest retraction reason kept (bytes). */
#define MUC_REASON_MAX 1024

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- archiving ---------------------------------------------------------- */

void muc_mam_archive(struct muc_room *r, const struct stanza *m, const char *sid, const char *nick)
{
    char peer[JID_STR_MAX];
    /* XEP-0334 §4: the sender asked for it not to be kept */
    if (xml_child(m->root, "no-store", NS_HINTS) ||
        xml_child(m->root, "no-permanent-store", NS_HINTS))
        return;
    if (nick)
        snprintf(peer, sizeof peer, "%s/%s", r->jid, nick);
    else
        snprintf(peer, sizeof peer, "%s", r->jid);
    struct xml_node *oid = xml_child(m->root, "origin-id", NS_SID);
    const char *origin = oid ? xml_attr(oid, "id") : stanza_id(m);
    size_t len;
    char *xml = stanza_to_string(m, &len);
    struct archive_item it = {.id = (char *)sid, .ts = now_us(), .with = r->jid, .peer = peer,
                              .dir = ARCHIVE_IN, .origin_id = (char *)origin, .xml = xml,
                              .len = len};
    store_archive_append(r->jid, &it, NULL, NULL);
    free(xml);
}

void muc_mam_forget(const struct muc_room *r)
{
    /* A room that ends takes its archive with it: a new room of the same
     * name must not show the old one's history. The store runs requests
     * in order, so a room made again at once archives into an empty one. */
    store_archive_delete(r->jid, NULL, NULL);
}

/* ---- queries (XEP-0313 §4, §5.1.2) ---------------------------------------- */

/* Who may read the archive: XEP-0313 §5.1.2 leaves it to the room's rules
 * of access. Anyone who could enter without a password or an invitation,
 * that is: occupants, members and above; in an open room without password
 * anyone not banned. NULL or the error condition. */
static const char *read_denied(struct muc_room *r, const struct jid *from)
{
    char bare[JID_STR_MAX], full[JID_STR_MAX];
    jid_bare(from, bare, sizeof bare);
    enum muc_affiliation aff = muc_affiliation_of(r, bare);
    if (!muc_room_logging(r))
        return "service-unavailable"; /* the room keeps no archive */
    if (aff == AFF_OUTCAST)
        return "forbidden";
    if (aff >= AFF_MEMBER || muc_occupant_by_real(r, jid_full(from, full, sizeof full)))
        return NULL;
    if (r->cfg.members_only || r->cfg.password_protected)
        return "forbidden";
    return NULL;
}

struct muc_mam_req {
    struct stanza *iq; /* ref */
    char *room;
    char *to;      /* the asker's full JID */
    char *queryid; /* or NULL */
    bool flip;     /* <flip-page/> */
    bool backward;
};

static void query_done(void *ud, int err, const struct archive_page *page)
{
    struct muc_mam_req *req = ud;
    if (err < 0) {
        const char *cond = err == ALDIS_ENOTFOUND ? "item-not-found"
                           : err == ALDIS_EINVAL  ? "bad-request"
                                                  : "internal-server-error";
        if (err != ALDIS_ENOTFOUND && err != ALDIS_EINVAL)
            log_warn("muc", "%s: archive query failed: %s", req->room, aldis_strerror(err));
        router_route(stanza_error_reply(req->iq, err == ALDIS_ENOTFOUND ? "cancel" : "modify",
                                        cond, NULL));
        goto out;
    }
    /* §4: the results, then the IQ result; one route each, in order, to
     * the same destination. Items the asker's clearance does not permit
     * are left out and not counted (ARCHITECTURE.md §6). */
    struct archive_page shown = *page;
    for (size_t k = 0; k < page->n; k++) {
        const struct archive_item *it = &page->items[req->flip ? page->n - 1 - k : k];
        struct stanza *orig = stanza_parse(it->xml, it->len);
        if (!orig) {
            log_warn("muc", "%s: archive item %s does not parse; skipped", req->room, it->id);
            continue;
        }
        if (security_subject_permits(req->to, orig, SECURITY_PATH_ARCHIVE, req->room) != 0) {
            if (shown.count > 0)
                shown.count--;
            stanza_unref(orig);
            continue;
        }
        router_route(mam_result_build(req->room, req->to, req->queryid, it, orig));
        stanza_unref(orig);
    }
    router_route(mam_fin_build(req->iq, &shown, req->backward));
out:
    stanza_unref(req->iq);
    free(req->room);
    free(req->to);
    free(req->queryid);
    free(req);
}

void muc_mam_query_iq(struct muc_room *r, struct stanza *st, const struct jid *from)
{
    const char *cond = read_denied(r, from);
    if (cond) {
        router_bounce(st, strcmp(cond, "forbidden") == 0 ? "auth" : "cancel", cond, NULL);
        return;
    }
    if (strcmp(stanza_type(st), "get") == 0) {
        mam_query_form_send(st);
        return;
    }
    struct xml_node *query = xml_first_elem(st->root);
    struct mam_search *s = NULL;
    cond = mam_search_parse(query, r->jid, &s);
    if (cond) {
        router_bounce(st, mam_error_type(cond), cond, NULL);
        return;
    }
    char full[JID_STR_MAX];
    struct muc_mam_req *req = calloc(1, sizeof *req);
    ALDIS_ASSERT(req != NULL);
    req->iq = stanza_ref(st);
    req->room = aldis_strdup(r->jid);
    req->to = aldis_strdup(jid_full(from, full, sizeof full));
    req->queryid = aldis_strdup(xml_attr(query, "queryid"));
    req->flip = xml_child(query, "flip-page", NS_MAM) != NULL;
    req->backward = mam_search_query(s)->backward;
    store_archive_query(mam_search_query(s), query_done, req); /* copies the query */
    mam_search_free(s);
}

/* ---- moderated retraction (XEP-0425) ------------------------------------ */

struct muc_moderation {
    struct stanza *iq; /* ref */
    char *room;
    char *id;          /* the stanza-id retracted */
    char *by;          /* room/moderator-nick */
    char occupant_id[48];
    char *reason;      /* or NULL */
};

static void moderation_free(struct muc_moderation *md)
{
    stanza_unref(md->iq);
    free(md->room);
    free(md->id);
    free(md->by);
    free(md->reason);
    free(md);
}

/* <moderated by><occupant-id/></moderated><reason/> inside parent, the part
 * the retraction message and the tombstone share (XEP-0425 §4, §5). */
static void moderation_mark(struct stanza *st, struct xml_node *parent,
                            const struct muc_moderation *md)
{
    struct xml_node *mod = xml_add_child(st, parent, "moderated", NS_MODERATE);
    xml_set_attr(st, mod, "by", md->by);
    struct xml_node *oid = xml_add_child(st, mod, "occupant-id", NS_OCCUPANT_ID);
    xml_set_attr(st, oid, "id", md->occupant_id);
    if (md->reason) {
        struct xml_node *rs = xml_add_child(st, parent, "reason", NS_RETRACT_1);
        xml_add_text(st, rs, md->reason, strlen(md->reason));
    }
}

/* The archived message with its content replaced by <retracted/>: its
 * attributes, stanza-id and occupant-id stay (XEP-0425 §5, XEP-0313 §3.2:
 * the item keeps its id and place). */
static void tombstone_write(const struct muc_moderation *md, const struct archive_item *it)
{
    struct stanza *orig = stanza_parse(it->xml, it->len);
    if (!orig)
        return;
    struct stanza *tomb = stanza_new("message", NULL);
    for (const struct xml_attr *a = orig->root->attrs; a; a = a->next)
        if (a->ns)
            xml_set_attr_ns(tomb, tomb->root, a->ns, a->name, a->value);
        else
            xml_set_attr(tomb, tomb->root, a->name, a->value);
    char stamp[48];
    mam__time_format(now_us(), stamp, sizeof stamp);
    struct xml_node *rd = xml_add_child(tomb, tomb->root, "retracted", NS_RETRACT_1);
    xml_set_attr(tomb, rd, "stamp", stamp);
    moderation_mark(tomb, rd, md);
    struct xml_node *keep;
    if ((keep = xml_child(orig->root, "stanza-id", NS_SID)))
        xml_copy_into(tomb, tomb->root, keep);
    if ((keep = xml_child(orig->root, "occupant-id", NS_OCCUPANT_ID)))
        xml_copy_into(tomb, tomb->root, keep);
    size_t len;
    char *xml = stanza_to_string(tomb, &len);
    store_archive_update(md->room, it->id, xml, len, it->flags | ARCHIVE_FLAG_RETRACTED, NULL,
                         NULL);
    free(xml);
    stanza_unref(tomb);
    stanza_unref(orig);
}

/* XEP-0425 §4: everyone (the moderator too) learns of the retraction from
 * the room's bare JID; the notice is itself archived, so that clients
 * catching up through MAM apply it. */
static void moderation_announce(struct muc_room *r, const struct muc_moderation *md)
{
    char sid[32], id[32];
    muc_random_id(sid, sizeof sid);
    muc_random_id(id, sizeof id);
    struct stanza *m = stanza_new("message", NULL);
    xml_set_attr(m, m->root, "from", r->jid);
    xml_set_attr(m, m->root, "type", "groupchat");
    xml_set_attr(m, m->root, "id", id);
    struct xml_node *rt = xml_add_child(m, m->root, "retract", NS_RETRACT_1);
    xml_set_attr(m, rt, "id", md->id);
    moderation_mark(m, rt, md);
    xml_add_child(m, m->root, "store", NS_HINTS);
    struct xml_node *sidel = xml_add_child(m, m->root, "stanza-id", NS_SID);
    xml_set_attr(m, sidel, "id", sid);
    xml_set_attr(m, sidel, "by", r->jid);
    stanza_freeze(m);
    muc_room_broadcast(r, m);
    if (muc_room_logging(r))
        muc_mam_archive(r, m, sid, NULL);
    stanza_unref(m);
}

static void moderation_found(void *ud, int err, const struct archive_page *page)
{
    struct muc_moderation *md = ud;
    struct muc_room *r = muc_room_lookup(md->room);
    bool archived = err == 0 && page->n == 1 && !(page->items[0].flags & ARCHIVE_FLAG_RETRACTED);
    bool in_history = false;
    for (size_t i = 0; r && i < r->nhistory; i++) {
        struct xml_node *sid = xml_child(r->history[i].st->root, "stanza-id", NS_SID);
        const char *v = sid ? xml_attr(sid, "id") : NULL;
        in_history |= v && strcmp(v, md->id) == 0;
    }
    if (err < 0 && err != ALDIS_ENOTFOUND)
        log_warn("muc", "%s: archive lookup for a retraction failed: %s", md->room,
                 aldis_strerror(err));
    if (!r || (!archived && !in_history)) {
        router_bounce(md->iq, "cancel", "item-not-found", NULL);
        goto out;
    }
    if (archived)
        tombstone_write(md, &page->items[0]);
    muc_history_drop(r, md->id);
    router_route(stanza_iq_result(md->iq));
    moderation_announce(r, md);
    muc_pin_forget(r, md->id);
out:
    moderation_free(md);
}

void muc_moderate_iq(struct muc_room *r, struct stanza *st, const struct jid *from,
                     struct muc_occupant *sender)
{
    (void)from;
    struct xml_node *mod = xml_first_elem(st->root);
    const char *id = xml_attr(mod, "id");
    /* XEP-0425 §4: only moderators; non-occupants are not moderators */
    if (!sender || sender->role != ROLE_MODERATOR) {
        router_bounce(st, "auth", "forbidden", "Only moderators may retract messages");
        return;
    }
    if (!id || !id[0] || strlen(id) > ARCHIVE_ID_MAX || !xml_child(mod, "retract", NS_RETRACT_1)) {
        router_bounce(st, "modify", "bad-request", NULL);
        return;
    }
    struct xml_node *rs = xml_child(mod, "reason", NULL);
    char *reason = rs ? (char *)xml_text(NULL, rs) : NULL;
    if (reason && strlen(reason) > MUC_REASON_MAX) {
        free(reason);
        router_bounce(st, "modify", "not-acceptable", "The reason is too long");
        return;
    }
    if (reason && !reason[0]) { /* an empty reason says nothing */
        free(reason);
        reason = NULL;
    }
    struct muc_moderation *md = calloc(1, sizeof *md);
    ALDIS_ASSERT(md != NULL);
    md->reason = reason;
    char by[JID_STR_MAX];
    snprintf(by, sizeof by, "%s/%s", r->jid, sender->nick);
    md->iq = stanza_ref(st);
    md->room = aldis_strdup(r->jid);
    md->id = aldis_strdup(id);
    md->by = aldis_strdup(by);
    snprintf(md->occupant_id, sizeof md->occupant_id, "%s", sender->occupant_id);
    /* The archive is asked even when logging is off now: the message may
     * be from before. The history is checked when the answer comes. */
    const char *ids[1] = {md->id};
    struct archive_query q = {.owner = md->room, .ids = ids, .nids = 1, .dir = -1, .max = 1};
    store_archive_query(&q, moderation_found, md);
}

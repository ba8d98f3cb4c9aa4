/* muc_pin.c - pinned messages of a room (urn:aldis:pin:0, an Aldis
 * extension: no XEP covers pinning single messages). The room keeps the
 * list, so every occupant, late joiners included, sees the same pins, and
 * only moderators change it (docs/modules/muc.md, "Pinned messages").
 *
 *   <iq type='set'><pin xmlns='urn:aldis:pin:0' id='STANZA-ID'/></iq>
 *   <iq type='set'><unpin xmlns='urn:aldis:pin:0' id='STANZA-ID'/></iq>
 *   <iq type='get'><pins xmlns='urn:aldis:pin:0'/></iq>
 *     -> <pins><pin id='..' by='NICK' at='XEP-0082 stamp'/>...</pins>
 *
 * A pin names a message by the XEP-0359 stanza-id the room stamped on it
 * (the room archive's item id). Each change is announced to the occupants
 * by a bodiless groupchat message from the room carrying the whole new
 * <pins/> list. The list is bounded (MUC_PINS_MAX): a pin beyond it is
 * refused rather than silently dropping an old one. It is kept in the
 * room's stored form (muc_store.c calls muc_pin_encode/_decode), so pins of
 * a persistent room survive restarts and idle unloading.
 *
 * Runs on the room's owner worker; the archive lookup's callback holds the
 * room's JID and looks the room up again (it may be gone by then). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "core/router.h"
#include "modules/muc.h"

static bool id_valid(const char *id)
{
    return id && id[0] && strlen(id) <= ARCHIVE_ID_MAX;
}

static struct muc_pin *pin_find(struct muc_room *r, const char *id)
{
    for (size_t i = 0; i < r->npins; i++)
        if (strcmp(r->pins[i].id, id) == 0)
            return &r->pins[i];
    return NULL;
}

/* Append a pin; the caller checked the bound and that it is new. */
static void pin_add(struct muc_room *r, const char *id, const char *by, int64_t at)
{
    ALDIS_ASSERT(r->npins < MUC_PINS_MAX);
    if (!r->pins) {
        r->pins = calloc(MUC_PINS_MAX, sizeof *r->pins);
        ALDIS_ASSERT(r->pins != NULL);
    }
    struct muc_pin *p = &r->pins[r->npins++];
    p->id = aldis_strdup(id);
    p->by = aldis_strdup(by ? by : "");
    p->at = at;
}

static void pin_remove(struct muc_room *r, struct muc_pin *p)
{
    size_t i = (size_t)(p - r->pins);
    free(p->id);
    free(p->by);
    memmove(r->pins + i, r->pins + i + 1, (r->npins - i - 1) * sizeof *r->pins);
    r->npins--;
}

void muc_pin_clear(struct muc_room *r)
{
    for (size_t i = 0; i < r->npins; i++) {
        free(r->pins[i].id);
        free(r->pins[i].by);
    }
    free(r->pins);
    r->pins = NULL;
    r->npins = 0;
}

/* <pins xmlns='urn:aldis:pin:0'><pin id by at/>...</pins>, oldest first:
 * the answer to a get, the announcement and the stored form alike. */
static void pins_build(struct stanza *st, struct xml_node *parent, const struct muc_room *r)
{
    struct xml_node *list = xml_add_child(st, parent, "pins", NS_PIN);
    for (size_t i = 0; i < r->npins; i++) {
        char stamp[48];
        muc_timestamp(r->pins[i].at, stamp, sizeof stamp);
        struct xml_node *p = xml_add_child(st, list, "pin", NULL);
        xml_set_attr(st, p, "id", r->pins[i].id);
        xml_set_attr(st, p, "by", r->pins[i].by);
        xml_set_attr(st, p, "at", stamp);
    }
}

void muc_pin_encode(struct stanza *st, struct xml_node *parent, const struct muc_room *r)
{
    if (r->npins > 0)
        pins_build(st, parent, r);
}

/* The stored stamp is ours (muc_timestamp), but the blob is still input:
 * anything unparseable becomes 0 rather than failing the room's load. */
static int64_t stamp_parse(const char *s)
{
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return 0;
    return (int64_t)timegm(&tm);
}

void muc_pin_decode(struct muc_room *r, const struct xml_node *room)
{
    muc_pin_clear(r);
    const struct xml_node *list = xml_child(room, "pins", NS_PIN);
    for (struct xml_node *p = list ? xml_child(list, "pin", NS_PIN) : NULL;
         p && r->npins < MUC_PINS_MAX; p = xml_next(p, "pin", NS_PIN)) {
        const char *id = xml_attr(p, "id");
        if (!id_valid(id) || pin_find(r, id))
            continue;
        pin_add(r, id, xml_attr(p, "by"), stamp_parse(xml_attr(p, "at")));
    }
}

/* Tell every occupant the new list: a groupchat message from the room
 * with no body, not to be archived (XEP-0334): a late joiner asks with a
 * get instead of replaying announcements. */
static void pins_announce(struct muc_room *r)
{
    char id[32];
    muc_random_id(id, sizeof id);
    struct stanza *m = stanza_new("message", NULL);
    xml_set_attr(m, m->root, "from", r->jid);
    xml_set_attr(m, m->root, "type", "groupchat");
    xml_set_attr(m, m->root, "id", id);
    pins_build(m, m->root, r);
    xml_add_child(m, m->root, "no-store", NS_HINTS);
    stanza_freeze(m);
    muc_room_broadcast(r, m);
    stanza_unref(m);
}

/* The list changed: keep it (persistent rooms) and tell the occupants. */
static void pins_changed(struct muc_room *r)
{
    muc_room_save(r);
    pins_announce(r);
}

void muc_pin_forget(struct muc_room *r, const char *id)
{
    struct muc_pin *p = pin_find(r, id);
    if (!p)
        return;
    pin_remove(r, p);
    pins_changed(r);
}

/* Who may read the list: as for the room's archive (muc_mam.c), anyone who
 * could enter without a password or an invitation - occupants, members and
 * above; in an open room without a password anyone not banned. */
static bool read_allowed(struct muc_room *r, const struct jid *from, struct muc_occupant *sender)
{
    char bare[JID_STR_MAX];
    enum muc_affiliation aff = muc_affiliation_of(r, jid_bare(from, bare, sizeof bare));
    if (aff == AFF_OUTCAST)
        return false;
    if (aff >= AFF_MEMBER || sender)
        return true;
    return !r->cfg.members_only && !r->cfg.password_protected;
}

static void pins_get(struct muc_room *r, struct stanza *st, const struct jid *from,
                     struct muc_occupant *sender)
{
    if (!read_allowed(r, from, sender)) {
        router_bounce(st, "auth", "forbidden", NULL);
        return;
    }
    struct stanza *reply = stanza_iq_result(st);
    pins_build(reply, reply->root, r);
    router_route(reply);
}

/* Add a pin that passed every check; answers the IQ. */
static void pin_commit(struct muc_room *r, struct stanza *iq, const char *id, const char *by)
{
    if (pin_find(r, id)) { /* pinned meanwhile: nothing changes */
        router_route(stanza_iq_result(iq));
        return;
    }
    if (r->npins >= MUC_PINS_MAX) {
        router_bounce(iq, "cancel", "policy-violation", "The room has as many pins as it may");
        return;
    }
    pin_add(r, id, by, (int64_t)time(NULL));
    router_route(stanza_iq_result(iq));
    pins_changed(r);
}

struct muc_pin_req {
    struct stanza *iq; /* ref */
    char *room;
    char *id;
    char *by; /* the moderator's nick */
};

static void pin_found(void *ud, int err, const struct archive_page *page)
{
    struct muc_pin_req *req = ud;
    struct muc_room *r = muc_room_lookup(req->room);
    bool archived = err == 0 && page->n == 1 && !(page->items[0].flags & ARCHIVE_FLAG_RETRACTED);
    if (err < 0 && err != ALDIS_ENOTFOUND)
        log_warn("muc", "%s: archive lookup for a pin failed: %s", req->room,
                 aldis_strerror(err));
    if (!r || !archived)
        router_bounce(req->iq, "cancel", "item-not-found", "No such message in the room");
    else
        pin_commit(r, req->iq, req->id, req->by);
    stanza_unref(req->iq);
    free(req->room);
    free(req->id);
    free(req->by);
    free(req);
}

static bool in_history(const struct muc_room *r, const char *id)
{
    for (size_t i = 0; i < r->nhistory; i++) {
        struct xml_node *sid = xml_child(r->history[i].st->root, "stanza-id", NS_SID);
        const char *v = sid ? xml_attr(sid, "id") : NULL;
        if (v && strcmp(v, id) == 0)
            return true;
    }
    return false;
}

void muc_pin_iq(struct muc_room *r, struct stanza *st, const struct jid *from,
                struct muc_occupant *sender)
{
    struct xml_node *p = xml_first_elem(st->root);
    bool get = strcmp(stanza_type(st), "get") == 0;
    if (get) {
        if (xml_is(p, "pins", NS_PIN))
            pins_get(r, st, from, sender);
        else
            router_bounce(st, "modify", "bad-request", NULL);
        return;
    }
    bool pin = xml_is(p, "pin", NS_PIN);
    if (!pin && !xml_is(p, "unpin", NS_PIN)) {
        router_bounce(st, "modify", "bad-request", NULL);
        return;
    }
    /* Like XEP-0425 retraction: a moderator present in the room; an
     * owner or admin elsewhere is not one until they enter. */
    if (!sender || sender->role != ROLE_MODERATOR) {
        router_bounce(st, "auth", "forbidden", "Only moderators may pin messages");
        return;
    }
    const char *id = xml_attr(p, "id");
    if (!id_valid(id)) {
        router_bounce(st, "modify", "bad-request", "A pin needs the message's stanza-id");
        return;
    }
    if (!pin) {
        struct muc_pin *old = pin_find(r, id);
        if (!old) {
            router_bounce(st, "cancel", "item-not-found", "That message is not pinned");
            return;
        }
        pin_remove(r, old);
        router_route(stanza_iq_result(st));
        pins_changed(r);
        return;
    }
    if (pin_find(r, id)) { /* idempotent: pinning twice changes nothing */
        router_route(stanza_iq_result(st));
        return;
    }
    if (r->npins >= MUC_PINS_MAX) {
        router_bounce(st, "cancel", "policy-violation", "The room has as many pins as it may");
        return;
    }
    /* The id must name a message of the room when the room can tell: one
     * in its recent history, or (archived rooms) in its archive and not
     * retracted. A room without an archive cannot check older messages
     * and takes the id as given. */
    if (in_history(r, id) || !muc_room_logging(r)) {
        pin_commit(r, st, id, sender->nick);
        return;
    }
    struct muc_pin_req *req = calloc(1, sizeof *req);
    ALDIS_ASSERT(req != NULL);
    req->iq = stanza_ref(st);
    req->room = aldis_strdup(r->jid);
    req->id = aldis_strdup(id);
    req->by = aldis_strdup(sender->nick);
    const char *ids[1] = {req->id};
    struct archive_query q = {.owner = req->room, .ids = ids, .nids = 1, .dir = -1, .max = 1};
    store_archive_query(&q, pin_found, req);
}

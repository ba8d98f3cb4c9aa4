/* muc.h - XEP-0045 Multi-User Chat, private to the muc files: the room and
 * occupant types and the functions the files share.
 *
 *   mod_muc.c    the module table, per-worker room tables, dispatch of every
 *                stanza for the service, loading rooms from the store, the
 *                service's disco and its directory of rooms (disco#items)
 *   muc_room.c   occupants: join, leave, nick change, presence fan-out,
 *                groupchat and private messages, history, subject,
 *                invitations, voice requests, IQs to occupants
 *   muc_admin.c  roles and affiliations (muc#admin), room configuration and
 *                destruction (muc#owner), room disco#info
 *   muc_store.c  the persistent form of a room
 *   muc_mam.c    the room's archive (XEP-0313 §5.1.2) and moderated message
 *                retraction (XEP-0425)
 *   muc_register.c  nickname registration and reserved nicks (§7.10, §7.12)
 *   muc_avatar.c the room's vCard and avatar hash (XEP-0486)
 *   muc_pin.c    pinned messages (urn:aldis:pin:0, an Aldis extension)
 *
 * Threads: a room lives on worker_owner_of(room JID) and is touched only
 * there, so nothing in it is locked. The directory of a service lives on
 * worker_owner_of(service domain); rooms tell it about themselves with
 * worker_post (muc_directory_post). */
#ifndef ALDIS_MODULES_MUC_H
#define ALDIS_MODULES_MUC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aldis/jid.h"
#include "aldis/module.h"
#include "aldis/xml.h"

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_MUC_ADMIN "http://jabber.org/protocol/muc#admin"
#define NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define NS_MUC_ROOMCONFIG "http://jabber.org/protocol/muc#roomconfig"
#define NS_MUC_ROOMINFO "http://jabber.org/protocol/muc#roominfo"
#define NS_MUC_REQUEST "http://jabber.org/protocol/muc#request"
#define NS_MUC_SELFPING "http://jabber.org/protocol/muc#self-ping-optimization"
#define NS_DATA "jabber:x:data"
#define NS_DELAY "urn:xmpp:delay"
#define NS_SID "urn:xmpp:sid:0"
#define NS_OCCUPANT_ID "urn:xmpp:occupant-id:0"
#define NS_PING "urn:xmpp:ping"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_MUC_REGISTER "http://jabber.org/protocol/muc#register"
#define NS_MUC_UNIQUE "http://jabber.org/protocol/muc#unique"
#define NS_IQ_REGISTER "jabber:iq:register"
#define NS_MAM_2 "urn:xmpp:mam:2"
#define NS_MODERATE "urn:xmpp:message-moderate:1"
#define NS_RETRACT_1 "urn:xmpp:message-retract:1"
#define NS_HINTS "urn:xmpp:hints"
#define NS_VCARD "vcard-temp"
#define NS_PIN "urn:aldis:pin:0" /* pinned messages (muc_pin.c) */
#define MUC_PINS_MAX 50          /* pins a room keeps; more are refused */
#define MUC_AVATAR_HASH_LEN 40 /* SHA-1 in hex */

/* Affiliations a room may hold (bans and members included): bounds the
 * room's memory and every linear scan of the list. */
#define MUC_AFFS_MAX 10000
/* Role sets (muc#roomconfig_presencebroadcast, _getmemberlist). */
#define MUC_ROLEBIT(role) (1u << (role))
#define MUC_ROLES_ALL (MUC_ROLEBIT(ROLE_VISITOR) | MUC_ROLEBIT(ROLE_PARTICIPANT) | \
                       MUC_ROLEBIT(ROLE_MODERATOR))

/* XEP-0045 §5.2, ordered by privilege so comparisons read naturally. */
enum muc_affiliation { AFF_OUTCAST = 0, AFF_NONE, AFF_MEMBER, AFF_ADMIN, AFF_OWNER };
/* XEP-0045 §5.1 */
enum muc_role { ROLE_NONE = 0, ROLE_VISITOR, ROLE_PARTICIPANT, ROLE_MODERATOR };
/* muc#roomconfig_allowpm: who may send private messages */
enum muc_allowpm { PM_ANYONE = 0, PM_PARTICIPANTS, PM_MODERATORS, PM_NONE };

extern struct module mod_muc;

/* Module options, read once at init (see docs/modules/muc.md). */
struct muc_options {
    long max_history;     /* ceiling of a room's history length */
    long history_default; /* history length of a new room */
    long max_occupants;   /* hard ceiling per room, whatever maxusers says */
    long max_rooms;       /* rooms held in memory per worker */
    bool logging_default; /* muc#roomconfig_enablelogging of a new room */
    long max_vcard_size;  /* bytes of a room's vCard (XEP-0486); 0: none */
    long idle_unload;     /* seconds before an empty persistent room leaves
                             memory; 0: never */
    long max_rooms_per_user;    /* rooms one user may have created; 0: no limit */
    long max_rooms_per_service; /* rooms of one service; 0: no limit */
};
extern struct muc_options muc_opts;

/* The muc#roomconfig values (XEP-0045 §10.2 and §15.5.3). Strings are
 * malloc'd and owned by the room. */
struct muc_config {
    char *name;
    char *desc;
    bool persistent;
    bool public_room;
    bool members_only;
    bool moderated;
    bool password_protected;
    char *password;
    bool whois_anyone;   /* non-anonymous (whois=anyone) vs semi-anonymous */
    long max_users;      /* 0: no limit but muc_opts.max_occupants */
    bool change_subject; /* participants may change the subject */
    bool allow_invites;  /* participants may invite */
    enum muc_allowpm allow_pm;
    long history_length;
    bool logging;                /* enablelogging: archived (persistent rooms) */
    unsigned presence_broadcast; /* MUC_ROLEBIT set whose presence is sent */
    unsigned get_member_list;    /* MUC_ROLEBIT set that may read the members */
    char *pubsub;                /* XMPP URI of the room's PubSub node, or NULL */
};

struct muc_affil {
    char *jid; /* bare JID */
    enum muc_affiliation aff;
    char *reason; /* or NULL */
    char *nick;   /* registered (reserved) nick, or NULL (§7.10) */
};

struct muc_occupant {
    struct muc_occupant *next;
    char *nick;
    struct jid *real;   /* the occupant's full JID (jid_dup) */
    char *real_full;
    char *real_bare;
    enum muc_role role;
    struct stanza *presence; /* the client's last available presence (frozen) */
    /* Its current available presence as others see it, built once per
     * change and shared by every recipient (no 'to': routed with
     * router_route_to). anon lacks the real JID, full has it. */
    struct stanza *pres_anon;
    struct stanza *pres_full;
    char occupant_id[48]; /* XEP-0421 */
    /* Whether the others were told of its presence (its role is in
     * presencebroadcast, or was): only then do they hear it leave. */
    bool announced;
};

/* A pinned message (muc_pin.c); strings malloc'd, owned by the room. */
struct muc_pin {
    char *id; /* the room's XEP-0359 stanza-id of the message */
    char *by; /* nick of the moderator who pinned it */
    int64_t at;
};

struct muc_history {
    struct stanza *st; /* with <delay/>, no 'to' (frozen) */
    int64_t stamp;
    size_t chars;
};

/* An IQ forwarded to an occupant, waiting for its answer (XEP-0410 §3.2). */
struct muc_fwd {
    struct muc_fwd *next;
    char *id;        /* our id on the forwarded IQ */
    char *orig_id;   /* the sender's id */
    char *orig_from; /* the sender's real full JID */
    char *from_nick; /* the sender's nick at the time */
    char *to_full;   /* the target's real JID */
    int64_t expires;
};

struct muc_room {
    char *jid;        /* bare room JID, room@service */
    char *creator;    /* bare JID of who created it (room limits), or NULL */
    struct service *svc;
    struct muc_config cfg;
    bool locked;      /* created, not yet configured (XEP-0045 §10.1) */
    char *subject;    /* NULL: never set */
    char *subject_nick;
    struct muc_affil *affs;
    size_t naffs, caffs;
    struct muc_occupant *occupants; /* in order of entering */
    size_t noccupants;
    struct muc_history *history;    /* oldest first */
    size_t nhistory;
    unsigned char secret[16]; /* occupant-id key, stable for the room */
    struct muc_fwd *fwds;
    size_t nfwds;
    uint64_t fwd_seq;
    int64_t last_used;    /* time() of the last stanza for it (idle unloading) */
    struct stanza *vcard; /* the room's <vCard/> (frozen), or NULL */
    char avatar_hash[MUC_AVATAR_HASH_LEN + 1]; /* "" without a photo */
    struct muc_pin *pins; /* oldest first, at most MUC_PINS_MAX */
    size_t npins;
};

/* ---- mod_muc.c ----------------------------------------------------------- */
/* The room table of the calling worker. */
struct muc_room *muc_room_lookup(const char *jid);
size_t muc_room_count(void);
/* A new room owned by the calling worker (put in its table). */
struct muc_room *muc_room_create(struct service *svc, const char *jid);
/* Remove from the table, tell the directory, free. */
void muc_room_remove(struct muc_room *r);
void muc_room_free(struct muc_room *r);
/* Free one occupant (names and its prepared presence stanzas). */
void muc_occupant_free(struct muc_occupant *o);
/* Tell the service's directory what the room is now (or that it is gone). */
void muc_directory_post(struct muc_room *r, bool gone);
/* Ask the service's directory whether from may create the room (the room
 * limits); the answer comes back to this worker, which then creates the
 * room (muc_room_create_for) or refuses st. */
void muc_creation_ask(struct service *svc, struct stanza *st, const struct jid *to,
                      const struct jid *from);
/* Write the room to the store if persistent and configured. */
void muc_room_save(struct muc_room *r);
void muc_room_forget(struct muc_room *r); /* delete from the store */

/* ---- muc_room.c ---------------------------------------------------------- */
void muc_room_stanza(struct muc_room *r, struct stanza *st, const struct jid *to,
                     const struct jid *from);
/* A stanza for a room that does not exist: a join creates it (after the
 * directory's consent when room limits are set: muc_creation_ask). */
void muc_room_absent(struct service *svc, struct stanza *st, const struct jid *to,
                     const struct jid *from);
/* Create the room for the entering presence st and enter it. */
void muc_room_create_for(struct service *svc, struct stanza *st, const struct jid *to,
                         const struct jid *from);
struct muc_occupant *muc_occupant_by_nick(struct muc_room *r, const char *nick);
struct muc_occupant *muc_occupant_by_real(struct muc_room *r, const char *full);
enum muc_affiliation muc_affiliation_of(const struct muc_room *r, const char *bare);
/* Set (AFF_NONE removes) a bare JID's affiliation. */
void muc_affiliation_set(struct muc_room *r, const char *bare, enum muc_affiliation aff,
                         const char *reason);
enum muc_role muc_role_default(const struct muc_room *r, enum muc_affiliation aff);
const char *muc_affiliation_name(enum muc_affiliation a);
const char *muc_role_name(enum muc_role r);
int muc_affiliation_parse(const char *s);
int muc_role_parse(const char *s);

/* What to say in a presence about an occupant (XEP-0045 §15.6 codes). */
struct muc_pres_opts {
    const char *type;          /* NULL (available) or "unavailable" */
    const struct stanza *base; /* presence to copy show/status from, or NULL */
    const char *new_nick;      /* item nick (303) */
    const char *actor_nick;    /* item <actor nick/> */
    const char *reason;        /* item <reason/> */
    int codes[4];              /* for everyone */
    size_t ncodes;
    int self_codes[4];         /* only in the occupant's own presence (110 added) */
    size_t nself_codes;
    bool forced_none;          /* item says affiliation/role none (destroy) */
    bool destroy;
    const char *destroy_jid;
    const char *destroy_reason;
};
/* Send the presence of `o` to every occupant (o's own copy with 110). With
 * opts NULL: o's cached available presence. */
void muc_presence_broadcast(struct muc_room *r, struct muc_occupant *o,
                            const struct muc_pres_opts *opts);
/* Rebuild o's cached presence after a change of role, affiliation,
 * anonymity or presence. */
void muc_occupant_refresh(struct muc_room *r, struct muc_occupant *o);
/* Take o out of the room telling everyone (codes: 301, 307, 321...). */
void muc_occupant_remove(struct muc_room *r, struct muc_occupant *o,
                         const struct muc_pres_opts *opts);
/* The server is shutting down: tell every occupant it is removed (332). */
void muc_room_shutdown_notice(struct muc_room *r);
/* A temporary room with nobody in it goes, with its archive (r is freed then). */
void muc_room_check_empty(struct muc_room *r);
/* A message from the room itself to every occupant with status codes. */
void muc_room_notice(struct muc_room *r, const int *codes, size_t ncodes);
/* Set 'to' and route (a stanza for one recipient). */
void muc_send_to(struct stanza *st, const char *to);
void muc_timestamp(int64_t t, char *buf, size_t size);
/* A moderator's role change (ROLE_NONE kicks, 307). */
void muc_role_set(struct muc_room *r, struct muc_occupant *o, enum muc_role role,
                  const char *actor, const char *reason);
/* Is the room archiving (enablelogging on a persistent room)? */
bool muc_room_logging(const struct muc_room *r);
/* Send a frozen stanza without 'to' to every occupant. */
void muc_room_broadcast(struct muc_room *r, struct stanza *st);
/* Append a groupchat message sent at `t` (seconds) to the history. */
void muc_history_push(struct muc_room *r, const struct stanza *msg, int64_t t);
/* Drop the history entry with the room's stanza-id `id` (a retraction). */
void muc_history_drop(struct muc_room *r, const char *id);
/* 32 hex characters of randomness (stanza ids, unique room names). */
void muc_random_id(char *out, size_t size);

/* ---- muc_admin.c --------------------------------------------------------- */
void muc_admin_iq(struct muc_room *r, struct stanza *st, const struct jid *from,
                  struct muc_occupant *sender);
void muc_owner_iq(struct muc_room *r, struct stanza *st, const struct jid *from);
void muc_room_disco_info(struct muc_room *r, struct stanza *st, const struct jid *from);
void muc_config_defaults(struct muc_config *c);
void muc_config_clear(struct muc_config *c);
/* Change a bare JID's affiliation as muc#admin does: occupants with it get
 * their new presence (or leave: banned, members-only), someone not in the
 * room a message with 101. The caller saves the room. */
void muc_affiliation_change(struct muc_room *r, const char *jid, enum muc_affiliation aff,
                            const char *actor);
/* A moderator sent a voice request form back approved (XEP-0045 §8.6). */
void muc_voice_approve(struct muc_room *r, struct muc_occupant *moderator,
                       const struct xml_node *form);
/* Data form helpers (XEP-0004). muc_form_value's result lives in the
 * arena of `scratch` (never a shared stanza's). */
struct xml_node *muc_form_field(struct stanza *st, struct xml_node *x, const char *type,
                                const char *var, const char *label, const char *value);
const char *muc_form_value(struct stanza *scratch, const struct xml_node *x, const char *var);
bool muc_form_bool(const char *v);
/* §10.9: everyone out, stored state deleted, room freed. */
void muc_destroy(struct muc_room *r, const char *alt_jid, const char *reason);

/* ---- muc_mam.c ----------------------------------------------------------- */
/* Archive a groupchat message the room just sent (frozen, no 'to'), under
 * its stanza-id `sid`; `nick`: the sender's, or NULL for the room. */
void muc_mam_archive(struct muc_room *r, const struct stanza *m, const char *sid,
                     const char *nick);
/* The room ends (destroyed, or a temporary room emptied): delete its archive. */
void muc_mam_forget(const struct muc_room *r);
/* <query xmlns='urn:xmpp:mam:2'/> to the room (get: the form; set: a search). */
void muc_mam_query_iq(struct muc_room *r, struct stanza *st, const struct jid *from);
/* XEP-0425 <moderate/> from a moderator. */
void muc_moderate_iq(struct muc_room *r, struct stanza *st, const struct jid *from,
                     struct muc_occupant *sender);

/* ---- muc_register.c ------------------------------------------------------ */
/* jabber:iq:register to the room (§7.10). */
void muc_register_iq(struct muc_room *r, struct stanza *st, const struct jid *from);
/* disco#info node='x-roomuser-item': the asker's reserved nick (§7.12). */
void muc_reserved_nick_info(struct muc_room *r, struct stanza *st, const struct jid *from);
/* The nick registered by `bare`, or NULL. */
const char *muc_nick_registered(const struct muc_room *r, const char *bare);
/* Is `nick` reserved by someone other than `bare`? */
bool muc_nick_reserved_by_other(const struct muc_room *r, const char *nick, const char *bare);
/* Set (NULL: clear) the registered nick of an affiliated bare JID. */
void muc_nick_set(struct muc_room *r, const char *bare, const char *nick);

/* ---- muc_avatar.c -------------------------------------------------------- */
/* vcard-temp get (anyone) and set (owners) at the room's JID (XEP-0486). */
void muc_vcard_iq(struct muc_room *r, struct stanza *st, const struct jid *from);
/* Take a copy of `vcard` as the room's and hash its photo; ALDIS_EINVAL
 * (room unchanged) when it is over max_vcard_size or its photo is bad. */
int muc_vcard_set(struct muc_room *r, const struct xml_node *vcard);

/* ---- muc_pin.c ----------------------------------------------------------- */
/* <pins/> get, <pin/> and <unpin/> set (urn:aldis:pin:0) to the room. */
void muc_pin_iq(struct muc_room *r, struct stanza *st, const struct jid *from,
                struct muc_occupant *sender);
/* Unpin `id` if pinned (the message was retracted), telling occupants. */
void muc_pin_forget(struct muc_room *r, const char *id);
/* The room's pins into / from its stored form (muc_store.c). */
void muc_pin_encode(struct stanza *st, struct xml_node *parent, const struct muc_room *r);
void muc_pin_decode(struct muc_room *r, const struct xml_node *room);
void muc_pin_clear(struct muc_room *r);

/* ---- muc_store.c --------------------------------------------------------- */
#define MUC_STORE_KEY "muc"
#define MUC_DIRECTORY_KEY "muc:rooms"
/* malloc'd serialised room (config, affiliations, subject, secret). */
char *muc_store_encode(const struct muc_room *r, size_t *len);
/* Fill a freshly created room from its stored form; 0 or ALDIS_EINVAL. */
int muc_store_decode(struct muc_room *r, const char *data, size_t len);

#endif

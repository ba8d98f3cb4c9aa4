/* muc_admin.c - what moderators, admins and owners do to a room: roles
 * (kick, voice, moderator; XEP-0045 §8), affiliations (ban, membership,
 * admins and owners; §9, §10.3-§10.8) through muc#admin, the room
 * configuration form and room destruction through muc#owner (§10.1,
 * §10.2, §10.9), and the room's disco#info with its muc#roominfo form
 * (§6.4). Runs on the room's owner worker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/router.h"
#include "modules/muc.h"

static void bounce(struct stanza *st, const char *type, const char *cond, const char *text)
{
    router_bounce(st, type, cond, text);
}

/* JIDs one list field of the owner form may name (roomowners, roomadmins). */
#define MUC_FORM_JIDS_MAX 256


/* ---- configuration -------------------------------------------------------- */

void muc_config_defaults(struct muc_config *c)
{
    memset(c, 0, sizeof *c);
    c->public_room = true;
    c->change_subject = true;
    c->allow_pm = PM_ANYONE;
    c->history_length = muc_opts.history_default;
    c->logging = muc_opts.logging_default;
    c->presence_broadcast = MUC_ROLES_ALL;
    c->get_member_list = 0; /* admins and owners only (§9.5) */
}

void muc_config_clear(struct muc_config *c)
{
    free(c->name);
    free(c->desc);
    free(c->password);
    free(c->pubsub);
    c->name = c->desc = c->password = c->pubsub = NULL;
}

static void config_copy(struct muc_config *dst, const struct muc_config *src)
{
    *dst = *src;
    dst->name = aldis_strdup(src->name);
    dst->desc = aldis_strdup(src->desc);
    dst->password = aldis_strdup(src->password);
    dst->pubsub = aldis_strdup(src->pubsub);
}

/* ---- data forms (XEP-0004) ------------------------------------------------ */

struct xml_node *muc_form_field(struct stanza *st, struct xml_node *x, const char *type,
                                const char *var, const char *label, const char *value)
{
    struct xml_node *f = xml_add_child(st, x, "field", NS_DATA);
    if (type)
        xml_set_attr(st, f, "type", type);
    xml_set_attr(st, f, "var", var);
    if (label)
        xml_set_attr(st, f, "label", label);
    if (value) {
        struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
        xml_add_text(st, v, value, strlen(value));
    }
    return f;
}

static void form_option(struct stanza *st, struct xml_node *field, const char *label,
                        const char *value)
{
    struct xml_node *o = xml_add_child(st, field, "option", NS_DATA);
    xml_set_attr(st, o, "label", label);
    struct xml_node *v = xml_add_child(st, o, "value", NS_DATA);
    xml_add_text(st, v, value, strlen(value));
}

static struct xml_node *form_field_find(const struct xml_node *x, const char *var)
{
    for (struct xml_node *f = xml_child(x, "field", NS_DATA); f; f = xml_next(f, "field", NS_DATA)) {
        const char *v = xml_attr(f, "var");
        if (v && strcmp(v, var) == 0)
            return f;
    }
    return NULL;
}

/* The first value of field `var` (in st's arena), or NULL when absent. */
const char *muc_form_value(struct stanza *scratch, const struct xml_node *x, const char *var)
{
    struct xml_node *f = form_field_find(x, var);
    if (!f)
        return NULL;
    struct xml_node *v = xml_child(f, "value", NS_DATA);
    return v ? xml_text(scratch, v) : "";
}

bool muc_form_bool(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static const char *bool_str(bool b) { return b ? "1" : "0"; }

/* The values of a (multi-valued) field into out[] (in scratch's arena):
 * their count, -1 when the field is absent, -2 when it has more than max
 * values (the caller refuses the form). */
static int form_values(struct stanza *scratch, const struct xml_node *x, const char *var,
                       const char **out, int max)
{
    struct xml_node *f = form_field_find(x, var);
    if (!f)
        return -1;
    int n = 0;
    for (struct xml_node *v = xml_child(f, "value", NS_DATA); v; v = xml_next(v, "value", NS_DATA)) {
        if (n == max)
            return -2;
        out[n++] = xml_text(scratch, v);
    }
    return n;
}

/* A list-multi field of roles (presencebroadcast, getmemberlist). */
static void roles_field(struct stanza *st, struct xml_node *x, const char *var, const char *label,
                        unsigned set)
{
    struct xml_node *f = muc_form_field(st, x, "list-multi", var, label, NULL);
    for (int role = ROLE_MODERATOR; role >= ROLE_VISITOR; role--)
        if (set & MUC_ROLEBIT(role)) {
            struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
            xml_add_text(st, v, muc_role_name((enum muc_role)role),
                         strlen(muc_role_name((enum muc_role)role)));
        }
    form_option(st, f, "Moderator", "moderator");
    form_option(st, f, "Participant", "participant");
    form_option(st, f, "Visitor", "visitor");
}

static int roles_parse(struct stanza *scratch, const struct xml_node *x, const char *var,
                       unsigned *out)
{
    const char *vals[4];
    int n = form_values(scratch, x, var, vals, 4);
    if (n == -1)
        return 0;
    if (n < 0)
        return ALDIS_EINVAL;
    unsigned set = 0;
    for (int i = 0; i < n; i++) {
        int role = muc_role_parse(vals[i]);
        if (role <= ROLE_NONE)
            return ALDIS_EINVAL;
        set |= MUC_ROLEBIT(role);
    }
    *out = set;
    return 0;
}

/* A jid-multi field listing the holders of one affiliation. */
static void affs_field(struct muc_room *r, struct stanza *st, struct xml_node *x, const char *var,
                       const char *label, enum muc_affiliation aff)
{
    struct xml_node *f = muc_form_field(st, x, "jid-multi", var, label, NULL);
    for (size_t i = 0; i < r->naffs; i++)
        if (r->affs[i].aff == aff) {
            struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
            xml_add_text(st, v, r->affs[i].jid, strlen(r->affs[i].jid));
        }
}

static const char *const pm_names[] = {"anyone", "participants", "moderators", "none"};

/* §10.2: the configuration form with the room's current values. */
static struct xml_node *config_form(struct muc_room *r, struct stanza *reply, struct xml_node *q)
{
    struct muc_config *c = &r->cfg;
    char num[32];
    struct xml_node *x = xml_add_child(reply, q, "x", NS_DATA);
    xml_set_attr(reply, x, "type", "form");
    struct xml_node *title = xml_add_child(reply, x, "title", NS_DATA);
    const char *t = "Room configuration";
    xml_add_text(reply, title, t, strlen(t));
    muc_form_field(reply, x, "hidden", "FORM_TYPE", NULL, NS_MUC_ROOMCONFIG);
    muc_form_field(reply, x, "text-single", "muc#roomconfig_roomname", "Room name",
                   c->name ? c->name : "");
    muc_form_field(reply, x, "text-single", "muc#roomconfig_roomdesc", "Description",
                   c->desc ? c->desc : "");
    muc_form_field(reply, x, "boolean", "muc#roomconfig_persistentroom", "Persistent room",
                   bool_str(c->persistent));
    muc_form_field(reply, x, "boolean", "muc#roomconfig_publicroom", "Public (listed) room",
                   bool_str(c->public_room));
    muc_form_field(reply, x, "boolean", "muc#roomconfig_membersonly", "Members only",
                   bool_str(c->members_only));
    muc_form_field(reply, x, "boolean", "muc#roomconfig_moderatedroom", "Moderated room",
                   bool_str(c->moderated));
    muc_form_field(reply, x, "boolean", "muc#roomconfig_passwordprotectedroom",
                   "Password protected", bool_str(c->password_protected));
    muc_form_field(reply, x, "text-private", "muc#roomconfig_roomsecret", "Password",
                   c->password ? c->password : "");
    struct xml_node *f = muc_form_field(reply, x, "list-single", "muc#roomconfig_whois",
                                        "Who may discover real JIDs",
                                        c->whois_anyone ? "anyone" : "moderators");
    form_option(reply, f, "Moderators only", "moderators");
    form_option(reply, f, "Anyone", "anyone");
    snprintf(num, sizeof num, "%ld", c->max_users);
    f = muc_form_field(reply, x, "list-single", "muc#roomconfig_maxusers",
                       "Maximum number of occupants", c->max_users ? num : "none");
    static const char *const sizes[] = {"10", "20", "30", "50", "100", NULL};
    for (const char *const *s = sizes; *s; s++)
        form_option(reply, f, *s, *s);
    form_option(reply, f, "No limit", "none");
    muc_form_field(reply, x, "boolean", "muc#roomconfig_changesubject",
                   "Participants may change the subject", bool_str(c->change_subject));
    muc_form_field(reply, x, "boolean", "muc#roomconfig_allowinvites",
                   "Participants may invite others", bool_str(c->allow_invites));
    f = muc_form_field(reply, x, "list-single", "muc#roomconfig_allowpm",
                       "Who may send private messages", pm_names[c->allow_pm]);
    for (int i = 0; i < 4; i++)
        form_option(reply, f, pm_names[i], pm_names[i]);
    snprintf(num, sizeof num, "%ld", c->history_length);
    muc_form_field(reply, x, "text-single", "muc#maxhistoryfetch",
                   "Messages of history kept for newcomers", num);
    muc_form_field(reply, x, "boolean", "muc#roomconfig_enablelogging",
                   "Archive the conversation (persistent rooms; XEP-0313)", bool_str(c->logging));
    muc_form_field(reply, x, "text-single", "muc#roomconfig_pubsub",
                   "XMPP URI of the associated PubSub node", c->pubsub ? c->pubsub : "");
    roles_field(reply, x, "muc#roomconfig_presencebroadcast",
                "Roles whose presence is broadcast", c->presence_broadcast);
    roles_field(reply, x, "muc#roomconfig_getmemberlist", "Roles that may retrieve the member list",
                c->get_member_list);
    affs_field(r, reply, x, "muc#roomconfig_roomowners", "Room owners", AFF_OWNER);
    affs_field(r, reply, x, "muc#roomconfig_roomadmins", "Room admins", AFF_ADMIN);
    return x;
}

static int parse_count(const char *v, long max, long *out)
{
    if (strcmp(v, "none") == 0 || v[0] == '\0') {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < 0 || n > max)
        return ALDIS_EINVAL;
    *out = n;
    return 0;
}

/* Read a submitted form into `c` (a copy of the current config); fields not
 * in the form keep their values. Returns 0 or ALDIS_EINVAL. */
static int config_parse(struct stanza *scratch, const struct xml_node *x, struct muc_config *c)
{
    const char *v;
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_roomname"))) {
        free(c->name);
        c->name = aldis_strdup(v);
    }
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_roomdesc"))) {
        free(c->desc);
        c->desc = aldis_strdup(v);
    }
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_persistentroom")))
        c->persistent = muc_form_bool(v);
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_publicroom")))
        c->public_room = muc_form_bool(v);
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_membersonly")))
        c->members_only = muc_form_bool(v);
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_moderatedroom")))
        c->moderated = muc_form_bool(v);
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_passwordprotectedroom")))
        c->password_protected = muc_form_bool(v);
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_roomsecret"))) {
        free(c->password);
        c->password = v[0] ? aldis_strdup(v) : NULL;
    }
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_whois"))) {
        if (strcmp(v, "anyone") == 0)
            c->whois_anyone = true;
        else if (strcmp(v, "moderators") == 0)
            c->whois_anyone = false;
        else
            return ALDIS_EINVAL;
    }
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_maxusers")) &&
        parse_count(v, muc_opts.max_occupants, &c->max_users) < 0)
        return ALDIS_EINVAL;
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_changesubject")))
        c->change_subject = muc_form_bool(v);
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_allowinvites")))
        c->allow_invites = muc_form_bool(v);
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_allowpm"))) {
        int i = 0;
        while (i < 4 && strcmp(v, pm_names[i]) != 0)
            i++;
        if (i == 4)
            return ALDIS_EINVAL;
        c->allow_pm = (enum muc_allowpm)i;
    }
    if ((v = muc_form_value(scratch, x, "muc#maxhistoryfetch")) &&
        parse_count(v, muc_opts.max_history, &c->history_length) < 0)
        return ALDIS_EINVAL;
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_enablelogging")))
        c->logging = muc_form_bool(v);
    if ((v = muc_form_value(scratch, x, "muc#roomconfig_pubsub"))) {
        /* §15.5.3: an XMPP URI (RFC 5122), only shown in disco#info */
        if (v[0] && (strncmp(v, "xmpp:", 5) != 0 || strlen(v) > 1024))
            return ALDIS_EINVAL;
        free(c->pubsub);
        c->pubsub = v[0] ? aldis_strdup(v) : NULL;
    }
    if (roles_parse(scratch, x, "muc#roomconfig_presencebroadcast", &c->presence_broadcast) < 0 ||
        roles_parse(scratch, x, "muc#roomconfig_getmemberlist", &c->get_member_list) < 0)
        return ALDIS_EINVAL;
    /* a password-protected room without a password protects nothing */
    if (c->password_protected && !c->password)
        return ALDIS_EINVAL;
    if (!c->password_protected) {
        free(c->password);
        c->password = NULL;
    }
    return 0;
}

/* ---- destruction (§10.9) -------------------------------------------------- */

void muc_destroy(struct muc_room *r, const char *alt_jid, const char *reason)
{
    struct muc_pres_opts opts = {.type = "unavailable", .forced_none = true, .destroy = true,
                                 .destroy_jid = alt_jid, .destroy_reason = reason};
    while (r->occupants)
        muc_occupant_remove(r, r->occupants, &opts);
    muc_room_forget(r);
    muc_mam_forget(r);
    log_info("muc", "%s destroyed", r->jid);
    muc_room_remove(r);
}

/* ---- muc#owner ------------------------------------------------------------ */

/* muc#roomconfig_roomowners / _roomadmins: the full lists (§10.2). Reads
 * them as prepared bare JIDs into list (malloc'd array of JID_STR_MAX
 * strings); -1 when the field is absent, ALDIS_EINVAL when it is bad. */
static int jid_list_parse(struct stanza *scratch, const struct xml_node *x, const char *var,
                          char (**list)[JID_STR_MAX])
{
    const char *vals[MUC_FORM_JIDS_MAX];
    int n = form_values(scratch, x, var, vals, MUC_FORM_JIDS_MAX);
    *list = NULL;
    if (n == -1)
        return -1;
    if (n < 0)
        return ALDIS_EINVAL;
    *list = calloc((size_t)n + 1, sizeof **list);
    ALDIS_ASSERT(*list != NULL);
    for (int i = 0; i < n; i++) {
        struct jid j;
        if (jid_parse(vals[i], &j) < 0 || j.resource || !j.local) {
            free(*list);
            *list = NULL;
            return ALDIS_EINVAL;
        }
        jid_bare(&j, (*list)[i], JID_STR_MAX);
    }
    return n;
}

static bool jid_listed(char (*list)[JID_STR_MAX], int n, const char *jid)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], jid) == 0)
            return true;
    return false;
}

/* Make the holders of `aff` exactly the n JIDs of list (others lose it,
 * down to none; JIDs in `keep` are left alone: owners named in the same
 * form stay owners when the admin list is applied). */
static void affs_replace(struct muc_room *r, enum muc_affiliation aff, char (*list)[JID_STR_MAX],
                         int n, char (*keep)[JID_STR_MAX], int nkeep, const char *actor)
{
    for (size_t i = r->naffs; i-- > 0;) {
        if (i >= r->naffs || r->affs[i].aff != aff)
            continue;
        if (jid_listed(list, n, r->affs[i].jid) || jid_listed(keep, nkeep, r->affs[i].jid))
            continue;
        char jid[JID_STR_MAX];
        snprintf(jid, sizeof jid, "%s", r->affs[i].jid);
        muc_affiliation_change(r, jid, AFF_NONE, actor);
    }
    for (int i = 0; i < n; i++)
        if (muc_affiliation_of(r, list[i]) != aff && !jid_listed(keep, nkeep, list[i]))
            muc_affiliation_change(r, list[i], aff, actor);
}

static void owner_apply_config(struct muc_room *r, struct stanza *st, struct stanza *scratch,
                               struct xml_node *x, const char *actor)
{
    struct muc_config c;
    char(*owners)[JID_STR_MAX] = NULL, (*admins)[JID_STR_MAX] = NULL;
    config_copy(&c, &r->cfg);
    int nowners = jid_list_parse(scratch, x, "muc#roomconfig_roomowners", &owners);
    int nadmins = jid_list_parse(scratch, x, "muc#roomconfig_roomadmins", &admins);
    size_t added = (size_t)(nowners > 0 ? nowners : 0) + (size_t)(nadmins > 0 ? nadmins : 0);
    /* a room always has an owner (§10.7) */
    if (config_parse(scratch, x, &c) < 0 || nowners == 0 || nowners == ALDIS_EINVAL ||
        nadmins == ALDIS_EINVAL || r->naffs + added > MUC_AFFS_MAX) {
        muc_config_clear(&c);
        free(owners);
        free(admins);
        bounce(st, "modify", "not-acceptable", "Invalid configuration value");
        return;
    }
    bool was_locked = r->locked;
    bool was_logging = muc_room_logging(r);
    bool was_anyone = r->cfg.whois_anyone;
    bool was_members_only = r->cfg.members_only;
    bool was_persistent = r->cfg.persistent;
    muc_config_clear(&r->cfg);
    r->cfg = c;
    r->locked = false;
    router_route(stanza_iq_result(st));
    /* the owner and admin lists, owners first so that the room never
     * lacks one */
    if (nowners > 0)
        affs_replace(r, AFF_OWNER, owners, nowners, NULL, 0, actor);
    if (nadmins >= 0)
        affs_replace(r, AFF_ADMIN, admins, nadmins, owners, nowners > 0 ? nowners : 0, actor);
    free(owners);
    free(admins);

    /* §10.2.1: occupants hear of the change (104), of anonymity (172 /
     * 173) and of logging (170 / 171); a room that just became
     * members-only loses its non-members (322, §15.6.2). */
    int codes[3];
    size_t n = 0;
    if (!was_locked)
        codes[n++] = 104;
    if (r->cfg.whois_anyone != was_anyone)
        codes[n++] = r->cfg.whois_anyone ? 172 : 173;
    if (!was_locked && muc_room_logging(r) != was_logging)
        codes[n++] = muc_room_logging(r) ? 170 : 171;
    if (n)
        muc_room_notice(r, codes, n);
    if (r->cfg.whois_anyone != was_anyone)
        for (struct muc_occupant *o = r->occupants; o; o = o->next)
            muc_occupant_refresh(r, o);
    if (r->cfg.members_only && !was_members_only) {
        for (struct muc_occupant *o = r->occupants, *next; o; o = next) {
            next = o->next;
            if (muc_affiliation_of(r, o->real_bare) < AFF_MEMBER) {
                struct muc_pres_opts opts = {.type = "unavailable", .codes = {322}, .ncodes = 1};
                o->role = ROLE_NONE;
                muc_occupant_remove(r, o, &opts);
            }
        }
    }
    if (was_persistent && !r->cfg.persistent)
        muc_room_forget(r);
    muc_room_save(r);
    muc_directory_post(r, false);
    muc_room_check_empty(r);
}

void muc_owner_iq(struct muc_room *r, struct stanza *st, const struct jid *from)
{
    char bare[JID_STR_MAX];
    jid_bare(from, bare, sizeof bare);
    if (muc_affiliation_of(r, bare) != AFF_OWNER) { /* §10: owners only */
        bounce(st, "auth", "forbidden", NULL);
        return;
    }
    struct xml_node *q = xml_first_elem(st->root);
    const char *type = stanza_type(st);
    if (strcmp(type, "get") == 0) {
        struct stanza *reply = stanza_iq_result(st);
        struct xml_node *rq = xml_add_child(reply, reply->root, "query", NS_MUC_OWNER);
        config_form(r, reply, rq);
        router_route(reply);
        return;
    }
    struct xml_node *destroy = xml_child(q, "destroy", NULL);
    if (destroy) {
        const char *alt = xml_attr(destroy, "jid");
        struct xml_node *rs = xml_child(destroy, "reason", NULL);
        char *reason = rs ? (char *)xml_text(NULL, rs) : NULL;
        router_route(stanza_iq_result(st));
        muc_destroy(r, alt, reason);
        free(reason);
        return;
    }
    struct xml_node *x = xml_child(q, "x", NS_DATA);
    if (!x) {
        bounce(st, "modify", "bad-request", NULL);
        return;
    }
    const char *xtype = xml_attr(x, "type");
    if (xtype && strcmp(xtype, "cancel") == 0) {
        router_route(stanza_iq_result(st));
        /* §10.1.3: cancelling the initial configuration destroys the room */
        if (r->locked)
            muc_destroy(r, NULL, NULL);
        return;
    }
    if (!xtype || strcmp(xtype, "submit") != 0) {
        bounce(st, "modify", "bad-request", NULL);
        return;
    }
    /* the stanza is shared: values are read into an arena of our own */
    struct stanza *scratch = stanza_new("x", NS_DATA);
    const char *ft = muc_form_value(scratch, x, "FORM_TYPE");
    if (ft && strcmp(ft, NS_MUC_ROOMCONFIG) != 0)
        bounce(st, "modify", "bad-request", "Unknown FORM_TYPE");
    else { /* §10.1.2: an empty submitted form accepts the defaults (instant room) */
        char full[JID_STR_MAX];
        struct muc_occupant *o = muc_occupant_by_real(r, jid_full(from, full, sizeof full));
        owner_apply_config(r, st, scratch, x, o ? o->nick : NULL);
    }
    stanza_unref(scratch);
}

/* ---- muc#admin ------------------------------------------------------------ */

struct admin_change {
    bool is_role;
    int value;           /* enum muc_role or muc_affiliation */
    struct muc_occupant *target; /* role changes */
    char jid[JID_STR_MAX];       /* affiliation changes: bare JID */
    char *reason;
};

static void admin_list(struct muc_room *r, struct stanza *st, struct xml_node *item,
                       enum muc_affiliation actor_aff, struct muc_occupant *sender)
{
    const char *a = xml_attr(item, "affiliation"), *ro = xml_attr(item, "role");
    int aff = muc_affiliation_parse(a), role = muc_role_parse(ro);
    bool allowed;
    if (a && aff >= 0 && aff != AFF_NONE) {
        /* §9.1, §9.5: admins read the ban and member lists; §10.5, §10.8:
         * owners the owner and admin lists */
        allowed = aff >= AFF_ADMIN ? actor_aff == AFF_OWNER : actor_aff >= AFF_ADMIN;
        /* muc#roomconfig_getmemberlist: occupants of these roles may too */
        if (aff == AFF_MEMBER && sender && (r->cfg.get_member_list & MUC_ROLEBIT(sender->role)))
            allowed = true;
    } else if (ro && role == ROLE_MODERATOR) {
        allowed = actor_aff >= AFF_ADMIN; /* §9.8 */
    } else if (ro && role == ROLE_PARTICIPANT) {
        allowed = sender && sender->role == ROLE_MODERATOR; /* §8.5 voice list */
    } else {
        bounce(st, "modify", "bad-request", NULL);
        return;
    }
    if (!allowed) {
        bounce(st, "auth", "forbidden", NULL);
        return;
    }
    struct stanza *reply = stanza_iq_result(st);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_MUC_ADMIN);
    if (a) {
        for (size_t i = 0; i < r->naffs; i++) {
            if ((int)r->affs[i].aff != aff)
                continue;
            struct xml_node *it = xml_add_child(reply, q, "item", NULL);
            xml_set_attr(reply, it, "affiliation", a);
            xml_set_attr(reply, it, "jid", r->affs[i].jid);
            if (r->affs[i].nick)
                xml_set_attr(reply, it, "nick", r->affs[i].nick);
            if (r->affs[i].reason) {
                struct xml_node *rs = xml_add_child(reply, it, "reason", NULL);
                xml_add_text(reply, rs, r->affs[i].reason, strlen(r->affs[i].reason));
            }
        }
    } else {
        for (struct muc_occupant *o = r->occupants; o; o = o->next) {
            if ((int)o->role != role)
                continue;
            struct xml_node *it = xml_add_child(reply, q, "item", NULL);
            xml_set_attr(reply, it, "role", ro);
            xml_set_attr(reply, it, "nick", o->nick);
            xml_set_attr(reply, it, "jid", o->real_full);
            xml_set_attr(reply, it, "affiliation",
                         muc_affiliation_name(muc_affiliation_of(r, o->real_bare)));
        }
    }
    router_route(reply);
}

static size_t owners_count(const struct muc_room *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->naffs; i++)
        n += r->affs[i].aff == AFF_OWNER;
    return n;
}

/* Check one <item/> of a set; fills ch or bounces (returns false). */
static bool admin_check(struct muc_room *r, struct stanza *st, struct xml_node *item,
                        enum muc_affiliation actor_aff, struct muc_occupant *sender,
                        struct admin_change *ch)
{
    const char *ro = xml_attr(item, "role"), *a = xml_attr(item, "affiliation");
    const char *nick = xml_attr(item, "nick"), *jid = xml_attr(item, "jid");
    struct xml_node *rs = xml_child(item, "reason", NULL);
    if (ro && !a) {
        int role = muc_role_parse(ro);
        if (role < 0 || !nick) {
            bounce(st, "modify", "bad-request", NULL);
            return false;
        }
        if (!sender || sender->role != ROLE_MODERATOR) {
            bounce(st, "auth", "forbidden", NULL);
            return false;
        }
        struct muc_occupant *t = muc_occupant_by_nick(r, nick);
        if (!t) {
            bounce(st, "cancel", "item-not-found", NULL);
            return false;
        }
        enum muc_affiliation taff = muc_affiliation_of(r, t->real_bare);
        /* §8.2, §8.4, §9.7: admins and owners cannot be kicked, silenced or
         * demoted; granting or revoking moderator needs an admin */
        if ((role == ROLE_MODERATOR || t->role == ROLE_MODERATOR) && actor_aff < AFF_ADMIN) {
            bounce(st, "auth", "forbidden", NULL);
            return false;
        }
        if (role < ROLE_MODERATOR && taff >= AFF_ADMIN) {
            bounce(st, "cancel", "not-allowed", NULL);
            return false;
        }
        ch->is_role = true;
        ch->value = role;
        ch->target = t;
    } else if (a && !ro) {
        int aff = muc_affiliation_parse(a);
        struct jid j;
        if (aff < 0) {
            bounce(st, "modify", "bad-request", NULL);
            return false;
        }
        if (jid) {
            if (jid_parse(jid, &j) < 0) {
                bounce(st, "modify", "jid-malformed", NULL);
                return false;
            }
            jid_bare(&j, ch->jid, sizeof ch->jid);
        } else if (nick) {
            struct muc_occupant *t = muc_occupant_by_nick(r, nick);
            if (!t) {
                bounce(st, "cancel", "item-not-found", NULL);
                return false;
            }
            snprintf(ch->jid, sizeof ch->jid, "%s", t->real_bare);
        } else {
            bounce(st, "modify", "bad-request", NULL);
            return false;
        }
        enum muc_affiliation cur = muc_affiliation_of(r, ch->jid);
        /* §9: admins manage members and outcasts; §10: owners manage
         * admins and owners */
        bool needs_owner = aff >= AFF_ADMIN || cur >= AFF_ADMIN;
        if (actor_aff < AFF_ADMIN || (needs_owner && actor_aff != AFF_OWNER)) {
            bounce(st, "auth", "forbidden", NULL);
            return false;
        }
        if (cur == AFF_NONE && aff != AFF_NONE && r->naffs >= MUC_AFFS_MAX) {
            bounce(st, "wait", "resource-constraint", "Too many affiliations");
            return false;
        }
        /* §10.7: the last owner stays */
        if (cur == AFF_OWNER && aff != AFF_OWNER && owners_count(r) <= 1) {
            bounce(st, "cancel", "conflict", "A room needs an owner");
            return false;
        }
        ch->is_role = false;
        ch->value = aff;
    } else {
        bounce(st, "modify", "bad-request", NULL);
        return false;
    }
    ch->reason = rs ? (char *)xml_text(NULL, rs) : NULL;
    return true;
}

static void affiliation_apply(struct muc_room *r, const struct admin_change *ch, const char *actor)
{
    enum muc_affiliation aff = (enum muc_affiliation)ch->value;
    bool present = false;
    muc_affiliation_set(r, ch->jid, aff, ch->reason);
    for (struct muc_occupant *o = r->occupants, *next; o; o = next) {
        next = o->next;
        if (strcmp(o->real_bare, ch->jid) != 0)
            continue;
        present = true;
        if (aff == AFF_OUTCAST || (r->cfg.members_only && aff < AFF_MEMBER)) {
            /* §9.1 banned (301); §9.6 removed from a members-only room (321) */
            struct muc_pres_opts opts = {.type = "unavailable", .actor_nick = actor,
                                         .reason = ch->reason,
                                         .codes = {aff == AFF_OUTCAST ? 301 : 321}, .ncodes = 1};
            o->role = ROLE_NONE;
            muc_occupant_remove(r, o, &opts);
            continue;
        }
        o->role = muc_role_default(r, aff);
        muc_occupant_refresh(r, o);
        struct muc_pres_opts opts = {.actor_nick = actor, .reason = ch->reason};
        muc_presence_broadcast(r, o, &opts);
    }
    if (!present) {
        /* §9.3, §15.6.2 (101): someone not in the room learns of the new
         * affiliation by a message */
        struct stanza *m = stanza_new("message", NULL);
        xml_set_attr(m, m->root, "from", r->jid);
        struct xml_node *x = xml_add_child(m, m->root, "x", NS_MUC_USER);
        struct xml_node *it = xml_add_child(m, x, "item", NULL);
        xml_set_attr(m, it, "affiliation", muc_affiliation_name(aff));
        xml_set_attr(m, it, "jid", ch->jid);
        if (actor) {
            struct xml_node *a = xml_add_child(m, it, "actor", NULL);
            xml_set_attr(m, a, "nick", actor);
        }
        if (ch->reason && ch->reason[0]) {
            struct xml_node *rs = xml_add_child(m, it, "reason", NULL);
            xml_add_text(m, rs, ch->reason, strlen(ch->reason));
        }
        struct xml_node *sc = xml_add_child(m, x, "status", NULL);
        xml_set_attr(m, sc, "code", "101");
        muc_send_to(m, ch->jid);
    }
}

void muc_affiliation_change(struct muc_room *r, const char *jid, enum muc_affiliation aff,
                            const char *actor)
{
    struct admin_change ch = {.is_role = false, .value = (int)aff};
    snprintf(ch.jid, sizeof ch.jid, "%s", jid);
    affiliation_apply(r, &ch, actor);
}

void muc_admin_iq(struct muc_room *r, struct stanza *st, const struct jid *from,
                  struct muc_occupant *sender)
{
    char bare[JID_STR_MAX];
    enum muc_affiliation actor_aff = muc_affiliation_of(r, jid_bare(from, bare, sizeof bare));
    struct xml_node *q = xml_first_elem(st->root);
    struct xml_node *first = xml_child(q, "item", NULL);
    if (!first) {
        bounce(st, "modify", "bad-request", NULL);
        return;
    }
    if (strcmp(stanza_type(st), "get") == 0) {
        admin_list(r, st, first, actor_aff, sender);
        return;
    }

    size_t n = 0;
    for (struct xml_node *it = first; it; it = xml_next(it, "item", NULL))
        n++;
    if (n > 256) {
        bounce(st, "modify", "policy-violation", "Too many items");
        return;
    }
    struct admin_change *ch = calloc(n, sizeof *ch);
    ALDIS_ASSERT(ch != NULL);
    size_t i = 0;
    bool ok = true;
    for (struct xml_node *it = first; it && ok; it = xml_next(it, "item", NULL), i++)
        ok = admin_check(r, st, it, actor_aff, sender, &ch[i]);
    if (ok) {
        /* all checked: apply in order, then answer (§8, §9: the result
         * follows the presence broadcasts) */
        const char *actor = sender ? sender->nick : NULL;
        char *actor_copy = aldis_strdup(actor);
        bool aff_changed = false;
        for (size_t k = 0; k < n; k++) {
            if (ch[k].is_role) {
                /* a kick earlier in the list may have removed the target */
                bool present = false;
                for (struct muc_occupant *o = r->occupants; o; o = o->next)
                    present |= o == ch[k].target;
                if (present)
                    muc_role_set(r, ch[k].target, (enum muc_role)ch[k].value, actor_copy,
                                 ch[k].reason);
            } else {
                affiliation_apply(r, &ch[k], actor_copy);
                aff_changed = true;
            }
        }
        free(actor_copy);
        router_route(stanza_iq_result(st));
        if (aff_changed)
            muc_room_save(r);
    }
    for (size_t k = 0; k < n; k++)
        free(ch[k].reason);
    free(ch);
    if (ok)
        muc_room_check_empty(r);
}

/* §8.6: a moderator approves a voice request by sending the form back. */
void muc_voice_approve(struct muc_room *r, struct muc_occupant *moderator,
                       const struct xml_node *form)
{
    struct stanza *tmp = stanza_new("x", NS_DATA); /* arena for the values */
    const char *allow = muc_form_value(tmp, form, "muc#request_allow");
    const char *nick = muc_form_value(tmp, form, "muc#roomnick");
    if (muc_form_bool(allow) && nick) {
        struct muc_occupant *t = muc_occupant_by_nick(r, nick);
        if (t && t->role == ROLE_VISITOR)
            muc_role_set(r, t, ROLE_PARTICIPANT, moderator->nick, NULL);
    }
    stanza_unref(tmp);
}

/* ---- disco#info of a room (§6.4) ------------------------------------------ */

static void feature(struct stanza *st, struct xml_node *q, const char *var)
{
    struct xml_node *f = xml_add_child(st, q, "feature", NULL);
    xml_set_attr(st, f, "var", var);
}

void muc_room_disco_info(struct muc_room *r, struct stanza *st, const struct jid *from)
{
    (void)from;
    struct xml_node *p = xml_first_elem(st->root);
    if (xml_attr(p, "node")) {
        bounce(st, "cancel", "item-not-found", NULL);
        return;
    }
    struct muc_config *c = &r->cfg;
    struct stanza *reply = stanza_iq_result(st);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_DISCO_INFO);
    struct xml_node *id = xml_add_child(reply, q, "identity", NULL);
    xml_set_attr(reply, id, "category", "conference");
    xml_set_attr(reply, id, "type", "text");
    char local[JID_STR_MAX];
    snprintf(local, sizeof local, "%s", r->jid);
    char *at = strchr(local, '@');
    if (at)
        *at = '\0';
    xml_set_attr(reply, id, "name", c->name && c->name[0] ? c->name : local);
    feature(reply, q, NS_DISCO_INFO);
    feature(reply, q, NS_MUC);
    feature(reply, q, NS_SID);
    feature(reply, q, NS_OCCUPANT_ID);
    feature(reply, q, NS_MUC_SELFPING);
    feature(reply, q, NS_IQ_REGISTER); /* §7.10 */
    feature(reply, q, NS_MODERATE);    /* XEP-0425 §2 */
    feature(reply, q, NS_PIN);         /* muc_pin.c */
    if (muc_room_logging(r))
        feature(reply, q, NS_MAM_2); /* XEP-0313 §6.1 */
    if (muc_opts.max_vcard_size > 0)
        feature(reply, q, NS_VCARD); /* XEP-0486 §2 */
    feature(reply, q, c->public_room ? "muc_public" : "muc_hidden");
    feature(reply, q, c->persistent ? "muc_persistent" : "muc_temporary");
    feature(reply, q, c->members_only ? "muc_membersonly" : "muc_open");
    feature(reply, q, c->moderated ? "muc_moderated" : "muc_unmoderated");
    feature(reply, q, c->whois_anyone ? "muc_nonanonymous" : "muc_semianonymous");
    feature(reply, q, c->password_protected ? "muc_passwordprotected" : "muc_unsecured");
    /* §15.5.4: muc#roominfo, as XEP-0128 extended info */
    struct xml_node *x = xml_add_child(reply, q, "x", NS_DATA);
    xml_set_attr(reply, x, "type", "result");
    char num[32];
    muc_form_field(reply, x, "hidden", "FORM_TYPE", NULL, NS_MUC_ROOMINFO);
    muc_form_field(reply, x, NULL, "muc#roominfo_description", "Description",
                   c->desc ? c->desc : "");
    snprintf(num, sizeof num, "%zu", r->noccupants);
    muc_form_field(reply, x, NULL, "muc#roominfo_occupants", "Number of occupants", num);
    muc_form_field(reply, x, NULL, "muc#roominfo_subject", "Subject",
                   r->subject ? r->subject : "");
    muc_form_field(reply, x, "boolean", "muc#roomconfig_changesubject",
                   "Occupants may change the subject", bool_str(c->change_subject));
    if (c->max_users) {
        snprintf(num, sizeof num, "%ld", c->max_users);
        muc_form_field(reply, x, NULL, "muc#maxusers", "Maximum occupants", num);
    }
    if (c->pubsub)
        muc_form_field(reply, x, "text-single", "muc#roominfo_pubsub",
                       "Associated PubSub node", c->pubsub);
    if (r->avatar_hash[0]) /* XEP-0486 §2 */
        muc_form_field(reply, x, "text-multi", "muc#roominfo_avatarhash", "Avatar hash",
                       r->avatar_hash);
    router_route(reply);
}

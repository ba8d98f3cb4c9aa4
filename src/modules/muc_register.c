/* muc_register.c - registering a nickname with a room (XEP-0045 §7.10,
 * jabber:iq:register with the muc#register form, §15.5.2), discovering
 * one's reserved nick (§7.12) and the rule that a registered nick belongs
 * to whoever registered it. A registered nick lives on the user's
 * affiliation entry: registering makes the user a member (unless already
 * more), and losing the affiliation frees the nick. Runs on the room's
 * owner worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/router.h"
#include "modules/muc.h"

static struct muc_affil *affil_find(const struct muc_room *r, const char *bare)
{
    for (size_t i = 0; i < r->naffs; i++)
        if (strcmp(r->affs[i].jid, bare) == 0)
            return &r->affs[i];
    return NULL;
}

const char *muc_nick_registered(const struct muc_room *r, const char *bare)
{
    const struct muc_affil *a = affil_find(r, bare);
    return a && a->aff >= AFF_MEMBER ? a->nick : NULL;
}

bool muc_nick_reserved_by_other(const struct muc_room *r, const char *nick, const char *bare)
{
    for (size_t i = 0; i < r->naffs; i++)
        if (r->affs[i].nick && r->affs[i].aff >= AFF_MEMBER &&
            strcmp(r->affs[i].nick, nick) == 0 && strcmp(r->affs[i].jid, bare) != 0)
            return true;
    return false;
}

void muc_nick_set(struct muc_room *r, const char *bare, const char *nick)
{
    struct muc_affil *a = affil_find(r, bare);
    if (!a)
        return;
    free(a->nick);
    a->nick = NULL;
    if (nick) {
        a->nick = strdup(nick);
        ALDIS_ASSERT(a->nick != NULL);
    }
}

/* The nick as the room will use it: resourceprep'd through the occupant
 * JID it makes (RFC 7622 §3.4), so that "registered" and "entered with"
 * compare equal. 0 or ALDIS_EINVAL. */
static int nick_prepare(const struct muc_room *r, const char *nick, char *out, size_t size)
{
    char full[JID_STR_MAX];
    struct jid j;
    if (!nick[0] || (size_t)snprintf(full, sizeof full, "%s/%s", r->jid, nick) >= sizeof full ||
        jid_parse(full, &j) < 0 || !j.resource)
        return ALDIS_EINVAL;
    snprintf(out, size, "%s", j.resource);
    return 0;
}

/* §7.10, example 73: the registration form. */
static void register_form(struct muc_room *r, struct stanza *st, const char *bare)
{
    struct stanza *reply = stanza_iq_result(st);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_IQ_REGISTER);
    const char *nick = muc_nick_registered(r, bare);
    if (nick) {
        /* XEP-0077 §3.1: already registered */
        xml_add_child(reply, q, "registered", NULL);
        struct xml_node *u = xml_add_child(reply, q, "username", NULL);
        xml_add_text(reply, u, nick, strlen(nick));
        router_route(reply);
        return;
    }
    struct xml_node *ins = xml_add_child(reply, q, "instructions", NULL);
    const char *text = "Register a nickname with this room; it becomes yours alone.";
    xml_add_text(reply, ins, text, strlen(text));
    struct xml_node *x = xml_add_child(reply, q, "x", NS_DATA);
    xml_set_attr(reply, x, "type", "form");
    struct xml_node *title = xml_add_child(reply, x, "title", NS_DATA);
    const char *t = "Room registration";
    xml_add_text(reply, title, t, strlen(t));
    muc_form_field(reply, x, "hidden", "FORM_TYPE", NULL, NS_MUC_REGISTER);
    muc_form_field(reply, x, "text-single", "muc#register_first", "Given name", NULL);
    muc_form_field(reply, x, "text-single", "muc#register_last", "Family name", NULL);
    struct xml_node *f =
        muc_form_field(reply, x, "text-single", "muc#register_roomnick", "Desired nickname", NULL);
    xml_add_child(reply, f, "required", NS_DATA);
    muc_form_field(reply, x, "text-single", "muc#register_url", "Your URL", NULL);
    muc_form_field(reply, x, "text-single", "muc#register_email", "Email address", NULL);
    muc_form_field(reply, x, "text-multi", "muc#register_faqentry", "FAQ entry", NULL);
    router_route(reply);
}

/* XEP-0077 §3.2 <remove/>: the nick goes, and a membership that only
 * registration gave with it. */
static void register_cancel(struct muc_room *r, struct stanza *st, const char *bare)
{
    if (!muc_nick_registered(r, bare)) {
        router_bounce(st, "cancel", "item-not-found", NULL);
        return;
    }
    muc_nick_set(r, bare, NULL);
    router_route(stanza_iq_result(st));
    if (muc_affiliation_of(r, bare) == AFF_MEMBER)
        muc_affiliation_change(r, bare, AFF_NONE, NULL);
    muc_room_save(r);
    muc_room_check_empty(r);
}

static void register_submit(struct muc_room *r, struct stanza *st, const char *bare,
                            const struct xml_node *x)
{
    struct stanza *scratch = stanza_new("x", NS_DATA); /* arena for the values */
    const char *type = xml_attr(x, "type");
    const char *ft = muc_form_value(scratch, x, "FORM_TYPE");
    const char *nick = muc_form_value(scratch, x, "muc#register_roomnick");
    char prepared[JID_STR_MAX];
    enum muc_affiliation aff = muc_affiliation_of(r, bare);
    if (type && strcmp(type, "cancel") == 0) {
        router_route(stanza_iq_result(st));
        goto out;
    }
    if (!type || strcmp(type, "submit") != 0 || (ft && strcmp(ft, NS_MUC_REGISTER) != 0)) {
        router_bounce(st, "modify", "bad-request", NULL);
        goto out;
    }
    if (!nick || !nick[0]) { /* §7.10: the nick is a required field */
        router_bounce(st, "modify", "not-acceptable", "A nickname is required");
        goto out;
    }
    if (nick_prepare(r, nick, prepared, sizeof prepared) < 0) {
        router_bounce(st, "modify", "jid-malformed", "Not a usable nickname");
        goto out;
    }
    /* §7.10: someone else's registered nick, or one an occupant other
     * than this user is using now, is taken */
    struct muc_occupant *holder = muc_occupant_by_nick(r, prepared);
    if (muc_nick_reserved_by_other(r, prepared, bare) ||
        (holder && strcmp(holder->real_bare, bare) != 0)) {
        router_bounce(st, "cancel", "conflict", "That nickname is taken");
        goto out;
    }
    if (aff == AFF_NONE && r->naffs >= MUC_AFFS_MAX) {
        router_bounce(st, "wait", "resource-constraint", NULL);
        goto out;
    }
    router_route(stanza_iq_result(st));
    if (aff < AFF_MEMBER)
        muc_affiliation_change(r, bare, AFF_MEMBER, NULL);
    muc_nick_set(r, bare, prepared);
    muc_room_save(r);
out:
    stanza_unref(scratch);
}

void muc_register_iq(struct muc_room *r, struct stanza *st, const struct jid *from)
{
    char bare[JID_STR_MAX];
    jid_bare(from, bare, sizeof bare);
    enum muc_affiliation aff = muc_affiliation_of(r, bare);
    const char *type = stanza_type(st);
    struct xml_node *q = xml_first_elem(st->root);
    if (aff == AFF_OUTCAST) { /* §7.10: banned users may not register */
        router_bounce(st, "auth", "forbidden", NULL);
        return;
    }
    if (r->cfg.members_only && aff < AFF_MEMBER) {
        /* registering gives membership: in a members-only room that is the
         * admins' decision (§9.3), not the user's */
        router_bounce(st, "cancel", "not-allowed", "Membership is granted by the admins");
        return;
    }
    if (strcmp(type, "get") == 0) {
        register_form(r, st, bare);
        return;
    }
    if (xml_child(q, "remove", NULL)) {
        register_cancel(r, st, bare);
        return;
    }
    struct xml_node *x = xml_child(q, "x", NS_DATA);
    if (!x) {
        router_bounce(st, "modify", "bad-request", "A muc#register form is expected");
        return;
    }
    register_submit(r, st, bare, x);
}

/* §7.12: <query node='x-roomuser-item'/>: the identity named after the
 * asker's registered nick, or nothing. */
void muc_reserved_nick_info(struct muc_room *r, struct stanza *st, const struct jid *from)
{
    char bare[JID_STR_MAX];
    jid_bare(from, bare, sizeof bare);
    const char *nick = muc_nick_registered(r, bare);
    struct stanza *reply = stanza_iq_result(st);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_DISCO_INFO);
    xml_set_attr(reply, q, "node", "x-roomuser-item");
    if (nick) {
        struct xml_node *id = xml_add_child(reply, q, "identity", NULL);
        xml_set_attr(reply, id, "category", "conference");
        xml_set_attr(reply, id, "name", nick);
        xml_set_attr(reply, id, "type", "text");
    }
    router_route(reply);
}

/* muc_store.c - the stored form of a persistent room: its configuration,
 * affiliations, subject and occupant-id secret as one small XML document,
 * kept in the store's per-JID key/value table under the room's JID (key
 * "muc"). Occupants and history are not kept: a restarted server has
 * nobody in its rooms, and the archive (XEP-0313) keeps messages.
 *
 *   <room xmlns='urn:aldis:muc:0' secret='hex' creator='a@b'>
 *     <config name='' desc='' persistent='1' public='1' membersonly='0'
 *             moderated='0' passwordprotected='0' password='' whois='moderators'
 *             maxusers='0' changesubject='1' allowinvites='0' allowpm='anyone'
 *             history='20' logging='1' presencebroadcast='7'
 *             getmemberlist='0' pubsub='xmpp:...'/>
 *     <subject nick='n'>text</subject>
 *     <affiliation jid='a@b' affiliation='owner' nick='n'>reason</affiliation>
 *     <vCard xmlns='vcard-temp'>...</vCard>      (XEP-0486 room avatar)
 *     <pins xmlns='urn:aldis:pin:0'><pin id by at/></pins>   (muc_pin.c)
 *   </room> */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "modules/muc.h"

#define NS_MUC_STORE "urn:aldis:muc:0"

static const char *const pm_names[] = {"anyone", "participants", "moderators", "none"};

static void set_bool(struct stanza *st, struct xml_node *el, const char *name, bool v)
{
    xml_set_attr(st, el, name, v ? "1" : "0");
}

static void set_long(struct stanza *st, struct xml_node *el, const char *name, long v)
{
    char num[32];
    snprintf(num, sizeof num, "%ld", v);
    xml_set_attr(st, el, name, num);
}

char *muc_store_encode(const struct muc_room *r, size_t *len)
{
    const struct muc_config *c = &r->cfg;
    struct stanza *st = stanza_new("room", NS_MUC_STORE);
    char hex[2 * sizeof r->secret + 1];
    for (size_t i = 0; i < sizeof r->secret; i++)
        snprintf(hex + 2 * i, 3, "%02x", r->secret[i]);
    xml_set_attr(st, st->root, "secret", hex);
    if (r->creator)
        xml_set_attr(st, st->root, "creator", r->creator);
    struct xml_node *cf = xml_add_child(st, st->root, "config", NULL);
    if (c->name)
        xml_set_attr(st, cf, "name", c->name);
    if (c->desc)
        xml_set_attr(st, cf, "desc", c->desc);
    set_bool(st, cf, "persistent", c->persistent);
    set_bool(st, cf, "public", c->public_room);
    set_bool(st, cf, "membersonly", c->members_only);
    set_bool(st, cf, "moderated", c->moderated);
    set_bool(st, cf, "passwordprotected", c->password_protected);
    if (c->password)
        xml_set_attr(st, cf, "password", c->password);
    xml_set_attr(st, cf, "whois", c->whois_anyone ? "anyone" : "moderators");
    set_long(st, cf, "maxusers", c->max_users);
    set_bool(st, cf, "changesubject", c->change_subject);
    set_bool(st, cf, "allowinvites", c->allow_invites);
    xml_set_attr(st, cf, "allowpm", pm_names[c->allow_pm]);
    set_long(st, cf, "history", c->history_length);
    set_bool(st, cf, "logging", c->logging);
    if (c->pubsub)
        xml_set_attr(st, cf, "pubsub", c->pubsub);
    /* role sets as bit masks of MUC_ROLEBIT */
    set_long(st, cf, "presencebroadcast", (long)c->presence_broadcast);
    set_long(st, cf, "getmemberlist", (long)c->get_member_list);
    if (r->subject) {
        struct xml_node *s = xml_add_child(st, st->root, "subject", NULL);
        if (r->subject_nick)
            xml_set_attr(st, s, "nick", r->subject_nick);
        xml_add_text(st, s, r->subject, strlen(r->subject));
    }
    for (size_t i = 0; i < r->naffs; i++) {
        struct xml_node *a = xml_add_child(st, st->root, "affiliation", NULL);
        xml_set_attr(st, a, "jid", r->affs[i].jid);
        xml_set_attr(st, a, "affiliation", muc_affiliation_name(r->affs[i].aff));
        if (r->affs[i].nick)
            xml_set_attr(st, a, "nick", r->affs[i].nick);
        if (r->affs[i].reason)
            xml_add_text(st, a, r->affs[i].reason, strlen(r->affs[i].reason));
    }
    if (r->vcard)
        xml_copy_into(st, st->root, r->vcard->root);
    muc_pin_encode(st, st->root, r);
    char *out = stanza_to_string(st, len);
    stanza_unref(st);
    return out;
}

static bool get_bool(const struct xml_node *el, const char *name, bool def)
{
    const char *v = xml_attr(el, name);
    return v ? strcmp(v, "1") == 0 : def;
}

static long get_long(const struct xml_node *el, const char *name, long def, long max)
{
    const char *v = xml_attr(el, name);
    if (!v)
        return def;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < 0)
        return def;
    return n > max ? max : n;
}

static char *dup_attr(const struct xml_node *el, const char *name)
{
    const char *v = xml_attr(el, name);
    if (!v)
        return NULL;
    char *d = strdup(v);
    ALDIS_ASSERT(d != NULL);
    return d;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int muc_store_decode(struct muc_room *r, const char *data, size_t len)
{
    struct stanza *st = stanza_parse(data, len);
    if (!st)
        return ALDIS_EINVAL;
    int rc = ALDIS_EINVAL;
    if (!xml_is(st->root, "room", NS_MUC_STORE))
        goto out;
    const char *hex = xml_attr(st->root, "secret");
    if (hex && strlen(hex) == 2 * sizeof r->secret) {
        for (size_t i = 0; i < sizeof r->secret; i++) {
            int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
            if (hi < 0 || lo < 0)
                goto out;
            r->secret[i] = (unsigned char)(hi << 4 | lo);
        }
    }
    struct xml_node *cf = xml_child(st->root, "config", NULL);
    if (!cf)
        goto out;
    free(r->creator);
    r->creator = dup_attr(st->root, "creator");
    struct muc_config *c = &r->cfg;
    muc_config_clear(c);
    muc_config_defaults(c);
    c->name = dup_attr(cf, "name");
    c->desc = dup_attr(cf, "desc");
    c->password = dup_attr(cf, "password");
    c->persistent = get_bool(cf, "persistent", true);
    c->public_room = get_bool(cf, "public", true);
    c->members_only = get_bool(cf, "membersonly", false);
    c->moderated = get_bool(cf, "moderated", false);
    c->password_protected = get_bool(cf, "passwordprotected", false) && c->password;
    const char *whois = xml_attr(cf, "whois");
    c->whois_anyone = whois && strcmp(whois, "anyone") == 0;
    c->max_users = get_long(cf, "maxusers", 0, muc_opts.max_occupants);
    c->change_subject = get_bool(cf, "changesubject", true);
    c->allow_invites = get_bool(cf, "allowinvites", false);
    const char *pm = xml_attr(cf, "allowpm");
    for (int i = 0; pm && i < 4; i++)
        if (strcmp(pm, pm_names[i]) == 0)
            c->allow_pm = (enum muc_allowpm)i;
    c->history_length = get_long(cf, "history", muc_opts.history_default, muc_opts.max_history);
    c->logging = get_bool(cf, "logging", muc_opts.logging_default);
    c->pubsub = dup_attr(cf, "pubsub");
    c->presence_broadcast =
        (unsigned)get_long(cf, "presencebroadcast", MUC_ROLES_ALL, MUC_ROLES_ALL) & MUC_ROLES_ALL;
    c->get_member_list = (unsigned)get_long(cf, "getmemberlist", 0, MUC_ROLES_ALL) & MUC_ROLES_ALL;
    struct xml_node *s = xml_child(st->root, "subject", NULL);
    if (s) {
        r->subject = (char *)xml_text(NULL, s);
        r->subject_nick = dup_attr(s, "nick");
    }
    for (struct xml_node *a = xml_child(st->root, "affiliation", NULL); a;
         a = xml_next(a, "affiliation", NULL)) {
        int aff = muc_affiliation_parse(xml_attr(a, "affiliation"));
        const char *jid = xml_attr(a, "jid");
        if (aff < 0 || aff == AFF_NONE || !jid)
            continue;
        char *reason = (char *)xml_text(NULL, a);
        muc_affiliation_set(r, jid, (enum muc_affiliation)aff, reason);
        free(reason);
        const char *nick = xml_attr(a, "nick");
        if (nick && aff >= AFF_MEMBER)
            muc_nick_set(r, jid, nick);
    }
    struct xml_node *vc = xml_child(st->root, "vCard", NS_VCARD);
    if (vc && muc_vcard_set(r, vc) < 0)
        log_warn("muc", "%s: stored vCard over max_vcard_size or bad; dropped", r->jid);
    muc_pin_decode(r, st->root);
    r->locked = false;
    rc = 0;
out:
    stanza_unref(st);
    return rc;
}

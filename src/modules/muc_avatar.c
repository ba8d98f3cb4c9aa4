/* muc_avatar.c - room avatars (XEP-0486): the room's vcard-temp (XEP-0054)
 * that owners set and anyone reads at the room's JID, and the SHA-1 of its
 * photo, advertised as muc#roominfo_avatarhash in the room's disco#info so
 * that a client knows the avatar before entering. The vCard is held by the
 * room (bounded by the option max_vcard_size) and kept with a persistent
 * room's stored form. Runs on the room's owner worker. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "core/router.h"
#include "modules/muc.h"

/* The SHA-1 (hex) of the decoded BINVAL of <PHOTO/>, XEP-0153 §4.1 as
 * XEP-0486 §3 asks; "" when there is no photo. 0 or ALDIS_EINVAL (bad
 * base64). */
static int photo_hash(const struct xml_node *vcard, char out[MUC_AVATAR_HASH_LEN + 1])
{
    out[0] = '\0';
    struct xml_node *photo = xml_child(vcard, "PHOTO", NS_VCARD);
    struct xml_node *binval = photo ? xml_child(photo, "BINVAL", NS_VCARD) : NULL;
    if (!binval)
        return 0;
    char *text = (char *)xml_text(NULL, binval);
    size_t n = 0;
    for (const char *p = text; *p; p++) /* base64 in XML may be wrapped */
        if (!isspace((unsigned char)*p))
            text[n++] = *p;
    text[n] = '\0';
    int rc = ALDIS_EINVAL;
    if (n == 0 || n % 4 != 0)
        goto out;
    unsigned char *raw = malloc(n / 4 * 3 + 1);
    ALDIS_ASSERT(raw != NULL);
    int len = EVP_DecodeBlock(raw, (const unsigned char *)text, (int)n);
    if (len >= 0) {
        /* EVP_DecodeBlock counts the padding as zero bytes */
        len -= (text[n - 1] == '=') + (text[n - 2] == '=');
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1(raw, (size_t)len, md);
        for (size_t i = 0; i < SHA_DIGEST_LENGTH; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
        rc = 0;
    }
    free(raw);
out:
    free(text);
    return rc;
}

int muc_vcard_set(struct muc_room *r, const struct xml_node *vcard)
{
    char hash[MUC_AVATAR_HASH_LEN + 1];
    struct buf b;
    int rc = ALDIS_EINVAL;
    buf_init(&b);
    xml_serialize(vcard, NULL, &b);
    if (b.len > (size_t)muc_opts.max_vcard_size)
        goto out;
    if (photo_hash(vcard, hash) < 0)
        goto out;
    /* a copy of our own, parsed from its serialised form: the request's
     * arena is not ours to keep */
    struct stanza *copy = stanza_parse(b.data, b.len);
    if (!copy)
        goto out;
    if (r->vcard)
        stanza_unref(r->vcard);
    r->vcard = stanza_freeze(copy);
    snprintf(r->avatar_hash, sizeof r->avatar_hash, "%s", hash);
    rc = 0;
out:
    buf_free(&b);
    return rc;
}

void muc_vcard_iq(struct muc_room *r, struct stanza *st, const struct jid *from)
{
    char bare[JID_STR_MAX];
    if (muc_opts.max_vcard_size == 0) { /* avatars switched off */
        router_bounce(st, "cancel", "service-unavailable", NULL);
        return;
    }
    if (strcmp(stanza_type(st), "get") == 0) {
        /* XEP-0486 §4: anyone may read it, as anyone may read disco#info */
        struct stanza *reply = stanza_iq_result(st);
        if (r->vcard)
            xml_copy_into(reply, reply->root, r->vcard->root);
        else
            xml_add_child(reply, reply->root, "vCard", NS_VCARD);
        router_route(reply);
        return;
    }
    if (muc_affiliation_of(r, jid_bare(from, bare, sizeof bare)) != AFF_OWNER) {
        router_bounce(st, "auth", "forbidden", "Only owners set the room's vCard");
        return;
    }
    struct xml_node *vcard = xml_first_elem(st->root);
    char before[sizeof r->avatar_hash];
    snprintf(before, sizeof before, "%s", r->avatar_hash);
    if (muc_vcard_set(r, vcard) < 0) {
        router_bounce(st, "modify", "not-acceptable",
                      "The vCard is too large or its photo is not base64");
        return;
    }
    router_route(stanza_iq_result(st));
    muc_room_save(r);
    /* XEP-0486 §3: occupants learn that the room's look changed the way
     * they learn of other configuration changes (104, XEP-0045 §10.2.1) */
    if (strcmp(before, r->avatar_hash) != 0) {
        int code = 104;
        muc_room_notice(r, &code, 1);
    }
}

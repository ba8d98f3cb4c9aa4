/* test_muc_store.c - the stored form of a MUC room (muc_store.c): a round
 * trip of everything a persistent room keeps (configuration with the role
 * sets and logging, affiliations with registered nicks, subject, creator,
 * occupant-id secret, the XEP-0486 vCard and its photo hash), and hostile
 * or damaged stored documents: refused, or read with values clamped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/xml.h"
#include "modules/muc.h"

static struct muc_room *room_new(void)
{
    struct muc_room *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->jid = strdup("room@conference.example.org");
    muc_config_defaults(&r->cfg);
    return r;
}

static int vcard_put(struct muc_room *r, const char *xml)
{
    struct stanza *v = stanza_parse(xml, strlen(xml));
    assert_non_null(v);
    int rc = muc_vcard_set(r, v->root);
    stanza_unref(v);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct muc_room *r = room_new();
    r->cfg.name = strdup("Watch floor");
    r->cfg.persistent = true;
    r->cfg.members_only = true;
    r->cfg.logging = false;
    r->cfg.presence_broadcast = MUC_ROLEBIT(ROLE_MODERATOR);
    r->cfg.get_member_list = MUC_ROLEBIT(ROLE_PARTICIPANT) | MUC_ROLEBIT(ROLE_MODERATOR);
    r->cfg.history_length = 7;
    r->cfg.pubsub = strdup("xmpp:pubsub.example.org?;node=feed");
    r->creator = strdup("alice@example.org");
    memset(r->secret, 0xab, sizeof r->secret);
    muc_affiliation_set(r, "alice@example.org", AFF_OWNER, NULL);
    muc_affiliation_set(r, "bob@example.org", AFF_MEMBER, "welcome");
    muc_nick_set(r, "bob@example.org", "bobby");
    muc_affiliation_set(r, "eve@example.org", AFF_OUTCAST, NULL);
    /* "hello" in base64; SHA-1 of "hello" */
    assert_int_equal(vcard_put(r, "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE>"
                                  "<BINVAL>aGVs\n bG8=</BINVAL></PHOTO></vCard>"),
                     0);
    assert_string_equal(r->avatar_hash, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");

    size_t len;
    char *data = muc_store_encode(r, &len);
    struct muc_room *back = room_new();
    assert_int_equal(muc_store_decode(back, data, len), 0);
    assert_string_equal(back->cfg.name, "Watch floor");
    assert_true(back->cfg.persistent);
    assert_true(back->cfg.members_only);
    assert_false(back->cfg.logging);
    assert_int_equal(back->cfg.presence_broadcast, MUC_ROLEBIT(ROLE_MODERATOR));
    assert_int_equal(back->cfg.get_member_list,
                     MUC_ROLEBIT(ROLE_PARTICIPANT) | MUC_ROLEBIT(ROLE_MODERATOR));
    assert_int_equal(back->cfg.history_length, 7);
    assert_string_equal(back->cfg.pubsub, "xmpp:pubsub.example.org?;node=feed");
    assert_string_equal(back->creator, "alice@example.org");
    assert_memory_equal(back->secret, r->secret, sizeof r->secret);
    assert_int_equal(muc_affiliation_of(back, "bob@example.org"), AFF_MEMBER);
    assert_int_equal(muc_affiliation_of(back, "eve@example.org"), AFF_OUTCAST);
    assert_string_equal(muc_nick_registered(back, "bob@example.org"), "bobby");
    assert_true(muc_nick_reserved_by_other(back, "bobby", "carol@example.org"));
    assert_false(muc_nick_reserved_by_other(back, "bobby", "bob@example.org"));
    assert_string_equal(back->avatar_hash, r->avatar_hash);
    free(data);
    muc_room_free(r);
    muc_room_free(back);
}

static void test_nick_goes_with_affiliation(void **state)
{
    (void)state;
    struct muc_room *r = room_new();
    muc_affiliation_set(r, "bob@example.org", AFF_MEMBER, NULL);
    muc_nick_set(r, "bob@example.org", "bobby");
    /* banned: the nick is no longer reserved for him */
    muc_affiliation_set(r, "bob@example.org", AFF_OUTCAST, NULL);
    assert_null(muc_nick_registered(r, "bob@example.org"));
    assert_false(muc_nick_reserved_by_other(r, "bobby", "carol@example.org"));
    muc_affiliation_set(r, "bob@example.org", AFF_NONE, NULL);
    assert_int_equal(r->naffs, 0);
    muc_room_free(r);
}

static void test_hostile_documents(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "not xml",
        "<room xmlns='urn:other'/>",
        "<room xmlns='urn:aldis:muc:0'/>",                          /* no config */
        ("<room xmlns='urn:aldis:muc:0' secret='zz112233445566778899aabbccddeeff'>"
         "<config/></room>"),                                       /* bad hex */
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        struct muc_room *r = room_new();
        assert_int_equal(muc_store_decode(r, refused[i], strlen(refused[i])), ALDIS_EINVAL);
        muc_room_free(r);
    }
    /* out-of-range values are clamped or defaulted, unknown roles dropped,
     * affiliations without a JID or of 'none' ignored, a nick on a
     * non-member ignored */
    const char *odd = "<room xmlns='urn:aldis:muc:0'>"
                      "<config history='99999999' maxusers='-5' presencebroadcast='255'"
                      " getmemberlist='x' passwordprotected='1'/>"
                      "<affiliation affiliation='owner'/>"
                      "<affiliation jid='a@b' affiliation='none'/>"
                      "<affiliation jid='c@d' affiliation='outcast' nick='n'/>"
                      "<affiliation jid='e@f' affiliation='king'/>"
                      "</room>";
    struct muc_room *r = room_new();
    assert_int_equal(muc_store_decode(r, odd, strlen(odd)), 0);
    assert_true(r->cfg.history_length <= muc_opts.max_history);
    assert_int_equal(r->cfg.max_users, 0);
    assert_int_equal(r->cfg.presence_broadcast, MUC_ROLES_ALL);
    assert_int_equal(r->cfg.get_member_list, 0);
    assert_false(r->cfg.password_protected); /* protected without a password */
    assert_int_equal(r->naffs, 1);
    assert_null(muc_nick_registered(r, "c@d"));
    muc_room_free(r);
}

static void test_vcard_limits(void **state)
{
    (void)state;
    struct muc_room *r = room_new();
    long saved = muc_opts.max_vcard_size;
    assert_int_equal(vcard_put(r, "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>!!!!</BINVAL>"
                                  "</PHOTO></vCard>"),
                     ALDIS_EINVAL);
    assert_int_equal(vcard_put(r, "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>abc</BINVAL>"
                                  "</PHOTO></vCard>"),
                     ALDIS_EINVAL);
    assert_null(r->vcard);
    muc_opts.max_vcard_size = 64;
    assert_int_equal(vcard_put(r, "<vCard xmlns='vcard-temp'><FN>a name long enough to go over "
                                  "sixty-four bytes</FN></vCard>"),
                     ALDIS_EINVAL);
    muc_opts.max_vcard_size = saved;
    /* no photo: a vCard without avatar hash */
    assert_int_equal(vcard_put(r, "<vCard xmlns='vcard-temp'><FN>Room</FN></vCard>"), 0);
    assert_non_null(r->vcard);
    assert_string_equal(r->avatar_hash, "");
    muc_room_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_nick_goes_with_affiliation),
        cmocka_unit_test(test_hostile_documents),
        cmocka_unit_test(test_vcard_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

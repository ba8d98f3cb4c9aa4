/* test_scram.c - SCRAM key derivation (src/store/scram.c) against the
 * RFC 5802 §5 (SHA-1) and RFC 7677 §3 (SHA-256) examples.
 *
 * The expected StoredKey/ServerKey values were computed independently with
 * Python's hashlib/hmac (pbkdf2_hmac, then the RFC 5802 §3 formulas). Beyond
 * that, each test replays the RFC's own exchange: the server signature v=
 * printed in the RFC must equal HMAC(ServerKey, AuthMessage), and the client
 * proof p= must unmask to a ClientKey whose hash is our StoredKey - exactly
 * the check a SCRAM server makes (RFC 5802 §3). Finally, GNU SASL's own
 * SCRAM server (the one aldis uses) authenticates its own client against
 * keys from scram_keys_derive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aldis/error.h"
#include "aldis/store.h"
#include "store/scram_internal.h"

struct vector {
    enum scram_hash hash;
    const char *salt_b64;
    const char *auth_message;
    const char *proof_b64;     /* p= from the RFC */
    const char *signature_b64; /* v= from the RFC */
    const char *stored_hex;
    const char *server_hex;
};

/* RFC 5802 §5: user "user", password "pencil". The AuthMessage is
 * client-first-message-bare "," server-first-message ","
 * client-final-message-without-proof (RFC 5802 §3). */
static const struct vector rfc5802 = {
    SCRAM_HASH_SHA1,
    "QSXCR+Q6sek8bf92",
    "n=user,r=fyko+d2lbbFgONRv9qkxdawL,"
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,"
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
    "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    "e9d94660c39d65c38fbad91c358f14da0eef2bd6",
    "0fe09258b3ac852ba502cc62ba903eaacdbf7d31",
};

/* RFC 7677 §3: the same user and password with SCRAM-SHA-256. */
static const struct vector rfc7677 = {
    SCRAM_HASH_SHA256,
    "W22ZaJ0SNY7soEsUEjb6gQ==",
    "n=user,r=rOprNGfwEbeRWgbNEkqO,"
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6",
    "c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5",
};

static size_t b64_decode(const char *in, unsigned char *out)
{
    size_t inlen = strlen(in);
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
    assert_true(n >= 0);
    /* EVP_DecodeBlock counts padding as zero bytes; drop them. */
    while (inlen > 0 && in[inlen - 1] == '=') {
        inlen--;
        n--;
    }
    return (size_t)n;
}

static void hex_decode(const char *hex, unsigned char *out)
{
    for (size_t i = 0; hex[2 * i]; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
}

static void check_vector(const struct vector *v)
{
    const EVP_MD *md = v->hash == SCRAM_HASH_SHA1 ? EVP_sha1() : EVP_sha256();
    size_t mdlen = (size_t)EVP_MD_get_size(md);
    unsigned char salt[64], stored[64], server[64], want[64];
    unsigned char sig[EVP_MAX_MD_SIZE], proof[64], client_key[64], h[64];
    unsigned siglen = 0, hlen = 0;
    size_t saltlen = b64_decode(v->salt_b64, salt);

    assert_int_equal(scram__keys_from_prepared(v->hash, "pencil", salt, saltlen,
                                               4096, stored, server),
                     0);
    hex_decode(v->stored_hex, want);
    assert_memory_equal(stored, want, mdlen);
    hex_decode(v->server_hex, want);
    assert_memory_equal(server, want, mdlen);

    /* ServerSignature := HMAC(ServerKey, AuthMessage) must be the RFC's v=. */
    assert_non_null(HMAC(md, server, (int)mdlen,
                         (const unsigned char *)v->auth_message,
                         strlen(v->auth_message), sig, &siglen));
    assert_int_equal(b64_decode(v->signature_b64, want), mdlen);
    assert_memory_equal(sig, want, mdlen);

    /* ClientKey := ClientProof XOR HMAC(StoredKey, AuthMessage), and
     * H(ClientKey) must be StoredKey. */
    assert_non_null(HMAC(md, stored, (int)mdlen,
                         (const unsigned char *)v->auth_message,
                         strlen(v->auth_message), sig, &siglen));
    assert_int_equal(b64_decode(v->proof_b64, proof), mdlen);
    for (size_t i = 0; i < mdlen; i++)
        client_key[i] = proof[i] ^ sig[i];
    assert_int_equal(EVP_Digest(client_key, mdlen, h, &hlen, md, NULL), 1);
    assert_memory_equal(h, stored, mdlen);
}

static void test_rfc5802_sha1(void **state)
{
    check_vector(&rfc5802);
}

static void test_rfc7677_sha256(void **state)
{
    check_vector(&rfc7677);
}

static void test_derive_and_check(void **state)
{
    struct scram_keys a, b;
    assert_int_equal(scram_keys_derive("pencil", 4096, &a), 0);
    assert_int_equal(a.iterations, 4096);
    assert_true(scram_keys_check(&a, "pencil"));
    assert_false(scram_keys_check(&a, "pencil "));
    assert_false(scram_keys_check(&a, "Pencil"));
    assert_false(scram_keys_check(&a, ""));
    assert_false(scram_keys_check(&a, NULL));

    /* A fresh salt each time: same password, different keys. */
    assert_int_equal(scram_keys_derive("pencil", 4096, &b), 0);
    assert_memory_not_equal(a.salt, b.salt, SCRAM_SALT_LEN);
    assert_memory_not_equal(a.stored_key_sha256, b.stored_key_sha256,
                            SCRAM_SHA256_LEN);

    /* The derived SHA-1 keys follow the same formula as the vectors. */
    unsigned char stored[SCRAM_SHA1_LEN], server[SCRAM_SHA1_LEN];
    assert_int_equal(scram__keys_from_prepared(SCRAM_HASH_SHA1, "pencil", a.salt,
                                               SCRAM_SALT_LEN, 4096, stored,
                                               server),
                     0);
    assert_memory_equal(stored, a.stored_key_sha1, SCRAM_SHA1_LEN);
    assert_memory_equal(server, a.server_key_sha1, SCRAM_SHA1_LEN);

    /* 0 iterations means the default. */
    assert_int_equal(scram_keys_derive("x", 0, &b), 0);
    assert_int_equal(b.iterations, SCRAM_ITERATIONS_DEFAULT);
}

static void test_saslprep(void **state)
{
    struct scram_keys k;
    /* RFC 4013 §2.1: non-ASCII space maps to SPACE; §2.1 "commonly mapped to
     * nothing": SOFT HYPHEN disappears. Both spellings check equal. */
    assert_int_equal(scram_keys_derive("I\xc2\xadX", 1, &k), 0);
    assert_true(scram_keys_check(&k, "IX"));
    assert_int_equal(scram_keys_derive("a\xc2\xa0" "b", 1, &k), 0);
    assert_true(scram_keys_check(&k, "a b"));
    /* NFKC (RFC 4013 §2.2): U+2168 ROMAN NUMERAL NINE becomes "IX". */
    assert_int_equal(scram_keys_derive("\xe2\x85\xa8", 1, &k), 0);
    assert_true(scram_keys_check(&k, "IX"));
    /* Prohibited (RFC 4013 §2.3): a control character. */
    assert_int_equal(scram_keys_derive("a\x07" "b", 1, &k), ALDIS_EINVAL);
    /* Empty, and empty after mapping. */
    assert_int_equal(scram_keys_derive("", 1, &k), ALDIS_EINVAL);
    assert_int_equal(scram_keys_derive("\xc2\xad", 1, &k), ALDIS_EINVAL);
    assert_int_equal(scram_keys_derive(NULL, 1, &k), ALDIS_EINVAL);
    /* Not UTF-8 at all. */
    assert_int_equal(scram_keys_derive("\xff\xfe", 1, &k), ALDIS_EINVAL);
}

/* ---- interop with GNU SASL's SCRAM server --------------------------- */

static struct scram_keys gs_keys;
static bool gs_sha256;

/* GNU SASL 2.2 reads GSASL_SCRAM_STOREDKEY / GSASL_SCRAM_SERVERKEY as
 * base64 (its gsasl.h comment says hex, but hex fails: checked here). */
static int gs_set_b64(Gsasl_session *s, Gsasl_property p, const unsigned char *k,
                      size_t n)
{
    char *b64 = NULL;
    size_t len;
    if (gsasl_base64_to((const char *)k, n, &b64, &len) != GSASL_OK)
        return GSASL_MALLOC_ERROR;
    int rc = gsasl_property_set(s, p, b64);
    gsasl_free(b64);
    return rc;
}

static int gs_callback(Gsasl *ctx, Gsasl_session *s, Gsasl_property p)
{
    char tmp[32];
    switch (p) {
    case GSASL_AUTHID:
        return gsasl_property_set(s, p, "user");
    case GSASL_PASSWORD: /* the client side */
        return gsasl_property_set(s, p, "pencil");
    case GSASL_SCRAM_ITER:
        snprintf(tmp, sizeof tmp, "%u", gs_keys.iterations);
        return gsasl_property_set(s, p, tmp);
    case GSASL_SCRAM_SALT:
        return gs_set_b64(s, p, gs_keys.salt, SCRAM_SALT_LEN);
    case GSASL_SCRAM_STOREDKEY:
        return gs_sha256 ? gs_set_b64(s, p, gs_keys.stored_key_sha256, SCRAM_SHA256_LEN)
                         : gs_set_b64(s, p, gs_keys.stored_key_sha1, SCRAM_SHA1_LEN);
    case GSASL_SCRAM_SERVERKEY:
        return gs_sha256 ? gs_set_b64(s, p, gs_keys.server_key_sha256, SCRAM_SHA256_LEN)
                         : gs_set_b64(s, p, gs_keys.server_key_sha1, SCRAM_SHA1_LEN);
    default:
        return GSASL_NO_CALLBACK;
    }
}

/* Run one exchange; returns the server's final gsasl code. */
static int gs_exchange(Gsasl *ctx, const char *mech)
{
    Gsasl_session *client = NULL, *server = NULL;
    char *to_server = NULL, *to_client = NULL;
    size_t to_server_len = 0, to_client_len = 0;
    int rc_server = GSASL_NEEDS_MORE, rc_client;

    assert_int_equal(gsasl_client_start(ctx, mech, &client), GSASL_OK);
    assert_int_equal(gsasl_server_start(ctx, mech, &server), GSASL_OK);
    for (int round = 0; round < 4 && rc_server == GSASL_NEEDS_MORE; round++) {
        rc_client = gsasl_step(client, to_client, to_client_len, &to_server,
                               &to_server_len);
        gsasl_free(to_client);
        to_client = NULL;
        if (rc_client != GSASL_OK && rc_client != GSASL_NEEDS_MORE)
            break;
        rc_server = gsasl_step(server, to_server, to_server_len, &to_client,
                               &to_client_len);
        gsasl_free(to_server);
        to_server = NULL;
    }
    if (rc_server == GSASL_OK) {
        /* The client verifies the server signature (made with ServerKey). */
        rc_client = gsasl_step(client, to_client, to_client_len, &to_server,
                               &to_server_len);
        assert_int_equal(rc_client, GSASL_OK);
        gsasl_free(to_server);
    }
    gsasl_free(to_client);
    gsasl_finish(client);
    gsasl_finish(server);
    return rc_server;
}

static void test_gsasl_interop(void **state)
{
    Gsasl *ctx = NULL;
    assert_int_equal(gsasl_init(&ctx), GSASL_OK);
    gsasl_callback_set(ctx, gs_callback);

    assert_int_equal(scram_keys_derive("pencil", 4096, &gs_keys), 0);
    gs_sha256 = false;
    assert_int_equal(gs_exchange(ctx, "SCRAM-SHA-1"), GSASL_OK);
    gs_sha256 = true;
    assert_int_equal(gs_exchange(ctx, "SCRAM-SHA-256"), GSASL_OK);

    /* Keys of another password are refused. */
    assert_int_equal(scram_keys_derive("pencil2", 4096, &gs_keys), 0);
    assert_int_equal(gs_exchange(ctx, "SCRAM-SHA-256"), GSASL_AUTHENTICATION_ERROR);
    gsasl_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5802_sha1),
        cmocka_unit_test(test_rfc7677_sha256),
        cmocka_unit_test(test_derive_and_check),
        cmocka_unit_test(test_saslprep),
        cmocka_unit_test(test_gsasl_interop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

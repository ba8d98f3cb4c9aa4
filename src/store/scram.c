/* scram.c - SCRAM credentials: derive StoredKey/ServerKey for SHA-1 and
 * SHA-256 from a password (RFC 5802 §3, RFC 7677) and check a plaintext
 * password against them (SASL PLAIN). Plaintext passwords are never stored. */
#include "aldis/error.h"
#include "aldis/store.h"
#include "store/scram_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stringprep.h>

/* PBKDF2 iteration bounds. RFC 7677 §4 recommends at least 4096, which is
 * the default and what aldisctl enforces; lower counts are accepted here so
 * tests can create accounts cheaply. The upper bound only stops a typo from
 * making every login take minutes. */
#define SCRAM_ITERATIONS_MIN 1u
#define SCRAM_ITERATIONS_MAX 10000000u

char *scram__saslprep(const char *password, bool stored)
{
    char *out = NULL;
    /* RFC 4013 §2: stored strings must not contain unassigned code points;
     * queries (a password typed at login) may. Deriving with the strict
     * profile guarantees that a later query-mode preparation of the same
     * password yields the same bytes. */
    int flags = stored ? STRINGPREP_NO_UNASSIGNED : 0;
    if (!password)
        return NULL;
    if (stringprep_profile(password, &out, "SASLprep", flags) != STRINGPREP_OK) {
        free(out);
        return NULL;
    }
    /* RFC 4013 §2.3 forbids nothing that could make the result empty, but
     * an empty password is useless as a credential. */
    if (out[0] == '\0') {
        free(out);
        return NULL;
    }
    return out;
}

int scram__keys_from_prepared(enum scram_hash hash, const char *prepared,
                              const unsigned char *salt, size_t saltlen,
                              unsigned iterations, unsigned char *stored_key,
                              unsigned char *server_key)
{
    const EVP_MD *md = hash == SCRAM_HASH_SHA1 ? EVP_sha1() : EVP_sha256();
    int mdlen = EVP_MD_get_size(md);
    unsigned char salted[EVP_MAX_MD_SIZE];
    unsigned char client_key[EVP_MAX_MD_SIZE];
    unsigned int outlen = 0;
    int rc = ALDIS_EINVAL;

    if (!prepared || !salt || saltlen == 0 || iterations == 0 || mdlen <= 0)
        return ALDIS_EINVAL;
    /* SaltedPassword := Hi(Normalize(password), salt, i); Hi is PBKDF2 with
     * HMAC-H as the PRF and one block of output (RFC 5802 §2.2). */
    if (!PKCS5_PBKDF2_HMAC(prepared, (int)strlen(prepared), salt, (int)saltlen,
                           (int)iterations, md, mdlen, salted))
        goto out;
    /* ClientKey := HMAC(SaltedPassword, "Client Key"); StoredKey := H(ClientKey) */
    if (!HMAC(md, salted, mdlen, (const unsigned char *)"Client Key", 10,
              client_key, &outlen) || (int)outlen != mdlen)
        goto out;
    if (!EVP_Digest(client_key, (size_t)mdlen, stored_key, &outlen, md, NULL) ||
        (int)outlen != mdlen)
        goto out;
    /* ServerKey := HMAC(SaltedPassword, "Server Key") */
    if (!HMAC(md, salted, mdlen, (const unsigned char *)"Server Key", 10,
              server_key, &outlen) || (int)outlen != mdlen)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client_key, sizeof client_key);
    return rc;
}

int scram_keys_derive(const char *password, unsigned iterations,
                      struct scram_keys *out)
{
    char *prepared = NULL;
    int rc = ALDIS_EINVAL;

    if (!out)
        return ALDIS_EINVAL;
    memset(out, 0, sizeof *out);
    if (iterations == 0)
        iterations = SCRAM_ITERATIONS_DEFAULT;
    if (iterations < SCRAM_ITERATIONS_MIN || iterations > SCRAM_ITERATIONS_MAX)
        return ALDIS_EINVAL;
    prepared = scram__saslprep(password, true);
    if (!prepared)
        goto out;
    /* RFC 5802 §9: the salt must be random per user. */
    if (RAND_bytes(out->salt, SCRAM_SALT_LEN) != 1) {
        rc = ALDIS_EIO;
        goto out;
    }
    out->iterations = iterations;
    rc = scram__keys_from_prepared(SCRAM_HASH_SHA1, prepared, out->salt,
                                   SCRAM_SALT_LEN, iterations,
                                   out->stored_key_sha1, out->server_key_sha1);
    if (rc == 0)
        rc = scram__keys_from_prepared(SCRAM_HASH_SHA256, prepared, out->salt,
                                       SCRAM_SALT_LEN, iterations,
                                       out->stored_key_sha256,
                                       out->server_key_sha256);
out:
    if (prepared) {
        OPENSSL_cleanse(prepared, strlen(prepared));
        free(prepared);
    }
    if (rc != 0)
        OPENSSL_cleanse(out, sizeof *out);
    return rc;
}

bool scram_keys_check(const struct scram_keys *k, const char *password)
{
    unsigned char stored[SCRAM_SHA256_LEN], server[SCRAM_SHA256_LEN];
    char *prepared = NULL;
    bool ok = false;

    if (!k || k->iterations == 0)
        return false;
    /* A login is a query in RFC 4013 terms (unassigned code points allowed);
     * they can never match because derivation refused them. */
    prepared = scram__saslprep(password, false);
    if (!prepared)
        goto out;
    /* SHA-256 alone decides: both key sets come from the same password. */
    if (scram__keys_from_prepared(SCRAM_HASH_SHA256, prepared, k->salt,
                                  SCRAM_SALT_LEN, k->iterations, stored,
                                  server) != 0)
        goto out;
    /* Constant time, so the comparison leaks nothing about the keys. */
    ok = CRYPTO_memcmp(stored, k->stored_key_sha256, SCRAM_SHA256_LEN) == 0 &&
         CRYPTO_memcmp(server, k->server_key_sha256, SCRAM_SHA256_LEN) == 0;
out:
    if (prepared) {
        OPENSSL_cleanse(prepared, strlen(prepared));
        free(prepared);
    }
    OPENSSL_cleanse(stored, sizeof stored);
    OPENSSL_cleanse(server, sizeof server);
    return ok;
}

/* aldis-bench: the client side of SASL SCRAM-SHA-1 and SCRAM-SHA-256
 * (RFC 5802, RFC 7677) over OpenSSL's hashes, HMAC and PBKDF2, without
 * channel binding (gs2 header "n,,"). Salted passwords are cached per user. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static const EVP_MD *scram_md(int sha256)
{
    return sha256 ? EVP_sha256() : EVP_sha1();
}

/* Decode base64 into out; returns the decoded length or -1. EVP_DecodeBlock
 * counts padding as zero bytes, so the '=' are subtracted here. */
static int scram_b64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_size)
{
    if (in_len % 4 != 0 || in_len / 4 * 3 > out_size)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)in_len);
    if (n < 0)
        return -1;
    if (in_len > 0 && in[in_len - 1] == '=')
        n--;
    if (in_len > 1 && in[in_len - 2] == '=')
        n--;
    return n;
}

static int scram_b64_encode(const unsigned char *in, size_t in_len, char *out, size_t out_size)
{
    if ((in_len + 2) / 3 * 4 + 1 > out_size)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, in, (int)in_len);
}

static void scram_username(const struct conn *c, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s%d", c->w->opts->user_prefix, c->user);
}

/* Build the client-first-message (RFC 5802 §7) and base64 it into out. */
int scram_client_first(struct conn *c, int sha256, char *out, size_t out_size)
{
    unsigned char raw[18];
    char user[96];
    char msg[200];

    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    scram_b64_encode(raw, sizeof raw, c->scram.nonce, sizeof c->scram.nonce);
    scram_username(c, user, sizeof user);
    /* Usernames are PREFIXn: no ',' or '=' to escape as =2C / =3D. */
    snprintf(c->scram.client_first_bare, sizeof c->scram.client_first_bare, "n=%s,r=%s", user,
             c->scram.nonce);
    c->scram.sha256 = sha256;
    c->scram.hash_len = sha256 ? 32 : 20;
    int n = snprintf(msg, sizeof msg, "n,,%s", c->scram.client_first_bare);
    if (n < 0 || (size_t)n >= sizeof msg)
        return -1;
    return scram_b64_encode((const unsigned char *)msg, (size_t)n, out, out_size) < 0 ? -1 : 0;
}

/* Find attribute "k=" in a comma-separated SCRAM message; value copied to out. */
static int scram_attr(const char *msg, char key, char *out, size_t out_size)
{
    const char *p = msg;
    while (p && *p) {
        if (p[0] == key && p[1] == '=') {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p - 2) : strlen(p + 2);
            if (len >= out_size)
                return -1;
            memcpy(out, p + 2, len);
            out[len] = '\0';
            return 0;
        }
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return -1;
}

static int scram_hmac(int sha256, const unsigned char *key, size_t key_len, const void *data,
                      size_t data_len, unsigned char *out)
{
    unsigned int len = 0;
    return HMAC(scram_md(sha256), key, (int)key_len, data, data_len, out, &len) ? 0 : -1;
}

/* Derive (or fetch from the cache) ClientKey and ServerKey for this user. */
static int scram_keys(struct conn *c, const unsigned char *salt, size_t salt_len,
                      unsigned iterations, struct scram_cache **keys)
{
    struct scram_cache *e = &c->w->cache[c->user - 1];
    int sha256 = c->scram.sha256;
    size_t hlen = c->scram.hash_len;

    if (e->valid && e->sha256 == sha256 && e->iterations == iterations &&
        e->salt_len == salt_len && memcmp(e->salt, salt, salt_len) == 0) {
        *keys = e;
        return 0;
    }
    if (salt_len > sizeof e->salt)
        return -1;

    char user[96], password_buf[96];
    const char *password = c->w->opts->password;
    scram_username(c, user, sizeof user);
    if (!password) {
        snprintf(password_buf, sizeof password_buf, "%s", user);
        password = password_buf;
    }
    unsigned char salted[32];
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, (int)iterations,
                          scram_md(sha256), (int)hlen, salted) != 1)
        return -1;
    if (scram_hmac(sha256, salted, hlen, "Client Key", 10, e->client_key) < 0 ||
        scram_hmac(sha256, salted, hlen, "Server Key", 10, e->server_key) < 0)
        return -1;
    memcpy(e->salt, salt, salt_len);
    e->salt_len = salt_len;
    e->iterations = iterations;
    e->sha256 = sha256;
    e->valid = 1;
    *keys = e;
    return 0;
}

/* Answer the server-first-message with the client-final-message
 * (RFC 5802 §3 for the proof, §5.1 for the attributes), base64'd into out. */
int scram_client_final(struct conn *c, const char *server_first_b64, char *out, size_t out_size)
{
    char server_first[512];
    char nonce[256], salt_b64[128], iter_s[16];
    unsigned char salt[96];
    int n = scram_b64_decode(server_first_b64, strlen(server_first_b64),
                             (unsigned char *)server_first, sizeof server_first - 1);
    if (n < 0)
        return -1;
    server_first[n] = '\0';
    if (scram_attr(server_first, 'r', nonce, sizeof nonce) < 0 ||
        scram_attr(server_first, 's', salt_b64, sizeof salt_b64) < 0 ||
        scram_attr(server_first, 'i', iter_s, sizeof iter_s) < 0)
        return -1;
    /* The server's nonce must extend ours (RFC 5802 §5.1, r=). */
    if (strncmp(nonce, c->scram.nonce, strlen(c->scram.nonce)) != 0)
        return -1;
    int salt_len = scram_b64_decode(salt_b64, strlen(salt_b64), salt, sizeof salt);
    long iterations = strtol(iter_s, NULL, 10);
    if (salt_len <= 0 || iterations < 1 || iterations > 10000000)
        return -1;

    struct scram_cache *keys;
    if (scram_keys(c, salt, (size_t)salt_len, (unsigned)iterations, &keys) < 0)
        return -1;

    /* c=biws is base64("n,,"), the gs2 header without channel binding. */
    char without_proof[320];
    snprintf(without_proof, sizeof without_proof, "c=biws,r=%s", nonce);
    char auth_message[1100];
    int am = snprintf(auth_message, sizeof auth_message, "%s,%s,%s", c->scram.client_first_bare,
                      server_first, without_proof);
    if (am < 0 || (size_t)am >= sizeof auth_message)
        return -1;

    size_t hlen = c->scram.hash_len;
    unsigned char stored_key[32], signature[32], proof[32];
    unsigned int len = 0;
    if (EVP_Digest(keys->client_key, hlen, stored_key, &len, scram_md(c->scram.sha256), NULL) != 1)
        return -1;
    if (scram_hmac(c->scram.sha256, stored_key, hlen, auth_message, (size_t)am, signature) < 0)
        return -1;
    for (size_t i = 0; i < hlen; i++)
        proof[i] = keys->client_key[i] ^ signature[i];
    if (scram_hmac(c->scram.sha256, keys->server_key, hlen, auth_message, (size_t)am,
                   c->scram.server_signature) < 0)
        return -1;

    char proof_b64[64], final_msg[420];
    scram_b64_encode(proof, hlen, proof_b64, sizeof proof_b64);
    int fm = snprintf(final_msg, sizeof final_msg, "%s,p=%s", without_proof, proof_b64);
    if (fm < 0 || (size_t)fm >= sizeof final_msg)
        return -1;
    return scram_b64_encode((const unsigned char *)final_msg, (size_t)fm, out, out_size) < 0 ? -1
                                                                                            : 0;
}

/* Check the server-final-message "v=ServerSignature": this proves the server
 * knew the password verifier (RFC 5802 §3), i.e. mutual authentication. */
int scram_verify_final(struct conn *c, const char *server_final_b64)
{
    char server_final[256], v[128];
    unsigned char sig[40];
    int n = scram_b64_decode(server_final_b64, strlen(server_final_b64),
                             (unsigned char *)server_final, sizeof server_final - 1);
    if (n < 0)
        return -1;
    server_final[n] = '\0';
    if (scram_attr(server_final, 'v', v, sizeof v) < 0)
        return -1;
    int sl = scram_b64_decode(v, strlen(v), sig, sizeof sig);
    if (sl != (int)c->scram.hash_len || memcmp(sig, c->scram.server_signature, c->scram.hash_len))
        return -1;
    return 0;
}

/* upload_util.c - the pure pieces of XEP-0363 HTTP File Upload: slot ids,
 * the HMAC that signs PUT URLs, filename and content-type sanitising,
 * percent-encoding, and parsing of upload paths and queries. No I/O beyond
 * the CSPRNG; unit-tested in tests/unit/test_upload.c. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "aldis/error.h"
#include "modules/upload_internal.h"

static const char hexdigits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[in[i] >> 4];
        out[2 * i + 1] = hexdigits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* ---- signatures ----------------------------------------------------------- */

static void mac_field(EVP_MAC_CTX *ctx, const void *data, size_t len)
{
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    EVP_MAC_update(ctx, prefix, sizeof prefix);
    EVP_MAC_update(ctx, data, len);
}

/* HMAC-SHA256 (key `key`) over `n` length-prefixed fields, the first
 * naming what is signed (domain separation), in lowercase hex. */
static int mac_fields(const unsigned char *key, size_t keylen, const char *const *fields,
                      size_t n, char out[UPLOAD_SIG_HEX + 1])
{
    int rc = ALDIS_EINVAL;
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    unsigned char digest[32];
    size_t dlen = 0;
    out[0] = '\0';
    if (!key || keylen == 0)
        return ALDIS_EINVAL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!(mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(ctx = EVP_MAC_CTX_new(mac)) ||
        !EVP_MAC_init(ctx, key, keylen, params))
        goto out;
    for (size_t i = 0; i < n; i++)
        mac_field(ctx, fields[i], strlen(fields[i]));
    if (!EVP_MAC_final(ctx, digest, &dlen, sizeof digest) || dlen != sizeof digest)
        goto out;
    hex_encode(digest, sizeof digest, out);
    rc = 0;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    OPENSSL_cleanse(digest, sizeof digest);
    return rc;
}

int upload__sign(const unsigned char *key, size_t keylen, const char *id, const char *filename,
                 uint64_t size, const char *content_type, int64_t expiry,
                 char out[UPLOAD_SIG_HEX + 1])
{
    char num[2][24];
    out[0] = '\0';
    if (!id || !filename || !content_type)
        return ALDIS_EINVAL;
    snprintf(num[0], sizeof num[0], "%llu", (unsigned long long)size);
    snprintf(num[1], sizeof num[1], "%lld", (long long)expiry);
    const char *const fields[] = {"aldis-upload-1", id, filename, num[0], content_type, num[1]};
    return mac_fields(key, keylen, fields, sizeof fields / sizeof *fields, out);
}

/* A download token: "1.EXPIRY.SIG.JID", the signature over the bare JID
 * and the expiry under its own domain-separation string, so neither a PUT
 * signature nor a token can stand in for the other. */
int upload__token_make(const unsigned char *key, size_t keylen, const char *bare, int64_t expiry,
                       char *out, size_t outlen)
{
    char num[24], sig[UPLOAD_SIG_HEX + 1];
    if (!bare || !*bare || strlen(bare) > UPLOAD_TOKEN_JID_MAX || expiry <= 0)
        return ALDIS_EINVAL;
    snprintf(num, sizeof num, "%lld", (long long)expiry);
    const char *const fields[] = {"aldis-download-1", bare, num};
    int rc = mac_fields(key, keylen, fields, 3, sig);
    if (rc < 0)
        return rc;
    int n = snprintf(out, outlen, "1.%s.%s.%s", num, sig, bare);
    return n > 0 && (size_t)n < outlen ? 0 : ALDIS_ELIMIT;
}

int upload__token_check(const unsigned char *key, size_t keylen, const char *token, int64_t now,
                        char *bare, size_t barelen)
{
    char num[24], sig[UPLOAD_SIG_HEX + 1];
    bare[0] = '\0';
    if (!token || strncmp(token, "1.", 2) != 0)
        return ALDIS_EINVAL;
    const char *p = token + 2, *dot = strchr(p, '.');
    size_t dn = dot ? (size_t)(dot - p) : 0;
    if (!dot || dn == 0 || dn >= sizeof num || strspn(p, "0123456789") != dn)
        return ALDIS_EINVAL;
    memcpy(num, p, dn);
    num[dn] = '\0';
    const char *given = dot + 1;
    if (strnlen(given, UPLOAD_SIG_HEX + 1) <= UPLOAD_SIG_HEX || given[UPLOAD_SIG_HEX] != '.' ||
        !is_lower_hex(given, UPLOAD_SIG_HEX))
        return ALDIS_EINVAL;
    const char *jid = given + UPLOAD_SIG_HEX + 1;
    size_t jl = strlen(jid);
    if (jl == 0 || jl > UPLOAD_TOKEN_JID_MAX || jl >= barelen || strchr(jid, '/'))
        return ALDIS_EINVAL;
    const char *const fields[] = {"aldis-download-1", jid, num};
    if (mac_fields(key, keylen, fields, 3, sig) < 0)
        return ALDIS_EINVAL;
    char copy[UPLOAD_SIG_HEX + 1];
    memcpy(copy, given, UPLOAD_SIG_HEX);
    copy[UPLOAD_SIG_HEX] = '\0';
    if (!upload__sig_equal(copy, sig))
        return ALDIS_EAUTH;
    if (strtoll(num, NULL, 10) < now)
        return ALDIS_EEXPIRED;
    memcpy(bare, jid, jl + 1);
    return 0;
}

bool upload__sig_equal(const char *a, const char *b)
{
    if (!a || !b || strnlen(a, UPLOAD_SIG_HEX + 1) != UPLOAD_SIG_HEX ||
        strnlen(b, UPLOAD_SIG_HEX + 1) != UPLOAD_SIG_HEX)
        return false;
    return CRYPTO_memcmp(a, b, UPLOAD_SIG_HEX) == 0;
}

/* ---- ids ------------------------------------------------------------------ */

int upload__id_new(char out[UPLOAD_ID_LEN + 1])
{
    unsigned char raw[UPLOAD_ID_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return ALDIS_EIO;
    hex_encode(raw, sizeof raw, out);
    return 0;
}

bool upload__id_valid(const char *id, size_t len)
{
    return id && len == UPLOAD_ID_LEN && is_lower_hex(id, len);
}

/* ---- names ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (code point in *cp), 0 if
 * invalid: overlong forms, surrogates and values past U+10FFFF included
 * (RFC 3629 §4). */
static size_t utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2, v = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, v = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4, v = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

int upload__filename_clean(const char *in, char *out, size_t outlen)
{
    if (!in || outlen == 0)
        return ALDIS_EINVAL;
    size_t len = strlen(in);
    if (len == 0 || len > UPLOAD_FILENAME_MAX || len >= outlen || strcmp(in, ".") == 0 ||
        strcmp(in, "..") == 0)
        return ALDIS_EINVAL;
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_seq(s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == '/' ||
            cp == '\\')
            return ALDIS_EINVAL;
        /* Bidirectional embeddings, overrides and isolates make
         * "gpj.exe" display as "exe.jpg": never kept. */
        bool bidi = (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
                    cp == 0x200e || cp == 0x200f;
        if (bidi || (n == 1 && strchr("%\"<>|*:?#`", (int)cp)) || (i == 0 && cp == '.')) {
            out[o++] = '_';
        } else {
            memcpy(out + o, s + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
    return 0;
}

static bool is_token_char(int c)
{
    return isalnum(c) || (c && strchr("!#$&^_.+-", c));
}

/* in[0..len) is token SEP token with both tokens non-empty. */
static bool token_pair(const char *in, size_t len, char sep)
{
    while (len && in[0] == ' ')
        in++, len--;
    while (len && in[len - 1] == ' ')
        len--;
    const char *mid = memchr(in, sep, len);
    if (!mid || mid == in || mid == in + len - 1)
        return false;
    for (const char *c = in; c < in + len; c++)
        if (c != mid && !is_token_char((unsigned char)*c))
            return false;
    return true;
}

int upload__ctype_clean(const char *in, char *out, size_t outlen)
{
    if (outlen <= strlen(UPLOAD_DEFAULT_CTYPE))
        return ALDIS_EINVAL;
    while (in && (*in == ' ' || *in == '\t'))
        in++;
    size_t len = in ? strlen(in) : 0;
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\t'))
        len--;
    if (len == 0) {
        snprintf(out, outlen, "%s", UPLOAD_DEFAULT_CTYPE);
        return 0;
    }
    if (len > UPLOAD_CTYPE_MAX || len >= outlen)
        return ALDIS_EINVAL;
    /* type "/" subtype *( OWS ";" OWS name "=" value ), RFC 9110 §8.3.1,
     * without quoted strings; spaces only around the ';'. */
    char sep = '/';
    for (size_t start = 0; start <= len;) {
        const char *semi = memchr(in + start, ';', len - start);
        size_t end = semi ? (size_t)(semi - in) : len;
        if (!token_pair(in + start, end - start, sep))
            return ALDIS_EINVAL;
        sep = '=';
        start = end + 1;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[len] = '\0';
    return 0;
}

/* ---- URLs ----------------------------------------------------------------- */

int upload__url_encode(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *s = (const unsigned char *)in; *s; s++) {
        bool keep = isalnum(*s) || *s == '-' || *s == '.' || *s == '_' || *s == '~';
        size_t need = keep ? 1 : 3;
        if (o + need >= outlen)
            return ALDIS_ELIMIT;
        if (keep) {
            out[o++] = (char)*s;
        } else {
            out[o++] = '%';
            out[o++] = "0123456789ABCDEF"[*s >> 4];
            out[o++] = "0123456789ABCDEF"[*s & 15];
        }
    }
    if (o >= outlen)
        return ALDIS_ELIMIT;
    out[o] = '\0';
    return 0;
}

int upload__url_decode(const char *in, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return ALDIS_EINVAL; /* needs two hex digits after it */
            int h = hex_val((unsigned char)in[i + 1]), l = hex_val((unsigned char)in[i + 2]);
            if (h < 0 || l < 0)
                return ALDIS_EINVAL;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || o + 1 >= outlen)
            return ALDIS_EINVAL;
        out[o++] = (char)c;
    }
    if (o >= outlen)
        return ALDIS_EINVAL;
    out[o] = '\0';
    return 0;
}

int upload__path_parse(const char *path, struct upload_path *out)
{
    memset(out, 0, sizeof *out);
    if (!path)
        return ALDIS_EINVAL;
    while (*path == '/')
        path++;
    const char *slash = strchr(path, '/');
    if (!slash || !upload__id_valid(path, (size_t)(slash - path)))
        return ALDIS_EINVAL;
    memcpy(out->id, path, UPLOAD_ID_LEN);
    const char *name = slash + 1;
    size_t len = strnlen(name, 3 * UPLOAD_FILENAME_MAX + 1);
    if (len == 0 || len > 3 * UPLOAD_FILENAME_MAX || strchr(name, '/'))
        return ALDIS_EINVAL;
    if (upload__url_decode(name, len, out->name, sizeof out->name) < 0 ||
        strchr(out->name, '/'))
        return ALDIS_EINVAL;
    return 0;
}

/* A decimal number of at most 18 digits (no sign, no spaces). */
static int parse_decimal(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 18)
        return ALDIS_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ALDIS_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int upload__query_parse(const char *query, struct upload_query *out)
{
    memset(out, 0, sizeof *out);
    if (!query || strnlen(query, UPLOAD_QUERY_MAX + 1) > UPLOAD_QUERY_MAX)
        return ALDIS_EINVAL;
    bool have_v = false, have_e = false, have_s = false;
    /* Parameters are separated by '&'; ',' is taken too, because that is
     * how libwebsockets joins the URI arguments it parsed (lws_hdr_copy of
     * WSI_TOKEN_HTTP_URI_ARGS). Neither can occur inside a value. */
    for (const char *p = query; *p;) {
        size_t len = strcspn(p, "&,");
        const char *eq = memchr(p, '=', len);
        if (eq && eq - p == 1) {
            const char *val = eq + 1;
            size_t vlen = len - 2;
            uint64_t num;
            switch (p[0]) {
            case 'v':
                if (have_v || vlen != UPLOAD_SIG_HEX || !is_lower_hex(val, vlen))
                    return ALDIS_EINVAL;
                memcpy(out->sig, val, vlen);
                have_v = true;
                break;
            case 'e':
                if (have_e || parse_decimal(val, vlen, &num) < 0)
                    return ALDIS_EINVAL;
                out->expiry = (int64_t)num;
                have_e = true;
                break;
            case 's':
                if (have_s || parse_decimal(val, vlen, &num) < 0)
                    return ALDIS_EINVAL;
                out->size = num;
                have_s = true;
                break;
            default:
                break;
            }
        }
        p += len;
        if (*p)
            p++;
    }
    return have_v && have_e && have_s ? 0 : ALDIS_EINVAL;
}

int upload__file_path(const char *dir, const char *id, char *out, size_t outlen)
{
    if (!upload__id_valid(id, strlen(id)))
        return ALDIS_EINVAL;
    int n = snprintf(out, outlen, "%s/files/%.2s/%s", dir, id, id);
    return n > 0 && (size_t)n < outlen ? 0 : ALDIS_ELIMIT;
}

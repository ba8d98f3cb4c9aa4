/* jid.c - JID parsing and normalisation (RFC 7622 with the RFC 3920-era
 * stringprep profiles that libidn provides: Nodeprep and Resourceprep;
 * domains through IDNA2008 via libidn2, lower-cased). */
#include <arpa/inet.h>
#include <idn2.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stringprep.h>

#include "aldis/error.h"
#include "aldis/jid.h"

static int prep_with(const Stringprep_profile *profile, const char *in, char *out)
{
    size_t len = strlen(in);
    if (len == 0 || len > JID_PART_MAX)
        return ALDIS_EINVAL;
    memcpy(out, in, len + 1);
    if (stringprep(out, JID_PART_MAX + 1, 0, profile) != STRINGPREP_OK)
        return ALDIS_EINVAL;
    if (out[0] == '\0' || strlen(out) > JID_PART_MAX)
        return ALDIS_EINVAL;
    return 0;
}

/* Stringprep is the most expensive step of routing a stanza (UCS-4
 * conversion, NFKC, table lookups), and the same few localparts and
 * resources are prepared again for every stanza (the sender's, the
 * recipient's, at each hop). A per-thread direct-mapped memo of libidn's
 * answers, the failures included, makes a repeat a hash and a compare;
 * inputs or outputs longer than PREP_MEMO_LEN are not memoised. */
#define PREP_MEMO_SLOTS 256 /* per profile and thread; a power of two */
#define PREP_MEMO_LEN 63

struct prep_memo {
    unsigned char in_len; /* 0: empty slot */
    unsigned char out_len;
    signed char rc;
    char in[PREP_MEMO_LEN];
    char out[PREP_MEMO_LEN + 1];
};

static _Thread_local struct prep_memo memo_node[PREP_MEMO_SLOTS], memo_res[PREP_MEMO_SLOTS];

static int prep_memoised(struct prep_memo *memo, const Stringprep_profile *profile,
                         const char *in, char *out)
{
    size_t len = strlen(in);
    if (len == 0 || len > PREP_MEMO_LEN)
        return prep_with(profile, in, out);
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)in[i]) * 16777619u;
    struct prep_memo *m = &memo[h & (PREP_MEMO_SLOTS - 1)];
    if (m->in_len == len && memcmp(m->in, in, len) == 0) {
        if (m->rc < 0)
            return m->rc;
        memcpy(out, m->out, (size_t)m->out_len + 1);
        return 0;
    }
    int rc = prep_with(profile, in, out);
    size_t olen = rc == 0 ? strlen(out) : 0;
    if (olen <= PREP_MEMO_LEN) {
        m->in_len = (unsigned char)len;
        memcpy(m->in, in, len);
        m->rc = (signed char)rc;
        m->out_len = (unsigned char)olen;
        if (rc == 0)
            memcpy(m->out, out, olen + 1);
    }
    return rc;
}

int jid_nodeprep(const char *in, char *out)
{
    int rc = prep_memoised(memo_node, stringprep_xmpp_nodeprep, in, out);
    if (rc < 0)
        return rc;
    /* RFC 7622 §3.3.1: these are prohibited in localparts */
    if (strpbrk(out, "\"&'/:<>@"))
        return ALDIS_EINVAL;
    return 0;
}

int jid_resourceprep(const char *in, char *out)
{
    return prep_memoised(memo_res, stringprep_xmpp_resourceprep, in, out);
}

/* Non-empty labels of at most 63 letters, digits, '-' or '_' (RFC 1034
 * §3.5, with '_' tolerated as many deployments use it). */
static bool ldh_labels_ok(const char *s)
{
    size_t label = 0;
    for (; *s; s++) {
        char c = *s;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0; /* "a.." would end with an empty label */
}

int jid_domainprep(const char *in, char *out)
{
    size_t len = strlen(in);
    if (len == 0 || len > JID_PART_MAX)
        return ALDIS_EINVAL;
    /* strip one trailing dot (RFC 7622 §3.2) */
    char tmp[JID_PART_MAX + 1];
    memcpy(tmp, in, len + 1);
    if (tmp[len - 1] == '.')
        tmp[--len] = '\0';
    if (len == 0)
        return ALDIS_EINVAL;
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)tmp[i] >= 0x80)
            ascii = false;
    /* RFC 7622 §3.2.1: A-labels are converted to U-labels, so
     * "xn--exmple-cua.com" and "exämple.com" are the same domain. */
    if (ascii && strcasestr(tmp, "xn--"))
        ascii = false;
    if (ascii) {
        /* fast path: LDH labels, IPv4 literals, or [IPv6] */
        if (tmp[0] == '[') {
            if (tmp[len - 1] != ']' || len < 3 || len - 2 >= INET6_ADDRSTRLEN)
                return ALDIS_EINVAL;
            /* RFC 7622 §3.2: an IP-literal as in RFC 3986 §3.2.2 */
            char addr[INET6_ADDRSTRLEN];
            unsigned char bin[16];
            memcpy(addr, tmp + 1, len - 2);
            addr[len - 2] = '\0';
            if (inet_pton(AF_INET6, addr, bin) != 1)
                return ALDIS_EINVAL;
        } else if (!ldh_labels_ok(tmp)) {
            return ALDIS_EINVAL;
        }
        for (size_t i = 0; i <= len; i++)
            out[i] = (tmp[i] >= 'A' && tmp[i] <= 'Z') ? (char)(tmp[i] + 32) : tmp[i];
        return 0;
    }
    char *lookup = NULL;
    if (idn2_lookup_u8((const uint8_t *)tmp, (uint8_t **)&lookup, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) !=
        IDN2_OK)
        return ALDIS_EINVAL;
    /* idn2 passes ASCII labels through unchecked ("ä.a@b", "ä..com"):
     * check the whole A-label form like an ASCII domain. */
    if (!ldh_labels_ok(lookup)) {
        idn2_free(lookup);
        return ALDIS_EINVAL;
    }
    /* Keep the Unicode form: convert back from the A-label form. */
    char *unicode = NULL, *again = NULL;
    int rc = idn2_to_unicode_8z8z(lookup, &unicode, 0);
    /* An A-label given as input is only decoded, not validated: "xn--xnk"
     * decodes to U+3238, which IDNA2008 disallows. The U-labels must map
     * back to the same A-labels, which also makes preparation idempotent. */
    if (rc == IDN2_OK)
        rc = idn2_lookup_u8((const uint8_t *)unicode, (uint8_t **)&again,
                            IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK || strcasecmp(again, lookup) != 0 || strlen(unicode) > JID_PART_MAX) {
        idn2_free(lookup);
        idn2_free(again);
        idn2_free(unicode);
        return ALDIS_EINVAL;
    }
    strcpy(out, unicode);
    idn2_free(lookup);
    idn2_free(again);
    idn2_free(unicode);
    return 0;
}

int jid_from_parts(const char *local, const char *domain, const char *resource, struct jid *out)
{
    char *p = out->storage;
    out->local = out->resource = NULL;
    if (local) {
        if (jid_nodeprep(local, p) < 0)
            return ALDIS_EINVAL;
        out->local = p;
        p += strlen(p) + 1;
    }
    if (!domain || jid_domainprep(domain, p) < 0)
        return ALDIS_EINVAL;
    out->domain = p;
    p += strlen(p) + 1;
    if (resource) {
        if (jid_resourceprep(resource, p) < 0)
            return ALDIS_EINVAL;
        out->resource = p;
    }
    return 0;
}

int jid_parse(const char *s, struct jid *out)
{
    if (!s)
        return ALDIS_EINVAL;
    size_t len = strlen(s);
    if (len == 0 || len > 3 * JID_PART_MAX + 2)
        return ALDIS_EINVAL;
    char tmp[3 * (JID_PART_MAX + 1)];
    memcpy(tmp, s, len + 1);
    /* RFC 7622 §3.1: resource is everything after the first '/', the
     * localpart is before the first '@' preceding it. */
    char *slash = strchr(tmp, '/');
    char *resource = NULL;
    if (slash) {
        *slash = '\0';
        resource = slash + 1;
        if (!*resource)
            return ALDIS_EINVAL;
    }
    char *at = strchr(tmp, '@');
    char *local = NULL, *domain = tmp;
    if (at) {
        *at = '\0';
        local = tmp;
        domain = at + 1;
        if (!*local)
            return ALDIS_EINVAL;
    }
    return jid_from_parts(local, domain, resource, out);
}

/* Bytes of storage in use: up to the end of the last part. */
static size_t jid_used(const struct jid *j)
{
    const char *last = j->resource ? j->resource : j->domain;
    return (size_t)(last - j->storage) + strlen(last) + 1;
}

struct jid *jid_dup(const struct jid *src)
{
    size_t used = jid_used(src);
    struct jid *j = malloc(offsetof(struct jid, storage) + used);
    if (!j)
        return NULL;
    memcpy(j->storage, src->storage, used);
    j->local = src->local ? j->storage + (src->local - src->storage) : NULL;
    j->domain = j->storage + (src->domain - src->storage);
    j->resource = src->resource ? j->storage + (src->resource - src->storage) : NULL;
    return j;
}

void jid_copy(struct jid *dst, const struct jid *src)
{
    /* copy only what is used: src may be a compact jid_dup() copy */
    memcpy(dst->storage, src->storage, jid_used(src));
    dst->local = src->local ? dst->storage + (src->local - src->storage) : NULL;
    dst->domain = dst->storage + (src->domain - src->storage);
    dst->resource = src->resource ? dst->storage + (src->resource - src->storage) : NULL;
}

char *jid_bare(const struct jid *j, char *buf, size_t size)
{
    if (j->local)
        snprintf(buf, size, "%s@%s", j->local, j->domain);
    else
        snprintf(buf, size, "%s", j->domain);
    return buf;
}

char *jid_full(const struct jid *j, char *buf, size_t size)
{
    if (j->local && j->resource)
        snprintf(buf, size, "%s@%s/%s", j->local, j->domain, j->resource);
    else if (j->resource)
        snprintf(buf, size, "%s/%s", j->domain, j->resource);
    else
        jid_bare(j, buf, size);
    return buf;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool jid_bare_eq(const struct jid *a, const struct jid *b)
{
    return str_eq(a->local, b->local) && strcmp(a->domain, b->domain) == 0;
}

bool jid_full_eq(const struct jid *a, const struct jid *b)
{
    return jid_bare_eq(a, b) && str_eq(a->resource, b->resource);
}

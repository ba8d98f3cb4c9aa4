/* label_ess.c - ESS security labels (RFC 2634 §5.4, DER) and RFC 5755
 * clearance attributes, encoded and decoded with libtasn1 from the module in
 * label.asn (compiled into label_asn1_tab by asn1Parser at build time).
 *
 * Category values use the NATO SDN.801c / ACP 145 syntaxes, identified by
 * the SecurityCategory type OID:
 *   2.16.840.1.101.2.1.8.3.0  restrictiveBitMap      SEQUENCE {tagName, BIT STRING}
 *   2.16.840.1.101.2.1.8.3.1  enumeratedAttributes   SEQUENCE {tagName, SET OF INTEGER}
 *   2.16.840.1.101.2.1.8.3.2  permissiveBitMap       SEQUENCE {tagName, BIT STRING}
 *   2.16.840.1.101.2.1.8.3.3  informativeAttributes  SEQUENCE {tagName, FreeFormField}
 * where tagName is the SPIF securityCategoryTagSet id and bit n / integer n
 * is the tagCategory with lacv n. A clearance is read from an RFC 5755
 * Clearance or from the subjectDirectoryAttributes extension holding one. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libtasn1.h>

#include "aldis/error.h"
#include "label_internal.h"

extern const asn1_static_node label_asn1_tab[];

#define SYNTAX_ARC "2.16.840.1.101.2.1.8.3."

/* The parsed definitions: built once, then only read (asn1_create_element
 * copies from it), so every thread may use it. */
static asn1_node ess_defs;
static int ess_defs_rc;
static pthread_once_t ess_once = PTHREAD_ONCE_INIT;

static void ess_init(void)
{
    char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
    ess_defs_rc = asn1_array2tree(label_asn1_tab, &ess_defs, err);
}

static int ess_element(const char *type, asn1_node *out)
{
    pthread_once(&ess_once, ess_init);
    ALDIS_ASSERT(ess_defs_rc == ASN1_SUCCESS); /* the module is ours */
    char name[64];
    snprintf(name, sizeof name, "AldisLabels.%s", type);
    *out = NULL;
    return asn1_create_element(ess_defs, name, out) == ASN1_SUCCESS ? 0 : ALDIS_ENOMEM;
}

/* Strict DER of exactly `len` bytes into a fresh element of `type`. */
static int ess_decode(const char *type, const unsigned char *der, size_t len, asn1_node *out,
                      char *why, size_t whylen)
{
    *out = NULL;
    if (len == 0 || len > LABEL_DER_MAX_BYTES) {
        label__why(why, whylen, "%s: DER length %zu out of range", type, len);
        return ALDIS_EPROTO;
    }
    asn1_node el;
    int rc = ess_element(type, &el);
    if (rc < 0)
        return rc;
    char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
    int used = (int)len;
    int arc = asn1_der_decoding2(&el, der, &used, ASN1_DECODE_FLAG_STRICT_DER, err);
    if (arc != ASN1_SUCCESS || used != (int)len) {
        label__why(why, whylen, "%s: bad DER (%s%s%s)", type, asn1_strerror(arc),
                   *err ? ": " : "", err);
        asn1_delete_structure(&el);
        return ALDIS_EPROTO;
    }
    *out = el;
    return 0;
}

static int ess_encode(asn1_node el, unsigned char **der, size_t *len)
{
    int size = 0;
    char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
    int arc = asn1_der_coding(el, "", NULL, &size, err);
    if (arc != ASN1_MEM_ERROR || size <= 0)
        return ALDIS_EINVAL;
    unsigned char *buf = malloc((size_t)size);
    ALDIS_ASSERT(buf);
    if (asn1_der_coding(el, "", buf, &size, err) != ASN1_SUCCESS) {
        free(buf);
        return ALDIS_EINVAL;
    }
    *der = buf;
    *len = (size_t)size;
    return 0;
}

/* A non-negative INTEGER (two's complement, at most 4 value bytes). */
static int ess_read_uint(asn1_node el, const char *name, uint32_t max, uint32_t *out)
{
    unsigned char v[8];
    int len = sizeof v;
    if (asn1_read_value(el, name, v, &len) != ASN1_SUCCESS || len < 1 || len > 5)
        return ALDIS_EPROTO;
    if (v[0] & 0x80)
        return ALDIS_EPROTO;
    uint64_t x = 0;
    for (int i = 0; i < len; i++)
        x = x << 8 | v[i];
    if (x > max)
        return ALDIS_EPROTO;
    *out = (uint32_t)x;
    return 0;
}

static int ess_read_oid(asn1_node el, const char *name, char out[LABEL_OID_MAX])
{
    int len = LABEL_OID_MAX;
    if (asn1_read_value(el, name, out, &len) != ASN1_SUCCESS || !label__oid_valid(out))
        return ALDIS_EPROTO;
    return 0;
}

/* ---- categories ---- */

/* One SecurityCategory value (the ANY) decoded into cats. */
static int ess_category(const char *type_oid, const unsigned char *der, size_t len,
                        struct label_cat *cats, size_t *n, char *why, size_t whylen)
{
    size_t arclen = sizeof SYNTAX_ARC - 1;
    if (strncmp(type_oid, SYNTAX_ARC, arclen) != 0 || !type_oid[arclen] || type_oid[arclen + 1]) {
        label__why(why, whylen, "unsupported security category syntax %s", type_oid);
        return ALDIS_EPROTO;
    }
    int syntax = type_oid[arclen] - '0';
    if (syntax < LABEL_SYN_RESTRICTIVE || syntax > LABEL_SYN_INFORMATIVE) {
        label__why(why, whylen, "unsupported security category syntax %s", type_oid);
        return ALDIS_EPROTO;
    }
    const char *asn_type = syntax == LABEL_SYN_ENUMERATED    ? "EnumeratedTag"
                           : syntax == LABEL_SYN_INFORMATIVE ? "InformativeTag"
                                                             : "TagBitMap";
    asn1_node el = NULL;
    unsigned char *bits = NULL;
    char tagset[LABEL_OID_MAX];
    int rc = ess_decode(asn_type, der, len, &el, why, whylen);
    if (rc < 0)
        goto out;
    if ((rc = ess_read_oid(el, "tagName", tagset)) < 0) {
        label__why(why, whylen, "bad category tagName");
        goto out;
    }
    const char *bitfield = NULL, *listfield = NULL;
    if (syntax == LABEL_SYN_ENUMERATED) {
        listfield = "attributeList";
    } else if (syntax == LABEL_SYN_INFORMATIVE) {
        char choice[32];
        int clen = sizeof choice;
        if (asn1_read_value(el, "attributes", choice, &clen) != ASN1_SUCCESS) {
            rc = ALDIS_EPROTO;
            goto out;
        }
        bitfield = strcmp(choice, "bitSetAttributes") == 0 ? "attributes.bitSetAttributes" : NULL;
        listfield = bitfield ? NULL : "attributes.securityAttributes";
    } else {
        bitfield = "attributeFlags";
    }
    if (bitfield) {
        int nbits = 0;
        if (asn1_read_value(el, bitfield, NULL, &nbits) != ASN1_MEM_ERROR || nbits < 0 ||
            (uint32_t)nbits > LABEL_MAX_LACV + 1) {
            label__why(why, whylen, "category bit map missing or too long");
            rc = ALDIS_EPROTO;
            goto out;
        }
        bits = calloc((size_t)nbits / 8 + 1, 1);
        ALDIS_ASSERT(bits);
        int got = nbits;
        if (asn1_read_value(el, bitfield, bits, &got) != ASN1_SUCCESS) {
            rc = ALDIS_EPROTO;
            goto out;
        }
        for (int b = 0; b < got; b++) {
            if (!(bits[b / 8] & (0x80 >> (b % 8))))
                continue;
            if (*n == LABEL_MAX_CATS) {
                label__why(why, whylen, "more than %d category values", LABEL_MAX_CATS);
                rc = ALDIS_ELIMIT;
                goto out;
            }
            struct label_cat *c = &cats[(*n)++];
            memset(c, 0, sizeof *c);
            strcpy(c->tagset, tagset);
            c->syntax = (uint8_t)syntax;
            c->lacv = (uint32_t)b;
        }
    } else {
        int count = 0;
        if (asn1_number_of_elements(el, listfield, &count) != ASN1_SUCCESS)
            count = 0;
        if (count > LABEL_MAX_CATS) {
            label__why(why, whylen, "more than %d category values", LABEL_MAX_CATS);
            rc = ALDIS_ELIMIT;
            goto out;
        }
        for (int i = 1; i <= count; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s.?%d", listfield, i);
            if (*n == LABEL_MAX_CATS) {
                label__why(why, whylen, "more than %d category values", LABEL_MAX_CATS);
                rc = ALDIS_ELIMIT;
                goto out;
            }
            struct label_cat *c = &cats[*n];
            memset(c, 0, sizeof *c);
            if (ess_read_uint(el, name, LABEL_MAX_LACV, &c->lacv) < 0) {
                label__why(why, whylen, "bad category attribute");
                rc = ALDIS_EPROTO;
                goto out;
            }
            strcpy(c->tagset, tagset);
            c->syntax = (uint8_t)syntax;
            (*n)++;
        }
    }
out:
    free(bits);
    asn1_delete_structure(&el);
    return rc;
}

/* Read the SET OF SecurityCategory at `field` into cats. */
static int ess_read_categories(asn1_node el, const char *field, struct label_cat *cats, size_t *n,
                               char *why, size_t whylen)
{
    int count = 0;
    if (asn1_number_of_elements(el, field, &count) != ASN1_SUCCESS)
        return 0; /* absent */
    if (count > LABEL_MAX_CATS) {
        label__why(why, whylen, "more than %d security categories", LABEL_MAX_CATS);
        return ALDIS_ELIMIT;
    }
    unsigned char *value = malloc(LABEL_DER_MAX_BYTES);
    ALDIS_ASSERT(value);
    int rc = 0;
    for (int i = 1; i <= count && rc == 0; i++) {
        char name[96], type[LABEL_OID_MAX];
        snprintf(name, sizeof name, "%s.?%d.type", field, i);
        if (ess_read_oid(el, name, type) < 0) {
            label__why(why, whylen, "bad security category type");
            rc = ALDIS_EPROTO;
            break;
        }
        snprintf(name, sizeof name, "%s.?%d.value", field, i);
        int vlen = LABEL_DER_MAX_BYTES;
        if (asn1_read_value(el, name, value, &vlen) != ASN1_SUCCESS || vlen <= 0) {
            label__why(why, whylen, "bad security category value");
            rc = ALDIS_EPROTO;
            break;
        }
        rc = ess_category(type, value, (size_t)vlen, cats, n, why, whylen);
    }
    free(value);
    return rc;
}

/* One SecurityCategory for the cats[from, to) group (same tag set and
 * syntax), appended to the SET OF at `field`. */
static int ess_write_category(asn1_node el, const char *field, const struct label_cat *cats,
                              size_t from, size_t to)
{
    enum label_syntax syntax = cats[from].syntax;
    const char *asn_type = syntax == LABEL_SYN_ENUMERATED    ? "EnumeratedTag"
                           : syntax == LABEL_SYN_INFORMATIVE ? "InformativeTag"
                                                             : "TagBitMap";
    asn1_node tag = NULL;
    unsigned char *bits = NULL, *der = NULL;
    size_t derlen = 0;
    int rc = ess_element(asn_type, &tag);
    if (rc < 0)
        return rc;
    rc = ALDIS_EINVAL;
    if (asn1_write_value(tag, "tagName", cats[from].tagset, 1) != ASN1_SUCCESS)
        goto out;
    if (syntax == LABEL_SYN_RESTRICTIVE || syntax == LABEL_SYN_PERMISSIVE) {
        uint32_t nbits = cats[to - 1].lacv + 1; /* sorted: the last is the highest */
        bits = calloc(nbits / 8 + 1, 1);
        ALDIS_ASSERT(bits);
        for (size_t i = from; i < to; i++)
            bits[cats[i].lacv / 8] |= (unsigned char)(0x80 >> (cats[i].lacv % 8));
        if (asn1_write_value(tag, "attributeFlags", bits, (int)nbits) != ASN1_SUCCESS)
            goto out;
    } else {
        const char *list = "attributeList";
        if (syntax == LABEL_SYN_INFORMATIVE) {
            if (asn1_write_value(tag, "attributes", "securityAttributes", 1) != ASN1_SUCCESS)
                goto out;
            list = "attributes.securityAttributes";
        }
        char item[64];
        snprintf(item, sizeof item, "%s.?LAST", list);
        for (size_t i = from; i < to; i++) {
            char num[16];
            snprintf(num, sizeof num, "%u", cats[i].lacv);
            if (asn1_write_value(tag, list, "NEW", 1) != ASN1_SUCCESS ||
                asn1_write_value(tag, item, num, 0) != ASN1_SUCCESS)
                goto out;
        }
    }
    if ((rc = ess_encode(tag, &der, &derlen)) < 0)
        goto out;
    rc = ALDIS_EINVAL;
    char name[96], type[LABEL_OID_MAX];
    snprintf(type, sizeof type, SYNTAX_ARC "%d", (int)syntax);
    snprintf(name, sizeof name, "%s.?LAST.type", field);
    if (asn1_write_value(el, field, "NEW", 1) != ASN1_SUCCESS ||
        asn1_write_value(el, name, type, 1) != ASN1_SUCCESS)
        goto out;
    snprintf(name, sizeof name, "%s.?LAST.value", field);
    if (asn1_write_value(el, name, der, (int)derlen) != ASN1_SUCCESS)
        goto out;
    rc = 0;
out:
    free(bits);
    free(der);
    asn1_delete_structure(&tag);
    return rc;
}

static int ess_write_categories(asn1_node el, const char *field, const struct label_cat *cats,
                                size_t n)
{
    if (n == 0)
        return asn1_write_value(el, field, NULL, 0) == ASN1_SUCCESS ? 0 : ALDIS_EINVAL;
    for (size_t from = 0; from < n;) {
        size_t to = from + 1;
        while (to < n && cats[to].syntax == cats[from].syntax &&
               strcmp(cats[to].tagset, cats[from].tagset) == 0)
            to++;
        int rc = ess_write_category(el, field, cats, from, to);
        if (rc < 0)
            return rc;
        from = to;
    }
    return 0;
}

/* ---- labels ---- */

int label__ess_decode_raw(const unsigned char *der, size_t len, struct label **out, char *why,
                          size_t whylen)
{
    *out = NULL;
    asn1_node el = NULL;
    struct label *l = NULL;
    int rc = ess_decode("ESSSecurityLabel", der, len, &el, why, whylen);
    if (rc < 0)
        return rc;
    l = label__alloc(LABEL_MAX_CATS);
    rc = ALDIS_EPROTO;
    if (ess_read_oid(el, "security-policy-identifier", l->policy_id) < 0) {
        label__why(why, whylen, "ESS label: bad security-policy-identifier");
        goto out;
    }
    /* An ESS label without a classification cannot be compared with a
     * clearance: Aldis refuses it rather than guess. */
    if (ess_read_uint(el, "security-classification", LABEL_MAX_CLASSES - 1,
                      &l->classification) < 0) {
        label__why(why, whylen, "ESS label: missing or out-of-range security-classification");
        goto out;
    }
    char choice[32];
    int clen = sizeof choice;
    if (asn1_read_value(el, "privacy-mark", choice, &clen) == ASN1_SUCCESS) {
        char field[64], mark[LABEL_NAME_MAX];
        snprintf(field, sizeof field, "privacy-mark.%s", choice);
        int mlen = sizeof mark - 1;
        if (asn1_read_value(el, field, mark, &mlen) != ASN1_SUCCESS || mlen <= 0 ||
            !label__text_ok(mark, (size_t)mlen)) {
            label__why(why, whylen, "ESS label: bad privacy-mark");
            goto out;
        }
        mark[mlen] = '\0';
        l->privacy_mark = strdup(mark);
        ALDIS_ASSERT(l->privacy_mark);
    }
    if ((rc = ess_read_categories(el, "security-categories", l->cats, &l->ncats, why, whylen)) < 0)
        goto out;
    label__cats_normalise(l->cats, &l->ncats);
    rc = 0;
out:
    asn1_delete_structure(&el);
    if (rc < 0) {
        label_free(l);
        return rc;
    }
    *out = label__shrink(l);
    return 0;
}

int label_from_ess_der(const struct label_policy *p, const unsigned char *der, size_t len,
                       struct label **out, char *why, size_t whylen)
{
    *out = NULL;
    struct label *raw = NULL;
    int rc = label__ess_decode_raw(der, len, &raw, why, whylen);
    if (rc < 0)
        return rc;
    if (strcmp(raw->policy_id, p->id) == 0) {
        if ((rc = label__validate(p, raw, why, whylen)) < 0) {
            label_free(raw);
            return rc;
        }
        *out = raw;
        return 0;
    }
    /* A label under a policy our SPIF declares equivalent is mapped. */
    if (label__equiv_by_id(p, raw->policy_id) >= 0) {
        rc = label__map_inbound(p, raw, out, why, whylen);
    } else {
        label__why(why, whylen, "unknown security policy %s", raw->policy_id);
        rc = ALDIS_EINVAL;
    }
    label_free(raw);
    return rc;
}

int label_to_ess_der(const struct label_policy *p, const struct label *l, unsigned char **der,
                     size_t *len)
{
    *der = NULL;
    *len = 0;
    /* Our own labels are checked; a label mapped to an equivalent policy
     * is written as mapped (we do not hold that policy's SPIF). */
    if (strcmp(l->policy_id, p->id) == 0) {
        if (label__validate(p, l, NULL, 0) < 0)
            return ALDIS_EINVAL;
    } else if (label__equiv_by_id(p, l->policy_id) < 0) {
        return ALDIS_EINVAL;
    }
    asn1_node el = NULL;
    int rc = ess_element("ESSSecurityLabel", &el);
    if (rc < 0)
        return rc;
    rc = ALDIS_EINVAL;
    char num[16];
    snprintf(num, sizeof num, "%u", l->classification);
    if (asn1_write_value(el, "security-policy-identifier", l->policy_id, 1) != ASN1_SUCCESS ||
        asn1_write_value(el, "security-classification", num, 0) != ASN1_SUCCESS)
        goto out;
    if (l->privacy_mark) {
        if (asn1_write_value(el, "privacy-mark", "utf8String", 1) != ASN1_SUCCESS ||
            asn1_write_value(el, "privacy-mark.utf8String", l->privacy_mark,
                             (int)strlen(l->privacy_mark)) != ASN1_SUCCESS)
            goto out;
    } else if (asn1_write_value(el, "privacy-mark", NULL, 0) != ASN1_SUCCESS) {
        goto out;
    }
    if ((rc = ess_write_categories(el, "security-categories", l->cats, l->ncats)) < 0)
        goto out;
    rc = ess_encode(el, der, len);
out:
    asn1_delete_structure(&el);
    return rc;
}

/* ---- clearances (RFC 5755 §4.4.6) ---- */

/* The first clearance attribute value in a subjectDirectoryAttributes
 * extension value, copied out; NULL if there is none. */
static unsigned char *clearance_from_attributes(const unsigned char *der, size_t len,
                                                size_t *outlen)
{
    asn1_node el = NULL;
    unsigned char *value = NULL;
    if (ess_decode("AttributesSyntax", der, len, &el, NULL, 0) < 0)
        return NULL;
    int count = 0;
    if (asn1_number_of_elements(el, "", &count) != ASN1_SUCCESS || count > 64)
        count = 0;
    for (int i = 1; i <= count && !value; i++) {
        char name[48], type[LABEL_OID_MAX];
        snprintf(name, sizeof name, "?%d.type", i);
        if (ess_read_oid(el, name, type) < 0 ||
            (strcmp(type, "2.5.4.55") != 0 && strcmp(type, "2.5.1.5.55") != 0))
            continue;
        snprintf(name, sizeof name, "?%d.values.?1", i);
        int vlen = 0;
        if (asn1_read_value(el, name, NULL, &vlen) != ASN1_MEM_ERROR || vlen <= 0 ||
            (size_t)vlen > LABEL_DER_MAX_BYTES)
            continue;
        value = malloc((size_t)vlen);
        ALDIS_ASSERT(value);
        if (asn1_read_value(el, name, value, &vlen) != ASN1_SUCCESS) {
            free(value);
            value = NULL;
            continue;
        }
        *outlen = (size_t)vlen;
    }
    asn1_delete_structure(&el);
    return value;
}

int clearance_from_der(const struct label_policy *p, const unsigned char *der, size_t len,
                       struct clearance **out, char *why, size_t whylen)
{
    *out = NULL;
    asn1_node el = NULL;
    struct clearance *c = NULL;
    int rc = ess_decode("Clearance", der, len, &el, why, whylen);
    if (rc < 0) {
        /* the whole subjectDirectoryAttributes extension value is accepted
         * too: the clearance is taken from its clearance attribute */
        size_t vlen = 0;
        unsigned char *value = clearance_from_attributes(der, len, &vlen);
        if (!value)
            return rc;
        rc = ess_decode("Clearance", value, vlen, &el, why, whylen);
        free(value);
        if (rc < 0)
            return rc;
    }
    c = clearance__alloc(LABEL_MAX_CATS);
    rc = ALDIS_EPROTO;
    if (ess_read_oid(el, "policyId", c->policy_id) < 0) {
        label__why(why, whylen, "clearance: bad policyId");
        goto out;
    }
    if (strcmp(c->policy_id, p->id) != 0) {
        label__why(why, whylen, "clearance is under another policy (%s)", c->policy_id);
        rc = ALDIS_EINVAL;
        goto out;
    }
    unsigned char bits[LABEL_MAX_CLASSES / 8 + 1] = {0};
    int nbits = LABEL_MAX_CLASSES;
    int arc = asn1_read_value(el, "classList", bits, &nbits);
    uint64_t listed = 0;
    if (arc == ASN1_ELEMENT_NOT_FOUND) {
        listed = UINT64_C(1) << 1; /* DEFAULT {unclassified} */
    } else if (arc != ASN1_SUCCESS) {
        label__why(why, whylen, "clearance: classList longer than %d bits", LABEL_MAX_CLASSES);
        goto out;
    } else {
        for (int b = 0; b < nbits; b++)
            if (bits[b / 8] & (0x80 >> (b % 8)))
                listed |= UINT64_C(1) << b;
    }
    /* Hierarchical: a listed classification covers every lower one, as a
     * clearance does in its text form. Bits naming no classification of
     * the policy are ignored. */
    for (size_t i = 0; i < p->nclasses; i++) {
        if (!(listed & (UINT64_C(1) << p->classes[i].lacv)))
            continue;
        for (size_t k = 0; k <= i; k++)
            c->classes |= UINT64_C(1) << p->classes[k].lacv;
    }
    if (!c->classes) {
        label__why(why, whylen, "clearance lists no classification of policy %s", p->name);
        rc = ALDIS_EINVAL;
        goto out;
    }
    if ((rc = ess_read_categories(el, "securityCategories", c->cats, &c->ncats, why, whylen)) < 0)
        goto out;
    label__cats_normalise(c->cats, &c->ncats);
    for (size_t i = 0; i < c->ncats; i++) {
        const struct label_tag *t = label__tag_find(p, c->cats[i].tagset, c->cats[i].syntax);
        if (!t || !label__value_by_lacv(t, c->cats[i].lacv)) {
            label__why(why, whylen, "clearance category %s/%u is not in policy %s",
                       c->cats[i].tagset, c->cats[i].lacv, p->name);
            rc = ALDIS_EINVAL;
            goto out;
        }
    }
    rc = 0;
out:
    asn1_delete_structure(&el);
    if (rc < 0) {
        clearance_free(c);
        return rc;
    }
    *out = clearance__shrink(c);
    return 0;
}

/* The reverse, for tests and for tools that issue certificates. */
int clearance__to_der(const struct clearance *c, unsigned char **der, size_t *len)
{
    asn1_node el = NULL;
    int rc = ess_element("Clearance", &el);
    if (rc < 0)
        return rc;
    rc = ALDIS_EINVAL;
    unsigned char bits[LABEL_MAX_CLASSES / 8] = {0};
    int nbits = 0;
    for (int b = 0; b < LABEL_MAX_CLASSES; b++)
        if (c->classes & (UINT64_C(1) << b)) {
            bits[b / 8] |= (unsigned char)(0x80 >> (b % 8));
            nbits = b + 1;
        }
    if (asn1_write_value(el, "policyId", c->policy_id, 1) != ASN1_SUCCESS ||
        asn1_write_value(el, "classList", bits, nbits) != ASN1_SUCCESS)
        goto out;
    if ((rc = ess_write_categories(el, "securityCategories", c->cats, c->ncats)) < 0)
        goto out;
    rc = ess_encode(el, der, len);
out:
    asn1_delete_structure(&el);
    return rc;
}

int clearance_to_extension_der(const struct clearance *c, unsigned char **der, size_t *len)
{
    unsigned char *value = NULL;
    size_t vlen = 0;
    int rc = clearance__to_der(c, &value, &vlen);
    if (rc < 0)
        return rc;
    asn1_node el = NULL;
    if ((rc = ess_element("AttributesSyntax", &el)) < 0)
        goto out;
    rc = ALDIS_EINVAL;
    /* one attribute: id-at-clearance (RFC 5755 §4.4.6) with one value */
    if (asn1_write_value(el, "", "NEW", 1) != ASN1_SUCCESS ||
        asn1_write_value(el, "?LAST.type", "2.5.4.55", 1) != ASN1_SUCCESS ||
        asn1_write_value(el, "?LAST.values", "NEW", 1) != ASN1_SUCCESS ||
        asn1_write_value(el, "?LAST.values.?LAST", value, (int)vlen) != ASN1_SUCCESS)
        goto out;
    rc = ess_encode(el, der, len);
out:
    asn1_delete_structure(&el);
    free(value);
    return rc;
}

/* label_internal.h - the in-memory shapes of a loaded security policy, a
 * label and a clearance, shared by the files of src/labels/ only.
 *
 * A policy is built once by the SPIF loader and never changed afterwards, so
 * every worker reads it without locks. Labels and clearances name categories
 * by (tag set OID, ESS syntax, LACV) rather than by pointers into a policy:
 * that is exactly what travels in an ESS label (RFC 2634 §5.4, SDN.801c
 * category syntaxes), and it lets a label under an equivalent (foreign)
 * policy be held and mapped without that policy's SPIF. */
#ifndef ALDIS_LABEL_INTERNAL_H
#define ALDIS_LABEL_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aldis/label.h"

/* Every input limit of the labels library, in one place. */
#define LABEL_SPIF_MAX_BYTES (4u << 20) /* a SPIF file */
#define LABEL_XML_MAX_BYTES (64u << 10) /* a 4774 label or binding */
#define LABEL_DER_MAX_BYTES (16u << 10) /* an ESS label or clearance */
#define LABEL_OID_MAX 64                /* dotted OID text incl. NUL */
#define LABEL_NAME_MAX 128              /* names and marking phrases */
#define LABEL_MAX_CLASSES 64            /* classifications; lacv 0..63 */
#define LABEL_MAX_TAGS 64               /* security category tags per policy */
#define LABEL_MAX_VALUES 256            /* tag categories per tag */
#define LABEL_MAX_CATS 128              /* category values on one label */
#define LABEL_MAX_EQUIV 16              /* equivalent policies */
#define LABEL_MAX_VALUE_EQUIV 8         /* equivalents per class or value */
#define LABEL_MAX_LACV 65535u           /* tag category LACV bound */

/* How a category is encoded in an ESS label: the SDN.801c / ACP 145 syntax
 * OIDs under 2.16.840.1.101.2.1.8.3 (see label_ess.c). */
enum label_syntax {
    LABEL_SYN_RESTRICTIVE = 0, /* .0 restrictiveBitMap */
    LABEL_SYN_ENUMERATED = 1,  /* .1 enumeratedAttributes */
    LABEL_SYN_PERMISSIVE = 2,  /* .2 permissiveBitMap */
    LABEL_SYN_INFORMATIVE = 3, /* .3 informativeAttributes */
};

/* What a category means to the decision. */
enum label_semantic { LABEL_SEM_RESTRICTIVE, LABEL_SEM_PERMISSIVE, LABEL_SEM_INFORMATIVE };

/* One mapping to an equivalent policy (SPIF equivalentClassification or
 * equivalentSecCategoryTag). `equiv` indexes policy->equivs. */
struct label_equiv_ref {
    int equiv;
    uint32_t lacv;
    enum label_syntax syntax;    /* categories only */
    char tagset[LABEL_OID_MAX];  /* categories only */
    bool outbound, inbound;      /* applied: encrypt / decrypt / both */
};

struct label_class {
    char *name;
    char *marking; /* display phrase (markingData), defaults to the name */
    char *fgcolor, *bgcolor;
    uint32_t lacv;
    uint32_t hierarchy;
    size_t nequiv;
    struct label_equiv_ref equiv[LABEL_MAX_VALUE_EQUIV];
};

struct label_value {
    char *name;
    char *marking; /* defaults to the name */
    uint32_t lacv;
    /* Aldis extension: a permissive value standing for a group ("NATO"):
     * holding any member value counts as holding the group. Indexes into
     * the same tag's values. */
    size_t nmembers;
    uint16_t *members;
    size_t nequiv;
    struct label_equiv_ref equiv[LABEL_MAX_VALUE_EQUIV];
};

struct label_tag {
    char *tagset_name;
    char tagset_id[LABEL_OID_MAX];
    char *name; /* securityCategoryTag name */
    enum label_syntax syntax;
    enum label_semantic semantic;
    char *prefix, *suffix, *separator; /* marking qualifiers */
    size_t nvalues;
    struct label_value *values;
};

struct label_equiv_policy {
    char *name;
    char id[LABEL_OID_MAX];
};

struct label_policy {
    char id[LABEL_OID_MAX];
    char *name;
    size_t nclasses; /* sorted by hierarchy, lowest first */
    struct label_class *classes;
    size_t ntags;
    struct label_tag *tags;
    size_t nequivs;
    struct label_equiv_policy *equivs;
};

/* One category value on a label or in a clearance. */
struct label_cat {
    char tagset[LABEL_OID_MAX];
    uint8_t syntax; /* enum label_syntax */
    uint32_t lacv;
};

struct label {
    char policy_id[LABEL_OID_MAX];
    uint32_t classification; /* lacv */
    char *privacy_mark;      /* optional, NULL if absent */
    size_t ncats;            /* sorted, no duplicates */
    struct label_cat cats[];
};

struct clearance {
    char policy_id[LABEL_OID_MAX];
    uint64_t classes; /* bit n = classification with lacv n */
    size_t ncats;     /* sorted, no duplicates */
    struct label_cat cats[];
};

/* ---- helpers shared by the files of src/labels/ ---- */

void label__why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool label__oid_valid(const char *oid);
const struct label_class *label__class_by_lacv(const struct label_policy *p, uint32_t lacv);
const struct label_class *label__class_by_name(const struct label_policy *p, const char *name);
const struct label_tag *label__tag_find(const struct label_policy *p, const char *tagset,
                                        enum label_syntax syntax);
/* By tag name or tag set name (case-insensitive). */
const struct label_tag *label__tag_by_name(const struct label_policy *p, const char *name);
const struct label_value *label__value_by_lacv(const struct label_tag *t, uint32_t lacv);
const struct label_value *label__value_by_name(const struct label_tag *t, const char *name);
int label__equiv_by_id(const struct label_policy *p, const char *policy_id);

/* A label / clearance with room for n categories (zeroed). */
struct label *label__alloc(size_t ncats);
struct clearance *clearance__alloc(size_t ncats);
/* Give back the unused category room of one allocated with the maximum. */
struct label *label__shrink(struct label *l);
struct clearance *clearance__shrink(struct clearance *c);
/* Sort and deduplicate the categories. */
void label__cats_normalise(struct label_cat *cats, size_t *n);
/* Every part of `l` exists in `p` (policy, classification, categories). */
int label__validate(const struct label_policy *p, const struct label *l, char *why,
                    size_t whylen);

/* ESS category list (SET OF SecurityCategory) shared by labels and
 * clearances: DER of the categories, and the reverse. */
int label__ess_decode_raw(const unsigned char *der, size_t len, struct label **out, char *why,
                          size_t whylen);
/* A 4774 label; *foreign: well formed but under a policy we do not know
 * (XEP-0258 then allows an equivalent label instead). */
int label__4774_parse(const struct label_policy *p, const char *xml, size_t len,
                      struct label **out, bool *foreign, char *why, size_t whylen);

/* libxml2 parse of untrusted bytes (at most `max`): no network, no DTD, no
 * entities. NULL with `why` on failure; free with xmlFreeDoc. */
struct _xmlDoc *label__xml_read(const char *xml, size_t len, size_t max, char *why,
                                size_t whylen);

/* The RFC 5755 Clearance DER of `c` (for tests and certificate tools). */
int clearance__to_der(const struct clearance *c, unsigned char **der, size_t *len);

/* Map a label under an equivalent policy onto `p` (inbound). */
int label__map_inbound(const struct label_policy *p, const struct label *foreign,
                       struct label **out, char *why, size_t whylen);

/* UTF-8 text XML can carry: no control characters, no surrounding spaces. */
bool label__text_ok(const char *text, size_t len);

/* base64 (RFC 4648 §4); decode skips XML whitespace, rejects anything else. */
char *label__b64_encode(const unsigned char *data, size_t len);
int label__b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen);

#endif

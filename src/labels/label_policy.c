/* label_policy.c - loads an Open XML SPIF security policy (xmlspif.org
 * schema 2.x) with libxml2 into the immutable struct label_policy, and the
 * lookups and summary over it.
 *
 * What is read: securityPolicyId; securityClassifications (name, lacv,
 * hierarchy, color, markingData, equivalentClassification);
 * securityCategoryTagSets (tag set name and OID, securityCategoryTag with
 * tagType restrictive / permissive / enumerated (enumType) / tagType7 or
 * "informative", markingQualifier, tagCategory with markingData and
 * equivalentSecCategoryTag); equivalentPolicies. Everything else in the
 * schema (privacyMarks, requiredCategory, excludedCategory...) is ignored.
 * Two Aldis extension attributes in ALDIS_SPIF_EXT_NS: fgcolor on a
 * securityClassification (the SPIF `color` is the background), and members
 * on a permissive tagCategory (a group value such as NATO). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "aldis/error.h"
#include "label_internal.h"

#define SPIF_NS "http://www.xmlspif.org/spif"
#define ALDIS_SPIF_EXT_NS "urn:xmpp:aldis:spif:0"

/* ---- shared helpers ---- */

void label__why(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Dotted-decimal OID: at least two arcs, first arc 0..2, no leading zeros. */
bool label__oid_valid(const char *oid)
{
    if (!oid || !*oid || strlen(oid) >= LABEL_OID_MAX)
        return false;
    int arcs = 0;
    const char *s = oid;
    while (*s) {
        if (!isdigit((unsigned char)*s))
            return false;
        if (*s == '0' && isdigit((unsigned char)s[1]))
            return false;
        const char *start = s;
        while (isdigit((unsigned char)*s))
            s++;
        if (s - start > 9) /* arcs fit in 32 bits for our encoder */
            return false;
        if (arcs == 0 && (s - start != 1 || *start > '2'))
            return false;
        arcs++;
        if (*s == '.') {
            s++;
            if (!*s)
                return false;
        }
    }
    return arcs >= 2;
}

const struct label_class *label__class_by_lacv(const struct label_policy *p, uint32_t lacv)
{
    for (size_t i = 0; i < p->nclasses; i++)
        if (p->classes[i].lacv == lacv)
            return &p->classes[i];
    return NULL;
}

const struct label_class *label__class_by_name(const struct label_policy *p, const char *name)
{
    for (size_t i = 0; i < p->nclasses; i++)
        if (strcasecmp(p->classes[i].name, name) == 0)
            return &p->classes[i];
    return NULL;
}

const struct label_tag *label__tag_find(const struct label_policy *p, const char *tagset,
                                        enum label_syntax syntax)
{
    for (size_t i = 0; i < p->ntags; i++)
        if (p->tags[i].syntax == syntax && strcmp(p->tags[i].tagset_id, tagset) == 0)
            return &p->tags[i];
    return NULL;
}

const struct label_tag *label__tag_by_name(const struct label_policy *p, const char *name)
{
    for (size_t i = 0; i < p->ntags; i++)
        if (strcasecmp(p->tags[i].name, name) == 0)
            return &p->tags[i];
    for (size_t i = 0; i < p->ntags; i++)
        if (strcasecmp(p->tags[i].tagset_name, name) == 0)
            return &p->tags[i];
    return NULL;
}

const struct label_value *label__value_by_lacv(const struct label_tag *t, uint32_t lacv)
{
    for (size_t i = 0; i < t->nvalues; i++)
        if (t->values[i].lacv == lacv)
            return &t->values[i];
    return NULL;
}

const struct label_value *label__value_by_name(const struct label_tag *t, const char *name)
{
    for (size_t i = 0; i < t->nvalues; i++)
        if (strcasecmp(t->values[i].name, name) == 0)
            return &t->values[i];
    return NULL;
}

int label__equiv_by_id(const struct label_policy *p, const char *policy_id)
{
    for (size_t i = 0; i < p->nequivs; i++)
        if (strcmp(p->equivs[i].id, policy_id) == 0)
            return (int)i;
    return -1;
}

/* ---- the loader ---- */

struct spif_ctx {
    struct label_policy *p;
    const char *ns; /* the root's namespace href, or NULL */
    char *why;
    size_t whylen;
};

static bool spif_is(const struct spif_ctx *cx, const xmlNode *n, const char *name)
{
    if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name) != 0)
        return false;
    const char *ns = n->ns ? (const char *)n->ns->href : NULL;
    if (!cx->ns || !ns)
        return cx->ns == ns;
    return strcmp(cx->ns, ns) == 0;
}

/* A readable position for error messages: "line 12, /SPIF/a/b". */
static void spif_where(const xmlNode *n, char *out, size_t size)
{
    const char *parts[16];
    size_t np = 0;
    for (const xmlNode *c = n; c && c->type == XML_ELEMENT_NODE && np < 16; c = c->parent)
        parts[np++] = (const char *)c->name;
    int off = snprintf(out, size, "line %ld, ", xmlGetLineNo(n));
    for (size_t i = np; i > 0 && off >= 0 && (size_t)off < size; i--)
        off += snprintf(out + off, size - (size_t)off, "/%s", parts[i - 1]);
}

static int spif_fail(struct spif_ctx *cx, const xmlNode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int spif_fail(struct spif_ctx *cx, const xmlNode *n, const char *fmt, ...)
{
    char where[256], msg[256];
    spif_where(n, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    label__why(cx->why, cx->whylen, "SPIF %s: %s", where, msg);
    return ALDIS_ECONFIG;
}

/* Attribute as a malloc'd string, or NULL when absent. */
static char *spif_attr(const xmlNode *n, const char *name, const char *ns)
{
    xmlChar *v = ns ? xmlGetNsProp(n, (const xmlChar *)name, (const xmlChar *)ns)
                    : xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    ALDIS_ASSERT(s);
    return s;
}

static int spif_text_attr(struct spif_ctx *cx, const xmlNode *n, const char *name, bool required,
                          char **out)
{
    *out = spif_attr(n, name, NULL);
    if (!*out)
        return required ? spif_fail(cx, n, "missing attribute %s", name) : 0;
    size_t len = strlen(*out);
    if (len == 0 || len >= LABEL_NAME_MAX || !label__text_ok(*out, len)) {
        free(*out);
        *out = NULL;
        return spif_fail(cx, n, "attribute %s must have 1 to %d characters, without control "
                                "characters or surrounding spaces", name, LABEL_NAME_MAX - 1);
    }
    return 0;
}

static int spif_oid_attr(struct spif_ctx *cx, const xmlNode *n, const char *name, char *out)
{
    char *v = spif_attr(n, name, NULL);
    if (!v)
        return spif_fail(cx, n, "missing attribute %s", name);
    if (!label__oid_valid(v)) {
        int rc = spif_fail(cx, n, "attribute %s is not a dotted OID: '%.64s'", name, v);
        free(v);
        return rc;
    }
    strcpy(out, v);
    free(v);
    return 0;
}

static int spif_uint_attr(struct spif_ctx *cx, const xmlNode *n, const char *name, uint32_t max,
                          uint32_t *out)
{
    char *v = spif_attr(n, name, NULL);
    if (!v)
        return spif_fail(cx, n, "missing attribute %s", name);
    char *end = NULL;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    bool ok = isdigit((unsigned char)v[0]) && end && *end == '\0' && errno == 0 && x <= max;
    free(v);
    if (!ok)
        return spif_fail(cx, n, "attribute %s must be an integer 0..%u", name, max);
    *out = (uint32_t)x;
    return 0;
}

/* The display phrase: the first markingData with a phrase, preferring one
 * coded for page top/bottom (where a label's banner goes). */
static char *spif_marking(const struct spif_ctx *cx, const xmlNode *el)
{
    char *first = NULL;
    for (const xmlNode *m = el->children; m; m = m->next) {
        if (!spif_is(cx, m, "markingData"))
            continue;
        char *phrase = spif_attr(m, "phrase", NULL);
        if (!phrase || !*phrase || strlen(phrase) >= LABEL_NAME_MAX) {
            free(phrase);
            continue;
        }
        bool banner = false;
        for (const xmlNode *c = m->children; c; c = c->next) {
            if (!spif_is(cx, c, "code"))
                continue;
            xmlChar *code = xmlNodeGetContent(c);
            if (code && (strcmp((const char *)code, "pageTopBottom") == 0 ||
                         strcmp((const char *)code, "pageTop") == 0))
                banner = true;
            xmlFree(code);
        }
        if (banner) {
            free(first);
            return phrase;
        }
        if (!first)
            first = phrase;
        else
            free(phrase);
    }
    return first;
}

/* applied="encrypt|decrypt|both" (X.841 §6.2.2.6): encrypt = when
 * labelling for the other policy (outbound), decrypt = when accepting its
 * labels (inbound). */
static int spif_equiv_ref(struct spif_ctx *cx, const xmlNode *n, bool category,
                          struct label_equiv_ref *ref)
{
    memset(ref, 0, sizeof *ref);
    char *policy = spif_attr(n, "policyRef", NULL);
    if (!policy)
        return spif_fail(cx, n, "missing attribute policyRef");
    ref->equiv = -1;
    for (size_t i = 0; i < cx->p->nequivs; i++)
        if (strcmp(cx->p->equivs[i].name, policy) == 0)
            ref->equiv = (int)i;
    if (ref->equiv < 0) {
        int rc = spif_fail(cx, n, "policyRef '%.64s' names no equivalentPolicy", policy);
        free(policy);
        return rc;
    }
    free(policy);
    int rc = spif_uint_attr(cx, n, "lacv", category ? LABEL_MAX_LACV : LABEL_MAX_CLASSES - 1,
                            &ref->lacv);
    if (rc < 0)
        return rc;
    char *applied = spif_attr(n, "applied", NULL);
    if (!applied || strcmp(applied, "both") == 0) {
        ref->outbound = ref->inbound = true;
    } else if (strcmp(applied, "encrypt") == 0) {
        ref->outbound = true;
    } else if (strcmp(applied, "decrypt") == 0) {
        ref->inbound = true;
    } else {
        free(applied);
        return spif_fail(cx, n, "applied must be encrypt, decrypt or both");
    }
    free(applied);
    if (!category)
        return 0;
    if ((rc = spif_oid_attr(cx, n, "tagSetId", ref->tagset)) < 0)
        return rc;
    char *type = spif_attr(n, "tagType", NULL);
    if (!type)
        return spif_fail(cx, n, "missing attribute tagType");
    if (strcmp(type, "restrictive") == 0)
        ref->syntax = LABEL_SYN_RESTRICTIVE;
    else if (strcmp(type, "permissive") == 0)
        ref->syntax = LABEL_SYN_PERMISSIVE;
    else if (strcmp(type, "enumerated") == 0)
        ref->syntax = LABEL_SYN_ENUMERATED;
    else if (strcmp(type, "tagType7") == 0 || strcmp(type, "informative") == 0)
        ref->syntax = LABEL_SYN_INFORMATIVE;
    else
        rc = spif_fail(cx, n, "unknown tagType '%.32s'", type);
    free(type);
    return rc;
}

static int spif_classification(struct spif_ctx *cx, const xmlNode *n, struct label_class *c)
{
    int rc;
    if ((rc = spif_text_attr(cx, n, "name", true, &c->name)) < 0)
        return rc;
    if ((rc = spif_uint_attr(cx, n, "lacv", LABEL_MAX_CLASSES - 1, &c->lacv)) < 0)
        return rc;
    if ((rc = spif_uint_attr(cx, n, "hierarchy", 1000000, &c->hierarchy)) < 0)
        return rc;
    if ((rc = spif_text_attr(cx, n, "color", false, &c->bgcolor)) < 0)
        return rc;
    c->fgcolor = spif_attr(n, "fgcolor", ALDIS_SPIF_EXT_NS);
    if (c->fgcolor && (!*c->fgcolor || strlen(c->fgcolor) >= LABEL_NAME_MAX))
        return spif_fail(cx, n, "fgcolor must have 1 to %d characters", LABEL_NAME_MAX - 1);
    c->marking = spif_marking(cx, n);
    if (!c->marking)
        c->marking = strdup(c->name);
    for (const xmlNode *e = n->children; e; e = e->next) {
        if (!spif_is(cx, e, "equivalentClassification"))
            continue;
        if (c->nequiv == LABEL_MAX_VALUE_EQUIV)
            return spif_fail(cx, e, "more than %d equivalents", LABEL_MAX_VALUE_EQUIV);
        if ((rc = spif_equiv_ref(cx, e, false, &c->equiv[c->nequiv])) < 0)
            return rc;
        c->nequiv++;
    }
    return 0;
}

static int spif_value(struct spif_ctx *cx, const xmlNode *n, struct label_tag *t,
                      struct label_value *v, char **members)
{
    int rc;
    if ((rc = spif_text_attr(cx, n, "name", true, &v->name)) < 0)
        return rc;
    if ((rc = spif_uint_attr(cx, n, "lacv", LABEL_MAX_LACV, &v->lacv)) < 0)
        return rc;
    v->marking = spif_marking(cx, n);
    if (!v->marking)
        v->marking = strdup(v->name);
    *members = spif_attr(n, "members", ALDIS_SPIF_EXT_NS);
    if (*members && t->semantic != LABEL_SEM_PERMISSIVE)
        return spif_fail(cx, n, "members is only meaningful on a permissive category");
    for (const xmlNode *e = n->children; e; e = e->next) {
        if (!spif_is(cx, e, "equivalentSecCategoryTag"))
            continue;
        if (v->nequiv == LABEL_MAX_VALUE_EQUIV)
            return spif_fail(cx, e, "more than %d equivalents", LABEL_MAX_VALUE_EQUIV);
        if ((rc = spif_equiv_ref(cx, e, true, &v->equiv[v->nequiv])) < 0)
            return rc;
        v->nequiv++;
    }
    return 0;
}

/* Resolve a group's space-separated member names into value indexes. */
static int spif_members(struct spif_ctx *cx, const xmlNode *n, struct label_tag *t,
                        struct label_value *v, char *members)
{
    size_t cap = 0;
    char *save = NULL;
    for (char *tok = strtok_r(members, " \t\r\n", &save); tok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        const struct label_value *m = label__value_by_name(t, tok);
        if (!m || m == v)
            return spif_fail(cx, n, "member '%.64s' is not another value of this tag", tok);
        if (v->nmembers == cap) {
            cap = cap ? cap * 2 : 8;
            v->members = realloc(v->members, cap * sizeof *v->members);
            ALDIS_ASSERT(v->members);
        }
        v->members[v->nmembers++] = (uint16_t)(m - t->values);
    }
    return 0;
}

static int spif_tag(struct spif_ctx *cx, const xmlNode *set, const xmlNode *n, struct label_tag *t)
{
    int rc;
    char *type = NULL, *enum_type = NULL;
    if ((rc = spif_text_attr(cx, set, "name", true, &t->tagset_name)) < 0)
        goto out;
    if ((rc = spif_oid_attr(cx, set, "id", t->tagset_id)) < 0)
        goto out;
    if ((rc = spif_text_attr(cx, n, "name", false, &t->name)) < 0)
        goto out;
    if (!t->name)
        t->name = strdup(t->tagset_name);
    type = spif_attr(n, "tagType", NULL);
    if (!type) {
        rc = spif_fail(cx, n, "missing attribute tagType");
        goto out;
    }
    if (strcmp(type, "restrictive") == 0) {
        t->syntax = LABEL_SYN_RESTRICTIVE;
        t->semantic = LABEL_SEM_RESTRICTIVE;
    } else if (strcmp(type, "permissive") == 0) {
        t->syntax = LABEL_SYN_PERMISSIVE;
        t->semantic = LABEL_SEM_PERMISSIVE;
    } else if (strcmp(type, "enumerated") == 0) {
        t->syntax = LABEL_SYN_ENUMERATED;
        enum_type = spif_attr(n, "enumType", NULL);
        if (enum_type && strcmp(enum_type, "restrictive") == 0) {
            t->semantic = LABEL_SEM_RESTRICTIVE;
        } else if (enum_type && strcmp(enum_type, "permissive") == 0) {
            t->semantic = LABEL_SEM_PERMISSIVE;
        } else {
            rc = spif_fail(cx, n, "enumerated tag needs enumType restrictive or permissive");
            goto out;
        }
    } else if (strcmp(type, "tagType7") == 0 || strcmp(type, "informative") == 0) {
        t->syntax = LABEL_SYN_INFORMATIVE;
        t->semantic = LABEL_SEM_INFORMATIVE;
    } else {
        rc = spif_fail(cx, n, "unknown tagType '%.32s'", type);
        goto out;
    }
    bool dup = false;
    for (const struct label_tag *o = cx->p->tags; o < t; o++)
        dup |= o->syntax == t->syntax && strcmp(o->tagset_id, t->tagset_id) == 0;
    if (dup) {
        rc = spif_fail(cx, n, "a second %s tag in tag set %s", type, t->tagset_id);
        goto out;
    }
    t->separator = strdup(", ");
    for (const xmlNode *q = n->children; q; q = q->next) {
        if (!spif_is(cx, q, "markingQualifier"))
            continue;
        for (const xmlNode *e = q->children; e; e = e->next) {
            if (!spif_is(cx, e, "qualifier"))
                continue;
            char *text = spif_attr(e, "markingQualifier", NULL);
            char *code = spif_attr(e, "qualifierCode", NULL);
            char **slot = NULL;
            if (code && strcmp(code, "prefix") == 0)
                slot = &t->prefix;
            else if (code && strcmp(code, "suffix") == 0)
                slot = &t->suffix;
            else if (code && strcmp(code, "separator") == 0)
                slot = &t->separator;
            free(code);
            if (!slot || !text || strlen(text) >= LABEL_NAME_MAX) {
                free(text);
                rc = spif_fail(cx, e, "qualifier needs markingQualifier and qualifierCode "
                                      "prefix, suffix or separator");
                goto out;
            }
            free(*slot);
            *slot = text;
        }
    }
    size_t count = 0;
    for (const xmlNode *c = n->children; c; c = c->next)
        if (spif_is(cx, c, "tagCategory"))
            count++;
    if (count == 0 || count > LABEL_MAX_VALUES) {
        rc = spif_fail(cx, n, "a tag needs 1 to %d tagCategory elements", LABEL_MAX_VALUES);
        goto out;
    }
    t->values = calloc(count, sizeof *t->values);
    char **members = calloc(count, sizeof *members);
    ALDIS_ASSERT(t->values && members);
    for (const xmlNode *c = n->children; c && rc == 0; c = c->next) {
        if (!spif_is(cx, c, "tagCategory"))
            continue;
        struct label_value *v = &t->values[t->nvalues];
        rc = spif_value(cx, c, t, v, &members[t->nvalues]);
        t->nvalues++;
        if (rc == 0 && (label__value_by_name(t, v->name) != v || label__value_by_lacv(t, v->lacv) != v))
            rc = spif_fail(cx, c, "duplicate tagCategory name or lacv");
    }
    size_t i = 0;
    for (const xmlNode *c = n->children; c && rc == 0; c = c->next) {
        if (!spif_is(cx, c, "tagCategory"))
            continue;
        if (members[i])
            rc = spif_members(cx, c, t, &t->values[i], members[i]);
        i++;
    }
    for (size_t k = 0; k < count; k++)
        free(members[k]);
    free(members);
out:
    free(type);
    free(enum_type);
    return rc;
}

static int class_cmp(const void *a, const void *b)
{
    const struct label_class *x = a, *y = b;
    return x->hierarchy < y->hierarchy ? -1 : x->hierarchy > y->hierarchy;
}

static int spif_build(struct spif_ctx *cx, const xmlNode *root)
{
    struct label_policy *p = cx->p;
    int rc;
    const xmlNode *pid = NULL, *classes = NULL, *tagsets = NULL, *equivs = NULL;
    for (const xmlNode *c = root->children; c; c = c->next) {
        if (spif_is(cx, c, "securityPolicyId"))
            pid = c;
        else if (spif_is(cx, c, "securityClassifications"))
            classes = c;
        else if (spif_is(cx, c, "securityCategoryTagSets"))
            tagsets = c;
        else if (spif_is(cx, c, "equivalentPolicies"))
            equivs = c;
    }
    if (!pid)
        return spif_fail(cx, root, "missing securityPolicyId");
    if ((rc = spif_text_attr(cx, pid, "name", true, &p->name)) < 0)
        return rc;
    if ((rc = spif_oid_attr(cx, pid, "id", p->id)) < 0)
        return rc;

    /* Equivalent policies first: classifications and categories refer to
     * them by name. */
    if (equivs) {
        size_t n = 0;
        for (const xmlNode *c = equivs->children; c; c = c->next)
            n += spif_is(cx, c, "equivalentPolicy");
        if (n > LABEL_MAX_EQUIV)
            return spif_fail(cx, equivs, "more than %d equivalent policies", LABEL_MAX_EQUIV);
        p->equivs = calloc(n ? n : 1, sizeof *p->equivs);
        ALDIS_ASSERT(p->equivs);
        for (const xmlNode *c = equivs->children; c; c = c->next) {
            if (!spif_is(cx, c, "equivalentPolicy"))
                continue;
            struct label_equiv_policy *e = &p->equivs[p->nequivs++];
            if ((rc = spif_text_attr(cx, c, "name", true, &e->name)) < 0)
                return rc;
            if ((rc = spif_oid_attr(cx, c, "id", e->id)) < 0)
                return rc;
            if (strcmp(e->id, p->id) == 0)
                return spif_fail(cx, c, "a policy cannot be equivalent to itself");
            for (size_t k = 0; k + 1 < p->nequivs; k++)
                if (strcmp(p->equivs[k].name, e->name) == 0 || strcmp(p->equivs[k].id, e->id) == 0)
                    return spif_fail(cx, c, "duplicate equivalentPolicy");
        }
    }

    if (!classes)
        return spif_fail(cx, root, "missing securityClassifications");
    size_t n = 0;
    for (const xmlNode *c = classes->children; c; c = c->next)
        n += spif_is(cx, c, "securityClassification");
    if (n == 0 || n > LABEL_MAX_CLASSES)
        return spif_fail(cx, classes, "need 1 to %d securityClassification elements",
                         LABEL_MAX_CLASSES);
    p->classes = calloc(n, sizeof *p->classes);
    ALDIS_ASSERT(p->classes);
    for (const xmlNode *c = classes->children; c; c = c->next) {
        if (!spif_is(cx, c, "securityClassification"))
            continue;
        struct label_class *k = &p->classes[p->nclasses++];
        if ((rc = spif_classification(cx, c, k)) < 0)
            return rc;
        for (size_t j = 0; j + 1 < p->nclasses; j++)
            if (strcasecmp(p->classes[j].name, k->name) == 0 || p->classes[j].lacv == k->lacv ||
                p->classes[j].hierarchy == k->hierarchy)
                return spif_fail(cx, c, "duplicate classification name, lacv or hierarchy");
    }
    qsort(p->classes, p->nclasses, sizeof *p->classes, class_cmp);

    if (tagsets) {
        size_t ntags = 0;
        for (const xmlNode *s = tagsets->children; s; s = s->next)
            if (spif_is(cx, s, "securityCategoryTagSet"))
                for (const xmlNode *t = s->children; t; t = t->next)
                    ntags += spif_is(cx, t, "securityCategoryTag");
        if (ntags > LABEL_MAX_TAGS)
            return spif_fail(cx, tagsets, "more than %d security category tags", LABEL_MAX_TAGS);
        p->tags = calloc(ntags ? ntags : 1, sizeof *p->tags);
        ALDIS_ASSERT(p->tags);
        for (const xmlNode *s = tagsets->children; s; s = s->next) {
            if (!spif_is(cx, s, "securityCategoryTagSet"))
                continue;
            for (const xmlNode *t = s->children; t; t = t->next) {
                if (!spif_is(cx, t, "securityCategoryTag"))
                    continue;
                /* counted before being filled so a failure frees it */
                struct label_tag *tag = &p->tags[p->ntags++];
                if ((rc = spif_tag(cx, s, t, tag)) < 0)
                    return rc;
            }
        }
    }
    return 0;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void label_xml_init(void) { xmlInitParser(); }

/* Refuse a document type declaration outright: SPIFs, 4774 labels and
 * bindings never need one, and it is where entity expansion attacks live. */
static bool has_doctype(const char *xml, size_t len)
{
    static const char needle[] = "<!DOCTYPE";
    for (size_t i = 0; i + sizeof needle - 1 <= len; i++)
        if (xml[i] == '<' && memcmp(xml + i, needle, sizeof needle - 1) == 0)
            return true;
    return false;
}

/* libxml2 parse of untrusted bytes: no network, no DTD, no entities, no
 * huge-document relaxations. NULL with `why` on failure. */
xmlDoc *label__xml_read(const char *xml, size_t len, size_t max, char *why, size_t whylen)
{
    pthread_once(&xml_once, label_xml_init);
    if (len > max || len > (size_t)INT32_MAX) {
        label__why(why, whylen, "document larger than %zu bytes", max);
        return NULL;
    }
    if (has_doctype(xml, len)) {
        label__why(why, whylen, "document type declarations are refused");
        return NULL;
    }
    xmlDoc *doc = xmlReadMemory(xml, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *err = xmlGetLastError();
        label__why(why, whylen, "not well-formed XML%s%s (line %d)", err ? ": " : "",
                   err && err->message ? err->message : "", err ? err->line : 0);
        /* libxml2's message ends with a newline */
        size_t wl = why ? strnlen(why, whylen) : 0;
        for (size_t i = 0; i < wl; i++)
            if (why[i] == '\n')
                why[i] = ' ';
        return NULL;
    }
    if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
        xmlFreeDoc(doc);
        label__why(why, whylen, "document type declarations are refused");
        return NULL;
    }
    return doc;
}

int label_policy_parse(const char *xml, size_t len, struct label_policy **out, char *why,
                       size_t whylen)
{
    *out = NULL;
    char msg[256];
    xmlDoc *doc = label__xml_read(xml, len, LABEL_SPIF_MAX_BYTES, msg, sizeof msg);
    if (!doc) {
        label__why(why, whylen, "SPIF: %s", msg);
        return ALDIS_ECONFIG;
    }
    struct label_policy *p = calloc(1, sizeof *p);
    ALDIS_ASSERT(p);
    struct spif_ctx cx = {.p = p, .why = why, .whylen = whylen};
    int rc;
    xmlNode *root = xmlDocGetRootElement(doc);
    cx.ns = root->ns ? (const char *)root->ns->href : NULL;
    if (strcmp((const char *)root->name, "SPIF") != 0 || (cx.ns && strcmp(cx.ns, SPIF_NS) != 0)) {
        rc = spif_fail(&cx, root, "root element must be SPIF in namespace %s", SPIF_NS);
        goto out;
    }
    rc = spif_build(&cx, root);
out:
    xmlFreeDoc(doc);
    if (rc < 0) {
        label_policy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int label_policy_load(const char *path, struct label_policy **out, char *why, size_t whylen)
{
    *out = NULL;
    int rc = ALDIS_EIO;
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        label__why(why, whylen, "%s: %s", path, strerror(errno));
        return ALDIS_EIO;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        label__why(why, whylen, "%s: not a regular file", path);
        goto out;
    }
    if ((size_t)sb.st_size > LABEL_SPIF_MAX_BYTES) {
        label__why(why, whylen, "%s: larger than %u bytes", path, LABEL_SPIF_MAX_BYTES);
        rc = ALDIS_ELIMIT;
        goto out;
    }
    data = malloc((size_t)sb.st_size + 1);
    ALDIS_ASSERT(data);
    size_t len = fread(data, 1, (size_t)sb.st_size, f);
    if (len != (size_t)sb.st_size) {
        label__why(why, whylen, "%s: short read", path);
        goto out;
    }
    char msg[512];
    rc = label_policy_parse(data, len, out, msg, sizeof msg);
    if (rc < 0)
        label__why(why, whylen, "%s: %s", path, msg);
out:
    free(data);
    fclose(f);
    return rc;
}

void label_policy_free(struct label_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nclasses; i++) {
        free(p->classes[i].name);
        free(p->classes[i].marking);
        free(p->classes[i].fgcolor);
        free(p->classes[i].bgcolor);
    }
    free(p->classes);
    for (size_t i = 0; i < p->ntags; i++) {
        struct label_tag *t = &p->tags[i];
        free(t->tagset_name);
        free(t->name);
        free(t->prefix);
        free(t->suffix);
        free(t->separator);
        for (size_t k = 0; k < t->nvalues; k++) {
            free(t->values[k].name);
            free(t->values[k].marking);
            free(t->values[k].members);
        }
        free(t->values);
    }
    free(p->tags);
    for (size_t i = 0; i < p->nequivs; i++)
        free(p->equivs[i].name);
    free(p->equivs);
    free(p->name);
    free(p);
}

const char *label_policy_id(const struct label_policy *p) { return p->id; }
const char *label_policy_name(const struct label_policy *p) { return p->name; }
const char *label_policy_lowest(const struct label_policy *p) { return p->classes[0].name; }

static const char *semantic_name(enum label_semantic s)
{
    return s == LABEL_SEM_RESTRICTIVE ? "restrictive"
           : s == LABEL_SEM_PERMISSIVE ? "permissive"
                                       : "informative";
}

static const char *syntax_name(enum label_syntax s)
{
    switch (s) {
    case LABEL_SYN_RESTRICTIVE: return "restrictive bit map";
    case LABEL_SYN_ENUMERATED: return "enumerated attributes";
    case LABEL_SYN_PERMISSIVE: return "permissive bit map";
    default: return "informative attributes";
    }
}

void label_policy_summary(const struct label_policy *p, FILE *out)
{
    fprintf(out, "policy: %s (%s)\n", p->name, p->id);
    fprintf(out, "classifications (lowest first):\n");
    for (size_t i = 0; i < p->nclasses; i++) {
        const struct label_class *c = &p->classes[i];
        fprintf(out, "  %-16s lacv %-3u hierarchy %-4u marking \"%s\" colours %s on %s\n",
                c->name, c->lacv, c->hierarchy, c->marking, c->fgcolor ? c->fgcolor : "black",
                c->bgcolor ? c->bgcolor : "white");
        for (size_t k = 0; k < c->nequiv; k++)
            fprintf(out, "    = %s lacv %u\n", p->equivs[c->equiv[k].equiv].name,
                    c->equiv[k].lacv);
    }
    fprintf(out, "category tags:\n");
    if (p->ntags == 0)
        fprintf(out, "  (none)\n");
    for (size_t i = 0; i < p->ntags; i++) {
        const struct label_tag *t = &p->tags[i];
        fprintf(out, "  %s [%s] %s, %s:", t->name, t->tagset_id, semantic_name(t->semantic),
                syntax_name(t->syntax));
        for (size_t k = 0; k < t->nvalues; k++)
            fprintf(out, "%s %s(%u)%s", k ? "," : "", t->values[k].name, t->values[k].lacv,
                    t->values[k].nmembers ? "*" : "");
        fprintf(out, "\n");
    }
    fprintf(out, "equivalent policies:\n");
    if (p->nequivs == 0)
        fprintf(out, "  (none)\n");
    for (size_t i = 0; i < p->nequivs; i++)
        fprintf(out, "  %s (%s)\n", p->equivs[i].name, p->equivs[i].id);
}

/* label.c - label and clearance objects, their text forms, display
 * markings, and label_decide(): THE access decision of ARCHITECTURE.md §6.
 *
 * The decision is pure: it reads an immutable policy, a clearance and a
 * label, touches no global state and allocates nothing, so any worker may
 * call it at any time. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "label_internal.h"

/* ---- objects ---- */

struct label *label__alloc(size_t ncats)
{
    struct label *l = calloc(1, sizeof *l + ncats * sizeof l->cats[0]);
    ALDIS_ASSERT(l);
    return l;
}

struct clearance *clearance__alloc(size_t ncats)
{
    struct clearance *c = calloc(1, sizeof *c + ncats * sizeof c->cats[0]);
    ALDIS_ASSERT(c);
    return c;
}

struct label *label__shrink(struct label *l)
{
    struct label *small = realloc(l, sizeof *l + l->ncats * sizeof l->cats[0]);
    return small ? small : l;
}

struct clearance *clearance__shrink(struct clearance *c)
{
    struct clearance *small = realloc(c, sizeof *c + c->ncats * sizeof c->cats[0]);
    return small ? small : c;
}

static int cat_cmp(const void *a, const void *b)
{
    const struct label_cat *x = a, *y = b;
    int r = strcmp(x->tagset, y->tagset);
    if (r)
        return r;
    if (x->syntax != y->syntax)
        return x->syntax < y->syntax ? -1 : 1;
    return x->lacv < y->lacv ? -1 : x->lacv > y->lacv;
}

void label__cats_normalise(struct label_cat *cats, size_t *n)
{
    if (*n < 2)
        return;
    qsort(cats, *n, sizeof *cats, cat_cmp);
    size_t w = 1;
    for (size_t r = 1; r < *n; r++)
        if (cat_cmp(&cats[r], &cats[w - 1]) != 0)
            cats[w++] = cats[r];
    *n = w;
}

static bool cats_have(const struct label_cat *cats, size_t n, const char *tagset,
                      enum label_syntax syntax, uint32_t lacv)
{
    struct label_cat key = {.syntax = (uint8_t)syntax, .lacv = lacv};
    snprintf(key.tagset, sizeof key.tagset, "%s", tagset);
    return n && bsearch(&key, cats, n, sizeof *cats, cat_cmp) != NULL;
}

struct label *label_dup(const struct label *l)
{
    struct label *d = label__alloc(l->ncats);
    memcpy(d, l, sizeof *l + l->ncats * sizeof l->cats[0]);
    if (l->privacy_mark) {
        d->privacy_mark = strdup(l->privacy_mark);
        ALDIS_ASSERT(d->privacy_mark);
    }
    return d;
}

void label_free(struct label *l)
{
    if (!l)
        return;
    free(l->privacy_mark);
    free(l);
}

bool label_equal(const struct label *a, const struct label *b)
{
    if (strcmp(a->policy_id, b->policy_id) != 0 || a->classification != b->classification ||
        a->ncats != b->ncats)
        return false;
    if ((a->privacy_mark == NULL) != (b->privacy_mark == NULL) ||
        (a->privacy_mark && strcmp(a->privacy_mark, b->privacy_mark) != 0))
        return false;
    for (size_t i = 0; i < a->ncats; i++)
        if (cat_cmp(&a->cats[i], &b->cats[i]) != 0)
            return false;
    return true;
}

int label__validate(const struct label_policy *p, const struct label *l, char *why,
                    size_t whylen)
{
    if (strcmp(l->policy_id, p->id) != 0) {
        label__why(why, whylen, "unknown security policy %s", l->policy_id);
        return ALDIS_EINVAL;
    }
    if (!label__class_by_lacv(p, l->classification)) {
        label__why(why, whylen, "classification %u is not in policy %s", l->classification,
                   p->name);
        return ALDIS_EINVAL;
    }
    if (l->privacy_mark &&
        (strlen(l->privacy_mark) >= LABEL_NAME_MAX ||
         !label__text_ok(l->privacy_mark, strlen(l->privacy_mark)))) {
        label__why(why, whylen, "privacy mark is not plain text of at most %d bytes",
                   LABEL_NAME_MAX - 1);
        return ALDIS_EINVAL;
    }
    for (size_t i = 0; i < l->ncats; i++) {
        const struct label_tag *t = label__tag_find(p, l->cats[i].tagset, l->cats[i].syntax);
        if (!t || !label__value_by_lacv(t, l->cats[i].lacv)) {
            label__why(why, whylen, "category %s/%u is not in policy %s", l->cats[i].tagset,
                       l->cats[i].lacv, p->name);
            return ALDIS_EINVAL;
        }
    }
    return 0;
}

/* ---- making labels ---- */

int label_default(const struct label_policy *p, const char *classification, struct label **out)
{
    *out = NULL;
    const struct label_class *c = classification ? label__class_by_name(p, classification)
                                                 : &p->classes[0];
    if (!c)
        return ALDIS_ENOTFOUND;
    struct label *l = label__alloc(0);
    snprintf(l->policy_id, sizeof l->policy_id, "%s", p->id);
    l->classification = c->lacv;
    *out = l;
    return 0;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t lead = strspn(s, " \t\r\n");
    memmove(s, s + lead, n - lead + 1);
}

/* "TAG=V1,V2" -> appended to cats (bounded by max). */
static int parse_category(const struct label_policy *p, const char *text, struct label_cat *cats,
                          size_t *n, size_t max, char *why, size_t whylen)
{
    char copy[1024];
    if (strlen(text) >= sizeof copy) {
        label__why(why, whylen, "category text too long");
        return ALDIS_ELIMIT;
    }
    strcpy(copy, text);
    char *eq = strchr(copy, '=');
    if (!eq) {
        label__why(why, whylen, "category '%.64s' is not TAGSET=VALUE", text);
        return ALDIS_EINVAL;
    }
    *eq = '\0';
    trim(copy);
    const struct label_tag *t = label__tag_by_name(p, copy);
    if (!t) {
        label__why(why, whylen, "no category tag set '%.64s' in policy %s", copy, p->name);
        return ALDIS_EINVAL;
    }
    char *save = NULL;
    bool any = false;
    for (char *v = strtok_r(eq + 1, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        trim(v);
        if (!*v)
            continue;
        const struct label_value *val = label__value_by_name(t, v);
        if (!val) {
            label__why(why, whylen, "no value '%.64s' in category %s", v, t->name);
            return ALDIS_EINVAL;
        }
        if (*n == max) {
            label__why(why, whylen, "more than %zu category values", max);
            return ALDIS_ELIMIT;
        }
        struct label_cat *c = &cats[(*n)++];
        memset(c, 0, sizeof *c);
        strcpy(c->tagset, t->tagset_id);
        c->syntax = (uint8_t)t->syntax;
        c->lacv = val->lacv;
        any = true;
    }
    if (!any) {
        label__why(why, whylen, "category %s has no value", t->name);
        return ALDIS_EINVAL;
    }
    return 0;
}

int label_make(const struct label_policy *p, const char *classification,
               const char *const *categories, size_t ncategories, struct label **out,
               char *why, size_t whylen)
{
    *out = NULL;
    const struct label_class *c = classification ? label__class_by_name(p, classification) : NULL;
    if (!c) {
        label__why(why, whylen, "no classification '%.64s' in policy %s",
                   classification ? classification : "(null)", p->name);
        return ALDIS_EINVAL;
    }
    struct label *l = label__alloc(LABEL_MAX_CATS);
    snprintf(l->policy_id, sizeof l->policy_id, "%s", p->id);
    l->classification = c->lacv;
    for (size_t i = 0; i < ncategories; i++) {
        int rc = parse_category(p, categories[i], l->cats, &l->ncats, LABEL_MAX_CATS, why, whylen);
        if (rc < 0) {
            label_free(l);
            return rc;
        }
    }
    label__cats_normalise(l->cats, &l->ncats);
    *out = label__shrink(l);
    return 0;
}

const char *label_classification(const struct label_policy *p, const struct label *l)
{
    const struct label_class *c = strcmp(l->policy_id, p->id) == 0
                                      ? label__class_by_lacv(p, l->classification)
                                      : NULL;
    return c ? c->name : "(unknown)";
}

/* The marking: classification phrase, then for each tag with values on the
 * label: [prefix] v1<sep>v2 [suffix], tags in policy order. */
const char *label_marking(const struct label_policy *p, const struct label *l, char *buf,
                          size_t size, const char **fgcolor, const char **bgcolor)
{
    if (fgcolor)
        *fgcolor = NULL;
    if (bgcolor)
        *bgcolor = NULL;
    if (!size)
        return buf;
    buf[0] = '\0';
    if (label__validate(p, l, NULL, 0) < 0) {
        snprintf(buf, size, "INVALID LABEL");
        return buf;
    }
    const struct label_class *c = label__class_by_lacv(p, l->classification);
    if (fgcolor)
        *fgcolor = c->fgcolor ? c->fgcolor : (c->bgcolor ? "black" : NULL);
    if (bgcolor)
        *bgcolor = c->bgcolor;
    struct buf b;
    buf_init(&b);
    buf_adds(&b, c->marking);
    for (size_t ti = 0; ti < p->ntags; ti++) {
        const struct label_tag *t = &p->tags[ti];
        bool first = true;
        for (size_t vi = 0; vi < t->nvalues; vi++) {
            const struct label_value *v = &t->values[vi];
            if (!cats_have(l->cats, l->ncats, t->tagset_id, t->syntax, v->lacv))
                continue;
            if (first) {
                buf_addc(&b, ' ');
                if (t->prefix)
                    buf_printf(&b, "%s ", t->prefix);
            } else {
                buf_adds(&b, t->separator);
            }
            buf_adds(&b, v->marking);
            first = false;
        }
        if (!first && t->suffix)
            buf_printf(&b, " %s", t->suffix);
    }
    snprintf(buf, size, "%s", buf_cstr(&b));
    buf_free(&b);
    return buf;
}

/* ---- clearances ---- */

static uint64_t classes_upto(const struct label_policy *p, const struct label_class *top)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < p->nclasses && p->classes[i].hierarchy <= top->hierarchy; i++)
        bits |= UINT64_C(1) << p->classes[i].lacv;
    return bits;
}

int clearance_default(const struct label_policy *p, struct clearance **out)
{
    struct clearance *c = clearance__alloc(0);
    snprintf(c->policy_id, sizeof c->policy_id, "%s", p->id);
    c->classes = UINT64_C(1) << p->classes[0].lacv;
    *out = c;
    return 0;
}

int clearance_parse(const struct label_policy *p, const char *text, struct clearance **out,
                    char *why, size_t whylen)
{
    *out = NULL;
    if (!text || strlen(text) > 4096) {
        label__why(why, whylen, "clearance text missing or too long");
        return ALDIS_EINVAL;
    }
    char *copy = strdup(text);
    ALDIS_ASSERT(copy);
    struct clearance *c = clearance__alloc(LABEL_MAX_CATS);
    snprintf(c->policy_id, sizeof c->policy_id, "%s", p->id);
    int rc = 0;
    char *save = NULL;
    char *part = strtok_r(copy, ";", &save);
    if (!part) {
        label__why(why, whylen, "empty clearance");
        rc = ALDIS_EINVAL;
        goto out;
    }
    trim(part);
    const struct label_class *top = label__class_by_name(p, part);
    if (!top) {
        label__why(why, whylen, "no classification '%.64s' in policy %s", part, p->name);
        rc = ALDIS_EINVAL;
        goto out;
    }
    c->classes = classes_upto(p, top);
    while ((part = strtok_r(NULL, ";", &save))) {
        trim(part);
        if (!*part)
            continue;
        if ((rc = parse_category(p, part, c->cats, &c->ncats, LABEL_MAX_CATS, why, whylen)) < 0)
            goto out;
    }
    label__cats_normalise(c->cats, &c->ncats);
out:
    free(copy);
    if (rc < 0) {
        clearance_free(c);
        return rc;
    }
    *out = clearance__shrink(c);
    return 0;
}

int clearance_format(const struct label_policy *p, const struct clearance *c, struct buf *out)
{
    if (strcmp(c->policy_id, p->id) != 0)
        return ALDIS_EINVAL;
    const struct label_class *top = NULL;
    for (size_t i = 0; i < p->nclasses; i++)
        if (c->classes & (UINT64_C(1) << p->classes[i].lacv))
            top = &p->classes[i];
    if (!top)
        return ALDIS_EINVAL;
    buf_adds(out, top->name);
    for (size_t ti = 0; ti < p->ntags; ti++) {
        const struct label_tag *t = &p->tags[ti];
        bool first = true;
        for (size_t vi = 0; vi < t->nvalues; vi++) {
            if (!cats_have(c->cats, c->ncats, t->tagset_id, t->syntax, t->values[vi].lacv))
                continue;
            buf_printf(out, "%s%s", first ? ";" : ",", first ? t->name : "");
            if (first)
                buf_addc(out, '=');
            buf_adds(out, t->values[vi].name);
            first = false;
        }
    }
    return 0;
}

struct clearance *clearance_dup(const struct clearance *c)
{
    struct clearance *d = clearance__alloc(c->ncats);
    memcpy(d, c, sizeof *c + c->ncats * sizeof c->cats[0]);
    return d;
}

void clearance_free(struct clearance *c) { free(c); }

bool clearance_covers(const struct label_policy *p, const struct clearance *c,
                      const struct clearance *other)
{
    if (strcmp(c->policy_id, p->id) != 0 || strcmp(other->policy_id, p->id) != 0)
        return false;
    if ((other->classes & ~c->classes) != 0)
        return false;
    /* Strict: content the other entity may hold can carry any of its
     * category values, so every one of them must be held here too. */
    for (size_t i = 0; i < other->ncats; i++) {
        const struct label_cat *k = &other->cats[i];
        const struct label_tag *t = label__tag_find(p, k->tagset, k->syntax);
        if (t && t->semantic == LABEL_SEM_INFORMATIVE)
            continue;
        if (!cats_have(c->cats, c->ncats, k->tagset, k->syntax, k->lacv))
            return false;
    }
    return true;
}

/* ---- the decision ---- */

/* Does the clearance hold permissive value v of tag t, directly or through
 * any member of a group value? */
static bool holds_permissive(const struct clearance *c, const struct label_tag *t,
                             const struct label_value *v)
{
    if (cats_have(c->cats, c->ncats, t->tagset_id, t->syntax, v->lacv))
        return true;
    for (size_t m = 0; m < v->nmembers; m++)
        if (cats_have(c->cats, c->ncats, t->tagset_id, t->syntax, t->values[v->members[m]].lacv))
            return true;
    return false;
}

bool label_decide(const struct label_policy *p, const struct clearance *c, const struct label *l,
                  char *why, size_t whylen)
{
    if (!p || !l) {
        label__why(why, whylen, "no policy or no label");
        return false;
    }
    /* A missing clearance is the default one: the lowest classification. */
    struct clearance lowest = {.classes = UINT64_C(1) << p->classes[0].lacv};
    if (!c) {
        snprintf(lowest.policy_id, sizeof lowest.policy_id, "%s", p->id);
        c = &lowest;
    }
    if (label__validate(p, l, why, whylen) < 0)
        return false;
    if (strcmp(c->policy_id, p->id) != 0) {
        label__why(why, whylen, "clearance is under another policy (%s)", c->policy_id);
        return false;
    }
    const struct label_class *lc = label__class_by_lacv(p, l->classification);
    if (!(c->classes & (UINT64_C(1) << lc->lacv))) {
        label__why(why, whylen, "clearance does not cover classification %s", lc->name);
        return false;
    }
    for (size_t ti = 0; ti < p->ntags; ti++) {
        const struct label_tag *t = &p->tags[ti];
        if (t->semantic == LABEL_SEM_INFORMATIVE)
            continue;
        bool on_label = false, held = false;
        for (size_t vi = 0; vi < t->nvalues; vi++) {
            const struct label_value *v = &t->values[vi];
            if (!cats_have(l->cats, l->ncats, t->tagset_id, t->syntax, v->lacv))
                continue;
            on_label = true;
            if (t->semantic == LABEL_SEM_RESTRICTIVE) {
                if (!cats_have(c->cats, c->ncats, t->tagset_id, t->syntax, v->lacv)) {
                    label__why(why, whylen, "clearance lacks %s %s", t->name, v->name);
                    return false;
                }
            } else if (holds_permissive(c, t, v)) {
                held = true;
            }
        }
        if (t->semantic == LABEL_SEM_PERMISSIVE && on_label && !held) {
            label__why(why, whylen, "clearance holds none of the label's %s values", t->name);
            return false;
        }
    }
    return true;
}

/* ---- text ---- */

/* Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or values past
 * U+10FFFF) of characters XML 1.0 may carry, without control characters or
 * surrounding spaces: what a name or privacy mark must be to survive every
 * format (4774 trims element text) unchanged. */
bool label__text_ok(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n;
        if (s[i] < 0x80) {
            cp = s[i];
            n = 1;
        } else if ((s[i] & 0xe0) == 0xc0) {
            cp = s[i] & 0x1fu;
            n = 2;
        } else if ((s[i] & 0xf0) == 0xe0) {
            cp = s[i] & 0x0fu;
            n = 3;
        } else if ((s[i] & 0xf8) == 0xf0) {
            cp = s[i] & 0x07u;
            n = 4;
        } else {
            return false;
        }
        if (i + n > len)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 ||
            cp == 0x7f || cp == 0xfffe || cp == 0xffff)
            return false;
        i += n;
    }
    return true;
}

/* ---- base64 (RFC 4648 §4) ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *label__b64_encode(const unsigned char *data, size_t len)
{
    size_t olen = 4 * ((len + 2) / 3);
    char *out = malloc(olen + 1), *o = out;
    ALDIS_ASSERT(out);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        *o++ = b64_alphabet[(v >> 18) & 63];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

int label__b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    unsigned char *o = malloc(len / 4 * 3 + 3);
    ALDIS_ASSERT(o);
    size_t n = 0, pad = 0, q = 0;
    uint32_t acc = 0;
    bool done = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        if (done)
            goto bad;
        int v;
        if (ch == '=') {
            pad++;
            v = 0;
        } else {
            const char *at = ch ? strchr(b64_alphabet, ch) : NULL;
            if (!at || pad)
                goto bad;
            v = (int)(at - b64_alphabet);
        }
        acc = acc << 6 | (uint32_t)v;
        if (++q == 4) {
            if (pad > 2)
                goto bad;
            o[n++] = (unsigned char)(acc >> 16);
            if (pad < 2)
                o[n++] = (unsigned char)(acc >> 8);
            if (pad < 1)
                o[n++] = (unsigned char)acc;
            q = 0;
            acc = 0;
            done = pad != 0;
        }
    }
    /* nothing may follow the padding, and the input is whole quanta */
    if (q != 0)
        goto bad;
    *out = o;
    *outlen = n;
    return 0;
bad:
    free(o);
    return ALDIS_EPROTO;
}

/* label_map.c - mapping labels between a policy and the equivalent policies
 * its SPIF declares (equivalentPolicies, equivalentClassification,
 * equivalentSecCategoryTag; X.841 §6.2.2.6 "applied": encrypt = outbound,
 * decrypt = inbound).
 *
 * Mapping never widens access: a classification or restrictive category
 * without an equivalent fails the mapping; permissive values without an
 * equivalent are dropped only while at least one value of the same tag
 * survives; informative ones may be dropped. Inbound, every foreign value
 * must map, since without the foreign SPIF we cannot tell what it means. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "label_internal.h"

static const struct label_equiv_ref *find_ref(const struct label_equiv_ref *refs, size_t n,
                                              int equiv)
{
    for (size_t i = 0; i < n; i++)
        if (refs[i].equiv == equiv && refs[i].outbound)
            return &refs[i];
    return NULL;
}

int label_map_equivalent(const struct label_policy *p, const struct label *l,
                         const char *policy_id, struct label **out, char *why, size_t whylen)
{
    *out = NULL;
    int rc = label__validate(p, l, why, whylen);
    if (rc < 0)
        return rc;
    if (strcmp(policy_id, p->id) == 0) {
        *out = label_dup(l);
        return 0;
    }
    int e = label__equiv_by_id(p, policy_id);
    if (e < 0) {
        label__why(why, whylen, "policy %s is not equivalent to %s", policy_id, p->name);
        return ALDIS_ENOTFOUND;
    }
    const struct label_class *c = label__class_by_lacv(p, l->classification);
    const struct label_equiv_ref *cref = find_ref(c->equiv, c->nequiv, e);
    if (!cref) {
        label__why(why, whylen, "%s has no equivalent in %s", c->name, p->equivs[e].name);
        return ALDIS_ENOTFOUND;
    }
    struct label *m = label__alloc(LABEL_MAX_CATS);
    snprintf(m->policy_id, sizeof m->policy_id, "%s", policy_id);
    m->classification = cref->lacv;
    if (l->privacy_mark) {
        m->privacy_mark = strdup(l->privacy_mark);
        ALDIS_ASSERT(m->privacy_mark);
    }
    for (size_t ti = 0; ti < p->ntags; ti++) {
        const struct label_tag *t = &p->tags[ti];
        size_t on_label = 0, mapped = 0;
        for (size_t i = 0; i < l->ncats; i++) {
            const struct label_cat *k = &l->cats[i];
            if (k->syntax != t->syntax || strcmp(k->tagset, t->tagset_id) != 0)
                continue;
            on_label++;
            const struct label_value *v = label__value_by_lacv(t, k->lacv);
            const struct label_equiv_ref *ref = find_ref(v->equiv, v->nequiv, e);
            if (!ref) {
                if (t->semantic == LABEL_SEM_RESTRICTIVE) {
                    label__why(why, whylen, "%s %s has no equivalent in %s", t->name, v->name,
                               p->equivs[e].name);
                    rc = ALDIS_ENOTFOUND;
                    goto out;
                }
                continue;
            }
            struct label_cat *d = &m->cats[m->ncats++];
            memset(d, 0, sizeof *d);
            strcpy(d->tagset, ref->tagset);
            d->syntax = (uint8_t)ref->syntax;
            d->lacv = ref->lacv;
            mapped++;
        }
        if (t->semantic == LABEL_SEM_PERMISSIVE && on_label && !mapped) {
            label__why(why, whylen, "no %s value of the label has an equivalent in %s", t->name,
                       p->equivs[e].name);
            rc = ALDIS_ENOTFOUND;
            goto out;
        }
    }
    label__cats_normalise(m->cats, &m->ncats);
out:
    if (rc < 0) {
        label_free(m);
        return rc;
    }
    *out = label__shrink(m);
    return 0;
}

static bool ref_matches_in(const struct label_equiv_ref *r, int equiv, const struct label_cat *k)
{
    return r->equiv == equiv && r->inbound && r->lacv == k->lacv && r->syntax == k->syntax &&
           strcmp(r->tagset, k->tagset) == 0;
}

int label__map_inbound(const struct label_policy *p, const struct label *foreign,
                       struct label **out, char *why, size_t whylen)
{
    *out = NULL;
    int e = label__equiv_by_id(p, foreign->policy_id);
    if (e < 0) {
        label__why(why, whylen, "unknown security policy %s", foreign->policy_id);
        return ALDIS_EINVAL;
    }
    const struct label_class *c = NULL;
    for (size_t i = 0; i < p->nclasses && !c; i++)
        for (size_t k = 0; k < p->classes[i].nequiv; k++) {
            const struct label_equiv_ref *r = &p->classes[i].equiv[k];
            if (r->equiv == e && r->inbound && r->lacv == foreign->classification)
                c = &p->classes[i];
        }
    if (!c) {
        label__why(why, whylen, "classification %u of %s has no equivalent in %s",
                   foreign->classification, p->equivs[e].name, p->name);
        return ALDIS_EINVAL;
    }
    struct label *m = label__alloc(LABEL_MAX_CATS);
    snprintf(m->policy_id, sizeof m->policy_id, "%s", p->id);
    m->classification = c->lacv;
    if (foreign->privacy_mark) {
        m->privacy_mark = strdup(foreign->privacy_mark);
        ALDIS_ASSERT(m->privacy_mark);
    }
    for (size_t i = 0; i < foreign->ncats; i++) {
        const struct label_cat *k = &foreign->cats[i];
        bool found = false;
        for (size_t ti = 0; ti < p->ntags && !found; ti++) {
            const struct label_tag *t = &p->tags[ti];
            for (size_t vi = 0; vi < t->nvalues && !found; vi++)
                for (size_t q = 0; q < t->values[vi].nequiv && !found; q++) {
                    if (!ref_matches_in(&t->values[vi].equiv[q], e, k))
                        continue;
                    struct label_cat *d = &m->cats[m->ncats++];
                    memset(d, 0, sizeof *d);
                    strcpy(d->tagset, t->tagset_id);
                    d->syntax = (uint8_t)t->syntax;
                    d->lacv = t->values[vi].lacv;
                    found = true;
                }
        }
        if (!found) {
            label__why(why, whylen, "category %s/%u of %s has no equivalent in %s", k->tagset,
                       k->lacv, p->equivs[e].name, p->name);
            label_free(m);
            return ALDIS_EINVAL;
        }
    }
    label__cats_normalise(m->cats, &m->ncats);
    *out = label__shrink(m);
    return 0;
}

/* label_xep0258.c - XEP-0258 security labels on stanzas and XEP-0258 label
 * catalogs.
 *
 *   <securitylabel xmlns='urn:xmpp:sec-label:0'>             (XEP-0258 §3)
 *     <displaymarking fgcolor='black' bgcolor='red'>SECRET</displaymarking>
 *     <label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>BASE64 DER
 *       </esssecuritylabel></label>                 (or a 4774 ConfidentialityLabel)
 *     <equivalentlabel>...</equivalentlabel>*
 *   </securitylabel>
 *
 * The display marking a sender supplies is never trusted: the label inside
 * <label/> is what is decided on, and what we produce carries the marking
 * the policy defines for it. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "label_internal.h"

#define LABEL_CATALOG_MAX_ITEMS 128

/* Parse the single label element inside <label/> or <equivalentlabel/>.
 * *foreign: the label is well formed but under a policy we do not know
 * (only then may an equivalent label be used instead). */
static int parse_label_payload(const struct label_policy *p, const struct xml_node *holder,
                               struct label **out, bool *foreign, char *why, size_t whylen)
{
    *out = NULL;
    *foreign = false;
    const struct xml_node *el = xml_first_elem(holder);
    if (!el || xml_next(el, NULL, NULL)) {
        label__why(why, whylen, "<%s/> must hold exactly one label", holder->name);
        return ALDIS_EPROTO;
    }
    if (xml_is(el, "esssecuritylabel", LABEL_ESS_NS)) {
        const char *text = xml_text(NULL, el);
        unsigned char *der = NULL;
        size_t derlen = 0;
        int rc = label__b64_decode(text, strlen(text), &der, &derlen);
        free((char *)text);
        if (rc < 0 || derlen == 0) {
            free(der);
            label__why(why, whylen, "ESS label: bad base64");
            return ALDIS_EPROTO;
        }
        struct label *raw = NULL;
        rc = label__ess_decode_raw(der, derlen, &raw, why, whylen);
        if (rc == 0) {
            if (strcmp(raw->policy_id, p->id) != 0 && label__equiv_by_id(p, raw->policy_id) < 0) {
                *foreign = true;
                label__why(why, whylen, "unknown security policy %s", raw->policy_id);
                rc = ALDIS_EINVAL;
            } else {
                rc = label_from_ess_der(p, der, derlen, out, why, whylen);
            }
        }
        label_free(raw);
        free(der);
        return rc;
    }
    if (xml_is(el, "ConfidentialityLabel", LABEL_4774_NS)) {
        struct buf b;
        buf_init(&b);
        xml_serialize(el, NULL, &b);
        int rc = b.len > LABEL_XML_MAX_BYTES
                     ? ALDIS_ELIMIT
                     : label__4774_parse(p, buf_cstr(&b), b.len, out, foreign, why, whylen);
        if (rc == ALDIS_ELIMIT)
            label__why(why, whylen, "4774 label larger than %u bytes", LABEL_XML_MAX_BYTES);
        buf_free(&b);
        return rc;
    }
    label__why(why, whylen, "unsupported label format <%s xmlns='%s'/>", el->name, el->ns);
    return ALDIS_EPROTO;
}

int label_from_xep0258(const struct label_policy *p, const struct xml_node *securitylabel,
                       struct label **out, char *why, size_t whylen)
{
    *out = NULL;
    if (!xml_is(securitylabel, "securitylabel", LABEL_NS)) {
        label__why(why, whylen, "not a XEP-0258 securitylabel");
        return ALDIS_EPROTO;
    }
    const struct xml_node *primary = xml_child(securitylabel, "label", LABEL_NS);
    if (!primary || xml_next(primary, "label", LABEL_NS)) {
        label__why(why, whylen, "securitylabel needs exactly one <label/>");
        return ALDIS_EPROTO;
    }
    bool foreign = false;
    int rc = parse_label_payload(p, primary, out, &foreign, why, whylen);
    if (rc == 0 || !foreign)
        return rc;
    /* XEP-0258 §3: a receiver that does not understand the primary label
     * may use an equivalent one it does understand. */
    unsigned tried = 0;
    for (const struct xml_node *eq = xml_child(securitylabel, "equivalentlabel", LABEL_NS);
         eq && tried < 16; eq = xml_next(eq, "equivalentlabel", LABEL_NS), tried++) {
        bool eq_foreign;
        char eq_why[160];
        if (parse_label_payload(p, eq, out, &eq_foreign, eq_why, sizeof eq_why) == 0)
            return 0;
    }
    return rc;
}

int label_from_stanza(const struct label_policy *p, const struct xml_node *stanza,
                      struct label **out, char *why, size_t whylen)
{
    *out = NULL;
    const struct xml_node *sl = xml_child(stanza, "securitylabel", LABEL_NS);
    if (!sl)
        return 0;
    int rc = label_from_xep0258(p, sl, out, why, whylen);
    /* One contract for callers: malformed -> EPROTO, well formed but not
     * acceptable under the policy -> EINVAL. */
    if (rc < 0 && rc != ALDIS_EPROTO)
        rc = ALDIS_EINVAL;
    return rc;
}

/* The <label/> payload alone. */
static int write_payload(const struct label_policy *p, const struct label *l,
                         enum label_format fmt, struct buf *out)
{
    if (fmt == LABEL_FORMAT_4774)
        return label_to_4774(p, l, out);
    unsigned char *der = NULL;
    size_t len = 0;
    int rc = label_to_ess_der(p, l, &der, &len);
    if (rc < 0)
        return rc;
    char *b64 = label__b64_encode(der, len);
    buf_printf(out, "<esssecuritylabel xmlns='%s'>%s</esssecuritylabel>", LABEL_ESS_NS, b64);
    free(b64);
    free(der);
    return 0;
}

int label_to_xep0258(const struct label_policy *p, const struct label *l, enum label_format fmt,
                     struct buf *out)
{
    struct buf payload;
    buf_init(&payload);
    int rc = write_payload(p, l, fmt, &payload);
    if (rc < 0) {
        buf_free(&payload);
        return rc;
    }
    buf_printf(out, "<securitylabel xmlns='%s'>", LABEL_NS);
    /* A label mapped to an equivalent policy has no marking we can vouch
     * for: it goes without <displaymarking/> (optional in XEP-0258). */
    if (strcmp(l->policy_id, p->id) == 0) {
        char marking[512];
        const char *fg, *bg;
        label_marking(p, l, marking, sizeof marking, &fg, &bg);
        buf_adds(out, "<displaymarking");
        if (fg) {
            buf_adds(out, " fgcolor='");
            buf_add_xml_escaped(out, fg, strlen(fg), 1);
            buf_addc(out, '\'');
        }
        if (bg) {
            buf_adds(out, " bgcolor='");
            buf_add_xml_escaped(out, bg, strlen(bg), 1);
            buf_addc(out, '\'');
        }
        buf_addc(out, '>');
        buf_add_xml_escaped(out, marking, strlen(marking), 0);
        buf_adds(out, "</displaymarking>");
    }
    buf_adds(out, "<label>");
    buf_add(out, payload.data, payload.len);
    buf_adds(out, "</label></securitylabel>");
    buf_free(&payload);
    return 0;
}

int label_attach(const struct label_policy *p, const struct label *l, enum label_format fmt,
                 struct stanza *st, struct xml_node *parent)
{
    struct buf b;
    buf_init(&b);
    int rc = label_to_xep0258(p, l, fmt, &b);
    if (rc == 0) {
        struct stanza *tmp = stanza_parse(b.data, b.len);
        if (!tmp) {
            rc = ALDIS_EINVAL;
        } else {
            xml_copy_into(st, parent, tmp->root);
            stanza_unref(tmp);
        }
    }
    buf_free(&b);
    return rc;
}

/* ---- XEP-0258 §4 catalogs ---- */

struct catalog {
    const struct label_policy *p;
    const struct clearance *target;
    enum label_format fmt;
    const char *default_classification;
    struct buf items;
    size_t count;
    struct label *seen[LABEL_CATALOG_MAX_ITEMS];
};

/* Add `l` as an item if the target may receive it and it is new. */
static int catalog_offer(struct catalog *cat, const char *group, struct label *l, bool is_default)
{
    int rc = 0;
    if (cat->count == LABEL_CATALOG_MAX_ITEMS || !label_decide(cat->p, cat->target, l, NULL, 0))
        goto drop;
    for (size_t i = 0; i < cat->count; i++)
        if (label_equal(cat->seen[i], l))
            goto drop;
    char marking[512];
    label_marking(cat->p, l, marking, sizeof marking, NULL, NULL);
    struct buf item;
    buf_init(&item);
    buf_adds(&item, "<item selector='");
    buf_add_xml_escaped(&item, group, strlen(group), 1);
    buf_addc(&item, '|');
    buf_add_xml_escaped(&item, marking, strlen(marking), 1);
    buf_adds(&item, is_default ? "' default='true'>" : "'>");
    rc = label_to_xep0258(cat->p, l, cat->fmt, &item);
    buf_adds(&item, "</item>");
    if (rc == 0) {
        buf_add(&cat->items, item.data, item.len);
        cat->seen[cat->count++] = l;
        l = NULL;
    }
    buf_free(&item);
drop:
    label_free(l);
    return rc;
}

static struct label *catalog_label(const struct label_policy *p, const struct label_class *c,
                                   const struct label_tag *t, const uint32_t *lacvs, size_t n)
{
    struct label *l = label__alloc(n);
    snprintf(l->policy_id, sizeof l->policy_id, "%s", p->id);
    l->classification = c->lacv;
    for (size_t i = 0; i < n; i++) {
        strcpy(l->cats[i].tagset, t->tagset_id);
        l->cats[i].syntax = (uint8_t)t->syntax;
        l->cats[i].lacv = lacvs[i];
    }
    l->ncats = n;
    label__cats_normalise(l->cats, &l->ncats);
    return l;
}

int label_catalog(const struct label_policy *p, const struct clearance *target, const char *to,
                  const char *default_classification, bool restrict_, enum label_format fmt,
                  struct buf *out)
{
    struct catalog cat = {.p = p, .target = target, .fmt = fmt};
    buf_init(&cat.items);
    const struct label_class *def = default_classification
                                        ? label__class_by_name(p, default_classification)
                                        : &p->classes[0];
    int rc = 0;
    /* 1. one item per classification the target may receive */
    for (size_t ci = 0; ci < p->nclasses && rc == 0; ci++) {
        const struct label_class *c = &p->classes[ci];
        rc = catalog_offer(&cat, "Classification", catalog_label(p, c, NULL, NULL, 0), c == def);
    }
    /* 2. per classification, the category values the target holds: each
     * restrictive one, each permissive one alone, and all permissive values
     * of a tag together (the usual "REL GBR, USA" combination) */
    uint32_t *lacvs = malloc(LABEL_MAX_VALUES * sizeof *lacvs);
    ALDIS_ASSERT(lacvs);
    bool room = true;
    for (size_t ci = 0; ci < p->nclasses && rc == 0 && room; ci++) {
        const struct label_class *c = &p->classes[ci];
        for (size_t ti = 0; ti < p->ntags && rc == 0 && room; ti++) {
            const struct label_tag *t = &p->tags[ti];
            if (t->semantic == LABEL_SEM_INFORMATIVE)
                continue;
            size_t nheld = 0;
            for (size_t vi = 0; vi < t->nvalues && rc == 0 && room; vi++) {
                struct label *one = catalog_label(p, c, t, &t->values[vi].lacv, 1);
                if (!label_decide(p, target, one, NULL, 0)) {
                    label_free(one);
                    continue;
                }
                if (!t->values[vi].nmembers)
                    lacvs[nheld++] = t->values[vi].lacv;
                rc = catalog_offer(&cat, t->name, one, false);
                room = cat.count < LABEL_CATALOG_MAX_ITEMS;
            }
            if (t->semantic == LABEL_SEM_PERMISSIVE && nheld > 1 && rc == 0)
                rc = catalog_offer(&cat, t->name, catalog_label(p, c, t, lacvs, nheld), false);
        }
    }
    free(lacvs);
    if (rc == 0) {
        buf_printf(out, "<catalog xmlns='%s'", LABEL_CATALOG_NS);
        if (to) {
            buf_adds(out, " to='");
            buf_add_xml_escaped(out, to, strlen(to), 1);
            buf_addc(out, '\'');
        }
        buf_adds(out, " name='");
        buf_add_xml_escaped(out, p->name, strlen(p->name), 1);
        buf_adds(out, "' desc='");
        const char *desc = "Labels the recipient is cleared to receive";
        buf_add_xml_escaped(out, desc, strlen(desc), 1);
        buf_printf(out, "' restrict='%s' size='%zu'>", restrict_ ? "true" : "false", cat.count);
        if (cat.items.len)
            buf_add(out, cat.items.data, cat.items.len);
        buf_adds(out, "</catalog>");
    }
    for (size_t i = 0; i < cat.count; i++)
        label_free(cat.seen[i]);
    buf_free(&cat.items);
    return rc;
}

/* label_4774.c - STANAG 4774 (ADatP-4774) confidentiality metadata labels in
 * XML, parsed with libxml2 and written as text.
 *
 * The published schema is not public; the shape used here is the one NATO
 * and xmlspif.org publish in examples:
 *   <ConfidentialityLabel xmlns=LABEL_4774_NS>
 *     <ConfidentialityInformation>
 *       <PolicyIdentifier URI="urn:oid:POLICY-OID">POLICY NAME</PolicyIdentifier>
 *       <Classification>SECRET</Classification>
 *       <PrivacyMark>...</PrivacyMark>?
 *       <Category TagName="Releasable To" Type="PERMISSIVE" URI="urn:oid:TAGSET-OID">
 *         <GenericValue>GBR</GenericValue>+
 *       </Category>*
 *     </ConfidentialityInformation>
 *     <CreationDateTime>2026-01-01T00:00:00Z</CreationDateTime>?
 *   </ConfidentialityLabel>
 * Values are the SPIF names (the SPIF is the value domain, as STANAG 4774
 * intends). originatorConfidentialityLabel / alternativeConfidentialityLabel
 * (the 4778 metadata element names) are accepted as the root too. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "aldis/error.h"
#include "label_internal.h"

static bool is4774(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns &&
           strcmp((const char *)n->ns->href, LABEL_4774_NS) == 0 &&
           (!name || strcmp((const char *)n->name, name) == 0);
}

/* Element text with surrounding whitespace removed, into out (bounded). */
static int text_of(const xmlNode *n, char *out, size_t size)
{
    xmlChar *v = xmlNodeGetContent(n);
    if (!v)
        return ALDIS_EPROTO;
    const char *s = (const char *)v;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
                   s[len - 1] == '\n'))
        len--;
    int rc = (len == 0 || len >= size) ? ALDIS_EPROTO : 0;
    if (rc == 0) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    xmlFree(v);
    return rc;
}

static const char *urn_oid(const char *uri)
{
    return uri && strncmp(uri, "urn:oid:", 8) == 0 ? uri + 8 : NULL;
}

static enum label_semantic type_semantic(const char *type, bool *ok)
{
    *ok = true;
    if (type && strcmp(type, "RESTRICTIVE") == 0)
        return LABEL_SEM_RESTRICTIVE;
    if (type && strcmp(type, "PERMISSIVE") == 0)
        return LABEL_SEM_PERMISSIVE;
    if (type && strcmp(type, "INFORMATIVE") == 0)
        return LABEL_SEM_INFORMATIVE;
    *ok = false;
    return LABEL_SEM_INFORMATIVE;
}

static int parse_category(const struct label_policy *p, const xmlNode *cat, struct label *l,
                          char *why, size_t whylen)
{
    xmlChar *tagname = xmlGetNoNsProp(cat, (const xmlChar *)"TagName");
    xmlChar *type = xmlGetNoNsProp(cat, (const xmlChar *)"Type");
    xmlChar *uri = xmlGetNoNsProp(cat, (const xmlChar *)"URI");
    int rc = ALDIS_EPROTO;
    bool ok;
    enum label_semantic sem = type_semantic((const char *)type, &ok);
    if (!ok) {
        label__why(why, whylen, "4774 Category: Type must be RESTRICTIVE, PERMISSIVE or "
                                "INFORMATIVE");
        goto out;
    }
    /* The tag: by tag set OID and meaning when the URI names it, else by name. */
    const struct label_tag *t = NULL;
    const char *oid = urn_oid((const char *)uri);
    for (size_t i = 0; oid && i < p->ntags && !t; i++)
        if (strcmp(p->tags[i].tagset_id, oid) == 0 && p->tags[i].semantic == sem)
            t = &p->tags[i];
    if (!t && tagname) {
        t = label__tag_by_name(p, (const char *)tagname);
        if (t && t->semantic != sem)
            t = NULL;
    }
    if (!t) {
        label__why(why, whylen, "4774 Category '%.64s' is not in policy %s",
                   tagname ? (const char *)tagname : "?", p->name);
        rc = ALDIS_EINVAL;
        goto out;
    }
    bool any = false;
    for (const xmlNode *v = cat->children; v; v = v->next) {
        if (v->type != XML_ELEMENT_NODE)
            continue;
        if (!is4774(v, "GenericValue")) {
            label__why(why, whylen, "4774 Category: unexpected element %.32s", v->name);
            goto out;
        }
        char name[LABEL_NAME_MAX];
        if (text_of(v, name, sizeof name) < 0) {
            label__why(why, whylen, "4774 GenericValue empty or too long");
            goto out;
        }
        const struct label_value *val = label__value_by_name(t, name);
        if (!val) {
            label__why(why, whylen, "4774 value '%.64s' is not in category %s", name, t->name);
            rc = ALDIS_EINVAL;
            goto out;
        }
        if (l->ncats == LABEL_MAX_CATS) {
            label__why(why, whylen, "more than %d category values", LABEL_MAX_CATS);
            rc = ALDIS_ELIMIT;
            goto out;
        }
        struct label_cat *c = &l->cats[l->ncats++];
        memset(c, 0, sizeof *c);
        strcpy(c->tagset, t->tagset_id);
        c->syntax = (uint8_t)t->syntax;
        c->lacv = val->lacv;
        any = true;
    }
    if (!any) {
        label__why(why, whylen, "4774 Category %s without GenericValue", t->name);
        goto out;
    }
    rc = 0;
out:
    xmlFree(tagname);
    xmlFree(type);
    xmlFree(uri);
    return rc;
}

int label__4774_parse(const struct label_policy *p, const char *xml, size_t len,
                      struct label **out, bool *foreign, char *why, size_t whylen)
{
    *out = NULL;
    *foreign = false;
    char msg[200];
    xmlDoc *doc = label__xml_read(xml, len, LABEL_XML_MAX_BYTES, msg, sizeof msg);
    if (!doc) {
        label__why(why, whylen, "4774 label: %s", msg);
        return ALDIS_EPROTO;
    }
    struct label *l = label__alloc(LABEL_MAX_CATS);
    int rc = ALDIS_EPROTO;
    const xmlNode *root = xmlDocGetRootElement(doc), *info = NULL;
    if (!is4774(root, NULL) || (strcmp((const char *)root->name, "ConfidentialityLabel") != 0 &&
                                strcmp((const char *)root->name, "originatorConfidentialityLabel") != 0 &&
                                strcmp((const char *)root->name, "alternativeConfidentialityLabel") != 0)) {
        label__why(why, whylen, "4774 label: root must be ConfidentialityLabel in %s",
                   LABEL_4774_NS);
        goto out;
    }
    for (const xmlNode *c = root->children; c; c = c->next)
        if (is4774(c, "ConfidentialityInformation")) {
            if (info) {
                label__why(why, whylen, "4774 label: two ConfidentialityInformation");
                goto out;
            }
            info = c;
        }
    if (!info) {
        label__why(why, whylen, "4774 label: missing ConfidentialityInformation");
        goto out;
    }
    bool have_policy = false, have_class = false;
    for (const xmlNode *c = info->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!is4774(c, NULL)) {
            label__why(why, whylen, "4774 label: element %.32s in a foreign namespace", c->name);
            goto out;
        }
        const char *name = (const char *)c->name;
        char text[LABEL_NAME_MAX];
        if (strcmp(name, "PolicyIdentifier") == 0) {
            if (have_policy) {
                label__why(why, whylen, "4774 label: two PolicyIdentifier");
                goto out;
            }
            have_policy = true;
            xmlChar *uri = xmlGetNoNsProp(c, (const xmlChar *)"URI");
            const char *oid = urn_oid((const char *)uri);
            bool ours;
            if (oid) {
                ours = strcmp(oid, p->id) == 0;
                snprintf(l->policy_id, sizeof l->policy_id, "%s", oid);
            } else {
                ours = text_of(c, text, sizeof text) == 0 &&
                       (strcmp(text, p->name) == 0 ||
                        (urn_oid(text) && strcmp(urn_oid(text), p->id) == 0));
                snprintf(l->policy_id, sizeof l->policy_id, "%s", p->id);
            }
            xmlFree(uri);
            if (!ours) {
                *foreign = true;
                label__why(why, whylen, "4774 label: unknown security policy");
                rc = ALDIS_EINVAL;
                goto out;
            }
        } else if (strcmp(name, "Classification") == 0) {
            if (have_class || text_of(c, text, sizeof text) < 0) {
                label__why(why, whylen, "4774 label: bad or repeated Classification");
                goto out;
            }
            have_class = true;
            const struct label_class *k = label__class_by_name(p, text);
            if (!k) {
                label__why(why, whylen, "4774 classification '%.64s' is not in policy %s", text,
                           p->name);
                rc = ALDIS_EINVAL;
                goto out;
            }
            l->classification = k->lacv;
        } else if (strcmp(name, "PrivacyMark") == 0) {
            if (l->privacy_mark || text_of(c, text, sizeof text) < 0 ||
                !label__text_ok(text, strlen(text))) {
                label__why(why, whylen, "4774 label: bad or repeated PrivacyMark");
                goto out;
            }
            l->privacy_mark = strdup(text);
            ALDIS_ASSERT(l->privacy_mark);
        } else if (strcmp(name, "Category") == 0) {
            if ((rc = parse_category(p, c, l, why, whylen)) < 0)
                goto out;
            rc = ALDIS_EPROTO;
        } else {
            label__why(why, whylen, "4774 label: unexpected element %.32s", name);
            goto out;
        }
    }
    if (!have_policy || !have_class) {
        label__why(why, whylen, "4774 label: PolicyIdentifier and Classification are required");
        goto out;
    }
    label__cats_normalise(l->cats, &l->ncats);
    rc = label__validate(p, l, why, whylen);
out:
    xmlFreeDoc(doc);
    if (rc < 0) {
        label_free(l);
        return rc;
    }
    *out = label__shrink(l);
    return 0;
}

int label_from_4774(const struct label_policy *p, const char *xml, size_t len,
                    struct label **out, char *why, size_t whylen)
{
    bool foreign;
    return label__4774_parse(p, xml, len, out, &foreign, why, whylen);
}

static void add_text_el(struct buf *out, const char *name, const char *text)
{
    buf_printf(out, "<%s>", name);
    buf_add_xml_escaped(out, text, strlen(text), 0);
    buf_printf(out, "</%s>", name);
}

int label_to_4774(const struct label_policy *p, const struct label *l, struct buf *out)
{
    if (label__validate(p, l, NULL, 0) < 0)
        return ALDIS_EINVAL;
    const struct label_class *c = label__class_by_lacv(p, l->classification);
    buf_adds(out, "<ConfidentialityLabel xmlns='" LABEL_4774_NS "'>");
    buf_adds(out, "<ConfidentialityInformation>");
    buf_printf(out, "<PolicyIdentifier URI='urn:oid:%s'>", p->id);
    buf_add_xml_escaped(out, p->name, strlen(p->name), 0);
    buf_adds(out, "</PolicyIdentifier>");
    add_text_el(out, "Classification", c->name);
    if (l->privacy_mark)
        add_text_el(out, "PrivacyMark", l->privacy_mark);
    for (size_t ti = 0; ti < p->ntags; ti++) {
        const struct label_tag *t = &p->tags[ti];
        bool open = false;
        for (size_t i = 0; i < l->ncats; i++) {
            const struct label_cat *k = &l->cats[i];
            if (k->syntax != t->syntax || strcmp(k->tagset, t->tagset_id) != 0)
                continue;
            if (!open) {
                buf_adds(out, "<Category TagName='");
                buf_add_xml_escaped(out, t->name, strlen(t->name), 1);
                buf_printf(out, "' Type='%s' URI='urn:oid:%s'>",
                           t->semantic == LABEL_SEM_RESTRICTIVE  ? "RESTRICTIVE"
                           : t->semantic == LABEL_SEM_PERMISSIVE ? "PERMISSIVE"
                                                                 : "INFORMATIVE",
                           t->tagset_id);
                open = true;
            }
            add_text_el(out, "GenericValue", label__value_by_lacv(t, k->lacv)->name);
        }
        if (open)
            buf_adds(out, "</Category>");
    }
    buf_adds(out, "</ConfidentialityInformation>");
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    add_text_el(out, "CreationDateTime", stamp);
    buf_adds(out, "</ConfidentialityLabel>");
    return 0;
}

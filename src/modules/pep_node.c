/* pep_node.c - the XEP-0060 node engine shared by PEP (XEP-0163, one
 * service per account) and the PubSub service (mod_pubsub.c): nodes in
 * memory, their configuration (the pubsub#node_config fields, as a form
 * and as stored text), affiliations and subscriptions (service nodes),
 * items (oldest first, trimmed to max_items), payload checks, items
 * results and event notifications, loading nodes from the store and
 * writing changes through to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store_pubsub.h"
#include "modules/pep.h"
#include "core/security.h"

/* ---- configuration -------------------------------------------------------- */

static const char *const access_names[] = {"open", "presence", "roster", "whitelist",
                                           "authorize"};
#define NACCESS (sizeof access_names / sizeof access_names[0])
static const char *const send_last_names[] = {"never", "on_sub", "on_sub_and_presence"};
static const char *const publish_model_names[] = {"publishers", "subscribers", "open"};

/* XEP-0163 §5 "Recommended Defaults" and XEP-0060 §16.4.4. */
void pep_config_default(struct pep_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->access = PEP_ACCESS_PRESENCE;
    cfg->max_items = 1;
    cfg->persist_items = true;
    cfg->send_last = PEP_SEND_ON_SUB_AND_PRESENCE;
    cfg->notify_retract = true;
    cfg->notify_delete = true;
    cfg->deliver_payloads = true;
    cfg->deliver_notifications = true;
}

static void groups_clear(struct pep_config *cfg)
{
    for (size_t i = 0; i < cfg->ngroups; i++)
        free(cfg->groups[i]);
    free(cfg->groups);
    cfg->groups = NULL;
    cfg->ngroups = 0;
}

void pep_config_clear(struct pep_config *cfg)
{
    free(cfg->title);
    cfg->title = NULL;
    groups_clear(cfg);
}

int pep_config_copy(struct pep_config *dst, const struct pep_config *src)
{
    *dst = *src;
    dst->title = src->title ? aldis_strdup(src->title) : NULL;
    dst->groups = NULL;
    dst->ngroups = 0;
    if (src->ngroups) {
        dst->groups = calloc(src->ngroups, sizeof *dst->groups);
        ALDIS_ASSERT(dst->groups != NULL);
        for (size_t i = 0; i < src->ngroups; i++)
            dst->groups[i] = aldis_strdup(src->groups[i]);
        dst->ngroups = src->ngroups;
    }
    return 0;
}

long pep_config_max(const struct pep_config *cfg)
{
    if (cfg->max_items < 0 || cfg->max_items > pep_opt_max_items)
        return pep_opt_max_items;
    return cfg->max_items > 0 ? cfg->max_items : 1;
}

/* XEP-0004 §3.3 boolean: "0"/"false" or "1"/"true". */
static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        *out = true;
    else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        *out = false;
    else
        return ALDIS_EINVAL;
    return 0;
}

static int parse_enum(const char *v, const char *const *names, size_t n, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    return ALDIS_EINVAL;
}

/* "max" (XEP-0060 §7.1.5 / XEP-0402) or a positive integer. */
static int parse_max(const char *v, long *out)
{
    if (strcmp(v, "max") == 0) {
        *out = -1;
        return 0;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 1)
        return ALDIS_EINVAL;
    if (n > pep_opt_max_items)
        return ALDIS_ELIMIT;
    *out = n;
    return 0;
}

/* The boolean fields, by offset, so set/match/form/serialise share one
 * table. */
struct bool_field {
    const char *var;
    size_t offset;
};
static const struct bool_field bool_fields[] = {
    {"pubsub#persist_items", offsetof(struct pep_config, persist_items)},
    {"pubsub#notify_retract", offsetof(struct pep_config, notify_retract)},
    {"pubsub#notify_delete", offsetof(struct pep_config, notify_delete)},
    {"pubsub#deliver_payloads", offsetof(struct pep_config, deliver_payloads)},
    {"pubsub#deliver_notifications", offsetof(struct pep_config, deliver_notifications)},
};
#define NBOOL (sizeof bool_fields / sizeof bool_fields[0])

static bool *bool_at(struct pep_config *cfg, size_t i)
{
    return (bool *)((char *)cfg + bool_fields[i].offset);
}

int pep_config_set(struct pep_config *cfg, const char *var, const char *const *values,
                   size_t nvalues)
{
    const char *v = nvalues ? values[0] : "";
    int e;
    for (size_t i = 0; i < NBOOL; i++)
        if (strcmp(var, bool_fields[i].var) == 0)
            return parse_bool(v, bool_at(cfg, i));
    if (strcmp(var, "pubsub#access_model") == 0) {
        int a;
        if ((e = parse_enum(v, access_names, NACCESS, &a)) == 0)
            cfg->access = (enum pep_access)a;
        return e;
    }
    if (strcmp(var, "pubsub#send_last_published_item") == 0) {
        int s;
        if ((e = parse_enum(v, send_last_names, 3, &s)) == 0)
            cfg->send_last = (enum pep_send_last)s;
        return e;
    }
    if (strcmp(var, "pubsub#max_items") == 0)
        return parse_max(v, &cfg->max_items);
    if (strcmp(var, "pubsub#notification_type") == 0) {
        if (strcmp(v, "headline") != 0 && strcmp(v, "normal") != 0)
            return ALDIS_EINVAL;
        cfg->notification_normal = strcmp(v, "normal") == 0;
        return 0;
    }
    if (strcmp(var, "pubsub#publish_model") == 0) {
        /* PEP refuses all but "publishers" itself (XEP-0163 §2.2). */
        int m;
        if ((e = parse_enum(v, publish_model_names, 3, &m)) == 0)
            cfg->publish_model = (enum pep_publish_model)m;
        return e;
    }
    if (strcmp(var, "pubsub#title") == 0) {
        if (strlen(v) > 1024)
            return ALDIS_EINVAL;
        free(cfg->title);
        cfg->title = *v ? aldis_strdup(v) : NULL;
        return 0;
    }
    if (strcmp(var, "pubsub#roster_groups_allowed") == 0) {
        if (nvalues > 256)
            return ALDIS_EINVAL;
        groups_clear(cfg);
        if (nvalues) {
            cfg->groups = calloc(nvalues, sizeof *cfg->groups);
            ALDIS_ASSERT(cfg->groups != NULL);
            for (size_t i = 0; i < nvalues; i++)
                cfg->groups[i] = aldis_strdup(values[i]);
            cfg->ngroups = nvalues;
        }
        return 0;
    }
    return ALDIS_ENOTFOUND;
}

bool pep_config_matches(const struct pep_config *cfg, const char *var,
                        const char *const *values, size_t nvalues)
{
    /* Parse the wanted value into a copy and compare the one field: that
     * makes "1" match true and "max" match -1 without a second parser. */
    struct pep_config want;
    pep_config_copy(&want, cfg);
    bool same = false;
    if (pep_config_set(&want, var, values, nvalues) == 0) {
        same = want.access == cfg->access && want.max_items == cfg->max_items &&
               want.send_last == cfg->send_last &&
               want.notification_normal == cfg->notification_normal &&
               want.publish_model == cfg->publish_model;
        for (size_t i = 0; same && i < NBOOL; i++)
            same = *bool_at(&want, i) == *bool_at((struct pep_config *)cfg, i);
        if (same && strcmp(var, "pubsub#title") == 0)
            same = (!want.title && !cfg->title) ||
                   (want.title && cfg->title && strcmp(want.title, cfg->title) == 0);
        if (same && strcmp(var, "pubsub#roster_groups_allowed") == 0) {
            same = want.ngroups == cfg->ngroups;
            for (size_t i = 0; same && i < want.ngroups; i++)
                same = strcmp(want.groups[i], cfg->groups[i]) == 0;
        }
    }
    pep_config_clear(&want);
    return same;
}

/* The values of a data form field, at most `max`. */
static size_t field_values(struct stanza *scratch, const struct xml_node *field,
                           const char **values, size_t max)
{
    size_t n = 0;
    for (struct xml_node *v = xml_child(field, "value", NS_DATA); v && n < max;
         v = xml_next(v, "value", NS_DATA))
        values[n++] = xml_text(scratch, v);
    return n;
}

#define FORM_MAX_VALUES 256

/* Walk a form's fields: fn gets each one but FORM_TYPE, which must be
 * `form_type` when present. Stops at the first non-zero return. */
static int form_each(const struct xml_node *x, const char *form_type,
                     int (*fn)(void *ud, const char *var, const char *const *values, size_t n),
                     void *ud, const char **bad_var)
{
    struct stanza *scratch = stanza_new("scratch", NULL);
    const char *values[FORM_MAX_VALUES];
    int rc = 0;
    for (struct xml_node *f = xml_child(x, "field", NS_DATA); f; f = xml_next(f, "field", NS_DATA)) {
        const char *var = xml_attr(f, "var");
        if (!var)
            continue;
        size_t n = field_values(scratch, f, values, FORM_MAX_VALUES);
        if (strcmp(var, "FORM_TYPE") == 0) {
            if (form_type && (n != 1 || strcmp(values[0], form_type) != 0)) {
                *bad_var = var;
                rc = ALDIS_EINVAL;
                break;
            }
            continue;
        }
        if ((rc = fn(ud, var, values, n)) != 0) {
            *bad_var = var;
            break;
        }
    }
    stanza_unref(scratch);
    return rc;
}

static int apply_one(void *ud, const char *var, const char *const *values, size_t n)
{
    return pep_config_set(ud, var, values, n);
}

int pep_config_apply_form(struct pep_config *cfg, const struct xml_node *x,
                          const char *form_type, const char **bad_var)
{
    return form_each(x, form_type, apply_one, cfg, bad_var);
}

static int match_one(void *ud, const char *var, const char *const *values, size_t n)
{
    return pep_config_matches(ud, var, values, n) ? 0 : ALDIS_EINVAL;
}

bool pep_config_form_matches(const struct pep_config *cfg, const struct xml_node *x,
                             const char **bad_var)
{
    return form_each(x, NS_PUBSUB_PUBLISH_OPTIONS, match_one, (void *)cfg, bad_var) == 0;
}

static struct xml_node *form_field(struct stanza *st, struct xml_node *x, const char *var,
                                   const char *type, const char *value)
{
    struct xml_node *f = xml_add_child(st, x, "field", NS_DATA);
    xml_set_attr(st, f, "var", var);
    if (type)
        xml_set_attr(st, f, "type", type);
    if (value) {
        struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
        xml_add_text(st, v, value, strlen(value));
    }
    return f;
}

static void form_options(struct stanza *st, struct xml_node *f, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct xml_node *o = xml_add_child(st, f, "option", NS_DATA);
        struct xml_node *v = xml_add_child(st, o, "value", NS_DATA);
        xml_add_text(st, v, names[i], strlen(names[i]));
    }
}

static void max_text(const struct pep_config *cfg, char *buf, size_t size)
{
    if (cfg->max_items < 0)
        snprintf(buf, size, "max");
    else
        snprintf(buf, size, "%ld", cfg->max_items);
}

/* XEP-0060 §8.2.1 / §16.4.4. */
void pep_config_form(struct stanza *st, struct xml_node *parent, const struct pep_config *cfg)
{
    struct xml_node *x = xml_add_child(st, parent, "x", NS_DATA);
    xml_set_attr(st, x, "type", "form");
    form_field(st, x, "FORM_TYPE", "hidden", NS_PUBSUB_NODE_CONFIG);
    form_field(st, x, "pubsub#title", "text-single", cfg->title ? cfg->title : "");
    for (size_t i = 0; i < NBOOL; i++)
        form_field(st, x, bool_fields[i].var, "boolean",
                   *bool_at((struct pep_config *)cfg, i) ? "1" : "0");
    char max[32];
    max_text(cfg, max, sizeof max);
    form_field(st, x, "pubsub#max_items", "text-single", max);
    struct xml_node *f = form_field(st, x, "pubsub#access_model", "list-single",
                                    access_names[cfg->access]);
    form_options(st, f, access_names, NACCESS);
    f = form_field(st, x, "pubsub#roster_groups_allowed", "list-multi", NULL);
    for (size_t i = 0; i < cfg->ngroups; i++) {
        struct xml_node *v = xml_add_child(st, f, "value", NS_DATA);
        xml_add_text(st, v, cfg->groups[i], strlen(cfg->groups[i]));
    }
    f = form_field(st, x, "pubsub#send_last_published_item", "list-single",
                   send_last_names[cfg->send_last]);
    form_options(st, f, send_last_names, 3);
    static const char *const ntypes[] = {"headline", "normal"};
    f = form_field(st, x, "pubsub#notification_type", "list-single",
                   ntypes[cfg->notification_normal]);
    form_options(st, f, ntypes, 2);
    f = form_field(st, x, "pubsub#publish_model", "list-single",
                   publish_model_names[cfg->publish_model]);
    form_options(st, f, publish_model_names, 3);
}

/* Stored values escape '\\' and newlines, one "var=value" per line. */
static void put_line(struct buf *b, const char *var, const char *value)
{
    buf_adds(b, var);
    buf_addc(b, '=');
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            buf_adds(b, "\\\\");
        else if (*p == '\n')
            buf_adds(b, "\\n");
        else
            buf_addc(b, *p);
    }
    buf_addc(b, '\n');
}

char *pep_config_serialize(const struct pep_config *cfg)
{
    struct buf b;
    buf_init(&b);
    put_line(&b, "pubsub#access_model", access_names[cfg->access]);
    char max[32];
    max_text(cfg, max, sizeof max);
    put_line(&b, "pubsub#max_items", max);
    for (size_t i = 0; i < NBOOL; i++)
        put_line(&b, bool_fields[i].var, *bool_at((struct pep_config *)cfg, i) ? "1" : "0");
    put_line(&b, "pubsub#send_last_published_item", send_last_names[cfg->send_last]);
    put_line(&b, "pubsub#notification_type", cfg->notification_normal ? "normal" : "headline");
    put_line(&b, "pubsub#publish_model", publish_model_names[cfg->publish_model]);
    if (cfg->title)
        put_line(&b, "pubsub#title", cfg->title);
    for (size_t i = 0; i < cfg->ngroups; i++)
        put_line(&b, "pubsub#roster_groups_allowed", cfg->groups[i]);
    return buf_steal(&b, NULL);
}

/* Call fn for each stored "var=value" line, unescaped. */
static void lines_each(const char *text, void (*fn)(void *ud, char *var, const char *value),
                       void *ud)
{
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char *line = malloc(len + 1), *out = line;
        ALDIS_ASSERT(line != NULL);
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '\\' && i + 1 < len) {
                i++;
                *out++ = p[i] == 'n' ? '\n' : p[i];
            } else {
                *out++ = p[i];
            }
        }
        *out = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            fn(ud, line, eq + 1);
        }
        free(line);
        p += len + (eol ? 1 : 0);
    }
}

struct parse_ctx {
    struct pep_config *cfg;
    const char *groups[FORM_MAX_VALUES];
    char *copies[FORM_MAX_VALUES];
    size_t ngroups;
};

static void parse_line(void *ud, char *var, const char *value)
{
    struct parse_ctx *pc = ud;
    if (strcmp(var, "pubsub#roster_groups_allowed") == 0) {
        if (pc->ngroups < FORM_MAX_VALUES) {
            pc->copies[pc->ngroups] = aldis_strdup(value);
            pc->groups[pc->ngroups] = pc->copies[pc->ngroups];
            pc->ngroups++;
        }
    } else {
        pep_config_set(pc->cfg, var, &value, 1);
    }
}

/* Unknown or bad lines are skipped (a newer build may have written
 * them, and the node's own lines are read by pep_node_parse_extra); the
 * defaults stand in. Group lines accumulate. */
void pep_config_parse(struct pep_config *cfg, const char *text)
{
    pep_config_default(cfg);
    struct parse_ctx pc = {.cfg = cfg};
    lines_each(text, parse_line, &pc);
    if (pc.ngroups)
        pep_config_set(cfg, "pubsub#roster_groups_allowed", pc.groups, pc.ngroups);
    for (size_t i = 0; i < pc.ngroups; i++)
        free(pc.copies[i]);
}

/* The node's own lines: "x-aff=<affiliation> <jid>", "x-sub=<subid> <jid>"
 * ("x-pend=" for a pending one), "x-creator=<jid>", "x-created=<seconds>". */
char *pep_node_serialize(const struct pep_node *node)
{
    char *config = pep_config_serialize(&node->cfg);
    struct buf b;
    buf_init(&b);
    buf_adds(&b, config);
    free(config);
    char line[PEP_MAX_ID + JID_STR_MAX + 64];
    for (size_t i = 0; i < node->naffs; i++) {
        snprintf(line, sizeof line, "%s %s", pep_affiliation_name(node->affs[i].aff),
                 node->affs[i].jid);
        put_line(&b, "x-aff", line);
    }
    for (size_t i = 0; i < node->nsubs; i++) {
        snprintf(line, sizeof line, "%s %s", node->subs[i].subid, node->subs[i].jid);
        put_line(&b, node->subs[i].pending ? "x-pend" : "x-sub", line);
    }
    if (node->creator)
        put_line(&b, "x-creator", node->creator);
    if (node->created) {
        snprintf(line, sizeof line, "%lld", node->created);
        put_line(&b, "x-created", line);
    }
    return buf_steal(&b, NULL);
}

/* Bounds on what a stored text may bring back (it was bounded when
 * written; these keep a damaged row from growing without limit). */
#define NODE_MAX_STORED_AFFS 65536
#define NODE_MAX_STORED_SUBS 65536

static void extra_line(void *ud, char *var, const char *value)
{
    struct pep_node *node = ud;
    const char *sp = strchr(value, ' ');
    if (strcmp(var, "x-creator") == 0 && *value && !node->creator) {
        node->creator = aldis_strdup(value);
    } else if (strcmp(var, "x-created") == 0) {
        node->created = strtoll(value, NULL, 10);
    } else if (strcmp(var, "x-aff") == 0 && sp && sp[1]) {
        char name[32];
        size_t n = (size_t)(sp - value);
        enum pep_affiliation aff;
        if (n < sizeof name) {
            memcpy(name, value, n);
            name[n] = '\0';
            if (pep_affiliation_parse(name, &aff) == 0)
                pep_node_affiliation_set(node, sp + 1, aff, NODE_MAX_STORED_AFFS);
        }
    } else if ((strcmp(var, "x-sub") == 0 || strcmp(var, "x-pend") == 0) && sp && sp[1] &&
               !pep_node_sub_find(node, sp + 1)) {
        struct pep_sub *sub = pep_node_sub_add(node, sp + 1, NODE_MAX_STORED_SUBS);
        if (sub) {
            sub->pending = strcmp(var, "x-pend") == 0;
            free(sub->subid);
            sub->subid = strndup(value, (size_t)(sp - value));
            ALDIS_ASSERT(sub->subid != NULL);
        }
    }
}

void pep_node_parse_extra(struct pep_node *node, const char *text)
{
    lines_each(text, extra_line, node);
}

/* ---- affiliations and subscriptions ------------------------------------------ */

static const char *const aff_names[] = {"outcast", "none", "member", "publisher", "owner"};

const char *pep_affiliation_name(enum pep_affiliation aff)
{
    return aff_names[aff];
}

int pep_affiliation_parse(const char *name, enum pep_affiliation *out)
{
    int a;
    int e = parse_enum(name, aff_names, 5, &a);
    if (e == 0)
        *out = (enum pep_affiliation)a;
    return e;
}

enum pep_affiliation pep_node_affiliation(const struct pep_node *node, const char *bare)
{
    for (size_t i = 0; i < node->naffs; i++)
        if (strcmp(node->affs[i].jid, bare) == 0)
            return node->affs[i].aff;
    return PEP_AFF_NONE;
}

int pep_node_affiliation_set(struct pep_node *node, const char *bare, enum pep_affiliation aff,
                             size_t max)
{
    for (size_t i = 0; i < node->naffs; i++)
        if (strcmp(node->affs[i].jid, bare) == 0) {
            if (aff != PEP_AFF_NONE) {
                node->affs[i].aff = aff;
                return 0;
            }
            free(node->affs[i].jid);
            memmove(&node->affs[i], &node->affs[i + 1],
                    (node->naffs - i - 1) * sizeof *node->affs);
            node->naffs--;
            return 0;
        }
    if (aff == PEP_AFF_NONE)
        return 0;
    if (node->naffs >= max)
        return ALDIS_ELIMIT;
    struct pep_affil *affs = realloc(node->affs, (node->naffs + 1) * sizeof *affs);
    ALDIS_ASSERT(affs != NULL);
    node->affs = affs;
    node->affs[node->naffs].jid = aldis_strdup(bare);
    node->affs[node->naffs].aff = aff;
    node->naffs++;
    return 0;
}

size_t pep_node_owner_count(const struct pep_node *node)
{
    size_t n = 0;
    for (size_t i = 0; i < node->naffs; i++)
        n += node->affs[i].aff == PEP_AFF_OWNER;
    return n;
}

struct pep_sub *pep_node_sub_find(struct pep_node *node, const char *jid)
{
    for (size_t i = 0; i < node->nsubs; i++)
        if (strcmp(node->subs[i].jid, jid) == 0)
            return &node->subs[i];
    return NULL;
}

struct pep_sub *pep_node_sub_add(struct pep_node *node, const char *jid, size_t max)
{
    if (node->nsubs >= max)
        return NULL;
    struct pep_sub *subs = realloc(node->subs, (node->nsubs + 1) * sizeof *subs);
    ALDIS_ASSERT(subs != NULL);
    node->subs = subs;
    struct pep_sub *sub = &node->subs[node->nsubs++];
    char subid[32];
    pep_item_id_new(subid, sizeof subid);
    sub->jid = aldis_strdup(jid);
    sub->subid = aldis_strdup(subid);
    sub->pending = false;
    return sub;
}

void pep_node_sub_remove(struct pep_node *node, struct pep_sub *sub)
{
    size_t i = (size_t)(sub - node->subs);
    ALDIS_ASSERT(i < node->nsubs);
    free(sub->jid);
    free(sub->subid);
    memmove(&node->subs[i], &node->subs[i + 1], (node->nsubs - i - 1) * sizeof *node->subs);
    node->nsubs--;
}

/* ---- nodes and items ------------------------------------------------------ */

struct pep_node *pep_node_find(struct pep_state *ps, const char *name)
{
    for (size_t i = 0; i < ps->nnodes; i++)
        if (strcmp(ps->nodes[i]->name, name) == 0)
            return ps->nodes[i];
    return NULL;
}

struct pep_node *pep_node_add(struct pep_state *ps, const char *name, struct pep_config *cfg)
{
    if ((long)ps->nnodes >= (ps->max_nodes > 0 ? ps->max_nodes : pep_opt_max_nodes))
        return NULL;
    struct pep_node *node = calloc(1, sizeof *node);
    ALDIS_ASSERT(node != NULL);
    node->name = aldis_strdup(name);
    node->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    struct pep_node **nodes = realloc(ps->nodes, (ps->nnodes + 1) * sizeof *nodes);
    ALDIS_ASSERT(nodes != NULL);
    ps->nodes = nodes;
    ps->nodes[ps->nnodes++] = node;
    return node;
}

static void item_clear(struct pep_node *node, struct pep_item *it)
{
    node->bytes -= it->size;
    free(it->id);
    free(it->publisher);
    if (it->payload)
        stanza_unref(it->payload);
    if (it->label)
        stanza_unref(it->label);
}

void pep_items_clear(struct pep_node *node)
{
    for (size_t i = 0; i < node->nitems; i++)
        item_clear(node, &node->items[i]);
    free(node->items);
    node->items = NULL;
    node->nitems = 0;
}

void pep_node_free(struct pep_node *node)
{
    if (!node)
        return;
    pep_items_clear(node);
    pep_config_clear(&node->cfg);
    for (size_t i = 0; i < node->naffs; i++)
        free(node->affs[i].jid);
    free(node->affs);
    for (size_t i = 0; i < node->nsubs; i++) {
        free(node->subs[i].jid);
        free(node->subs[i].subid);
    }
    free(node->subs);
    free(node->creator);
    free(node->name);
    free(node);
}

void pep_node_remove(struct pep_state *ps, struct pep_node *node)
{
    for (size_t i = 0; i < ps->nnodes; i++)
        if (ps->nodes[i] == node) {
            memmove(&ps->nodes[i], &ps->nodes[i + 1], (ps->nnodes - i - 1) * sizeof *ps->nodes);
            ps->nnodes--;
            break;
        }
    pep_node_free(node);
}

struct pep_item *pep_item_find(struct pep_node *node, const char *id)
{
    for (size_t i = 0; i < node->nitems; i++)
        if (strcmp(node->items[i].id, id) == 0)
            return &node->items[i];
    return NULL;
}

void pep_item_remove(struct pep_node *node, struct pep_item *item)
{
    size_t i = (size_t)(item - node->items);
    ALDIS_ASSERT(i < node->nitems);
    item_clear(node, item);
    memmove(&node->items[i], &node->items[i + 1], (node->nitems - i - 1) * sizeof *node->items);
    node->nitems--;
}

/* Non-persistent nodes keep only the last item, for "last published item"
 * notifications (XEP-0060 §12.8). */
static size_t node_limit(const struct pep_node *node)
{
    return node->cfg.persist_items ? (size_t)pep_config_max(&node->cfg) : 1;
}

void pep_items_trim(struct pep_node *node)
{
    size_t limit = node_limit(node);
    while (node->nitems > limit)
        pep_item_remove(node, &node->items[0]);
}

size_t pep_state_bytes(const struct pep_state *ps)
{
    size_t total = 0;
    for (size_t i = 0; i < ps->nnodes; i++)
        total += ps->nodes[i]->bytes;
    return total;
}

void pep_item_put(struct pep_node *node, const char *id, const char *publisher,
                  struct stanza *payload, struct stanza *label, size_t size)
{
    struct pep_item *old = pep_item_find(node, id);
    if (old)
        pep_item_remove(node, old);
    struct pep_item *items = realloc(node->items, (node->nitems + 1) * sizeof *items);
    ALDIS_ASSERT(items != NULL);
    node->items = items;
    struct pep_item *it = &node->items[node->nitems++];
    it->id = aldis_strdup(id);
    it->publisher = publisher ? aldis_strdup(publisher) : NULL;
    it->payload = payload ? stanza_freeze(payload) : NULL;
    it->label = label ? stanza_freeze(label) : NULL;
    it->size = size;
    node->bytes += size;
    pep_items_trim(node);
}

void pep_item_id_new(char *out, size_t size)
{
    unsigned char raw[8];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        /* Uniqueness only, not secrecy: the clock is a fine fallback. */
        static unsigned long counter;
        snprintf(out, size, "%lx-%lu", (unsigned long)time(NULL), ++counter);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < sizeof raw && n + 2 < size; i++) {
        out[n++] = hex[raw[i] >> 4];
        out[n++] = hex[raw[i] & 15];
    }
    out[n] = '\0';
}

void pep_state_free(struct pep_state *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->nnodes; i++)
        pep_node_free(ps->nodes[i]);
    free(ps->nodes);
    pep_peers_free(ps);
    free(ps);
}

/* ---- store ---------------------------------------------------------------- */

/* A stanza whose root is a copy of `el`. */
static struct stanza *element_copy(const struct xml_node *el)
{
    struct buf b;
    buf_init(&b);
    xml_serialize(el, NS_CLIENT, &b);
    struct stanza *st = stanza_parse(b.data, b.len);
    buf_free(&b);
    return st;
}

/* The in-memory holder of an item's label: <label-holder><securitylabel/>
 * — the decision looks for labels inside an element. */
static struct stanza *label_hold(const struct xml_node *sl)
{
    struct stanza *h = stanza_new(PEP_LABEL_HOLDER, NS_PEP_STORED);
    xml_copy_into(h, h->root, sl);
    return h;
}

/* A labelled item is stored as <stored><payload/><securitylabel/></stored>
 * (one column for both); split it back. Others are left as they are. */
static int stored_split(struct stanza **payload, struct stanza **label)
{
    *label = NULL;
    if (!xml_is((*payload)->root, "stored", NS_PEP_STORED))
        return 0;
    struct xml_node *sl = xml_child((*payload)->root, "securitylabel", LABEL_NS);
    struct xml_node *body = NULL;
    for (struct xml_node *c = xml_first_elem((*payload)->root); c; c = xml_next(c, NULL, NULL))
        if (c != sl && !body)
            body = c;
    struct stanza *p = body ? element_copy(body) : NULL;
    if (!sl || (body && !p))
        return -1;
    *label = label_hold(sl);
    stanza_unref(*payload);
    *payload = p;
    return 0;
}

struct pep_state *pep_state_from_records(const struct pubsub_node_rec *nodes, size_t n,
                                         const char *who)
{
    struct pep_state *ps = calloc(1, sizeof *ps);
    ALDIS_ASSERT(ps != NULL);
    for (size_t i = 0; i < n; i++) {
        struct pep_config cfg;
        pep_config_parse(&cfg, nodes[i].config);
        struct pep_node *node = calloc(1, sizeof *node);
        ALDIS_ASSERT(node != NULL);
        node->name = aldis_strdup(nodes[i].node);
        node->cfg = cfg;
        pep_node_parse_extra(node, nodes[i].config);
        struct pep_node **grown = realloc(ps->nodes, (ps->nnodes + 1) * sizeof *grown);
        ALDIS_ASSERT(grown != NULL);
        ps->nodes = grown;
        ps->nodes[ps->nnodes++] = node;
        for (size_t j = 0; j < nodes[i].nitems; j++) {
            const struct pubsub_item_rec *rec = &nodes[i].items[j];
            struct stanza *payload = NULL, *label = NULL;
            if (rec->len) {
                payload = stanza_parse(rec->xml, rec->len);
                if (!payload || stored_split(&payload, &label) < 0) {
                    log_warn("pep", "%s: stored item %s of node %s does not parse; skipped",
                             who, rec->id, node->name);
                    if (payload)
                        stanza_unref(payload);
                    continue;
                }
            }
            pep_item_put(node, rec->id, rec->publisher, payload, label, rec->len);
        }
    }
    return ps;
}

struct pep_load {
    struct account *acct;
    void (*done)(struct account *);
};

static void pep_loaded(void *ud, int err, const struct pubsub_node_rec *nodes, size_t n)
{
    struct pep_load *load = ud;
    struct pep_state *ps = pep_state_from_records(nodes, n, load->acct->bare);
    if (err) {
        log_error("pep", "loading the nodes of %s failed: %s", load->acct->bare,
                  aldis_strerror(err));
        ps->broken = true;
    }
    MODULE_DATA(load->acct, mod_pep) = ps;
    load->done(load->acct);
    free(load);
}

void pep_state_load(struct account *acct, void (*done)(struct account *))
{
    struct pep_load *load = malloc(sizeof *load);
    ALDIS_ASSERT(load != NULL);
    load->acct = acct;
    load->done = done;
    store_pubsub_load(acct->bare, pep_loaded, load);
}

void pep_store_node(const char *service, const struct pep_node *node)
{
    char *config = pep_node_serialize(node);
    store_pubsub_node_put(service, node->name, config, NULL, NULL);
    free(config);
}

void pep_store_item(const char *service, const struct pep_node *node,
                    const struct pep_item *item)
{
    if (!node->cfg.persist_items)
        return;
    char *xml = NULL;
    size_t len = 0;
    if (item->label) {
        struct buf b;
        buf_init(&b);
        buf_adds(&b, "<stored xmlns='" NS_PEP_STORED "'>");
        if (item->payload)
            xml_serialize(item->payload->root, NS_PEP_STORED, &b);
        xml_serialize(xml_first_elem(item->label->root), NS_PEP_STORED, &b);
        buf_adds(&b, "</stored>");
        xml = buf_steal(&b, &len);
    } else if (item->payload) {
        xml = stanza_to_string(item->payload, &len);
    }
    store_pubsub_item_put(service, node->name, item->id, xml ? xml : "", len, item->publisher,
                          pep_config_max(&node->cfg), NULL, NULL);
    free(xml);
}

/* ---- protocol pieces ---------------------------------------------------------- */

int pep_iq_error(const struct stanza *iq, const char *type, const char *cond, const char *app,
                 const char *feature)
{
    struct stanza *r = stanza_error_reply(iq, type, cond, NULL);
    struct xml_node *err = xml_child(r->root, "error", NULL);
    if (app && err) {
        struct xml_node *el = xml_add_child(r, err, app, NS_PUBSUB_ERRORS);
        if (feature)
            xml_set_attr(r, el, "feature", feature);
    }
    router_route(r);
    return 0;
}

int pep_publish_take(const struct xml_node *publish, struct pep_publish *out, const char **type,
                     const char **cond, const char **app)
{
    memset(out, 0, sizeof *out);
    *type = "modify";
    *cond = "bad-request";
    *app = NULL;
    const struct xml_node *item = xml_child(publish, "item", NS_PUBSUB);
    if (!item || xml_next(item, "item", NS_PUBSUB)) {
        *app = item ? "invalid-payload" : "item-required";
        return -1;
    }
    const char *given_id = xml_attr(item, "id");
    if (given_id && (!*given_id || strlen(given_id) > PEP_MAX_ID)) {
        *cond = "not-acceptable";
        return -1;
    }
    struct xml_node *payload_el = NULL;
    size_t npayload = 0;
    for (struct xml_node *c = item->children; c; c = c->next)
        if (c->kind == XML_ELEM && npayload++ == 0)
            payload_el = c;
    if (npayload != 1) {
        *app = npayload ? "invalid-payload" : "payload-required";
        return -1;
    }
    /* XEP-0314 §7.1: one <securitylabel/> in <publish/> labels its items */
    const struct xml_node *sl = xml_child(publish, "securitylabel", LABEL_NS);
    if (sl && xml_next(sl, "securitylabel", LABEL_NS))
        return -1;
    struct buf b;
    buf_init(&b);
    xml_serialize(payload_el, NS_CLIENT, &b);
    size_t label_bytes = 0;
    if (sl) {
        size_t before = b.len;
        xml_serialize(sl, NS_CLIENT, &b);
        label_bytes = b.len - before;
        b.len = before;
    }
    if (b.len + label_bytes > (size_t)pep_opt_max_item_size) {
        buf_free(&b);
        *cond = "not-acceptable";
        *app = "payload-too-big";
        return -1;
    }
    out->payload = stanza_parse(b.data, b.len);
    out->size = b.len + label_bytes;
    buf_free(&b);
    if (!out->payload) {
        *app = "invalid-payload";
        return -1;
    }
    if (sl)
        out->label = label_hold(sl);
    if (given_id)
        snprintf(out->id, sizeof out->id, "%s", given_id);
    else
        pep_item_id_new(out->id, sizeof out->id);
    return 0;
}

void pep_publish_drop(struct pep_publish *pub)
{
    if (pub->payload)
        stanza_unref(pub->payload);
    if (pub->label)
        stanza_unref(pub->label);
    pub->payload = pub->label = NULL;
}

const struct pep_item *pep_publish_commit(const char *service, struct pep_node *node,
                                          const struct stanza *iq, const struct jid *publisher,
                                          struct pep_publish *pub)
{
    char from[JID_STR_MAX];
    const char *id = pub->id;
    jid_full(publisher, from, sizeof from);
    pep_item_put(node, id, from, pub->payload, pub->label, pub->size);
    pub->payload = pub->label = NULL;
    const struct pep_item *stored = pep_item_find(node, id);
    pep_store_item(service, node, stored);

    struct stanza *reply = stanza_iq_result(iq);
    struct xml_node *ps_el = xml_add_child(reply, reply->root, "pubsub", NS_PUBSUB);
    struct xml_node *pub_el = xml_add_child(reply, ps_el, "publish", NS_PUBSUB);
    xml_set_attr(reply, pub_el, "node", node->name);
    struct xml_node *it = xml_add_child(reply, pub_el, "item", NS_PUBSUB);
    xml_set_attr(reply, it, "id", id);
    router_route(reply);
    return stored;
}

int pep_configure_take(const struct pep_node *node, const struct xml_node *configure,
                       struct pep_config *out, const char **cond)
{
    struct xml_node *form = xml_child(configure, "x", NS_DATA);
    const char *type = form ? xml_attr(form, "type") : NULL;
    if (type && strcmp(type, "cancel") == 0)
        return 1; /* §8.2.6 */
    *cond = "bad-request";
    if (!form || !type || strcmp(type, "submit") != 0)
        return -1;
    pep_config_copy(out, &node->cfg);
    const char *bad = NULL;
    if (pep_config_apply_form(out, form, NS_PUBSUB_NODE_CONFIG, &bad) != 0) {
        pep_config_clear(out);
        *cond = "not-acceptable";
        return -1;
    }
    return 0;
}

void pep_configure_commit(const char *service, struct pep_node *node, struct pep_config *cfg)
{
    bool was_persistent = node->cfg.persist_items;
    pep_config_clear(&node->cfg);
    node->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    size_t keep = node_limit(node);
    for (size_t i = 0; was_persistent && node->nitems > keep && i < node->nitems - keep; i++)
        store_pubsub_item_del(service, node->name, node->items[i].id, NULL, NULL);
    pep_items_trim(node);
    if (!node->cfg.persist_items && was_persistent)
        store_pubsub_purge(service, node->name, NULL, NULL);
    else if (node->cfg.persist_items && !was_persistent)
        for (size_t i = 0; i < node->nitems; i++)
            pep_store_item(service, node, &node->items[i]);
}

int pep_items_answer(const struct stanza *iq, const struct pep_node *node,
                     const struct xml_node *items_el)
{
    size_t first = 0;
    const char *max_attr = xml_attr(items_el, "max_items");
    if (max_attr) {
        char *end;
        long max = strtol(max_attr, &end, 10);
        if (end == max_attr || *end || max < 1)
            return pep_iq_error(iq, "modify", "bad-request", NULL, NULL);
        if ((size_t)max < node->nitems)
            first = node->nitems - (size_t)max;
    }
    struct stanza *reply = stanza_iq_result(iq);
    struct xml_node *ps_el = xml_add_child(reply, reply->root, "pubsub", NS_PUBSUB);
    struct xml_node *out = xml_add_child(reply, ps_el, "items", NS_PUBSUB);
    xml_set_attr(reply, out, "node", node->name);
    struct xml_node *want = xml_child(items_el, "item", NS_PUBSUB);
    /* XEP-0314 / ARCHITECTURE.md §6: an item whose label the requester's
     * clearance does not permit is left out (and audited), as if absent. */
    const char *requester = stanza_attr(iq, "from");
    const char *service = stanza_attr(iq, "to") ? stanza_attr(iq, "to") : requester;
    unsigned nlabels = 0;
    for (size_t i = first; i < node->nitems; i++) {
        const struct pep_item *it = &node->items[i];
        if ((it->payload && !security_item_visible(requester, it->payload->root, service)) ||
            (it->label && !security_item_visible(requester, it->label->root, service)))
            continue;
        if (want) {
            bool asked = false;
            for (struct xml_node *w = want; w && !asked; w = xml_next(w, "item", NS_PUBSUB))
                asked = xml_attr(w, "id") && strcmp(xml_attr(w, "id"), it->id) == 0;
            if (!asked)
                continue;
        }
        struct xml_node *el = xml_add_child(reply, out, "item", NS_PUBSUB);
        xml_set_attr(reply, el, "id", it->id);
        if (it->payload)
            xml_copy_into(reply, el, it->payload->root);
        if (it->label) {
            /* XEP-0314 §6.2: the label beside the items, referenced by id */
            char ref[24];
            snprintf(ref, sizeof ref, "sl%u", ++nlabels);
            xml_set_attr_ns(reply, el, NS_SL_PUBSUB, "label", ref);
            struct xml_node *sl = xml_copy_into(reply, out, xml_first_elem(it->label->root));
            xml_set_attr_ns(reply, sl, NS_SL_PUBSUB, "id", ref);
        }
    }
    router_route(reply);
    return 0;
}

struct stanza *pep_event_new(const char *from, const struct pep_node *node,
                             struct xml_node **event_out)
{
    struct stanza *st = stanza_new("message", NULL);
    xml_set_attr(st, st->root, "from", from);
    xml_set_attr(st, st->root, "type", node->cfg.notification_normal ? "normal" : "headline");
    char id[32];
    pep_item_id_new(id, sizeof id);
    xml_set_attr(st, st->root, "id", id);
    *event_out = xml_add_child(st, st->root, "event", NS_PUBSUB_EVENT);
    return st;
}

void pep_event_add_item(struct stanza *st, struct xml_node *parent, const struct pep_node *node,
                        const struct pep_item *item)
{
    struct xml_node *items = xml_add_child(st, parent, "items", NS_PUBSUB_EVENT);
    xml_set_attr(st, items, "node", node->name);
    struct xml_node *el = xml_add_child(st, items, "item", NS_PUBSUB_EVENT);
    xml_set_attr(st, el, "id", item->id);
    if (item->payload && node->cfg.deliver_payloads)
        xml_copy_into(st, el, item->payload->root);
    if (item->label)
        xml_copy_into(st, st->root, xml_first_elem(item->label->root));
}

void pep_event_add_retract(struct stanza *st, struct xml_node *parent,
                           const struct pep_node *node, const char *id,
                           const struct stanza *label)
{
    struct xml_node *items = xml_add_child(st, parent, "items", NS_PUBSUB_EVENT);
    xml_set_attr(st, items, "node", node->name);
    struct xml_node *r = xml_add_child(st, items, "retract", NS_PUBSUB_EVENT);
    xml_set_attr(st, r, "id", id);
    if (label)
        xml_copy_into(st, st->root, xml_first_elem(label->root));
}

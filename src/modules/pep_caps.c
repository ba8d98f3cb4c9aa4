/* pep_caps.c - Entity Capabilities (XEP-0115) for PEP's filtered
 * notifications (XEP-0163 §4.2): which available resources (the account's
 * own and its contacts') want which "+notify" features.
 *
 * A resource's presence carries <c node ver hash/>; its features come from
 * the process-wide cache, keyed by "hash ver", or from a disco#info query
 * sent from the account's bare JID to that resource (the result comes back
 * through HOOK_IQ_IN). A result enters the shared cache only when it hashes
 * to its 'ver' (§5.4 verification), so one client cannot poison what the
 * server believes of another; unverifiable results (legacy caps without a
 * hash, or a mismatch) apply to the resource that sent them only.
 *
 * Peers and queries are per account (owner worker); the cache is shared by
 * every worker under a mutex, its entries immutable and refcounted. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "lib/map.h"
#include "modules/pep.h"

#define PEP_MAX_PEERS 1024      /* tracked resources per account */
#define PEP_MAX_QUERIES 32      /* disco#info queries in flight per account */
#define CAPS_CACHE_MAX 4096     /* distinct verified caps kept */
#define CAPS_MAX_FEATURES 1024  /* features accepted from one result */
#define CAPS_MAX_STRING 1024    /* bytes of one feature / identity part */
#define QUERY_ID_PREFIX "pepcaps-"

static struct {
    pthread_mutex_t mu;
    struct map map; /* "hash ver" -> struct pep_caps* (one reference) */
    bool ready;
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- feature lists -------------------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool pep_caps_has(const struct pep_caps *caps, const char *feature)
{
    return caps && bsearch(&feature, caps->features, caps->n, sizeof *caps->features, str_cmp);
}

static struct pep_caps *caps_ref(struct pep_caps *caps)
{
    if (caps)
        atomic_fetch_add(&caps->refs, 1);
    return caps;
}

void pep_caps_unref(struct pep_caps *caps)
{
    if (!caps || atomic_fetch_sub(&caps->refs, 1) != 1)
        return;
    for (size_t i = 0; i < caps->n; i++)
        free(caps->features[i]);
    free(caps->features);
    free(caps);
}

/* The features of a disco#info <query/>, sorted, duplicates dropped. */
static struct pep_caps *caps_from_query(const struct xml_node *query)
{
    struct pep_caps *caps = calloc(1, sizeof *caps);
    ALDIS_ASSERT(caps != NULL);
    atomic_init(&caps->refs, 1);
    size_t cap = 0;
    for (struct xml_node *f = xml_child(query, "feature", NS_DISCO_INFO); f;
         f = xml_next(f, "feature", NS_DISCO_INFO)) {
        const char *var = xml_attr(f, "var");
        if (!var || strlen(var) > CAPS_MAX_STRING || caps->n == CAPS_MAX_FEATURES)
            continue;
        if (caps->n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(caps->features, cap * sizeof *grown);
            ALDIS_ASSERT(grown != NULL);
            caps->features = grown;
        }
        caps->features[caps->n++] = aldis_strdup(var);
    }
    if (caps->n)
        qsort(caps->features, caps->n, sizeof *caps->features, str_cmp);
    size_t out = 0;
    for (size_t i = 0; i < caps->n; i++) {
        if (out && strcmp(caps->features[out - 1], caps->features[i]) == 0)
            free(caps->features[i]);
        else
            caps->features[out++] = caps->features[i];
    }
    caps->n = out;
    return caps;
}

static struct pep_caps *cache_get(const char *key)
{
    pthread_mutex_lock(&cache.mu);
    struct pep_caps *caps = cache.ready ? caps_ref(map_get(&cache.map, key)) : NULL;
    pthread_mutex_unlock(&cache.mu);
    return caps;
}

static void cache_put(const char *key, struct pep_caps *caps)
{
    pthread_mutex_lock(&cache.mu);
    if (!cache.ready) {
        map_init(&cache.map, 0);
        cache.ready = true;
    }
    /* A full cache stops growing; peers still get their features, just
     * through a query of their own. */
    if (!map_get(&cache.map, key) && cache.map.count < CAPS_CACHE_MAX)
        map_put(&cache.map, key, caps_ref(caps));
    pthread_mutex_unlock(&cache.mu);
}

/* ---- XEP-0115 §5.1 verification string -------------------------------------- */

/* §5.1 sorts identities by category, type and xml:lang, fields by var,
 * forms by FORM_TYPE, each part compared on its own ("i;octet"). Sorting
 * whole "a/b<" strings would not do: "shim<" must follow "shim" but
 * precede "shim#SubID", while '<' sorts after '#'. So the sort keys join
 * their parts with SEP, a byte XML cannot carry and that sorts before every
 * other, and SEP becomes '/' or '<' only when the string S is written. */
#define SEP '\x01'

struct strlist {
    char **v;
    size_t n, cap;
};

static void strlist_add(struct strlist *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->v, l->cap * sizeof *grown);
        ALDIS_ASSERT(grown != NULL);
        l->v = grown;
    }
    l->v[l->n++] = s;
}

static void strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Compare up to `nparts` SEP-separated parts (the sort key's length). */
static bool same_key(const char *a, const char *b, int nparts)
{
    for (;; a++, b++) {
        if (*a != *b)
            return false;
        if (!*a || (*a == SEP && --nparts == 0))
            return true;
    }
}

/* Sort; false when two entries have the same key of `nparts` parts (§5.4
 * step 3: duplicate identities, features, forms or fields make the whole
 * result ill-formed). */
static bool strlist_sort_unique(struct strlist *l, int nparts)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, str_cmp);
    for (size_t i = 1; i < l->n; i++)
        if (same_key(l->v[i - 1], l->v[i], nparts))
            return false;
    return true;
}

/* Append s, with every SEP written as `sep`, then the closing '<'. */
static void buf_add_part(struct buf *b, const char *s, char sep)
{
    for (; *s; s++)
        buf_addc(b, *s == SEP ? sep : *s);
    buf_addc(b, '<');
}

static bool has_sep(const char *s)
{
    return strchr(s, SEP) != NULL;
}

static const char *attr_or_empty(const struct xml_node *el, const char *name)
{
    const char *v = xml_attr(el, name);
    return v ? v : "";
}

/* One extended form (§5.1 step 5) as "FORM_TYPE" SEP "var<value<...var<...",
 * or NULL when the form is ignored (no hidden FORM_TYPE, §5.4 step 3.6).
 * Returns false when the form makes the result ill-formed. */
static bool form_string(const struct xml_node *x, char **out)
{
    struct stanza *scratch = stanza_new("scratch", NULL);
    struct strlist fields = {0};
    const char *form_type = NULL;
    bool ok = true;
    *out = NULL;
    for (struct xml_node *f = xml_child(x, "field", NS_DATA); f && ok;
         f = xml_next(f, "field", NS_DATA)) {
        const char *var = xml_attr(f, "var");
        if (!var)
            continue;
        struct strlist values = {0};
        for (struct xml_node *v = xml_child(f, "value", NS_DATA); v;
             v = xml_next(v, "value", NS_DATA))
            strlist_add(&values, aldis_strdup(xml_text(scratch, v)));
        if (strcmp(var, "FORM_TYPE") == 0) {
            /* §5.4 step 3.5: a second FORM_TYPE or several values make the
             * response ill-formed; 3.6: one not hidden makes the form
             * ignored. */
            const char *type = xml_attr(f, "type");
            if (form_type || values.n != 1)
                ok = false;
            else if (type && strcmp(type, "hidden") == 0)
                form_type = xml_text(scratch, xml_child(f, "value", NS_DATA));
            strlist_free(&values);
            continue;
        }
        if (values.n > 1)
            qsort(values.v, values.n, sizeof *values.v, str_cmp);
        /* Sort key: the var alone; the values follow it. */
        struct buf b;
        buf_init(&b);
        buf_adds(&b, var);
        for (size_t i = 0; i < values.n; i++) {
            buf_addc(&b, SEP);
            buf_adds(&b, values.v[i]);
        }
        ok = !has_sep(var);
        for (size_t i = 0; ok && i < values.n; i++)
            ok = !has_sep(values.v[i]);
        strlist_add(&fields, buf_steal(&b, NULL));
        strlist_free(&values);
    }
    if (ok && form_type) {
        ok = strlist_sort_unique(&fields, 1) && !has_sep(form_type);
        struct buf b;
        buf_init(&b);
        buf_adds(&b, form_type);
        buf_addc(&b, SEP);
        for (size_t i = 0; i < fields.n; i++)
            buf_add_part(&b, fields.v[i], '<');
        *out = buf_steal(&b, NULL);
    }
    strlist_free(&fields);
    stanza_unref(scratch);
    return ok;
}

char *pep_caps_hash(const struct xml_node *query, const char *hash_name)
{
    const EVP_MD *md = strcmp(hash_name, "sha-1") == 0     ? EVP_sha1()
                       : strcmp(hash_name, "sha-256") == 0 ? EVP_sha256()
                                                           : NULL;
    if (!md)
        return NULL;
    struct strlist identities = {0}, features = {0}, forms = {0};
    char *result = NULL;
    bool ok = true;
    for (struct xml_node *c = query->children; c && ok; c = c->next) {
        if (c->kind != XML_ELEM)
            continue;
        if (xml_is(c, "identity", NS_DISCO_INFO)) {
            const char *lang = xml_attr_ns(c, NS_XML, "lang");
            char *s = NULL;
            ALDIS_ASSERT(asprintf(&s, "%s%c%s%c%s%c%s", attr_or_empty(c, "category"), SEP,
                                  attr_or_empty(c, "type"), SEP, lang ? lang : "", SEP,
                                  attr_or_empty(c, "name")) >= 0);
            strlist_add(&identities, s);
        } else if (xml_is(c, "feature", NS_DISCO_INFO)) {
            strlist_add(&features, aldis_strdup(attr_or_empty(c, "var")));
            ok = !has_sep(features.v[features.n - 1]);
        } else if (xml_is(c, "x", NS_DATA)) {
            char *s = NULL;
            ok = form_string(c, &s);
            if (s)
                strlist_add(&forms, s);
        }
    }
    /* Identities are unique by category, type and language (§5.4 3.3). */
    ok = ok && strlist_sort_unique(&identities, 3) && strlist_sort_unique(&features, 1) &&
         strlist_sort_unique(&forms, 1);
    if (ok) {
        struct buf s;
        buf_init(&s);
        for (size_t i = 0; i < identities.n; i++)
            buf_add_part(&s, identities.v[i], '/');
        for (size_t i = 0; i < features.n; i++)
            buf_add_part(&s, features.v[i], '<');
        for (size_t i = 0; i < forms.n; i++) {
            /* "FORM_TYPE" SEP "fields...": the SEP is FORM_TYPE's '<' and
             * the fields already end in theirs. */
            const char *sep = strchr(forms.v[i], SEP);
            buf_add(&s, forms.v[i], (size_t)(sep - forms.v[i]));
            buf_addc(&s, '<');
            buf_adds(&s, sep + 1);
        }
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        if (EVP_Digest(s.data ? s.data : "", s.len, digest, &dlen, md, NULL) == 1) {
            result = malloc(4 * ((dlen + 2) / 3) + 1);
            ALDIS_ASSERT(result != NULL);
            EVP_EncodeBlock((unsigned char *)result, digest, (int)dlen);
        }
        buf_free(&s);
    }
    strlist_free(&identities);
    strlist_free(&features);
    strlist_free(&forms);
    return result;
}

/* ---- peers ------------------------------------------------------------------ */

static struct pep_state *state_of(struct account *acct)
{
    return MODULE_DATA(acct, mod_pep);
}

struct pep_peer *pep_peer_find(struct pep_state *ps, const char *full)
{
    for (struct pep_peer *p = ps->peers; p; p = p->next)
        if (strcmp(p->full, full) == 0)
            return p;
    return NULL;
}

static void peer_caps_clear(struct pep_peer *p)
{
    free(p->caps_key);
    free(p->caps_node);
    free(p->ver);
    free(p->hash);
    p->caps_key = p->caps_node = p->ver = p->hash = NULL;
    pep_caps_unref(p->caps);
    p->caps = NULL;
    p->asked = false;
}

static void peer_free(struct pep_peer *p)
{
    peer_caps_clear(p);
    pep_caps_unref(p->old_caps);
    free(p->full);
    free(p->bare);
    free(p);
}

static void query_clear(struct pep_query *q)
{
    free(q->to);
    free(q->caps_key);
}

static void query_drop(struct pep_state *ps, size_t i)
{
    query_clear(&ps->queries[i]);
    memmove(&ps->queries[i], &ps->queries[i + 1], (ps->nqueries - i - 1) * sizeof *ps->queries);
    ps->nqueries--;
}

void pep_peers_free(struct pep_state *ps)
{
    struct pep_peer *p = ps->peers;
    while (p) {
        struct pep_peer *next = p->next;
        peer_free(p);
        p = next;
    }
    ps->peers = NULL;
    ps->npeers = 0;
    while (ps->nqueries)
        query_drop(ps, ps->nqueries - 1);
    free(ps->queries);
    ps->queries = NULL;
}

static bool query_pending(struct pep_state *ps, const char *key)
{
    for (size_t i = 0; i < ps->nqueries; i++)
        if (strcmp(ps->queries[i].caps_key, key) == 0)
            return true;
    return false;
}

/* XEP-0115 §6.2: disco#info to the resource, on node "node#ver", from the
 * account's bare JID so the answer comes back to the account. */
static void query_send(struct account *acct, struct pep_state *ps, struct pep_peer *p)
{
    if (ps->nqueries == PEP_MAX_QUERIES)
        query_drop(ps, 0); /* the oldest has had its chance */
    if (!ps->queries) {
        ps->queries = calloc(PEP_MAX_QUERIES, sizeof *ps->queries);
        ALDIS_ASSERT(ps->queries != NULL);
    }
    struct pep_query *q = &ps->queries[ps->nqueries++];
    snprintf(q->id, sizeof q->id, QUERY_ID_PREFIX "%u", ++ps->next_query_id);
    q->to = aldis_strdup(p->full);
    q->caps_key = aldis_strdup(p->caps_key);
    p->asked = true;

    struct stanza *iq = stanza_new("iq", NULL);
    xml_set_attr(iq, iq->root, "type", "get");
    xml_set_attr(iq, iq->root, "id", q->id);
    xml_set_attr(iq, iq->root, "from", acct->bare);
    xml_set_attr(iq, iq->root, "to", p->full);
    struct xml_node *query = xml_add_child(iq, iq->root, "query", NS_DISCO_INFO);
    char *node = NULL;
    ALDIS_ASSERT(asprintf(&node, "%s#%s", p->caps_node, p->ver) >= 0);
    xml_set_attr(iq, query, "node", node);
    free(node);
    router_route(iq);
}

/* Ask one not-yet-asked peer having `key`, unless a query is in flight. */
static void query_next(struct account *acct, struct pep_state *ps, const char *key)
{
    if (query_pending(ps, key))
        return;
    for (struct pep_peer *p = ps->peers; p; p = p->next)
        if (!p->caps && !p->asked && p->caps_key && strcmp(p->caps_key, key) == 0) {
            query_send(acct, ps, p);
            return;
        }
}

/* RFC 6121 §4.7.2.3 priority; 0 when absent or unreadable. */
static int presence_priority(const struct stanza *st)
{
    struct xml_node *p = xml_child(st->root, "priority", st->root->ns);
    if (!p)
        return 0;
    char *text = (char *)xml_text(NULL, p);
    int v = atoi(text);
    free(text);
    return v;
}

struct pep_peer *pep_peer_available(struct account *acct, const char *full, bool own,
                                    const struct stanza *presence, bool *is_new)
{
    struct pep_state *ps = state_of(acct);
    *is_new = false;
    /* XEP-0163 §4.3.2: notifications go to resources with a non-negative
     * priority only. */
    if (presence_priority(presence) < 0) {
        pep_peer_gone(acct, full);
        return NULL;
    }
    struct pep_peer *p = pep_peer_find(ps, full);
    if (!p) {
        if (ps->npeers >= PEP_MAX_PEERS)
            return NULL;
        struct jid j;
        char bare[JID_STR_MAX];
        if (jid_parse(full, &j) < 0)
            return NULL;
        p = calloc(1, sizeof *p);
        ALDIS_ASSERT(p != NULL);
        p->full = aldis_strdup(full);
        p->bare = aldis_strdup(jid_bare(&j, bare, sizeof bare));
        p->own = own;
        p->next = ps->peers;
        ps->peers = p;
        ps->npeers++;
        *is_new = true;
        p->want_last = true;
    }
    struct xml_node *c = xml_child(presence->root, "c", NS_CAPS);
    const char *node = c ? xml_attr(c, "node") : NULL;
    const char *ver = c ? xml_attr(c, "ver") : NULL;
    const char *hash = c ? xml_attr(c, "hash") : NULL;
    char *key = NULL;
    if (node && ver && strlen(node) <= CAPS_MAX_STRING && strlen(ver) <= CAPS_MAX_STRING) {
        /* Hashed caps are shared by key; legacy ones (no 'hash') are
         * named by node#ver and never shared. */
        if (hash)
            ALDIS_ASSERT(asprintf(&key, "%s %s", hash, ver) >= 0);
        else
            ALDIS_ASSERT(asprintf(&key, "legacy %s#%s", node, ver) >= 0);
    }
    if ((!key && !p->caps_key) || (key && p->caps_key && strcmp(key, p->caps_key) == 0)) {
        free(key);
        return p; /* same caps as before */
    }
    if (!*is_new && p->caps) {
        /* A caps change: remember what it wanted, so only the nodes it
         * newly asks for get their last item. */
        pep_caps_unref(p->old_caps);
        p->old_caps = caps_ref(p->caps);
        p->want_last = true;
    }
    peer_caps_clear(p);
    if (!key)
        return p;
    p->caps_key = key;
    p->caps_node = aldis_strdup(node);
    p->ver = aldis_strdup(ver);
    p->hash = hash ? aldis_strdup(hash) : NULL;
    if (hash)
        p->caps = cache_get(key);
    if (!p->caps)
        query_next(acct, ps, key);
    return p;
}

void pep_peer_gone(struct account *acct, const char *full)
{
    struct pep_state *ps = state_of(acct);
    for (struct pep_peer **pp = &ps->peers; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->full, full) != 0)
            continue;
        struct pep_peer *p = *pp;
        *pp = p->next;
        ps->npeers--;
        char *key = p->caps && p->caps_key ? NULL : p->caps_key;
        /* A query in flight to it will be answered by nobody: ask another
         * resource with the same caps instead. */
        for (size_t i = 0; key && i < ps->nqueries; i++)
            if (strcmp(ps->queries[i].to, full) == 0) {
                query_drop(ps, i);
                char *k = aldis_strdup(key);
                peer_free(p);
                query_next(acct, ps, k);
                free(k);
                return;
            }
        peer_free(p);
        return;
    }
}

/* Give the features to the peers waiting for `key` (all of them when the
 * result is verified, else only the one that answered) and tell mod_pep. */
static void caps_deliver(struct account *acct, struct pep_state *ps, const char *key,
                         struct pep_caps *caps, const char *only_full)
{
    /* Collect first: pep_caps_resolved sends stanzas but never changes the
     * peer list, still, a stable list is easier to reason about. */
    struct pep_peer *resolved[PEP_MAX_PEERS];
    size_t n = 0;
    for (struct pep_peer *p = ps->peers; p && n < PEP_MAX_PEERS; p = p->next) {
        if (p->caps || !p->caps_key || strcmp(p->caps_key, key) != 0)
            continue;
        if (only_full && strcmp(p->full, only_full) != 0)
            continue;
        p->caps = caps_ref(caps);
        resolved[n++] = p;
    }
    for (size_t i = 0; i < n; i++)
        pep_caps_resolved(acct, resolved[i]);
}

bool pep_caps_iq_result(struct account *acct, struct stanza *iq, const struct jid *from)
{
    const char *id = stanza_id(iq);
    if (!id || strncmp(id, QUERY_ID_PREFIX, strlen(QUERY_ID_PREFIX)) != 0)
        return false;
    struct pep_state *ps = state_of(acct);
    if (!ps)
        return true;
    size_t i;
    for (i = 0; i < ps->nqueries; i++)
        if (strcmp(ps->queries[i].id, id) == 0)
            break;
    char from_full[JID_STR_MAX];
    jid_full(from, from_full, sizeof from_full);
    /* Only the resource asked may answer (anyone may guess an id). */
    if (i == ps->nqueries || strcmp(ps->queries[i].to, from_full) != 0)
        return true;
    char *key = aldis_strdup(ps->queries[i].caps_key);
    query_drop(ps, i);

    const char *type = stanza_type(iq);
    struct xml_node *query = xml_child(iq->root, "query", NS_DISCO_INFO);
    if (type && strcmp(type, "result") == 0 && query) {
        struct pep_caps *caps = caps_from_query(query);
        struct pep_peer *asked = pep_peer_find(ps, from_full);
        bool verified = false;
        if (asked && asked->hash && asked->caps_key && strcmp(asked->caps_key, key) == 0) {
            char *h = pep_caps_hash(query, asked->hash);
            verified = h && strcmp(h, asked->ver) == 0;
            if (!verified)
                log_debug("pep", "%s: caps of %s do not verify (%s, got %s)", acct->bare,
                          from_full, asked->ver, h ? h : "unsupported hash");
            free(h);
        }
        if (verified)
            cache_put(key, caps);
        caps_deliver(acct, ps, key, caps, verified ? NULL : from_full);
        pep_caps_unref(caps);
    }
    /* Whoever still waits for these caps asks next. */
    query_next(acct, ps, key);
    free(key);
    return true;
}

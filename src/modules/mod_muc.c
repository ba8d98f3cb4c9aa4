/* mod_muc.c - XEP-0045 Multi-User Chat as a service domain
 * ("conference.HOST"): the module table, the room table of each worker, the
 * dispatch of every stanza addressed to the service or one of its rooms,
 * loading persistent rooms from the store on first use, and the service's
 * own disco#info and disco#items (its directory of rooms).
 *
 * The core delivers a stanza for room@service[/nick] on
 * worker_owner_of("room@service"), so each room has exactly one owner and
 * needs no locks; stanzas for the bare service domain arrive on
 * worker_owner_of(domain), which keeps the directory of rooms that
 * disco#items lists. Rooms post their changes there (muc_directory_post).
 *
 * A persistent room nobody used for `idle_unload` seconds and with nobody
 * in it leaves memory (its stored form is current: it is written on every
 * change); the next stanza for it loads it again, its history rebuilt from
 * its archive. */
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "aldis/worker.h"
#include "core/router.h"
#include "lib/map.h"
#include "modules/muc.h"

/* Stanzas waiting for a room to come back from the store, per room. */
#define MUC_LOAD_QUEUE_MAX 256

struct muc_options muc_opts = {
    .max_history = 100,
    .history_default = 20,
    .max_occupants = 1000,
    .max_rooms = 10000,
    .logging_default = true,
    .max_vcard_size = 131072,
    .idle_unload = 600,
    .max_rooms_per_user = 100,
    .max_rooms_per_service = 0,
};

/* A stanza kept while its room or directory is loading. */
struct muc_queued {
    struct muc_queued *next;
    struct stanza *st;
    char *to; /* the routed destination */
};

struct muc_loading {
    struct service *svc;
    char *jid;
    struct muc_queued *head, *tail;
    size_t n;
    struct muc_room *room; /* decoded, waiting for its history (not in the table yet) */
};

/* One directory entry: what disco#items says about a room, and who made
 * it (room limits). A room allowed but still locked has an entry that is
 * not public. */
struct muc_dir_entry {
    char *name;
    char *creator; /* bare JID or NULL */
    bool public_room;
    bool persistent;
};

enum dir_state { DIR_UNLOADED = 0, DIR_LOADING, DIR_LOADED };

struct dir_update {
    struct dir_update *next;
    struct service *svc;
    char *jid;
    char *name;
    char *creator;
    bool public_room, persistent, gone;
};

/* A request to create a room, to the directory and back (room limits). */
struct muc_create_req {
    struct muc_create_req *next; /* waiting for the directory's load */
    struct service *svc;
    struct stanza *st; /* the entering presence (ref) */
    char *to;          /* room/nick */
    char *room;        /* bare room JID */
    char *creator;     /* bare JID */
    int room_worker;
    bool allowed;
};

/* A service's directory, on worker_owner_of(service domain). */
struct muc_directory {
    struct service *svc;
    struct map rooms; /* room JID -> struct muc_dir_entry */
    enum dir_state state;
    struct muc_queued *head, *tail; /* disco#items waiting for the load */
    struct dir_update *updates;     /* updates waiting for the load */
    struct muc_create_req *creates; /* creation requests waiting for the load */
};

struct muc_worker {
    struct map rooms;   /* room JID -> struct muc_room (owned here) */
    struct map loading; /* room JID -> struct muc_loading */
    struct map dirs;    /* service domain -> struct muc_directory */
    uv_timer_t idle_timer; /* unloading idle rooms (closed by the core) */
};

static struct muc_worker **workers;
static int nworkers;
static pthread_once_t workers_once = PTHREAD_ONCE_INIT;

static void workers_alloc(void)
{
    nworkers = worker_count();
    if (nworkers < 1)
        nworkers = 1;
    workers = calloc((size_t)nworkers, sizeof *workers);
    ALDIS_ASSERT(workers != NULL);
}

static void idle_tick(uv_timer_t *t);

/* The calling worker's state (made on first use; only this worker writes
 * its slot). */
static struct muc_worker *muc_worker(void)
{
    pthread_once(&workers_once, workers_alloc);
    struct worker *w = worker_current();
    ALDIS_ASSERT(w != NULL);
    int id = worker_id(w);
    ALDIS_ASSERT(id >= 0 && id < nworkers);
    if (!workers[id]) {
        struct muc_worker *mw = calloc(1, sizeof *mw);
        ALDIS_ASSERT(mw != NULL);
        map_init(&mw->rooms, 0);
        map_init(&mw->loading, 0);
        map_init(&mw->dirs, 0);
        workers[id] = mw;
        if (muc_opts.idle_unload > 0) {
            /* looks at twice the rate it unloads at, at most every 30 s;
             * unref'd: it never keeps a stopping loop alive, and the core
             * closes it with the loop */
            uint64_t every = (uint64_t)muc_opts.idle_unload * 500;
            if (every > 30000)
                every = 30000;
            uv_timer_init(worker_loop(w), &mw->idle_timer);
            uv_timer_start(&mw->idle_timer, idle_tick, every, every);
            uv_unref((uv_handle_t *)&mw->idle_timer);
        }
    }
    return workers[id];
}

/* ---- rooms -------------------------------------------------------------- */

struct muc_room *muc_room_lookup(const char *jid)
{
    return map_get(&muc_worker()->rooms, jid);
}

size_t muc_room_count(void)
{
    return muc_worker()->rooms.count;
}

/* A room not yet in the table. */
static struct muc_room *room_new(struct service *svc, const char *jid)
{
    struct muc_room *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->jid = aldis_strdup(jid);
    r->svc = svc;
    muc_config_defaults(&r->cfg);
    ALDIS_ASSERT(RAND_bytes(r->secret, sizeof r->secret) == 1);
    r->last_used = (int64_t)time(NULL);
    return r;
}

struct muc_room *muc_room_create(struct service *svc, const char *jid)
{
    struct muc_room *r = room_new(svc, jid);
    map_put(&muc_worker()->rooms, jid, r);
    return r;
}

void muc_room_free(struct muc_room *r)
{
    if (!r)
        return;
    muc_config_clear(&r->cfg);
    free(r->creator);
    free(r->subject);
    free(r->subject_nick);
    for (size_t i = 0; i < r->naffs; i++) {
        free(r->affs[i].jid);
        free(r->affs[i].reason);
        free(r->affs[i].nick);
    }
    free(r->affs);
    for (struct muc_occupant *o = r->occupants, *next; o; o = next) {
        next = o->next;
        muc_occupant_free(o);
    }
    for (size_t i = 0; i < r->nhistory; i++)
        stanza_unref(r->history[i].st);
    free(r->history);
    for (struct muc_fwd *f = r->fwds, *next; f; f = next) {
        next = f->next;
        free(f->id);
        free(f->orig_id);
        free(f->orig_from);
        free(f->from_nick);
        free(f->to_full);
        free(f);
    }
    if (r->vcard)
        stanza_unref(r->vcard);
    muc_pin_clear(r);
    free(r->jid);
    free(r);
}

void muc_room_remove(struct muc_room *r)
{
    muc_directory_post(r, true);
    map_del(&muc_worker()->rooms, r->jid);
    muc_room_free(r);
}

void muc_room_save(struct muc_room *r)
{
    if (!r->cfg.persistent || r->locked)
        return;
    size_t len;
    char *data = muc_store_encode(r, &len);
    store_kv_put(r->jid, MUC_STORE_KEY, data, len, NULL, NULL);
    free(data);
}

void muc_room_forget(struct muc_room *r)
{
    store_kv_del(r->jid, MUC_STORE_KEY, NULL, NULL);
}

/* ---- loading rooms ------------------------------------------------------- */

static void queue_push(struct muc_queued **head, struct muc_queued **tail, struct stanza *st,
                       const char *to)
{
    struct muc_queued *q = calloc(1, sizeof *q);
    ALDIS_ASSERT(q != NULL);
    q->st = stanza_ref(st);
    q->to = aldis_strdup(to);
    if (*tail)
        (*tail)->next = q;
    else
        *head = q;
    *tail = q;
}

static void queued_free(struct muc_queued *q)
{
    stanza_unref(q->st);
    free(q->to);
    free(q);
}

static void redispatch(struct service *svc, struct muc_queued *q)
{
    struct jid to, from;
    const char *f = stanza_from(q->st);
    if (jid_parse(q->to, &to) < 0 || jid_parse(f ? f : svc->host->domain, &from) < 0)
        return;
    char bare[JID_STR_MAX];
    struct muc_room *r = muc_room_lookup(jid_bare(&to, bare, sizeof bare));
    if (r)
        muc_room_stanza(r, q->st, &to, &from);
    else
        muc_room_absent(svc, q->st, &to, &from);
}

/* The room (if any) is ready: into the table, then everything that
 * waited for it, in order. */
static void room_ready(struct muc_loading *l)
{
    struct muc_worker *mw = muc_worker();
    map_del(&mw->loading, l->jid);
    if (l->room)
        map_put(&mw->rooms, l->jid, l->room);
    for (struct muc_queued *q = l->head, *next; q; q = next) {
        next = q->next;
        redispatch(l->svc, q);
        queued_free(q);
    }
    free(l->jid);
    free(l);
}

/* The archive's last messages become the history again (XEP-0045
 * §7.2.15 after a restart or an unload): messages with a body, not
 * retracted, stamped with their archive time. */
static void history_loaded(void *ud, int err, const struct archive_page *page)
{
    struct muc_loading *l = ud;
    if (err < 0)
        log_warn("muc", "%s: reading the history from the archive failed: %s", l->jid,
                 aldis_strerror(err));
    for (size_t i = 0; err == 0 && i < page->n; i++) {
        const struct archive_item *it = &page->items[i];
        if (it->flags & ARCHIVE_FLAG_RETRACTED)
            continue;
        struct stanza *m = stanza_parse(it->xml, it->len);
        if (m && xml_child(m->root, "body", NULL))
            muc_history_push(l->room, m, it->ts / 1000000);
        if (m)
            stanza_unref(m);
    }
    room_ready(l);
}

static void room_loaded(void *ud, int err, const char *value, size_t len)
{
    struct muc_loading *l = ud;
    if (err == 0 && value) {
        struct muc_room *r = room_new(l->svc, l->jid);
        if (muc_store_decode(r, value, len) < 0) {
            log_warn("muc", "%s: stored room unreadable, ignored", l->jid);
            muc_room_free(r);
        } else {
            l->room = r;
        }
    } else if (err != 0 && err != ALDIS_ENOTFOUND) {
        log_warn("muc", "%s: loading the room failed: %s", l->jid, aldis_strerror(err));
    }
    long n = l->room ? l->room->cfg.history_length : 0;
    if (n > muc_opts.max_history)
        n = muc_opts.max_history;
    if (l->room && muc_room_logging(l->room) && n > 0) {
        struct archive_query q = {.owner = l->jid, .dir = -1, .max = (size_t)n,
                                  .backward = true};
        store_archive_query(&q, history_loaded, l);
        return;
    }
    room_ready(l);
}

/* Persistent rooms with nobody in them, unused for idle_unload seconds,
 * leave memory. Everything about them is stored already (the history in
 * the archive); the directory keeps listing them. */
static void idle_tick(uv_timer_t *t)
{
    (void)t;
    struct muc_worker *mw = muc_worker();
    int64_t now = (int64_t)time(NULL);
    const char *key;
    void *val;
    for (size_t i = 0; map_next(&mw->rooms, &i, &key, &val);) {
        struct muc_room *r = val;
        /* a room whose history is not archived keeps it in memory only:
         * such a room stays, so that newcomers still get its history */
        if (!r->cfg.persistent || r->locked || r->noccupants > 0 || r->nfwds > 0 ||
            now - r->last_used < muc_opts.idle_unload ||
            (r->nhistory > 0 && !muc_room_logging(r)))
            continue;
        log_debug("muc", "%s unloaded (idle)", r->jid);
        map_del(&mw->rooms, key);
        muc_room_free(r);
    }
}

static void room_stanza(struct service *svc, struct stanza *st, const struct jid *to,
                        const struct jid *from)
{
    struct muc_worker *mw = muc_worker();
    char bare[JID_STR_MAX], full[JID_STR_MAX];
    jid_bare(to, bare, sizeof bare);
    struct muc_room *r = map_get(&mw->rooms, bare);
    if (r) {
        r->last_used = (int64_t)time(NULL);
        muc_room_stanza(r, st, to, from);
        return;
    }
    /* Not in memory: it may be a persistent room not used since the
     * start. Everything for it waits for the store's answer, in order. */
    struct muc_loading *l = map_get(&mw->loading, bare);
    if (!l) {
        l = calloc(1, sizeof *l);
        ALDIS_ASSERT(l != NULL);
        l->svc = svc;
        l->jid = aldis_strdup(bare);
        map_put(&mw->loading, bare, l);
        store_kv_get(bare, MUC_STORE_KEY, room_loaded, l);
    } else if (l->n >= MUC_LOAD_QUEUE_MAX) {
        router_bounce(st, "wait", "resource-constraint", NULL);
        return;
    }
    queue_push(&l->head, &l->tail, st, jid_full(to, full, sizeof full));
    l->n++;
}

/* ---- the directory (disco#items of the service) --------------------------- */

static void dir_entry_free(struct muc_dir_entry *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->creator);
    free(e);
}

static void dir_update_free(struct dir_update *u)
{
    free(u->jid);
    free(u->name);
    free(u->creator);
    free(u);
}

static void create_req_free(struct muc_create_req *c)
{
    stanza_unref(c->st);
    free(c->to);
    free(c->room);
    free(c->creator);
    free(c);
}

/* The persistent rooms' entries, so they are listed after a restart
 * before anyone used them. Only this worker writes the key. */
static void dir_save(struct muc_directory *d)
{
    struct stanza *st = stanza_new("rooms", "urn:aldis:muc:0");
    const char *key;
    void *val;
    for (size_t i = 0; map_next(&d->rooms, &i, &key, &val);) {
        struct muc_dir_entry *e = val;
        if (!e->persistent)
            continue;
        struct xml_node *n = xml_add_child(st, st->root, "room", NULL);
        xml_set_attr(st, n, "jid", key);
        if (e->name)
            xml_set_attr(st, n, "name", e->name);
        xml_set_attr(st, n, "public", e->public_room ? "1" : "0");
        if (e->creator)
            xml_set_attr(st, n, "creator", e->creator);
    }
    size_t len;
    char *data = stanza_to_string(st, &len);
    stanza_unref(st);
    store_kv_put(d->svc->domain, MUC_DIRECTORY_KEY, data, len, NULL, NULL);
    free(data);
}

static void dir_apply(struct muc_directory *d, const struct dir_update *u)
{
    struct muc_dir_entry *old = map_get(&d->rooms, u->jid);
    bool was_persistent = old && old->persistent;
    if (u->gone) {
        dir_entry_free(map_del(&d->rooms, u->jid));
    } else {
        struct muc_dir_entry *e = old;
        if (!e) {
            e = calloc(1, sizeof *e);
            ALDIS_ASSERT(e != NULL);
            map_put(&d->rooms, u->jid, e);
        }
        free(e->name);
        e->name = aldis_strdup(u->name);
        if (u->creator) {
            free(e->creator);
            e->creator = aldis_strdup(u->creator);
        }
        e->public_room = u->public_room;
        e->persistent = u->persistent;
    }
    if (was_persistent || (!u->gone && u->persistent))
        dir_save(d);
}

/* XEP-0045 §6.3: the public rooms, with their names. */
static void dir_items_answer(struct muc_directory *d, struct stanza *iq)
{
    struct stanza *reply = stanza_iq_result(iq);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_DISCO_ITEMS);
    const char *key;
    void *val;
    for (size_t i = 0; map_next(&d->rooms, &i, &key, &val);) {
        struct muc_dir_entry *e = val;
        if (!e->public_room)
            continue; /* hidden rooms are not listed */
        struct xml_node *item = xml_add_child(reply, q, "item", NULL);
        xml_set_attr(reply, item, "jid", key);
        char local[JID_STR_MAX];
        snprintf(local, sizeof local, "%s", key);
        char *at = strchr(local, '@');
        if (at)
            *at = '\0';
        xml_set_attr(reply, item, "name", e->name && e->name[0] ? e->name : local);
    }
    router_route(reply);
}

static void create_decide(struct muc_directory *d, struct muc_create_req *c);

static void dir_loaded(void *ud, int err, const char *value, size_t len)
{
    struct muc_directory *d = ud;
    if (err == 0 && value) {
        struct stanza *st = stanza_parse(value, len);
        for (struct xml_node *n = st ? xml_child(st->root, "room", NULL) : NULL; n;
             n = xml_next(n, "room", NULL)) {
            const char *jid = xml_attr(n, "jid");
            if (!jid || map_get(&d->rooms, jid))
                continue;
            struct muc_dir_entry *e = calloc(1, sizeof *e);
            ALDIS_ASSERT(e != NULL);
            e->name = aldis_strdup(xml_attr(n, "name"));
            e->creator = aldis_strdup(xml_attr(n, "creator"));
            const char *pub = xml_attr(n, "public");
            e->public_room = pub && strcmp(pub, "1") == 0;
            e->persistent = true;
            map_put(&d->rooms, jid, e);
        }
        if (st)
            stanza_unref(st);
    } else if (err != 0 && err != ALDIS_ENOTFOUND) {
        log_warn("muc", "%s: loading the room directory failed: %s", d->svc->domain,
                 aldis_strerror(err));
    }
    d->state = DIR_LOADED;
    for (struct dir_update *u = d->updates, *next; u; u = next) {
        next = u->next;
        dir_apply(d, u);
        dir_update_free(u);
    }
    d->updates = NULL;
    for (struct muc_queued *q = d->head, *next; q; q = next) {
        next = q->next;
        dir_items_answer(d, q->st);
        queued_free(q);
    }
    d->head = d->tail = NULL;
    for (struct muc_create_req *c = d->creates, *next; c; c = next) {
        next = c->next;
        create_decide(d, c);
    }
    d->creates = NULL;
}

/* The directory of svc on this worker (the service domain's owner), its
 * stored part loading on first use. */
static struct muc_directory *dir_get(struct service *svc)
{
    struct muc_worker *mw = muc_worker();
    struct muc_directory *d = map_get(&mw->dirs, svc->domain);
    if (!d) {
        d = calloc(1, sizeof *d);
        ALDIS_ASSERT(d != NULL);
        d->svc = svc;
        map_init(&d->rooms, 0);
        map_put(&mw->dirs, svc->domain, d);
    }
    if (d->state == DIR_UNLOADED) {
        d->state = DIR_LOADING;
        store_kv_get(svc->domain, MUC_DIRECTORY_KEY, dir_loaded, d);
    }
    return d;
}

static void dir_on_update(struct worker *w, void *arg)
{
    (void)w;
    struct dir_update *u = arg;
    struct muc_directory *d = dir_get(u->svc);
    if (d->state != DIR_LOADED) {
        /* applied in order once the stored list is in */
        struct dir_update **p = &d->updates;
        while (*p)
            p = &(*p)->next;
        *p = u;
        return;
    }
    dir_apply(d, u);
    dir_update_free(u);
}

void muc_directory_post(struct muc_room *r, bool gone)
{
    if (r->locked && !gone)
        return; /* XEP-0045 §10.1.1: a locked room does not exist for others */
    struct dir_update *u = calloc(1, sizeof *u);
    ALDIS_ASSERT(u != NULL);
    u->svc = r->svc;
    u->jid = aldis_strdup(r->jid);
    u->name = aldis_strdup(r->cfg.name);
    u->creator = aldis_strdup(r->creator);
    u->public_room = r->cfg.public_room;
    u->persistent = r->cfg.persistent;
    u->gone = gone;
    worker_post(worker_owner_of(r->svc->domain), dir_on_update, u);
}

/* ---- room limits: creation goes through the directory ---------------------- */

/* Back on the room's worker with the directory's answer. */
static void create_on_room(struct worker *w, void *arg)
{
    (void)w;
    struct muc_create_req *c = arg;
    struct jid to, from;
    const char *f = stanza_from(c->st);
    if (jid_parse(c->to, &to) < 0 || !f || jid_parse(f, &from) < 0)
        goto out;
    if (muc_room_lookup(c->room) || map_get(&muc_worker()->loading, c->room)) {
        /* made meanwhile by someone else's request: enter it as usual */
        room_stanza(c->svc, c->st, &to, &from);
    } else if (!c->allowed) {
        router_bounce(c->st, "wait", "policy-violation", "Too many rooms");
    } else if (muc_room_count() >= (size_t)muc_opts.max_rooms) {
        router_bounce(c->st, "wait", "resource-constraint", NULL);
        /* the directory counted it: take it back */
        struct dir_update *u = calloc(1, sizeof *u);
        ALDIS_ASSERT(u != NULL);
        u->svc = c->svc;
        u->jid = aldis_strdup(c->room);
        u->gone = true;
        worker_post(worker_owner_of(c->svc->domain), dir_on_update, u);
    } else {
        muc_room_create_for(c->svc, c->st, &to, &from);
    }
out:
    create_req_free(c);
}

/* On the directory's worker: count, decide, and hold the place of an
 * allowed room (a hidden entry) so that the next request counts it even
 * while it is locked. */
static void create_decide(struct muc_directory *d, struct muc_create_req *c)
{
    c->allowed = true;
    if (!map_get(&d->rooms, c->room)) {
        long mine = 0, all = 0;
        const char *key;
        void *val;
        for (size_t i = 0; map_next(&d->rooms, &i, &key, &val);) {
            const struct muc_dir_entry *e = val;
            all++;
            mine += e->creator && strcmp(e->creator, c->creator) == 0;
        }
        if ((muc_opts.max_rooms_per_user > 0 && mine >= muc_opts.max_rooms_per_user) ||
            (muc_opts.max_rooms_per_service > 0 && all >= muc_opts.max_rooms_per_service)) {
            c->allowed = false;
            log_info("muc", "%s may not create %s: room limit (%ld of theirs, %ld in all)",
                     c->creator, c->room, mine, all);
        } else {
            struct muc_dir_entry *e = calloc(1, sizeof *e);
            ALDIS_ASSERT(e != NULL);
            e->creator = aldis_strdup(c->creator);
            map_put(&d->rooms, c->room, e);
        }
    }
    worker_post(c->room_worker, create_on_room, c);
}

static void create_on_directory(struct worker *w, void *arg)
{
    (void)w;
    struct muc_create_req *c = arg;
    struct muc_directory *d = dir_get(c->svc);
    if (d->state != DIR_LOADED) {
        struct muc_create_req **p = &d->creates;
        while (*p)
            p = &(*p)->next;
        *p = c;
        return;
    }
    create_decide(d, c);
}

void muc_creation_ask(struct service *svc, struct stanza *st, const struct jid *to,
                      const struct jid *from)
{
    char full[JID_STR_MAX], bare[JID_STR_MAX], creator[JID_STR_MAX];
    struct muc_create_req *c = calloc(1, sizeof *c);
    ALDIS_ASSERT(c != NULL);
    c->svc = svc;
    c->st = stanza_ref(st);
    c->to = aldis_strdup(jid_full(to, full, sizeof full));
    c->room = aldis_strdup(jid_bare(to, bare, sizeof bare));
    c->creator = aldis_strdup(jid_bare(from, creator, sizeof creator));
    c->room_worker = worker_id(worker_current());
    worker_post(worker_owner_of(svc->domain), create_on_directory, c);
}

/* ---- the service itself --------------------------------------------------- */

static const char *const muc_service_features[] = {
    NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_MUC_UNIQUE, NS_PING, NULL,
};

/* XEP-0045 §6.1, §6.2: the service is a conference/text entity speaking
 * the muc protocol. */
static void service_disco_info(struct stanza *st)
{
    struct stanza *reply = stanza_iq_result(st);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_DISCO_INFO);
    struct xml_node *id = xml_add_child(reply, q, "identity", NULL);
    xml_set_attr(reply, id, "category", "conference");
    xml_set_attr(reply, id, "type", "text");
    xml_set_attr(reply, id, "name", "Chatrooms");
    for (const char *const *f = muc_service_features; *f; f++) {
        struct xml_node *fe = xml_add_child(reply, q, "feature", NULL);
        xml_set_attr(reply, fe, "var", *f);
    }
    router_route(reply);
}

static void service_stanza(struct service *svc, struct stanza *st)
{
    if (strcmp(stanza_name(st), "iq") != 0) {
        /* Nothing is served by messages to the service itself; presence
         * is dropped. */
        if (strcmp(stanza_name(st), "message") == 0)
            router_bounce(st, "cancel", "service-unavailable", NULL);
        return;
    }
    const char *type = stanza_type(st);
    if (!type || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
        return;
    struct xml_node *payload = xml_first_elem(st->root);
    bool get = strcmp(type, "get") == 0;
    bool info = payload && xml_is(payload, "query", NS_DISCO_INFO);
    bool items = payload && xml_is(payload, "query", NS_DISCO_ITEMS);
    if ((info || items) && (!get || xml_attr(payload, "node"))) {
        router_bounce(st, "cancel", get ? "item-not-found" : "feature-not-implemented", NULL);
    } else if (info) {
        service_disco_info(st);
    } else if (items) {
        struct muc_directory *d = dir_get(svc);
        if (d->state == DIR_LOADED)
            dir_items_answer(d, st);
        else
            queue_push(&d->head, &d->tail, st, svc->domain);
    } else if (get && payload && xml_is(payload, "unique", NS_MUC_UNIQUE)) {
        /* XEP-0045 §10.1.4: a room name nobody has; 96 random bits make a
         * collision with an existing or future room negligible */
        char name[40];
        muc_random_id(name, sizeof name);
        struct stanza *reply = stanza_iq_result(st);
        struct xml_node *u = xml_add_child(reply, reply->root, "unique", NS_MUC_UNIQUE);
        xml_add_text(reply, u, name, strlen(name));
        router_route(reply);
    } else if (get && payload && xml_is(payload, "ping", NS_PING)) {
        router_route(stanza_iq_result(st)); /* XEP-0199 §4.2 */
    } else {
        router_bounce(st, "cancel", "service-unavailable", NULL);
    }
}

static void muc_stanza(struct service *svc, struct stanza *st, const struct jid *to,
                       const struct jid *from)
{
    if (to->local) {
        room_stanza(svc, st, to, from);
    } else if (to->resource) {
        router_bounce(st, "cancel", "service-unavailable", NULL); /* nothing lives there */
    } else {
        service_stanza(svc, st);
    }
}

/* ---- lifecycle ------------------------------------------------------------ */

static int muc_init(const struct config *cfg, char *err, size_t errlen)
{
    int rc;
    if ((rc = config_module_int(cfg, "muc", "max_history", 100, 0, 10000, &muc_opts.max_history,
                                err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "muc", "history_length", 20, 0, 10000,
                                &muc_opts.history_default, err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "muc", "max_occupants", 1000, 1, 1000000,
                                &muc_opts.max_occupants, err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "muc", "max_rooms", 10000, 1, 10000000, &muc_opts.max_rooms,
                                err, errlen)) < 0 ||
        (rc = config_module_bool(cfg, "muc", "logging_default", true, &muc_opts.logging_default,
                                 err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "muc", "max_vcard_size", 131072, 0, 16 * 1024 * 1024,
                                &muc_opts.max_vcard_size, err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "muc", "idle_unload", 600, 0, 86400, &muc_opts.idle_unload,
                                err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "muc", "max_rooms_per_user", 100, 0, 10000000,
                                &muc_opts.max_rooms_per_user, err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "muc", "max_rooms_per_service", 0, 0, 100000000,
                                &muc_opts.max_rooms_per_service, err, errlen)) < 0)
        return rc;
    if (muc_opts.history_default > muc_opts.max_history)
        muc_opts.history_default = muc_opts.max_history;
    return 0;
}

/* After the workers stopped: free what every worker held. */
static void muc_shutdown(void)
{
    for (int i = 0; workers && i < nworkers; i++) {
        struct muc_worker *mw = workers[i];
        if (!mw)
            continue;
        const char *key;
        void *val;
        for (size_t it = 0; map_next(&mw->rooms, &it, &key, &val);)
            muc_room_free(val);
        for (size_t it = 0; map_next(&mw->loading, &it, &key, &val);) {
            struct muc_loading *l = val;
            muc_room_free(l->room);
            for (struct muc_queued *q = l->head, *next; q; q = next) {
                next = q->next;
                queued_free(q);
            }
            free(l->jid);
            free(l);
        }
        for (size_t it = 0; map_next(&mw->dirs, &it, &key, &val);) {
            struct muc_directory *d = val;
            const char *k2;
            void *v2;
            for (size_t j = 0; map_next(&d->rooms, &j, &k2, &v2);)
                dir_entry_free(v2);
            map_free(&d->rooms);
            for (struct muc_queued *q = d->head, *next; q; q = next) {
                next = q->next;
                queued_free(q);
            }
            for (struct dir_update *u = d->updates, *next; u; u = next) {
                next = u->next;
                dir_update_free(u);
            }
            for (struct muc_create_req *c = d->creates, *next; c; c = next) {
                next = c->next;
                create_req_free(c);
            }
            free(d);
        }
        map_free(&mw->rooms);
        map_free(&mw->loading);
        map_free(&mw->dirs);
        free(mw);
        workers[i] = NULL;
    }
}

static const struct hook_row muc_hooks[] = {{0}};
static const struct iq_handler muc_iq[] = {{0}};

/* Server shutdown, on each worker while streams are open: the rooms this
 * worker owns tell their occupants (status 332). A worker that never held
 * a room has no state and nothing to say. */
static bool muc_worker_stopping(void)
{
    struct worker *w = worker_current();
    int id = w ? worker_id(w) : -1;
    pthread_once(&workers_once, workers_alloc);
    if (id < 0 || id >= nworkers || !workers[id]) /* only this worker writes its slot */
        return false;
    const char *key;
    void *val;
    size_t n = 0;
    for (size_t i = 0; map_next(&workers[id]->rooms, &i, &key, &val);) {
        struct muc_room *r = val;
        if (r->noccupants)
            n++;
        muc_room_shutdown_notice(r);
    }
    if (n)
        log_info("muc", "shutdown: told the occupants of %zu room(s)", n);
    return n > 0;
}

struct module mod_muc = {
    .name = "muc",
    .hooks = muc_hooks,
    .iq_handlers = muc_iq,
    .init = muc_init,
    .worker_stopping = muc_worker_stopping,
    .shutdown = muc_shutdown,
    .service_subdomain = "conference",
    .service_stanza = muc_stanza,
};

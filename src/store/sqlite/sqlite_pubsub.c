/* sqlite_pubsub.c - the SQLite half of PubSub storage (backend_pubsub.h):
 * nodes with an opaque configuration and items ordered by a per-node
 * sequence number, so "newest" survives republishing an id. Statements are
 * prepared per call: PubSub writes are rare next to the cost of a commit. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "aldis/error.h"
#include "store/backend_pubsub.h"

/* Applied by sqlite_store.c as schema version 2. A node is keyed by its
 * service (a bare JID for PEP) and name; items go with their node (ON
 * DELETE CASCADE, foreign keys are on). */
const char sqlite__pubsub_schema[] =
    "CREATE TABLE pubsub_nodes ("
    " service TEXT NOT NULL,"
    " node TEXT NOT NULL,"
    " config TEXT NOT NULL,"
    " PRIMARY KEY (service, node));"
    "CREATE TABLE pubsub_items ("
    " service TEXT NOT NULL,"
    " node TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " publisher TEXT,"
    " stamp INTEGER NOT NULL,"
    " xml BLOB NOT NULL,"
    " PRIMARY KEY (service, node, id),"
    " FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node)"
    "  ON DELETE CASCADE);"
    "CREATE INDEX pubsub_items_seq ON pubsub_items (service, node, seq);";

/* A prepared statement, or NULL after logging the failure. */
static sqlite3_stmt *ps_prepare(struct store_backend *b, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sqlite__db(b), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite__fail(b, "pubsub prepare");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static void ps_bind_texts(sqlite3_stmt *st, const char *a, const char *b, const char *c)
{
    const char *v[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (v[i])
            sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
}

/* Run a statement without result rows on up to three text parameters;
 * *changes gets the number of rows touched when not NULL. */
static int ps_exec(struct store_backend *b, const char *sql, const char *p1, const char *p2,
                   const char *p3, int *changes)
{
    sqlite3_stmt *st = ps_prepare(b, sql);
    if (!st)
        return ALDIS_ESTORE;
    ps_bind_texts(st, p1, p2, p3);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqlite__fail(b, "pubsub write");
    if (rc == 0 && changes)
        *changes = sqlite3_changes(sqlite__db(b));
    sqlite3_finalize(st);
    return rc;
}

static int ps_tx(struct store_backend *b, const char *sql)
{
    return sqlite3_exec(sqlite__db(b), sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : sqlite__fail(b, sql);
}

static int ps_tx_end(struct store_backend *b, int rc)
{
    if (rc == 0)
        rc = ps_tx(b, "COMMIT");
    if (rc != 0 && sqlite3_get_autocommit(sqlite__db(b)) == 0)
        sqlite3_exec(sqlite__db(b), "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void backend_pubsub_nodes_free(struct pubsub_node_rec *nodes, size_t n)
{
    if (!nodes)
        return;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < nodes[i].nitems; j++) {
            free(nodes[i].items[j].id);
            free(nodes[i].items[j].publisher);
            free(nodes[i].items[j].xml);
        }
        free(nodes[i].items);
        free(nodes[i].node);
        free(nodes[i].config);
    }
    free(nodes);
}

static char *col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

/* Nodes first (by name), then every item in (node, seq) order, appended
 * to its node found by a moving cursor: both lists are sorted the same. */
static int sqlite_pubsub_load(struct store_backend *b, const char *service,
                              struct pubsub_node_rec **nodes_out, size_t *n_out)
{
    struct pubsub_node_rec *nodes = NULL;
    size_t n = 0, cap = 0, cur = 0;
    int rc = 0, step;
    sqlite3_stmt *st = ps_prepare(b, "SELECT node, config FROM pubsub_nodes"
                                     " WHERE service = ?1 ORDER BY node");
    if (!st)
        return ALDIS_ESTORE;
    ps_bind_texts(st, service, NULL, NULL);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct pubsub_node_rec *grown = realloc(nodes, ncap * sizeof *grown);
            if (!grown) {
                rc = ALDIS_ENOMEM;
                goto out;
            }
            nodes = grown;
            cap = ncap;
        }
        memset(&nodes[n], 0, sizeof nodes[n]);
        nodes[n].node = col_dup(st, 0);
        nodes[n].config = col_dup(st, 1);
        n++;
        if (!nodes[n - 1].node || !nodes[n - 1].config) {
            rc = ALDIS_ENOMEM;
            goto out;
        }
    }
    if (step != SQLITE_DONE) {
        rc = sqlite__fail(b, "pubsub load");
        goto out;
    }
    sqlite3_finalize(st);
    st = ps_prepare(b, "SELECT node, id, publisher, stamp, xml FROM pubsub_items"
                       " WHERE service = ?1 ORDER BY node, seq");
    if (!st) {
        rc = ALDIS_ESTORE;
        goto out;
    }
    ps_bind_texts(st, service, NULL, NULL);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *node = (const char *)sqlite3_column_text(st, 0);
        while (cur < n && node && strcmp(nodes[cur].node, node) < 0)
            cur++;
        if (cur == n || !node || strcmp(nodes[cur].node, node) != 0)
            continue; /* cannot happen with the foreign key; skip it */
        struct pubsub_node_rec *nd = &nodes[cur];
        struct pubsub_item_rec *grown = realloc(nd->items, (nd->nitems + 1) * sizeof *grown);
        if (!grown) {
            rc = ALDIS_ENOMEM;
            goto out;
        }
        nd->items = grown;
        struct pubsub_item_rec *it = &nd->items[nd->nitems++];
        memset(it, 0, sizeof *it);
        it->id = col_dup(st, 1);
        it->publisher = col_dup(st, 2);
        it->stamp = sqlite3_column_int64(st, 3);
        size_t len = (size_t)sqlite3_column_bytes(st, 4);
        const void *xml = sqlite3_column_blob(st, 4);
        it->xml = malloc(len + 1);
        if (!it->id || !it->xml) {
            rc = ALDIS_ENOMEM;
            goto out;
        }
        if (len)
            memcpy(it->xml, xml, len);
        it->xml[len] = '\0';
        it->len = len;
    }
    if (step != SQLITE_DONE)
        rc = sqlite__fail(b, "pubsub load");
out:
    sqlite3_finalize(st);
    if (rc != 0) {
        backend_pubsub_nodes_free(nodes, n);
        return rc;
    }
    *nodes_out = nodes;
    *n_out = n;
    return 0;
}

static int sqlite_pubsub_node_put(struct store_backend *b, const char *service,
                                  const char *node, const char *config)
{
    return ps_exec(b,
                   "INSERT INTO pubsub_nodes (service, node, config) VALUES (?1, ?2, ?3)"
                   " ON CONFLICT (service, node) DO UPDATE SET config = excluded.config",
                   service, node, config, NULL);
}

static int sqlite_pubsub_node_del(struct store_backend *b, const char *service,
                                  const char *node)
{
    int changes = 0;
    int rc = ps_exec(b, "DELETE FROM pubsub_nodes WHERE service = ?1 AND node = ?2", service,
                     node, NULL, &changes);
    return rc ? rc : changes ? 0 : ALDIS_ENOTFOUND;
}

static int sqlite_pubsub_item_put(struct store_backend *b, const char *service,
                                  const char *node, const char *id, const char *xml, size_t len,
                                  const char *publisher, int64_t max_items)
{
    int rc = ps_tx(b, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    sqlite3_stmt *st = ps_prepare(
        b, "INSERT INTO pubsub_items (service, node, id, seq, publisher, stamp, xml)"
           " SELECT ?1, ?2, ?3, coalesce(max(seq), 0) + 1, ?4, strftime('%s','now'), ?5"
           " FROM pubsub_items WHERE service = ?1 AND node = ?2"
           " ON CONFLICT (service, node, id) DO UPDATE SET seq = excluded.seq,"
           " publisher = excluded.publisher, stamp = excluded.stamp, xml = excluded.xml");
    if (!st) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    ps_bind_texts(st, service, node, id);
    if (publisher)
        sqlite3_bind_text(st, 4, publisher, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 5, len ? xml : "", len, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = ALDIS_ENOTFOUND;
    else if (step != SQLITE_DONE)
        rc = sqlite__fail(b, "pubsub item put");
    sqlite3_finalize(st);
    if (rc || max_items <= 0)
        goto end;
    /* Keep the newest max_items (XEP-0060 §7.1.2: the oldest go first). */
    st = ps_prepare(b, "DELETE FROM pubsub_items WHERE service = ?1 AND node = ?2"
                       " AND seq NOT IN (SELECT seq FROM pubsub_items"
                       "  WHERE service = ?1 AND node = ?2 ORDER BY seq DESC LIMIT ?3)");
    if (!st) {
        rc = ALDIS_ESTORE;
        goto end;
    }
    ps_bind_texts(st, service, node, NULL);
    sqlite3_bind_int64(st, 3, max_items);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = sqlite__fail(b, "pubsub item trim");
    sqlite3_finalize(st);
end:
    return ps_tx_end(b, rc);
}

static int sqlite_pubsub_item_del(struct store_backend *b, const char *service,
                                  const char *node, const char *id)
{
    int changes = 0;
    int rc = ps_exec(b, "DELETE FROM pubsub_items WHERE service = ?1 AND node = ?2 AND id = ?3",
                     service, node, id, &changes);
    return rc ? rc : changes ? 0 : ALDIS_ENOTFOUND;
}

static int sqlite_pubsub_purge(struct store_backend *b, const char *service, const char *node)
{
    return ps_exec(b, "DELETE FROM pubsub_items WHERE service = ?1 AND node = ?2", service,
                   node, NULL, NULL);
}

/* Called inside sqlite_user_del's transaction: a deleted account's PEP
 * service (service = its bare JID) goes with it. */
int sqlite__pubsub_owner_del(struct store_backend *b, const char *bare)
{
    return ps_exec(b, "DELETE FROM pubsub_nodes WHERE service = ?1", bare, NULL, NULL, NULL);
}

const struct store_pubsub_ops sqlite_pubsub_ops = {
    .load = sqlite_pubsub_load,
    .node_put = sqlite_pubsub_node_put,
    .node_del = sqlite_pubsub_node_del,
    .item_put = sqlite_pubsub_item_put,
    .item_del = sqlite_pubsub_item_del,
    .purge = sqlite_pubsub_purge,
};

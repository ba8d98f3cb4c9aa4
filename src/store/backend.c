/* backend.c - choosing a storage backend by name, and freeing the result
 * structures every backend hands out (they are plain malloc'd memory, the
 * same for all backends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "store/backend.h"

struct store_backend *backend_open(const char *name, const char *path,
                                   char *err, size_t errlen)
{
    if (!name || strcmp(name, "sqlite") == 0)
        return sqlite_backend_open(path, err, errlen);
    snprintf(err, errlen,
             "storage backend '%s' is not available (this build has: sqlite)",
             name);
    return NULL;
}

static void roster_item_clear(struct roster_item *it)
{
    free(it->jid);
    free(it->name);
    for (size_t g = 0; g < it->ngroups; g++)
        free(it->groups[g]);
    free(it->groups);
    free(it->pending_stanza);
    memset(it, 0, sizeof *it);
}

void backend_roster_items_free(struct roster_item *items, size_t n)
{
    if (!items)
        return;
    for (size_t i = 0; i < n; i++)
        roster_item_clear(&items[i]);
    free(items);
}

void backend_offline_msgs_free(struct offline_msg *msgs, size_t n)
{
    if (!msgs)
        return;
    for (size_t i = 0; i < n; i++)
        free(msgs[i].xml);
    free(msgs);
}

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : ALDIS_ENOMEM;
}

int backend_roster_item_copy(struct roster_item *dst,
                             const struct roster_item *src)
{
    memset(dst, 0, sizeof *dst);
    dst->subscription = src->subscription;
    dst->ask = src->ask;
    dst->pending_in = src->pending_in;
    dst->approved = src->approved;
    if (dup_opt(&dst->jid, src->jid) || dup_opt(&dst->name, src->name) ||
        dup_opt(&dst->pending_stanza, src->pending_stanza))
        goto fail;
    if (src->ngroups > 0) {
        dst->groups = calloc(src->ngroups, sizeof *dst->groups);
        if (!dst->groups)
            goto fail;
        for (size_t g = 0; g < src->ngroups; g++) {
            /* Count each group as it is copied so a failure frees exactly
             * what was made. */
            if (dup_opt(&dst->groups[g], src->groups[g]))
                goto fail;
            dst->ngroups = g + 1;
        }
    }
    return 0;
fail:
    roster_item_clear(dst);
    return ALDIS_ENOMEM;
}

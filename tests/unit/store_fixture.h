/* store_fixture.h - the cmocka fixture shared by the store unit tests: a
 * fresh SQLite backend in a private temporary directory, removed after. */
#ifndef ALDIS_TEST_STORE_FIXTURE_H
#define ALDIS_TEST_STORE_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/backend.h"

struct fixture {
    char dir[256];
    char path[300];
    struct store_backend *b;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/aldis-test-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/aldis.db", f->dir);
    f->b = sqlite_backend_open(f->path, err, sizeof err);
    if (!f->b) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char p[320];
    backend_close(f->b);
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

#endif

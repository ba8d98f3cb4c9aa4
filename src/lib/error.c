/* error.c - messages for the ALDIS_E* table, the always-on assertion and
 * the allocation helper that relies on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"

const char *aldis_strerror(int code)
{
    switch (code) {
    case ALDIS_OK:
        return "success";
#define ALDIS_ERR_CASE(name, value, msg)                                       \
    case ALDIS_##name:                                                         \
        return msg;
        ALDIS_ERRORS(ALDIS_ERR_CASE)
#undef ALDIS_ERR_CASE
    }
    return "unknown error";
}

_Noreturn void aldis_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "aldis: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

char *aldis_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    ALDIS_ASSERT(d != NULL);
    return d;
}

/* error.c - messages for the ALDIS_E* table and the always-on assertion. */
#include <stdio.h>
#include <stdlib.h>

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

/* error.h - the one table of Aldis error codes and their messages.
 * Functions return 0 or a negative ALDIS_E* code. */
#ifndef ALDIS_ERROR_H
#define ALDIS_ERROR_H

#define ALDIS_ERRORS(X)                                                        \
    X(ENOMEM, -1, "out of memory")                                             \
    X(EINVAL, -2, "invalid argument")                                          \
    X(ENOTFOUND, -3, "not found")                                              \
    X(EEXIST, -4, "already exists")                                            \
    X(EIO, -5, "input/output error")                                           \
    X(ESTORE, -6, "storage error")                                             \
    X(ELIMIT, -7, "limit exceeded")                                            \
    X(EPROTO, -8, "protocol error")                                            \
    X(ECONFIG, -9, "configuration error")                                      \
    X(EAUTH, -10, "authentication failed")                                     \
    X(ENOTHANDLED, -11, "not handled")                                         \
    X(ECLOSED, -12, "closed")                                                  \
    X(ETLS, -13, "TLS error")                                                  \
    X(EEXPIRED, -14, "expired")

enum aldis_error {
#define ALDIS_ERR_ENUM(name, code, msg) ALDIS_##name = (code),
    ALDIS_OK = 0,
    ALDIS_ERRORS(ALDIS_ERR_ENUM)
#undef ALDIS_ERR_ENUM
};

/* Human-readable message for an ALDIS_E* code (never NULL). */
const char *aldis_strerror(int code);

/* Always-on assertion for programmer errors; never for network input. */
#define ALDIS_ASSERT(cond)                                                     \
    do {                                                                       \
        if (!(cond))                                                           \
            aldis_assert_fail(#cond, __FILE__, __LINE__);                      \
    } while (0)
_Noreturn void aldis_assert_fail(const char *expr, const char *file, int line);

/* strdup that treats running out of memory as fatal (like every allocation
 * here); NULL for NULL. */
char *aldis_strdup(const char *s);

#endif

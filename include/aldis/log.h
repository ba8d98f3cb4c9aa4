/* log.h - levelled logging to stderr, thread-safe (one write per line). */
#ifndef ALDIS_LOG_H
#define ALDIS_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Read by every thread, changed on SIGHUP: atomic (a plain load on x86). */
extern _Atomic enum log_level log_threshold;

/* Parse "error"/"warn"/"info"/"debug"; returns -1 when unknown. */
int log_level_parse(const char *name);
void log_write(enum log_level level, const char *area, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(area, ...) log_write(LOG_ERROR, area, __VA_ARGS__)
#define log_warn(area, ...) log_write(LOG_WARN, area, __VA_ARGS__)
#define log_info(area, ...)                                                    \
    do {                                                                       \
        if (log_threshold >= LOG_INFO)                                         \
            log_write(LOG_INFO, area, __VA_ARGS__);                            \
    } while (0)
#define log_debug(area, ...)                                                   \
    do {                                                                       \
        if (log_threshold >= LOG_DEBUG)                                        \
            log_write(LOG_DEBUG, area, __VA_ARGS__);                           \
    } while (0)

#endif

/* log.h - tiny levelled logger. The level test happens before the arguments are
 * evaluated. In the foreground it writes plain lines to stderr; a daemon may switch it
 * to JSON lines with cs_log_set_json(). */
#ifndef CS_UTIL_LOG_H
#define CS_UTIL_LOG_H

#include <stdarg.h>

enum cs_log_level { CS_LOG_DEBUG = 0, CS_LOG_INFO = 1, CS_LOG_WARN = 2, CS_LOG_ERROR = 3 };

extern int cs_log_level;
void cs_log_set_json(int on);
void cs_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For messages a peer can cause at will (a library's line per failed connection):
 * at most CS_LOG_LIMIT_PER_SECOND are written each second, as "source: message"; the
 * rest are counted, and the count is written before the next message that gets
 * through. A trailing newline is dropped. */
#define CS_LOG_LIMIT_PER_SECOND 10
void cs_log_vlimited(int level, const char *source, const char *fmt, va_list ap);
/* The same at warn level, in the shape of libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER
 * (source: the name to put before each message, as its closure). */
void cs_log_library(void *source, const char *fmt, va_list ap);

#define cs_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= cs_log_level) cs_log_write((level), __VA_ARGS__);                           \
    } while (0)
#define cs_debug(...) cs_log(CS_LOG_DEBUG, __VA_ARGS__)
#define cs_info(...) cs_log(CS_LOG_INFO, __VA_ARGS__)
#define cs_warn(...) cs_log(CS_LOG_WARN, __VA_ARGS__)
#define cs_error(...) cs_log(CS_LOG_ERROR, __VA_ARGS__)

#endif

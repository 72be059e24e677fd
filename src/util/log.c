/* log.c - levelled logging to stderr, plain or JSON lines. */
#include "util/log.h"

#include "util/iso_time.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cs_log_level = CS_LOG_INFO;
static int log_json;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void cs_log_set_json(int on)
{
    log_json = on;
}

void cs_log_write(int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[64];
    cs_iso_time((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, when);
    const char *lv = level_names[level < 0 ? 0 : level > 3 ? 3 : level];

    pthread_mutex_lock(&log_lock);
    if (log_json) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "time", when, "level", lv, "msg", msg);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (line) fprintf(stderr, "%s\n", line);
        free(line);
        json_decref(o);
    } else {
        fprintf(stderr, "%s %s %s\n", when, lv, msg);
    }
    pthread_mutex_unlock(&log_lock);
}

/* The window of cs_log_vlimited(): messages written this second, and those held back
 * since the last report. */
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t limit_second;
static int limit_written;
static long limit_dropped;

void cs_log_vlimited(int level, const char *source, const char *fmt, va_list ap)
{
    if (level < cs_log_level) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    time_t now = time(NULL);
    long dropped = 0;
    int write = 0;
    pthread_mutex_lock(&limit_lock);
    if (now != limit_second) {
        limit_second = now;
        limit_written = 0;
        dropped = limit_dropped;
        limit_dropped = 0;
    }
    if (limit_written < CS_LOG_LIMIT_PER_SECOND) {
        limit_written++;
        write = 1;
    } else {
        limit_dropped++;
    }
    pthread_mutex_unlock(&limit_lock);
    if (dropped) cs_log_write(level, "%s: %ld more messages were not logged (over %d a second)", source, dropped, CS_LOG_LIMIT_PER_SECOND);
    if (write) cs_log_write(level, "%s: %s", source, msg);
}

void cs_log_library(void *source, const char *fmt, va_list ap)
{
    cs_log_vlimited(CS_LOG_WARN, source, fmt, ap);
}

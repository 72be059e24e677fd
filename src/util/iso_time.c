/* iso_time.c - RFC 3339 UTC times with milliseconds (see iso_time.h). Written digit
 * by digit: this runs several times for every decision, and snprintf's format parsing
 * was a visible part of it. */
#include "util/iso_time.h"

#include <stdio.h>
#include <time.h>

static char *digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

size_t cs_iso_time(long long ms, char out[64])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int year = tm.tm_year + 1900;
    if (ms < 0 || year > 9999) {
        int n = snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
        return n < 0 ? 0 : (size_t)n;
    }
    char *p = digits(out, year, 4);
    *p++ = '-';
    p = digits(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = digits(p, tm.tm_sec, 2);
    *p++ = '.';
    p = digits(p, (int)(ms % 1000), 3);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

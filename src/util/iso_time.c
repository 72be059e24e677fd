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

/* The proleptic Gregorian date of a day count since 1970-01-01 (days >= 0), by the
 * usual era arithmetic: 400-year eras of 146,097 days, years counted from March so
 * that the leap day is the last day of the year. gmtime_r would do the same, but
 * glibc takes its time-zone lock on every call, from every thread. */
static void civil_from_days(long long days, int *year, int *month, int *day)
{
    long long z = days + 719468; /* days since 0000-03-01 */
    long long era = z / 146097;
    long long doe = z - era * 146097;                                      /* [0, 146096] */
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    long long mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

size_t cs_iso_time(long long ms, char out[64])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm = {0};
    int year = 0;
    if (ms >= 0 && ms < CS_ISO_TIME_FAST_MAX) {
        long long secs = ms / 1000, days = secs / 86400, rem = secs % 86400;
        civil_from_days(days, &year, &tm.tm_mon, &tm.tm_mday);
        tm.tm_mon -= 1;
        tm.tm_hour = (int)(rem / 3600);
        tm.tm_min = (int)(rem / 60 % 60);
        tm.tm_sec = (int)(rem % 60);
    } else {
        gmtime_r(&t, &tm);
        year = tm.tm_year + 1900;
    }
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

void cs_utc_hour_weekday(long long ms, int *hour, int *weekday)
{
    long long secs = ms / 1000;
    *hour = (int)(secs % 86400 / 3600);
    *weekday = (int)((secs / 86400 + 4) % 7); /* 1970-01-01 was a Thursday */
}

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

/* 10000-01-01T00:00:00Z in ms: from the epoch up to here the text is written digit by
 * digit; outside, the fields are written the way snprintf writes them. */
#define FAST_MAX 253402300800000LL

/* Days since 1970-01-01 and the second of that day, rounded down (also before 1970). */
static void utc_split(long long ms, long long *days, long long *second_of_day)
{
    long long secs = ms / 1000 - (ms % 1000 < 0);
    *days = secs / 86400 - (secs % 86400 < 0);
    *second_of_day = secs - *days * 86400;
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

/* Times before the epoch or after 9999 (never from the clock). */
static size_t iso_time_outside(long long ms, char out[64])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return n < 0 ? 0 : (size_t)n;
}

size_t cs_iso_time(long long ms, char out[64])
{
    if (ms < 0 || ms >= FAST_MAX) return iso_time_outside(ms, out);
    long long days, sod;
    utc_split(ms, &days, &sod);
    int year, month, day;
    civil_from_days(days, &year, &month, &day);
    char *p = digits(out, year, 4);
    *p++ = '-';
    p = digits(p, month, 2);
    *p++ = '-';
    p = digits(p, day, 2);
    *p++ = 'T';
    p = digits(p, (int)(sod / 3600), 2);
    *p++ = ':';
    p = digits(p, (int)(sod / 60 % 60), 2);
    *p++ = ':';
    p = digits(p, (int)(sod % 60), 2);
    *p++ = '.';
    p = digits(p, (int)(ms % 1000), 3);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

void cs_utc_hour_weekday(long long ms, int *hour, int *weekday)
{
    long long days, sod;
    utc_split(ms, &days, &sod);
    *hour = (int)(sod / 3600);
    *weekday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
}

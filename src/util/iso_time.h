/* iso_time.h - wall-clock times as the API, the audit log and the log show them:
 * RFC 3339 in UTC with milliseconds, "2026-11-21T12:27:20.045Z". */
#ifndef CS_UTIL_ISO_TIME_H
#define CS_UTIL_ISO_TIME_H

#include <stddef.h>

/* The text is 24 characters; out holds it and its terminator. */
#define CS_ISO_TIME_LEN 24

/* Writes ms (milliseconds since the epoch) to out; returns the length. Years
 * outside 0000..9999 and times before the epoch are written the way snprintf writes
 * the same fields (they never come from the clock), so the length may be larger:
 * out must then have room for 64 bytes. */
size_t cs_iso_time(long long ms, char out[64]);

/* The UTC hour (0-23) and weekday (0 = Sunday) of ms, without gmtime_r. */
void cs_utc_hour_weekday(long long ms, int *hour, int *weekday);

#endif

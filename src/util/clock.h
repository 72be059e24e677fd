/* clock.h - the monotonic clock, for durations and deadlines inside one process
 * (never for times that are stored or shown: those are wall-clock). */
#ifndef CS_UTIL_CLOCK_H
#define CS_UTIL_CLOCK_H

/* CLOCK_MONOTONIC in nanoseconds / milliseconds. */
long long cs_mono_ns(void);
long long cs_mono_ms(void);

#endif

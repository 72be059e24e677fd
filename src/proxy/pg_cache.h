/* pg_cache.h - the PostgreSQL proxy's cache of `allowed` decisions, keyed by
 * (principal, statement fingerprint) and valid only under the policy version they
 * were made with. Nothing else (denied, pending, approved) is ever cached. */
#ifndef CS_PROXY_PG_CACHE_H
#define CS_PROXY_PG_CACHE_H

#include <stdint.h>

typedef struct cs_pg_cache cs_pg_cache;

/* slots: capacity (rounded up to a power of two); ttl_ms: the longest an entry
 * lives even when the policy does not change; 0 slots disables the cache. */
cs_pg_cache *cs_pg_cache_new(unsigned slots, long long ttl_ms);
void cs_pg_cache_free(cs_pg_cache *c);

/* The policy version the gateway reports now (from the probe), or NULL when the
 * probe failed: then nothing is a hit until the gateway answers again. A change of
 * version empties the cache. */
void cs_pg_cache_set_version(cs_pg_cache *c, const char *version, long long now_ms);
/* 1 when an allowed decision for this principal and fingerprint is valid now. */
int cs_pg_cache_hit(cs_pg_cache *c, const char *principal, uint64_t fingerprint, long long now_ms);
/* Records an allowed decision made under policy_version (ignored if that is not
 * the current version). */
void cs_pg_cache_put(cs_pg_cache *c, const char *principal, uint64_t fingerprint,
                     const char *policy_version, long long now_ms);

typedef struct cs_pg_cache_stats {
    unsigned long long hits, misses, flushes;
} cs_pg_cache_stats;
cs_pg_cache_stats cs_pg_cache_get_stats(const cs_pg_cache *c);

#endif

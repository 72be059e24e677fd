/* pg_cache.h - the PostgreSQL proxy's cache of `allowed` decisions, keyed by
 * (principal, statement fingerprint) and valid only under the policy version, the
 * freezes and the tokens in force they were made with. Nothing else (denied,
 * pending, approved) is ever cached. */
#ifndef CS_PROXY_PG_CACHE_H
#define CS_PROXY_PG_CACHE_H

#include <stdint.h>

typedef struct cs_pg_cache cs_pg_cache;

/* What the gateway reports beside its policy version (GET /readyz): numbers that
 * change with every change of the freezes and of the tokens in force. */
typedef struct cs_pg_epochs {
    unsigned long long freezes, tokens;
} cs_pg_epochs;

/* slots: capacity (rounded up to a power of two); ttl_ms: the longest an entry
 * lives even when the policy does not change; 0 slots disables the cache. */
cs_pg_cache *cs_pg_cache_new(unsigned slots, long long ttl_ms);
void cs_pg_cache_free(cs_pg_cache *c);

/* The policy version and epochs the gateway reports now (from the probe), or a NULL
 * version when the probe failed: then nothing is a hit until the gateway answers
 * again. A change of any of them empties the cache (a freeze or a revoked token must
 * stop cached statements too, not only new ones). */
void cs_pg_cache_set_version(cs_pg_cache *c, const char *version, const cs_pg_epochs *epochs,
                             long long now_ms);
/* The cache's generation: it changes whenever the cache is emptied. Taken when a
 * decision is asked for, and given back to cs_pg_cache_put(). */
unsigned cs_pg_cache_generation(const cs_pg_cache *c);
/* 1 when an allowed decision for this principal and fingerprint is valid now. */
int cs_pg_cache_hit(cs_pg_cache *c, const char *principal, uint64_t fingerprint, long long now_ms);
/* Records an allowed decision made under policy_version, asked for in generation
 * asked_in (ignored if the version is not the current one, or the cache was emptied
 * since the decision was asked for: a freeze may have come in between). */
void cs_pg_cache_put(cs_pg_cache *c, const char *principal, uint64_t fingerprint,
                     const char *policy_version, unsigned asked_in, long long now_ms);

typedef struct cs_pg_cache_stats {
    unsigned long long hits, misses, flushes;
} cs_pg_cache_stats;
cs_pg_cache_stats cs_pg_cache_get_stats(const cs_pg_cache *c);

#endif

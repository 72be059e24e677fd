/* pg_cache.c - a fixed-size, direct-mapped table of allowed decisions. A slot holds
 * one (principal, fingerprint); a newer entry simply replaces an older one. */
#include "proxy/pg_cache.h"

#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

/* The probe runs every second; a version older than this is not trusted. */
#define VERSION_FRESH_MS 3000

typedef struct slot {
    char *principal;
    uint64_t fingerprint;
    unsigned generation; /* the cache generation (policy version, epochs) it was made in */
    long long expires_ms;
} slot;

struct cs_pg_cache {
    slot *slots;
    unsigned mask;
    long long ttl_ms;
    char version[128];
    cs_pg_epochs epochs;
    long long version_at;
    unsigned generation;
    cs_pg_cache_stats stats;
};

cs_pg_cache *cs_pg_cache_new(unsigned slots, long long ttl_ms)
{
    cs_pg_cache *c = cs_calloc(1, sizeof *c);
    c->ttl_ms = ttl_ms;
    c->generation = 1;
    if (slots == 0) return c;
    unsigned n = 1;
    while (n < slots && n < (1u << 24))
        n <<= 1;
    c->slots = cs_calloc(n, sizeof *c->slots);
    c->mask = n - 1;
    return c;
}

void cs_pg_cache_free(cs_pg_cache *c)
{
    if (c == NULL) return;
    for (unsigned i = 0; c->slots && i <= c->mask; i++)
        free(c->slots[i].principal);
    free(c->slots);
    free(c);
}

void cs_pg_cache_set_version(cs_pg_cache *c, const char *version, const cs_pg_epochs *epochs,
                             long long now_ms)
{
    if (version == NULL) {
        c->version_at = 0;
        return;
    }
    if (strcmp(c->version, version) || epochs->freezes != c->epochs.freezes ||
        epochs->tokens != c->epochs.tokens) {
        /* Bumping the generation empties the table without touching it. */
        c->generation++;
        c->stats.flushes++;
        strncpy(c->version, version, sizeof c->version - 1);
        c->epochs = *epochs;
    }
    c->version_at = now_ms;
}

unsigned cs_pg_cache_generation(const cs_pg_cache *c)
{
    return c->generation;
}

/* FNV-1a over the principal, mixed with the fingerprint. */
static unsigned slot_of(const cs_pg_cache *c, const char *principal, uint64_t fp)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)principal; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h ^= fp + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return (unsigned)(h ^ (h >> 32)) & c->mask;
}

static int fresh(const cs_pg_cache *c, long long now_ms)
{
    return c->slots && c->version[0] && c->version_at && now_ms - c->version_at <= VERSION_FRESH_MS;
}

int cs_pg_cache_hit(cs_pg_cache *c, const char *principal, uint64_t fingerprint, long long now_ms)
{
    if (!fresh(c, now_ms) || fingerprint == 0) {
        c->stats.misses++;
        return 0;
    }
    slot *s = &c->slots[slot_of(c, principal, fingerprint)];
    int hit = s->principal && s->generation == c->generation && s->fingerprint == fingerprint &&
              s->expires_ms > now_ms && !strcmp(s->principal, principal);
    if (hit)
        c->stats.hits++;
    else
        c->stats.misses++;
    return hit;
}

void cs_pg_cache_put(cs_pg_cache *c, const char *principal, uint64_t fingerprint,
                     const char *policy_version, unsigned asked_in, long long now_ms)
{
    if (!fresh(c, now_ms) || fingerprint == 0 || policy_version == NULL ||
        strcmp(policy_version, c->version) || asked_in != c->generation)
        return;
    slot *s = &c->slots[slot_of(c, principal, fingerprint)];
    if (s->principal == NULL || strcmp(s->principal, principal)) {
        free(s->principal);
        s->principal = cs_strdup(principal);
    }
    s->fingerprint = fingerprint;
    s->generation = c->generation;
    s->expires_ms = now_ms + c->ttl_ms;
}

cs_pg_cache_stats cs_pg_cache_get_stats(const cs_pg_cache *c)
{
    return c->stats;
}

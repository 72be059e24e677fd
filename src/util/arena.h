/* arena.h - bump allocator for data that lives and dies together (a parsed policy set,
 * one policy evaluation). Nothing is freed individually; cs_arena_reset() keeps the
 * first chunk so that a hot loop of evaluations does not touch malloc at all. */
#ifndef CS_UTIL_ARENA_H
#define CS_UTIL_ARENA_H

#include <stddef.h>

typedef struct cs_arena_chunk cs_arena_chunk;

typedef struct cs_arena {
    cs_arena_chunk *head;
    size_t chunk_size;
} cs_arena;

void cs_arena_init(cs_arena *a, size_t chunk_size);
void *cs_arena_alloc(cs_arena *a, size_t n); /* 16-byte aligned, zeroed */
char *cs_arena_strndup(cs_arena *a, const char *s, size_t n);
void cs_arena_reset(cs_arena *a);
void cs_arena_free(cs_arena *a);

#endif

/* arena.c - chunked bump allocator (see arena.h). */
#include "util/arena.h"

#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

struct cs_arena_chunk {
    cs_arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void cs_arena_init(cs_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 4096;
}

/* n bytes (rounded up to 16), not cleared. */
static void *bump(cs_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    cs_arena_chunk *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > a->chunk_size ? n : a->chunk_size;
        c = cs_malloc(sizeof *c + size);
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void *cs_arena_alloc(cs_arena *a, size_t n)
{
    return memset(bump(a, n), 0, n);
}

/* The copy is written over at once, so it skips the clearing cs_arena_alloc() does. */
char *cs_arena_strndup(cs_arena *a, const char *s, size_t n)
{
    char *p = bump(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void cs_arena_reset(cs_arena *a)
{
    /* Keep the oldest chunk (the last in the list): it is sized for the common case. */
    cs_arena_chunk *c = a->head;
    while (c && c->next) {
        cs_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = c;
    if (c) c->used = 0;
}

void cs_arena_free(cs_arena *a)
{
    cs_arena_chunk *c = a->head;
    while (c) {
        cs_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* alloc.h - allocation helpers.
 *
 * Out-of-memory policy (the one place it is written down): countersign does not try
 * to limp on without memory. Every allocation goes through these wrappers, which
 * print a message and abort() when the allocator fails. Inputs from peers are capped
 * before they are allocated for, so an allocation failure means the machine is out
 * of memory, not that a client sent something large. */
#ifndef CS_UTIL_ALLOC_H
#define CS_UTIL_ALLOC_H

#include <stddef.h>

void *cs_malloc(size_t n);
void *cs_calloc(size_t count, size_t size);
void *cs_realloc(void *p, size_t n);
/* Grows an array to hold at least `need` items of `size` bytes; *cap is updated. */
void *cs_grow(void *p, size_t *cap, size_t need, size_t size);
char *cs_strdup(const char *s);
char *cs_strndup(const char *s, size_t n);
char *cs_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

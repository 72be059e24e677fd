/* buf.c - capped growable byte buffer. */
#include "util/buf.h"

#include "util/alloc.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_buf_init(cs_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void cs_buf_free(cs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void cs_buf_reset(cs_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

int cs_buf_append(cs_buf *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n) return CS_ETOOBIG;
    if (b->len + n + 1 > b->cap) b->data = cs_grow(b->data, &b->cap, b->len + n + 1, 1);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

size_t cs_buf_spare(cs_buf *b, size_t want)
{
    size_t left = b->max - b->len;
    if (want > left) want = left;
    if (b->len + want + 1 > b->cap) b->data = cs_grow(b->data, &b->cap, b->len + want + 1, 1);
    return want;
}

int cs_buf_puts(cs_buf *b, const char *s)
{
    return cs_buf_append(b, s, strlen(s));
}

int cs_buf_putc(cs_buf *b, char c)
{
    if (b->len < b->max && b->len + 2 <= b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return cs_buf_append(b, &c, 1);
}

int cs_buf_vprintf(cs_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return CS_EINVAL;
    if ((size_t)n > b->max || b->len > b->max - (size_t)n) return CS_ETOOBIG;
    b->data = cs_grow(b->data, &b->cap, b->len + (size_t)n + 1, 1);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int cs_buf_printf(cs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cs_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *cs_buf_steal(cs_buf *b)
{
    char *p = b->data ? b->data : cs_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void cs_buf_init_reserve(cs_buf *b, size_t max, size_t reserve)
{
    cs_buf_init(b, max);
    b->data = cs_grow(NULL, &b->cap, reserve ? reserve : 1, 1); /* room for the NUL */
    b->data[0] = '\0';
}

/* buf.h - a growable byte buffer with a hard size cap (in the spirit of curl's dynbuf).
 *
 * Every buffer fed from outside is created with a cap; appends beyond it fail with
 * CS_ETOOBIG and leave the buffer as it was. */
#ifndef CS_UTIL_BUF_H
#define CS_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct cs_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len */
} cs_buf;

void cs_buf_init(cs_buf *b, size_t max);
void cs_buf_free(cs_buf *b);
void cs_buf_reset(cs_buf *b);
int cs_buf_append(cs_buf *b, const void *p, size_t n);
int cs_buf_puts(cs_buf *b, const char *s);
int cs_buf_putc(cs_buf *b, char c);
int cs_buf_printf(cs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cs_buf_vprintf(cs_buf *b, const char *fmt, va_list ap);
/* Room for up to want more bytes at data + len (fewer only at the cap), for a
 * read(2) straight into the buffer: returns how many; the caller adds what it wrote
 * to len and NUL-terminates. */
size_t cs_buf_spare(cs_buf *b, size_t want);
/* Hands the contents to the caller (who frees them) and resets the buffer. */
char *cs_buf_steal(cs_buf *b);
/* cs_buf_init with `reserve` bytes allocated up front (an empty string), for buffers
 * whose usual size is known: one allocation instead of several doublings. */
void cs_buf_init_reserve(cs_buf *b, size_t max, size_t reserve);

#endif

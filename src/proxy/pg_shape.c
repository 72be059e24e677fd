/* pg_shape.c - literal-blind SQL shapes and their classification cache (PostgreSQL
 * docs 4.1 "Lexical Structure": identifiers, quoted identifiers, string and numeric
 * constants, comments). The lexer is deliberately conservative: whenever its reading
 * of the text could differ from the server's, it gives up and the full parser runs. */
#include "proxy/pg_shape.h"

#include "util/alloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int ident_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* 'quoted' string, '' doubles a quote; the position after it, or NULL. */
static const char *skip_string(const char *p)
{
    for (p++;; p++) {
        if (*p == '\0') return NULL;
        if (*p == '\'') {
            if (p[1] == '\'')
                p++;
            else
                return p + 1;
        }
    }
}

/* Nested block comments, as PostgreSQL has them. */
static const char *skip_block_comment(const char *p)
{
    int depth = 0;
    while (*p) {
        if (p[0] == '/' && p[1] == '*') {
            depth++;
            p += 2;
        } else if (p[0] == '*' && p[1] == '/') {
            p += 2;
            if (--depth == 0) return p;
        } else {
            p++;
        }
    }
    return NULL;
}

/* digits[.digits][e[+-]digits] */
static const char *skip_number(const char *p)
{
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.' && isdigit((unsigned char)p[1])) {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if ((*p == 'e' || *p == 'E') &&
        (isdigit((unsigned char)p[1]) ||
         ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
        p += 2;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p;
}

static void space(cs_buf *out)
{
    if (out->len && out->data[out->len - 1] != ' ') cs_buf_putc(out, ' ');
}

int cs_pg_shape(const char *sql, cs_buf *out)
{
    cs_buf_reset(out);
    if (strchr(sql, '\\')) goto refuse;
    const char *p = sql;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        const char *q = p + 1;
        if (isspace(c)) {
            space(out);
        } else if (c == '-' && p[1] == '-') {
            q = p + strcspn(p, "\n");
            space(out);
        } else if (c == '/' && p[1] == '*') {
            if ((q = skip_block_comment(p)) == NULL) goto refuse;
            space(out);
        } else if ((c == '\'' || c == '"') && p > sql && p[-1] == '&') {
            goto refuse; /* U&'...' and U&"..." escapes (with UESCAPE) are the parser's */
        } else if (c == '\'') {
            if ((q = skip_string(p)) == NULL) goto refuse;
            cs_buf_putc(out, '?');
        } else if (c == '"') {
            q = strchr(p + 1, '"');
            while (q && q[1] == '"')
                q = strchr(q + 2, '"');
            if (q == NULL) goto refuse;
            q++;
            cs_buf_append(out, p, (size_t)(q - p));
        } else if (c == '$') {
            if (!isdigit((unsigned char)p[1])) goto refuse; /* dollar quoting */
            for (q = p + 1; isdigit((unsigned char)*q); q++) {
            }
            cs_buf_append(out, p, (size_t)(q - p)); /* $1 parameters stay */
        } else if (isdigit(c)) {
            q = skip_number(p);
            cs_buf_putc(out, '?');
        } else if (ident_char(c)) {
            for (q = p; ident_char((unsigned char)*q); q++) {
            }
            cs_buf_append(out, p, (size_t)(q - p));
        } else {
            cs_buf_putc(out, (char)c);
        }
        p = q;
    }
    while (out->len && out->data[out->len - 1] == ' ')
        out->data[--out->len] = '\0';
    return 0;
refuse:
    cs_buf_reset(out); /* never leave a partial shape behind */
    return -1;
}

typedef struct shape_slot {
    char *shape;
    size_t len;
    uint64_t hash;
    cs_pg_shape_info info;
} shape_slot;

struct cs_pg_shapes {
    shape_slot *slots;
    unsigned mask;
};

cs_pg_shapes *cs_pg_shapes_new(unsigned slots)
{
    cs_pg_shapes *s = cs_calloc(1, sizeof *s);
    unsigned n = 1;
    while (n < slots && n < (1u << 20))
        n <<= 1;
    s->slots = cs_calloc(n, sizeof *s->slots);
    s->mask = n - 1;
    return s;
}

void cs_pg_shapes_free(cs_pg_shapes *s)
{
    if (s == NULL) return;
    for (unsigned i = 0; i <= s->mask; i++)
        free(s->slots[i].shape);
    free(s->slots);
    free(s);
}

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

const cs_pg_shape_info *cs_pg_shapes_get(cs_pg_shapes *s, const char *shape, size_t len)
{
    uint64_t h = fnv(shape, len);
    shape_slot *e = &s->slots[h & s->mask];
    if (e->shape && e->hash == h && e->len == len && !memcmp(e->shape, shape, len)) return &e->info;
    return NULL;
}

void cs_pg_shapes_put(cs_pg_shapes *s, const char *shape, size_t len, const cs_pg_shape_info *info)
{
    if (info->n < 1 || info->n > CS_PG_SHAPE_STMTS) return;
    uint64_t h = fnv(shape, len);
    shape_slot *e = &s->slots[h & s->mask];
    free(e->shape);
    e->shape = cs_strndup(shape, len);
    e->len = len;
    e->hash = h;
    e->info = *info;
}

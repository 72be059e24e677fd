/* jcs.c - RFC 8785 canonical JSON: sorted keys (by UTF-16 code units), ECMAScript
 * number formatting, minimal string escaping, no whitespace. */
#include "util/jcs.h"

#include "util/alloc.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence (jansson guarantees valid UTF-8) and returns its code
 * point, advancing *p. */
static unsigned next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned cp;
    if (s[0] < 0x80) {
        cp = s[0];
        *p += 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        cp = ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
        *p += 2;
    } else if ((s[0] & 0xf0) == 0xe0) {
        cp = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
        *p += 3;
    } else {
        cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) |
             (s[3] & 0x3fu);
        *p += 4;
    }
    return cp;
}

/* The UTF-16 code unit at position `half` (0 or 1) of a code point. */
static unsigned unit(unsigned cp, int half)
{
    if (cp < 0x10000) return cp;
    cp -= 0x10000;
    return half ? 0xdc00 + (cp & 0x3ff) : 0xd800 + (cp >> 10);
}

static int utf16_cmp(const char *a, const char *b)
{
    const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
    unsigned ca = 0, cb = 0;
    int ha = 2, hb = 2; /* which half of the current code point is next; 2 = fetch new */
    for (;;) {
        if (ha == 2) {
            if (!*pa)
                ca = 0xffffffffu;
            else
                ca = next_cp(&pa);
            ha = 0;
        }
        if (hb == 2) {
            if (!*pb)
                cb = 0xffffffffu;
            else
                cb = next_cp(&pb);
            hb = 0;
        }
        if (ca == 0xffffffffu || cb == 0xffffffffu) {
            if (ca == cb) return 0;
            return ca == 0xffffffffu ? -1 : 1;
        }
        unsigned ua = unit(ca, ha), ub = unit(cb, hb);
        if (ua != ub) return ua < ub ? -1 : 1;
        ha = (ca >= 0x10000 && ha == 0) ? 1 : 2;
        hb = (cb >= 0x10000 && hb == 0) ? 1 : 2;
    }
}

/* Keys that are plain ASCII compare the same as bytes and as UTF-16 units. */
static int ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

typedef struct member {
    const char *key;
    size_t len;
    const json_t *value;
    int ascii;
} member;

static int member_cmp(const member *a, const member *b)
{
    if (a->ascii && b->ascii) return strcmp(a->key, b->key);
    return utf16_cmp(a->key, b->key);
}

static int member_qcmp(const void *x, const void *y)
{
    return member_cmp(x, y);
}

/* Nonzero when one of the 8 bytes in v is below 0x20, '"' or '\\' (needs escaping).
 * (x - 0x01..) & ~x & 0x80.. is nonzero exactly when a byte of x is zero, and with
 * 0x20.. in place of 0x01.. when a byte is below 0x20; bytes of 0x80 and above (UTF-8)
 * never match. */
static int special8(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    return (((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high ? 1 : 0;
}

int cs_jcs_write_string(const char *s, size_t n, cs_buf *out)
{
    int rc = cs_buf_putc(out, '"');
    size_t run = 0; /* start of the pending run of characters copied as they are */
    size_t i = 0;
    while (i < n && rc == 0) {
        if (n - i >= 8) { /* 8 bytes at a time while none needs escaping */
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (!special8(v)) {
                i += 8;
                continue;
            }
        }
        /* Byte by byte through the next 8 (or the rest), which hold one to escape. */
        size_t end = n - i > 8 ? i + 8 : n;
        for (; i < end && rc == 0; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x20 && c != '"' && c != '\\') continue;
            rc = cs_buf_append(out, s + run, i - run);
            run = i + 1;
            if (rc) break;
            switch (c) {
            case '"':
                rc = cs_buf_puts(out, "\\\"");
                break;
            case '\\':
                rc = cs_buf_puts(out, "\\\\");
                break;
            case '\b':
                rc = cs_buf_puts(out, "\\b");
                break;
            case '\f':
                rc = cs_buf_puts(out, "\\f");
                break;
            case '\n':
                rc = cs_buf_puts(out, "\\n");
                break;
            case '\r':
                rc = cs_buf_puts(out, "\\r");
                break;
            case '\t':
                rc = cs_buf_puts(out, "\\t");
                break;
            default:
                rc = cs_buf_printf(out, "\\u%04x", c);
            }
        }
    }
    if (rc == 0) rc = cs_buf_append(out, s + run, n - run);
    return rc ? rc : cs_buf_putc(out, '"');
}

/* ECMAScript Number::toString for finite doubles: the shortest digits that round
 * trip, in plain notation for exponents in [-6, 21), else d.ddde+N. */
static int write_double(double d, cs_buf *out)
{
    if (!isfinite(d)) return CS_EINVAL;
    if (d == 0) return cs_buf_putc(out, '0');
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp is [-]D[.DDD]e[+-]XX: collect the digits and the decimal exponent. */
    char digits[24];
    int nd = 0, neg = 0;
    const char *p = tmp;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    int n = exp + 1; /* position of the decimal point relative to the digits */
    int rc = neg ? cs_buf_putc(out, '-') : 0;
    if (rc) return rc;
    if (nd <= n && n <= 21) {
        rc = cs_buf_append(out, digits, (size_t)nd);
        for (int i = nd; i < n && rc == 0; i++)
            rc = cs_buf_putc(out, '0');
    } else if (0 < n && n <= 21) {
        rc = cs_buf_append(out, digits, (size_t)n);
        if (!rc) rc = cs_buf_putc(out, '.');
        if (!rc) rc = cs_buf_append(out, digits + n, (size_t)(nd - n));
    } else if (-6 < n && n <= 0) {
        rc = cs_buf_puts(out, "0.");
        for (int i = 0; i < -n && rc == 0; i++)
            rc = cs_buf_putc(out, '0');
        if (!rc) rc = cs_buf_append(out, digits, (size_t)nd);
    } else {
        rc = cs_buf_putc(out, digits[0]);
        if (!rc && nd > 1) {
            rc = cs_buf_putc(out, '.');
            if (!rc) rc = cs_buf_append(out, digits + 1, (size_t)(nd - 1));
        }
        if (!rc) rc = cs_buf_printf(out, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    return rc;
}

#define SMALL_OBJECT 32

static int write_object(const json_t *v, cs_buf *out)
{
    size_t n = json_object_size(v), i = 0;
    member small[SMALL_OBJECT];
    member *m = n <= SMALL_OBJECT ? small : cs_calloc(n, sizeof *m);
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)v, k, val)
    {
        m[i] = (member){k, strlen(k), val, ascii(k)};
        i++;
    }
    if (n <= SMALL_OBJECT) {
        /* Insertion sort: objects here are small and often nearly sorted already. */
        for (i = 1; i < n; i++) {
            member x = m[i];
            size_t j = i;
            for (; j > 0 && member_cmp(&m[j - 1], &x) > 0; j--)
                m[j] = m[j - 1];
            m[j] = x;
        }
    } else {
        qsort(m, n, sizeof *m, member_qcmp);
    }
    int rc = cs_buf_putc(out, '{');
    for (i = 0; i < n && rc == 0; i++) {
        if (i) rc = cs_buf_putc(out, ',');
        if (!rc) rc = cs_jcs_write_string(m[i].key, m[i].len, out);
        if (!rc) rc = cs_buf_putc(out, ':');
        if (!rc) rc = cs_jcs_write(m[i].value, out);
    }
    if (m != small) free(m);
    return rc ? rc : cs_buf_putc(out, '}');
}

/* An integer in decimal, exact. */
static int write_int(json_int_t x, cs_buf *out)
{
    char d[24];
    size_t i = sizeof d;
    unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (x < 0) d[--i] = '-';
    return cs_buf_append(out, d + i, sizeof d - i);
}

/* [a,b,...] with each element written by `element` (canonical or document order). */
static int write_array(const json_t *v, cs_buf *out, int (*element)(const json_t *, cs_buf *))
{
    int rc = cs_buf_putc(out, '[');
    for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
        if (i) rc = cs_buf_putc(out, ',');
        if (!rc) rc = element(json_array_get(v, i), out);
    }
    return rc ? rc : cs_buf_putc(out, ']');
}

int cs_jcs_write(const json_t *v, cs_buf *out)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return write_object(v, out);
    case JSON_ARRAY:
        return write_array(v, out, cs_jcs_write);
    case JSON_STRING:
        return cs_jcs_write_string(json_string_value(v), json_string_length(v), out);
    case JSON_INTEGER: {
        json_int_t x = json_integer_value(v);
        /* Integers beyond 2^53 are not exact IEEE doubles: format them as ES would. */
        if (x > (1LL << 53) || x < -(1LL << 53)) return write_double((double)x, out);
        return write_int(x, out);
    }
    case JSON_REAL:
        return write_double(json_real_value(v), out);
    case JSON_TRUE:
        return cs_buf_puts(out, "true");
    case JSON_FALSE:
        return cs_buf_puts(out, "false");
    case JSON_NULL:
        return cs_buf_puts(out, "null");
    }
    return CS_EINVAL;
}

/* The text of v written by `write` into a fresh string; NULL when it cannot be. */
static char *dumps_with(const json_t *v, int (*write)(const json_t *, cs_buf *))
{
    cs_buf b;
    /* Most documents fit; under glibc's large-bin size. */
    cs_buf_init_reserve(&b, (size_t)1 << 30, 960);
    if (write(v, &b) != 0) {
        cs_buf_free(&b);
        return NULL;
    }
    return cs_buf_steal(&b);
}

char *cs_jcs_dumps(const json_t *v)
{
    return dumps_with(v, cs_jcs_write);
}

/* Compact JSON in the document's own member order (for stored documents, where the
 * order is the writer's): the same string and number forms as the canonical writer. */
int cs_json_write(const json_t *v, cs_buf *out)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        int rc = cs_buf_putc(out, '{'), first = 1;
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val)
        {
            if (rc) break;
            if (!first) rc = cs_buf_putc(out, ',');
            first = 0;
            if (!rc) rc = cs_jcs_write_string(k, strlen(k), out);
            if (!rc) rc = cs_buf_putc(out, ':');
            if (!rc) rc = cs_json_write(val, out);
        }
        return rc ? rc : cs_buf_putc(out, '}');
    }
    case JSON_ARRAY:
        return write_array(v, out, cs_json_write);
    case JSON_INTEGER:
        /* Exact, also beyond 2^53 (where the canonical form follows ES doubles). */
        return write_int(json_integer_value(v), out);
    default:
        return cs_jcs_write(v, out);
    }
}

char *cs_json_dumps(const json_t *v)
{
    return dumps_with(v, cs_json_write);
}

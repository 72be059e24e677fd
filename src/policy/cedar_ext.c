/* cedar_ext.c - Cedar's extension types: `ipaddr` (ip(), isIpv4, isIpv6, isLoopback,
 * isMulticast, isInRange) and `decimal` (up to four fraction digits, Long range). */
#include "policy/cedar_value.h"

#include <ctype.h>
#include <string.h>

/* Parses a dotted quad without leading zeros into out[0..3]. */
static int parse_v4(const char *s, size_t n, uint8_t *out)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.') return -1;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && isdigit((unsigned char)s[i]) && i - start < 4) v = v * 10 + (unsigned)(s[i++] - '0');
        size_t len = i - start;
        if (len == 0 || len > 3 || v > 255 || (len > 1 && s[start] == '0')) return -1;
        out[part] = (uint8_t)v;
    }
    return i == n ? 0 : -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses an IPv6 address (RFC 4291 text forms with ::; like Cedar, no embedded IPv4). */
static int parse_v6(const char *s, size_t n, uint8_t *out)
{
    uint16_t groups[8];
    int ng = 0, gap = -1;
    size_t i = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    } else if (n >= 1 && s[0] == ':') {
        return -1;
    }
    while (i < n) {
        if (ng >= 8) return -1;
        /* A dotted quad may end the address. */
        size_t j = i;
        while (j < n && s[j] != ':' && s[j] != '.') j++;
        if (j < n && s[j] == '.') return -1; /* Cedar refuses IPv4 embedded in IPv6 */
        unsigned v = 0;
        size_t start = i;
        while (i < n && hexval(s[i]) >= 0) {
            if (i - start >= 4) return -1;
            v = v * 16 + (unsigned)hexval(s[i++]);
        }
        if (i == start) return -1;
        groups[ng++] = (uint16_t)v;
        if (i == n) break;
        if (s[i] != ':') return -1;
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0) return -1;
            gap = ng;
            i++;
        } else if (i == n) {
            return -1; /* trailing single colon */
        }
    }
    if (gap < 0 && ng != 8) return -1;
    if (gap >= 0 && ng > 7) return -1;
    memset(out, 0, 16);
    int tail = gap >= 0 ? ng - gap : 0;
    int head = gap >= 0 ? gap : ng;
    for (int g = 0; g < head; g++) {
        out[2 * g] = (uint8_t)(groups[g] >> 8);
        out[2 * g + 1] = (uint8_t)groups[g];
    }
    for (int g = 0; g < tail; g++) {
        int pos = 8 - tail + g;
        out[2 * pos] = (uint8_t)(groups[head + g] >> 8);
        out[2 * pos + 1] = (uint8_t)groups[head + g];
    }
    return 0;
}

int cs_ext_ip_parse(const char *s, size_t n, cs_ipaddr *out)
{
    memset(out, 0, sizeof *out);
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    int v6 = memchr(s, ':', an) != NULL;
    if (v6 ? parse_v6(s, an, out->addr) < 0 : parse_v4(s, an, out->addr) < 0) return CS_EEVAL;
    out->v6 = (uint8_t)v6;
    unsigned max = v6 ? 128 : 32;
    out->prefix = (uint8_t)max;
    if (slash) {
        size_t i = an + 1, start = i;
        unsigned p = 0;
        while (i < n && isdigit((unsigned char)s[i]) && i - start < 4) p = p * 10 + (unsigned)(s[i++] - '0');
        if (i == start || i != n || p > max || (i - start > 1 && s[start] == '0')) return CS_EEVAL;
        out->prefix = (uint8_t)p;
    }
    return 0;
}

/* True when the first `bits` bits of a and b agree. */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

bool cs_ext_ip_in_range(const cs_ipaddr *a, const cs_ipaddr *range)
{
    /* a's whole network must lie inside range's network. */
    if (a->v6 != range->v6) return false;
    if (a->prefix < range->prefix) return false;
    return prefix_eq(a->addr, range->addr, range->prefix);
}

bool cs_ext_ip_is_loopback(const cs_ipaddr *a)
{
    static const uint8_t lo6[16] = {[15] = 1};
    if (!a->v6) return a->addr[0] == 127 && a->prefix >= 8;
    return memcmp(a->addr, lo6, 16) == 0 && a->prefix == 128;
}

bool cs_ext_ip_is_multicast(const cs_ipaddr *a)
{
    if (!a->v6) return (a->addr[0] & 0xf0) == 0xe0 && a->prefix >= 4;
    return a->addr[0] == 0xff && a->prefix >= 8;
}

int cs_ext_decimal_parse(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    /* Accumulate as a negative number so that the Long minimum is reachable. */
    int64_t v = 0;
    size_t start = i;
    while (i < n && isdigit((unsigned char)s[i])) {
        int d = s[i++] - '0';
        if (v < (INT64_MIN + d) / 10) return CS_EEVAL;
        v = v * 10 - d;
    }
    if (i == start || i >= n || s[i] != '.') return CS_EEVAL;
    i++;
    size_t fstart = i;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    size_t fn = i - fstart;
    if (fn == 0 || fn > 4 || i != n) return CS_EEVAL;
    for (size_t k = 0; k < 4; k++) {
        int d = k < fn ? s[fstart + k] - '0' : 0;
        if (v < (INT64_MIN + d) / 10) return CS_EEVAL;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN) return CS_EEVAL;
        v = -v;
    }
    *out = v;
    return 0;
}

const cs_value *cs_ext_value(cs_arena *a, cs_vtype type, const char *s, size_t n)
{
    cs_value tmp = {.type = type};
    int rc = type == CS_V_IP ? cs_ext_ip_parse(s, n, &tmp.u.ip) : cs_ext_decimal_parse(s, n, &tmp.u.dec);
    if (rc < 0) return NULL;
    cs_value *v = cs_arena_alloc(a, sizeof *v);
    *v = tmp;
    return v;
}

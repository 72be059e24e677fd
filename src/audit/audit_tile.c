/* audit_tile.c - C2SP tlog-tiles paths and entry bundles (https://c2sp.org/tlog-tiles). */
#include "audit/audit_tile.h"

#include "util/error.h"

#include <string.h>

#define MAX_LEVEL 63
#define MAX_GROUPS 7 /* 20 decimal digits of a uint64 */

static int put_index(cs_buf *out, uint64_t n)
{
    unsigned groups[MAX_GROUPS];
    int k = 0;
    do {
        groups[k++] = (unsigned)(n % 1000);
        n /= 1000;
    } while (n > 0);
    int rc = 0;
    for (int i = k - 1; i > 0 && rc == 0; i--)
        rc = cs_buf_printf(out, "x%03u/", groups[i]);
    if (rc == 0) rc = cs_buf_printf(out, "%03u", groups[0]);
    return rc;
}

int cs_audit_tile_path(cs_buf *out, const cs_audit_tile_ref *ref)
{
    if (ref->width == 0 || ref->width > 256 || ref->level > MAX_LEVEL ||
        ref->level < CS_AUDIT_LEVEL_ENTRIES)
        return CS_EINVAL;
    int rc = ref->level == CS_AUDIT_LEVEL_ENTRIES ? cs_buf_puts(out, "tile/entries/")
                                                  : cs_buf_printf(out, "tile/%d/", ref->level);
    if (rc == 0) rc = put_index(out, ref->index);
    if (rc == 0 && ref->width < 256) rc = cs_buf_printf(out, ".p/%u", ref->width);
    return rc;
}

/* Reads a decimal number without leading zeros, at most `max`; advances *p. */
static int parse_small(const char **p, const char *end, unsigned max, unsigned *out)
{
    const char *s = *p;
    unsigned v = 0;
    if (s == end || *s < '0' || *s > '9') return CS_EPARSE;
    if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9') return CS_EPARSE;
    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned)(*s++ - '0');
        if (v > max) return CS_EPARSE;
    }
    *p = s;
    *out = v;
    return 0;
}

static int parse_group(const char *s, const char *end, unsigned *out)
{
    if (end - s < 3) return CS_EPARSE;
    for (int i = 0; i < 3; i++)
        if (s[i] < '0' || s[i] > '9') return CS_EPARSE;
    *out = (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
    return 0;
}

static int parse_index(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    unsigned g;
    for (int n = 0;; n++) {
        if (n >= MAX_GROUPS) return CS_EPARSE;
        int prefixed = s < end && *s == 'x';
        if (parse_group(s + prefixed, end, &g) < 0) return CS_EPARSE;
        if (n == 0 && prefixed && g == 0) return CS_EPARSE; /* not canonical */
        if (v > (UINT64_MAX - g) / 1000) return CS_EPARSE;
        v = v * 1000 + g;
        s += prefixed + 3;
        if (!prefixed) break;
        if (s == end || *s != '/') return CS_EPARSE;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int cs_audit_tile_path_parse(const char *path, size_t len, cs_audit_tile_ref *ref)
{
    const char *s = path, *end = path + len;
    if (len < 5 || memcmp(s, "tile/", 5) != 0) return CS_EPARSE;
    s += 5;
    if ((size_t)(end - s) >= 8 && memcmp(s, "entries/", 8) == 0) {
        ref->level = CS_AUDIT_LEVEL_ENTRIES;
        s += 8;
    } else {
        unsigned l;
        if (parse_small(&s, end, MAX_LEVEL, &l) < 0 || s == end || *s != '/') return CS_EPARSE;
        ref->level = (int)l;
        s++;
    }
    if (parse_index(&s, end, &ref->index) < 0) return CS_EPARSE;
    ref->width = 256;
    if (s == end) return 0;
    if (end - s < 3 || memcmp(s, ".p/", 3) != 0) return CS_EPARSE;
    s += 3;
    unsigned w;
    if (parse_small(&s, end, 255, &w) < 0 || w == 0 || s != end) return CS_EPARSE;
    ref->width = w;
    return 0;
}

int cs_audit_bundle_add(cs_buf *bundle, const void *entry, size_t len)
{
    if (len > CS_AUDIT_ENTRY_MAX) return CS_ETOOBIG;
    unsigned char hdr[2] = {(unsigned char)(len >> 8), (unsigned char)(len & 0xff)};
    size_t before = bundle->len;
    int rc = cs_buf_append(bundle, hdr, 2);
    if (rc == 0) rc = cs_buf_append(bundle, entry, len);
    if (rc < 0 && bundle->data) { /* leave the bundle as it was */
        bundle->len = before;
        bundle->data[before] = '\0';
    }
    return rc;
}

void cs_audit_bundle_iter_init(cs_audit_bundle_iter *it, const void *bundle, size_t len)
{
    it->p = bundle;
    it->left = len;
}

int cs_audit_bundle_next(cs_audit_bundle_iter *it, const uint8_t **entry, size_t *len)
{
    if (it->left == 0) return 0;
    if (it->left < 2) return CS_EPARSE;
    size_t n = ((size_t)it->p[0] << 8) | it->p[1];
    if (n > it->left - 2) return CS_EPARSE;
    *entry = it->p + 2;
    *len = n;
    it->p += 2 + n;
    it->left -= 2 + n;
    return 1;
}

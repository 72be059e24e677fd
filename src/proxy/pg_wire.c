/* pg_wire.c - protocol v3 framing and message bodies (PostgreSQL docs 55.7 "Message
 * Formats", 55.8 "Error and Notice Message Fields"). */
#include "proxy/pg_wire.h"

#include <string.h>

uint32_t cs_pg_u32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

static void put_u32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

int cs_pg_msg_next(const char *p, size_t n, size_t max, cs_pg_msg *m, cs_err *err)
{
    memset(m, 0, sizeof *m);
    if (n < 5) return 0;
    uint32_t len = cs_pg_u32(p + 1);
    m->type = p[0];
    if (len < 4 || len > max)
        return cs_err_set(err, CS_EINVAL, "invalid message length %u for message type '%c'", len,
                          p[0] >= 0x20 && p[0] < 0x7f ? p[0] : '?');
    m->total = (size_t)len + 1;
    if (n < m->total) return 0;
    m->body = p + 5;
    m->len = len - 4;
    return 1;
}

/* StartupMessage parameters: pairs of NUL-terminated strings, then one NUL. */
static int startup_params(const char *p, size_t n, cs_pg_startup *out, cs_err *err)
{
    size_t off = 0;
    for (;;) {
        if (off >= n) return cs_err_set(err, CS_EINVAL, "startup packet is not terminated");
        if (p[off] == '\0')
            return off + 1 == n ? 1
                                : cs_err_set(err, CS_EINVAL, "trailing bytes in startup packet");
        const char *k = p + off;
        const char *kend = memchr(k, '\0', n - off);
        if (kend == NULL) return cs_err_set(err, CS_EINVAL, "unterminated startup parameter");
        off = (size_t)(kend - p) + 1;
        const char *v = p + off;
        const char *vend = off < n ? memchr(v, '\0', n - off) : NULL;
        if (vend == NULL) return cs_err_set(err, CS_EINVAL, "unterminated startup parameter value");
        off = (size_t)(vend - p) + 1;
        if (!strcmp(k, "user"))
            out->user = v;
        else if (!strcmp(k, "database"))
            out->database = v;
    }
}

int cs_pg_startup_next(const char *p, size_t n, cs_pg_startup *out, cs_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < 4) return 0;
    uint32_t len = cs_pg_u32(p);
    if (len < 8 || len > CS_PG_STARTUP_MAX)
        return cs_err_set(err, CS_EINVAL, "invalid startup packet length %u", len);
    if (n < len) return 0;
    out->total = len;
    uint32_t code = cs_pg_u32(p + 4);
    if (code == CS_PG_CODE_SSL || code == CS_PG_CODE_GSSENC) {
        if (len != 8) return cs_err_set(err, CS_EINVAL, "invalid encryption request length");
        out->kind = code == CS_PG_CODE_SSL ? CS_PG_SSL : CS_PG_GSSENC;
        return 1;
    }
    if (code == CS_PG_CODE_CANCEL) {
        if (len != 16) return cs_err_set(err, CS_EINVAL, "invalid cancel request length");
        out->kind = CS_PG_CANCEL;
        out->pid = cs_pg_u32(p + 8);
        out->key = cs_pg_u32(p + 12);
        return 1;
    }
    if (code >> 16 != 3)
        return cs_err_set(err, CS_EINVAL, "unsupported frontend protocol %u.%u", code >> 16,
                          code & 0xffff);
    out->kind = CS_PG_STARTUP;
    int rc = startup_params(p + 8, len - 8, out, err);
    if (rc < 0) return rc;
    if (out->user == NULL || !*out->user)
        return cs_err_set(err, CS_EINVAL, "no PostgreSQL user name specified in startup packet");
    if (out->database == NULL || !*out->database) out->database = out->user;
    return 1;
}

void cs_pg_reader_init(cs_pg_reader *r, const char *p, size_t n)
{
    *r = (cs_pg_reader){.p = p, .n = n};
}

const char *cs_pg_get_str(cs_pg_reader *r)
{
    if (r->bad || r->off >= r->n) goto bad;
    const char *s = r->p + r->off;
    const char *end = memchr(s, '\0', r->n - r->off);
    if (end == NULL) goto bad;
    r->off = (size_t)(end - r->p) + 1;
    return s;
bad:
    r->bad = 1;
    return "";
}

uint32_t cs_pg_get_u32(cs_pg_reader *r)
{
    if (r->bad || r->n - r->off < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = cs_pg_u32(r->p + r->off);
    r->off += 4;
    return v;
}

uint16_t cs_pg_get_u16(cs_pg_reader *r)
{
    if (r->bad || r->n - r->off < 2) {
        r->bad = 1;
        return 0;
    }
    const unsigned char *u = (const unsigned char *)r->p + r->off;
    r->off += 2;
    return (uint16_t)(u[0] << 8 | u[1]);
}

char cs_pg_get_byte(cs_pg_reader *r)
{
    if (r->bad || r->off >= r->n) {
        r->bad = 1;
        return 0;
    }
    return r->p[r->off++];
}

const char *cs_pg_field(const cs_pg_msg *m, char code)
{
    cs_pg_reader r;
    cs_pg_reader_init(&r, m->body, m->len);
    for (;;) {
        char c = cs_pg_get_byte(&r);
        if (r.bad || c == '\0') return NULL;
        const char *v = cs_pg_get_str(&r);
        if (r.bad) return NULL;
        if (c == code) return v;
    }
}

int cs_pg_put_msg(cs_buf *out, char type, const void *body, size_t len)
{
    char hdr[5];
    hdr[0] = type;
    put_u32(hdr + 1, (uint32_t)(len + 4));
    size_t before = out->len;
    int rc = cs_buf_append(out, hdr, 5);
    if (rc == 0 && len) rc = cs_buf_append(out, body, len);
    if (rc != 0) out->len = before;
    return rc;
}

/* Error and notice bodies: (code byte, string) pairs and a final NUL. */
static int put_fields(cs_buf *out, char type, const char *severity, const char *sqlstate,
                      const char *message, const char *detail, const char *hint)
{
    cs_buf b;
    cs_buf_init(&b, 64 * 1024);
    const struct {
        char code;
        const char *v;
    } f[] = {{'S', severity}, {'V', severity}, {'C', sqlstate},
             {'M', message},  {'D', detail},   {'H', hint}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].v == NULL) continue;
        cs_buf_putc(&b, f[i].code);
        if (cs_buf_append(&b, f[i].v, strlen(f[i].v) + 1) != 0) {
            b.len--; /* over the cap: drop the field rather than the message */
            b.data[b.len] = '\0';
        }
    }
    cs_buf_putc(&b, '\0');
    int rc = cs_pg_put_msg(out, type, b.data, b.len);
    cs_buf_free(&b);
    return rc;
}

int cs_pg_put_error(cs_buf *out, const char *sqlstate, const char *message, const char *detail,
                    const char *hint)
{
    return put_fields(out, 'E', "ERROR", sqlstate, message, detail, hint);
}

int cs_pg_put_fatal(cs_buf *out, const char *sqlstate, const char *message)
{
    return put_fields(out, 'E', "FATAL", sqlstate, message, NULL, NULL);
}

int cs_pg_put_notice(cs_buf *out, const char *message, const char *detail, const char *hint)
{
    return put_fields(out, 'N', "NOTICE", "00000", message, detail, hint);
}

int cs_pg_put_ready(cs_buf *out, char txn_status)
{
    return cs_pg_put_msg(out, 'Z', &txn_status, 1);
}

int cs_pg_put_query(cs_buf *out, const char *sql)
{
    return cs_pg_put_msg(out, 'Q', sql, strlen(sql) + 1);
}

/* Parse: statement name, query, then the original parameter-type section. */
int cs_pg_put_parse(cs_buf *out, const char *name, const char *sql, const char *params,
                    size_t params_len)
{
    cs_buf b;
    cs_buf_init(&b, CS_PG_MSG_MAX);
    int rc = cs_buf_append(&b, name, strlen(name) + 1);
    if (rc == 0) rc = cs_buf_append(&b, sql, strlen(sql) + 1);
    if (rc == 0 && params_len) rc = cs_buf_append(&b, params, params_len);
    if (rc == 0) rc = cs_pg_put_msg(out, 'P', b.data, b.len);
    cs_buf_free(&b);
    return rc;
}

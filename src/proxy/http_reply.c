/* http_reply.c - HTTP/1.1 response framing (RFC 9112 §4-§7) for the proxy's
 * connection to the gateway. */
#include "proxy/http_reply.h"

#include "util/error.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* The line starting at p: 1 with *e at the CR of its CRLF, 0 when it has not all
 * arrived, CS_EPARSE when it holds a bare CR or LF or cannot end within max bytes. */
static int line_end(const char *p, const char *end, size_t max, const char **e)
{
    size_t n = (size_t)(end - p);
    const char *lf = memchr(p, '\n', n < max ? n : max);
    if (lf == NULL) return n >= max ? CS_EPARSE : 0;
    if (lf == p || lf[-1] != '\r' || memchr(p, '\r', (size_t)(lf - 1 - p)) != NULL) return CS_EPARSE;
    *e = lf - 1;
    return 1;
}

static bool is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* v (n bytes, no surrounding spaces) is a comma-separated list holding token t. */
static bool list_has(const char *v, size_t n, const char *t)
{
    size_t tn = strlen(t);
    for (size_t i = 0; i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t k = j;
        while (k > i && (v[k - 1] == ' ' || v[k - 1] == '\t'))
            k--;
        if (k - i == tn && strncasecmp(v + i, t, tn) == 0) return true;
        i = j;
    }
    return false;
}

typedef struct head {
    int status, minor;
    long long length; /* -1: none */
    bool chunked, close, keep_alive_token;
    size_t len; /* bytes up to and including the empty line */
} head;

/* 1 with h filled, 0 for more bytes, CS_EPARSE / CS_ETOOBIG. */
static int parse_head(const char *data, size_t len, head *h)
{
    memset(h, 0, sizeof *h);
    h->length = -1;
    const char *p = data, *end = data + len;
    const char *e;
    int lr = line_end(p, end, CS_HTTP_REPLY_LINE_MAX, &e);
    if (lr <= 0) return lr;
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (e - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return CS_EPARSE;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9') return CS_EPARSE;
    if (e - p > 12 && p[12] != ' ') return CS_EPARSE;
    h->minor = p[7] - '0';
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (h->status < 100) return CS_EPARSE;
    p = e + 2;
    for (;;) {
        if ((size_t)(p - data) > CS_HTTP_REPLY_HEAD_MAX) return CS_ETOOBIG;
        size_t room = CS_HTTP_REPLY_HEAD_MAX - (size_t)(p - data) + 2;
        lr = line_end(p, end, room, &e);
        if (lr == CS_EPARSE && (size_t)(end - p) >= room && memchr(p, '\n', room) == NULL)
            return CS_ETOOBIG;
        if (lr <= 0) return lr;
        if (e == p) break; /* the empty line */
        if (*p == ' ' || *p == '\t') return CS_EPARSE; /* obsolete line folding */
        const char *colon = p;
        while (colon < e && is_token_char(*colon))
            colon++;
        if (colon == p || colon == e || *colon != ':') return CS_EPARSE;
        size_t nn = (size_t)(colon - p);
        const char *v = colon + 1, *ve = e;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vn = (size_t)(ve - v);
        if (nn == 14 && strncasecmp(p, "content-length", 14) == 0) {
            long long n = 0;
            if (vn == 0 || vn > 18) return CS_EPARSE;
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9') return CS_EPARSE;
                n = n * 10 + (v[i] - '0');
            }
            if (h->length >= 0 && h->length != n) return CS_EPARSE;
            h->length = n;
        } else if (nn == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            /* Only one "chunked", alone, is understood (no gzip, no repeats). */
            if (vn != 7 || strncasecmp(v, "chunked", 7) != 0 || h->chunked) return CS_EPARSE;
            h->chunked = true;
        } else if (nn == 10 && strncasecmp(p, "connection", 10) == 0) {
            if (list_has(v, vn, "close")) h->close = true;
            if (list_has(v, vn, "keep-alive")) h->keep_alive_token = true;
        }
        p = e + 2;
    }
    h->len = (size_t)(e + 2 - data);
    if (h->chunked && h->length >= 0) return CS_EPARSE; /* RFC 9112 §6.3: ambiguous */
    return 1;
}

/* The chunked body at data[0..len): 1 with *used set (trailers included) and the
 * data appended to body, 0 for more bytes, CS_EPARSE / CS_ETOOBIG. Walks the
 * chunk sizes twice: first to see the body complete, then to copy it. */
static int parse_chunks(const char *data, size_t len, cs_buf *body, size_t *used)
{
    for (int copy = 0; copy < 2; copy++) {
        const char *p = data, *end = data + len;
        size_t total = 0;
        for (;;) {
            const char *e;
            int lr = line_end(p, end, CS_HTTP_REPLY_LINE_MAX, &e);
            if (lr <= 0) return lr;
            unsigned long long n = 0;
            const char *q = p;
            for (; q < e; q++) {
                int d = *q >= '0' && *q <= '9'   ? *q - '0'
                        : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                        : *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
                                                 : -1;
                if (d < 0) break;
                if (q - p >= 15) return CS_EPARSE; /* no body here is that long */
                n = n * 16 + (unsigned)d;
            }
            if (q == p || (q < e && *q != ';' && *q != ' ' && *q != '\t')) return CS_EPARSE;
            p = e + 2;
            if (n == 0) {
                /* Trailer fields, then the empty line. */
                for (;;) {
                    lr = line_end(p, end, CS_HTTP_REPLY_LINE_MAX, &e);
                    if (lr <= 0) return lr;
                    bool empty = e == p;
                    p = e + 2;
                    if (empty) break;
                }
                *used = (size_t)(p - data);
                break;
            }
            if (n > body->max || body->len + total + n > body->max) return CS_ETOOBIG;
            if ((size_t)(end - p) < n + 2) return 0;
            if (p[n] != '\r' || p[n + 1] != '\n') return CS_EPARSE;
            if (copy && cs_buf_append(body, p, n) != 0) return CS_ETOOBIG;
            total += n;
            p += n + 2;
        }
    }
    return 1;
}

int cs_http_reply_parse(const char *data, size_t len, int eof, cs_http_reply *r, cs_buf *body)
{
    size_t off = 0;
    head h;
    for (;;) {
        int rc = parse_head(data + off, len - off, &h);
        if (rc == 0 && eof) return CS_EPARSE;
        if (rc <= 0) return rc;
        if (h.status >= 200 || h.status == 101) break;
        off += h.len; /* an interim response (100 Continue, 103 Early Hints) */
    }
    if (h.status == 101) return CS_EPARSE; /* no upgrade was asked for */
    const char *b = data + off + h.len;
    size_t avail = len - off - h.len;
    bool keep = h.minor == 1 ? !h.close : h.keep_alive_token && !h.close;
    size_t used;
    if (h.status == 204 || h.status == 304) {
        used = 0;
    } else if (h.chunked) {
        int rc = parse_chunks(b, avail, body, &used);
        if (rc == 0 && eof) return CS_EPARSE;
        if (rc <= 0) return rc;
    } else if (h.length >= 0) {
        if ((unsigned long long)h.length > body->max) return CS_ETOOBIG;
        if (avail < (size_t)h.length) return eof ? CS_EPARSE : 0;
        used = (size_t)h.length;
        if (cs_buf_append(body, b, used) != 0) return CS_ETOOBIG;
    } else {
        /* No length: the body runs to the end of the connection. */
        if (avail > body->max) return CS_ETOOBIG;
        if (!eof) return 0;
        used = avail;
        keep = false;
        if (cs_buf_append(body, b, used) != 0) return CS_ETOOBIG;
    }
    r->status = h.status;
    r->keep_alive = keep;
    r->used = off + h.len + used;
    return 1;
}

/* mcp_jsonrpc.c - JSON-RPC 2.0 message parsing, framing and the error, result and
 * progress messages the proxy writes itself (MCP 2025-06-18 base protocol). */
#include "proxy/mcp_jsonrpc.h"

#include "util/alloc.h"
#include "util/error.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/uio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cs_rpc_id_key(const json_t *id, char *key, size_t n)
{
    char *text = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = text && strlen(text) < n ? 0 : CS_ETOOBIG;
    if (rc == 0)
        memcpy(key, text, strlen(text) + 1);
    else if (n)
        key[0] = '\0';
    free(text);
    return rc;
}

static int invalid(cs_rpc_msg *m, const char *why)
{
    m->kind = CS_RPC_INVALID;
    snprintf(m->why, sizeof m->why, "%s", why);
    return CS_EPARSE;
}

/* MCP: ids are strings or integers (never null); we also take other numbers. */
static int id_ok(const json_t *id)
{
    return json_is_string(id) || json_is_number(id);
}

/* Classifies a parsed JSON object as request, notification or response. */
static int classify(cs_rpc_msg *m)
{
    json_t *o = m->root;
    json_t *method = json_object_get(o, "method");
    json_t *id = json_object_get(o, "id");
    if (id && !id_ok(id)) return invalid(m, "\"id\" must be a string or an integer");
    if (id && cs_rpc_id_key(id, m->id_key, sizeof m->id_key) != 0)
        return invalid(m, "\"id\" is too long");
    m->id = id; /* from here on, an error answer can name the request */
    const char *v = json_string_value(json_object_get(o, "jsonrpc"));
    if (v == NULL || strcmp(v, "2.0") != 0) return invalid(m, "\"jsonrpc\" must be \"2.0\"");
    if (method) {
        if (!json_is_string(method) || json_string_length(method) == 0)
            return invalid(m, "\"method\" must be a non-empty string");
        json_t *params = json_object_get(o, "params");
        if (params && !json_is_object(params) && !json_is_array(params))
            return invalid(m, "\"params\" must be an object or an array");
        m->method = json_string_value(method);
        m->kind = id ? CS_RPC_REQUEST : CS_RPC_NOTIFICATION;
        return 0;
    }
    int has_result = json_object_get(o, "result") != NULL,
        has_error = json_object_get(o, "error") != NULL;
    if (id == NULL || has_result == has_error)
        return invalid(
            m,
            "a message needs \"method\", or \"id\" with exactly one of \"result\" and \"error\"");
    m->kind = CS_RPC_RESPONSE;
    return 0;
}

/* Whether the number token t (n bytes, JSON's grammar or garbage) is one jansson
 * refuses although it is valid JSON: an integer outside 64 bits, or a float beyond
 * double's range. */
static bool number_out_of_range(const char *t, size_t n)
{
    char small[128], *tmp = n < sizeof small ? small : cs_malloc(n + 1);
    memcpy(tmp, t, n);
    tmp[n] = '\0';
    bool integer = strcspn(tmp, ".eE") == n, out;
    errno = 0;
    if (integer) {
        (void)strtoll(tmp, NULL, 10);
        out = errno == ERANGE;
    } else {
        double d = strtod(tmp, NULL);
        out = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL); /* an underflow is read as 0 */
    }
    if (tmp != small) free(tmp);
    return out;
}

/* data with every number jansson cannot hold written as a string of its text
 * (123456789012345678901234567890 -> "123456789012345678901234567890"). Strings are
 * copied untouched; the result is at most three times as long. */
static int numbers_as_text(const char *data, size_t len, cs_buf *out)
{
    bool in_str = false;
    for (size_t i = 0; i < len;) {
        char c = data[i];
        if (in_str) {
            size_t j = i;
            while (j < len && data[j] != '"' && data[j] != '\\')
                j++;
            if (j < len && data[j] == '\\') j = j + 2 > len ? len : j + 2;
            else if (j < len) {
                in_str = false;
                j++;
            }
            if (cs_buf_append(out, data + i, j - i) != 0) return CS_ETOOBIG;
            i = j;
            continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i + 1;
            while (j < len && (strchr("0123456789+-.eE", data[j]) != NULL && data[j] != '\0'))
                j++;
            bool wrap = number_out_of_range(data + i, j - i);
            if ((wrap && cs_buf_putc(out, '"') != 0) || cs_buf_append(out, data + i, j - i) != 0 ||
                (wrap && cs_buf_putc(out, '"') != 0))
                return CS_ETOOBIG;
            i = j;
            continue;
        }
        if (c == '"') in_str = true;
        if (cs_buf_putc(out, c) != 0) return CS_ETOOBIG;
        i++;
    }
    return 0;
}

int cs_rpc_parse(const char *data, size_t len, cs_rpc_msg *m)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    /* Duplicate keys are refused: the proxy and the server must not read two
     * different messages out of the same bytes. */
    m->root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (m->root == NULL && json_error_code(&je) == json_error_numeric_overflow) {
        /* Valid JSON all the same (RFC 8259 sets no range): read such numbers as
         * their text. What is forwarded is still the bytes as read. */
        cs_buf b;
        cs_buf_init_reserve(&b, 3 * len + 1, len + 16);
        if (numbers_as_text(data, len, &b) == 0)
            m->root = json_loadb(b.data ? b.data : "", b.len,
                                 JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        cs_buf_free(&b);
    }
    if (m->root == NULL) {
        m->parse_error = 1;
        snprintf(m->why, sizeof m->why, "not valid JSON: %.120s (column %d)", je.text, je.column);
        m->kind = CS_RPC_INVALID;
        return CS_EPARSE;
    }
    if (json_is_array(m->root)) {
        if (json_array_size(m->root) == 0) return invalid(m, "an empty batch");
        m->kind = CS_RPC_BATCH;
        return 0;
    }
    if (!json_is_object(m->root)) return invalid(m, "a JSON-RPC message must be a JSON object");
    return classify(m);
}

void cs_rpc_msg_clear(cs_rpc_msg *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

static char *line_of(json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    char *line = cs_sprintf("%s\n", text);
    free(text);
    return line;
}

char *cs_rpc_error_line(const json_t *id, int code, const char *message)
{
    json_t *msg = json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                            "error", "code", code, "message", message);
    return line_of(msg);
}

char *cs_rpc_result_line(const json_t *id, json_t *result)
{
    json_t *msg =
        json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result", result);
    return line_of(msg);
}

char *cs_rpc_tool_error_line(const json_t *id, const char *text)
{
    json_t *result =
        json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 1);
    return cs_rpc_result_line(id, result);
}

char *cs_rpc_progress_line(const json_t *token, double progress, const char *message)
{
    json_t *msg =
        json_pack("{s:s,s:s,s:{s:O,s:f,s:s}}", "jsonrpc", "2.0", "method", "notifications/progress",
                  "params", "progressToken", token, "progress", progress, "message", message);
    return line_of(msg);
}

void cs_rpc_reader_init(cs_rpc_reader *r, int fd, size_t max)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->wake_fd = -1;
    cs_buf_init(&r->line, max);
}

void cs_rpc_reader_free(cs_rpc_reader *r)
{
    cs_buf_free(&r->line);
}

static int fill(cs_rpc_reader *r)
{
    for (;;) {
        if (r->wake_fd >= 0) {
            struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN},
                                  {.fd = r->wake_fd, .events = POLLIN}};
            if (poll(p, 2, -1) < 0) {
                if (errno == EINTR) continue;
                break;
            }
            if (p[1].revents) {
                cs_buf_reset(&r->line); /* woken: a partial message is dropped */
                break;
            }
        }
        ssize_t n = read(r->fd, r->in, sizeof r->in);
        if (n > 0) {
            r->in_len = (size_t)n;
            r->in_pos = 0;
            return 0;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    r->eof = 1;
    return CS_EIO;
}

int cs_rpc_read(cs_rpc_reader *r, const char **data, size_t *len)
{
    cs_buf_reset(&r->line);
    r->big_id = NULL;
    for (;;) {
        if (r->in_pos == r->in_len && (r->eof || fill(r) != 0)) {
            /* A last message without its newline still counts. */
            if (r->line.len == 0 || r->overflow) return CS_EIO;
            *data = r->line.data;
            *len = r->line.len;
            return 0;
        }
        char *start = r->in + r->in_pos;
        char *nl = memchr(start, '\n', r->in_len - r->in_pos);
        size_t n = nl ? (size_t)(nl - start) : r->in_len - r->in_pos;
        r->in_pos += n + (nl != NULL);
        if (r->overflow) {
            cs_rpc_idscan_feed(&r->scan, start, n);
        } else if (cs_buf_append(&r->line, start, n) != 0) {
            /* Over the cap: keep only what it takes to find the message's id. */
            r->overflow = 1;
            memset(&r->scan, 0, sizeof r->scan);
            cs_rpc_idscan_feed(&r->scan, r->line.data ? r->line.data : "", r->line.len);
            cs_rpc_idscan_feed(&r->scan, start, n);
            cs_buf_reset(&r->line);
        }
        if (nl == NULL) continue;
        if (r->overflow) {
            r->overflow = 0;
            r->big_id = cs_rpc_idscan_result(&r->scan);
            return CS_ETOOBIG;
        }
        size_t l = r->line.len;
        if (l && r->line.data[l - 1] == '\r') l--; /* tolerate CRLF */
        if (l == 0) continue;
        *data = r->line.data;
        *len = l;
        return 0;
    }
}

int cs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return CS_EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cs_write_line(int fd, const void *data, size_t len)
{
    struct iovec v[2] = {{(void *)data, len}, {"\n", 1}};
    ssize_t n;
    do
        n = writev(fd, v, 2);
    while (n < 0 && errno == EINTR);
    if (n < 0) return CS_EIO;
    if ((size_t)n > len) return 0;
    /* A short write (a full pipe): finish the rest the plain way. */
    if (cs_write_all(fd, (const char *)data + n, len - (size_t)n) != 0) return CS_EIO;
    return cs_write_all(fd, "\n", 1);
}

/* ---- id scanner: a small JSON tokenizer that only follows the top level ---- */

enum { SC_KEY_WAIT, SC_KEY, SC_COLON, SC_VALUE_WAIT, SC_VALUE };

static void scan_put(cs_rpc_idscan *s, char c)
{
    if (s->idlen + 1 < sizeof s->id)
        s->id[s->idlen++] = c;
    else
        s->capture = 0, s->idlen = 0; /* too long to be an id we can name */
}

static void scan_end_value(cs_rpc_idscan *s)
{
    if (s->capture && s->idlen) s->done = 1;
    s->capture = 0;
    s->state = SC_VALUE;
}

static void scan_in_string(cs_rpc_idscan *s, char c)
{
    if (s->capture) scan_put(s, c);
    if (s->esc) {
        s->esc = 0;
    } else if (c == '\\') {
        s->esc = 1;
    } else if (c == '"') {
        s->in_str = 0;
        if (s->depth == 1 && s->state == SC_KEY) {
            s->is_id = s->keylen == 2 && !memcmp(s->key, "id", 2);
            s->state = SC_COLON;
        } else if (s->depth == 1 && s->capture) {
            scan_end_value(s);
        }
    } else if (s->depth == 1 && s->state == SC_KEY && s->keylen < sizeof s->key) {
        s->key[s->keylen++] = c;
    }
}

static void scan_byte(cs_rpc_idscan *s, char c)
{
    if (s->in_str) return scan_in_string(s, c);
    int top = s->depth == 1;
    switch (c) {
    case '"':
        s->in_str = 1;
        if (top && s->state == SC_KEY_WAIT)
            s->state = SC_KEY, s->keylen = 0;
        else if (top && s->state == SC_VALUE_WAIT) {
            s->state = SC_VALUE;
            if (s->is_id && !s->done) s->capture = 1, s->idlen = 0, scan_put(s, c);
        }
        return;
    case '{':
    case '[':
        if (top && s->state == SC_VALUE_WAIT) s->state = SC_VALUE;
        if (++s->depth == 1) s->state = SC_KEY_WAIT;
        return;
    case '}':
    case ']':
        if (top) scan_end_value(s);
        s->depth--;
        return;
    case ',':
        if (top) scan_end_value(s), s->state = SC_KEY_WAIT;
        return;
    case ':':
        if (top && s->state == SC_COLON) s->state = SC_VALUE_WAIT;
        return;
    case ' ':
    case '\t':
    case '\r':
    case '\n':
        if (top && s->capture) scan_end_value(s);
        return;
    default:
        if (top && s->state == SC_VALUE_WAIT) {
            s->state = SC_VALUE;
            if (s->is_id && !s->done) s->capture = 1, s->idlen = 0;
        }
        if (top && s->capture) scan_put(s, c);
    }
}

void cs_rpc_idscan_feed(cs_rpc_idscan *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !s->done && s->depth >= 0; i++)
        scan_byte(s, p[i]);
}

const char *cs_rpc_idscan_result(cs_rpc_idscan *s)
{
    if (!s->done) return NULL;
    s->id[s->idlen] = '\0';
    return s->id;
}

/* mcp_stream.c - one relayed exchange of the Streamable HTTP proxy (MCP 2025-06-18
 * "Streamable HTTP"): the libcurl request upstream, SSE framing (WHATWG "Server-sent
 * events") of the events the proxy adds, and the outcome of a forwarded tools/call
 * found in the upstream answer. */
#include "proxy/mcp_stream.h"

#include "util/alloc.h"
#include "util/log.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BACKLOG_MAX (1024 * 1024) /* unread bytes before the upstream reader waits */

/* Response headers a client of the MCP endpoint needs. */
static const char *const relayed[] = {"content-type",
                                      "mcp-session-id",
                                      "mcp-protocol-version",
                                      "www-authenticate",
                                      "cache-control",
                                      "last-event-id",
                                      NULL};

cs_mcp_stream *cs_mcp_stream_new(const char *url, const char *method, size_t max_msg)
{
    cs_mcp_stream *s = cs_calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->refs = 2;
    s->url = cs_strdup(url);
    s->method = cs_strdup(method);
    cs_buf_init(&s->out, max_msg);
    cs_buf_init(&s->json, max_msg);
    cs_buf_init(&s->seen, max_msg);
    return s;
}

void cs_mcp_stream_release(cs_mcp_stream *s)
{
    pthread_mutex_lock(&s->mu);
    int left = --s->refs;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) return;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    curl_slist_free_all(s->req_headers);
    curl_slist_free_all(s->up_headers);
    cs_buf_free(&s->out);
    cs_buf_free(&s->json);
    cs_buf_free(&s->seen);
    free(s->body);
    free(s->url);
    free(s->method);
    free(s);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    cs_mcp_stream *s = ud;
    size_t len = size * n, l = len;
    while (l && (p[l - 1] == '\r' || p[l - 1] == '\n'))
        l--;
    pthread_mutex_lock(&s->mu);
    if (l > 5 && !strncmp(p, "HTTP/", 5)) { /* a status line: start over (1xx) */
        const char *sp = memchr(p, ' ', l);
        s->up_status = sp ? strtol(sp + 1, NULL, 10) : 0;
        curl_slist_free_all(s->up_headers);
        s->up_headers = NULL;
        s->up_ctype[0] = '\0';
    } else if (l == 0 && s->up_status >= 200) {
        s->headers_done = 1;
        pthread_cond_broadcast(&s->cv);
    } else {
        for (int i = 0; relayed[i]; i++) {
            size_t k = strlen(relayed[i]);
            if (l <= k || p[k] != ':' || strncasecmp(p, relayed[i], k)) continue;
            char *line = cs_strndup(p, l);
            s->up_headers = curl_slist_append(s->up_headers, line);
            if (i == 0) {
                const char *v = line + k + 1;
                while (*v == ' ')
                    v++;
                snprintf(s->up_ctype, sizeof s->up_ctype, "%s", v);
            }
            free(line);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return len;
}

static int is_sse(const char *ctype)
{
    return !strncasecmp(ctype, "text/event-stream", 17);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    cs_mcp_stream *s = ud;
    size_t len = size * n;
    pthread_mutex_lock(&s->mu);
    int ok = !atomic_load(&s->gone);
    if (ok && s->id_key[0])
        (void)cs_buf_append(&s->seen, p, len); /* past the cap: no outcome detail */
    if (ok && s->wrap_sse && !is_sse(s->up_ctype))
        ok = cs_buf_append(&s->json, p, len) == 0;
    else if (ok) {
        while (s->streaming && s->out.len - s->out_pos > BACKLOG_MAX && !atomic_load(&s->gone))
            pthread_cond_wait(&s->cv, &s->mu);
        ok = !atomic_load(&s->gone) && cs_buf_append(&s->out, p, len) == 0;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return ok ? len : 0;
}

static int check_gone(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    cs_mcp_stream *s = ud;
    return atomic_load(&s->gone) ? 1 : 0;
}

void cs_mcp_stream_event(cs_mcp_stream *s, const char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    pthread_mutex_lock(&s->mu);
    if (cs_buf_puts(&s->out, "event: message\ndata: ") != 0 ||
        cs_buf_append(&s->out, line, n) != 0 || cs_buf_puts(&s->out, "\n\n") != 0)
        s->failed = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void cs_mcp_stream_finish(cs_mcp_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->done = 1;
    s->headers_done = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void cs_mcp_stream_abandon(cs_mcp_stream *s)
{
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->gone, 1);
    if (s->call) {
        atomic_store(&s->call->aborted, 1);
        atomic_store(&s->call->stop, 1);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int cs_mcp_sse_each(const char *p, size_t n, int (*fn)(void *ctx, const char *data, size_t len),
                    void *ctx)
{
    cs_buf data;
    cs_buf_init(&data, n + 1);
    const char *end = p + n;
    int stop = 0;
    while (p < end && !stop) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t ll = l && p[l - 1] == '\r' ? l - 1 : l;
        if (ll == 0) {
            if (data.len) stop = fn(ctx, data.data, data.len);
            cs_buf_reset(&data);
        } else if (ll >= 5 && !strncmp(p, "data:", 5)) {
            size_t skip = ll > 5 && p[5] == ' ' ? 6 : 5;
            if (data.len) cs_buf_putc(&data, '\n');
            cs_buf_append(&data, p + skip, ll - skip);
        }
        p += l + (nl != NULL);
    }
    if (data.len && !stop) stop = fn(ctx, data.data, data.len);
    cs_buf_free(&data);
    return stop;
}

/* The answer to the relayed request, if this message is it (and, for a forwarded
 * tools/call, its outcome report). */
static int answer_in(void *ctx, const char *data, size_t len)
{
    cs_mcp_stream *s = ctx;
    cs_rpc_msg m;
    if (cs_rpc_parse(data, len, &m) == 0 && m.kind == CS_RPC_RESPONSE &&
        !strcmp(m.id_key, s->id_key)) {
        s->answered = 1;
        if (s->action_id[0]) cs_mcp_gate_outcome(s->gate, s->action_id, &m, data, len);
    }
    cs_rpc_msg_clear(&m);
    return s->answered;
}

/* An error answer, as an SSE event, for a request the upstream left unanswered. */
static void owe_error(cs_mcp_stream *s, const char *why)
{
    json_t *id = json_loads(s->id_key, JSON_DECODE_ANY, NULL);
    char *line = cs_rpc_error_line(id, CS_RPC_SERVER_GONE, why);
    cs_mcp_stream_event(s, line);
    free(line);
    json_decref(id);
}

/* After the transfer: find the answer in what the upstream sent; a held call gets
 * a JSON answer wrapped into SSE; a request left without an answer on an SSE
 * stream (upstream died, or answered an HTTP error) gets a JSON-RPC error in band. */
static void settle(cs_mcp_stream *s)
{
    if (s->id_key[0] && s->seen.len) {
        if (is_sse(s->up_ctype))
            cs_mcp_sse_each(s->seen.data, s->seen.len, answer_in, s);
        else
            answer_in(s, s->seen.data, s->seen.len);
    }
    if (s->wrap_sse && s->json.len && s->up_status >= 200 && s->up_status < 300) {
        cs_buf_putc(&s->json, '\0');
        cs_mcp_stream_event(s, s->json.data);
    }
    if (s->action_id[0] && !s->answered)
        cs_warn("mcp-proxy: no answer to the forwarded call of %s was seen", s->action_id);
    if (!s->id_key[0] || s->answered || !(s->wrap_sse || is_sse(s->up_ctype))) return;
    char *why =
        s->failed ? cs_sprintf("the MCP server failed before answering: %s", s->err)
                  : cs_sprintf("the MCP server answered HTTP %ld without an answer", s->up_status);
    owe_error(s, why);
    free(why);
    pthread_mutex_lock(&s->mu);
    s->failed = 0; /* the error went in band: end the stream cleanly */
    pthread_mutex_unlock(&s->mu);
}

static void prepare(cs_mcp_stream *s, CURL *c)
{
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    if (!strcmp(s->method, "GET"))
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, s->method);
    if (s->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->req_headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, check_gone);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
}

void cs_mcp_stream_fetch(cs_mcp_stream *s, CURL *c)
{
    prepare(s, c);
    CURLcode rc = curl_easy_perform(c);
    pthread_mutex_lock(&s->mu);
    if (rc != CURLE_OK) {
        s->failed = 1;
        snprintf(s->err, sizeof s->err, "%s", curl_easy_strerror(rc));
    }
    pthread_mutex_unlock(&s->mu);
    settle(s);
    cs_mcp_stream_finish(s);
}

/* Waits on the stream (mu held) for up to a second; 1 when the client has hung up
 * meanwhile, which is how a client that leaves a quiet stream is noticed. */
/* usec from now on the clock of s->cv (CLOCK_REALTIME, the default). */
static struct timespec cv_deadline(long usec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += usec * 1000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    return ts;
}

static int wait_or_hangup(cs_mcp_stream *s, int client_fd)
{
    struct timespec ts = cv_deadline(1000000);
    if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0 || client_fd < 0) return 0;
    struct pollfd p = {.fd = client_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

int cs_mcp_stream_wait(cs_mcp_stream *s, int until_done, int client_fd)
{
    int hup = 0;
    pthread_mutex_lock(&s->mu);
    while (!(until_done ? s->done : s->headers_done) && !atomic_load(&s->gone) && !hup)
        hup = wait_or_hangup(s, client_fd);
    pthread_mutex_unlock(&s->mu);
    if (hup) cs_mcp_stream_abandon(s);
    return atomic_load(&s->gone) ? -1 : 0;
}

int cs_mcp_stream_settles_within(cs_mcp_stream *s, long usec)
{
    struct timespec until = cv_deadline(usec);
    while (!s->done && !atomic_load(&s->gone))
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0) break;
    return s->done && !s->failed;
}

long cs_mcp_stream_read(cs_mcp_stream *s, char *buf, size_t max, int client_fd)
{
    pthread_mutex_lock(&s->mu);
    while (s->out.len == s->out_pos && !s->done && !atomic_load(&s->gone)) {
        if (wait_or_hangup(s, client_fd)) {
            pthread_mutex_unlock(&s->mu);
            cs_mcp_stream_abandon(s);
            return -1;
        }
    }
    long n = -1;
    if (s->out.len > s->out_pos) {
        size_t k = s->out.len - s->out_pos < max ? s->out.len - s->out_pos : max;
        memcpy(buf, s->out.data + s->out_pos, k);
        s->out_pos += k;
        if (s->out_pos == s->out.len) cs_buf_reset(&s->out), s->out_pos = 0;
        n = (long)k;
    } else if (!atomic_load(&s->gone)) {
        n = s->failed && !s->wrap_sse ? -1 : 0;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return n;
}

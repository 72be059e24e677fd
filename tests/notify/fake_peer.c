/* fake_peer.c - see fake_peer.h. */
#include "fake_peer.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HANG_GUARD_S 60

struct fake_peer {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    json_t *log;
    char down[128];
    int down_429; /* answer 429 + Retry-After instead of closing */
    long refused;
    long ts_seq;
};

typedef struct conn {
    char *body;
    size_t len;
} conn;

static const char *const kept_headers[] = {"authorization", "content-type", "webhook-id",
                                           "webhook-timestamp", "webhook-signature"};

static enum MHD_Result keep_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    json_t *h = cls;
    char low[64];
    size_t n = strlen(key);
    if (n >= sizeof low) return MHD_YES;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
    for (size_t i = 0; i < sizeof kept_headers / sizeof kept_headers[0]; i++)
        if (!strcmp(low, kept_headers[i])) json_object_set_new(h, low, json_string(value));
    return MHD_YES;
}

/* Slack methods answer ok; chat.postMessage (handled by the caller) also gets a
 * channel id and a fresh ts. Teams answers 202 as Workflows does. */
static char *answer_for(const char *path, unsigned *status)
{
    *status = 200;
    if (!strncmp(path, "/api/", 5)) return strdup("{\"ok\":true}");
    if (!strncmp(path, "/teams/", 7)) *status = 202;
    return strdup("");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    fake_peer *f = cls;
    conn *k = *con_cls;
    if (k == NULL) {
        pthread_mutex_lock(&f->lock);
        int down = f->down[0] && !strncmp(url, f->down, strlen(f->down));
        if (down) f->refused++;
        int limited = down && f->down_429;
        pthread_mutex_unlock(&f->lock);
        if (limited) {
            static char busy[] = "{\"ok\":false,\"error\":\"ratelimited\"}";
            struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(busy), busy, MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r, "Retry-After", "1");
            enum MHD_Result ret = MHD_queue_response(c, 429, r);
            MHD_destroy_response(r);
            return ret;
        }
        if (down) return MHD_NO; /* close without an answer */
        *con_cls = calloc(1, sizeof(conn));
        return MHD_YES;
    }
    if (*upload_size) {
        k->body = realloc(k->body, k->len + *upload_size + 1);
        memcpy(k->body + k->len, upload, *upload_size);
        k->len += *upload_size;
        k->body[k->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    json_t *h = json_object();
    MHD_get_connection_values(c, MHD_HEADER_KIND, keep_header, h);
    const char *body = k->body ? k->body : "";
    json_t *rec =
        json_pack("{s:s,s:s,s:o,s:s}", "method", method, "path", url, "headers", h, "body", body);
    json_t *parsed = json_loads(body, 0, NULL);
    json_object_set_new(rec, "json", parsed ? parsed : json_null());
    unsigned status;
    char *text;
    pthread_mutex_lock(&f->lock);
    if (!strcmp(url, "/api/chat.postMessage")) {
        char ts[32];
        snprintf(ts, sizeof ts, "1700000000.%06ld", ++f->ts_seq);
        status = 200;
        json_t *ans = json_pack("{s:b,s:s,s:s}", "ok", 1, "channel", "C0FAKE", "ts", ts);
        text = json_dumps(ans, 0);
        json_decref(ans);
    } else {
        text = answer_for(url, &status);
    }
    json_array_append_new(f->log, rec);
    pthread_mutex_unlock(&f->lock);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    conn *k = *con_cls;
    if (k == NULL) return;
    free(k->body);
    free(k);
    *con_cls = NULL;
}

fake_peer *fake_start(void)
{
    fake_peer *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->log = json_array();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            on_request, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, f, MHD_OPTION_END);
    if (f->d == NULL) abort();
    f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return f;
}

void fake_stop(fake_peer *f)
{
    MHD_stop_daemon(f->d);
    json_decref(f->log);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int fake_port(fake_peer *f)
{
    return f->port;
}

void fake_set_down(fake_peer *f, const char *prefix, int with_429)
{
    pthread_mutex_lock(&f->lock);
    f->down_429 = with_429;
    snprintf(f->down, sizeof f->down, "%s", prefix ? prefix : "");
    pthread_mutex_unlock(&f->lock);
}

long fake_refused(fake_peer *f)
{
    pthread_mutex_lock(&f->lock);
    long n = f->refused;
    pthread_mutex_unlock(&f->lock);
    return n;
}

json_t *fake_requests(fake_peer *f, const char *path)
{
    json_t *out = json_array();
    pthread_mutex_lock(&f->lock);
    size_t i;
    json_t *r;
    json_array_foreach(f->log, i,
                       r) if (path == NULL ||
                              !strcmp(json_string_value(json_object_get(r, "path")), path))
        json_array_append_new(out, json_deep_copy(r));
    pthread_mutex_unlock(&f->lock);
    return out;
}

json_t *fake_wait(fake_peer *f, const char *path, size_t n)
{
    for (int i = 0; i < HANG_GUARD_S * 50; i++) {
        json_t *got = fake_requests(f, path);
        if (json_array_size(got) >= n) return got;
        json_decref(got);
        usleep(20000);
    }
    fprintf(stderr, "fake peer: %zu requests to %s never came\n", n, path);
    abort();
}

void fake_wait_refused(fake_peer *f, long n)
{
    for (int i = 0; i < HANG_GUARD_S * 50; i++) {
        if (fake_refused(f) >= n) return;
        usleep(20000);
    }
    fprintf(stderr, "fake peer: %ld refused connections never came\n", n);
    abort();
}

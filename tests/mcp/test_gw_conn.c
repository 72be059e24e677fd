/* test_gw_conn.c - unit tests for the proxy's plain HTTP/1.1 connection to the
 * gateway: URL targets, response framing (http_reply.c), and requests against a
 * scripted server on a loopback socket (keep-alive, a connection closed while idle,
 * timeouts and aborts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proxy/gw_conn.h"
#include "proxy/http_reply.h"
#include "util/clock.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void targets(void **state)
{
    cs_gw_target t;
    assert_int_equal(cs_gw_target_parse("http://127.0.0.1:8080", &t), 0);
    assert_string_equal(t.host, "127.0.0.1");
    assert_string_equal(t.port, "8080");
    assert_string_equal(t.authority, "127.0.0.1:8080");
    assert_string_equal(t.prefix, "");
    assert_int_equal(cs_gw_target_parse("http://gw.example/base/", &t), 0);
    assert_string_equal(t.host, "gw.example");
    assert_string_equal(t.port, "80");
    assert_string_equal(t.prefix, "/base");
    assert_int_equal(cs_gw_target_parse("http://[::1]:9/x", &t), 0);
    assert_string_equal(t.host, "::1");
    assert_string_equal(t.port, "9");
    assert_string_equal(t.authority, "[::1]:9");
    const char *bad[] = {"https://127.0.0.1:8080", "http://", "http://:80", "http://h:",
                         "http://h:123456", "http://h:8x", "http://u:p@h/", "http://h/?q",
                         "http://[::1", "http://[::1]x", "ftp://h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cs_gw_target_parse(bad[i], &t), CS_EINVAL);
}

/* Parses text (whole, at eof or not): the return code, with status/keep-alive/body. */
static int parse(const char *text, int eof, cs_http_reply *r, cs_buf *body)
{
    cs_buf_reset(body);
    return cs_http_reply_parse(text, strlen(text), eof, r, body);
}

static void framing(void **state)
{
    cs_buf body;
    cs_buf_init(&body, 64);
    cs_http_reply r;
    const char *ok = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\ncontent-length:  7 \r\n\r\n{\"a\":1}";
    assert_int_equal(parse(ok, 0, &r, &body), 1);
    assert_int_equal(r.status, 201);
    assert_true(r.keep_alive);
    assert_int_equal(r.used, strlen(ok));
    assert_string_equal(body.data, "{\"a\":1}");
    /* Every proper prefix needs more bytes, and says nothing has arrived. */
    for (size_t n = 0; n < strlen(ok); n++) {
        cs_buf_reset(&body);
        assert_int_equal(cs_http_reply_parse(ok, n, 0, &r, &body), 0);
        assert_int_equal(body.len, 0);
        cs_buf_reset(&body);
        assert_int_equal(cs_http_reply_parse(ok, n, 1, &r, &body), CS_EPARSE); /* cut short */
    }
    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "4\r\n{\"a\"\r\n3;ext=1\r\n:1}\r\n0\r\nTrailer: x\r\n\r\n";
    assert_int_equal(parse(chunked, 0, &r, &body), 1);
    assert_string_equal(body.data, "{\"a\":1}");
    assert_int_equal(r.used, strlen(chunked));
    /* HTTP/1.0 keeps the connection only when asked; Connection: close ends it. */
    assert_int_equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, &r, &body), 1);
    assert_false(r.keep_alive);
    assert_int_equal(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 0, &r, &body), 1);
    assert_true(r.keep_alive);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nConnection: x, close\r\nContent-Length: 0\r\n\r\n", 0, &r, &body), 1);
    assert_false(r.keep_alive);
    /* No length: the body runs to eof, and the connection ends. */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\nabc", 0, &r, &body), 0);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\nabc", 1, &r, &body), 1);
    assert_string_equal(body.data, "abc");
    assert_false(r.keep_alive);
    /* Interim responses are skipped; 204 has no body. */
    assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 0, &r, &body), 1);
    assert_int_equal(r.status, 204);
    assert_int_equal(body.len, 0);
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200 OK\n\n",
        "HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i], 0, &r, &body);
        if (rc != CS_EPARSE) fail_msg("case %zu: %d", i, rc);
        assert_int_equal(body.len, 0);
    }
    /* Over the body's cap, by length or by chunks. */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n", 0, &r, &body), CS_ETOOBIG);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n", 0, &r, &body), CS_ETOOBIG);
    cs_buf_free(&body);
}

/* A scripted server: for each connection it accepts, it answers `per_conn` requests
 * with `answer` (then closes, without saying so), or never answers when silent. */
typedef struct server {
    int lfd, port;
    const char *answer;
    int per_conn, silent;
    int answer_first; /* with silent: answer this many requests first */
    int accepts, requests;
    pthread_t th;
} server;

static void *serve(void *arg)
{
    server *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) return NULL;
        s->accepts++;
        char buf[4096];
        for (int i = 0; i < s->per_conn; i++) {
            size_t got = 0;
            /* Every request here has a body "{}" or none: read to the blank line, then
             * the two bytes of a POST body. */
            while (got < sizeof buf - 1) {
                ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
                if (n <= 0) break;
                got += (size_t)n;
                buf[got] = '\0';
                char *e = strstr(buf, "\r\n\r\n");
                if (e && (strncmp(buf, "POST", 4) != 0 || (size_t)(e + 4 - buf) + 2 <= got)) break;
            }
            if (got == 0) break;
            s->requests++;
            if (s->silent && s->requests > s->answer_first) {
                sleep(2);
                break;
            }
            send(fd, s->answer, strlen(s->answer), MSG_NOSIGNAL);
        }
        close(fd);
    }
}

static void server_start(server *s)
{
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    listen(s->lfd, 8);
    pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(server *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    close(s->lfd);
    pthread_join(s->th, NULL);
}

/* A connection with what each request leaves: the answer, its status, the error. */
typedef struct client {
    cs_gw_conn *c;
    cs_buf reply;
    long status;
    cs_err err;
} client;

static void client_open(client *cl)
{
    *cl = (client){.c = cs_gw_conn_new()};
    cs_buf_init(&cl->reply, 1024);
}

static void client_close(client *cl)
{
    cs_gw_conn_free(cl->c);
    cs_buf_free(&cl->reply);
}

/* One request from cl to the scripted server s: its return code. */
static int call(client *cl, server *s, const char *method, long timeout_ms, atomic_int *abort)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
    cs_gw_target t;
    assert_int_equal(cs_gw_target_parse(url, &t), 0);
    cs_buf_reset(&cl->reply);
    return cs_gw_conn_request(cl->c, &t, method, "/v1/x", "Authorization: Bearer t\r\n",
                              strcmp(method, "POST") ? NULL : "{}", timeout_ms, abort,
                              &cl->status, &cl->reply, &cl->err);
}

static void keep_alive_and_reconnect(void **state)
{
    server s = {.answer = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", .per_conn = 2};
    server_start(&s);
    client cl;
    client_open(&cl);
    /* Two requests on one connection; the server then closes it while idle, and the
     * third request notices and goes on a new one. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(call(&cl, &s, i % 2 ? "GET" : "POST", 5000, NULL), 0);
        assert_int_equal(cl.status, 201);
        assert_string_equal(cl.reply.data, "{}");
    }
    assert_int_equal(s.requests, 5);
    assert_int_equal(s.accepts, 3);
    client_close(&cl);
    server_stop(&s);
}

static void *set_later(void *arg)
{
    usleep(50 * 1000);
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

static void timeouts_and_aborts(void **state)
{
    server s = {.per_conn = 1, .silent = 1};
    server_start(&s);
    client cl;
    client_open(&cl);
    long long t0 = cs_mono_ms();
    assert_int_equal(call(&cl, &s, "GET", 150, NULL), CS_EIO);
    assert_non_null(strstr(cl.err.msg, "timed out"));
    assert_true(cs_mono_ms() - t0 < 1000);
    atomic_int stop = 0;
    pthread_t th;
    pthread_create(&th, NULL, set_later, &stop);
    t0 = cs_mono_ms();
    assert_int_equal(call(&cl, &s, "POST", 10000, &stop), CS_EIO);
    assert_non_null(strstr(cl.err.msg, "aborted"));
    assert_true(cs_mono_ms() - t0 < 1000);
    pthread_join(th, NULL);
    assert_int_equal(cl.status, 0);
    client_close(&cl);
    server_stop(&s);
    /* A kept-alive connection whose answer does not come in time: the request is not
     * sent again (the gateway may be working on it), unlike after a close. */
    server slow = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", .per_conn = 2,
                   .silent = 1, .answer_first = 1};
    server_start(&slow);
    client_open(&cl);
    assert_int_equal(call(&cl, &slow, "POST", 2000, NULL), 0);
    assert_int_equal(call(&cl, &slow, "POST", 200, NULL), CS_EIO);
    assert_non_null(strstr(cl.err.msg, "timed out"));
    usleep(100 * 1000);
    assert_int_equal(slow.requests, 2);
    assert_int_equal(slow.accepts, 1);
    client_close(&cl);
    server_stop(&slow);
    /* Nothing listening: a clear connection error. */
    server gone = {0};
    server_start(&gone);
    server_stop(&gone);
    client_open(&cl);
    assert_int_equal(call(&cl, &gone, "GET", 2000, NULL), CS_EIO);
    assert_non_null(strstr(cl.err.msg, "connect"));
    client_close(&cl);
}

static void bad_answers(void **state)
{
    const char *answers[] = {"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
                             "garbage\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"};
    const int codes[] = {CS_ETOOBIG, CS_EPARSE, CS_EIO};
    for (size_t i = 0; i < 3; i++) {
        server s = {.answer = answers[i], .per_conn = 1};
        server_start(&s);
        client cl;
        client_open(&cl);
        int rc = call(&cl, &s, "GET", 3000, NULL);
        if (rc != codes[i] && !(codes[i] == CS_EIO && rc == CS_EPARSE))
            fail_msg("answer %zu: %d (%s)", i, rc, cl.err.msg);
        assert_int_equal(cl.reply.len, 0);
        client_close(&cl);
        server_stop(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(targets),
        cmocka_unit_test(framing),
        cmocka_unit_test(keep_alive_and_reconnect),
        cmocka_unit_test(timeouts_and_aborts),
        cmocka_unit_test(bad_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

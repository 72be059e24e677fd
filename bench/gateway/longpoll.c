/* longpoll.c - the long-poll benchmark of issue #3, against a running gateway:
 *  1. submits N actions that need one approval, one per waiter (as N agents would);
 *  2. opens N concurrent long-polls (GET /v1/actions/ID?wait=300), each on its own
 *     action, from one epoll loop, and reports the server's RSS with all of them held;
 *  3. approves K of them one after another, as reviewers do, and measures for each the
 *     time from sending the approve call to its waiter receiving the answer, while all
 *     the other waiters stay held.
 * A last line shows the fan-out case for comparison: the approve call of an action
 * that many waiters watch answers all of them (here: M waiters on one action).
 *
 * usage: bench_longpoll HOST PORT N K WAITER_TOKEN APPROVER_TOKEN SERVER_PID */
#include "util/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ID_MAX 64
#define FANOUT 1000

static const char *host;
static int port;

static double now_ms(void)
{
    return cs_mono_ns() / 1e6;
}

static int connect_to(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

static void send_all(int s, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(s, p, n);
        if (w <= 0) {
            perror("write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* One keep-alive request/response on a blocking socket; the body goes to out. */
static int call(int s, const char *req, char *out, size_t cap)
{
    send_all(s, req, strlen(req));
    size_t len = 0;
    char *body = NULL;
    long clen = -1;
    for (;;) {
        if (len + 1 >= cap) return -1;
        ssize_t r = read(s, out + len, cap - 1 - len);
        if (r <= 0) return -1;
        len += (size_t)r;
        out[len] = '\0';
        if (body == NULL && (body = strstr(out, "\r\n\r\n")) != NULL) {
            body += 4;
            const char *cl = strcasestr(out, "\r\nContent-Length:");
            clen = cl ? strtol(cl + 17, NULL, 10) : 0;
        }
        if (body && (long)(out + len - body) >= clen) break;
    }
    int status = atoi(out + 9);
    memmove(out, body, (size_t)clen);
    out[clen] = '\0';
    return status;
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

static long waiters_metric(void)
{
    int s = connect_to();
    char buf[16384];
    int st = call(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf);
    close(s);
    const char *p = st == 200 ? strstr(buf, "\ncountersign_waiters ") : NULL;
    return p ? strtol(p + 21, NULL, 10) : -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Submits one action that waits for an approval; its id goes to id. */
static void submit(int s, const char *token, char id[ID_MAX])
{
    char req[1024], resp[16384];
    static const char body[] = "{\"action\":\"deploy.apply\",\"resource\":\"prod/web\"}";
    snprintf(req, sizeof req,
             "POST /v1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             token, sizeof body - 1, body);
    int st = call(s, req, resp, sizeof resp);
    const char *p = strstr(resp, "\"id\":\"");
    if (st != 201 || p == NULL || strstr(resp, "\"status\":\"pending\"") == NULL) {
        fprintf(stderr, "submit failed (%d): %.300s\n", st, resp);
        exit(1);
    }
    p += 6;
    size_t n = strcspn(p, "\"");
    if (n >= ID_MAX) exit(1);
    memcpy(id, p, n);
    id[n] = '\0';
}

/* Opens a long-poll on id; the socket is non-blocking and in ep under tag. */
static int open_wait(int ep, const char *id, const char *token, unsigned tag)
{
    char req[512];
    int fd = connect_to();
    snprintf(req, sizeof req,
             "GET /v1/actions/%s?wait=300 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
             id, token);
    send_all(fd, req, strlen(req));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return fd;
}

static void wait_held(long want)
{
    double t0 = now_ms();
    long w;
    while ((w = waiters_metric()) < want && now_ms() - t0 < 60000)
        usleep(50000);
    if (w < want) fprintf(stderr, "only %ld of %ld waiters are held\n", w, want);
}

static void approve_req(char *out, size_t cap, const char *id, const char *token)
{
    snprintf(out, cap,
             "POST /v1/actions/%s/approve HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: 0\r\n\r\n",
             id, token);
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr,
                "usage: bench_longpoll HOST PORT N K WAITER_TOKEN APPROVER_TOKEN SERVER_PID\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    int n = atoi(argv[3]), k = atoi(argv[4]), pid = atoi(argv[7]);
    const char *agent = argv[5], *approver = argv[6];
    if (k > n) k = n;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    char(*ids)[ID_MAX] = calloc((size_t)n + 1, sizeof *ids);
    int *fds = calloc((size_t)n + FANOUT, sizeof *fds);
    double *lat = calloc((size_t)n + FANOUT, sizeof *lat);
    int api = connect_to();
    for (int i = 0; i <= n; i++)
        submit(api, agent, ids[i]);

    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++)
        fds[i] = open_wait(ep, ids[i], agent, (unsigned)i);
    wait_held(n);
    long rss = rss_kib(pid);
    printf("waiters held: %ld of %d, each on its own pending action\n", waiters_metric(), n);
    printf("server RSS with %d waiters: %.1f MiB\n", n, rss / 1024.0);

    /* Reviewers approve K actions one at a time; the others keep waiting. */
    char req[1024], resp[16384], buf[65536];
    struct epoll_event evs[64];
    int answered = 0;
    for (int j = 0; j < k; j++) {
        int i = (int)((long)j * n / k); /* spread over the waiters */
        approve_req(req, sizeof req, ids[i], approver);
        double sent = now_ms();
        int st = call(api, req, resp, sizeof resp);
        if (st != 200) {
            fprintf(stderr, "approve failed (%d): %.300s\n", st, resp);
            return 1;
        }
        double got = 0;
        while (got == 0 && now_ms() - sent < 10000) {
            int m = epoll_wait(ep, evs, 64, 1000);
            for (int e = 0; e < m; e++) {
                int idx = (int)evs[e].data.u32;
                ssize_t r = read(fds[idx], buf, sizeof buf);
                if (r > 0 && idx == i) got = now_ms() - sent;
                if (r > 0 && idx != i) fprintf(stderr, "waiter %d answered early\n", idx);
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[idx], NULL);
            }
        }
        if (got > 0) lat[answered++] = got;
    }
    qsort(lat, (size_t)answered, sizeof *lat, cmp);
    printf("approved one at a time: %d of %d waiters answered\n", answered, k);
    if (answered > 0)
        printf("approve -> its waiter's response: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               lat[answered / 2], lat[(int)(answered * 0.99)], lat[answered - 1]);

    /* Fan-out: FANOUT more waiters on one action, answered by one approve call. */
    for (int i = 0; i < FANOUT; i++)
        fds[n + i] = open_wait(ep, ids[n], agent, (unsigned)(n + i));
    wait_held(n - k + FANOUT);
    approve_req(req, sizeof req, ids[n], approver);
    double sent = now_ms();
    if (call(api, req, resp, sizeof resp) != 200) return 1;
    int fan = 0;
    while (fan < FANOUT && now_ms() - sent < 10000) {
        int m = epoll_wait(ep, evs, 64, 1000);
        for (int e = 0; e < m; e++) {
            int idx = (int)evs[e].data.u32;
            if (read(fds[idx], buf, sizeof buf) > 0 && idx >= n) lat[fan++] = now_ms() - sent;
            epoll_ctl(ep, EPOLL_CTL_DEL, fds[idx], NULL);
        }
    }
    qsort(lat, (size_t)fan, sizeof *lat, cmp);
    if (fan == FANOUT)
        printf("fan-out, one approve answering %d waiters of one action: first %.2f ms, last "
               "%.2f ms\n",
               FANOUT, lat[0], lat[fan - 1]);
    for (int i = 0; i < n + FANOUT; i++)
        close(fds[i]);
    close(api);
    return answered == k && fan == FANOUT ? 0 : 1;
}

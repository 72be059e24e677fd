/* longpoll.c - opens N concurrent long-polls (GET /v1/actions/ID?wait=300) against
 * a running gateway from one epoll loop, reports the server's RSS with all of them
 * waiting, then approves the action and measures, for each waiter, the time from
 * sending the deciding approve call to receiving its response.
 *
 * usage: bench_longpoll HOST PORT N ACTION_ID WAITER_TOKEN APPROVER_TOKEN SERVER_PID */
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

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int connect_to(const char *host, int port)
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

static long metric(const char *host, int port, const char *name)
{
    int s = connect_to(host, port);
    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (write(s, req, strlen(req)) < 0) return -1;
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while ((n = read(s, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(s);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(
            stderr,
            "usage: bench_longpoll HOST PORT N ACTION_ID WAITER_TOKEN APPROVER_TOKEN SERVER_PID\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]), n = atoi(argv[3]), pid = atoi(argv[7]);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    char req[512];
    int rlen = snprintf(
        req, sizeof req,
        "GET /v1/actions/%s?wait=300 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
        argv[4], argv[5]);
    int ep = epoll_create1(0);
    int *fds = calloc((size_t)n, sizeof *fds);
    double *done_at = calloc((size_t)n, sizeof *done_at);
    for (int i = 0; i < n; i++) {
        fds[i] = connect_to(host, port);
        if (write(fds[i], req, (size_t)rlen) != rlen) {
            perror("write");
            return 1;
        }
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    /* Wait until the server holds every waiter. */
    double t0 = now_ms();
    long w = 0;
    while ((w = metric(host, port, "countersign_waiters")) < n && now_ms() - t0 < 60000)
        usleep(50000);
    long rss = rss_kib(pid);
    printf("waiters registered: %ld of %d\n", w, n);
    printf("server RSS with %d waiters: %.1f MiB\n", n, rss / 1024.0);
    /* The deciding vote. */
    int s = connect_to(host, port);
    char vote[512];
    int vlen =
        snprintf(vote, sizeof vote,
                 "POST /v1/actions/%s/approve HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Length: 0\r\nConnection: close\r\n\r\n",
                 argv[4], argv[6]);
    double sent = now_ms();
    if (write(s, vote, (size_t)vlen) != vlen) return 1;
    int got = 0;
    struct epoll_event evs[256];
    char buf[65536];
    while (got < n && now_ms() - sent < 60000) {
        int k = epoll_wait(ep, evs, 256, 1000);
        for (int i = 0; i < k; i++) {
            int idx = (int)evs[i].data.u32;
            ssize_t r = read(fds[idx], buf, sizeof buf);
            if (r > 0 && done_at[idx] == 0) {
                done_at[idx] = now_ms() - sent;
                got++;
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, fds[idx], NULL);
        }
    }
    close(s);
    qsort(done_at, (size_t)n, sizeof *done_at, cmp);
    printf("responses after approve: %d of %d\n", got, n);
    if (got == n)
        printf("approve -> waiter response: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               done_at[n / 2], done_at[(int)(n * 0.99)], done_at[n - 1]);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return got == n ? 0 : 1;
}

/* exec_child.c - the command `countersign exec` runs once an action is allowed or
 * approved. Output is relayed unchanged and hashed (SHA-256) for the outcome report;
 * when stdout or stderr is a terminal the child gets the terminal itself, so
 * interactive programs behave as they would without countersign. Every catchable
 * termination signal the wrapper receives is passed on to the child. */
#include "cli/exec_child.h"

#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child_pid;

/* Signals the terminal generates (Ctrl-C, Ctrl-\\, window size) already reach the
 * child, which shares our process group; only those sent to us alone are passed on,
 * so that the child never sees one Ctrl-C twice. */
static void forward(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    if (child_pid > 0 && (info == NULL || info->si_code == SI_USER || info->si_code == SI_QUEUE))
        kill(child_pid, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
#define N_FORWARDED (sizeof forwarded / sizeof forwarded[0])

static void set_forwarding(struct sigaction *saved)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FORWARDED; i++) sigaction(forwarded[i], &sa, &saved[i]);
}

static void restore_signals(const struct sigaction *saved)
{
    for (size_t i = 0; i < N_FORWARDED; i++) sigaction(forwarded[i], &saved[i], NULL);
}

static void hex_digest(EVP_MD_CTX *md, char *out)
{
    unsigned char d[32];
    unsigned n = 0;
    EVP_DigestFinal_ex(md, d, &n);
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1; /* the reader went away: keep draining, stop copying */
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies both pipes to our stdout/stderr until the child closes them. */
static void relay(int out_fd, int err_fd, EVP_MD_CTX *md_out, EVP_MD_CTX *md_err)
{
    struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    EVP_MD_CTX *md[2] = {md_out, md_err};
    int dest[2] = {STDOUT_FILENO, STDERR_FILENO}, open_fds = 2, dead[2] = {0, 0};
    char buf[65536];
    while (open_fds > 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = read(p[i].fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            EVP_DigestUpdate(md[i], buf, (size_t)r);
            if (!dead[i] && write_all(dest[i], buf, (size_t)r) < 0) dead[i] = 1;
        }
    }
}

int cs_child_run(char **argv, cs_child_result *res)
{
    memset(res, 0, sizeof *res);
    res->hashed = !isatty(STDOUT_FILENO) && !isatty(STDERR_FILENO);
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (res->hashed && (pipe(po) < 0 || pipe(pe) < 0)) {
        perror("countersign: pipe");
        return -1;
    }
    struct sigaction saved[N_FORWARDED];
    set_forwarding(saved);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* exec() resets handled signals to their defaults in the child. */
    pid_t pid = fork();
    if (pid < 0) {
        perror("countersign: fork");
        restore_signals(saved);
        return -1;
    }
    if (pid == 0) {
        if (res->hashed) {
            dup2(po[1], STDOUT_FILENO);
            dup2(pe[1], STDERR_FILENO);
            close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "countersign: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    EVP_MD_CTX *mo = EVP_MD_CTX_new(), *me = EVP_MD_CTX_new();
    EVP_DigestInit_ex(mo, EVP_sha256(), NULL);
    EVP_DigestInit_ex(me, EVP_sha256(), NULL);
    if (res->hashed) {
        close(po[1]);
        close(pe[1]);
        relay(po[0], pe[0], mo, me);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    child_pid = 0;
    restore_signals(saved);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->duration_ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    res->exited = WIFEXITED(status);
    res->code = res->exited ? WEXITSTATUS(status) : WTERMSIG(status);
    if (res->hashed) {
        hex_digest(mo, res->stdout_sha256);
        hex_digest(me, res->stderr_sha256);
    }
    EVP_MD_CTX_free(mo);
    EVP_MD_CTX_free(me);
    return 0;
}

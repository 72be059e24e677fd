/* mcp_stdio.c - spawning, stopping and reaping the MCP server child process (MCP
 * 2025-06-18 stdio transport, "Shutdown": close stdin, wait, SIGTERM, SIGKILL). */
#include "proxy/mcp_stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int spawn_with(char *const argv[], int in_fd, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawnattr_init(&at);
    /* The proxy ignores SIGPIPE; the server gets the default back, and a clean mask. */
    sigset_t def, none;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

int cs_mcp_child_spawn(char *const argv[], cs_mcp_child *c, cs_err *err)
{
    memset(c, 0, sizeof *c);
    c->to_child = c->from_child = -1;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) return cs_err_set(err, CS_EIO, "pipe: %s", strerror(errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return cs_err_set(err, CS_EIO, "pipe: %s", strerror(errno));
    }
    int rc = spawn_with(argv, in[0], out[1], &c->pid);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        return cs_err_set(err, CS_EIO, "cannot start %s: %s", argv[0], strerror(rc));
    }
    c->to_child = in[1];
    c->from_child = out[0];
    return 0;
}

void cs_mcp_child_close_input(cs_mcp_child *c)
{
    if (c->to_child >= 0) close(c->to_child);
    c->to_child = -1;
}

/* Reaps within ms milliseconds; 1 when reaped. */
static int reap_within(cs_mcp_child *c, long ms)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (long waited = 0;; waited += 10) {
        pid_t r = waitpid(c->pid, &c->status, WNOHANG);
        if (r == c->pid || (r < 0 && errno == ECHILD)) {
            c->reaped = 1;
            return 1;
        }
        if (waited >= ms) return 0;
        nanosleep(&tick, NULL);
    }
}

int cs_mcp_child_stop(cs_mcp_child *c, long grace_ms)
{
    if (!c->reaped) {
        cs_mcp_child_close_input(c);
        if (!reap_within(c, grace_ms)) {
            kill(c->pid, SIGTERM);
            if (!reap_within(c, grace_ms)) {
                kill(c->pid, SIGKILL);
                reap_within(c, 60 * 1000);
            }
        }
    }
    if (WIFEXITED(c->status)) return WEXITSTATUS(c->status);
    return WIFSIGNALED(c->status) ? 128 + WTERMSIG(c->status) : 1;
}

void cs_mcp_child_free(cs_mcp_child *c)
{
    cs_mcp_child_close_input(c);
    if (c->from_child >= 0) close(c->from_child);
    c->from_child = -1;
}

/* cmd_serve.c - `countersign serve [--config FILE] [--listen ADDR] [--check]`: runs
 * the gateway. SIGHUP reloads the policy (a bad one is refused, the old one stays);
 * SIGTERM and SIGINT finish in-flight writes and exit. Signals are taken with
 * sigwait() on the main thread, so no handler runs inside library code. */
#include "cli/cli.h"

#include "config/config.h"
#include "gateway/gateway.h"
#include "http/http.h"
#include "util/log.h"

#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *default_config(void)
{
    const char *env = getenv("COUNTERSIGN_CONFIG");
    return env && *env ? env : "countersign-data/countersign.yaml";
}

/* Long-polls hold one descriptor each: raise the soft limit as far as allowed. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int cs_cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"check", no_argument, 0, 'k'},
                                         {0, 0, 0, 0}};
    const char *path = default_config(), *listen = NULL;
    int check = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c')
            path = optarg;
        else if (c == 'l')
            listen = optarg;
        else if (c == 'k')
            check = 1;
        else {
            fprintf(stderr, "usage: countersign serve [--config FILE] [--listen ADDR] [--check]\n");
            return CS_EXIT_USAGE;
        }
    }
#ifndef CS_JEMALLOC
    /* glibc malloc (builds without jemalloc): the request path allocates and frees on
     * several threads; keep freed memory in the heaps instead of handing it back to
     * the kernel and asking again (mprotect and brk on every other batch otherwise). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 8 << 20);
#endif
    cs_config cfg;
    cs_err err = {0};
    if (cs_config_load(path, &cfg, &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        return CS_EXIT_DENIED;
    }
    if (listen) {
        free(cfg.listen);
        cfg.listen = strdup(listen);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    cs_gateway *gw = NULL;
    cs_http *http = NULL;
    int code = CS_EXIT_DENIED;
    if (cs_gateway_new(&cfg, &gw, &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        goto out;
    }
    if (check) {
        printf("%s: OK\n", path);
        code = CS_EXIT_OK;
        goto out;
    }
    if (cs_gateway_start(gw, &err) != 0 ||
        cs_http_start(gw, cfg.listen, (int)cfg.http_threads, (int)cfg.http_max_connections, &http,
                      &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        goto out;
    }
    cs_info("countersign: listening on http://%s", cfg.listen);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            cs_err e = {0};
            if (cs_gateway_reload_policy(gw, &e) != 0)
                cs_error("policy reload refused, keeping the old policy: %s", e.msg);
            continue;
        }
        break;
    }
    cs_info("countersign: stopping");
    cs_http_stop(http);
    http = NULL;
    code = CS_EXIT_OK;
out:
    cs_gateway_free(gw);
    cs_config_free(&cfg);
    return code;
}

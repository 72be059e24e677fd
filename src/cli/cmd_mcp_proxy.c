/* cmd_mcp_proxy.c - `countersign mcp-proxy [--name NAME] [--hold-budget DUR]
 * [--progress-interval DUR] [--config FILE] [--public-url URL] [--max-message BYTES]
 * (-- CMD ARG... | --listen ADDR --upstream URL)`: the MCP proxy of SPEC §4, with
 * the gateway at $COUNTERSIGN_URL and the agent token in $COUNTERSIGN_TOKEN. */
#include "cli/cli.h"

#include "config/config.h"
#include "proxy/mcp_proxy.h"
#include "util/log.h"

#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mp_args {
    const char *name, *listen, *upstream, *config, *public_url, *allow_origins;
    long long budget_ms, progress_ms, idle_ms;
    size_t max_msg;
    char **cmd;
    char public_url_buf[512]; /* public_url read from the config */
} mp_args;

static int usage(void)
{
    fprintf(
        stderr,
        "usage: countersign mcp-proxy [--name NAME] [--hold-budget DUR] [--progress-interval DUR]\n"
        "         [--config FILE] [--public-url URL] [--max-message BYTES] -- CMD [ARG...]\n"
        "       countersign mcp-proxy --listen ADDR --upstream URL [--allow-origin O[,O...]]\n"
        "         [--idle-timeout DUR] [same options]\n"
        "DUR is like 500ms, 2s, 1m. The gateway is $COUNTERSIGN_URL, the agent token "
        "$COUNTERSIGN_TOKEN.\n");
    return CS_EXIT_USAGE;
}

/* "500ms" or anything cs_parse_duration() takes, in milliseconds. */
static int parse_ms(const char *s, long long *ms)
{
    size_t n = strlen(s);
    if (n > 2 && !strcmp(s + n - 2, "ms")) {
        char *end;
        *ms = strtoll(s, &end, 10);
        return end == s + n - 2 && *ms >= 0 ? 0 : -1;
    }
    long long secs;
    if (cs_parse_duration(s, &secs) != 0) return -1;
    *ms = secs * 1000;
    return 0;
}

static int parse_args(int argc, char **argv, mp_args *a)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},
        {"listen", required_argument, 0, 'l'},
        {"upstream", required_argument, 0, 'u'},
        {"hold-budget", required_argument, 0, 'b'},
        {"progress-interval", required_argument, 0, 'p'},
        {"config", required_argument, 0, 'c'},
        {"public-url", required_argument, 0, 'U'},
        {"max-message", required_argument, 0, 'm'},
        {"allow-origin", required_argument, 0, 'O'},
        {"idle-timeout", required_argument, 0, 'I'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            a->name = optarg;
            break;
        case 'l':
            a->listen = optarg;
            break;
        case 'u':
            a->upstream = optarg;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'U':
            a->public_url = optarg;
            break;
        case 'O':
            a->allow_origins = optarg;
            break;
        case 'b':
            if (parse_ms(optarg, &a->budget_ms) != 0) return -1;
            break;
        case 'p':
            if (parse_ms(optarg, &a->progress_ms) != 0 || a->progress_ms < 100) return -1;
            break;
        case 'I':
            if (parse_ms(optarg, &a->idle_ms) != 0 || a->idle_ms < 1000 || a->idle_ms > 86400000LL)
                return -1;
            break;
        case 'm':
            a->max_msg = strtoull(optarg, &end, 10);
            if (*end || a->max_msg < 1024) return -1;
            break;
        default:
            return -1;
        }
    }
    a->cmd = argv + optind;
    int stdio = optind < argc, http = a->listen || a->upstream;
    if (stdio == http || (http && !(a->listen && a->upstream))) return -1;
    return 0;
}

/* Hold budget and approval-link base from countersign.yaml when one is named. */
static int apply_config(mp_args *a)
{
    const char *path = a->config ? a->config : getenv("COUNTERSIGN_CONFIG");
    if (path == NULL || !*path) return 0;
    cs_config cfg;
    cs_err err = {0};
    if (cs_config_load(path, &cfg, &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        return -1;
    }
    if (a->budget_ms < 0) a->budget_ms = cfg.hold_budget_s * 1000;
    if (a->public_url == NULL && cfg.public_url) {
        snprintf(a->public_url_buf, sizeof a->public_url_buf, "%s", cfg.public_url);
        a->public_url = a->public_url_buf;
    }
    cs_config_free(&cfg);
    return 0;
}

/* Without --name: the command's base name (stdio) or "upstream" (HTTP). */
static const char *default_name(const mp_args *a, char *buf, size_t n)
{
    if (a->name) return a->name;
    if (a->cmd && a->cmd[0]) {
        snprintf(buf, n, "%s", a->cmd[0]);
        const char *b = basename(buf);
        memmove(buf, b, strlen(b) + 1);
        return buf;
    }
    return "upstream";
}

int cs_cmd_mcp_proxy(int argc, char **argv)
{
    mp_args a = {.budget_ms = -1, .progress_ms = 5000, .idle_ms = 60000, .max_msg = 4 * 1024 * 1024};
    if (parse_args(argc, argv, &a) != 0) return usage();
    if (apply_config(&a) != 0) return CS_EXIT_USAGE;
    if (a.budget_ms < 0) a.budget_ms = 50 * 1000;
    const char *url = getenv("COUNTERSIGN_URL");
    char namebuf[256];
    cs_mcp_gate_cfg gc = {.name = default_name(&a, namebuf, sizeof namebuf),
                          .hold_budget_ms = a.budget_ms,
                          .progress_ms = a.progress_ms,
                          .public_url = a.public_url};
    cs_mcp_opts o = {.max_client_msg = a.max_msg,
                     .max_server_msg = a.max_msg * 16,
                     .stop_grace_ms = 2000,
                     .allow_origins = a.allow_origins,
                     .idle_timeout_s = (unsigned)(a.idle_ms / 1000)};
    /* SIGINT/SIGTERM are taken with sigwait() (both modes stop cleanly and reap what
     * they started): block them before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    cs_err err = {0};
    cs_mcp_gw *gw = NULL;
    cs_mcp_gate *gate = NULL;
    if (cs_mcp_gw_new(url && *url ? url : "http://127.0.0.1:8080", getenv("COUNTERSIGN_TOKEN"), &gw,
                      &err) != 0 ||
        cs_mcp_gate_new(&gc, gw, &gate, &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        cs_mcp_gw_free(gw);
        return CS_EXIT_USAGE;
    }
    /* A client or server that goes away must not kill the proxy with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    int rc = a.listen ? cs_mcp_proxy_http(gate, &o, a.listen, a.upstream)
                      : cs_mcp_proxy_stdio(gate, &o, a.cmd);
    cs_mcp_gate_free(gate);
    cs_mcp_gw_free(gw);
    return rc;
}

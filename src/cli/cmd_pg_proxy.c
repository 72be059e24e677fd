/* cmd_pg_proxy.c - `countersign pg-proxy --listen ADDR --upstream HOST:PORT [--name NAME]
 * [--config FILE] [--no-cache] [--cache-ttl S] [--tls-cert PEM --tls-key PEM]`: the PostgreSQL
 * wire-protocol proxy that puts every statement through the gateway (SPEC §4, docs/pg-proxy.md). */
#include "cli/cli.h"
#include "config/config.h"
#include "proxy/pg_proxy.h"
#include "util/log.h"

#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cs_pg_proxy *running;

static void on_signal(int sig)
{
    if (running) cs_pg_proxy_stop(running);
}

static int usage(void)
{
    fprintf(stderr, "usage: countersign pg-proxy --listen ADDR --upstream HOST:PORT [--name NAME]\n"
                    "         [--config FILE] [--no-cache] [--cache-ttl SECONDS]\n"
                    "         [--tls-cert PEM --tls-key PEM]\n"
                    "  asks the gateway at $COUNTERSIGN_URL with $COUNTERSIGN_TOKEN (or the token\n"
                    "  that pg.users in --config names for the database user)\n");
    return CS_EXIT_USAGE;
}

typedef struct args {
    const char *listen, *upstream, *name, *config, *tls_cert, *tls_key;
    int no_cache;
    long ttl_s;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},   {"upstream", required_argument, 0, 'u'},
        {"name", required_argument, 0, 'n'},     {"config", required_argument, 0, 'c'},
        {"no-cache", no_argument, 0, 'N'},       {"cache-ttl", required_argument, 0, 't'},
        {"tls-cert", required_argument, 0, 'C'}, {"tls-key", required_argument, 0, 'K'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            a->listen = optarg;
            break;
        case 'u':
            a->upstream = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'N':
            a->no_cache = 1;
            break;
        case 'C':
            a->tls_cert = optarg;
            break;
        case 'K':
            a->tls_key = optarg;
            break;
        case 't': {
            char *end;
            a->ttl_s = strtol(optarg, &end, 10);
            if (*end || a->ttl_s < 0 || a->ttl_s > 86400) return -1;
            break;
        }
        default:
            return -1;
        }
    }
    if (!a->listen || !a->upstream || optind != argc || !*a->name) return -1;
    if (!a->tls_cert != !a->tls_key) return -1; /* both or neither */
    return 0;
}

int cs_cmd_pg_proxy(int argc, char **argv)
{
    args a = {.name = "pg", .ttl_s = 30};
    if (parse_args(argc, argv, &a) != 0) return usage();
    cs_config cfg = {0};
    cs_err err = {0};
    if (a.config && cs_config_load(a.config, &cfg, &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        return CS_EXIT_USAGE;
    }
    const char *url = getenv("COUNTERSIGN_URL");
    if (url == NULL || !*url) url = "http://127.0.0.1:8080";
    cs_pg_options o = {
        .listen = a.listen,
        .upstream = a.upstream,
        .name = a.name,
        .gateway_url = url,
        .token = getenv("COUNTERSIGN_TOKEN"),
        .approve_url = a.config ? cfg.public_url : url,
        .users = a.config ? cfg.pg_users : NULL,
        .tls_cert = a.tls_cert,
        .tls_key = a.tls_key,
        .cache_slots = a.no_cache ? 0 : 65536,
        .cache_ttl_ms = a.ttl_s * 1000LL,
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cs_pg_proxy *p = NULL;
    int rc = cs_pg_proxy_new(&o, &p, &err);
    if (rc != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        if (a.config) cs_config_free(&cfg);
        curl_global_cleanup();
        return CS_EXIT_USAGE;
    }
    running = p;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "countersign pg-proxy: listening on %s, upstream %s, gateway %s\n", a.listen,
            a.upstream, url);
    rc = cs_pg_proxy_run(p);
    running = NULL;
    cs_pg_proxy_free(p);
    if (a.config) cs_config_free(&cfg);
    curl_global_cleanup();
    return rc == 0 ? CS_EXIT_OK : CS_EXIT_USAGE;
}

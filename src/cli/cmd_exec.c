/* cmd_exec.c - `countersign exec --action A --resource R [--purpose T] [--context JSON]
 * [--timeout S] -- CMD [ARG...]`: asks the gateway with the command line in context,
 * waits for the decision (showing who must approve and how long is left), redeems the
 * single-use receipt, runs the command untouched, reports the outcome, and exits with
 * the command's own status. Ctrl-C while waiting cancels the request. */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/exec_child.h"
#include "cli/exec_run.h"

#include "util/alloc.h"
#include "util/buf.h"
#include "util/utf8.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int interrupted; /* set by SIGINT/SIGTERM while waiting */

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: countersign exec --action A --resource R [--purpose T] [--context JSON]\n"
                    "           [--timeout S] [--rollback JSON] -- CMD [ARG...]\n");
    return CS_EXIT_USAGE;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Seconds until an RFC 3339 UTC time such as 2026-11-21T04:05:24.203Z (0 if past). */
static long seconds_left(const char *when)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strptime(when, "%Y-%m-%dT%H:%M:%S", &tm) == NULL) return 0;
    long left = (long)(timegm(&tm) - time(NULL));
    return left > 0 ? left : 0;
}

/* "1 of 2 from dba, approve at URL, 14m32s left" */
static char *progress_line(const json_t *a)
{
    const json_t *ap = json_object_get(a, "approval");
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(json_object_get(ap, "votes"), i, v) n += !strcmp(str(v, "vote"), "approve");
    cs_buf b;
    cs_buf_init(&b, 4096);
    cs_buf_printf(&b, "waiting for approval of %s: %zu of %lld from", str(a, "id"), n,
                  (long long)json_integer_value(json_object_get(ap, "quorum")));
    json_t *g;
    json_array_foreach(json_object_get(ap, "groups"), i, g) cs_buf_printf(&b, "%s%s", i ? ", " : " ", json_string_value(g));
    const char *base = getenv("COUNTERSIGN_URL");
    cs_buf_printf(&b, "; approve at %s/a/%s", base && *base ? base : "http://127.0.0.1:8080", str(a, "id"));
    long left = seconds_left(str(ap, "expires_at"));
    cs_buf_printf(&b, "; %ldm%02lds left", left / 60, left % 60);
    return cs_buf_steal(&b);
}

static void cancel(const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/actions/%s/cancel", id);
    long status = 0;
    json_t *out = NULL;
    cs_client_set_abort(NULL);
    if (cs_client_call("POST", path, NULL, NULL, 30, &status, &out) == 0 && status != 200)
        cs_client_print_problem(status, out);
    json_decref(out);
}

/* Long-polls until the action leaves `pending`; returns 0, 1 when interrupted or
 * out of time (the request is then cancelled), -1 on a transport error. */
static int wait_decided(json_t **a, long timeout_s)
{
    int tty = isatty(STDERR_FILENO);
    time_t deadline = timeout_s > 0 ? time(NULL) + timeout_s : 0;
    char *last = NULL;
    while (!strcmp(str(*a, "status"), "pending")) {
        char *line = progress_line(*a);
        if (tty) fprintf(stderr, "\r\033[K%s", line);
        else if (last == NULL || strcmp(strchr(line, ':'), strchr(last, ':')) != 0) fprintf(stderr, "%s\n", line);
        free(last);
        last = line;
        long wait = tty ? 1 : 25;
        if (deadline && deadline - time(NULL) < wait) wait = (long)(deadline - time(NULL));
        if (interrupted || (deadline && wait <= 0)) break;
        char path[200];
        snprintf(path, sizeof path, "/v1/actions/%s?wait=%ld", str(*a, "id"), wait);
        long status = 0;
        json_t *out = NULL;
        if (cs_client_call("GET", path, NULL, NULL, wait + 30, &status, &out) != 0) {
            if (interrupted) break;
            free(last);
            return -1;
        }
        if (status != 200) {
            cs_client_print_problem(status, out);
            json_decref(out);
            free(last);
            return -1;
        }
        json_decref(*a);
        *a = out;
    }
    if (tty && last) fprintf(stderr, "\r\033[K");
    free(last);
    if (!strcmp(str(*a, "status"), "pending")) {
        fprintf(stderr, "countersign: %s; cancelling %s\n", interrupted ? "interrupted" : "timed out waiting for approval",
                str(*a, "id"));
        cancel(str(*a, "id"));
        return 1;
    }
    return 0;
}

static int consume(const json_t *a)
{
    json_t *body = json_pack("{s:O}", "receipt", json_object_get(a, "receipt"));
    long status = 0;
    json_t *out = NULL;
    int rc = cs_client_call("POST", "/v1/receipts/consume", body, NULL, 30, &status, &out);
    json_decref(body);
    if (rc == 0 && status != 200) {
        cs_client_print_problem(status, out);
        rc = -1;
    }
    json_decref(out);
    return rc;
}

static void report(const json_t *a, const cs_child_result *r)
{
    json_t *body = json_pack("{s:s,s:I}", "status", r->exited && r->code == 0 ? "succeeded" : "failed",
                             "duration_ms", (json_int_t)r->duration_ms);
    if (r->exited) json_object_set_new(body, "exit_code", json_integer(r->code));
    char *detail = r->hashed ? cs_sprintf("%s%s; stderr %s", r->exited ? "" : "killed by signal ",
                                          r->exited ? "exited" : strsignal(r->code), r->stderr_sha256)
                             : cs_sprintf("%s%s; output went to a terminal and was not hashed",
                                          r->exited ? "" : "killed by signal ", r->exited ? "exited" : strsignal(r->code));
    json_object_set_new(body, "detail", json_string(detail));
    free(detail);
    /* The API takes bare hex for output_sha256. */
    if (r->hashed) json_object_set_new(body, "output_sha256", json_string(r->stdout_sha256 + 7));
    char path[160];
    snprintf(path, sizeof path, "/v1/actions/%s/outcome", str(a, "id"));
    long status = 0;
    json_t *out = NULL;
    if (cs_client_call("POST", path, body, NULL, 30, &status, &out) == 0 && status != 200)
        cs_client_print_problem(status, out);
    json_decref(out);
    json_decref(body);
}

/* The request body: the user's context plus the command line (ours wins). */
static json_t *request_body(const char *action, const char *resource, const char *purpose, json_t *ctx, char **cmd)
{
    json_t *argv = json_array();
    cs_buf line;
    cs_buf_init(&line, 1 << 20);
    for (char **p = cmd; *p; p++) {
        json_array_append_new(argv, json_string(*p));
        cs_buf_printf(&line, "%s%s", p == cmd ? "" : " ", *p);
    }
    char cwd[4096];
    json_object_set_new(ctx, "command", json_string(line.data ? line.data : ""));
    json_object_set_new(ctx, "argv", argv);
    cs_buf_free(&line);
    /* The arguments are UTF-8 (cli.c); a directory that is not would drop out of the
     * context, and with it what policies and reviewers see of where the command runs. */
    if (getcwd(cwd, sizeof cwd)) {
        if (!cs_utf8_valid(cwd, strlen(cwd))) {
            fprintf(stderr, "countersign: the working directory is not valid UTF-8; the "
                            "gateway records text, so nothing was sent\n");
            json_decref(ctx);
            return NULL;
        }
        json_object_set_new(ctx, "cwd", json_string(cwd));
    }
    /* source "exec": policies can tell commands run through `exec` (SPEC §2). */
    json_t *body = json_pack("{s:s,s:s,s:o,s:b,s:s}", "action", action, "resource", resource, "context", ctx,
                             "receipt", 1, "source", "exec");
    if (purpose) json_object_set_new(body, "purpose", json_string(purpose));
    return body;
}

int cs_exec_await(json_t **a, long timeout_s)
{
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    cs_client_set_abort(&interrupted);
    int rc = wait_decided(a, timeout_s);
    cs_client_set_abort(NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc < 0) return CS_EXIT_USAGE;
    if (rc > 0) return CS_EXIT_DENIED;
    const char *st = str(*a, "status");
    if (strcmp(st, "allowed") && strcmp(st, "approved")) {
        const char *why = str(json_object_get(*a, "policy"), "explanation");
        fprintf(stderr, "countersign: %s %s: %s\n", str(*a, "id"), st, *why ? why : "not allowed");
        return CS_EXIT_DENIED;
    }
    return CS_EXIT_OK;
}

static int submit_and_wait(json_t *body, long timeout_s, json_t **a)
{
    long status = 0;
    if (cs_client_call("POST", "/v1/actions", body, NULL, 30, &status, a) != 0) return CS_EXIT_USAGE;
    if (status != 201) {
        cs_client_print_problem(status, *a);
        return CS_EXIT_USAGE;
    }
    return cs_exec_await(a, timeout_s);
}

int cs_exec_run_approved(const json_t *a, char **argv)
{
    if (consume(a) != 0) {
        fprintf(stderr, "countersign: the receipt for %s was refused; not running the command\n", str(a, "id"));
        return CS_EXIT_DENIED;
    }
    cs_child_result r;
    if (cs_child_run(argv, &r) != 0) return CS_EXIT_USAGE;
    report(a, &r);
    if (r.exited) return r.code;
    /* Die of the same signal so that our caller sees what the command did. */
    signal(r.code, SIG_DFL);
    raise(r.code);
    return 128 + r.code;
}

int cs_cmd_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"action", required_argument, 0, 'a'}, {"resource", required_argument, 0, 'r'},
        {"purpose", required_argument, 0, 'p'}, {"context", required_argument, 0, 'c'},
        {"timeout", required_argument, 0, 't'}, {"rollback", required_argument, 0, 'b'}, {0, 0, 0, 0},
    };
    const char *action = NULL, *resource = NULL, *purpose = NULL, *context = NULL, *rollback = NULL;
    long timeout_s = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'a': action = optarg; break;
        case 'r': resource = optarg; break;
        case 'p': purpose = optarg; break;
        case 'c': context = optarg; break;
        case 'b': rollback = optarg; break;
        case 't':
            if (cs_client_seconds(optarg, &timeout_s) != 0 || timeout_s == 0) return usage();
            break;
        default: return usage();
        }
    }
    if (!action || !resource || optind >= argc) return usage();
    json_t *ctx = context ? json_loads(context, 0, NULL) : json_object();
    if (!json_is_object(ctx)) {
        fprintf(stderr, "countersign: --context must be a JSON object\n");
        json_decref(ctx);
        return CS_EXIT_USAGE;
    }
    json_t *body = request_body(action, resource, purpose, ctx, argv + optind);
    if (body == NULL) return CS_EXIT_USAGE;
    /* The compensating action, e.g. {"action":..., "resource":..., "command":[...]} (docs/freeze.md). */
    json_t *rb = rollback ? json_loads(rollback, 0, NULL) : NULL;
    if (rollback && !json_is_object(rb)) {
        fprintf(stderr, "countersign: --rollback must be a JSON object\n");
        json_decref(rb);
        json_decref(body);
        return CS_EXIT_USAGE;
    }
    if (rb) json_object_set_new(body, "rollback", rb);
    json_t *a = NULL;
    int rc = submit_and_wait(body, timeout_s, &a);
    json_decref(body);
    if (rc != CS_EXIT_OK) {
        json_decref(a);
        return rc;
    }
    rc = cs_exec_run_approved(a, argv + optind);
    json_decref(a);
    return rc;
}

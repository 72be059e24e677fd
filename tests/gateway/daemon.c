/* daemon.c - see daemon.h. */
#include "daemon.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char td_test_policy[] =
    "@id(\"routine-reads\")\n"
    "permit (principal, action in [Action::\"db.read\", Action::\"db.query\"], resource);\n"
    "@id(\"export-needs-dba\") @approval(\"dba\") @quorum(\"2\") @reason(\"Exports need two "
    "DBAs\")\n"
    "permit (principal, action == Action::\"db.export\", resource in Resource::\"prod\");\n"
    "@id(\"deploy-needs-one\") @approval(\"dba\") @quorum(\"1\")\n"
    "permit (principal, action == Action::\"deploy.apply\", resource in Resource::\"prod\");\n"
    "@id(\"quick-expiry\") @approval(\"dba\") @timeout(\"1s\")\n"
    "permit (principal, action == Action::\"test.expire\", resource);\n"
    "@id(\"no-prod-iam\")\n"
    "forbid (principal, action == Action::\"iam.role.update\", resource in Resource::\"prod\");\n"
    "@id(\"alices-agents\")\n"
    "permit (principal is Agent, action == Action::\"test.owned\", resource)\n"
    "when { principal.owner == User::\"alice\" };\n";

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static const char *binary(void)
{
    const char *b = getenv("CS_BINARY");
    if (b == NULL) die("CS_BINARY is not set");
    return b;
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &n) != 0)
        die("cannot find a free port");
    close(s);
    return ntohs(a.sin_port);
}

static char *run_capture(const char *const argv[], int *status)
{
    int p[2];
    if (pipe(p) != 0) die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(p[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) die("%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

void td_start(td *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/cs-test-XXXXXX");
    if (mkdtemp(d->dir) == NULL) die("mkdtemp");
    char data[300];
    snprintf(data, sizeof data, "%s/data", d->dir);
    const char *argv[] = {binary(), "init", "--dir", data, "--json", NULL};
    int st;
    char *out = run_capture(argv, &st);
    json_t *j = json_loads(out, 0, NULL);
    if (st != 0 || j == NULL) die("init failed (%d): %s", st, out);
    free(out);
    d->tokens = json_incref(json_object_get(j, "tokens"));
    json_decref(j);
    char path[400];
    snprintf(path, sizeof path, "%s/policy/demo.cedar", data);
    write_text(path, td_test_policy);
    d->port = free_port();
    snprintf(d->url, sizeof d->url, "http://127.0.0.1:%d", d->port);
    td_serve(d);
}

void td_serve(td *d)
{
    char cfg[400], listen[64];
    snprintf(cfg, sizeof cfg, "%s/data/countersign.yaml", d->dir);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", d->port);
    pid_t pid = fork();
    if (pid == 0) {
        execl(binary(), binary(), "serve", "--config", cfg, "--listen", listen, (char *)NULL);
        _exit(127);
    }
    d->pid = pid;
    for (int i = 0; i < 500; i++) {
        td_resp r = td_req(d, "GET", "/healthz", NULL, NULL, NULL, NULL);
        long s = r.status;
        td_resp_free(&r);
        if (s == 200) return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) die("server exited during start");
        usleep(20000);
    }
    die("server did not come up on %s", d->url);
}

static void stop_with(td *d, int sig)
{
    if (d->pid <= 0) return;
    kill(d->pid, sig);
    int st;
    waitpid(d->pid, &st, 0);
    d->pid = 0;
    /* A clean stop must exit 0: sanitizer reports (leaks, UB) fail the test. */
    if (sig == SIGTERM && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        die("server did not exit cleanly (status %d)", st);
}

void td_stop(td *d)
{
    stop_with(d, SIGTERM);
}

void td_kill9(td *d)
{
    stop_with(d, SIGKILL);
}

void td_cleanup(td *d)
{
    td_stop(d);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", d->dir);
    json_decref(d->tokens);
    d->tokens = NULL;
}

const char *td_token(td *d, const char *name)
{
    return json_string_value(json_object_get(d->tokens, name));
}

typedef struct sink {
    char *p;
    size_t n;
} sink;

static size_t sink_write(char *p, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    s->p = realloc(s->p, s->n + n + 1);
    memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = '\0';
    return n;
}

td_resp td_req(td *d, const char *method, const char *path, const char *who, const char *body,
               const char *ctype, const char *extra_header)
{
    td_resp r = {0};
    char url[1024], auth[512], ct[128];
    snprintf(url, sizeof url, "%s%s", d->url, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (who) {
        const char *tok = td_token(d, who);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok ? tok : who);
        h = curl_slist_append(h, auth);
    }
    if (body) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
        h = curl_slist_append(h, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    if (extra_header) h = curl_slist_append(h, extra_header);
    h = curl_slist_append(h, "Expect:");
    sink b = {0}, hd = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    r.text = b.p ? b.p : strdup("");
    r.headers = hd.p ? hd.p : strdup("");
    r.json = json_loads(r.text, 0, NULL);
    return r;
}

void td_resp_free(td_resp *r)
{
    json_decref(r->json);
    free(r->text);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

json_t *td_submit(td *d, const char *who, const char *action, const char *resource)
{
    char body[512];
    snprintf(body, sizeof body, "{\"action\":\"%s\",\"resource\":\"%s\"}", action, resource);
    td_resp r = td_req(d, "POST", "/v1/actions", who, body, NULL, NULL);
    if (r.status != 201) die("submit %s %s: %ld %s", action, resource, r.status, r.text);
    json_t *j = json_incref(r.json);
    td_resp_free(&r);
    return j;
}

const char *td_str(const json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    const json_t *cur = o;
    for (char *k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    return json_string_value(cur);
}

long td_audit_count(td *d, const char *type, const char *action_id)
{
    char path[400];
    snprintf(path, sizeof path, "%s/data/countersign.db", d->dir);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) die("open %s", path);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "SELECT COUNT(*) FROM audit WHERE type=?1 AND (?2 IS NULL OR action_id=?2)",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, type, -1, SQLITE_TRANSIENT);
    if (action_id) sqlite3_bind_text(st, 2, action_id, -1, SQLITE_TRANSIENT);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

char *td_audit_entry(td *d, long idx)
{
    char path[400];
    snprintf(path, sizeof path, "%s/data/countersign.db", d->dir);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) die("open %s", path);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT entry FROM audit WHERE idx=?1", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, idx);
    char *out =
        sqlite3_step(st) == SQLITE_ROW ? strdup((const char *)sqlite3_column_text(st, 0)) : NULL;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

int td_cli(td *d, const char *who, char **out, const char *const argv[])
{
    const char *args[32];
    int n = 0;
    args[n++] = binary();
    for (int i = 0; argv[i] && n < 31; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    setenv("COUNTERSIGN_URL", d->url, 1);
    const char *tok = who ? td_token(d, who) : NULL;
    if (tok)
        setenv("COUNTERSIGN_TOKEN", tok, 1);
    else
        unsetenv("COUNTERSIGN_TOKEN");
    int st;
    char *o = run_capture(args, &st);
    if (out)
        *out = o;
    else
        free(o);
    return st;
}

int td_setup(void **state)
{
    td *d = calloc(1, sizeof *d);
    td_start(d);
    *state = d;
    return 0;
}

int td_teardown(void **state)
{
    td_cleanup(*state);
    free(*state);
    return 0;
}

td_resp td_vote(td *d, const char *who, const char *id, const char *verb)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/actions/%s/%s", id, verb);
    return td_req(d, "POST", path, who, NULL, NULL, NULL);
}

/* cmd_audit.c - `countersign audit verify|export-tiles|proof|export`: offline
 * verification of the tamper-evident log (C2SP tlog-tiles, signed checkpoints), a
 * static mirror of it, C2SP tlog-proof files, and evidence exports (SPEC §4, §6).
 * The gateway is $COUNTERSIGN_URL with $COUNTERSIGN_TOKEN, as for every verb. */
#include "cli/cli.h"
#include "cli/client.h"

#include "audit/audit_checkpoint.h"
#include "audit/audit_dir.h"
#include "audit/audit_export.h"
#include "audit/audit_http.h"
#include "audit/audit_proof.h"
#include "audit/audit_tile.h"
#include "util/alloc.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_MAX 4096
#define NOTE_MAX (64 * 1024)
#define BUNDLE_MAX (256 * 65537)

static int usage(void)
{
    fprintf(stderr, "usage: countersign audit verify [--url URL | --dir DIR] [--key VKEY] "
                    "[--trusted FILE] [--json|--ocsf]\n"
                    "       countersign audit export-tiles DIR [--url URL] [--key VKEY]\n"
                    "       countersign audit proof INDEX [-o FILE] [--key VKEY]\n"
                    "       countersign audit export --format jsonl|csv|ocsf [--since T] [--until "
                    "T] [-o FILE]\n");
    return CS_EXIT_USAGE;
}

static const char *gateway_url(void)
{
    const char *u = getenv("COUNTERSIGN_URL");
    return u && *u ? u : "http://127.0.0.1:8080";
}

/* The log's tlog-tiles prefix: --url as given, or the gateway's /v1/audit. */
static char *log_url(const char *url)
{
    return url ? cs_strdup(url) : cs_sprintf("%s/v1/audit", gateway_url());
}

static cs_audit_http *http_source(const char *base, cs_audit_source *src)
{
    cs_audit_http *h = cs_audit_http_new(base);
    cs_audit_http_set_bearer(h, getenv("COUNTERSIGN_TOKEN"));
    cs_audit_http_source(h, src);
    return h;
}

/* --key takes the key text, or a file that holds it. */
static char *load_key(const char *arg)
{
    struct stat st;
    if (arg == NULL) return NULL;
    if (stat(arg, &st) != 0) return cs_strdup(arg);
    cs_buf b;
    cs_err err = {0};
    cs_buf_init(&b, KEY_MAX);
    if (cs_audit_read_file(arg, KEY_MAX, &b, &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        cs_buf_free(&b);
        return NULL;
    }
    return cs_buf_steal(&b);
}

static void trim(char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static void hex(const uint8_t *h, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void print_report(const cs_audit_report *r, int ok, int as_json)
{
    char root[65];
    hex(r->root, root);
    if (as_json) {
        json_t *o =
            json_pack("{s:b,s:s,s:I,s:s,s:I,s:I,s:I,s:s}", "ok", ok, "origin", r->origin, "size",
                      (json_int_t)r->size, "root_sha256_hex", root, "entries_checked",
                      (json_int_t)r->entries_checked, "tiles_checked", (json_int_t)r->tiles_checked,
                      "first_bad_index", (json_int_t)r->first_bad_index, "problem", r->problem);
        if (r->trusted)
            json_object_set_new(o, "trusted_size", json_integer((json_int_t)r->trusted_size));
        char *t = json_dumps(o, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
        json_decref(o);
        return;
    }
    if (ok) {
        printf("audit log OK: %s, %llu entries and %llu tiles checked, root %s\n", r->origin,
               (unsigned long long)r->entries_checked, (unsigned long long)r->tiles_checked, root);
        if (r->trusted)
            printf("consistent with the trusted checkpoint of size %llu\n",
                   (unsigned long long)r->trusted_size);
        return;
    }
    printf("audit log FAILED: %s\n", r->problem);
    if (r->first_bad_index >= 0) printf("first bad index: %lld\n", (long long)r->first_bad_index);
}

typedef struct verify_opts {
    const char *url, *dir, *key_arg, *trusted;
    int as_json, ocsf;
} verify_opts;

static int verify_args(int argc, char **argv, verify_opts *o)
{
    static const struct option opts[] = {{"url", required_argument, 0, 'u'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"key", required_argument, 0, 'k'},
                                         {"trusted", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {"ocsf", no_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            o->url = optarg;
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 'k':
            o->key_arg = optarg;
            break;
        case 't':
            o->trusted = optarg;
            break;
        case 'j':
            o->as_json = 1;
            break;
        case 'o':
            o->ocsf = 1;
            break;
        default:
            return -1;
        }
    }
    return optind != argc || (o->url && o->dir) || (o->as_json && o->ocsf) ? -1 : 0;
}

/* --ocsf: a failed verification as an OCSF Detection Finding for a SIEM. */
static void print_finding(const cs_audit_report *rep, const char *where)
{
    cs_buf b;
    struct timespec ts;
    cs_buf_init(&b, 64 * 1024);
    clock_gettime(CLOCK_REALTIME, &ts);
    cs_audit_export_finding(rep, where, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &b);
    fputs(b.data ? b.data : "", stdout);
    cs_buf_free(&b);
}

static int verify(int argc, char **argv)
{
    verify_opts o = {0};
    if (verify_args(argc, argv, &o) != 0) return usage();
    char *key = load_key(o.key_arg);
    if (o.key_arg && key == NULL) return CS_EXIT_USAGE;
    trim(key);
    if (key == NULL)
        fprintf(stderr, "countersign: no --key: the log is checked against its own key, which "
                        "proves only that it is self-consistent; pass the key you trust\n");
    cs_audit_report rep;
    cs_err err = {0};
    char *base = o.dir ? NULL : log_url(o.url);
    int rc;
    if (o.dir) {
        rc = cs_audit_verify_dir(o.dir, key, o.trusted, &rep, &err);
    } else {
        cs_audit_source src;
        cs_audit_http *h = http_source(base, &src);
        rc = cs_audit_verify_source(&src, key, o.trusted, &rep, &err);
        cs_audit_http_free(h);
    }
    int code = rc == 0 ? CS_EXIT_OK : rc == CS_EAUTH ? CS_EXIT_DENIED : CS_EXIT_USAGE;
    if (code == CS_EXIT_USAGE)
        fprintf(stderr, "countersign: audit verify: %s\n", err.msg);
    else if (o.ocsf && code == CS_EXIT_DENIED)
        print_finding(&rep, o.dir ? o.dir : base);
    else if (!o.ocsf)
        print_report(&rep, rc == 0, o.as_json);
    free(base);
    free(key);
    return code;
}

/* export-tiles: a tree whose tiles are read from the gateway, written out by the
 * library's static-directory export (which checks the checkpoint's root first). */
static int remote_tile(void *ctx, unsigned level, uint64_t index, unsigned width, uint8_t *out)
{
    const cs_audit_source *src = ctx;
    cs_audit_tile_ref ref = {(int)level, index, width};
    cs_buf path, data;
    cs_err err = {0};
    cs_buf_init(&path, 256);
    cs_buf_init(&data, CS_AUDIT_TILE_BYTES);
    int rc = cs_audit_tile_path(&path, &ref);
    if (rc == 0)
        rc = src->fetch(src->ctx, path.data, (size_t)width * CS_AUDIT_HASH_LEN, &data, &err);
    if (rc == 0 && data.len != (size_t)width * CS_AUDIT_HASH_LEN) rc = CS_EPARSE;
    if (rc == 0) memcpy(out, data.data, data.len);
    cs_buf_free(&path);
    cs_buf_free(&data);
    return rc;
}

static int remote_bundle(void *ctx, uint64_t start, unsigned count, cs_buf *bundle)
{
    const cs_audit_source *src = ctx;
    cs_audit_tile_ref ref = {CS_AUDIT_LEVEL_ENTRIES, start / CS_AUDIT_TILE_WIDTH, count};
    cs_buf path;
    cs_err err = {0};
    cs_buf_init(&path, 256);
    int rc = cs_audit_tile_path(&path, &ref);
    if (rc == 0) rc = src->fetch(src->ctx, path.data, BUNDLE_MAX, bundle, &err);
    if (rc) fprintf(stderr, "countersign: %s\n", err.msg);
    cs_buf_free(&path);
    return rc;
}

static int mirror(const char *dir, const cs_audit_source *src, const char *vkey, const char *note,
                  cs_err *err)
{
    cs_audit_verifier v;
    cs_audit_checkpoint cp;
    int rc = cs_audit_verifier_parse(&v, vkey, strlen(vkey), err);
    if (rc == 0) rc = cs_audit_checkpoint_open(note, strlen(note), &v, &cp, err);
    if (rc) return rc;
    cs_audit_tile_reader r = {remote_tile, (void *)src};
    cs_audit_tree *t = cs_audit_tree_new(&r, NULL, NULL);
    if (cp.size > 0) rc = cs_audit_tree_restore(t, cp.size, err);
    cs_audit_entry_reader er = {remote_bundle, (void *)src};
    if (rc == 0 && mkdir(dir, 0755) != 0 && access(dir, W_OK) != 0)
        rc = cs_err_set(err, CS_EIO, "%s: cannot create the directory", dir);
    if (rc == 0) rc = cs_audit_export_dir(dir, t, &er, note, strlen(note), vkey, err);
    cs_audit_tree_free(t);
    return rc;
}

static int export_tiles(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, 0, 'u'}, {"key", required_argument, 0, 'k'}, {0, 0, 0, 0}};
    const char *url = NULL, *key_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'u')
            url = optarg;
        else if (c == 'k')
            key_arg = optarg;
        else
            return usage();
    }
    if (optind != argc - 1) return usage();
    char *base = log_url(url), *key = load_key(key_arg);
    cs_audit_source src;
    cs_audit_http *h = http_source(base, &src);
    cs_buf keytext, note;
    cs_err err = {0};
    cs_buf_init(&keytext, KEY_MAX);
    cs_buf_init(&note, NOTE_MAX);
    int rc = key ? cs_buf_puts(&keytext, key) : src.fetch(src.ctx, "key", KEY_MAX, &keytext, &err);
    if (rc == 0) rc = src.fetch(src.ctx, "checkpoint", NOTE_MAX, &note, &err);
    if (rc == 0) {
        trim(keytext.data);
        rc = mirror(argv[optind], &src, keytext.data, note.data, &err);
    }
    if (rc)
        fprintf(stderr, "countersign: audit export-tiles: %s\n", err.msg);
    else
        printf("wrote %s (checkpoint, key, tile/)\n", argv[optind]);
    cs_buf_free(&keytext);
    cs_buf_free(&note);
    cs_audit_http_free(h);
    free(base);
    free(key);
    return rc == 0 ? CS_EXIT_OK : rc == CS_EAUTH ? CS_EXIT_DENIED : CS_EXIT_USAGE;
}

/* Checks a proof file against the key: the checkpoint's signature and, when the entry
 * is known, its inclusion. */
static int check_proof(const char *file, const char *entry, const char *vkey, cs_err *err)
{
    cs_audit_verifier v;
    cs_audit_proof p;
    int rc = cs_audit_verifier_parse(&v, vkey, strlen(vkey), err);
    if (rc) return rc;
    if ((rc = cs_audit_proof_parse(file, strlen(file), &p, err)) != 0) return rc;
    if (entry) {
        rc = cs_audit_proof_verify(&p, entry, strlen(entry), &v, NULL, err);
    } else {
        cs_audit_checkpoint cp;
        rc = cs_audit_checkpoint_open(p.checkpoint, p.checkpoint_len, &v, &cp, err);
        if (rc == 0)
            fprintf(
                stderr,
                "countersign: the entry is not shown to agents; its inclusion was not checked\n");
    }
    cs_audit_proof_free(&p);
    return rc;
}

static int fetch_key(char **key)
{
    char *base = log_url(NULL);
    cs_audit_source src;
    cs_audit_http *h = http_source(base, &src);
    cs_buf b;
    cs_err err = {0};
    cs_buf_init(&b, KEY_MAX);
    int rc = src.fetch(src.ctx, "key", KEY_MAX, &b, &err);
    if (rc)
        fprintf(stderr, "countersign: %s\n", err.msg);
    else {
        trim(b.data);
        *key = cs_buf_steal(&b);
    }
    cs_buf_free(&b);
    cs_audit_http_free(h);
    free(base);
    return rc;
}

static int write_out(const char *path, const char *text)
{
    if (path == NULL) return fputs(text, stdout) >= 0 ? 0 : -1;
    cs_err err = {0};
    if (cs_audit_write_file(path, text, strlen(text), &err) == 0) return 0;
    fprintf(stderr, "countersign: %s\n", err.msg);
    return -1;
}

static int proof(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"key", required_argument, 0, 'k'}, {0, 0, 0, 0}};
    const char *out_path = NULL, *key_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o')
            out_path = optarg;
        else if (c == 'k')
            key_arg = optarg;
        else
            return usage();
    }
    if (optind != argc - 1 || strspn(argv[optind], "0123456789") != strlen(argv[optind]) ||
        !*argv[optind])
        return usage();
    char *key = load_key(key_arg), *path = cs_sprintf("/v1/audit/proof/%s", argv[optind]);
    trim(key);
    long status = 0;
    json_t *reply = NULL;
    int code = CS_EXIT_USAGE;
    if (cs_client_call("GET", path, NULL, NULL, 30, &status, &reply) != 0) goto out;
    if (status != 200) {
        cs_client_print_problem(status, reply);
        code = status == 404 ? CS_EXIT_DENIED : CS_EXIT_USAGE;
        goto out;
    }
    if (key == NULL && fetch_key(&key) != 0) goto out;
    const char *file = json_string_value(json_object_get(reply, "tlog_proof"));
    cs_err err = {0};
    if (file == NULL ||
        check_proof(file, json_string_value(json_object_get(reply, "entry")), key, &err) != 0) {
        fprintf(stderr, "countersign: the gateway's proof does not verify: %s\n",
                file ? err.msg : "no proof");
        code = CS_EXIT_DENIED;
        goto out;
    }
    code = write_out(out_path, file) == 0 ? CS_EXIT_OK : CS_EXIT_USAGE;
out:
    json_decref(reply);
    free(key);
    free(path);
    return code;
}

/* export: the body streams to the output when the answer is 200; otherwise it is the
 * problem document, collected for the message. */
typedef struct stream {
    CURL *curl;
    FILE *out;
    cs_buf err_body;
} stream;

static size_t on_export(char *p, size_t size, size_t n, void *ctx)
{
    stream *s = ctx;
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) return fwrite(p, size, n, s->out) == n ? size * n : 0;
    return cs_buf_append(&s->err_body, p, size * n) == 0 ? size * n : 0;
}

static char *export_path(const char *format, const char *since, const char *until)
{
    CURL *c = curl_easy_init();
    char *f = curl_easy_escape(c, format, 0), *s = since ? curl_easy_escape(c, since, 0) : NULL;
    char *u = until ? curl_easy_escape(c, until, 0) : NULL;
    char *path = cs_sprintf("%s/v1/audit/export?format=%s%s%s%s%s", gateway_url(), f,
                            s ? "&since=" : "", s ? s : "", u ? "&until=" : "", u ? u : "");
    curl_free(f);
    curl_free(s);
    curl_free(u);
    curl_easy_cleanup(c);
    return path;
}

static int run_export(const char *url, FILE *out)
{
    stream s = {curl_easy_init(), out, {0}};
    cs_buf_init(&s.err_body, 64 * 1024);
    const char *token = getenv("COUNTERSIGN_TOKEN");
    curl_easy_setopt(s.curl, CURLOPT_URL, url);
    curl_easy_setopt(s.curl, CURLOPT_WRITEFUNCTION, on_export);
    curl_easy_setopt(s.curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.curl, CURLOPT_NOSIGNAL, 1L);
    if (token && *token) {
        curl_easy_setopt(s.curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(s.curl, CURLOPT_XOAUTH2_BEARER, token);
    }
    CURLcode cc = curl_easy_perform(s.curl);
    long status = 0;
    curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &status);
    int code = CS_EXIT_OK;
    if (cc != CURLE_OK) {
        fprintf(stderr, "countersign: %s: %s\n", url, curl_easy_strerror(cc));
        code = CS_EXIT_USAGE;
    } else if (status != 200) {
        json_t *p = json_loadb(s.err_body.data ? s.err_body.data : "", s.err_body.len, 0, NULL);
        cs_client_print_problem(status, p);
        json_decref(p);
        code = status == 400 ? CS_EXIT_USAGE : CS_EXIT_DENIED;
    }
    cs_buf_free(&s.err_body);
    curl_easy_cleanup(s.curl);
    return code;
}

static int export(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"since", required_argument, 0, 's'},
                                         {"until", required_argument, 0, 'u'},
                                         {"output", required_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    const char *format = NULL, *since = NULL, *until = NULL, *out_path = NULL;
    int c;
    cs_audit_format f;
    long long ms;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'f')
            format = optarg;
        else if (c == 's')
            since = optarg;
        else if (c == 'u')
            until = optarg;
        else if (c == 'o')
            out_path = optarg;
        else
            return usage();
    }
    if (optind != argc || cs_audit_format_parse(format, &f) != 0) return usage();
    const char *bad_time = since && cs_audit_time_parse(since, &ms) != 0   ? since
                           : until && cs_audit_time_parse(until, &ms) != 0 ? until
                                                                           : NULL;
    if (bad_time) {
        fprintf(stderr,
                "countersign: '%s' is not a time: use RFC 3339 UTC (2026-11-21T03:00:00Z), "
                "a date (2026-11-21) or epoch milliseconds\n",
                bad_time);
        return CS_EXIT_USAGE;
    }
    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (out == NULL) {
        perror(out_path);
        return CS_EXIT_USAGE;
    }
    char *url = export_path(format, since, until);
    int code = run_export(url, out);
    if (out != stdout && fclose(out) != 0) code = CS_EXIT_USAGE;
    free(url);
    return code;
}

int cs_cmd_audit(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *sub = argv[1];
    if (!strcmp(sub, "verify")) return verify(argc - 1, argv + 1);
    if (!strcmp(sub, "export-tiles")) return export_tiles(argc - 1, argv + 1);
    if (!strcmp(sub, "proof")) return proof(argc - 1, argv + 1);
    if (!strcmp(sub, "export")) return export(argc - 1, argv + 1);
    return usage();
}

/* test_audit_http.c - verifying a log over real HTTP (an in-process libmicrohttpd server
 * publishing an exported tlog-tiles directory under /v1/audit/) and over file:// URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit_checkpoint.h"
#include "audit/audit_dir.h"
#include "audit/audit_http.h"
#include "audit/audit_memstore.h"
#include "util/alloc.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ORIGIN "countersign.test/http"
#define PREFIX "/v1/audit/"

static char tmp[64];
static char vkey[512];
static struct MHD_Daemon *daemon_;
static unsigned port;
static int requests;

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_len, void **state)
{
    requests++;
    cs_buf body;
    cs_buf_init(&body, 1 << 24);
    unsigned status = MHD_HTTP_NOT_FOUND;
    if (strncmp(url, PREFIX, strlen(PREFIX)) == 0 && strstr(url, "..") == NULL) {
        char *p = cs_sprintf("%s/log/%s", tmp, url + strlen(PREFIX));
        if (cs_audit_read_file(p, 1 << 24, &body, NULL) == 0) status = MHD_HTTP_OK;
        free(p);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(body.len, body.data ? body.data : "",
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    cs_buf_free(&body);
    return ok;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static int setup(void **state)
{
    strcpy(tmp, "/tmp/cs-audit-http-XXXXXX");
    if (mkdtemp(tmp) == NULL) return -1;
    cs_audit_signer s;
    if (cs_audit_signer_generate(&s, ORIGIN, NULL) < 0) return -1;
    cs_buf k, note;
    cs_buf_init(&k, sizeof vkey - 1);
    cs_buf_init(&note, 4096);
    cs_audit_signer_vkey(&s, &k);
    memcpy(vkey, k.data, k.len + 1);
    cs_audit_memstore *m = cs_audit_memstore_new();
    cs_audit_tile_reader r;
    cs_audit_memstore_reader(m, &r);
    cs_audit_tree *t = cs_audit_tree_new(&r, cs_audit_memstore_sink, m);
    char e[64];
    for (int i = 0; i < 700; i++) {
        snprintf(e, sizeof e, "{\"i\":%d}", i);
        cs_audit_memstore_add(m, e, strlen(e));
        cs_audit_tree_append(t, e, strlen(e));
    }
    cs_audit_checkpoint cp = {.origin = ORIGIN, .size = 700};
    cs_audit_tree_root(t, 700, cp.root, NULL);
    cs_audit_checkpoint_sign(&s, &cp, &note, NULL);
    char *dir = cs_sprintf("%s/log", tmp);
    cs_audit_entry_reader er = {cs_audit_memstore_read_bundle, m};
    int rc = cs_audit_export_dir(dir, t, &er, note.data, note.len, vkey, NULL);
    free(dir);
    cs_audit_tree_free(t);
    cs_audit_memstore_free(m);
    cs_buf_free(&k);
    cs_buf_free(&note);
    cs_audit_signer_wipe(&s);
    if (rc < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, NULL,
                               MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (daemon_ == NULL) return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    port = info ? info->port : 0;
    return port ? 0 : -1;
}

static int teardown(void **state)
{
    MHD_stop_daemon(daemon_);
    return nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_verify_over_http(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/audit/", port);
    cs_audit_report rep;
    cs_err err;
    requests = 0;
    int rc = cs_audit_verify_url(url, vkey, NULL, &rep, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_true(rep.entries_checked == 700);
    assert_true(requests > 5);
    /* The server's key (GET .../key) gives a self-consistency check. */
    assert_int_equal(cs_audit_verify_url(url, NULL, NULL, &rep, &err), 0);

    /* 404 on a missing bundle is an absence the verifier reports with its index. */
    char *p = cs_sprintf("%s/log/tile/entries/001", tmp);
    char *moved = cs_sprintf("%s/moved", tmp);
    assert_int_equal(rename(p, moved), 0);
    assert_int_equal(cs_audit_verify_url(url, vkey, NULL, &rep, &err), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 256);
    assert_int_equal(rename(moved, p), 0);
    free(p);
    free(moved);

    /* No server at all is a transport error, not a verdict on the log. */
    assert_int_equal(cs_audit_verify_url("http://127.0.0.1:1/v1/audit", vkey, NULL, &rep, &err),
                     CS_EIO);
}

static void test_verify_file_url(void **state)
{
    char *url = cs_sprintf("file://%s/log", tmp);
    cs_audit_report rep;
    cs_err err;
    int rc = cs_audit_verify_url(url, vkey, NULL, &rep, &err);
    if (rc) fail_msg("%s", err.msg);
    free(url);
    url = cs_sprintf("file://%s/nothing-here", tmp);
    assert_int_equal(cs_audit_verify_url(url, vkey, NULL, &rep, &err), CS_ENOTFOUND);
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_over_http),
        cmocka_unit_test(test_verify_file_url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

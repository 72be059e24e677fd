/* test_mcp_jsonrpc.c - unit tests for the proxy's JSON-RPC parsing and framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proxy/mcp_hold.h"
#include "proxy/mcp_jsonrpc.h"
#include "util/error.h"

#include <string.h>
#include <unistd.h>

static void parse_kinds(void **state)
{
    cs_rpc_msg m;
    assert_int_equal(cs_rpc_parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", 40, &m), 0);
    assert_int_equal(m.kind, CS_RPC_REQUEST);
    assert_string_equal(m.id_key, "1");
    assert_string_equal(m.method, "ping");
    cs_rpc_msg_clear(&m);
    const char *n = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    assert_int_equal(cs_rpc_parse(n, strlen(n), &m), 0);
    assert_int_equal(m.kind, CS_RPC_NOTIFICATION);
    cs_rpc_msg_clear(&m);
    const char *r = "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{}}";
    assert_int_equal(cs_rpc_parse(r, strlen(r), &m), 0);
    assert_int_equal(m.kind, CS_RPC_RESPONSE);
    assert_string_equal(m.id_key, "\"x\"");
    cs_rpc_msg_clear(&m);
    assert_int_equal(cs_rpc_parse("[{}]", 4, &m), 0);
    assert_int_equal(m.kind, CS_RPC_BATCH);
    cs_rpc_msg_clear(&m);
}

/* Numbers jansson cannot hold are valid JSON: they are read as their text. */
static void parse_big_numbers(void **state)
{
    const char *t = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
                    "\"arguments\":{\"n\":123456789012345678901234567890,\"m\":-99999999999999999999,"
                    "\"f\":1e400,\"g\":-2.5E+999,\"tiny\":1e-400,\"s\":\"1e400 \\\" 99999999999999999999\","
                    "\"ok\":[5,0.5,-9223372036854775808]}}}";
    cs_rpc_msg m;
    assert_int_equal(cs_rpc_parse(t, strlen(t), &m), 0);
    assert_int_equal(m.kind, CS_RPC_REQUEST);
    assert_string_equal(m.id_key, "1");
    json_t *a = json_object_get(json_object_get(m.root, "params"), "arguments");
    assert_string_equal(json_string_value(json_object_get(a, "n")), "123456789012345678901234567890");
    assert_string_equal(json_string_value(json_object_get(a, "m")), "-99999999999999999999");
    assert_string_equal(json_string_value(json_object_get(a, "f")), "1e400");
    assert_string_equal(json_string_value(json_object_get(a, "g")), "-2.5E+999");
    assert_true(json_is_real(json_object_get(a, "tiny")));
    assert_string_equal(json_string_value(json_object_get(a, "s")), "1e400 \" 99999999999999999999");
    json_t *ok = json_object_get(a, "ok");
    assert_int_equal(json_integer_value(json_array_get(ok, 0)), 5);
    assert_true(json_is_real(json_array_get(ok, 1)));
    assert_true(json_integer_value(json_array_get(ok, 2)) == INT64_MIN);
    cs_rpc_msg_clear(&m);
    /* Still refused: not JSON apart from the number, and a big id keeps its place. */
    const char *bad[] = {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"n\":1e400",
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"n\":1e400,\"n\":2}",
                         "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"n\":1e400,\"s\":\"\\"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cs_rpc_parse(bad[i], strlen(bad[i]), &m), CS_EPARSE);
        assert_int_equal(m.parse_error, 1);
        cs_rpc_msg_clear(&m);
    }
    const char *big_id = "{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,\"method\":\"ping\"}";
    assert_int_equal(cs_rpc_parse(big_id, strlen(big_id), &m), 0);
    assert_string_equal(m.id_key, "\"99999999999999999999\"");
    cs_rpc_msg_clear(&m);
}

/* Tool names that cannot be one segment of mcp/<name>/<tool> are refused with a
 * tool error before anything is asked or run. */
static void tool_names(void **state)
{
    static const struct {
        const char *name;
        int ok;
    } cases[] = {{"echo", 1}, {"a.b", 1}, {"...", 1}, {"", 0}, {".", 0}, {"..", 0}, {"a/b", 0}, {"a\\b", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *msg = json_pack("{s:s,s:i,s:s,s:{s:s,s:{}}}", "jsonrpc", "2.0", "id", 1, "method",
                                "tools/call", "params", "name", cases[i].name, "arguments");
        char *text = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        cs_rpc_msg m;
        assert_int_equal(cs_rpc_parse(text, strlen(text), &m), 0);
        cs_mcp_call *c = NULL;
        char *line = NULL;
        int rc = cs_mcp_call_new(&m, "", &c, &line);
        if ((rc == 0) != cases[i].ok) fail_msg("tool name \"%s\": %d", cases[i].name, rc);
        if (rc == 0) {
            cs_mcp_call_free(c);
        } else {
            assert_non_null(strstr(line, "cannot be checked against policy"));
            assert_non_null(strstr(line, "\"isError\":true"));
            free(line);
        }
        cs_rpc_msg_clear(&m);
        free(text);
    }
}

static void parse_errors(void **state)
{
    static const struct {
        const char *text;
        int parse_error;
        const char *id_key;
    } cases[] = {
        {"{\"jsonrpc\":", 1, ""},
        {"\"just a string\"", 0, ""},
        {"[]", 0, ""},
        {"{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}", 0, "3"},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", 0, ""},
        {"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":7}", 0, "4"},
        {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":1,\"error\":{}}", 0, "5"},
        {"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"a\",\"params\":3}", 0, "6"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"a\"}", 1, ""},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"x\":\"\xff\"}", 1, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cs_rpc_msg m;
        assert_int_equal(cs_rpc_parse(cases[i].text, strlen(cases[i].text), &m), CS_EPARSE);
        assert_int_equal(m.kind, CS_RPC_INVALID);
        assert_int_equal(m.parse_error, cases[i].parse_error);
        assert_string_equal(m.id_key, cases[i].id_key);
        assert_true(strlen(m.why) > 0);
        cs_rpc_msg_clear(&m);
    }
}

static void built_messages(void **state)
{
    json_t *id = json_integer(9);
    char *e = cs_rpc_error_line(id, CS_RPC_PARSE_ERROR, "bad");
    assert_string_equal(
        e, "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32700,\"message\":\"bad\"}}\n");
    free(e);
    char *t = cs_rpc_tool_error_line(id, "no");
    assert_non_null(strstr(t, "\"isError\":true"));
    assert_non_null(strstr(t, "\"text\":\"no\""));
    assert_int_equal(t[strlen(t) - 1], '\n');
    free(t);
    char *p = cs_rpc_progress_line(id, 2, "waiting");
    assert_non_null(strstr(p, "\"method\":\"notifications/progress\""));
    assert_non_null(strstr(p, "\"progressToken\":9"));
    free(p);
    json_decref(id);
}

/* Lines, CRLF, blank lines, an oversized line, a last line without newline. */
static void framing(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const char *in = "one\r\n\n\ntwo\n0123456789ABCDEFGHIJ0123456789\nthree\nlast";
    assert_int_equal(cs_write_all(fds[1], in, strlen(in)), 0);
    close(fds[1]);
    cs_rpc_reader r;
    cs_rpc_reader_init(&r, fds[0], 16);
    const char *d;
    size_t n;
    assert_int_equal(cs_rpc_read(&r, &d, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(d, "one", 3);
    assert_int_equal(cs_rpc_read(&r, &d, &n), 0);
    assert_memory_equal(d, "two", 3);
    assert_int_equal(cs_rpc_read(&r, &d, &n), CS_ETOOBIG);
    assert_int_equal(cs_rpc_read(&r, &d, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "three", 5);
    assert_int_equal(cs_rpc_read(&r, &d, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(d, "last", 4);
    assert_int_equal(cs_rpc_read(&r, &d, &n), CS_EIO);
    cs_rpc_reader_free(&r);
    close(fds[0]);
}

static void idscan(void **state)
{
    static const struct {
        const char *text;
        const char *id;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"x\"}", "5"},
        {"{\"id\":\"a\\\"b\",\"x\":1}", "\"a\\\"b\""},
        {"{\"params\":{\"id\":9},\"id\":\"z\"}", "\"z\""},
        {"{\"x\":[{\"id\":1},\"id\"],\"id\":-2.5e3}", "-2.5e3"},
        {"{ \"id\" : 7 , \"m\":\"}\"}", "7"},
        {"{\"result\":{\"content\":[{\"text\":\"id\"}]},\"jsonrpc\":\"2.0\",\"id\":42}", "42"},
        {"{\"idx\":1,\"i\":2}", NULL},
        {"{\"method\":\"notifications/x\"}", NULL},
        {"[{\"id\":1}]", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Fed one byte at a time: pieces may split anywhere. */
        cs_rpc_idscan s;
        memset(&s, 0, sizeof s);
        for (const char *p = cases[i].text; *p; p++) cs_rpc_idscan_feed(&s, p, 1);
        const char *got = cs_rpc_idscan_result(&s);
        if (cases[i].id == NULL) assert_null(got);
        else assert_string_equal(got, cases[i].id);
    }
}

/* An oversized message still gets its id found for the error answer. */
static void framing_big_id(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const char *in = "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"x\":\"0123456789\"},\"id\":\"big\"}\n";
    assert_int_equal(cs_write_all(fds[1], in, strlen(in)), 0);
    close(fds[1]);
    cs_rpc_reader r;
    cs_rpc_reader_init(&r, fds[0], 16);
    const char *d;
    size_t n;
    assert_int_equal(cs_rpc_read(&r, &d, &n), CS_ETOOBIG);
    assert_string_equal(r.big_id, "\"big\"");
    assert_int_equal(cs_rpc_read(&r, &d, &n), CS_EIO);
    cs_rpc_reader_free(&r);
    close(fds[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_kinds),
        cmocka_unit_test(parse_big_numbers),
        cmocka_unit_test(tool_names),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(built_messages),
        cmocka_unit_test(framing),
        cmocka_unit_test(idscan),
        cmocka_unit_test(framing_big_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

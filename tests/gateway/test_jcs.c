/* test_jcs.c - RFC 8785 canonical JSON: key order by UTF-16 code units, number
 * formatting (RFC 8785 §3.2.2.3 examples), string escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/jcs.h"

static void check(const char *in, const char *want)
{
    json_t *v = json_loads(in, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    char *got = cs_jcs_dumps(v);
    assert_string_equal(got, want);
    free(got);
    json_decref(v);
}

static void test_numbers(void **state)
{
    check(
        "[0, -0.0, 1.0, 1e21, 1e20, 1e-7, 0.000001, 333333333.33333329, 1E30, 4.5, 2e-3, 0.000001]",
        "[0,0,1,1e+21,100000000000000000000,1e-7,0.000001,333333333.3333333,1e+30,4.5,0.002,0."
        "000001]");
    check("[9007199254740992, -123, 5e-324, 1.7976931348623157e308]",
          "[9007199254740992,-123,5e-324,1.7976931348623157e+308]");
}

static void test_keys_and_strings(void **state)
{
    /* U+1F600 (a surrogate pair in UTF-16) sorts before U+FB01 although its
     * code point is larger; "\u000f" is escaped in lowercase hex. */
    check("{\"\\ufb01\":1,\"\\ud83d\\ude00\":2,\"b\":3,\"a\":{\"z\":1,\"y\":"
          "\"\\u000f\\n\\\"\\u00e9/\"}}",
          "{\"a\":{\"y\":\"\\u000f\\n\\\"\xc3\xa9/"
          "\",\"z\":1},\"b\":3,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\x81\":1}");
    check("{\"1\":true,\"10\":null,\"\":false}", "{\"\":false,\"1\":true,\"10\":null}");
}

static void test_many_keys(void **state)
{
    /* More members than the writer sorts on its stack: the heap path, same order. */
    char in[2048] = "{", want[2048] = "{";
    for (int i = 39; i >= 0; i--)
        snprintf(in + strlen(in), sizeof in - strlen(in), "%s\"k%02d\":%d", i == 39 ? "" : ",", i, i);
    for (int i = 0; i < 40; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s\"k%02d\":%d", i ? "," : "", i, i);
    strcat(in, "}");
    strcat(want, "}");
    check(in, want);
}

static void test_document_order(void **state)
{
    /* cs_json_dumps keeps the members' order, escapes as the canonical form does and
     * prints integers beyond 2^53 exactly; the text loads back to an equal value. */
    const char *in = "{\"z\":[1,{\"b\":true,\"a\":null}],\"a\":\"x\\n\\\"\",\"big\":9007199254740993,"
                     "\"neg\":-12}";
    json_t *v = json_loads(in, 0, NULL);
    assert_non_null(v);
    char *got = cs_json_dumps(v);
    assert_string_equal(got, "{\"z\":[1,{\"b\":true,\"a\":null}],\"a\":\"x\\n\\\"\","
                             "\"big\":9007199254740993,\"neg\":-12}");
    json_t *back = json_loads(got, 0, NULL);
    assert_true(json_equal(v, back));
    json_decref(back);
    free(got);
    json_decref(v);
}

/* The RFC 8785 string form, one byte at a time: what the writer's 8-byte scan must
 * equal for every byte value at every position. */
static void reference_string(const unsigned char *s, size_t n, char *out)
{
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                      : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : NULL;
        if (e) o += sprintf(o, "%s", e);
        else if (c < 0x20) o += sprintf(o, "\\u%04x", c);
        else *o++ = (char)c;
    }
    *o++ = '"';
    *o = '\0';
}

static void test_string_bytes_at_every_position(void **state)
{
    (void)state;
    unsigned char s[40];
    char want[40 * 6 + 3];
    for (size_t n = 1; n <= sizeof s; n += (n < 20 ? 1 : 7)) {
        for (size_t pos = 0; pos < n; pos++) {
            for (int c = 1; c < 256; c++) {
                for (size_t i = 0; i < n; i++)
                    s[i] = (unsigned char)('a' + i % 26);
                s[pos] = (unsigned char)c;
                if (n > 9) s[n - 1 - pos % 9] = (unsigned char)(0x80 + c % 64); /* UTF-8 bytes */
                cs_buf b;
                cs_buf_init(&b, 1 << 12);
                assert_int_equal(cs_jcs_write_string((const char *)s, n, &b), 0);
                reference_string(s, n, want);
                assert_string_equal(b.data, want);
                cs_buf_free(&b);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_numbers),
                                       cmocka_unit_test(test_keys_and_strings),
                                       cmocka_unit_test(test_many_keys),
                                       cmocka_unit_test(test_document_order),
                                       cmocka_unit_test(test_string_bytes_at_every_position)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

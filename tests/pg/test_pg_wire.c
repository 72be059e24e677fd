/* test_pg_wire.c - protocol v3 framing: complete, partial, absurd and malformed
 * messages and startup packets; error/notice builders round-trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "proxy/pg_wire.h"

static void put32(char *p, unsigned v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

static void test_msg_framing(void **state)
{
    char q[] = {'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0};
    cs_pg_msg m;
    cs_err err = {0};
    assert_int_equal(cs_pg_msg_next(q, sizeof q, CS_PG_MSG_MAX, &m, &err), 1);
    assert_int_equal(m.type, 'Q');
    assert_int_equal(m.len, 9);
    assert_int_equal(m.total, sizeof q);
    assert_string_equal(m.body, "SELECT 1");
    /* Every shorter prefix asks for more bytes and never reads past n. */
    for (size_t n = 0; n < sizeof q; n++)
        assert_int_equal(cs_pg_msg_next(q, n, CS_PG_MSG_MAX, &m, &err), 0);
}

static void test_msg_bad_lengths(void **state)
{
    char b[8] = {'Q'};
    cs_pg_msg m;
    cs_err err = {0};
    put32(b + 1, 3); /* below its own size */
    assert_int_equal(cs_pg_msg_next(b, 5, CS_PG_MSG_MAX, &m, &err), CS_EINVAL);
    assert_non_null(strstr(err.msg, "invalid message length"));
    put32(b + 1, 0xfffffff0u); /* absurd */
    assert_int_equal(cs_pg_msg_next(b, 5, CS_PG_MSG_MAX, &m, &err), CS_EINVAL);
    put32(b + 1, 1000);
    assert_int_equal(cs_pg_msg_next(b, 5, 100, &m, &err), CS_EINVAL); /* over the caller's cap */
}

static size_t startup(char *b, const char *params, size_t plen)
{
    put32(b + 4, CS_PG_PROTO_3);
    memcpy(b + 8, params, plen);
    put32(b, (unsigned)(8 + plen));
    return 8 + plen;
}

static void test_startup(void **state)
{
    char b[256];
    cs_pg_startup s;
    cs_err err = {0};
    static const char p[] = "user\0alice\0database\0appdb\0\0";
    size_t n = startup(b, p, sizeof p - 1);
    assert_int_equal(cs_pg_startup_next(b, n, &s, &err), 1);
    assert_int_equal(s.kind, CS_PG_STARTUP);
    assert_string_equal(s.user, "alice");
    assert_string_equal(s.database, "appdb");
    assert_int_equal(s.total, n);
    assert_int_equal(cs_pg_startup_next(b, n - 1, &s, &err), 0);
    /* database defaults to the user name */
    static const char p2[] = "user\0bob\0\0";
    n = startup(b, p2, sizeof p2 - 1);
    assert_int_equal(cs_pg_startup_next(b, n, &s, &err), 1);
    assert_string_equal(s.database, "bob");
    /* no user: refused */
    static const char p3[] = "database\0x\0\0";
    n = startup(b, p3, sizeof p3 - 1);
    assert_int_equal(cs_pg_startup_next(b, n, &s, &err), CS_EINVAL);
    /* unterminated parameters */
    static const char p4[] = "user\0alice";
    n = startup(b, p4, sizeof p4 - 1);
    assert_int_equal(cs_pg_startup_next(b, n, &s, &err), CS_EINVAL);
}

static void test_special_requests(void **state)
{
    char b[16];
    cs_pg_startup s;
    cs_err err = {0};
    put32(b, 8);
    put32(b + 4, CS_PG_CODE_SSL);
    assert_int_equal(cs_pg_startup_next(b, 8, &s, &err), 1);
    assert_int_equal(s.kind, CS_PG_SSL);
    put32(b + 4, CS_PG_CODE_GSSENC);
    assert_int_equal(cs_pg_startup_next(b, 8, &s, &err), 1);
    assert_int_equal(s.kind, CS_PG_GSSENC);
    put32(b, 16);
    put32(b + 4, CS_PG_CODE_CANCEL);
    put32(b + 8, 4242);
    put32(b + 12, 0xdeadbeef);
    assert_int_equal(cs_pg_startup_next(b, 16, &s, &err), 1);
    assert_int_equal(s.kind, CS_PG_CANCEL);
    assert_int_equal(s.pid, 4242);
    assert_int_equal(s.key, 0xdeadbeef);
    put32(b, 12); /* cancel with the wrong length */
    assert_int_equal(cs_pg_startup_next(b, 16, &s, &err), CS_EINVAL);
    put32(b, 0x7fffffff); /* absurd */
    assert_int_equal(cs_pg_startup_next(b, 16, &s, &err), CS_EINVAL);
    put32(b, 8);
    put32(b + 4, 2u << 16); /* protocol 2 */
    assert_int_equal(cs_pg_startup_next(b, 8, &s, &err), CS_EINVAL);
    assert_non_null(strstr(err.msg, "unsupported frontend protocol"));
}

static void test_error_roundtrip(void **state)
{
    cs_buf out;
    cs_buf_init(&out, 1 << 20);
    assert_int_equal(cs_pg_put_error(&out, "42501", "denied", "why", NULL), 0);
    assert_int_equal(cs_pg_put_ready(&out, 'I'), 0);
    cs_pg_msg m;
    cs_err err = {0};
    assert_int_equal(cs_pg_msg_next(out.data, out.len, CS_PG_MSG_MAX, &m, &err), 1);
    assert_int_equal(m.type, 'E');
    assert_string_equal(cs_pg_field(&m, 'C'), "42501");
    assert_string_equal(cs_pg_field(&m, 'M'), "denied");
    assert_string_equal(cs_pg_field(&m, 'D'), "why");
    assert_string_equal(cs_pg_field(&m, 'S'), "ERROR");
    assert_null(cs_pg_field(&m, 'H'));
    cs_pg_msg z;
    assert_int_equal(cs_pg_msg_next(out.data + m.total, out.len - m.total, CS_PG_MSG_MAX, &z, &err),
                     1);
    assert_int_equal(z.type, 'Z');
    assert_int_equal(z.body[0], 'I');
    cs_buf_free(&out);
}

static void test_reader_bounds(void **state)
{
    cs_pg_reader r;
    cs_pg_reader_init(&r, "ab", 2); /* no terminator */
    cs_pg_get_str(&r);
    assert_true(r.bad);
    cs_pg_reader_init(&r, "\x01\x02", 2);
    assert_int_equal(cs_pg_get_u16(&r), 0x0102);
    cs_pg_get_u32(&r);
    assert_true(r.bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_framing),     cmocka_unit_test(test_msg_bad_lengths),
        cmocka_unit_test(test_startup),         cmocka_unit_test(test_special_requests),
        cmocka_unit_test(test_error_roundtrip), cmocka_unit_test(test_reader_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

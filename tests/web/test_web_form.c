/* test_web_form.c - the form-urlencoded decoder of the sign-in and approval page
 * forms: decoding, caps, broken escapes and embedded NULs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "web/web_int.h"

static int get(const char *body, const char *name, char *out, size_t cap)
{
    return cs_web_form_get(body, strlen(body), name, out, cap);
}

static void test_decodes(void **state)
{
    char out[64];
    assert_int_equal(get("a=1&token=cst_x%2By+z&b=", "token", out, sizeof out), 0);
    assert_string_equal(out, "cst_x+y z");
    assert_int_equal(get("a=1&token=cst_x&b=", "b", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(get("next=%2Fa%2Fact_1", "next", out, sizeof out), 0);
    assert_string_equal(out, "/a/act_1");
    /* The first of repeated fields wins; a name is matched whole, not as a prefix. */
    assert_int_equal(get("x=1&x=2", "x", out, sizeof out), 0);
    assert_string_equal(out, "1");
    assert_int_equal(get("tokenx=1", "token", out, sizeof out), CS_ENOTFOUND);
    assert_int_equal(get("token", "token", out, sizeof out), CS_ENOTFOUND);
    assert_int_equal(get("", "token", out, sizeof out), CS_ENOTFOUND);
    assert_int_equal(cs_web_form_get(NULL, 0, "token", out, sizeof out), CS_ENOTFOUND);
}

static void test_refuses_bad_input(void **state)
{
    char out[8];
    assert_int_equal(get("r=%zz", "r", out, sizeof out), CS_EINVAL);
    assert_int_equal(get("r=%4", "r", out, sizeof out), CS_EINVAL);
    assert_int_equal(get("r=a%00b", "r", out, sizeof out), CS_EINVAL);
    assert_string_equal(out, "");
    /* Not UTF-8 (a stray byte, a cut sequence, an encoded surrogate): refused, since
     * the value would be recorded as JSON text. UTF-8 itself decodes. */
    assert_int_equal(get("r=a%FFb", "r", out, sizeof out), CS_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(get("r=ok%C3", "r", out, sizeof out), CS_EINVAL);
    assert_int_equal(get("r=%ED%A0%80", "r", out, sizeof out), CS_EINVAL);
    assert_int_equal(get("r=caf%C3%A9", "r", out, sizeof out), 0);
    assert_string_equal(out, "caf\xc3\xa9");
    /* Seven bytes and the NUL fit in eight; eight do not. */
    assert_int_equal(get("r=1234567", "r", out, sizeof out), 0);
    assert_string_equal(out, "1234567");
    assert_int_equal(get("r=12345678", "r", out, sizeof out), CS_ETOOBIG);
    assert_int_equal(get("r=%41%41%41%41%41%41%41%41", "r", out, sizeof out), CS_ETOOBIG);
    assert_string_equal(out, "");
}

static void test_body_is_not_nul_terminated(void **state)
{
    /* The decoder reads only `len` bytes: what follows in memory is not the body. */
    const char body[] = "r=abcdef";
    char out[16];
    assert_int_equal(cs_web_form_get(body, 4, "r", out, sizeof out), 0);
    assert_string_equal(out, "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes),
        cmocka_unit_test(test_refuses_bad_input),
        cmocka_unit_test(test_body_is_not_nul_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

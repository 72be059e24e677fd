/* test_sha256.c - util/sha256.c: the FIPS 180-2 examples, a split input hashing as the
 * whole, agreement with libsodium's implementation over many lengths, and threads each
 * with their own context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/sha256.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

static void hex(const unsigned char *h, char out[65])
{
    sodium_bin2hex(out, 65, h, CS_SHA256_LEN);
}

static void known_answers(void **state)
{
    (void)state;
    unsigned char h[CS_SHA256_LEN];
    char x[65];
    cs_sha256(NULL, 0, NULL, 0, h);
    hex(h, x);
    assert_string_equal(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cs_sha256("abc", 3, NULL, 0, h);
    hex(h, x);
    assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cs_sha256(two, strlen(two), NULL, 0, h);
    hex(h, x);
    assert_string_equal(x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* Every split of inputs of every length up to 300 bytes hashes as the whole does, and
 * as libsodium's SHA-256 does. */
static void splits_and_lengths_agree_with_libsodium(void **state)
{
    (void)state;
    unsigned char in[300];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof in; n++) {
        unsigned char want[CS_SHA256_LEN], got[CS_SHA256_LEN];
        crypto_hash_sha256(want, in, n);
        for (size_t k = 0; k <= n; k += (n < 70 ? 1 : 37)) {
            cs_sha256(k ? in : NULL, k, n - k ? in + k : NULL, n - k, got);
            assert_memory_equal(got, want, CS_SHA256_LEN);
        }
    }
}

static void *hash_many(void *arg)
{
    unsigned char *ok = arg, in[64] = {0}, want[CS_SHA256_LEN], got[CS_SHA256_LEN];
    *ok = 1;
    for (int i = 0; i < 2000; i++) {
        in[i % 64] = (unsigned char)i;
        crypto_hash_sha256(want, in, sizeof in);
        cs_sha256(in, 10, in + 10, sizeof in - 10, got);
        if (memcmp(got, want, sizeof got) != 0) *ok = 0;
    }
    return NULL;
}

static void threads_have_their_own_context(void **state)
{
    (void)state;
    pthread_t t[4];
    unsigned char ok[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hash_many, &ok[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(ok[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answers),
        cmocka_unit_test(splits_and_lengths_agree_with_libsodium),
        cmocka_unit_test(threads_have_their_own_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

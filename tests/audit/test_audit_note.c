/* test_audit_note.c - C2SP signed notes, verifier/private key text and tlog-checkpoint
 * bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit_checkpoint.h"
#include "audit/audit_note.h"

#include <stdio.h>
#include <string.h>

/* The example key and note of the signed-note format's reference implementation
 * (golang.org/x/mod/sumdb/note), a third-party known answer. */
#define PN_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define PN_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define PN_TEXT                                                                                    \
    "If you think cryptography is the answer to your problem,\n"                                   \
    "then you don't know what your problem is.\n"
#define PN_SIG                                                                                     \
    "\xe2\x80\x94 PeterNeumann "                                                                   \
    "x08go/ZJkuBS9UG/"                                                                             \
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

static void test_known_answer(void **state)
{
    cs_audit_signer s;
    cs_err err;
    assert_int_equal(cs_audit_signer_parse(&s, PN_SKEY, strlen(PN_SKEY), &err), 0);
    assert_int_equal(s.key_id, 0xc74f20a3);
    cs_buf b;
    cs_buf_init(&b, 4096);
    assert_int_equal(cs_audit_signer_vkey(&s, &b), 0);
    assert_string_equal(b.data, PN_VKEY);
    cs_buf_reset(&b);
    assert_int_equal(cs_audit_signer_skey(&s, &b), 0);
    assert_string_equal(b.data, PN_SKEY);
    cs_buf_reset(&b);
    assert_int_equal(cs_audit_note_sign(&s, PN_TEXT, strlen(PN_TEXT), &b, &err), 0);
    assert_string_equal(b.data, PN_TEXT "\n" PN_SIG);

    cs_audit_verifier v;
    cs_audit_note note;
    assert_int_equal(cs_audit_verifier_parse(&v, PN_VKEY, strlen(PN_VKEY), &err), 0);
    assert_int_equal(cs_audit_note_open(b.data, b.len, &v, 1, &note, &err), 0);
    assert_string_equal(note.text, PN_TEXT);
    assert_int_equal(note.verified, 1);
    cs_audit_note_free(&note);
    cs_audit_signer_wipe(&s);
    cs_buf_free(&b);
}

static void test_open_rules(void **state)
{
    cs_audit_verifier v, other;
    cs_audit_signer s2;
    cs_audit_note note;
    cs_err err;
    assert_int_equal(cs_audit_verifier_parse(&v, PN_VKEY, strlen(PN_VKEY), &err), 0);
    assert_int_equal(cs_audit_signer_generate(&s2, "other.example/log", &err), 0);
    cs_audit_signer_verifier(&s2, &other);
    const char *good = PN_TEXT "\n" PN_SIG;

    /* Unknown keys are ignored, but a note needs one known signature. */
    assert_int_equal(cs_audit_note_open(good, strlen(good), &other, 1, &note, &err), CS_EAUTH);
    cs_audit_verifier both[2] = {other, v};
    assert_int_equal(cs_audit_note_open(good, strlen(good), both, 2, &note, &err), 0);
    assert_int_equal(note.verified, 1);
    cs_audit_note_free(&note);

    /* Adding a second signature by an unknown key keeps it valid. */
    cs_buf b;
    cs_buf_init(&b, 8192);
    assert_int_equal(cs_audit_note_sign(&s2, PN_TEXT, strlen(PN_TEXT), &b, &err), 0);
    char two[4096];
    snprintf(two, sizeof two, "%s%s", b.data, PN_SIG);
    assert_int_equal(cs_audit_note_open(two, strlen(two), &v, 1, &note, &err), 0);
    assert_int_equal(note.verified, 1);
    assert_int_equal(note.unverified, 1);
    cs_audit_note_free(&note);

    /* Any change to the text breaks the known signature. */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s", good);
    bad[3] ^= 1;
    assert_int_equal(cs_audit_note_open(bad, strlen(bad), &v, 1, &note, &err), CS_EAUTH);
    /* So does a change to the signature. */
    snprintf(bad, sizeof bad, "%s", good);
    bad[strlen(bad) - 10] = bad[strlen(bad) - 10] == 'A' ? 'B' : 'A';
    assert_int_equal(cs_audit_note_open(bad, strlen(bad), &v, 1, &note, &err), CS_EAUTH);

    static const char *malformed[] = {
        PN_TEXT,      /* no signature block */
        PN_TEXT "\n", /* empty signature block */
        PN_TEXT "\n"
                "- PeterNeumann AAAA\n", /* not an em dash */
        PN_TEXT "\n"
                "\xe2\x80\x94 PeterNeumann x08go\n", /* bad base64 */
        PN_TEXT "\n"
                "\xe2\x80\x94 PeterNeumann AAAA\n", /* too short */
        PN_TEXT
        "\n"
        "\xe2\x80\x94 PeterNeumann "
        "x08go/ZJkuBS9UG/"
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=", /* no final
                                                                                           newline
                                                                                         */
        "If you\tthink\n\n" PN_SIG, /* control character */
        "bad \xff utf8\n\n" PN_SIG, /* invalid UTF-8 */
    };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        int rc = cs_audit_note_open(malformed[i], strlen(malformed[i]), &v, 1, &note, &err);
        if (rc != CS_EPARSE) fail_msg("malformed note %zu gave %d", i, rc);
    }
    cs_audit_signer_wipe(&s2);
    cs_buf_free(&b);
}

static void test_keys(void **state)
{
    cs_audit_verifier v;
    cs_audit_signer s;
    cs_err err;
    static const char *bad_vkeys[] = {
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", /* wrong id */
        "PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", /* wrong type */
        "PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3",
        "",
    };
    for (size_t i = 0; i < sizeof bad_vkeys / sizeof *bad_vkeys; i++)
        if (cs_audit_verifier_parse(&v, bad_vkeys[i], strlen(bad_vkeys[i]), &err) == 0)
            fail_msg("accepted bad vkey %zu", i);
    assert_int_equal(cs_audit_signer_generate(&s, "has space", &err), CS_EINVAL);
    assert_int_equal(cs_audit_signer_generate(&s, "has+plus", &err), CS_EINVAL);
    assert_int_equal(cs_audit_signer_generate(&s, "nbsp\xc2\xa0", &err), CS_EINVAL);
    assert_int_equal(cs_audit_signer_generate(&s, "", &err), CS_EINVAL);
    assert_int_equal(cs_audit_signer_generate(&s, "countersign.example/d\xc3\xa9mo", &err), 0);
    const char *wrong =
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    assert_int_equal(cs_audit_signer_parse(&s, wrong, strlen(wrong), &err), CS_EINVAL);
    const char *nokey =
        "PUBLIC+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    assert_int_equal(cs_audit_signer_parse(&s, nokey, strlen(nokey), &err), CS_EPARSE);
    /* Text that is not a valid note body cannot be signed. */
    assert_int_equal(cs_audit_signer_generate(&s, "k", &err), 0);
    cs_buf b;
    cs_buf_init(&b, 4096);
    assert_int_equal(cs_audit_note_sign(&s, "no newline", 10, &b, &err), CS_EINVAL);
    assert_int_equal(cs_audit_note_sign(&s, "tab\there\n", 9, &b, &err), CS_EINVAL);
    cs_buf_free(&b);
    cs_audit_signer_wipe(&s);
}

static void test_checkpoint(void **state)
{
    cs_audit_signer s;
    cs_audit_verifier v;
    cs_err err;
    assert_int_equal(cs_audit_signer_generate(&s, "countersign.example/demo", &err), 0);
    cs_audit_signer_verifier(&s, &v);
    cs_audit_checkpoint cp = {.origin = "countersign.example/demo", .size = 1234};
    for (int i = 0; i < 32; i++)
        cp.root[i] = (uint8_t)i;
    strcpy(cp.extensions, "ext one\nanother\n");
    cs_buf b;
    cs_buf_init(&b, 8192);
    assert_int_equal(cs_audit_checkpoint_format(&cp, &b), 0);
    assert_string_equal(b.data, "countersign.example/demo\n1234\n"
                                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next one\nanother\n");
    cs_buf_reset(&b);
    assert_int_equal(cs_audit_checkpoint_sign(&s, &cp, &b, &err), 0);
    cs_audit_checkpoint back;
    assert_int_equal(cs_audit_checkpoint_open(b.data, b.len, &v, &back, &err), 0);
    assert_string_equal(back.origin, cp.origin);
    assert_true(back.size == 1234);
    assert_memory_equal(back.root, cp.root, 32);
    assert_string_equal(back.extensions, cp.extensions);

    /* The origin must be the key's name. */
    cs_audit_signer s2;
    cs_audit_verifier v2;
    assert_int_equal(cs_audit_signer_generate(&s2, "someone.else/log", &err), 0);
    cs_audit_signer_verifier(&s2, &v2);
    cs_buf_reset(&b);
    assert_int_equal(cs_audit_checkpoint_sign(&s2, &cp, &b, &err), 0);
    assert_int_equal(cs_audit_checkpoint_open(b.data, b.len, &v2, &back, &err), CS_EAUTH);

    static const char *bad[] = {
        "",
        "\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n05\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n-5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
        "o\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", /* non-canonical */
        "o\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "o\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",
        "o\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next",
        "o\n5 \nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cs_audit_checkpoint_parse(bad[i], strlen(bad[i]), &back, &err) != CS_EPARSE)
            fail_msg("accepted bad checkpoint %zu", i);
    const char *max = "o\n18446744073709551615\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    assert_int_equal(cs_audit_checkpoint_parse(max, strlen(max), &back, &err), 0);
    assert_true(back.size == UINT64_MAX);
    cs_buf_free(&b);
    cs_audit_signer_wipe(&s);
    cs_audit_signer_wipe(&s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_open_rules),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

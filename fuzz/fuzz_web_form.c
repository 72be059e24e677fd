/* fuzz_web_form.c - libFuzzer target for the form-urlencoded decoder behind the
 * sign-in and approval page forms (src/web/web_form.c). The first input byte picks
 * the output cap, the rest is the body; every field the web layer reads is asked
 * for, and each answer must be NUL-terminated inside its cap. */
#include "web/web_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"token", "next", "csrf", "decision", "reason", ""};
    if (size == 0) return 0;
    size_t cap = 1 + data[0] % 64;
    char out[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        memset(out, 'X', sizeof out);
        int rc = cs_web_form_get((const char *)data + 1, size - 1, names[i], out, cap);
        if (rc == 0 && strnlen(out, cap) >= cap) abort();
        if (rc != 0 && rc != CS_ENOTFOUND && rc != CS_ETOOBIG && rc != CS_EINVAL) abort();
    }
    return 0;
}

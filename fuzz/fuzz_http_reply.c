/* fuzz_http_reply.c - HTTP/1.1 response framing (cs_http_reply_parse) on arbitrary
 * bytes: must never crash or read past the input, and must agree with itself when
 * the same bytes arrive in two pieces: a prefix is never complete with a different
 * status or length than the whole, and what is complete stays complete. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/http_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that ASan sees any read past the end. */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    cs_buf whole, part;
    cs_buf_init(&whole, 1 << 16);
    cs_buf_init(&part, 1 << 16);
    cs_http_reply a = {0}, b = {0};
    int ra = cs_http_reply_parse(text, size, 0, &a, &whole);
    if (ra == 1 && (a.used > size || a.status < 100 || a.status > 999)) abort();
    for (size_t cut = 0; cut < size; cut += 1 + size / 7) {
        cs_buf_reset(&part);
        int rb = cs_http_reply_parse(text, cut, 0, &b, &part);
        if (rb == 1 && ra != 1) abort(); /* complete on a prefix, not on the whole */
        if (rb == 1 && (b.status != a.status || b.used != a.used || part.len != whole.len ||
                        memcmp(part.data, whole.data, part.len) != 0))
            abort();
    }
    cs_buf_reset(&part);
    (void)cs_http_reply_parse(text, size, 1, &b, &part); /* at eof */
    cs_buf_free(&whole);
    cs_buf_free(&part);
    free(text);
    return 0;
}

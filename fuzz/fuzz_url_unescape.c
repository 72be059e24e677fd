/* fuzz_url_unescape.c - libFuzzer target for the decoder of the URL's path and query
 * (src/http/server.c, cs_http_unescape). The input is the text as libmicrohttpd hands
 * it over, NUL-terminated; the result must be no longer than it, end at the length
 * returned, and report a NUL exactly when one is inside that length. */
#include "http/http_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t in = strlen(s);
    int nul = -1;
    size_t n = cs_http_unescape(s, &nul);
    if (n > in || s[n] != '\0') abort();
    if (nul != (memchr(s, '\0', n) != NULL)) abort();
    free(s);
    return 0;
}

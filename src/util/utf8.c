/* utf8.c - checks on UTF-8 text (utf8.h). */
#include "util/utf8.h"

#include <jansson.h>
#include <string.h>

int cs_utf8_valid(const char *s, size_t n)
{
    if (memchr(s, '\0', n)) return 0; /* jansson would take it, the C strings downstream not */
    json_t *j = json_stringn(s, n);
    json_decref(j);
    return j != NULL;
}

int cs_utf8_prefix(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return (int)n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

/* fuzz_jcs.c - RFC 8785 canonicalisation of any JSON jansson accepts: the output
 * must parse back to an equal value and be a fixed point of canonicalisation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/jcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v =
        json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (v == NULL) return 0;
    char *c1 = cs_jcs_dumps(v);
    if (c1) {
        /* As reals: ES formatting turns 1e20 into 21 digits, beyond json_int_t. */
        json_t *w = json_loads(c1, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
        if (w == NULL) abort();
        char *c2 = cs_jcs_dumps(w);
        if (c2 == NULL || strcmp(c1, c2) != 0) abort();
        free(c2);
        json_decref(w);
    }
    free(c1);
    json_decref(v);
    return 0;
}

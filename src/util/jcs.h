/* jcs.h - RFC 8785 JSON Canonicalization Scheme over jansson values.
 *
 * Used for args_hash (SHA-256 of the canonical decision envelope) and for audit
 * entry details, whose canonical bytes become Merkle leaves. */
#ifndef CS_UTIL_JCS_H
#define CS_UTIL_JCS_H

#include <jansson.h>

#include "util/buf.h"

/* Appends the canonical form of v to out. Fails with CS_EINVAL on values RFC 8785
 * cannot represent (NaN, infinities) and CS_ETOOBIG when out's cap is reached. */
int cs_jcs_write(const json_t *v, cs_buf *out);
/* Returns a freshly allocated NUL-terminated canonical string, or NULL on error. */
char *cs_jcs_dumps(const json_t *v);
/* A string of n bytes of valid UTF-8 as a canonical JSON string, quotes included;
 * for writers that lay out objects whose keys they already know in order. */
int cs_jcs_write_string(const char *s, size_t n, cs_buf *out);
/* Compact JSON keeping the objects' member order (not canonical); numbers and strings
 * as above. Faster than json_dumps for the stored action documents. */
int cs_json_write(const json_t *v, cs_buf *out);
char *cs_json_dumps(const json_t *v);

#endif

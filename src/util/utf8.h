/* utf8.h - checks on UTF-8 text. Everything countersign records is JSON, which carries
 * only UTF-8: input that is not is refused where it enters, never dropped on the way
 * (jansson returns NULL for such a string, and a value left out is one that reviewers
 * and the audit log never see). */
#ifndef CS_UTIL_UTF8_H
#define CS_UTIL_UTF8_H

#include <stddef.h>

/* 1 when s[0..n) is UTF-8 that JSON can hold (jansson's check: no overlong forms,
 * surrogates or code points past U+10FFFF; NUL bytes are refused too). */
int cs_utf8_valid(const char *s, size_t n);
/* The length of the longest prefix of s, at most max bytes, that ends on a UTF-8
 * character boundary (for "%.*s": a cut in the middle of a character would make
 * the JSON text invalid). */
int cs_utf8_prefix(const char *s, size_t max);

#endif

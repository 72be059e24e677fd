/* error.h - the one error convention of countersign.
 *
 * Functions return 0 on success or a negative CS_E* code. When a caller wants the
 * human detail it passes a cs_err, which the callee fills with cs_err_set(). */
#ifndef CS_UTIL_ERROR_H
#define CS_UTIL_ERROR_H

#include <stddef.h>

enum {
    CS_OK = 0,
    CS_ENOMEM = -1,     /* never returned: allocation failure aborts (see alloc.h) */
    CS_EINVAL = -2,     /* bad argument or bad input from a peer */
    CS_EPARSE = -3,     /* syntax error in a document */
    CS_EIO = -4,        /* file or socket error */
    CS_ENOTFOUND = -5,  /* no such object */
    CS_ETOOBIG = -6,    /* input over a limit */
    CS_ECONFLICT = -7,  /* state does not allow the operation */
    CS_EPERM = -8,      /* not allowed */
    CS_EAUTH = -9,      /* unauthenticated */
    CS_EEVAL = -10,     /* policy evaluation error */
    CS_EINTERNAL = -11, /* bug or broken invariant */
    CS_EDB = -12,       /* storage backend error */
};

typedef struct cs_err {
    int code;
    char msg[512];
} cs_err;

/* Records code and a printf-style message in err (when err is not NULL) and returns code. */
int cs_err_set(cs_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cs_err_clear(cs_err *err);
const char *cs_strerror(int code);

#endif

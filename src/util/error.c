/* error.c - error codes and the cs_err detail buffer. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

int cs_err_set(cs_err *err, int code, const char *fmt, ...)
{
    if (err == NULL) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

void cs_err_clear(cs_err *err)
{
    if (err == NULL) return;
    err->code = 0;
    err->msg[0] = '\0';
}

const char *cs_strerror(int code)
{
    switch (code) {
    case CS_OK: return "ok";
    case CS_ENOMEM: return "out of memory";
    case CS_EINVAL: return "invalid input";
    case CS_EPARSE: return "parse error";
    case CS_EIO: return "i/o error";
    case CS_ENOTFOUND: return "not found";
    case CS_ETOOBIG: return "too big";
    case CS_ECONFLICT: return "conflict";
    case CS_EPERM: return "not permitted";
    case CS_EAUTH: return "unauthenticated";
    case CS_EEVAL: return "evaluation error";
    case CS_EINTERNAL: return "internal error";
    case CS_EDB: return "storage error";
    }
    return "unknown error";
}

/* web_form.c - application/x-www-form-urlencoded bodies (the HTML forms of the
 * sign-in and approval pages), decoded with hard caps. */
#include "web/web_int.h"

#include "util/utf8.h"

#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes [p, end) into out; CS_ETOOBIG when it does not fit, CS_EINVAL on a
 * broken escape, an embedded NUL or bytes that are not UTF-8 (what the forms send is
 * recorded as JSON text, which cannot hold them). */
static int decode(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    while (p < end) {
        int c = (unsigned char)*p++;
        if (c == '+')
            c = ' ';
        else if (c == '%') {
            if (end - p < 2 || hexval(p[0]) < 0 || hexval(p[1]) < 0) return CS_EINVAL;
            c = hexval(p[0]) * 16 + hexval(p[1]);
            p += 2;
            if (c == 0) return CS_EINVAL;
        }
        if (n + 1 >= cap) return CS_ETOOBIG;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return cs_utf8_valid(out, n) ? 0 : CS_EINVAL;
}

int cs_web_form_get(const char *body, size_t len, const char *name, char *out, size_t cap)
{
    const char *p = body ? body : "", *end = p + (body ? len : 0);
    size_t nl = strlen(name);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && (size_t)(eq - p) == nl && !memcmp(p, name, nl)) {
            int rc = decode(eq + 1, stop, out, cap);
            if (rc != 0) out[0] = '\0'; /* never a half-decoded value */
            return rc;
        }
        p = stop + 1;
    }
    return CS_ENOTFOUND;
}

int cs_web_is_form(cs_req *r)
{
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *want = "application/x-www-form-urlencoded";
    return ct && !strncasecmp(ct, want, strlen(want));
}

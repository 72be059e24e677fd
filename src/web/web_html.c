/* web_html.c - server-rendered HTML (sign-in and approval pages): escaping,
 * the page frame, security headers, and refusals in plain words. */
#include "web/web_int.h"

#include <string.h>

void cs_web_esc(cs_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            cs_buf_puts(b, "&amp;");
            break;
        case '<':
            cs_buf_puts(b, "&lt;");
            break;
        case '>':
            cs_buf_puts(b, "&gt;");
            break;
        case '"':
            cs_buf_puts(b, "&quot;");
            break;
        case '\'':
            cs_buf_puts(b, "&#39;");
            break;
        default:
            cs_buf_putc(b, *s);
        }
    }
}

void cs_web_html_begin(cs_buf *b, const char *title)
{
    cs_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<link rel=\"stylesheet\" href=\"/assets/app.css\"><link rel=\"icon\" "
                   "href=\"/assets/favicon.svg\"><title>");
    cs_web_esc(b, title);
    cs_buf_puts(b,
                " · countersign</title></head><body>"
                "<header class=\"top\"><a class=\"brand\" href=\"/\">countersign</a></header>\n");
}

void cs_web_html_end(cs_buf *b)
{
    cs_buf_puts(b, "\n</body></html>\n");
}

/* No framing, no plugins, forms post only here, and no referrer (with its action
 * ids) to other sites. "same-origin" rather than "no-referrer": with the latter
 * browsers send "Origin: null" on our own form posts, which would fail the
 * same-origin check. */
void cs_web_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(
        resp, "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
}

void cs_web_send_html(cs_req *r, int status, cs_buf *b)
{
    size_t len = b->len;
    char *text = cs_buf_steal(b);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    cs_web_headers(resp);
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
}

void cs_web_redirect(cs_req *r, const char *location, const char *set_cookie)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (set_cookie) MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, set_cookie);
    cs_web_headers(resp);
    MHD_queue_response(r->conn, 303, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
}

const char *cs_web_refusal_text(const char *type)
{
    static const struct {
        const char *type, *text;
    } map[] = {
        {"self-approval", "You requested this action (or it was requested on your behalf), so "
                          "someone else has to decide it."},
        {"owner-approval",
         "This action was requested by an agent you own, so someone else has to decide it."},
        {"agent-cannot-approve", "Agents can never approve or deny actions; only people can."},
        {"not-in-approver-group", "You are not in any of the groups that may decide this action."},
        {"duplicate-vote", "You have already voted on this action; each person counts once."},
        {"not-pending",
         "This action has already been decided (or expired), so it can no longer be voted on."},
        {"not-found", "There is no action with this id."},
        {"csrf-failed", "This form did not come from your current session; nothing was decided. "
                        "Reload the page and try again."},
        {"reason-required", "A denial needs a reason, so the requester knows what to change."},
    };
    for (size_t i = 0; type && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].type, type)) return map[i].text;
    return "The gateway refused this; nothing was decided.";
}

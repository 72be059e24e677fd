/* web_signin.c - signing in with a personal token, signing out, and what the
 * dashboard's script learns about its session (GET /web/session).
 *
 * The token is exchanged for a session once and then forgotten: the session
 * records the identity only. An identity provider would end in the same place,
 * cs_web_session_create() with the identity it vouches for. */
#include "web/web_int.h"

#include "util/alloc.h"
#include "util/log.h"

#include <string.h>

#define NEXT_MAX 512
#define TOKEN_MAX 300

/* Only local paths: "/x", never "//host" or "/\host", which browsers treat as
 * another site. Anything else becomes "/". */
static void safe_next(const char *in, char *out, size_t cap)
{
    int ok = in && in[0] == '/' && in[1] != '/' && in[1] != '\\' && strlen(in) < cap;
    for (const char *p = in; ok && *p; p++)
        ok = (unsigned char)*p > 0x20 && *p != 0x7f && *p != '\\';
    snprintf(out, cap, "%s", ok ? in : "/");
}

static void signin_page(cs_req *r, int status, const char *next, const char *error)
{
    cs_buf b;
    cs_buf_init(&b, 1 << 16);
    cs_web_html_begin(&b, "Sign in");
    cs_buf_puts(&b, "<main class=\"narrow\"><h1>Sign in</h1>");
    if (error) {
        cs_buf_puts(&b, "<p class=\"error\" role=\"alert\">");
        cs_web_esc(&b, error);
        cs_buf_puts(&b, "</p>");
    }
    cs_buf_puts(&b, "<form method=\"post\" action=\"/web/login\" class=\"card\">"
                    "<label for=\"token\">Personal token</label>"
                    "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" "
                    "required autofocus>"
                    "<p class=\"hint\">The token you got from <code>countersign token create "
                    "--user NAME</code>. "
                    "It is exchanged for a session cookie and not kept.</p>"
                    "<input type=\"hidden\" name=\"next\" value=\"");
    cs_web_esc(&b, next);
    cs_buf_puts(&b, "\"><button type=\"submit\" class=\"primary\">Sign in</button></form></main>");
    cs_web_html_end(&b);
    cs_web_send_html(r, status, &b);
}

static char *cookie_header(cs_web *w, const char *sid, long max_age)
{
    return cs_sprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s", CS_WEB_COOKIE, sid,
                      max_age, w->secure_cookie ? "; Secure" : "");
}

static void login(cs_req *r)
{
    char token[TOKEN_MAX] = "", raw_next[NEXT_MAX] = "", next[NEXT_MAX];
    const char *body = r->body.data;
    if (!cs_web_is_form(r))
        return signin_page(r, 415, "/", "Send the sign-in form as a browser does.");
    if (r->body.len > CS_WEB_FORM_MAX)
        return signin_page(r, 413, "/", "The sign-in form is larger than 16 KiB.");
    cs_web_form_get(body, r->body.len, "next", raw_next, sizeof raw_next);
    safe_next(raw_next, next, sizeof next);
    if (!cs_web_same_origin(r))
        return signin_page(r, 403, next, "This sign-in did not come from this site.");
    int rc = cs_web_form_get(body, r->body.len, "token", token, sizeof token);
    json_t *who = rc == 0 ? cs_gateway_authenticate(r->http->gw, token) : NULL;
    memset(token, 0, sizeof token);
    if (who == NULL)
        return signin_page(r, 401, next, "That token was not accepted. Check it and try again.");
    const char *kind = json_string_value(json_object_get(who, "kind"));
    if (kind == NULL || strcmp(kind, "user") != 0) {
        json_decref(who);
        return signin_page(r, 403, next,
                           "Agent tokens cannot sign in: only people use the dashboard.");
    }
    char sid[CS_WEB_SID_HEX + 1];
    rc = cs_web_session_create(r->http->web, who, 1, sid);
    cs_info("web sign-in: %s", json_string_value(json_object_get(who, "name")));
    json_decref(who);
    if (rc != 0) return signin_page(r, 503, next, "Too many open sessions; try again later.");
    char *cookie = cookie_header(r->http->web, sid, 12 * 60 * 60);
    memset(sid, 0, sizeof sid);
    cs_web_redirect(r, next, cookie);
    free(cookie);
}

/* Signing out needs the CSRF token too: otherwise any site could sign you out. */
static void logout(cs_req *r)
{
    char csrf[CS_WEB_SID_HEX + 1], given[CS_WEB_SID_HEX + 2] = "";
    const char *sid = cs_web_cookie(r);
    json_t *who = sid ? cs_web_session_lookup(r->http->web, sid, csrf) : NULL;
    if (who == NULL) return cs_web_redirect(r, "/web/signin", NULL);
    json_decref(who);
    const char *hdr = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
    if (hdr)
        snprintf(given, sizeof given, "%s", hdr);
    else if (cs_web_is_form(r) && r->body.len <= CS_WEB_FORM_MAX)
        cs_web_form_get(r->body.data, r->body.len, "csrf", given, sizeof given);
    if (!cs_web_csrf_ok(given, csrf) || !cs_web_same_origin(r)) {
        cs_reply_problem(&r->reply, 403, "csrf-failed", cs_web_refusal_text("csrf-failed"));
        return;
    }
    cs_web_session_delete(r->http->web, sid);
    char *cookie = cookie_header(r->http->web, "", 0);
    cs_web_redirect(r, "/web/signin", cookie);
    free(cookie);
}

/* What the dashboard's script may know: who is signed in and the CSRF token to
 * send back. Readable only by pages of this origin (no CORS headers anywhere). */
static void session_info(cs_req *r)
{
    char csrf[CS_WEB_SID_HEX + 1];
    const char *sid = cs_web_cookie(r);
    json_t *who = sid ? cs_web_session_lookup(r->http->web, sid, csrf) : NULL;
    if (who == NULL) {
        cs_reply_problem(&r->reply, 401, "unauthenticated", "sign in at /web/signin");
        return;
    }
    r->reply = (cs_reply){.status = 200, .body = json_pack("{s:o,s:s}", "who", who, "csrf", csrf)};
}

void cs_web_signin(cs_req *r, const char *path)
{
    int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (!strcmp(path, "signin") && get) {
        char next[NEXT_MAX];
        safe_next(MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "next"), next,
                  sizeof next);
        return signin_page(r, 200, next, NULL);
    }
    if (!strcmp(path, "login") && !strcmp(r->method, "POST")) return login(r);
    if (!strcmp(path, "logout") && !strcmp(r->method, "POST")) return logout(r);
    if (!strcmp(path, "session") && get) return session_info(r);
    cs_reply_problem(&r->reply, 404, "not-found", "no such resource");
}

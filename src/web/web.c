/* web.c - the web layer's entry points: which paths are the dashboard's, and
 * how a session cookie authenticates a request to the JSON API. */
#include "web/web_int.h"

#include "util/alloc.h"

#include <string.h>

#define ID_MAX 64

cs_web *cs_web_new(cs_gateway *gw)
{
    cs_web *w = cs_calloc(1, sizeof *w);
    w->gw = gw;
    const char *pub = cs_gateway_config(gw)->public_url;
    w->secure_cookie = pub != NULL && strncmp(pub, "https://", 8) == 0;
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

void cs_web_free(cs_web *w)
{
    if (w == NULL) return;
    cs_web_sessions_free(w);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static int safe_method(const cs_req *r)
{
    return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
}

/* Requests made with a session say so in their source ("web:" instead of
 * "api:"), which the audit entry and the vote's channel record. */
static void mark_web_source(cs_req *r)
{
    if (!strncmp(r->addr, "api:", 4)) memcpy(r->addr, "web:", 4);
}

int cs_web_session_auth(cs_req *r)
{
    cs_web *w = r->http->web;
    const char *sid = cs_web_cookie(r);
    if (w == NULL || sid == NULL) return 0;
    char csrf[CS_WEB_SID_HEX + 1];
    json_t *who = cs_web_session_lookup(w, sid, csrf);
    if (who == NULL) return 0; /* stale cookie: the caller answers 401 */
    if (!safe_method(r)) {
        const char *given = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!cs_web_csrf_ok(given, csrf) || !cs_web_same_origin(r)) {
            json_decref(who);
            cs_reply_problem(
                &r->reply, 403, "csrf-failed",
                "this request did not carry the session's CSRF token; nothing was changed");
            return -1;
        }
    }
    r->who = who;
    mark_web_source(r);
    return 0;
}

/* /a/{id} with an id of safe characters only. */
static int approval_id(const char *url, char *id)
{
    const char *p = url + 3;
    size_t n = strlen(p);
    if (n == 0 || n > ID_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '-'))
            return 0;
    memcpy(id, p, n + 1);
    return 1;
}

static void not_found_page(cs_req *r)
{
    cs_buf b;
    cs_buf_init(&b, 1 << 16);
    cs_web_html_begin(&b, "Not found");
    cs_buf_puts(&b, "<main class=\"narrow\"><h1>Not found</h1><p>There is no page here. "
                    "<a href=\"/\">Open the dashboard</a>.</p></main>");
    cs_web_html_end(&b);
    cs_web_send_html(r, 404, &b);
}

/* The dashboard's files: GET only. */
static void assets(cs_req *r, const char *name)
{
    if (!safe_method(r)) {
        cs_reply_not_allowed(&r->reply, "GET, HEAD", "use GET");
        return;
    }
    if (strchr(name, '/') || cs_web_asset(r, name) != 0) not_found_page(r);
}

int cs_web_route(cs_req *r)
{
    const char *u = r->url;
    char id[ID_MAX + 1];
    if (!strcmp(u, "/") || !strcmp(u, "/index.html")) {
        assets(r, "index.html");
        return 1;
    }
    if (!strncmp(u, "/assets/", 8)) {
        assets(r, u + 8);
        return 1;
    }
    if (!strncmp(u, "/web/", 5)) {
        if (!strcmp(u, "/web/events"))
            cs_web_events(r);
        else
            cs_web_signin(r, u + 5);
        return 1;
    }
    if (!strncmp(u, "/a/", 3)) {
        if (!approval_id(u, id))
            not_found_page(r);
        else
            cs_web_approval(r, id);
        return 1;
    }
    return 0;
}

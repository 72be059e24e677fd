/* web_int.h - shared between the files of src/web/; not for other subsystems. */
#ifndef CS_WEB_INT_H
#define CS_WEB_INT_H

#include "http/http_int.h"
#include "web/web.h"

#include "util/buf.h"

#include <pthread.h>

#define CS_WEB_COOKIE "cs_session"
#define CS_WEB_SID_HEX 64 /* 32 random bytes */
#define CS_WEB_FORM_MAX (16 * 1024)

typedef struct cs_session cs_session;

struct cs_web {
    cs_gateway *gw;
    int secure_cookie; /* public_url is https: cookies get Secure */
    pthread_mutex_t lock;
    cs_session *sessions;
    long n_sessions;
};

/* web_session.c: the server-side session store. A session records who signed in
 * (the identity), never the token they signed in with, so another way of signing
 * in (an identity provider) only needs to call cs_web_session_create().
 * Sessions made from a token (from_token) re-read the identity from the gateway's
 * tokens on every request, so revoking the token ends the session; an identity
 * provider would bring its own refresh. */
int cs_web_session_create(cs_web *w, json_t *who, int from_token, char sid[CS_WEB_SID_HEX + 1]);
/* The identity (new reference) and CSRF token of a live session, or NULL. */
json_t *cs_web_session_lookup(cs_web *w, const char *sid, char csrf[CS_WEB_SID_HEX + 1]);
void cs_web_session_delete(cs_web *w, const char *sid);
void cs_web_sessions_free(cs_web *w);
/* The session cookie of the request, or NULL. */
const char *cs_web_cookie(struct cs_req *r);
/* 1 when `given` is the CSRF token (constant time). */
int cs_web_csrf_ok(const char *given, const char *csrf);
/* 1 when the request comes from this site (Origin / Sec-Fetch-Site, when sent). */
int cs_web_same_origin(struct cs_req *r);

/* web_signin.c: GET /web/signin, POST /web/login, POST /web/logout, GET /web/session. */
void cs_web_signin(struct cs_req *r, const char *path);

/* web_form.c: application/x-www-form-urlencoded bodies. Returns 0 and the decoded
 * value (NUL-terminated, at most cap-1 bytes, UTF-8), CS_ENOTFOUND, CS_ETOOBIG, or
 * CS_EINVAL (a broken escape, a NUL, not UTF-8; out is then empty). */
int cs_web_form_get(const char *body, size_t len, const char *name, char *out, size_t cap);
/* 1 when the request's body is form-urlencoded. */
int cs_web_is_form(struct cs_req *r);

/* web_html.c: server-rendered pages. */
void cs_web_html_begin(cs_buf *b, const char *title);
void cs_web_html_end(cs_buf *b);
void cs_web_esc(cs_buf *b, const char *s); /* HTML-escapes s (NULL: nothing) */
void cs_web_send_html(struct cs_req *r, int status, cs_buf *b);
void cs_web_redirect(struct cs_req *r, const char *location, const char *set_cookie);
/* Security headers every web response carries. */
void cs_web_headers(struct MHD_Response *resp);
/* A refusal's problem type in words a person understands. */
const char *cs_web_refusal_text(const char *type);

/* web_assets.c: files of web/ compiled into the binary. Returns 0, or
 * CS_ENOTFOUND when there is no such asset. */
int cs_web_asset(struct cs_req *r, const char *name);

/* web_approval.c: GET /a/{id} shows, POST /a/{id} decides. */
void cs_web_approval(struct cs_req *r, const char *id);

/* web_events.c: GET /web/events, a stream that says "something changed". */
void cs_web_events(struct cs_req *r);

#endif

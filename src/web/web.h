/* web.h - the web dashboard and the approval page /a/{id} (SPEC §4): sessions
 * with CSRF tokens, assets compiled into the binary, server-rendered approval
 * pages, and the live change stream the inbox listens to.
 *
 * The dashboard is a client of the same JSON API (/v1/...) as every other
 * channel: a session cookie stands in for the bearer token, and every request
 * that is not a GET or HEAD must carry the session's CSRF token. Votes go
 * through the gateway's ops, so the separation-of-duties rules are the same. */
#ifndef CS_WEB_WEB_H
#define CS_WEB_WEB_H

#include "gateway/gateway.h"

#include <jansson.h>

typedef struct cs_web cs_web;
struct cs_req;

cs_web *cs_web_new(cs_gateway *gw);
void cs_web_free(cs_web *w);

/* Answers the dashboard's own paths (/, /assets/..., /web/..., /a/...).
 * Returns 1 when the path was the web's (answered or suspended), 0 otherwise. */
int cs_web_route(struct cs_req *r);

/* For the API router: when the request carries a valid session cookie, sets
 * r->who to the session's identity. A cookie-authenticated request that changes
 * state without the session's CSRF token (or from a foreign Origin) gets a 403
 * problem in r->reply and -1. No cookie: 0 and r->who untouched. */
int cs_web_session_auth(struct cs_req *r);

#endif

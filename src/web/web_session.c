/* web_session.c - server-side sessions of the dashboard: a random session id in
 * an HttpOnly, SameSite=Strict cookie, an identity and a CSRF token behind it.
 *
 * Only the SHA-256 of a session id is kept, and lookups compare hashes in
 * constant time, so neither memory nor timing gives a session id away. Session
 * ids and CSRF tokens are never logged. */
#include "web/web_int.h"

#include "crypto/crypto.h"
#include "util/alloc.h"

#include <string.h>

#define IDLE_MS (60LL * 60 * 1000)          /* signed out after an hour of silence */
#define LIFETIME_MS (12LL * 60 * 60 * 1000) /* and after twelve hours in any case */
#define MAX_SESSIONS 10000

struct cs_session {
    char sid_hash[65];
    char csrf[CS_WEB_SID_HEX + 1];
    json_t *who;
    int from_token;
    long long created_ms, seen_ms;
    cs_session *next;
};

static void random_hex(char out[CS_WEB_SID_HEX + 1])
{
    char *id = cs_random_id("", CS_WEB_SID_HEX / 2);
    memcpy(out, id, CS_WEB_SID_HEX + 1);
    free(id);
}

static void session_free(cs_session *s)
{
    json_decref(s->who);
    memset(s->csrf, 0, sizeof s->csrf);
    free(s);
}

static int expired(const cs_session *s, long long now)
{
    return now - s->seen_ms > IDLE_MS || now - s->created_ms > LIFETIME_MS;
}

/* Drops expired sessions; the caller holds the lock. */
static void sweep(cs_web *w, long long now)
{
    cs_session **pp = &w->sessions;
    while (*pp) {
        cs_session *s = *pp;
        if (expired(s, now)) {
            *pp = s->next;
            session_free(s);
            w->n_sessions--;
        } else {
            pp = &s->next;
        }
    }
}

int cs_web_session_create(cs_web *w, json_t *who, int from_token, char sid[CS_WEB_SID_HEX + 1])
{
    long long now = cs_now_ms();
    cs_session *s = cs_calloc(1, sizeof *s);
    random_hex(sid);
    cs_sha256_hex(sid, CS_WEB_SID_HEX, s->sid_hash);
    random_hex(s->csrf);
    s->who = json_incref(who);
    s->from_token = from_token;
    s->created_ms = s->seen_ms = now;
    pthread_mutex_lock(&w->lock);
    sweep(w, now);
    if (w->n_sessions >= MAX_SESSIONS) {
        pthread_mutex_unlock(&w->lock);
        session_free(s);
        memset(sid, 0, CS_WEB_SID_HEX + 1);
        return CS_ETOOBIG;
    }
    s->next = w->sessions;
    w->sessions = s;
    w->n_sessions++;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

/* The session with this id; the caller holds the lock. Every entry is compared,
 * so the time taken does not depend on where (or whether) it matches. */
static cs_session *find(cs_web *w, const char *sid)
{
    if (sid == NULL || strlen(sid) != CS_WEB_SID_HEX) return NULL;
    char h[65];
    cs_sha256_hex(sid, CS_WEB_SID_HEX, h);
    cs_session *found = NULL;
    for (cs_session *s = w->sessions; s; s = s->next)
        if (cs_ct_equal(s->sid_hash, h, 64)) found = s;
    return found;
}

/* The session's identity as the gateway knows it now: a revoked token ends the
 * session, and changed groups count from the next request on. */
static json_t *current(cs_web *w, json_t *who)
{
    const char *name = json_string_value(json_object_get(who, "name"));
    json_t *now = name ? cs_gateway_find_user(w->gw, name) : NULL;
    json_decref(who);
    return now;
}

json_t *cs_web_session_lookup(cs_web *w, const char *sid, char csrf[CS_WEB_SID_HEX + 1])
{
    long long now = cs_now_ms();
    json_t *who = NULL;
    int refresh = 0;
    pthread_mutex_lock(&w->lock);
    cs_session *s = find(w, sid);
    if (s && !expired(s, now)) {
        s->seen_ms = now;
        who = json_incref(s->who);
        refresh = s->from_token;
        if (csrf) memcpy(csrf, s->csrf, CS_WEB_SID_HEX + 1);
    }
    pthread_mutex_unlock(&w->lock);
    if (who && refresh && (who = current(w, who)) == NULL) cs_web_session_delete(w, sid);
    return who;
}

void cs_web_session_delete(cs_web *w, const char *sid)
{
    pthread_mutex_lock(&w->lock);
    cs_session *s = find(w, sid);
    for (cs_session **pp = &w->sessions; s && *pp; pp = &(*pp)->next) {
        if (*pp != s) continue;
        *pp = s->next;
        session_free(s);
        w->n_sessions--;
        break;
    }
    pthread_mutex_unlock(&w->lock);
}

void cs_web_sessions_free(cs_web *w)
{
    while (w->sessions) {
        cs_session *s = w->sessions;
        w->sessions = s->next;
        session_free(s);
    }
    w->n_sessions = 0;
}

const char *cs_web_cookie(cs_req *r)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, CS_WEB_COOKIE);
}

int cs_web_csrf_ok(const char *given, const char *csrf)
{
    if (given == NULL || csrf == NULL || strlen(given) != CS_WEB_SID_HEX ||
        strlen(csrf) != CS_WEB_SID_HEX)
        return 0;
    return cs_ct_equal(given, csrf, CS_WEB_SID_HEX);
}

/* Browsers send Origin on every POST and Sec-Fetch-Site on every request; when
 * either is present it must name this site. Requests without them (curl) are
 * judged by the CSRF token alone. */
int cs_web_same_origin(cs_req *r)
{
    const char *site = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0) return 0;
    const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
    if (origin == NULL) return 1;
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (host == NULL) return 0;
    const char *p = strstr(origin, "://");
    return p != NULL && strcmp(p + 3, host) == 0;
}

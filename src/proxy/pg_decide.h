/* pg_decide.h - asynchronous calls from the PostgreSQL proxy to the gateway API
 * (SPEC §4: POST /v1/actions, GET /v1/actions/{id}?wait=S, cancel, outcome) on a
 * libcurl multi handle driven by the proxy's epoll loop. Nothing here blocks. */
#ifndef CS_PROXY_PG_DECIDE_H
#define CS_PROXY_PG_DECIDE_H

#include <jansson.h>

#include "proxy/pg_cache.h"
#include "util/error.h"

typedef struct cs_pg_decider cs_pg_decider;
typedef struct cs_pg_ask cs_pg_ask;

enum cs_pg_verdict_kind {
    CS_PG_V_ALLOWED, /* allowed, or approved after a hold */
    CS_PG_V_DENIED,  /* denied, expired or cancelled */
    CS_PG_V_PENDING, /* held: sent when the hold starts and after each long-poll round */
    CS_PG_V_FAILED   /* the gateway could not be asked: fail closed */
};

typedef struct cs_pg_verdict {
    int kind;
    const char *status; /* the gateway's status word, or "error" */
    const char *id;     /* action id ("" on failure) */
    const char *reason; /* policy explanation or transport error */
    const char *policy_version;
    const json_t *action; /* the whole action document (NULL on failure) */
} cs_pg_verdict;

/* Called on the loop thread; after a final verdict (not PENDING) the ask is freed
 * by the decider and must not be used again. */
typedef void (*cs_pg_verdict_fn)(void *ud, const cs_pg_verdict *v);

/* base_url is the gateway ($COUNTERSIGN_URL); epfd the loop's epoll instance. */
cs_pg_decider *cs_pg_decider_new(const char *base_url, int epfd);
void cs_pg_decider_free(cs_pg_decider *d);
/* Event on a socket the decider registered (epoll data.ptr == its watch). */
void cs_pg_decider_on_event(cs_pg_decider *d, void *watch, unsigned events);
/* Milliseconds until the decider needs cs_pg_decider_tick(), or -1. */
long cs_pg_decider_timeout_ms(cs_pg_decider *d);
void cs_pg_decider_tick(cs_pg_decider *d);
/* Number of HTTP transfers in flight (for a clean shutdown). */
int cs_pg_decider_busy(cs_pg_decider *d);

/* Submits an action request (body is borrowed) as the holder of token and follows
 * it until final. */
cs_pg_ask *cs_pg_ask_submit(cs_pg_decider *d, const char *token, const json_t *body,
                            cs_pg_verdict_fn fn, void *ud);
/* Stops following an ask: its callback is never called again. With cancel, a
 * pending action is cancelled in the gateway (now or when its id arrives). */
void cs_pg_ask_drop(cs_pg_ask *a, int cancel);

/* Fire-and-forget POST (outcome reports); failures are logged. */
void cs_pg_post(cs_pg_decider *d, const char *token, const char *path, const json_t *body);

/* Policy version probe: GET /readyz; fn gets the version (NULL on failure) and the
 * gateway's freeze and token epochs (0 from a gateway that does not report them). */
typedef void (*cs_pg_version_fn)(void *ud, const char *version, const cs_pg_epochs *epochs);
void cs_pg_probe_version(cs_pg_decider *d, cs_pg_version_fn fn, void *ud);

#endif

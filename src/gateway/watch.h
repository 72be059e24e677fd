/* watch.h - waiters on an action's status: long-polls and SSE streams.
 *
 * A watch is embedded in its owner (the HTTP request) and fires exactly once: on
 * the next change of its action or at its deadline, whichever comes first. Firing
 * removes it; cs_watch_cancel() tells the owner whether it removed the watch itself
 * (1) or someone fired it already (0). No thread waits: firing calls fn, which
 * resumes a suspended connection. */
#ifndef CS_GATEWAY_WATCH_H
#define CS_GATEWAY_WATCH_H

typedef struct cs_watch cs_watch;
typedef void (*cs_watch_fn)(cs_watch *w, int timed_out);

struct cs_watch {
    char id[80];
    long long deadline_ms; /* 0: no deadline */
    const void *doc;       /* set when fired by a change: the new state (borrowed, see notify) */
    cs_watch_fn fn;
    void *ctx;
    cs_watch *prev, *next;
    int linked;
};

typedef struct cs_watchers cs_watchers;

/* A watch with this id fires on a change of any action. */
#define CS_WATCH_ANY "*"

cs_watchers *cs_watchers_new(void);
void cs_watchers_free(cs_watchers *ws);
void cs_watch_add(cs_watchers *ws, cs_watch *w);
int cs_watch_cancel(cs_watchers *ws, cs_watch *w);
/* Fires the watches of id. `doc` (may be NULL) is handed to each watch in w->doc;
 * fn must take its own reference if it keeps it beyond the call. */
void cs_watch_notify(cs_watchers *ws, const char *id, const void *doc);
/* The same, with the document made by make(ctx) only when a watch of id itself waits
 * (under the watchers' lock); CS_WATCH_ANY watches then get NULL in w->doc. */
void cs_watch_notify_made(cs_watchers *ws, const char *id, const void *(*make)(void *ctx),
                          void *ctx);
void cs_watch_tick(cs_watchers *ws, long long now_ms);
/* Fires every watch (shutdown). */
void cs_watch_fire_all(cs_watchers *ws);
long cs_watch_count(cs_watchers *ws);
/* Counts notifications; a waiter compares it before and after registering. */
unsigned long cs_watch_generation(cs_watchers *ws);

#endif

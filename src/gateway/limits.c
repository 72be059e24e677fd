/* limits.c - automatic freeze (docs/freeze.md): per-agent counters over bucketed
 * sliding windows, kept in memory and counted on the writer thread as each request
 * of an agent is stored. A request that takes a count over its limit freezes the
 * agent at once, in the same transaction, with a reason naming the limit and the
 * figures. Counting costs a hash lookup and a few array slots per request. */
#include "gateway/gateway_int.h"

#include "util/alloc.h"

#include <stdio.h>
#include <string.h>

#define SLOTS 60    /* buckets per window: a window is accurate to 1/60 of its length */
#define BUCKETS 256 /* hash buckets of agents */

typedef struct window {
    long long slot_ms;
    long long epoch[SLOTS];
    long long count[SLOTS];
} window;

typedef struct agent_ctr {
    char *name;
    window rpm, denials;
    window *classes; /* one per limits->classes entry */
    size_t n_classes;
    struct agent_ctr *next;
} agent_ctr;

struct cs_limiter {
    pthread_mutex_t lock;
    agent_ctr *buckets[BUCKETS];
};

static void window_init(window *w, long long length_ms)
{
    memset(w, 0, sizeof *w);
    w->slot_ms = length_ms / SLOTS > 0 ? length_ms / SLOTS : 1;
    for (int i = 0; i < SLOTS; i++)
        w->epoch[i] = -1;
}

/* Adds n at now and returns the total over the window ending now. */
static long long window_add(window *w, long long now_ms, long long n)
{
    long long e = now_ms / w->slot_ms, sum = 0;
    int i = (int)(e % SLOTS);
    if (w->epoch[i] != e) {
        w->epoch[i] = e;
        w->count[i] = 0;
    }
    w->count[i] += n;
    for (int j = 0; j < SLOTS; j++)
        if (w->epoch[j] > e - SLOTS) sum += w->count[j];
    return sum;
}

struct cs_limiter *cs_limiter_new(void)
{
    struct cs_limiter *l = cs_calloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void cs_limiter_free(struct cs_limiter *l)
{
    if (l == NULL) return;
    for (int i = 0; i < BUCKETS; i++) {
        for (agent_ctr *c = l->buckets[i], *next; c; c = next) {
            next = c->next;
            free(c->name);
            free(c->classes);
            free(c);
        }
    }
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static agent_ctr *counters(struct cs_limiter *l, const char *name, const cs_limits *lim)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    agent_ctr **slot = &l->buckets[h % BUCKETS];
    for (agent_ctr *c = *slot; c; c = c->next)
        if (!strcmp(c->name, name)) return c;
    agent_ctr *c = cs_calloc(1, sizeof *c);
    c->name = cs_strdup(name);
    window_init(&c->rpm, 60 * 1000);
    window_init(&c->denials, (lim->denials_window_s > 0 ? lim->denials_window_s : 60) * 1000);
    c->n_classes = lim->n_classes;
    c->classes = cs_calloc(c->n_classes ? c->n_classes : 1, sizeof *c->classes);
    for (size_t i = 0; i < c->n_classes; i++)
        window_init(&c->classes[i], 3600 * 1000);
    c->next = *slot;
    *slot = c;
    return c;
}

/* The figures of an exceeded limit. */
typedef struct breach {
    char limit[160];
    long long seen, max;
    char reason[400];
} breach;

static void note(breach *b, const char *limit, long long seen, long long max, const char *span)
{
    if (b->limit[0]) return; /* the first limit exceeded names the freeze */
    snprintf(b->limit, sizeof b->limit, "%s", limit);
    b->seen = seen;
    b->max = max;
    snprintf(b->reason, sizeof b->reason, "%s: %lld %s, limit %lld", limit, seen, span, max);
}

/* Counts this request in the in-memory windows; fills b when one is exceeded. */
static void count(struct cs_limiter *l, const cs_limits *lim, const char *agent,
                  const char *action, const char *status, long long now, breach *b)
{
    pthread_mutex_lock(&l->lock);
    agent_ctr *c = counters(l, agent, lim);
    long long n;
    if (lim->requests_per_minute && (n = window_add(&c->rpm, now, 1)) > lim->requests_per_minute)
        note(b, "requests_per_minute", n, lim->requests_per_minute, "in the last 60 s");
    for (size_t i = 0; i < lim->n_classes && i < c->n_classes; i++) {
        if (strcmp(lim->classes[i].action, action)) continue;
        char name[160];
        snprintf(name, sizeof name, "classes[%s].per_hour", action);
        if ((n = window_add(&c->classes[i], now, 1)) > lim->classes[i].per_hour)
            note(b, name, n, lim->classes[i].per_hour, "in the last hour");
    }
    if (lim->denials && !strcmp(status, "denied") &&
        (n = window_add(&c->denials, now, 1)) > lim->denials) {
        char span[64];
        snprintf(span, sizeof span, "denials in the last %lld s", lim->denials_window_s);
        note(b, "denials", n, lim->denials, span);
    }
    pthread_mutex_unlock(&l->lock);
}

int cs_gw_limits_apply(cs_gateway *gw, cs_op *op)
{
    const char *agent = json_string_value(json_object_get(op->who, "name"));
    const cs_limits *lim = cs_config_limits_for(gw->cfg, agent);
    if (!lim->requests_per_minute && !lim->denials && !lim->concurrent_pending && !lim->n_classes)
        return 0;
    breach b = {0};
    const char *status = cs_gw_op_status(op);
    /* The action asked for: the new action's, which may not have its tree (op->lazy). */
    const json_t *asked = op->doc ? op->doc : op->args;
    count(gw->limiter, lim, agent, json_string_value(json_object_get(asked, "action")), status,
          op->now_ms, &b);
    if (!b.limit[0] && lim->concurrent_pending && !strcmp(status, "pending")) {
        long long n = 0;
        int rc = gw->store->ops->pending_count(gw->store, cs_gw_actor(op), &n);
        if (rc) return rc;
        if (n + 1 > lim->concurrent_pending)
            note(&b, "concurrent_pending", n + 1, lim->concurrent_pending, "pending");
    }
    if (!b.limit[0]) return 0;
    char *id = cs_random_id("frz_", 12);
    json_t *record =
        json_pack("{s:s,s:s,s:b,s:s,s:s,s:o,s:b,s:{s:s,s:I,s:I}}", "id", id, "agent", agent,
                  "global", 0, "reason", b.reason, "by", "System::\"countersign\"", "at",
                  cs_time_json(op->now_ms), "automatic", 1, "limit", "name", b.limit, "observed",
                  (json_int_t)b.seen, "limit", (json_int_t)b.max);
    free(id);
    int rc = cs_gw_freeze_scope(gw, op, agent, record);
    /* A denial that tipped the count stays the policy's denial; any other request that
     * went over a limit is refused as frozen. */
    if (rc == 0 && strcmp(b.limit, "denials") != 0) rc = cs_gw_deny_frozen(op, record);
    json_decref(record);
    return rc;
}

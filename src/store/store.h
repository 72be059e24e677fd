/* store.h - durable state behind a small vtable (SQLite now, PostgreSQL later).
 *
 * Two sides. The write side (begin/commit, *_put, audit_append) is used only by the
 * single writer thread (writer.h), which group-commits batches. The read side may be
 * called from any thread. Documents are JSON text owned by the gateway; the store
 * keeps the few columns it must index next to them. Audit entries get gapless
 * indexes 0,1,2,... assigned here, in commit order. */
#ifndef CS_STORE_STORE_H
#define CS_STORE_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

typedef struct cs_store cs_store;

/* An action id is "act_", its key as 16 hex digits (the time in ms shifted left by
 * 16 bits, plus a counter: keys only grow), then 12 random hex digits. The key is the
 * action's row key in the store, so that finding an action by id needs no index of
 * its own. */
#define CS_ACTION_KEY_DIGITS 16
/* The key an action id carries; 0 when it has none (not an id of this form). */
long long cs_action_id_key(const char *id);

/* The indexed columns of an action, next to its JSON document. */
typedef struct cs_action_row {
    const char *id;
    const char *status;
    const char *requester; /* principal uid text, e.g. Agent::"demo-agent" */
    const char *idem_key;  /* NULL when none */
    long long expires_at;  /* ms, 0 when not pending */
    long long created_at;  /* ms */
    const char *doc;       /* JSON */
} cs_action_row;

typedef struct cs_audit_row {
    const char *type;
    long long time_ms;
    const char *actor;
    const char *source;
    const char *action_id; /* may be NULL */
    const json_t *details;
    /* The entry already rendered around its index (cs_audit_entry_parts), e.g. on an
     * HTTP thread before the op reached the writer; the fields above are then only
     * for the row's columns. Both or neither. */
    const char *pre_head, *pre_tail;
    /* details already in canonical (RFC 8785) form; written instead of `details`. */
    const char *details_text;
} cs_audit_row;

typedef struct cs_list_query {
    const char *status;    /* NULL: any */
    const char *requester; /* NULL: any */
    long long before_seq;  /* 0: from the newest */
    int limit;
} cs_list_query;

/* A scan of audit rows in index order: [from, to) (to < 0: to the end), only rows with
 * since_ms <= time_ms < until_ms when those are not 0, at most limit rows (0: all). */
typedef struct cs_audit_scan {
    long long from, to;
    long long since_ms, until_ms;
    long long limit;
} cs_audit_scan;

/* Called for each scanned row; a non-zero return stops the scan and is returned. */
typedef int (*cs_audit_row_fn)(void *ctx, long long index, long long time_ms, const char *entry, size_t len);

/* Run by the writer thread around every commit (see writer.h): before_commit inside
 * the transaction after all jobs (an error rolls the whole batch back), after_commit
 * once the batch is durable (rc 0) or rolled back. The audit log feeds its Merkle
 * tree here. */
typedef struct cs_commit_hooks {
    int (*before_commit)(void *ctx, cs_store *s);
    void (*after_commit)(void *ctx, int rc);
    void *ctx;
} cs_commit_hooks;
/* A notification waiting in the outbox (SPEC §4 Notifications). Written by the
 * gateway in the same transaction as the event it announces. */
typedef struct cs_outbox_row {
    const char *msg_id;    /* stable across retries (webhook-id) */
    const char *target;    /* slack:#x, teams:NAME, webhook:NAME */
    const char *action_id;
    const char *event;     /* action.pending, action.voted, action.approved, ... */
    const char *payload;   /* JSON: the action as it was at the event */
    long long created_at;  /* ms */
} cs_outbox_row;

typedef struct cs_store_ops {
    const char *name;
    int (*open)(cs_store *s, const char *location, cs_err *err);
    void (*close)(cs_store *s);
    /* write side */
    int (*begin)(cs_store *s);
    int (*commit)(cs_store *s);
    int (*rollback)(cs_store *s);
    int (*savepoint)(cs_store *s);
    int (*release)(cs_store *s);
    int (*rollback_to)(cs_store *s);
    int (*action_put)(cs_store *s, const cs_action_row *row);
    int (*audit_append)(cs_store *s, const cs_audit_row *row, long long *index);
    int (*token_put)(cs_store *s, const char *name, const char *hash, const char *doc, int revoked);
    /* Merkle log state, written in the transaction of the entries it covers: complete
     * hash tiles (8192 bytes, never rewritten) and the signed checkpoint of `size`. */
    int (*audit_tile_put)(cs_store *s, unsigned level, long long index, const void *data, size_t len);
    int (*audit_head_put)(cs_store *s, long long size, const char *note);
    /* An RFC 3161 time-stamp (DER TimeStampResp) of the checkpoint `note` of `size`. */
    int (*audit_stamp_put)(cs_store *s, long long size, const char *note, const char *gen_time, const void *token,
                           size_t len);
    /* notification outbox (writer side); state is pending | done | dead */
    int (*outbox_add)(cs_store *s, const cs_outbox_row *row);
    int (*outbox_set)(cs_store *s, long long id, const char *state, int attempts, long long next_at,
                      const char *last_error);
    /* What a channel remembers about its message for an action (Slack: channel and ts). */
    int (*notify_ref_put)(cs_store *s, const char *action_id, const char *target, const char *ref);
    /* Kill switch (gateway/freeze.c): scope is an agent name or "*" (global); a NULL
     * doc lifts the freeze. */
    int (*freeze_put)(cs_store *s, const char *scope, const char *doc);
    /* Writer side: the actions of `requester` (NULL: of every agent) that a freeze
     * affects: pending ones, and decided ones holding a receipt that is neither
     * consumed nor revoked. [doc, ...] */
    int (*freeze_targets)(cs_store *s, const char *requester, json_t **docs);
    /* Writer side: how many actions of `requester` are pending. */
    int (*pending_count)(cs_store *s, const char *requester, long long *n);
    /* read side; `w` = 1 reads through the writer's open transaction */
    int (*action_get)(cs_store *s, int w, const char *id, char **doc);
    int (*action_by_idem)(cs_store *s, int w, const char *requester, const char *key, char **doc);
    int (*action_list)(cs_store *s, const cs_list_query *q, json_t **docs, long long *next);
    int (*expired)(cs_store *s, long long now_ms, json_t **ids);
    int (*next_expiry)(cs_store *s, long long *ms);
    /* The largest action key stored (0 when none): new ids take larger ones. */
    int (*action_last_key)(cs_store *s, long long *key);
    int (*tokens)(cs_store *s, json_t **rows); /* [{name, hash, doc, revoked}] */
    int (*audit_count)(cs_store *s, long long *n);
    /* entries [from, from+max) in index order: [{index, entry}] (entry: canonical JSON text) */
    int (*audit_range)(cs_store *s, long long from, int max, json_t **rows);
    int (*audit_scan)(cs_store *s, int w, const cs_audit_scan *q, cs_audit_row_fn fn, void *ctx);
    /* A complete tile into out (8192 bytes); CS_ENOTFOUND when not stored. */
    int (*audit_tile_get)(cs_store *s, int w, unsigned level, long long index, void *out, size_t len);
    /* The last stored checkpoint (note malloc'd); size 0 and note NULL when none. */
    int (*audit_head_get)(cs_store *s, long long *size, char **note);
    /* The newest time-stamp as JSON {tree_size, checkpoint, gen_time, token (base64)}; CS_ENOTFOUND when none. */
    int (*audit_stamp_get)(cs_store *s, json_t **out);
    /* Pending outbox rows due by now_ms, only the oldest per (action, target) so that
     * a channel sees its events in order: [{id, msg_id, target, action_id, event,
     * payload, attempts, created_at, ref}] (ref null when none). */
    int (*outbox_due)(cs_store *s, long long now_ms, int max, json_t **rows);
    /* Outbox rows per state: {"pending": n, "done": n, "dead": n} (states with rows). */
    int (*outbox_counts)(cs_store *s, json_t **counts);
    /* Freezes in force: [{scope, doc}] */
    int (*freezes)(cs_store *s, json_t **rows);
} cs_store_ops;

struct cs_store {
    const cs_store_ops *ops;
    void *impl;
    cs_commit_hooks hooks; /* zero when unused */
};

extern const cs_store_ops cs_store_sqlite_ops;

/* Picks the backend from `storage` ("sqlite" uses `path`). */
int cs_store_open(const char *storage, const char *path, cs_store **out, cs_err *err);
void cs_store_close(cs_store *s);

/* The audit entry as it is stored and later hashed: canonical JSON of
 * {index, type, time, actor, source, action_id, details}. */
char *cs_audit_entry_json(long long index, const cs_audit_row *row);
/* The same text in two parts, before and after the index number (the index is the only
 * member the writer assigns), and the entry from its parts. */
int cs_audit_entry_parts(const cs_audit_row *row, char **head, char **tail);
char *cs_audit_entry_join(long long index, const char *head, const char *tail);

#endif

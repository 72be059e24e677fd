/* notify_test.h - a countersign daemon wired to a fake peer (fake_peer.h): Slack,
 * Teams and a webhook subscriber all point at it, with test secrets in the
 * environment, plus helpers to make users and to send signed Slack interactions. */
#ifndef CS_TEST_NOTIFY_H
#define CS_TEST_NOTIFY_H

#include "fake_peer.h"
#include "gateway/daemon.h"

#define NT_SLACK_SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define NT_BOT_TOKEN "xoxb-test-token"
#define NT_WEBHOOK_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define NT_PUBLIC_URL "http://127.0.0.1:8080"

extern const char nt_policy[];

/* td_start, then the test policy and the notify section, then serve again. */
void nt_start(td *d, fake_peer *f);
/* Same with notify.dead_letter_after set (nt_start uses 1h). */
void nt_start_with(td *d, fake_peer *f, const char *dead_letter_after);
/* Creates a token (as admin) and records it under name in d->tokens. */
void nt_user(td *d, const char *name, const char *group, const char *slack_id);
void nt_agent(td *d, const char *name, const char *owner);
/* Submits and returns the action id (caller frees). */
char *nt_submit(td *d, const char *who, const char *action, const char *resource);
/* The form body Slack would send for this payload JSON. */
char *nt_form(const char *payload_json);
/* POSTs a body to the interactions endpoint signed with secret at timestamp ts. */
td_resp nt_slack_post(td *d, const char *body, const char *secret, long long ts);
/* Same with a given hex signature (NULL: no signature header). */
td_resp nt_slack_post_raw(td *d, const char *body, const char *sig_hex, long long ts);
/* A block_actions payload for a button click. */
char *nt_click(const char *user, const char *action_id, const char *value);
/* The request for the deny modal's submission. */
char *nt_deny_submission(const char *user, const char *id, const char *reason);
/* Waits until at least n audit entries of a type exist (they are written
 * asynchronously for refused interactions); returns the count. */
long nt_wait_audit(td *d, const char *type, const char *action_id, long n);
/* Outbox rows of an action in a state (straight from SQLite). */
long nt_outbox_count(td *d, const char *state);
/* The first column of the first row of a query on the daemon's database. */
long long nt_sql(td *d, const char *sql);

#endif

/* action_text.h - the texts of a new action written straight from its parts, without
 * building its document tree first (action_text.c).
 *
 * A submit that the policy decides at once (allowed or denied, no receipt) needs its
 * document only as text: the stored row, the reply and the action.submitted entry. On
 * the hot path the gateway writes those texts from the parts below; the document tree
 * is made from the stored text only when something needs it (a frozen agent's denial,
 * an automatic freeze, a waiter on the action). The texts are byte for byte what the
 * tree would have been written as (debug builds check every one). */
#ifndef CS_GATEWAY_ACTION_TEXT_H
#define CS_GATEWAY_ACTION_TEXT_H

#include <jansson.h>

#include "util/buf.h"

struct cs_decision;

typedef struct cs_new_action {
    const char *id;             /* act_... */
    const char *status;         /* allowed, denied (pending actions keep their tree) */
    const char *requester_type; /* Agent or User */
    const char *requester_id;
    const json_t *owner; /* the agent's owner; NULL: none */
    const char *action;
    const char *resource;
    const json_t *context;      /* NULL: {} */
    const json_t *purpose;      /* NULL: null */
    const json_t *on_behalf_of; /* NULL: null */
    const json_t *rollback;     /* NULL: absent */
    const char *rollback_of;    /* NULL: absent */
    const char *args_hash;      /* sha256:<hex> */
    const char *source;
    const char *policy_version;         /* the policy set's version */
    const struct cs_decision *decision; /* its matches, explanation and errors */
    long long now_ms;
} cs_new_action;

/* The decision envelope in canonical (RFC 8785) form: what args_hash is the SHA-256 of
 * (requester, action, resource, context, purpose, on_behalf_of[, rollback][, rollback_of]). */
int cs_new_action_envelope(const cs_new_action *a, cs_buf *out);
/* The stored text of an action decided at once, before its audit index: the members in
 * the document's order (id, status, requester, ..., created_at, decided_at). */
int cs_new_action_doc(const cs_new_action *a, cs_buf *out);
/* The details of its action.submitted entry, canonical. */
int cs_new_action_details(const cs_new_action *a, cs_buf *out);

#endif

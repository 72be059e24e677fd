/* client.h - the CLI's HTTP client for the gateway API ($COUNTERSIGN_URL with
 * $COUNTERSIGN_TOKEN), plus the human rendering of actions shared by the verbs. */
#ifndef CS_CLI_CLIENT_H
#define CS_CLI_CLIENT_H

#include <jansson.h>

/* Sends a request; *status is the HTTP status and *out the JSON reply (or NULL).
 * Returns 0, or -1 on a transport error (message printed). */
int cs_client_call(const char *method, const char *path, const json_t *body, const char *idem_key,
                   long timeout_s, long *status, json_t **out);
/* While *flag is non-zero, calls in progress are abandoned (a transport error):
 * lets a signal handler interrupt a long-poll. NULL turns it off. */
void cs_client_set_abort(volatile int *flag); /* sig_atomic_t is int on our platforms */
/* Prints a problem reply to stderr. */
void cs_client_print_problem(long status, const json_t *problem);
/* Prints an action for humans, or as JSON. */
void cs_client_print_action(const json_t *a, int as_json);
/* Exit code for an action's status (SPEC §4). */
int cs_client_exit_for(const json_t *a);
/* A --wait or --timeout value: whole seconds from 0 to CS_CLIENT_SECONDS_MAX (a year:
 * far past any approval's expiry, and far from overflowing a deadline). 0, or -1. */
#define CS_CLIENT_SECONDS_MAX (366L * 24 * 3600)
int cs_client_seconds(const char *s, long *out);

#endif

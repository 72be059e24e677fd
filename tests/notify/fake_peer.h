/* fake_peer.h - a local stand-in for the Slack Web API, a Teams Workflows webhook
 * and a webhook subscriber, on 127.0.0.1 only. It records every request it answers
 * (method, path, the headers the tests look at, body) so tests can assert the exact
 * requests countersign sent. Paths under a "down" prefix get their connection
 * closed without an answer (and are not recorded), to play an outage. */
#ifndef CS_TEST_FAKE_PEER_H
#define CS_TEST_FAKE_PEER_H

#include <jansson.h>

typedef struct fake_peer fake_peer;

fake_peer *fake_start(void);
void fake_stop(fake_peer *f);
int fake_port(fake_peer *f);
/* Requests under this path prefix are refused (NULL: none): the connection is
 * closed, or with with_429 answered "429 Too Many Requests" with Retry-After: 1
 * (Slack's rate limiting). Refused requests are counted, not recorded. */
void fake_set_down(fake_peer *f, const char *prefix, int with_429);
long fake_refused(fake_peer *f);
/* A copy of the recorded requests: [{method, path, headers{lowercase name: value}, body, json}]. */
json_t *fake_requests(fake_peer *f, const char *path);
/* Waits (up to a generous hang guard) until at least n requests to path were
 * recorded; returns the copy. Aborts the test when they never come. */
json_t *fake_wait(fake_peer *f, const char *path, size_t n);
/* Waits until fake_refused() reaches n. */
void fake_wait_refused(fake_peer *f, long n);

#endif

/* daemon.h - test harness: a real countersign daemon on a free port, in a fresh
 * data directory made by `countersign init`, spoken to over HTTP with libcurl. */
#ifndef CS_TEST_DAEMON_H
#define CS_TEST_DAEMON_H

#include <jansson.h>
#include <sys/types.h>

typedef struct td {
    char dir[256];
    char url[64];
    int port;
    pid_t pid;
    json_t *tokens; /* name -> token */
} td;

typedef struct td_resp {
    long status;
    json_t *json;
    char *text;
    char *headers;
} td_resp;

/* The test policy: the demo one plus quorum-1 deploys, a 1-second expiry and a
 * two-group rule. */
extern const char td_test_policy[];

/* init + test policy + serve. Aborts the test on failure. */
void td_start(td *d);
/* (Re)starts the server process on the existing data directory. */
void td_serve(td *d);
void td_stop(td *d);    /* SIGTERM and wait */
void td_kill9(td *d);   /* SIGKILL and wait */
void td_cleanup(td *d); /* stop if running, remove the directory */
/* cmocka fixtures: a fresh daemon per test in *state, cleaned up afterwards. */
int td_setup(void **state);
int td_teardown(void **state);
/* A cmocka test with a daemon of its own. */
#define TD_TEST(f) cmocka_unit_test_setup_teardown(f, td_setup, td_teardown)
const char *td_token(td *d, const char *name);

/* body may be NULL; ctype NULL means application/json when body is set. */
td_resp td_req(td *d, const char *method, const char *path, const char *who, const char *body,
               const char *ctype, const char *extra_header);
void td_resp_free(td_resp *r);
/* Submits {action, resource} as who; returns the parsed reply (caller frees). */
json_t *td_submit(td *d, const char *who, const char *action, const char *resource);
/* POST /v1/actions/ID/VERB (approve, deny, cancel, ...) as `who`, without a body. */
td_resp td_vote(td *d, const char *who, const char *id, const char *verb);
const char *td_str(const json_t *o, const char *path); /* dotted path lookup */
/* Counts audit rows of a type (and action id when not NULL) straight from SQLite. */
long td_audit_count(td *d, const char *type, const char *action_id);
/* Runs the countersign binary with COUNTERSIGN_URL/TOKEN set; returns the exit code
 * and stdout (caller frees). */
/* The canonical JSON of audit entry idx (caller frees), or NULL. */
char *td_audit_entry(td *d, long idx);
int td_cli(td *d, const char *who, char **out, const char *const argv[]);

#endif

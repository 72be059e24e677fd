/* exec_run.h - the steps of `countersign exec` after the request is submitted,
 * shared with `countersign rollback --exec` (implemented in cmd_exec.c). */
#ifndef CS_CLI_EXEC_RUN_H
#define CS_CLI_EXEC_RUN_H

#include <jansson.h>

/* Waits while *a is pending, showing progress; Ctrl-C (or the timeout, 0: none)
 * cancels it. CS_EXIT_OK when allowed or approved, else the exit code to use
 * (the reason printed). */
int cs_exec_await(json_t **a, long timeout_s);
/* Redeems the receipt of a (single use), runs argv with its stdio untouched,
 * reports the outcome, and returns the command's exit status (or dies of the
 * same signal). Nothing runs when the receipt is refused (CS_EXIT_DENIED). */
int cs_exec_run_approved(const json_t *a, char **argv);

#endif

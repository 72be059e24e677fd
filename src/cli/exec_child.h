/* exec_child.h - runs the approved command for `countersign exec`: stdin untouched,
 * stdout/stderr relayed byte for byte while being hashed, signals forwarded. */
#ifndef CS_CLI_EXEC_CHILD_H
#define CS_CLI_EXEC_CHILD_H

typedef struct cs_child_result {
    int exited;       /* 1: exit status in code; 0: killed by signal `code` */
    int code;
    long long duration_ms;
    int hashed;        /* 0 when an output was a terminal and was left alone */
    char stdout_sha256[7 + 64 + 1]; /* "sha256:<hex>" */
    char stderr_sha256[7 + 64 + 1];
} cs_child_result;

/* Runs argv[0] (searched in PATH) with argv; returns 0, or -1 when it could not be
 * started (message printed). */
int cs_child_run(char **argv, cs_child_result *res);

#endif

/* cli.h - the command-line front end: a table of verbs, each in its own cmd_*.c file.
 *
 * Exit codes (SPEC §4): 0 allowed/approved/ok, 1 denied/expired/cancelled or a failed
 * check, 2 usage or transport error, 3 still pending when --wait ran out. */
#ifndef CS_CLI_CLI_H
#define CS_CLI_CLI_H

enum { CS_EXIT_OK = 0, CS_EXIT_DENIED = 1, CS_EXIT_USAGE = 2, CS_EXIT_PENDING = 3 };

int cs_cli_main(int argc, char **argv);

/* Each verb: argv[0] is the verb itself. */
int cs_cmd_policy(int argc, char **argv);
int cs_cmd_init(int argc, char **argv);
int cs_cmd_serve(int argc, char **argv);
int cs_cmd_token(int argc, char **argv);
int cs_cmd_request(int argc, char **argv);
int cs_cmd_approve(int argc, char **argv);
int cs_cmd_deny(int argc, char **argv);
int cs_cmd_list(int argc, char **argv);
int cs_cmd_show(int argc, char **argv);
int cs_cmd_pg_proxy(int argc, char **argv);
int cs_cmd_audit(int argc, char **argv);
int cs_cmd_exec(int argc, char **argv);
int cs_cmd_mcp_proxy(int argc, char **argv);
int cs_cmd_freeze(int argc, char **argv); /* freeze and unfreeze */
int cs_cmd_rollback(int argc, char **argv);
/* approve and deny share this (vote.c). */
int cs_cli_vote(int argc, char **argv, const char *verb);

#endif

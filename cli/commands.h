/*
 * commands.h: the taizhang commands that parse their own options, one file
 * each under cli/ (the inspection tools: bundles, witnesses, replay,
 * history, the tamper report). Each takes argc/argv as main passes them
 * from the command name on (argv[0] is "export", ...), prints its own
 * usage on --help, and returns the process exit status (0 ok, 1 the data
 * does not verify or a witness refuses, 2 usage or I/O, 3 a rule).
 */
#ifndef TZ_CLI_COMMANDS_H
#define TZ_CLI_COMMANDS_H

int tz_cli_export(int argc, char **argv);        /* cli/export.c */
int tz_cli_verify_bundle(int argc, char **argv); /* cli/export.c: verify --bundle */
int tz_cli_witness(int argc, char **argv);       /* cli/witness.c */
int tz_cli_verify_all(int argc, char **argv);    /* cli/tamper.c: verify --all */
int tz_cli_replay(int argc, char **argv);        /* cli/replay.c */
int tz_cli_history(int argc, char **argv);       /* cli/replay.c */
int tz_cli_diff_bundle(int argc, char **argv);   /* cli/diff_bundle.c: diff --bundle */
int tz_cli_salvage(int argc, char **argv);       /* cli/salvage.c */

#endif

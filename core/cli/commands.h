/* Every subcommand of the `clipbench` binary. Each lives in the stage it
 * belongs to (core/cli, experiments, sweeps, results) and has the signature of
 * main: argv[0] is the subcommand name. A command returns 0 on success; on
 * failure it returns non-zero with cb_error() set, and main prints that one
 * line. */
#ifndef CB_CLI_COMMANDS_H
#define CB_CLI_COMMANDS_H

typedef int (*cb_cmd_fn)(int argc, char **argv);

typedef struct {
  const char *name;
  cb_cmd_fn fn;
  const char *summary;
} cb_command;

int cb_cmd_model(int argc, char **argv);
int cb_cmd_run(int argc, char **argv);
int cb_cmd_sweep(int argc, char **argv);
int cb_cmd_status(int argc, char **argv);
int cb_cmd_runs(int argc, char **argv);
int cb_cmd_show(int argc, char **argv);
int cb_cmd_compare(int argc, char **argv);
int cb_cmd_merge(int argc, char **argv);
int cb_cmd_bench(int argc, char **argv);
int cb_cmd_grads(int argc, char **argv);
int cb_cmd_report(int argc, char **argv);
int cb_cmd_export(int argc, char **argv);
int cb_cmd_epsilon(int argc, char **argv);
int cb_cmd_sigma(int argc, char **argv);
int cb_cmd_data(int argc, char **argv);

#endif

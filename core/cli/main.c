/* clipbench: git-style dispatcher. Each subcommand parses its own options. */
#include "core/base/cores.h"
#include "core/base/error.h"
#include "core/base/version.h"
#include "core/cli/commands.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const cb_command COMMANDS[] = {
    {"model", cb_cmd_model, "print a model's layer table and parameter count"},
    {"run", cb_cmd_run, "train one experiment file into the results database"},
    {"sweep", cb_cmd_sweep, "expand a sweep file's grid and train what is missing (--jobs N)"},
    {"status", cb_cmd_status, "progress, ETA and errors of sweeps and runs"},
    {"merge", cb_cmd_merge, "fold database shards (SLURM array tasks) into one results database"},
    {"grads", cb_cmd_grads, "per-sample gradient norms and clipped sum of a first batch"},
    {"bench", cb_cmd_bench, "time a training step per clipping mode (throughput, memory)"},
    {"export", cb_cmd_export, "write results as TSV/CSV/JSON for gnuplot, pandas, spreadsheets"},
    {"report", cb_cmd_report, "an HTML page of a sweep's figures and summary tables"},
    {"epsilon", cb_cmd_epsilon, "privacy spent (epsilon) for q, sigma, steps, delta (RDP/PRV/GDP)"},
    {"sigma", cb_cmd_sigma, "smallest noise multiplier reaching a target epsilon"},
    {"data", cb_cmd_data, "make, import, inspect and preview datasets"},
};

/* Commands whose work runs in OpenMP/OpenBLAS/FFTW threads: these restart
 * themselves once with OMP_WAIT_POLICY=passive unless the user chose a wait
 * policy (cores.h says why it cannot be set any later). The others skip the
 * restart's cost (loading the CUDA libraries twice, ~0.1 s). */
static const char *const THREADED[] = {"run",     "sweep", "grads", "bench",
                                       "epsilon", "sigma", "data"};

static const int N_COMMANDS = (int)(sizeof COMMANDS / sizeof COMMANDS[0]);

static void usage(FILE *f) {
  fprintf(f, "usage: clipbench <command> [options]   (clipbench <command> --help)\n\n");
  fprintf(f,
          "clipbench %s (%s): benchmarks gradient clipping for DP-SGD on image segmentation.\n\n",
          cb_version(), cb_git_rev());
  fprintf(f, "commands:\n");
  for (int i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
  /* A file that reaches the size limit (ulimit -f) fails its write with EFBIG,
   * which is reported and handled like a full disk, instead of the process
   * being killed by SIGXFSZ mid-write. */
  signal(SIGXFSZ, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("clipbench %s\n", cb_version_string());
    return 0;
  }
  for (int i = 0; i < N_COMMANDS; i++) {
    if (strcmp(cmd, COMMANDS[i].name) != 0) continue;
    for (size_t t = 0; t < sizeof THREADED / sizeof THREADED[0]; t++)
      if (strcmp(cmd, THREADED[t]) == 0) cb_omp_wait_policy_reexec(argv);
    cb_error_clear();
    int rc = COMMANDS[i].fn(argc - 1, argv + 1);
    if (rc != 0) {
      fprintf(stderr, "clipbench %s: error: %s\n", cmd, cb_last_error());
      if (cb_last_error_code()) return cb_last_error_code();
      return rc > 0 && rc < 126 ? rc : 1;
    }
    return 0;
  }
  fprintf(stderr, "clipbench: unknown command '%s' (run clipbench --help for the list)\n", cmd);
  return 2;
}

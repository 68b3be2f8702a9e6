#include "results/datadir.h"

#include "core/base/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CB_SOURCE_DIR
#define CB_SOURCE_DIR "."
#endif
#ifndef CB_DATA_REL
#define CB_DATA_REL "../share/clipbench"
#endif

static int has_plots(const char *dir) {
  char mk[PATH_MAX + 32];
  snprintf(mk, sizeof mk, "%s/Makefile.plots", dir);
  return access(mk, R_OK) == 0;
}

int cb_data_dir(char *buf, size_t n) {
  const char *env = getenv("CLIPBENCH_DATA_DIR");
  if (env && *env) {
    if (!has_plots(env))
      return cb_error("CLIPBENCH_DATA_DIR=%s holds no Makefile.plots (point it at the folder "
                      "with Makefile.plots and plots/, e.g. PREFIX/share/clipbench)",
                      env);
    snprintf(buf, n, "%s", env);
    return 0;
  }
  char exe[PATH_MAX], installed[PATH_MAX + 64] = "(unknown: no /proc/self/exe)";
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(installed, sizeof installed, "%s/%s", exe, CB_DATA_REL);
    char real[PATH_MAX];
    if (has_plots(installed)) {
      snprintf(buf, n, "%s", realpath(installed, real) ? real : installed);
      return 0;
    }
  }
  if (has_plots(CB_SOURCE_DIR)) {
    snprintf(buf, n, "%s", CB_SOURCE_DIR);
    return 0;
  }
  return cb_error("cannot find clipbench's data folder (Makefile.plots, plots/): not in %s nor "
                  "in the source tree %s; set CLIPBENCH_DATA_DIR=PREFIX/share/clipbench",
                  installed, CB_SOURCE_DIR);
}

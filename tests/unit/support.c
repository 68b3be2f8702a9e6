#include "tests/unit/support.h"

#include "core/kernels/philox.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tst_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * (float)cb_uniform(seed, 99, 0, (uint64_t)i);
}

double tst_rel_err(double a, double b, double floor) {
  double d = fabs(a - b), s = fmax(fmax(fabs(a), fabs(b)), floor);
  return d / s;
}

static char g_tmp[256];

static void cleanup(void) {
  if (g_tmp[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) { /* best effort */
    }
  }
}

const char *tst_tmpdir(void) {
  if (!g_tmp[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/cbtest.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(g_tmp)) abort();
    atexit(cleanup);
  }
  return g_tmp;
}

const char *tst_src_path(const char *rel) {
  static char buf[1024];
  snprintf(buf, sizeof buf, "%s/%s", CB_SOURCE_DIR, rel);
  return buf;
}

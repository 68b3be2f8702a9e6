#include "tests/unit/support.h"

#include "core/base/error.h"
#include "core/kernels/philox.h"
#include "results/store.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tst_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * (float)cb_uniform(seed, 99, 0, (uint64_t)i);
}

void tst_expect_error(const char *must1, const char *must2) {
  const char *e = cb_last_error();
  if (!strstr(e, must1) || (must2 && !strstr(e, must2)) || strchr(e, '\n'))
    print_error("error message '%s' lacks '%s' / '%s' or is not one line\n", e, must1,
                must2 ? must2 : "");
  assert_non_null(strstr(e, must1));
  if (must2) assert_non_null(strstr(e, must2));
  assert_null(strchr(e, '\n'));
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

const char *tst_tmp_path(const char *name) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tst_tmpdir(), name);
  return buf[k];
}

static sqlite3_stmt *q_step(cb_store *s, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(cb_store_db(s), sql, -1, &st, NULL))
    fail_msg("%s: %s", sql, sqlite3_errmsg(cb_store_db(s)));
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) return st;
  sqlite3_finalize(st);
  return NULL;
}

long long tst_q_int(cb_store *s, const char *sql) {
  sqlite3_stmt *st = q_step(s, sql);
  long long v = st ? sqlite3_column_int64(st, 0) : -999;
  sqlite3_finalize(st);
  return v;
}

double tst_q_num(cb_store *s, const char *sql) {
  sqlite3_stmt *st = q_step(s, sql);
  double v = st ? sqlite3_column_double(st, 0) : NAN;
  sqlite3_finalize(st);
  return v;
}

void tst_q_text(cb_store *s, const char *sql, char *out, size_t n) {
  sqlite3_stmt *st = q_step(s, sql);
  snprintf(out, n, "%s", st ? (const char *)sqlite3_column_text(st, 0) : "(null)");
  sqlite3_finalize(st);
}

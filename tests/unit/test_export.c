/* Export: exact TSV/CSV/JSON text for known values (NULL, integers, floats,
 * text needing quotes), gnuplot blocks with --group, every named query on the
 * version 1 fixture and on an empty database, sweep filtering, and refusal of
 * writing or multi-statement SQL. */
#include "core/base/error.h"
#include "results/export.h"
#include "tests/unit/support.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_db[512];

static int setup(void **state) {
  (void)state;
  snprintf(g_db, sizeof g_db, "%s/export.db", tst_tmpdir());
  FILE *f = fopen(tst_src_path("tests/fixtures/store_v1.sql"), "rb");
  if (!f) return -1;
  static char sql[1 << 16];
  size_t n = fread(sql, 1, sizeof sql - 1, f);
  fclose(f);
  sql[n] = 0;
  sqlite3 *db;
  if (sqlite3_open(g_db, &db) || sqlite3_exec(db, sql, NULL, NULL, NULL)) return -1;
  sqlite3_close(db);
  return 0;
}

/* Runs the export into a string; returns rows (or -1). */
static long run_args(const char *db, const cb_export_args *a, char **text) {
  cb_store *s = cb_store_open(db, CB_STORE_CREATE);
  if (!s) fail_msg("%s", cb_last_error());
  size_t len;
  *text = NULL;
  FILE *f = open_memstream(text, &len);
  long rows = cb_export(s, a, f);
  fclose(f);
  cb_store_close(s);
  return rows;
}

static long run(const char *db, const char *query, const char *sweep, int format, const char *group,
                char **text) {
  cb_export_args a = {.query = query, .sweep = sweep, .format = format, .group = group};
  return run_args(db, &a, text);
}

static const char VALUES[] =
    "SELECT 1 AS i, 2.5 AS x, NULL AS missing, 'plain' AS t, 'two words' AS t2, "
    "'say \"hi\", ok' AS t3, 20.0 AS big, 1e-5 AS small, '' AS empty";

static void test_formats(void **state) {
  (void)state;
  char *out;
  assert_int_equal(run(g_db, VALUES, NULL, CB_EXPORT_TSV, NULL, &out), 1);
  assert_string_equal(out,
                      "i\tx\tmissing\tt\tt2\tt3\tbig\tsmall\tempty\n"
                      "1\t2.5\tNaN\tplain\t\"two words\"\t\"say 'hi', ok\"\t20\t1e-05\t\"\"\n");
  free(out);
  assert_int_equal(run(g_db, VALUES, NULL, CB_EXPORT_CSV, NULL, &out), 1);
  assert_string_equal(out, "i,x,missing,t,t2,t3,big,small,empty\n"
                           "1,2.5,,plain,two words,\"say \"\"hi\"\", ok\",20,1e-05,\n");
  free(out);
  assert_int_equal(run(g_db, VALUES, NULL, CB_EXPORT_JSON, NULL, &out), 1);
  assert_string_equal(out, "{\"i\":1,\"x\":2.5,\"missing\":null,\"t\":\"plain\",\"t2\":\"two "
                           "words\",\"t3\":\"say \\\"hi\\\", ok\",\"big\":20,\"small\":1e-05,"
                           "\"empty\":\"\"}\n");
  free(out);
  /* Round-trip precision. */
  assert_int_equal(run(g_db, "SELECT 0.1 + 0.2 AS v", NULL, CB_EXPORT_TSV, NULL, &out), 1);
  assert_string_equal(out, "v\n0.30000000000000004\n");
  free(out);
}

static void test_groups(void **state) {
  (void)state;
  char *out;
  assert_int_equal(run(g_db, "SELECT * FROM (VALUES ('a', 1), ('a', 2), ('b', 3)) AS t", NULL,
                       CB_EXPORT_TSV, "column1", &out),
                   3);
  assert_string_equal(out, "a\tcolumn2\na\t1\na\t2\n\n\nb\tcolumn2\nb\t3\n");
  free(out);
  assert_int_equal(run(g_db, "SELECT 1 AS a", NULL, CB_EXPORT_CSV, "a", &out), -1);
  free(out);
  assert_int_equal(run(g_db, "SELECT 1 AS a", NULL, CB_EXPORT_TSV, "b", &out), -1);
  assert_non_null(strstr(cb_last_error(), "--group b: the query has no such column"));
  free(out);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

static void test_named_queries(void **state) {
  (void)state;
  char empty[512];
  snprintf(empty, sizeof empty, "%s/empty.db", tst_tmpdir());
  for (int i = 0; i < CB_N_EXPORT_QUERIES; i++) {
    char *out;
    long rows = run(g_db, CB_EXPORT_QUERIES[i].name, NULL, CB_EXPORT_TSV, NULL, &out);
    if (rows < 0) fail_msg("%s: %s", CB_EXPORT_QUERIES[i].name, cb_last_error());
    assert_int_equal(count_lines(out), rows + 1);
    /* Per-run queries start with the run's columns; figure queries with
     * the series (one configuration over its seeds). */
    assert_true(strncmp(out, "run_id\t", 7) == 0 || strncmp(out, "label\t", 6) == 0 ||
                strncmp(out, "series\t", 7) == 0);
    free(out);
    rows = run(empty, CB_EXPORT_QUERIES[i].name, NULL, CB_EXPORT_CSV, NULL, &out);
    if (rows != 0)
      fail_msg("%s on an empty database: %s", CB_EXPORT_QUERIES[i].name, cb_last_error());
    free(out);
  }
  /* Known contents of the fixture. */
  char *out;
  assert_int_equal(run(g_db, "epochs", NULL, CB_EXPORT_TSV, NULL, &out), 2);
  assert_non_null(strstr(out,
                         "\n00000000000000a1\tunet/flat/sigma=0.5/C=1\tunet\tflat\t0.5\tNaN\t1\t7\t"
                         "0.0005\t10\t1\t7\t7\t2\t0.5\t1.5\tNaN\t0.4\t"));
  /* Every accountant's column, PLD included. */
  assert_non_null(strstr(out, "\teps_rdp\teps_prv\teps_gdp\teps_pld\tdelta\t"));
  free(out);
  assert_int_equal(run(g_db, "runs", NULL, CB_EXPORT_TSV, NULL, &out), 2);
  free(out);
  assert_int_equal(run(g_db, "final", NULL, CB_EXPORT_JSON, NULL, &out), 1);
  assert_non_null(strstr(out, "\"epsilon\":2.5,\"accountant\":\"prv\""));
  assert_non_null(strstr(out, "\"train_seconds\":6"));
  free(out);
  assert_int_equal(run(g_db, "layer_norms", NULL, CB_EXPORT_TSV, NULL, &out), 4);
  free(out);
  assert_int_equal(run(g_db, "arms", NULL, CB_EXPORT_CSV, NULL, &out), 1);
  assert_non_null(strstr(out, "\nunet/flat/sigma=0.5/C=1,unet,flat,0.5,,1,1,0.4,0,"));
  free(out);
  /* Sweep filter: the fixture's sweep has both runs; an unknown one is an
   * error listing the sweeps. */
  assert_int_equal(run(g_db, "runs", "fixture", CB_EXPORT_TSV, NULL, &out), 2);
  free(out);
  assert_int_equal(run(g_db, "runs", "nope", CB_EXPORT_TSV, NULL, &out), -1);
  assert_non_null(strstr(cb_last_error(), "no sweep called 'nope' (sweeps here: fixture)"));
  free(out);
}

/* --filter wraps the query; the SQL it builds is freed only after the tail
 * of the statement was read (a use-after-free ASan found through the figures'
 * Makefile), and a long column name fits. */
static long run_filtered(const char *query, const char *const *filters, int n, char **text) {
  cb_export_args a = {.query = query, .format = CB_EXPORT_TSV, .filters = filters, .n_filters = n};
  return run_args(g_db, &a, text);
}

static void test_filters(void **state) {
  (void)state;
  char *out;
  const char *text[] = {"t=plain"}, *num[] = {"i=1", "x=2.5"}, *none[] = {"t=other"},
             *nul[] = {"missing=NaN"}, *bad[] = {"nosuch=1"}, *noeq[] = {"t"};
  assert_int_equal(run_filtered(VALUES, text, 1, &out), 1);
  free(out);
  assert_int_equal(run_filtered(VALUES, num, 2, &out), 1);
  free(out);
  assert_int_equal(run_filtered(VALUES, none, 1, &out), 0);
  free(out);
  assert_int_equal(run_filtered(VALUES, nul, 1, &out), 1);
  free(out);
  assert_int_equal(run_filtered(VALUES, bad, 1, &out), -1);
  assert_non_null(strstr(cb_last_error(), "no column 'nosuch'"));
  free(out);
  assert_int_equal(run_filtered(VALUES, noeq, 1, &out), -1);
  free(out);
  assert_int_equal(run_filtered("runs", text, 1, &out), -1); /* runs has no column t */
  free(out);
  /* A column name longer than the old per-filter allowance. */
  char q[1024], col[301], filt[320];
  memset(col, 'c', 300);
  col[300] = 0;
  snprintf(q, sizeof q, "SELECT 7 AS %s", col);
  snprintf(filt, sizeof filt, "%s=7", col);
  const char *longf[] = {filt};
  assert_int_equal(run_filtered(q, longf, 1, &out), 1);
  free(out);
  const char *two[] = {"i=1"};
  assert_int_equal(run_filtered("SELECT 1 AS i; SELECT 2", two, 1, &out), -1);
  free(out);
}

static void test_refusals(void **state) {
  (void)state;
  char *out;
  assert_int_equal(run(g_db, "DELETE FROM runs", NULL, CB_EXPORT_TSV, NULL, &out), -1);
  assert_non_null(strstr(cb_last_error(), "read-only"));
  free(out);
  assert_int_equal(run(g_db, "SELECT 1; DELETE FROM runs", NULL, CB_EXPORT_TSV, NULL, &out), -1);
  assert_non_null(strstr(cb_last_error(), "one statement"));
  free(out);
  assert_int_equal(run(g_db, "epoch", NULL, CB_EXPORT_TSV, NULL, &out), -1);
  assert_non_null(strstr(cb_last_error(), "unknown query 'epoch' (named queries: runs, epochs"));
  free(out);
  assert_int_equal(run(g_db, "SELECT nonsense FROM runs", NULL, CB_EXPORT_TSV, NULL, &out), -1);
  assert_non_null(strstr(cb_last_error(), "no such column: nonsense"));
  free(out);
  assert_int_equal(run(g_db, "SELECT 1", "fixture", CB_EXPORT_TSV, NULL, &out), -1);
  assert_non_null(strstr(cb_last_error(), "uses :sweep"));
  free(out);
  char *keep;
  assert_int_equal(run(g_db, "SELECT count(*) AS n FROM runs", NULL, CB_EXPORT_TSV, NULL, &keep),
                   1);
  assert_string_equal(keep, "n\n2\n");
  free(keep);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_formats),       cmocka_unit_test(test_groups),
      cmocka_unit_test(test_named_queries), cmocka_unit_test(test_filters),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}

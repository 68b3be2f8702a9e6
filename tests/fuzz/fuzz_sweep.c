/* Sweep files: parse and expand (cb_sweep_load, what `clipbench sweep FILE
 * --dry-run` does before touching a database).
 *
 * The input is written to TMP/sweeps/fuzz_sweep.yaml next to TMP/experiments,
 * a link to the source tree's experiments/, so `base:
 * ../experiments/synthetic/...` resolves as for the shipped sweeps. A file
 * that fails gets one line naming it; an expansion that succeeds has runs
 * with distinct ids (equal points are merged), whose stored configuration
 * loads back to the same id (what a worker does) and whose table cells and
 * point descriptions are complete. */
#include "core/base/error.h"
#include "core/io/json_parse.h"
#include "sweeps/sweep.h"
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CB_SOURCE_DIR
#error "CB_SOURCE_DIR must name the source tree (for experiments/)"
#endif

#define NAME "fuzz_sweep.yaml"

static const char *sweep_path(void) {
  static char path[1024];
  if (!path[0]) {
    char link[1024];
    cb_fuzz_path(link, sizeof link, "experiments");
    if (symlink(CB_SOURCE_DIR "/experiments", link) != 0) abort();
    cb_fuzz_path(path, sizeof path, "sweeps/" NAME);
  }
  return path;
}

static void check_run(const cb_sweep *sw, const cb_sweep_run *r, cb_experiment *e) {
  CB_FUZZ_CHECK(strlen(r->id) == CB_RUN_ID_LEN, "run id '%s'", r->id);
  CB_FUZZ_CHECK(r->config && r->point, "run %s without configuration or point", r->id);
  cb_jv v;
  CB_FUZZ_CHECK(cb_jv_parse(r->point, strlen(r->point), "point", &v) == 0 && v.kind == CB_JV_OBJ,
                "point of run %s is not a JSON object: %s", r->id, r->point);
  cb_jv_free(&v);
  for (int c = 0; c < sw->n_cols; c++)
    CB_FUZZ_CHECK(r->cells && r->cells[c], "run %s: no cell for column %s", r->id, sw->cols[c]);
  char id[CB_RUN_ID_LEN + 1];
  cb_exp_init(e);
  int rc = cb_exp_load_string(e, r->config, "stored") || cb_exp_resolve(e) || cb_exp_id(e, id);
  CB_FUZZ_CHECK(rc == 0, "stored configuration of run %s does not load: %s\n%s", r->id,
                cb_last_error(), r->config);
  CB_FUZZ_CHECK(strcmp(id, r->id) == 0, "stored configuration of run %s loads as run %s", r->id,
                id);
}

static int cmp_id(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cb_fuzz_sweep(const uint8_t *data, size_t size) {
  const char *path = sweep_path();
  cb_fuzz_write(path, data, size);
  cb_sweep sw;
  cb_error_clear();
  if (cb_sweep_load(&sw, path, 0, NULL)) {
    /* Mistakes inside a base experiment file are reported in that file. */
    cb_fuzz_check_error("cb_sweep_load", strstr(cb_last_error(), "/experiments/") ? NULL : NAME);
    cb_sweep_free(&sw);
    return 0;
  }
  cb_fuzz_accepted("cb_sweep_load");
  CB_FUZZ_CHECK(sw.n_runs > 0 && sw.n_runs <= sw.n_points, "%d runs of %d points", sw.n_runs,
                sw.n_points);
  cb_experiment *e = malloc(sizeof *e);
  CB_FUZZ_CHECK(e != NULL, "out of memory");
  /* Checking every run of a large grid would make the fuzzer crawl: the
   * first few and the last, plus distinct ids for all. */
  const char **ids = malloc((size_t)sw.n_runs * sizeof *ids);
  CB_FUZZ_CHECK(ids != NULL, "out of memory");
  for (int i = 0; i < sw.n_runs; i++) {
    if (i < 8 || i == sw.n_runs - 1) check_run(&sw, &sw.runs[i], e);
    ids[i] = sw.runs[i].id;
  }
  qsort(ids, (size_t)sw.n_runs, sizeof *ids, cmp_id);
  for (int i = 1; i < sw.n_runs; i++)
    CB_FUZZ_CHECK(strcmp(ids[i - 1], ids[i]) != 0, "two runs share id %s", ids[i]);
  free(ids);
  free(e);
  cb_sweep_free(&sw);
  return 0;
}

CB_FUZZ_ENTRY(sweep)

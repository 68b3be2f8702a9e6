/* Freezing sweeps into the results database: idempotence, stable positions
 * when the file grows or shrinks, retrying failed runs, runs shared between
 * sweeps, the dry run's plan writing nothing, and runs of dead workers going
 * back to pending (at once for a dead local process, after the grace period
 * otherwise, failed after the last attempt). */
#include "core/base/error.h"
#include "sweeps/sweep.h"
#include "tests/unit/support.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char BASE[] = "seed: 3\n"
                           "data: {size: [32, 32], count: 24}\n"
                           "model: {arch: unet, width: 4, depth: 2}\n"
                           "train: {epochs: 1, batch_size: 6}\n"
                           "dp: {clipping: flat, noise_multiplier: 0.5, accountants: [rdp]}\n";

static void write_file(const char *name, const char *text) {
  FILE *f = fopen(tst_tmp_path(name), "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  write_file("base.yaml", BASE);
  return 0;
}

static void load(cb_sweep *sw, const char *name, const char *text) {
  write_file(name, text);
  if (cb_sweep_load(sw, tst_tmp_path(name), 0, NULL)) fail_msg("%s", cb_last_error());
}

static cb_store *open_db(const char *name) {
  cb_store *s = cb_store_open(tst_tmp_path(name), CB_STORE_CREATE);
  if (!s) fail_msg("%s", cb_last_error());
  return s;
}

static void freeze_ok(cb_store *s, cb_sweep *sw, int retry, cb_sweep_frozen *fz) {
  if (cb_sweep_freeze(s, sw, retry, fz)) fail_msg("%s", cb_last_error());
}

static const cb_sweep_run *find(const cb_sweep *sw, const char *point) {
  for (int i = 0; i < sw->n_runs; i++)
    if (strcmp(sw->runs[i].point, point) == 0) return &sw->runs[i];
  fail_msg("no run with point %s", point);
  return NULL;
}

static const char V1[] = "name: grow\nbase: base.yaml\n"
                         "arms: {nonprivate: {dp.clipping: none}, flat: {}}\n"
                         "grid: {dp.noise_multiplier: [0.5, 1]}\n";

static void test_freeze_idempotent(void **state) {
  (void)state;
  cb_store *s = open_db("idem.db");
  cb_sweep sw;
  load(&sw, "grow.yaml", V1);
  assert_int_equal(sw.n_runs, 3);
  cb_sweep_frozen fz;
  freeze_ok(s, &sw, 0, &fz);
  assert_true(fz.sweep_id > 0);
  assert_int_equal(fz.n_new, 3);
  assert_int_equal(fz.n_listed, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(sw.runs[i].idx, i);
    assert_string_equal(sw.runs[i].status, "pending");
  }
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs"), 3);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM sweep_runs"), 3);
  char point[256];
  tst_q_text(s, "SELECT point FROM sweep_runs WHERE idx = 2", point, sizeof point);
  assert_string_equal(point, "{\"arm\":\"flat\",\"dp.noise_multiplier\":1}");
  tst_q_text(s, "SELECT name FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id WHERE idx = 2",
             point, sizeof point);
  assert_string_equal(point, "flat noise_multiplier=1");
  /* Again: nothing new, same positions, same rows. */
  cb_sweep again;
  load(&again, "grow.yaml", V1);
  freeze_ok(s, &again, 0, &fz);
  assert_int_equal(fz.n_new, 0);
  for (int i = 0; i < 3; i++) {
    assert_string_equal(again.runs[i].id, sw.runs[i].id);
    assert_int_equal(again.runs[i].idx, i);
    assert_int_equal(again.runs[i].is_new, 0);
  }
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs"), 3);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM sweep_runs"), 3);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM sweeps"), 1);
  cb_sweep_free(&sw);
  cb_sweep_free(&again);
  cb_store_close(s);
}

static void test_grow_and_shrink(void **state) {
  (void)state;
  cb_store *s = open_db("grow.db");
  cb_sweep v1, v2, v3;
  load(&v1, "grow.yaml", V1);
  cb_sweep_frozen fz;
  freeze_ok(s, &v1, 0, &fz);
  /* Finish one run, as a worker would. */
  cb_claim c;
  assert_int_equal(cb_store_claim_next(s, fz.sweep_id, "h:1", &c), 1);
  assert_string_equal(c.id, v1.runs[0].id);
  assert_int_equal(cb_store_finish(s, c.id, "h:1"), 0);
  cb_claim_free(&c);
  /* Reordered values and a new one: only the new point is added, after the
   * highest position; the others keep theirs. */
  load(&v2, "grow.yaml",
       "name: grow\nbase: base.yaml\narms: {flat: {}, nonprivate: {dp.clipping: none}}\n"
       "grid: {dp.noise_multiplier: [2, 1, 0.5]}\n");
  assert_int_equal(v2.n_runs, 4);
  freeze_ok(s, &v2, 0, &fz);
  assert_int_equal(fz.n_new, 1);
  assert_int_equal(fz.n_listed, 4);
  assert_int_equal(fz.n_not_in_file, 0);
  const cb_sweep_run *r2 = find(&v2, "{\"arm\":\"flat\",\"dp.noise_multiplier\":2}");
  assert_int_equal(r2->idx, 3);
  assert_int_equal(r2->is_new, 1);
  assert_int_equal(find(&v2, "{\"arm\":\"nonprivate\"}")->idx, 0);
  assert_string_equal(find(&v2, "{\"arm\":\"nonprivate\"}")->status, "finished");
  assert_int_equal(find(&v2, "{\"arm\":\"flat\",\"dp.noise_multiplier\":1}")->idx, 2);
  char spec[512];
  tst_q_text(s, "SELECT spec FROM sweeps", spec, sizeof spec);
  assert_non_null(strstr(spec, "[2, 1, 0.5]"));
  /* A point dropped from the file stays listed. */
  load(&v3, "grow.yaml",
       "name: grow\nbase: base.yaml\narms: {flat: {}}\ngrid: {dp.noise_multiplier: [2, 1, 0.5]}\n");
  freeze_ok(s, &v3, 0, &fz);
  assert_int_equal(fz.n_new, 0);
  assert_int_equal(fz.n_not_in_file, 1);
  assert_int_equal(fz.n_listed, 4);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM sweep_runs"), 4);
  assert_int_equal(tst_q_int(s, "SELECT max(idx) FROM sweep_runs"), 3);
  tst_q_text(s, "SELECT spec FROM sweeps", spec, sizeof spec);
  assert_non_null(strstr(spec, "nonprivate")); /* no new points: the spec stays */
  cb_sweep_free(&v1);
  cb_sweep_free(&v2);
  cb_sweep_free(&v3);
  cb_store_close(s);
}

static void test_retry_failed_and_sharing(void **state) {
  (void)state;
  cb_store *s = open_db("retry.db");
  cb_sweep a, b;
  load(&a, "a.yaml", "name: a\nbase: base.yaml\ngrid: {dp.noise_multiplier: [0.5, 1]}\n");
  cb_sweep_frozen fz;
  freeze_ok(s, &a, 0, &fz);
  cb_claim c;
  assert_int_equal(cb_store_claim_next(s, fz.sweep_id, "h:1", &c), 1);
  assert_int_equal(cb_store_fail(s, c.id, "h:1", "diverged"), 0);
  cb_claim_free(&c);
  freeze_ok(s, &a, 0, &fz);
  assert_int_equal(fz.n_retried, 0);
  assert_string_equal(a.runs[0].status, "failed");
  freeze_ok(s, &a, 1, &fz);
  assert_int_equal(fz.n_retried, 1);
  assert_string_equal(a.runs[0].status, "pending");
  /* A second sweep with one point in common shares that run. */
  load(&b, "b.yaml", "name: b\nbase: base.yaml\ngrid: {dp.noise_multiplier: [1, 2]}\n");
  freeze_ok(s, &b, 0, &fz);
  assert_int_equal(fz.n_new, 2); /* new to sweep b */
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs"), 3);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM sweep_runs"), 4);
  assert_string_equal(b.runs[0].id, a.runs[1].id);
  cb_sweep_free(&a);
  cb_sweep_free(&b);
  cb_store_close(s);
}

static void test_plan_writes_nothing(void **state) {
  (void)state;
  cb_store *s = open_db("plan.db");
  cb_sweep sw;
  load(&sw, "grow.yaml", V1);
  int64_t id = 99;
  assert_int_equal(cb_sweep_plan(s, &sw, &id), 0);
  assert_int_equal(id, 0);
  for (int i = 0; i < sw.n_runs; i++) {
    assert_int_equal(sw.runs[i].is_new, 1);
    assert_string_equal(sw.runs[i].status, "");
  }
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM sweeps"), 0);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs"), 0);
  cb_sweep_free(&sw);
  cb_store_close(s);
}

static pid_t dead_pid(void) {
  pid_t p = fork();
  if (p == 0) _exit(0);
  int st;
  waitpid(p, &st, 0);
  return p;
}

static void test_reclaim(void **state) {
  (void)state;
  cb_store *s = open_db("reclaim.db");
  cb_sweep sw;
  load(&sw, "r.yaml", "name: r\nbase: base.yaml\ngrid: {dp.noise_multiplier: [0.5, 1, 2]}\n");
  cb_sweep_frozen fz;
  freeze_ok(s, &sw, 0, &fz);
  char me[256], host[256], dead[300];
  cb_store_worker_name(me, sizeof me);
  snprintf(host, sizeof host, "%s", me);
  *strrchr(host, ':') = 0;
  snprintf(dead, sizeof dead, "%s:%ld", host, (long)dead_pid());
  cb_claim c;
  assert_int_equal(cb_store_claim_next(s, fz.sweep_id, dead, &c), 1); /* run 0 */
  cb_claim_free(&c);
  assert_int_equal(cb_store_claim_next(s, fz.sweep_id, me, &c), 1); /* run 1, a live process */
  cb_claim_free(&c);
  assert_int_equal(cb_store_claim_next(s, fz.sweep_id, "elsewhere:1", &c), 1); /* run 2 */
  cb_claim_free(&c);
  int n;
  assert_int_equal(cb_sweep_reclaim(s, fz.sweep_id, 3600, 5, &n), 0);
  assert_int_equal(n, 1);
  char q[256], st[32];
  snprintf(q, sizeof q, "SELECT status FROM runs WHERE id = '%s'", sw.runs[0].id);
  tst_q_text(s, q, st, sizeof st);
  assert_string_equal(st, "pending");
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs WHERE status = 'running'"), 2);
  /* After the grace period, other hosts' runs come back too (not ours: we are alive, but
   * with no heartbeat for longer than the grace period we are treated as dead). */
  sleep(1);
  assert_int_equal(cb_sweep_reclaim(s, fz.sweep_id, 0.5, 5, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs WHERE status = 'pending'"), 3);
  /* A run whose dead worker used its last attempt is failed, with the reason. */
  for (int k = 0; k < 2; k++) {
    snprintf(dead, sizeof dead, "%s:%ld", host, (long)dead_pid());
    assert_int_equal(cb_store_claim_run(s, sw.runs[0].id, dead, 0, &c), 1);
    cb_claim_free(&c);
    assert_int_equal(cb_sweep_reclaim(s, fz.sweep_id, 3600, 3, &n), 0);
  }
  tst_q_text(s, q, st, sizeof st);
  assert_string_equal(st, "failed");
  char err[512];
  snprintf(q, sizeof q, "SELECT error FROM runs WHERE id = '%s'", sw.runs[0].id);
  tst_q_text(s, q, err, sizeof err);
  assert_non_null(strstr(err, "died during attempt 3; not retried after 3 attempts"));
  cb_sweep_free(&sw);
  cb_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_freeze_idempotent),
      cmocka_unit_test(test_grow_and_shrink),
      cmocka_unit_test(test_retry_failed_and_sharing),
      cmocka_unit_test(test_plan_writes_nothing),
      cmocka_unit_test(test_reclaim),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}

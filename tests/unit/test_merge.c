/* Merging results databases (results/merge.h), on databases written through
 * the store's own API: a shard adds its sweep, positions, run and rows; a
 * second merge adds nothing; timing columns may differ; a finished run takes
 * a partial one further only when the partial rows are a prefix, never the
 * other way round; a killed task's running run arrives pending; a failure
 * beats a pending run at the same epoch; different values, positions or
 * configurations are conflicts that merge nothing and name the run, epoch and
 * column; a run being trained in the main database is never overwritten; an
 * older shard is migrated first, a newer one refused. */
#include "core/base/error.h"
#include "results/merge.h"
#include "results/store_internal.h"
#include "tests/unit/support.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char ID[] = "00000000000000c1";
static const char ID2[] = "00000000000000c2";
static const char CFG[] = "{\"seed\":3,\"train\":{\"epochs\":4},\"dp\":{\"clipping\":\"flat\"}}";
static const char CFG2[] = "{\"seed\":4,\"train\":{\"epochs\":4},\"dp\":{\"clipping\":\"flat\"}}";

/* A fresh database path: nothing left from an earlier test. */
static const char *path(const char *name) {
  const char *p = tst_tmp_path(name);
  unlink(p);
  return p;
}

static cb_store *open_ok(const char *p) {
  cb_store *s = cb_store_open(p, CB_STORE_CREATE);
  if (!s) fail_msg("%s", cb_last_error());
  return s;
}

typedef struct {
  const char *id, *config;
  int idx;          /* position in sweep "sw"; -1: no sweep */
  int epochs;       /* epoch rows */
  const char *end;  /* finished, failed, pending (released) or running (left held) */
  double loss_bump; /* added to train_loss of epoch bump_epoch */
  int bump_epoch;
  double dice_bump; /* added to the Dice of class 1 in epoch 1 */
  double seconds;   /* epoch_seconds: timing, ignored by merge */
} run_spec;

/* One run written the way a worker writes it. */
static void write_run(cb_store *s, const run_spec *r) {
  int64_t sweep = 0;
  if (r->idx >= 0) assert_int_equal(cb_store_add_sweep(s, "sw", "sw.yaml", "spec", &sweep), 0);
  assert_int_equal(cb_store_add_run(s, r->id, "r", r->config, sweep, r->idx, "{\"a\":1}", NULL), 0);
  cb_claim c;
  assert_int_equal(cb_store_claim_run(s, r->id, "w:1", 0, &c), 1);
  cb_claim_free(&c);
  for (int e = 1; e <= r->epochs; e++) {
    cb_epoch_row row;
    cb_epoch_row_init(&row);
    row.epoch = e;
    row.step = 10 * e;
    row.steps = 10;
    row.train_loss = 1.0 / e + (e == r->bump_epoch ? r->loss_bump : 0);
    row.val_dice = 0.1 * e;
    row.epoch_seconds = r->seconds;
    row.samples_per_s = 100 / r->seconds;
    double dice[2] = {0.5, 0.25 + (e == 1 ? r->dice_bump : 0)}, iou[2] = {0.4, 0.2};
    row.n_classes = 2;
    row.class_dice = dice;
    row.class_iou = iou;
    cb_layer_norm_row layer = {"conv1", 1.5 * e, NAN, NAN, NAN, NAN};
    row.n_layers = 1;
    row.layers = &layer;
    assert_int_equal(cb_store_put_epoch(s, r->id, "w:1", &row), 0);
  }
  if (strcmp(r->end, "finished") == 0) {
    /* A finished run's privacy audit (written before the run finishes). */
    unsigned char in[3] = {1, 0, 1}, guessed[3] = {1, 0, 0};
    double score[3] = {2.5, -0.5, 0.25};
    cb_audit_row a = {"gradient", 3,     2, 1,   1,  0.95,    1e-5, 0.0,
                      8.0,        "prv", 0, 0.1, in, guessed, score};
    assert_int_equal(cb_store_put_audit(s, r->id, &a), 0);
    assert_int_equal(cb_store_finish(s, r->id, "w:1"), 0);
  }
  if (strcmp(r->end, "failed") == 0) assert_int_equal(cb_store_fail(s, r->id, "w:1", "boom"), 0);
  if (strcmp(r->end, "pending") == 0) assert_int_equal(cb_store_release(s, r->id, "w:1"), 0);
}

static void make_db(const char *p, const run_spec *r) {
  cb_store *s = open_ok(p);
  write_run(s, r);
  cb_store_close(s);
}

static int merge(cb_store *s, const char *shard, cb_merge_stats *st) {
  int rc = cb_store_merge(s, shard, st);
  if (rc < 0) fail_msg("merge %s: %s", shard, cb_last_error());
  return rc;
}

/* Everything in the database as text (sqlite3's own quoting), to show that
 * a merge changed nothing. */
static char *dump(cb_store *s) {
  static const char *const sql[] = {
      "SELECT group_concat(quote(id) || quote(status) || quote(attempts) || quote(error), ';') "
      "FROM "
      "(SELECT * FROM runs ORDER BY id)",
      "SELECT group_concat(quote(run_id) || quote(epoch) || quote(train_loss) || "
      "quote(epoch_seconds), ';') FROM (SELECT * FROM epochs ORDER BY run_id, epoch)",
      "SELECT group_concat(quote(run_id) || quote(epoch) || quote(class) || quote(dice), ';') FROM "
      "(SELECT * FROM epoch_classes ORDER BY 1, 2, 3)",
      "SELECT group_concat(quote(sweep_id) || quote(run_id) || quote(idx), ';') FROM "
      "(SELECT * FROM sweep_runs ORDER BY 1, 3)",
      "SELECT group_concat(name, ';') FROM sweeps"};
  size_t cap = 1 << 16, len = 0;
  char *out = calloc(cap, 1);
  for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
    char part[8192];
    tst_q_text(s, sql[i], part, sizeof part);
    len += (size_t)snprintf(out + len, cap - len, "%s|", part);
  }
  return out;
}

static void test_add_then_nothing_new(void **state) {
  (void)state;
  const char *sp = path("add_shard.db"), *mp = path("add_main.db");
  make_db(sp, &(run_spec){ID, CFG, 0, 4, "finished", 0, 0, 0, 1.0});
  cb_store *m = open_ok(mp);
  cb_merge_stats st;
  assert_int_equal(merge(m, sp, &st), 0);
  assert_int_equal(st.runs_added, 1);
  assert_int_equal(st.epochs_added, 4);
  assert_int_equal(st.sweeps_added, 1);
  assert_int_equal(st.positions_added, 1);
  assert_int_equal(st.n_conflicts, 0);
  assert_int_equal(tst_q_int(m, "SELECT count(*) FROM epochs"), 4);
  assert_int_equal(tst_q_int(m, "SELECT count(*) FROM epoch_classes"), 8);
  assert_int_equal(tst_q_int(m, "SELECT count(*) FROM layer_norms"), 4);
  /* The privacy audit and its canaries come along. */
  assert_int_equal(tst_q_int(m, "SELECT correct FROM audits"), 1);
  assert_true(tst_q_num(m, "SELECT epsilon FROM audits") == 8.0);
  assert_int_equal(tst_q_int(m, "SELECT count(*) FROM audit_canaries"), 3);
  assert_true(tst_q_num(m, "SELECT score FROM audit_canaries WHERE canary = 2") == 0.25);
  assert_int_equal(tst_q_int(m, "SELECT idx FROM sweep_runs JOIN sweeps ON id = sweep_id WHERE "
                                "name = 'sw'"),
                   0);
  char status[32];
  tst_q_text(m, "SELECT status FROM runs", status, sizeof status);
  assert_string_equal(status, "finished");
  char *before = dump(m);
  /* Twice: nothing is added or changed. */
  assert_int_equal(merge(m, sp, &st), 0);
  assert_int_equal(
      st.runs_added + st.runs_updated + st.epochs_added + st.sweeps_added + st.positions_added, 0);
  assert_int_equal(st.runs_unchanged, 1);
  /* A shard with the same results but other timings is the same run. */
  const char *sp2 = path("add_shard_slow.db");
  make_db(sp2, &(run_spec){ID, CFG, 0, 4, "finished", 0, 0, 0, 7.0});
  assert_int_equal(merge(m, sp2, &st), 0);
  assert_int_equal(st.runs_unchanged, 1);
  char *after = dump(m);
  assert_string_equal(before, after);
  free(before);
  free(after);
  /* A database is not merged into itself. */
  assert_int_equal(cb_store_merge(m, mp, &st), -1);
  assert_non_null(strstr(cb_last_error(), "is the database being merged into"));
  cb_store_close(m);
}

static void test_prefix_rules(void **state) {
  (void)state;
  const char *part = path("pre_part.db"), *full = path("pre_full.db");
  make_db(part, &(run_spec){ID, CFG, 0, 2, "pending", 0, 0, 0, 1.0});
  make_db(full, &(run_spec){ID, CFG, 0, 4, "finished", 0, 0, 0, 3.0});
  /* Partial in main, finished in the shard: the shard's rows replace them. */
  cb_store *m = open_ok(path("pre_main1.db"));
  cb_merge_stats st;
  assert_int_equal(merge(m, part, &st), 0);
  assert_int_equal(st.runs_added, 1);
  assert_int_equal(merge(m, part, &st), 0); /* the same partial run again: nothing */
  assert_int_equal(st.runs_unchanged, 1);
  assert_int_equal(st.runs_updated, 0);
  assert_int_equal(merge(m, full, &st), 0);
  assert_int_equal(st.runs_updated, 1);
  assert_int_equal(st.epochs_added, 2);
  char status[32];
  tst_q_text(m, "SELECT status FROM runs", status, sizeof status);
  assert_string_equal(status, "finished");
  assert_int_equal(tst_q_int(m, "SELECT count(*) FROM epochs"), 4);
  assert_int_equal(tst_q_int(m, "SELECT count(*) FROM epoch_classes"), 8);
  assert_true(fabs(tst_q_num(m, "SELECT sum(epoch_seconds) FROM epochs") - 12.0) < 1e-12);
  /* Finished in main, partial in the shard: nothing changes. */
  char *before = dump(m);
  assert_int_equal(merge(m, part, &st), 0);
  assert_int_equal(st.runs_unchanged, 1);
  char *after = dump(m);
  assert_string_equal(before, after);
  free(before);
  free(after);
  cb_store_close(m);
}

static void test_killed_and_failed(void **state) {
  (void)state;
  /* A task killed while training left its run running: pending here,
   * whether the run is new to the main database or taken further. */
  const char *killed = path("k_shard.db"), *fresh = path("k_fresh.db");
  make_db(killed, &(run_spec){ID, CFG, 0, 1, "running", 0, 0, 0, 1.0});
  make_db(fresh, &(run_spec){ID, CFG, 0, 0, "pending", 0, 0, 0, 1.0});
  cb_store *m = open_ok(path("k_main0.db"));
  cb_merge_stats st;
  assert_int_equal(merge(m, killed, &st), 0);
  assert_int_equal(st.runs_added, 1);
  char status[32];
  tst_q_text(m, "SELECT status FROM runs", status, sizeof status);
  assert_string_equal(status, "pending");
  cb_store_close(m);
  m = open_ok(path("k_main.db"));
  assert_int_equal(merge(m, fresh, &st), 0);
  assert_int_equal(merge(m, killed, &st), 0);
  assert_int_equal(st.runs_updated, 1);
  tst_q_text(m, "SELECT status FROM runs", status, sizeof status);
  assert_string_equal(status, "pending");
  /* A failure at the same epoch beats pending, with its error. */
  const char *failed = path("k_failed.db");
  make_db(failed, &(run_spec){ID, CFG, 0, 1, "failed", 0, 0, 0, 1.0});
  assert_int_equal(merge(m, failed, &st), 0);
  assert_int_equal(st.runs_updated, 1);
  tst_q_text(m, "SELECT status || ': ' || error FROM runs", status, sizeof status);
  assert_string_equal(status, "failed: boom");
  /* A retry that got further (pending at epoch 3) beats the failure. */
  const char *retry = path("k_retry.db");
  make_db(retry, &(run_spec){ID, CFG, 0, 3, "pending", 0, 0, 0, 1.0});
  assert_int_equal(merge(m, retry, &st), 0);
  tst_q_text(m, "SELECT status || ' ' || (SELECT count(*) FROM epochs) FROM runs", status,
             sizeof status);
  assert_string_equal(status, "pending 3");
  cb_store_close(m);
}

static void expect_conflict(cb_store *m, const char *shard, const char *want) {
  char *before = dump(m);
  cb_merge_stats st;
  assert_int_equal(merge(m, shard, &st), 1);
  assert_int_equal(st.n_conflicts, 1);
  if (!strstr(st.conflicts[0], want)) fail_msg("conflict '%s' lacks '%s'", st.conflicts[0], want);
  assert_int_equal(st.runs_added + st.runs_updated + st.epochs_added, 0);
  char *after = dump(m);
  assert_string_equal(before, after);
  free(before);
  free(after);
  cb_merge_stats_free(&st);
}

static void test_conflicts(void **state) {
  (void)state;
  const char *mp = path("c_main.db");
  make_db(mp, &(run_spec){ID, CFG, 0, 4, "finished", 0, 0, 0, 1.0});
  cb_store *m = open_ok(mp);
  /* A different value in an epoch both have, whatever the statuses. */
  const char *a = path("c_loss.db");
  make_db(a, &(run_spec){ID, CFG, 0, 4, "finished", 1e-9, 3, 0, 1.0});
  expect_conflict(m, a, "run 00000000000000c1 (finished in ");
  expect_conflict(m, a, "epochs, epoch 3: train_loss is 0.33333333333333331 in ");
  const char *b = path("c_partial.db");
  make_db(b, &(run_spec){ID, CFG, 0, 2, "pending", 0, 0, 0.5, 1.0});
  expect_conflict(m, b, "epoch_classes, epoch 1, class 1: dice is 0.25 in ");
  /* Rows beyond the end of a run finished in the main database. */
  const char *g = path("c_longer.db");
  make_db(g, &(run_spec){ID, CFG, 0, 5, "pending", 0, 0, 0, 1.0});
  expect_conflict(m, g, "finished with 4 epochs in ");
  /* A configuration that differs under the same id. */
  const char *c = path("c_config.db");
  make_db(c, &(run_spec){ID, CFG2, 0, 4, "finished", 0, 0, 0, 1.0});
  expect_conflict(m, c, "run 00000000000000c1: its configuration differs");
  /* Positions: the same run elsewhere, or another run at its position. */
  const char *d = path("c_pos.db");
  make_db(d, &(run_spec){ID, CFG, 5, 4, "finished", 0, 0, 0, 1.0});
  expect_conflict(m, d, "run 00000000000000c1 is at position 5 of sweep sw in the shard but at 0");
  const char *e = path("c_other.db");
  make_db(e, &(run_spec){ID2, CFG2, 0, 1, "finished", 0, 0, 0, 1.0});
  expect_conflict(m, e, "position 0 of sweep sw holds run 00000000000000c1 in ");
  cb_store_close(m);
  /* A run being trained in the main database is left to its worker. */
  const char *rp = path("c_running.db");
  make_db(rp, &(run_spec){ID, CFG, 0, 1, "running", 0, 0, 0, 1.0});
  m = open_ok(rp);
  const char *f = path("c_done.db");
  make_db(f, &(run_spec){ID, CFG, 0, 4, "finished", 0, 0, 0, 1.0});
  expect_conflict(m, f, "is being trained in ");
  cb_store_close(m);
}

static void test_schema_versions(void **state) {
  (void)state;
  cb_migration next[CB_N_MIGRATIONS + 1];
  memcpy(next, CB_MIGRATIONS, sizeof(cb_migration) * CB_N_MIGRATIONS);
  int latest = CB_MIGRATIONS[CB_N_MIGRATIONS - 1].version;
  next[CB_N_MIGRATIONS] =
      (cb_migration){latest + 1, "test: runs.note", "ALTER TABLE runs ADD COLUMN note TEXT;"};
  /* A shard from a newer clipbench is refused, naming both versions. */
  const char *newer = path("v_newer.db");
  make_db(newer, &(run_spec){ID, CFG, 0, 2, "finished", 0, 0, 0, 1.0});
  cb_store *s = cb_store_open_with(newer, 0, next, CB_N_MIGRATIONS + 1);
  assert_non_null(s);
  cb_store_close(s);
  cb_store *m = open_ok(path("v_main.db"));
  cb_merge_stats st;
  assert_int_equal(cb_store_merge(m, newer, &st), -1);
  char want[160];
  snprintf(want, sizeof want, "schema version %d is newer than this clipbench understands (%d)",
           latest + 1, latest);
  assert_non_null(strstr(cb_last_error(), "cannot merge"));
  assert_non_null(strstr(cb_last_error(), want));
  assert_int_equal(tst_q_int(m, "SELECT count(*) FROM runs"), 0);
  cb_store_close(m);
  /* An older shard is migrated first, then merged. */
  const char *older = path("v_older.db");
  make_db(older, &(run_spec){ID, CFG, 0, 2, "finished", 0, 0, 0, 1.0});
  m = cb_store_open_with(path("v_main2.db"), CB_STORE_CREATE, next, CB_N_MIGRATIONS + 1);
  assert_non_null(m);
  assert_int_equal(cb_store_merge_with(m, older, next, CB_N_MIGRATIONS + 1, &st), 0);
  assert_int_equal(st.migrated_from, latest);
  assert_int_equal(st.runs_added, 1);
  assert_int_equal(tst_q_int(m, "SELECT count(*) FROM epochs"), 2);
  cb_store_close(m);
  /* Not a clipbench database. */
  const char *other = path("v_other.db");
  sqlite3 *db;
  assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  m = open_ok(path("v_main3.db"));
  assert_int_equal(cb_store_merge(m, other, &st), -1);
  assert_non_null(strstr(cb_last_error(), "not a clipbench results database"));
  cb_store_close(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_then_nothing_new), cmocka_unit_test(test_prefix_rules),
      cmocka_unit_test(test_killed_and_failed),    cmocka_unit_test(test_conflicts),
      cmocka_unit_test(test_schema_versions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

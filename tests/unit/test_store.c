/* The results store: schema creation and migration (fresh, from the version 1
 * fixture, refusing newer files), connection settings, the run life cycle,
 * idempotent epoch writes, clear errors for wrong files, and four processes
 * opening one fresh database and claiming runs from it at once (every run
 * claimed exactly once, no "database is locked"). */
#include "core/base/error.h"
#include "results/store_internal.h"
#include "tests/unit/support.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char CFG[] =
    "{\"data\":{\"classes\":9,\"size\":[64,32],\"source\":\"synthetic\"},\"dp\":{\"clip_bound\":"
    "0.5,\"clipping\":\"flat\",\"noise_multiplier\":0.7,\"delta\":1e-05,\"accountants\":[\"rdp\"]},"
    "\"model\":{\"arch\":\"nested_unet\",\"width\":8,\"depth\":2,\"up\":\"bilinear\"},\"seed\":3,"
    "\"train\":{\"batch_size\":10,\"epochs\":4,\"lr\":0.001,\"optimizer\":\"adam\","
    "\"weight_decay\":0}}";

static cb_store *open_ok(const char *path) {
  cb_store *s = cb_store_open(path, CB_STORE_CREATE);
  if (!s) fail_msg("%s", cb_last_error());
  return s;
}

static void test_fresh_database(void **state) {
  (void)state;
  const char *p = tst_tmp_path("new/sub/fresh.db"); /* folders are created */
  cb_store *s = open_ok(p);
  assert_int_equal(cb_store_schema_version(s), cb_store_code_schema_version());
  char mode[16];
  tst_q_text(s, "PRAGMA journal_mode", mode, sizeof mode);
  assert_string_equal(mode, "wal");
  assert_int_equal(tst_q_int(s, "PRAGMA foreign_keys"), 1);
  assert_int_equal(tst_q_int(s, "PRAGMA synchronous"), 1); /* NORMAL */
  assert_int_equal(tst_q_int(s, "PRAGMA busy_timeout"), 10000);
  assert_int_equal(tst_q_int(s, "PRAGMA application_id"), CB_STORE_APPLICATION_ID);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM schema_migrations"), CB_N_MIGRATIONS);
  cb_store_close(s);
  /* Opening again applies nothing. */
  s = open_ok(p);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM schema_migrations"), CB_N_MIGRATIONS);
  cb_store_close(s);
}

static void test_runs_and_claims(void **state) {
  (void)state;
  cb_store *s = open_ok(tst_tmp_path("runs.db"));
  int64_t sw, sw2;
  assert_int_equal(cb_store_add_sweep(s, "study", "sweeps/study.yaml", "grid: {}", &sw), 0);
  assert_int_equal(cb_store_add_sweep(s, "study", "other.yaml", "x", &sw2), 0);
  assert_true(sw == sw2 && sw > 0);
  int created;
  assert_int_equal(cb_store_add_run(s, "aaaaaaaaaaaaaaa1", "r1", CFG, sw, 0, "{\"x\":1}", &created),
                   0);
  assert_int_equal(created, 1);
  assert_int_equal(cb_store_add_run(s, "aaaaaaaaaaaaaaa1", "again", CFG, sw, 0, NULL, &created), 0);
  assert_int_equal(created, 0); /* upsert: never a duplicate */
  assert_int_equal(cb_store_add_run(s, "aaaaaaaaaaaaaaa2", "r2", CFG, sw, 1, NULL, NULL), 0);
  assert_int_equal(cb_store_add_run(s, "aaaaaaaaaaaaaaa3", "r3", CFG, 0, 0, NULL, NULL), 0);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs"), 3);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM sweep_runs"), 2);
  /* Main fields are copied from the config. */
  char t[128];
  tst_q_text(
      s,
      "SELECT arch || ' ' || clipping || ' ' || accountant || ' ' || optimizer || ' ' || name "
      "FROM runs WHERE id = 'aaaaaaaaaaaaaaa1'",
      t, sizeof t);
  assert_string_equal(t, "nested_unet flat rdp adam r1");
  assert_true(tst_q_num(s, "SELECT noise_multiplier FROM runs WHERE id = 'aaaaaaaaaaaaaaa1'") ==
              0.7);
  assert_true(
      tst_q_num(s, "SELECT clip_bound * seed * image_h * image_w * epochs FROM runs LIMIT 1") ==
      0.5 * 3 * 64 * 32 * 4);
  assert_true(isnan(tst_q_num(s, "SELECT target_epsilon FROM runs LIMIT 1")));
  /* Invalid JSON is refused with the file name. */
  assert_int_equal(cb_store_add_run(s, "aaaaaaaaaaaaaaa9", "bad", "{not json", 0, 0, NULL, NULL),
                   -1);
  assert_non_null(strstr(cb_last_error(), "runs.db: adding a run"));

  /* Claims follow the sweep's order; a sweep's claim ignores other runs. */
  cb_claim c;
  assert_int_equal(cb_store_claim_next(s, sw, "w1:1", &c), 1);
  assert_string_equal(c.id, "aaaaaaaaaaaaaaa1");
  assert_int_equal(c.attempts, 1);
  assert_int_equal(c.epochs_done, 0);
  assert_non_null(strstr(c.config, "nested_unet"));
  cb_claim_free(&c);
  assert_int_equal(cb_store_claim_next(s, sw, "w2:2", &c), 1);
  assert_string_equal(c.id, "aaaaaaaaaaaaaaa2");
  cb_claim_free(&c);
  assert_int_equal(cb_store_claim_next(s, sw, "w2:2", &c), 0);
  /* Claiming one run: reasons when it cannot be taken. */
  assert_int_equal(cb_store_claim_run(s, "aaaaaaaaaaaaaaa1", "w3:3", 0, &c), 0);
  assert_string_equal(c.status, "running");
  assert_int_equal(cb_store_claim_run(s, "nonexistent00000", "w3:3", 0, &c), -1);
  /* Ownership: only the holder may heartbeat, finish or fail. */
  assert_int_equal(cb_store_heartbeat(s, "aaaaaaaaaaaaaaa1", "w1:1"), 0);
  assert_int_equal(cb_store_heartbeat(s, "aaaaaaaaaaaaaaa1", "w2:2"), -1);
  assert_non_null(
      strstr(cb_last_error(), "is no longer held by w2:2 (status running, worker w1:1)"));
  assert_int_equal(cb_store_finish(s, "aaaaaaaaaaaaaaa1", "w1:1"), 0);
  assert_int_equal(cb_store_finish(s, "aaaaaaaaaaaaaaa1", "w1:1"), -1);
  assert_int_equal(cb_store_claim_run(s, "aaaaaaaaaaaaaaa1", "w3:3", 1, &c), 0);
  assert_string_equal(c.status, "finished");
  assert_int_equal(cb_store_fail(s, "aaaaaaaaaaaaaaa2", "w2:2", "loss is NaN at epoch 3"), 0);
  tst_q_text(s, "SELECT status || ': ' || error FROM runs WHERE id = 'aaaaaaaaaaaaaaa2'", t,
             sizeof t);
  assert_string_equal(t, "failed: loss is NaN at epoch 3");
  assert_int_equal(cb_store_claim_run(s, "aaaaaaaaaaaaaaa2", "w3:3", 0, &c), 0);
  assert_string_equal(c.status, "failed");
  assert_int_equal(cb_store_claim_run(s, "aaaaaaaaaaaaaaa2", "w3:3", 1, &c), 1); /* retry */
  assert_int_equal(c.attempts, 2);
  cb_claim_free(&c);
  assert_true(isnan(tst_q_num(s, "SELECT error FROM runs WHERE id = 'aaaaaaaaaaaaaaa2'")));
  /* Release gives it back. */
  assert_int_equal(cb_store_release(s, "aaaaaaaaaaaaaaa2", "w3:3"), 0);
  int counts[4];
  assert_int_equal(cb_store_status_counts(s, sw, counts), 0);
  assert_int_equal(counts[CB_RUN_PENDING], 1);
  assert_int_equal(counts[CB_RUN_FINISHED], 1);
  assert_int_equal(cb_store_status_counts(s, 0, counts), 0);
  assert_int_equal(counts[CB_RUN_PENDING], 2);

  /* Dead workers: a stale heartbeat returns the run to pending, and after
   * max_attempts to failed. */
  assert_int_equal(cb_store_claim_run(s, "aaaaaaaaaaaaaaa3", "dead:9", 0, &c), 1);
  cb_claim_free(&c);
  int n;
  assert_int_equal(cb_store_requeue_stale(s, 60, 0, &n), 0);
  assert_int_equal(n, 0); /* heartbeat is fresh */
  sqlite3_exec(cb_store_db(s),
               "UPDATE runs SET heartbeat_at = heartbeat_at - 120 WHERE id = 'aaaaaaaaaaaaaaa3'",
               NULL, NULL, NULL);
  assert_int_equal(cb_store_requeue_stale(s, 60, 0, &n), 0);
  assert_int_equal(n, 1);
  tst_q_text(s, "SELECT status FROM runs WHERE id = 'aaaaaaaaaaaaaaa3'", t, sizeof t);
  assert_string_equal(t, "pending");
  /* The dead worker wakes up: its writes are refused. */
  assert_int_equal(cb_store_heartbeat(s, "aaaaaaaaaaaaaaa3", "dead:9"), -1);
  assert_int_equal(cb_store_claim_run(s, "aaaaaaaaaaaaaaa3", "dead:10", 0, &c), 1);
  assert_int_equal(c.attempts, 2);
  cb_claim_free(&c);
  sqlite3_exec(cb_store_db(s),
               "UPDATE runs SET heartbeat_at = heartbeat_at - 120 WHERE id = 'aaaaaaaaaaaaaaa3'",
               NULL, NULL, NULL);
  assert_int_equal(cb_store_requeue_stale(s, 60, 2, &n), 0);
  tst_q_text(s, "SELECT status || ': ' || error FROM runs WHERE id = 'aaaaaaaaaaaaaaa3'", t,
             sizeof t);
  assert_string_equal(
      t, "failed: worker dead:10 stopped sending heartbeats; gave up after 2 attempts");
  /* Informational columns. */
  assert_int_equal(cb_store_set_run_field(s, "aaaaaaaaaaaaaaa1", "backend", "cpu"), 0);
  assert_int_equal(cb_store_set_run_field(s, "aaaaaaaaaaaaaaa1", "status", "pending"), -1);
  cb_store_close(s);
}

static void fill_epoch(cb_epoch_row *r, int epoch, double val, double *dice, cb_layer_norm_row *L) {
  cb_epoch_row_init(r);
  r->epoch = epoch;
  r->steps = 7;
  r->step = 7 * epoch;
  r->train_loss = val;
  r->epsilon = 0.5 * epoch;
  r->accountant = "rdp";
  r->eps_rdp = r->epsilon;
  r->eps_pld = 0.25 * epoch;
  for (int k = 0; k < 7; k++)
    r->norm[k] = k + val;
  for (int c = 0; c < 3; c++)
    dice[c] = val + c;
  r->n_classes = 3;
  r->class_dice = dice;
  L[0] = (cb_layer_norm_row){"a.weight", val, val, val, NAN, NAN, NULL};
  L[1] = (cb_layer_norm_row){"b.weight", 2 * val, val, val, 1.0, 0.5, "tensor"};
  r->n_layers = 2;
  r->layers = L;
}

static void test_epochs_idempotent(void **state) {
  (void)state;
  cb_store *s = open_ok(tst_tmp_path("epochs.db"));
  assert_int_equal(cb_store_add_run(s, "bbbbbbbbbbbbbbb1", "r", CFG, 0, 0, NULL, NULL), 0);
  cb_claim c;
  assert_int_equal(cb_store_claim_run(s, "bbbbbbbbbbbbbbb1", "w:1", 0, &c), 1);
  cb_claim_free(&c);
  cb_epoch_row r;
  double dice[3];
  cb_layer_norm_row L[2];
  for (int e = 1; e <= 3; e++) {
    fill_epoch(&r, e, 10.0 * e, dice, L);
    if (cb_store_put_epoch(s, "bbbbbbbbbbbbbbb1", "w:1", &r)) fail_msg("%s", cb_last_error());
  }
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epochs"), 3);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epoch_classes"), 9);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM layer_norms"), 6);
  /* NaN is stored as NULL. */
  assert_int_equal(
      tst_q_int(s, "SELECT count(*) FROM epochs WHERE val_dice IS NULL AND eps_prv IS NULL"), 3);
  assert_true(tst_q_num(s, "SELECT sum(eps_pld) FROM epochs") == 0.25 * (1 + 2 + 3));
  /* A resumed attempt recomputes epoch 2 (killed after writing epoch 3 but
   * before its checkpoint): epoch 2 is replaced as a unit, epoch 3's rows go. */
  fill_epoch(&r, 2, 99, dice, L);
  assert_int_equal(cb_store_put_epoch(s, "bbbbbbbbbbbbbbb1", "w:1", &r), 0);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epochs"), 2);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epoch_classes"), 6);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM layer_norms"), 4);
  assert_true(tst_q_num(s, "SELECT train_loss FROM epochs WHERE epoch = 2") == 99);
  assert_true(tst_q_num(s, "SELECT sum(dice) FROM epoch_classes WHERE epoch = 2") == 99 * 3 + 3);
  /* The same epoch twice: still one row of each. */
  assert_int_equal(cb_store_put_epoch(s, "bbbbbbbbbbbbbbb1", "w:1", &r), 0);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epochs"), 2);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM layer_norms WHERE epoch = 2"), 2);
  /* Gaps are refused. */
  fill_epoch(&r, 4, 1, dice, L);
  assert_int_equal(cb_store_put_epoch(s, "bbbbbbbbbbbbbbb1", "w:1", &r), -1);
  assert_non_null(strstr(cb_last_error(), "epoch 3 has no rows yet"));
  /* So are writes from a worker that does not hold the run; nothing changes. */
  fill_epoch(&r, 3, 1, dice, L);
  assert_int_equal(cb_store_put_epoch(s, "bbbbbbbbbbbbbbb1", "other:2", &r), -1);
  assert_non_null(strstr(cb_last_error(), "no longer held by other:2"));
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epochs"), 2);
  /* Progress. */
  cb_run_progress p;
  assert_int_equal(cb_store_progress(s, "bbbbbbbbbbbbbbb1", &p), 0);
  assert_int_equal(p.epochs_done, 2);
  assert_int_equal(p.epochs_total, 4);
  assert_true(p.epsilon == 1.0);
  assert_string_equal(p.status, "running");
  assert_string_equal(p.worker, "w:1");
  assert_int_equal(cb_store_truncate_epochs(s, "bbbbbbbbbbbbbbb1", 1), 0);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epochs"), 1);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epoch_classes"), 3);
  /* Explicit transactions group writes and roll back as a whole. */
  assert_int_equal(cb_store_begin(s), 0);
  assert_int_equal(cb_store_add_run(s, "bbbbbbbbbbbbbbb2", "r", CFG, 0, 0, NULL, NULL), 0);
  cb_store_rollback(s);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs"), 1);
  cb_store_close(s);
}

/* Loads the version 1 fixture into a fresh file. */
static void make_v1(const char *path) {
  FILE *f = fopen(tst_src_path("tests/fixtures/store_v1.sql"), "rb");
  assert_non_null(f);
  static char sql[1 << 16];
  size_t n = fread(sql, 1, sizeof sql - 1, f);
  fclose(f);
  sql[n] = 0;
  sqlite3 *db;
  remove(path);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("fixture: %s", err);
  sqlite3_close(db);
}

/* A run's sampling facts and its test rows (issue 14): written for the
 * worker holding the run only, replaced as a unit (the classes go with their
 * row), NaN stored as NULL, and refused for a weights name the schema does
 * not know. */
static void test_sampling_and_test_rows(void **state) {
  (void)state;
  cb_store *s = open_ok(tst_tmp_path("test_rows.db"));
  const char *id = "ccccccccccccccc1";
  assert_int_equal(cb_store_add_run(s, id, "r", CFG, 0, 0, NULL, NULL), 0);
  cb_claim c;
  assert_int_equal(cb_store_claim_run(s, id, "w:1", 0, &c), 1);
  cb_claim_free(&c);
  cb_run_sampling rs = {10.0 / 66, 66, "shuffle", 0, "train.sampling: shuffle"};
  assert_int_equal(cb_store_set_run_sampling(s, id, "other:2", &rs), -1);
  assert_non_null(strstr(cb_last_error(), "not running under other:2"));
  assert_int_equal(cb_store_set_run_sampling(s, id, "w:1", &rs), 0);
  assert_true(tst_q_num(s, "SELECT sample_rate FROM runs") == 10.0 / 66);
  assert_int_equal(tst_q_int(s, "SELECT dataset_size + 1000 * dp_guarantee FROM runs"), 66);
  char txt[128];
  tst_q_text(s, "SELECT sampling || '|' || dp_caveat FROM runs", txt, sizeof txt);
  assert_string_equal(txt, "shuffle|train.sampling: shuffle");
  cb_run_sampling np = {0.25, 40, "poisson", -1, NULL};
  assert_int_equal(cb_store_set_run_sampling(s, id, "w:1", &np), 0);
  assert_int_equal(tst_q_int(s, "SELECT dp_guarantee IS NULL AND dp_caveat IS NULL FROM runs"), 1);

  double dice[3] = {0.9, 0.5, NAN}, iou[3] = {0.8, 0.4, 0.1};
  cb_test_row r = {"final", 4, 1.5, 0.9, 0.7, 0.6, 0.5, 0.4, 3, dice, iou};
  assert_int_equal(cb_store_put_test(s, id, "other:2", &r), -1);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM test_metrics"), 0);
  assert_int_equal(cb_store_put_test(s, id, "w:1", &r), 0);
  r.weights = "best_val";
  r.epoch = 2;
  r.dice = 0.75;
  assert_int_equal(cb_store_put_test(s, id, "w:1", &r), 0);
  assert_int_equal(cb_store_put_test(s, id, "w:1", &r), 0); /* again: replaced, not added */
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM test_metrics"), 2);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM test_classes"), 6);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM test_classes WHERE dice IS NULL"), 2);
  assert_true(tst_q_num(s, "SELECT dice FROM test_metrics WHERE weights = 'best_val'") == 0.75);
  assert_int_equal(tst_q_int(s, "SELECT epoch FROM test_metrics WHERE weights = 'best_val'"), 2);
  r.weights = "best";
  assert_int_equal(cb_store_put_test(s, id, "w:1", &r), -1);
  cb_store_close(s);
}

static void test_migrations(void **state) {
  (void)state;
  const char *p = tst_tmp_path("v1.db");
  /* The released version 1 opens with the current code and keeps its rows. */
  make_v1(p);
  cb_store *s = open_ok(p);
  assert_int_equal(cb_store_schema_version(s), cb_store_code_schema_version());
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epochs WHERE run_id = '00000000000000a1'"),
                   2);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM layer_norms"), 4);
  /* ... and works: the pending fixture run can be claimed and finished. */
  cb_claim c;
  assert_int_equal(cb_store_claim_next(s, 0, "w:1", &c), 1);
  assert_string_equal(c.id, "00000000000000a2");
  cb_claim_free(&c);
  cb_store_close(s);

  /* A later migration applies on top, in order, once, and keeps data. */
  cb_migration next[CB_N_MIGRATIONS + 1];
  memcpy(next, CB_MIGRATIONS, sizeof(cb_migration) * CB_N_MIGRATIONS);
  int latest = CB_MIGRATIONS[CB_N_MIGRATIONS - 1].version;
  next[CB_N_MIGRATIONS] = (cb_migration){latest + 1, "test: runs.note",
                                         "ALTER TABLE runs ADD COLUMN note TEXT;"
                                         "UPDATE runs SET note = 'migrated ' || id;"};
  make_v1(p);
  s = cb_store_open_with(p, 0, next, CB_N_MIGRATIONS + 1);
  if (!s) fail_msg("%s", cb_last_error());
  assert_int_equal(cb_store_schema_version(s), latest + 1);
  char t[64];
  tst_q_text(s, "SELECT note FROM runs WHERE id = '00000000000000a1'", t, sizeof t);
  assert_string_equal(t, "migrated 00000000000000a1");
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epochs"), 2);
  cb_store_close(s);
  s = cb_store_open_with(p, 0, next, CB_N_MIGRATIONS + 1); /* nothing left to apply */
  assert_non_null(s);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM schema_migrations"), CB_N_MIGRATIONS + 1);
  cb_store_close(s);
  /* Older code refuses the newer file with a clear message. */
  s = cb_store_open(p, 0);
  assert_null(s);
  char want[128];
  snprintf(want, sizeof want, "schema version %d is newer than this clipbench understands (%d)",
           latest + 1, latest);
  assert_non_null(strstr(cb_last_error(), want));
  assert_non_null(strstr(cb_last_error(), "v1.db"));
  /* A failing migration leaves the file as it was (one transaction). */
  next[CB_N_MIGRATIONS].sql = "ALTER TABLE runs ADD COLUMN note2 TEXT; SELECT no_such_function();";
  make_v1(p);
  assert_null(cb_store_open_with(p, 0, next, CB_N_MIGRATIONS + 1));
  assert_non_null(strstr(cb_last_error(), "applying schema migration"));
  s = open_ok(p);
  assert_int_equal(
      tst_q_int(s, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'note2'"), 0);
  cb_store_close(s);
}

static void test_wrong_files(void **state) {
  (void)state;
  /* Missing without create. */
  assert_null(cb_store_open(tst_tmp_path("missing.db"), 0));
  assert_non_null(strstr(cb_last_error(), "missing.db: no such database"));
  /* Not a database. */
  const char *junk = tst_tmp_path("junk.db");
  FILE *f = fopen(junk, "wb");
  for (int i = 0; i < 4096; i++)
    fputc("not sqlite "[i % 11], f);
  fclose(f);
  assert_null(cb_store_open(junk, CB_STORE_CREATE));
  assert_non_null(strstr(cb_last_error(), "junk.db"));
  assert_non_null(strstr(cb_last_error(), "not an SQLite database"));
  /* Someone else's database. */
  const char *other = tst_tmp_path("other.db");
  sqlite3 *db;
  sqlite3_open(other, &db);
  sqlite3_exec(db, "CREATE TABLE invoices (x)", NULL, NULL, NULL);
  sqlite3_close(db);
  assert_null(cb_store_open(other, CB_STORE_CREATE));
  assert_non_null(strstr(cb_last_error(), "not a clipbench results database"));
  /* A folder. */
  assert_null(cb_store_open(tst_tmpdir(), CB_STORE_CREATE));
  assert_non_null(strstr(cb_last_error(), "is a folder"));
  /* A folder that cannot be created. */
  assert_null(cb_store_open("/proc/no/such/results.db", CB_STORE_CREATE));
  assert_non_null(strstr(cb_last_error(), "cannot create folder"));
}

/* Issue 16 (1): interruptions (Ctrl-C, SIGTERM, a stopping sweep, SLURM
 * requeue: cb_store_release) never use up attempts; only crashes (a worker
 * that died holding the run: cb_store_requeue, or a stale heartbeat) do. */
static void test_interruptions_do_not_count(void **state) {
  (void)state;
  cb_store *s = open_ok(tst_tmp_path("interrupt.db"));
  assert_int_equal(cb_store_add_run(s, "cccccccccccccccc", "r", CFG, 0, 0, NULL, NULL), 0);
  cb_claim c;
  for (int i = 0; i < 3 * 5; i++) {
    assert_int_equal(cb_store_claim_next(s, 0, "w:1", &c), 1);
    assert_int_equal(c.attempts, i + 1);
    assert_int_equal(c.counted, 1);
    cb_claim_free(&c);
    assert_int_equal(cb_store_release(s, "cccccccccccccccc", "w:1"), 0);
  }
  assert_int_equal(tst_q_int(s, "SELECT interruptions FROM runs"), 15);
  /* A crash after fifteen interruptions is the first counted attempt: the run
   * goes back to pending, not to failed. */
  assert_int_equal(cb_store_claim_next(s, 0, "w:2", &c), 1);
  cb_claim_free(&c);
  int n = 0;
  assert_int_equal(cb_store_requeue_stale(s, -1.0, 5, &n), 0);
  assert_int_equal(n, 1);
  char st[16];
  tst_q_text(s, "SELECT status FROM runs", st, sizeof st);
  assert_string_equal(st, "pending");
  /* Four more crashes (requeue: a dead worker's run) reach the limit of 5. */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(cb_store_claim_next(s, 0, "w:3", &c), 1);
    assert_int_equal(c.counted, i + 2);
    cb_claim_free(&c);
    assert_int_equal(cb_store_requeue(s, "cccccccccccccccc", "w:3"), 0);
  }
  assert_int_equal(cb_store_claim_next(s, 0, "w:4", &c), 1);
  assert_int_equal(c.counted, 5);
  cb_claim_free(&c);
  assert_int_equal(cb_store_requeue_stale(s, -1.0, 5, &n), 0);
  tst_q_text(s, "SELECT status FROM runs", st, sizeof st);
  assert_string_equal(st, "failed");
  assert_int_equal(tst_q_int(s, "SELECT attempts - interruptions FROM runs"), 5);
  cb_store_close(s);
}

static void hash_file(const char *path, char out[65]) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static unsigned char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  /* Size and an FNV-1a hash of every byte: enough to see any change. */
  unsigned long long h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ buf[i]) * 1099511628211ull;
  snprintf(out, 65, "%zu:%016llx", n, h);
}

/* Issue 16 (3): a foreign SQLite file is identified before anything changes
 * it: refused read-write and read-only, byte for byte unchanged, its journal
 * mode untouched, no -wal file; a foreign table called schema_migrations does
 * not make it ours. */
static void test_foreign_file_untouched(void **state) {
  (void)state;
  const char *p = tst_tmp_path("theirs.db");
  sqlite3 *db;
  assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);"
                                "INSERT INTO schema_migrations VALUES (1);"
                                "CREATE TABLE runs (id TEXT)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  char before[65], after[65];
  hash_file(p, before);
  assert_null(cb_store_open(p, CB_STORE_CREATE));
  assert_non_null(strstr(cb_last_error(), "not a clipbench results database"));
  assert_non_null(strstr(cb_last_error(), "not changed"));
  assert_null(cb_store_open(p, CB_STORE_READONLY));
  assert_non_null(strstr(cb_last_error(), "not a clipbench results database"));
  hash_file(p, after);
  assert_string_equal(before, after);
  char wal[4200];
  snprintf(wal, sizeof wal, "%s-wal", p);
  assert_int_not_equal(access(wal, F_OK), 0);
  assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
  sqlite3_finalize(st);
  sqlite3_close(db);
  /* Our own database opened read-only: readable, nothing written, and the
   * file is identified by its header (application id, user_version). */
  const char *ours = tst_tmp_path("ours.db");
  cb_store *s = open_ok(ours);
  assert_int_equal(tst_q_int(s, "PRAGMA user_version"), cb_store_code_schema_version());
  cb_store_close(s);
  hash_file(ours, before);
  s = cb_store_open(ours, CB_STORE_READONLY);
  if (!s) fail_msg("%s", cb_last_error());
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs"), 0);
  assert_int_not_equal(sqlite3_exec(cb_store_db(s), "CREATE TABLE x (y)", NULL, NULL, NULL),
                       SQLITE_OK);
  cb_store_close(s);
  hash_file(ours, after);
  assert_string_equal(before, after);
  /* An empty file is not read as a database; it is created only by writers. */
  const char *empty = tst_tmp_path("empty.db");
  fclose(fopen(empty, "wb"));
  assert_null(cb_store_open(empty, CB_STORE_READONLY));
  assert_non_null(strstr(cb_last_error(), "an empty file"));
}

/* Issue 16 (2): a database deleted or replaced while open is noticed. */
static void test_file_identity(void **state) {
  (void)state;
  const char *p = tst_tmp_path("gone.db");
  cb_store *s = open_ok(p);
  assert_int_equal(cb_store_check_file(s), 0);
  assert_int_equal(unlink(p), 0);
  assert_int_equal(cb_store_check_file(s), -1);
  assert_non_null(strstr(cb_last_error(), "was deleted"));
  cb_store *t = open_ok(p); /* another file at the same path */
  assert_int_equal(cb_store_check_file(s), -1);
  assert_non_null(strstr(cb_last_error(), "was replaced"));
  assert_int_equal(cb_store_check_file(t), 0);
  cb_store_close(t);
  cb_store_close(s);
}

/* Four processes open the same fresh file at once (racing to create the
 * schema), each adds the same 200 runs, then all claim until nothing is left,
 * writing two epochs per run. */
enum { N_PROC = 4, N_RUNS = 200 };

static int child(const char *path, int me, int go_fd, int out_fd) {
  char c;
  if (read(go_fd, &c, 1) != 1) return 10;
  cb_store *s = cb_store_open(path, CB_STORE_CREATE);
  if (!s) {
    fprintf(stderr, "child %d: %s\n", me, cb_last_error());
    return 11;
  }
  for (int i = 0; i < N_RUNS; i++) {
    char id[17];
    snprintf(id, sizeof id, "%016x", 0x1000 + i);
    if (cb_store_add_run(s, id, "r", CFG, 0, 0, NULL, NULL)) {
      fprintf(stderr, "child %d: %s\n", me, cb_last_error());
      return 12;
    }
  }
  char worker[32];
  snprintf(worker, sizeof worker, "w%d:%d", me, (int)getpid());
  cb_claim cl;
  int got;
  while ((got = cb_store_claim_next(s, 0, worker, &cl)) == 1) {
    cb_epoch_row r;
    cb_epoch_row_init(&r);
    for (int e = 1; e <= 2; e++) {
      usleep(1000); /* "training", so that the processes overlap */
      r.epoch = e;
      r.train_loss = e;
      if (cb_store_put_epoch(s, cl.id, worker, &r)) {
        fprintf(stderr, "child %d: %s\n", me, cb_last_error());
        return 13;
      }
    }
    if (cb_store_finish(s, cl.id, worker)) {
      fprintf(stderr, "child %d: %s\n", me, cb_last_error());
      return 14;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%s\n", cl.id);
    if (write(out_fd, line, (size_t)n) != n) return 15;
    cb_claim_free(&cl);
  }
  if (got < 0) {
    fprintf(stderr, "child %d: %s\n", me, cb_last_error());
    return 16;
  }
  cb_store_close(s);
  return 0;
}

static void test_concurrent_claims(void **state) {
  (void)state;
  const char *path = tst_tmp_path("shared.db");
  int go[2], out[2];
  assert_int_equal(pipe(go), 0);
  assert_int_equal(pipe(out), 0);
  pid_t pids[N_PROC];
  for (int k = 0; k < N_PROC; k++) {
    pids[k] = fork();
    assert_true(pids[k] >= 0);
    if (pids[k] == 0) {
      close(go[1]);
      close(out[0]);
      _exit(child(path, k, go[0], out[1]));
    }
  }
  close(go[0]);
  close(out[1]);
  /* Release them together. */
  char start[N_PROC];
  memset(start, 'g', sizeof start);
  assert_int_equal(write(go[1], start, N_PROC), N_PROC);
  close(go[1]);
  static char buf[N_RUNS * 40];
  size_t len = 0;
  ssize_t got;
  while ((got = read(out[0], buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)got;
  buf[len] = 0;
  close(out[0]);
  for (int k = 0; k < N_PROC; k++) {
    int status;
    assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail_msg("worker %d failed with status %d", k, WEXITSTATUS(status));
  }
  /* Every run claimed by exactly one process. */
  int seen[N_RUNS] = {0}, lines = 0;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    int v = (int)strtol(line, NULL, 16) - 0x1000;
    assert_true(v >= 0 && v < N_RUNS);
    seen[v]++;
    lines++;
  }
  assert_int_equal(lines, N_RUNS);
  for (int i = 0; i < N_RUNS; i++)
    assert_int_equal(seen[i], 1);
  cb_store *s = open_ok(path);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM runs"), N_RUNS);
  assert_int_equal(
      tst_q_int(s, "SELECT count(*) FROM runs WHERE status = 'finished' AND attempts = 1"), N_RUNS);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM epochs"), 2 * N_RUNS);
  assert_int_equal(tst_q_int(s, "SELECT count(*) FROM schema_migrations"), CB_N_MIGRATIONS);
  /* They really competed: more than one process did work. */
  assert_true(tst_q_int(s, "SELECT count(DISTINCT worker) FROM runs") > 1);
  cb_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fresh_database),
      cmocka_unit_test(test_runs_and_claims),
      cmocka_unit_test(test_epochs_idempotent),
      cmocka_unit_test(test_migrations),
      cmocka_unit_test(test_wrong_files),
      cmocka_unit_test(test_concurrent_claims),
      cmocka_unit_test(test_interruptions_do_not_count),
      cmocka_unit_test(test_foreign_file_untouched),
      cmocka_unit_test(test_file_identity),
      cmocka_unit_test(test_sampling_and_test_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

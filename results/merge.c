/* Merging a shard into the main results database (rules in merge.h). The
 * shard is attached to the main connection, so rows are copied by SQL
 * (INSERT ... SELECT), which keeps every column and value exactly as the
 * task wrote it. */
#include "results/merge.h"

#include "core/base/error.h"
#include "results/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cb_merge_stats_free(cb_merge_stats *st) {
  for (int i = 0; i < st->n_conflicts; i++)
    free(st->conflicts[i]);
  free(st->conflicts);
  memset(st, 0, sizeof *st);
}

static int add_conflict(cb_merge_stats *st, const char *fmt, ...) CB_PRINTF(2, 3);
static int add_conflict(cb_merge_stats *st, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  char **nc = realloc(st->conflicts, (size_t)(st->n_conflicts + 1) * sizeof *nc);
  if (!nc) return cb_error("out of memory");
  st->conflicts = nc;
  st->conflicts[st->n_conflicts] = cb_strdup(line);
  if (!st->conflicts[st->n_conflicts]) return -1;
  st->n_conflicts++;
  return 0;
}

/* Runs a statement that returns nothing, with ?1 = text a and ?2 = text b
 * (either may be NULL). */
static int exec2(cb_store *s, const char *sql, const char *a, const char *b, const char *what) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, sql, &st, what)) return -1;
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : cb_store_err(s, rc, what);
}

/* ---- comparing epoch rows ----------------------------------------------------- */

/* Columns that say how long something took, not what it computed. */
static int is_timing(const char *col) {
  return strcmp(col, "epoch_seconds") == 0 || strcmp(col, "samples_per_s") == 0 ||
         strcmp(col, "written_at") == 0;
}

typedef struct {
  const char *table, *order, *key2; /* key2: the column after epoch in the key, or NULL */
} table_def;

static const table_def TABLES[] = {
    {"epochs", "epoch", NULL},
    {"epoch_classes", "epoch, class", "class"},
    {"layer_norms", "epoch, layer", "layer"},
};

static void fmt_value(sqlite3_stmt *st, int i, char *buf, size_t n) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_NULL: snprintf(buf, n, "NULL"); break;
  case SQLITE_INTEGER: snprintf(buf, n, "%lld", (long long)sqlite3_column_int64(st, i)); break;
  case SQLITE_FLOAT: snprintf(buf, n, "%.17g", sqlite3_column_double(st, i)); break;
  default: snprintf(buf, n, "'%.60s'", (const char *)sqlite3_column_text(st, i)); break;
  }
}

static int same_value(sqlite3_stmt *a, sqlite3_stmt *b, int i) {
  int t = sqlite3_column_type(a, i);
  if (t != sqlite3_column_type(b, i)) return 0;
  switch (t) {
  case SQLITE_NULL: return 1;
  case SQLITE_INTEGER: return sqlite3_column_int64(a, i) == sqlite3_column_int64(b, i);
  case SQLITE_FLOAT: return sqlite3_column_double(a, i) == sqlite3_column_double(b, i);
  default: {
    int la = sqlite3_column_bytes(a, i), lb = sqlite3_column_bytes(b, i);
    const void *pa = sqlite3_column_blob(a, i), *pb = sqlite3_column_blob(b, i);
    return la == lb && (la == 0 || memcmp(pa, pb, (size_t)la) == 0);
  }
  }
}

static int col_index(sqlite3_stmt *st, const char *name) {
  for (int i = 0; i < sqlite3_column_count(st); i++)
    if (strcmp(sqlite3_column_name(st, i), name) == 0) return i;
  return -1;
}

static void row_key(sqlite3_stmt *st, const table_def *t, char *buf, size_t n) {
  int e = col_index(st, "epoch");
  int k = t->key2 ? col_index(st, t->key2) : -1;
  if (k >= 0)
    snprintf(buf, n, "epoch %d, %s %d", sqlite3_column_int(st, e), t->key2,
             sqlite3_column_int(st, k));
  else
    snprintf(buf, n, "epoch %d", sqlite3_column_int(st, e));
}

/* Compares the run's rows of one table for epochs <= upto. Returns 0 when
 * equal, 1 when they differ (msg says where), -1 on error. */
static int compare_table(cb_store *s, const table_def *t, const char *id, int upto,
                         const char *main_name, char *msg, size_t n) {
  char sql[256];
  sqlite3_stmt *q[2] = {NULL, NULL};
  static const char *const schema[2] = {"main", "shard"};
  for (int k = 0; k < 2; k++) {
    snprintf(sql, sizeof sql, "SELECT * FROM %s.%s WHERE run_id = ?1 AND epoch <= ?2 ORDER BY %s",
             schema[k], t->table, t->order);
    if (cb_store_prepare(s, sql, &q[k], "comparing epoch rows")) {
      sqlite3_finalize(q[0]);
      return -1;
    }
    sqlite3_bind_text(q[k], 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q[k], 2, upto);
  }
  int ret = 0;
  for (;;) {
    int ra = cb_store_step(s, q[0]), rb = cb_store_step(s, q[1]);
    if ((ra != SQLITE_ROW && ra != SQLITE_DONE) || (rb != SQLITE_ROW && rb != SQLITE_DONE)) {
      ret =
          cb_store_err(s, ra != SQLITE_ROW && ra != SQLITE_DONE ? ra : rb, "comparing epoch rows");
      break;
    }
    if (ra == SQLITE_DONE && rb == SQLITE_DONE) break;
    char key[96];
    if (ra != rb) {
      row_key(ra == SQLITE_ROW ? q[0] : q[1], t, key, sizeof key);
      snprintf(msg, n, "%s, %s: a row in %s only", t->table, key,
               ra == SQLITE_ROW ? main_name : "the shard");
      ret = 1;
      break;
    }
    /* Rows in key order: a different key is a row the other side lacks. */
    int e = col_index(q[0], "epoch");
    int k2 = t->key2 ? col_index(q[0], t->key2) : -1;
    if (sqlite3_column_int(q[0], e) != sqlite3_column_int(q[1], e) ||
        (k2 >= 0 && sqlite3_column_int(q[0], k2) != sqlite3_column_int(q[1], k2))) {
      row_key(q[0], t, key, sizeof key);
      snprintf(msg, n, "%s: the rows differ in their keys at %s of %s", t->table, key, main_name);
      ret = 1;
      break;
    }
    for (int i = 0; i < sqlite3_column_count(q[0]) && !ret; i++) {
      const char *col = sqlite3_column_name(q[0], i);
      if (is_timing(col) || same_value(q[0], q[1], i)) continue;
      char va[96], vb[96];
      fmt_value(q[0], i, va, sizeof va);
      fmt_value(q[1], i, vb, sizeof vb);
      row_key(q[0], t, key, sizeof key);
      snprintf(msg, n, "%s, %s: %s is %s in %s but %s in the shard", t->table, key, col, va,
               main_name, vb);
      ret = 1;
    }
    if (ret) break;
  }
  sqlite3_finalize(q[0]);
  sqlite3_finalize(q[1]);
  return ret;
}

/* ---- one run ----------------------------------------------------------------- */

typedef struct {
  int exists;
  char status[16];
  char worker[128];
  char *config;
  int epochs;
} side;

static int read_side(cb_store *s, const char *schema, const char *id, side *x) {
  memset(x, 0, sizeof *x);
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT status, coalesce(worker, ''), config, (SELECT coalesce(max(epoch), 0) FROM "
           "%s.epochs WHERE run_id = ?1) FROM %s.runs WHERE id = ?1",
           schema, schema);
  sqlite3_stmt *st;
  if (cb_store_prepare(s, sql, &st, "reading a run")) return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st), ret = 0;
  if (rc == SQLITE_ROW) {
    x->exists = 1;
    snprintf(x->status, sizeof x->status, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(x->worker, sizeof x->worker, "%s", (const char *)sqlite3_column_text(st, 1));
    x->config = cb_strdup((const char *)sqlite3_column_text(st, 2));
    x->epochs = sqlite3_column_int(st, 3);
    if (!x->config) ret = -1;
  } else if (rc != SQLITE_DONE) {
    ret = cb_store_err(s, rc, "reading a run");
  }
  sqlite3_finalize(st);
  return ret;
}

static int rank(const char *status) {
  return strcmp(status, "finished") == 0 ? 3 : strcmp(status, "failed") == 0 ? 2 : 1;
}

/* Replaces the main database's epoch rows of the run with the shard's
 * (per-class and per-layer rows go with their epochs: ON DELETE CASCADE). */
static int copy_epochs(cb_store *s, const char *id) {
  return exec2(s, "DELETE FROM main.epochs WHERE run_id = ?1", id, NULL, "replacing epochs") ||
         exec2(s, "INSERT INTO main.epochs SELECT * FROM shard.epochs WHERE run_id = ?1", id, NULL,
               "copying epochs") ||
         exec2(s,
               "INSERT INTO main.epoch_classes SELECT * FROM shard.epoch_classes WHERE run_id = ?1",
               id, NULL, "copying per-class scores") ||
         exec2(s, "INSERT INTO main.layer_norms SELECT * FROM shard.layer_norms WHERE run_id = ?1",
               id, NULL, "copying per-layer norms") ||
         exec2(s, "DELETE FROM main.test_metrics WHERE run_id = ?1", id, NULL,
               "replacing test-split metrics") ||
         exec2(s,
               "INSERT INTO main.test_metrics SELECT * FROM shard.test_metrics WHERE run_id = ?1",
               id, NULL, "copying test-split metrics") ||
         exec2(s,
               "INSERT INTO main.test_classes SELECT * FROM shard.test_classes WHERE run_id = ?1",
               id, NULL, "copying test-split per-class scores");
}

/* A run the shard left running was stopped without giving it back (its task
 * was killed); in the main database nobody holds it. */
static const char UPDATE_RUN[] =
    "UPDATE main.runs SET (status, worker, host, backend, git_rev, attempts, started_at,"
    " heartbeat_at, finished_at, error, checkpoint, slurm_job_id, slurm_task_id, slurm_log,"
    " sample_rate, dataset_size, sampling, dp_guarantee, dp_caveat, interruptions,"
    " data_fingerprint) ="
    " (SELECT CASE status WHEN 'running' THEN 'pending' ELSE status END, worker, host, backend,"
    " git_rev, attempts, started_at, heartbeat_at, finished_at, error, checkpoint, slurm_job_id,"
    " slurm_task_id, slurm_log, sample_rate, dataset_size, sampling, dp_guarantee, dp_caveat,"
    " interruptions, data_fingerprint FROM shard.runs WHERE id = ?1) WHERE id = ?1";

static int merge_run(cb_store *s, const char *id, const char *main_name, cb_merge_stats *st) {
  side m, sh;
  if (read_side(s, "shard", id, &sh)) return -1;
  if (read_side(s, "main", id, &m)) {
    free(sh.config);
    return -1;
  }
  int ret = 0;
  if (!m.exists) {
    ret = exec2(s, "INSERT INTO main.runs SELECT * FROM shard.runs WHERE id = ?1", id, NULL,
                "adding a run") ||
          exec2(s, "UPDATE main.runs SET status = 'pending' WHERE id = ?1 AND status = 'running'",
                id, NULL, "adding a run") ||
          copy_epochs(s, id);
    if (!ret) {
      st->runs_added++;
      st->epochs_added += sh.epochs;
    }
    goto done;
  }
  if (strcmp(m.config, sh.config) != 0) {
    ret = add_conflict(st,
                       "run %s: its configuration differs between %s and the shard (written by "
                       "different clipbench versions?)",
                       id, main_name);
    goto done;
  }
  int upto = m.epochs < sh.epochs ? m.epochs : sh.epochs;
  for (size_t t = 0; t < sizeof TABLES / sizeof TABLES[0]; t++) {
    char msg[700];
    int c = compare_table(s, &TABLES[t], id, upto, main_name, msg, sizeof msg);
    if (c < 0) {
      ret = -1;
      goto done;
    }
    if (c > 0) {
      ret = add_conflict(st, "run %s (%s in %s, %s in the shard): %s", id, m.status, main_name,
                         sh.status, msg);
      goto done;
    }
  }
  int m_fin = strcmp(m.status, "finished") == 0, s_fin = strcmp(sh.status, "finished") == 0;
  if ((m_fin && s_fin && m.epochs != sh.epochs) || (m_fin && sh.epochs > m.epochs)) {
    ret = add_conflict(st, "run %s: finished with %d epochs in %s but the shard has %d (%s)", id,
                       m.epochs, main_name, sh.epochs, sh.status);
    goto done;
  }
  int shard_ahead = !m_fin && (sh.epochs > m.epochs ||
                               (sh.epochs == m.epochs && rank(sh.status) > rank(m.status)));
  if (!shard_ahead) {
    st->runs_unchanged++;
    goto done;
  }
  if (strcmp(m.status, "running") == 0) {
    ret = add_conflict(st,
                       "run %s is being trained in %s by worker %s (epoch %d) while the shard has "
                       "it %s at epoch %d; merge again when that worker has stopped",
                       id, main_name, m.worker, m.epochs, sh.status, sh.epochs);
    goto done;
  }
  ret = copy_epochs(s, id) || exec2(s, UPDATE_RUN, id, NULL, "updating a run");
  if (!ret) {
    st->runs_updated++;
    st->epochs_added += sh.epochs - m.epochs;
  }
done:
  free(m.config);
  free(sh.config);
  return ret ? -1 : 0;
}

/* ---- sweeps and positions ---------------------------------------------------- */

static int merge_sweeps(cb_store *s, cb_merge_stats *st) {
  sqlite3_stmt *q;
  if (cb_store_prepare(s,
                       "INSERT INTO main.sweeps (name, file, spec, created_at) SELECT name, file, "
                       "spec, created_at FROM shard.sweeps WHERE name NOT IN (SELECT name FROM "
                       "main.sweeps) ORDER BY id",
                       &q, "adding sweeps"))
    return -1;
  int rc = cb_store_step(s, q);
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) return cb_store_err(s, rc, "adding sweeps");
  st->sweeps_added += sqlite3_changes(cb_store_db(s));
  return 0;
}

static int merge_positions(cb_store *s, const char *main_name, cb_merge_stats *st) {
  sqlite3_stmt *q, *ins;
  if (cb_store_prepare(
          s,
          "SELECT w.name, r.run_id, r.idx, (SELECT id FROM main.sweeps WHERE name = w.name),"
          " (SELECT idx FROM main.sweep_runs x WHERE x.run_id = r.run_id AND x.sweep_id ="
          "  (SELECT id FROM main.sweeps WHERE name = w.name)),"
          " (SELECT run_id FROM main.sweep_runs x WHERE x.idx = r.idx AND x.sweep_id ="
          "  (SELECT id FROM main.sweeps WHERE name = w.name)) "
          "FROM shard.sweep_runs r JOIN shard.sweeps w ON w.id = r.sweep_id ORDER BY w.id, r.idx",
          &q, "reading the shard's sweep positions"))
    return -1;
  if (cb_store_prepare(s,
                       "INSERT INTO main.sweep_runs (sweep_id, run_id, idx, point) SELECT ?1, ?2, "
                       "?3, point FROM shard.sweep_runs WHERE run_id = ?2 AND sweep_id = (SELECT "
                       "id FROM shard.sweeps WHERE name = ?4)",
                       &ins, "adding sweep positions")) {
    sqlite3_finalize(q);
    return -1;
  }
  int rc, ret = 0;
  while (!ret && (rc = cb_store_step(s, q)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(q, 0);
    const char *id = (const char *)sqlite3_column_text(q, 1);
    int idx = sqlite3_column_int(q, 2);
    if (sqlite3_column_type(q, 4) != SQLITE_NULL) {
      int have = sqlite3_column_int(q, 4);
      if (have != idx)
        ret = add_conflict(st, "run %s is at position %d of sweep %s in the shard but at %d in %s",
                           id, idx, name, have, main_name);
      continue;
    }
    if (sqlite3_column_type(q, 5) != SQLITE_NULL) {
      ret = add_conflict(st,
                         "position %d of sweep %s holds run %s in %s but run %s in the shard "
                         "(the sweep was frozen differently; merge into a new database)",
                         idx, name, (const char *)sqlite3_column_text(q, 5), main_name, id);
      continue;
    }
    sqlite3_reset(ins);
    sqlite3_bind_int64(ins, 1, sqlite3_column_int64(q, 3));
    sqlite3_bind_text(ins, 2, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ins, 3, idx);
    sqlite3_bind_text(ins, 4, name, -1, SQLITE_TRANSIENT);
    int r2 = cb_store_step(s, ins);
    if (r2 != SQLITE_DONE)
      ret = cb_store_err(s, r2, "adding sweep positions");
    else
      st->positions_added++;
  }
  if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
    ret = cb_store_err(s, rc, "reading the shard's sweep positions");
  sqlite3_finalize(q);
  sqlite3_finalize(ins);
  return ret;
}

/* ---- the shard --------------------------------------------------------------- */

/* The schema version recorded in a file, read without changing it (0 when
 * it has none, -1 when it cannot be read). */
static int file_version(const char *path) {
  sqlite3 *db = NULL;
  int v = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st,
                           NULL) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
      sqlite3_finalize(st);
    }
  }
  sqlite3_close(db);
  return v;
}

/* The same columns in the same order in every table, so INSERT ... SELECT *
 * copies column for column. */
static int same_columns(cb_store *s, const char *shard) {
  static const char *const tables[] = {"sweeps",       "runs",          "sweep_runs",
                                       "epochs",       "epoch_classes", "layer_norms",
                                       "test_metrics", "test_classes"};
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "SELECT (SELECT group_concat(name) FROM pragma_table_info(?1, 'main')),"
                       " (SELECT group_concat(name) FROM pragma_table_info(?1, 'shard'))",
                       &st, "comparing the schemas"))
    return -1;
  int ret = 0;
  for (size_t i = 0; !ret && i < sizeof tables / sizeof tables[0]; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, tables[i], -1, SQLITE_STATIC);
    int rc = cb_store_step(s, st);
    if (rc != SQLITE_ROW) {
      ret = cb_store_err(s, rc, "comparing the schemas");
      break;
    }
    const char *a = (const char *)sqlite3_column_text(st, 0);
    const char *b = (const char *)sqlite3_column_text(st, 1);
    if (!a || !b || strcmp(a, b) != 0)
      ret = cb_error("%s: table %s does not have the columns of %s (%s); not a database written "
                     "by this clipbench's schema",
                     shard, tables[i], cb_store_path(s), b ? b : "missing");
  }
  sqlite3_finalize(st);
  return ret;
}

static int merge_attached(cb_store *s, const char *shard, cb_merge_stats *st) {
  const char *main_name = cb_store_path(s);
  if (same_columns(s, shard) || merge_sweeps(s, st)) return -1;
  sqlite3_stmt *q;
  if (cb_store_prepare(s, "SELECT id FROM shard.runs ORDER BY id", &q, "listing the shard's runs"))
    return -1;
  int rc, ret = 0;
  while (!ret && (rc = cb_store_step(s, q)) == SQLITE_ROW) {
    char id[CB_STORE_RUN_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(q, 0));
    ret = merge_run(s, id, main_name, st);
  }
  if (!ret && rc != SQLITE_DONE) ret = cb_store_err(s, rc, "listing the shard's runs");
  sqlite3_finalize(q);
  if (!ret) ret = merge_positions(s, main_name, st);
  return ret;
}

int cb_store_merge(cb_store *s, const char *shard, cb_merge_stats *st) {
  return cb_store_merge_with(s, shard, CB_MIGRATIONS, CB_N_MIGRATIONS, st);
}

int cb_store_merge_with(cb_store *s, const char *shard, const cb_migration *m, int n_m,
                        cb_merge_stats *st) {
  memset(st, 0, sizeof *st);
  struct stat a, b;
  if (stat(shard, &b) != 0) return cb_error("%s: no such file", shard);
  if (stat(cb_store_path(s), &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    return cb_error("%s: is the database being merged into", shard);
  int before = file_version(shard);
  /* Opening checks that it is a clipbench database, migrates an older one
   * and refuses a newer one. */
  cb_store *sh = cb_store_open_with(shard, 0, m, n_m);
  if (!sh) return cb_error_prefix("cannot merge %s: ", shard);
  int v = cb_store_schema_version(sh), mine = cb_store_schema_version(s);
  cb_store_close(sh);
  if (v != mine)
    return cb_error("cannot merge %s: schema version %d, but %s has %d; open both with the same "
                    "clipbench",
                    shard, v, cb_store_path(s), mine);
  if (before > 0 && before < v) st->migrated_from = before;

  sqlite3_stmt *at;
  if (cb_store_prepare(s, "ATTACH DATABASE ?1 AS shard", &at, "attaching the shard")) return -1;
  sqlite3_bind_text(at, 1, shard, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, at);
  sqlite3_finalize(at);
  if (rc != SQLITE_DONE) return cb_store_err(s, rc, "attaching the shard");
  int ret = cb_store_begin(s);
  if (!ret) {
    ret = merge_attached(s, shard, st);
    if (ret || st->n_conflicts) {
      cb_store_rollback(s);
    } else {
      ret = cb_store_commit(s);
    }
  }
  char keep[CB_ERRMSG_MAX];
  snprintf(keep, sizeof keep, "%s", cb_last_error());
  cb_store_exec(s, "DETACH DATABASE shard", "detaching the shard");
  if (ret) return cb_error("%s", keep);
  if (st->n_conflicts) {
    int n = st->n_conflicts, mf = st->migrated_from;
    char **c = st->conflicts;
    memset(st, 0, sizeof *st);
    st->n_conflicts = n;
    st->conflicts = c;
    st->migrated_from = mf;
    return 1;
  }
  return 0;
}

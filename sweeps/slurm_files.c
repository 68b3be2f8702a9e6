/* The SLURM folder of a sweep and the tasks' status files. A status file is
 * a one-line JSON object replaced atomically (rename), so the login node
 * reads a task's progress without opening its live SQLite shard, which on a
 * network file system only the node writing it may do. */
#include "core/base/error.h"
#include "core/base/json.h"
#include "results/store.h"
#include "sweeps/slurm.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cb_slurm_dir(const char *main_db, const char *sweep, char *out, size_t n) {
  char base[4096];
  snprintf(base, sizeof base, "%s", main_db);
  char *slash = strrchr(base, '/'), *dot = strrchr(base, '.');
  if (dot && (!slash || dot > slash + 1)) *dot = 0;
  char safe[CB_SWEEP_NAME_MAX];
  size_t k = 0;
  for (const char *c = sweep; *c && k + 1 < sizeof safe; c++) {
    int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
             *c == '-' || *c == '_' || (*c == '.' && k > 0);
    safe[k++] = ok ? *c : '_';
  }
  safe[k] = 0;
  snprintf(out, n, "%s.slurm/%s", base, k ? safe : "_");
}

void cb_slurm_shard_path(const char *dir, const char *id, char *out, size_t n) {
  snprintf(out, n, "%s/shards/%s.db", dir, id);
}

void cb_slurm_status_path(const char *shard, char *out, size_t n) {
  size_t l = strlen(shard);
  if (l > 3 && strcmp(shard + l - 3, ".db") == 0)
    snprintf(out, n, "%.*s.json", (int)(l - 3), shard);
  else
    snprintf(out, n, "%s.json", shard);
}

int cb_slurm_status_fresh(const cb_shard_status *st) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
  return st->present && strcmp(st->status, "running") == 0 && isfinite(st->heartbeat) &&
         now - st->heartbeat < CB_SLURM_STALE_S;
}

int cb_slurm_status_write(const char *path, const cb_shard_status *st) {
  cb_json j;
  cb_json_init_mem(&j);
  cb_json_obj_begin(&j);
  cb_json_kv_str(&j, "run", st->run);
  cb_json_kv_int(&j, "idx", st->idx);
  cb_json_kv_str(&j, "status", st->status);
  cb_json_kv_int(&j, "epochs_done", st->epochs_done);
  cb_json_kv_int(&j, "epochs", st->epochs);
  cb_json_kv_num(&j, "epsilon", st->epsilon);
  cb_json_kv_num(&j, "val_dice", st->val_dice);
  cb_json_kv_num(&j, "seconds_per_epoch", st->seconds_per_epoch);
  cb_json_kv_num(&j, "heartbeat", st->heartbeat);
  cb_json_kv_str(&j, "job", st->job);
  cb_json_kv_str(&j, "host", st->host);
  cb_json_kv_str(&j, "log", st->log);
  cb_json_kv_str(&j, "run_log", st->run_log);
  cb_json_kv_str(&j, "error", st->error);
  cb_json_obj_end(&j);
  if (j.oom) {
    cb_json_free(&j);
    return cb_error("out of memory");
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  int ok = f && fprintf(f, "%s\n", cb_json_text(&j)) > 0;
  if (f && fclose(f) != 0) ok = 0;
  cb_json_free(&j);
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return cb_error("cannot write %s: %s", path, strerror(e));
  }
  return 0;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (len + 1024 > cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
    }
    size_t r = fread(buf + len, 1, cap - len - 1, f);
    len += r;
    if (r == 0) break;
  }
  fclose(f);
  if (buf) buf[len] = 0;
  return buf;
}

static void col_text(sqlite3_stmt *q, int i, char *out, size_t n) {
  const unsigned char *t = sqlite3_column_text(q, i);
  snprintf(out, n, "%s", t ? (const char *)t : "");
}

static double col_num(sqlite3_stmt *q, int i) {
  return sqlite3_column_type(q, i) == SQLITE_NULL ? NAN : sqlite3_column_double(q, i);
}

int cb_slurm_status_read(sqlite3 *db, const char *path, cb_shard_status *st) {
  memset(st, 0, sizeof *st);
  st->epsilon = st->val_dice = st->heartbeat = st->seconds_per_epoch = NAN;
  char *text = slurp(path);
  if (!text) {
    if (errno == ENOENT) return 0;
    return cb_error("cannot read %s: %s", path, strerror(errno));
  }
  sqlite3_stmt *q;
  int rc = sqlite3_prepare_v2(
      db,
      "SELECT json_valid(?1), ?1 ->> 'run', ?1 ->> 'status', ?1 ->> 'idx', ?1 ->> 'epochs_done',"
      " ?1 ->> 'epochs', ?1 ->> 'epsilon', ?1 ->> 'val_dice', ?1 ->> 'heartbeat', ?1 ->> 'job',"
      " ?1 ->> 'host', ?1 ->> 'log', ?1 ->> 'run_log', ?1 ->> 'error', ?1 ->> 'seconds_per_epoch'",
      -1, &q, NULL);
  if (rc != SQLITE_OK) {
    free(text);
    return cb_error("reading %s: %s", path, sqlite3_errmsg(db));
  }
  sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
  int ret = 0;
  if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0)) {
    st->present = 1;
    col_text(q, 1, st->run, sizeof st->run);
    col_text(q, 2, st->status, sizeof st->status);
    st->idx = sqlite3_column_int(q, 3);
    st->epochs_done = sqlite3_column_int(q, 4);
    st->epochs = sqlite3_column_int(q, 5);
    st->epsilon = col_num(q, 6);
    st->val_dice = col_num(q, 7);
    st->heartbeat = col_num(q, 8);
    col_text(q, 9, st->job, sizeof st->job);
    col_text(q, 10, st->host, sizeof st->host);
    col_text(q, 11, st->log, sizeof st->log);
    col_text(q, 12, st->run_log, sizeof st->run_log);
    col_text(q, 13, st->error, sizeof st->error);
    st->seconds_per_epoch = col_num(q, 14);
  } else {
    /* A half-written file cannot happen (rename); anything else is not ours. */
    ret = cb_error("%s: not a clipbench status file (delete it; the task writes it again)", path);
  }
  sqlite3_finalize(q);
  free(text);
  return ret;
}

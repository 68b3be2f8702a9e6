/* clipbench sweep FILE --slurm: decide which runs still need a task, give
 * each its shard, write the job-array script(s) and, with --submit, hand them
 * to sbatch and record the job ids in the main database.
 *
 * Array task ids map to sweep positions through the RUNS list in the script,
 * so a resubmission covers only what is left (positions 3, 7 and 12 become
 * tasks 0, 1 and 2). Arrays longer than MaxArraySize are split; with
 * --max-running each array waits for the previous one (afterany), so the
 * throttle holds for the whole sweep. */
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/version.h"
#include "sweeps/slurm.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int idx;
  char id[CB_RUN_ID_LEN + 1];
} task;

typedef struct {
  int runs, finished, failed, queued, done_in_shard, failed_in_shard, running_in_shard, cuda;
  task *todo;
  int n_todo;
} plan;

static int mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(buf, 0777) && errno != EEXIST)
        return cb_error("cannot create folder %s: %s", buf, strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  return 0;
}

/* 'text' for the shell. */
static void shell_quote(const char *s, char *out, size_t n) {
  size_t k = 0;
  if (k + 1 < n) out[k++] = '\'';
  for (; *s && k + 5 < n; s++) {
    if (*s == '\'') {
      memcpy(out + k, "'\\''", 4);
      k += 4;
    } else {
      out[k++] = *s;
    }
  }
  if (k + 1 < n) out[k++] = '\'';
  out[k] = 0;
}

/* ---- which runs need a task ------------------------------------------------- */

static void job_of(sqlite3_stmt *q, int jcol, int tcol, char *out, size_t n) {
  out[0] = 0;
  const unsigned char *j = sqlite3_column_text(q, jcol);
  if (!j || !*j) return;
  if (sqlite3_column_type(q, tcol) != SQLITE_NULL)
    snprintf(out, n, "%s_%d", (const char *)j, sqlite3_column_int(q, tcol));
  else
    snprintf(out, n, "%s", (const char *)j);
}

static int make_plan(cb_store *s, const cb_slurm_args *a, const char *dir, const cb_slurm_queue *q,
                     plan *p) {
  memset(p, 0, sizeof *p);
  sqlite3 *db = cb_store_db(s);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT sr.idx, r.id, r.status, r.slurm_job_id, r.slurm_task_id,"
                         " coalesce(r.config ->> '$.backend', '') FROM sweep_runs sr JOIN runs r"
                         " ON r.id = sr.run_id WHERE sr.sweep_id = ? ORDER BY sr.idx",
                         -1, &st, NULL) != SQLITE_OK)
    return cb_error("%s: %s", cb_store_path(s), sqlite3_errmsg(db));
  sqlite3_bind_int64(st, 1, a->sweep_id);
  int rc, cap = 0, ret = 0;
  while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    p->runs++;
    const char *id = (const char *)sqlite3_column_text(st, 1);
    const char *status = (const char *)sqlite3_column_text(st, 2);
    p->cuda |= strcmp((const char *)sqlite3_column_text(st, 5), "cuda") == 0;
    if (strcmp(status, "finished") == 0) {
      p->finished++;
      continue;
    }
    if (strcmp(status, "failed") == 0) {
      p->failed++;
      continue;
    }
    char job[96], shard[4200], spath[4300];
    job_of(st, 3, 4, job, sizeof job);
    cb_slurm_shard_path(dir, id, shard, sizeof shard);
    cb_slurm_status_path(shard, spath, sizeof spath);
    cb_shard_status ss;
    if (cb_slurm_status_read(db, spath, &ss)) {
      ret = -1;
      break;
    }
    int live = q->available ? cb_slurm_queue_find(q, job) || cb_slurm_queue_find(q, ss.job)
                            : cb_slurm_status_fresh(&ss);
    if (live) {
      p->queued += q->available;
      p->running_in_shard += !q->available;
      continue;
    }
    if (ss.present && strcmp(ss.status, "finished") == 0) {
      p->done_in_shard++;
      continue;
    }
    if (ss.present && strcmp(ss.status, "failed") == 0 && !a->retry_failed) {
      p->failed_in_shard++;
      continue;
    }
    if (p->n_todo == cap) {
      cap = cap ? 2 * cap : 64;
      task *nt = realloc(p->todo, (size_t)cap * sizeof *nt);
      if (!nt) {
        ret = cb_error("out of memory");
        break;
      }
      p->todo = nt;
    }
    p->todo[p->n_todo].idx = sqlite3_column_int(st, 0);
    snprintf(p->todo[p->n_todo].id, sizeof p->todo[p->n_todo].id, "%s", id);
    p->n_todo++;
  }
  if (!ret && rc != SQLITE_DONE) ret = cb_error("%s: %s", cb_store_path(s), sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return ret;
}

/* ---- shards ------------------------------------------------------------------ */

typedef struct {
  char *name, *file, *spec;
} sweep_row;

static char *col_dup(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return cb_strdup(t ? (const char *)t : "");
}

/* The shard of one run: its sweep and the run at its position, added when
 * missing (an existing shard keeps its rows and must agree). */
static int make_shard(cb_store *s, const sweep_row *w, const task *t, const char *path) {
  sqlite3 *db = cb_store_db(s);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT r.name, r.config, sr.point FROM runs r JOIN sweep_runs sr ON "
                         "sr.run_id = r.id WHERE r.id = ?1 AND sr.idx = ?2 AND sr.sweep_id = "
                         "(SELECT id FROM sweeps WHERE name = ?3)",
                         -1, &st, NULL) != SQLITE_OK)
    return cb_error("%s: %s", cb_store_path(s), sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, t->idx);
  sqlite3_bind_text(st, 3, w->name, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    return cb_error("%s: run %s is not at position %d of sweep %s", cb_store_path(s), t->id, t->idx,
                    w->name);
  }
  char *name = col_dup(st, 0), *config = col_dup(st, 1);
  char *point = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : col_dup(st, 2);
  sqlite3_finalize(st);
  int ret = -1;
  cb_store *sh = name && config ? cb_store_open(path, CB_STORE_CREATE) : NULL;
  if (sh && !cb_store_begin(sh)) {
    int64_t sid = 0;
    int ok = cb_store_add_sweep(sh, w->name, w->file, w->spec, &sid) == 0 &&
             cb_store_add_run(sh, t->id, name, config, sid, t->idx, point, NULL) == 0;
    if (ok) {
      sqlite3_stmt *v;
      ok = sqlite3_prepare_v2(cb_store_db(sh),
                              "SELECT idx FROM sweep_runs WHERE sweep_id = ? AND run_id = ?", -1,
                              &v, NULL) == SQLITE_OK;
      if (ok) {
        sqlite3_bind_int64(v, 1, sid);
        sqlite3_bind_text(v, 2, t->id, -1, SQLITE_STATIC);
        int have = sqlite3_step(v) == SQLITE_ROW ? sqlite3_column_int(v, 0) : -1;
        sqlite3_finalize(v);
        if (have != t->idx)
          ok = cb_error("%s lists run %s at position %d, not %d: it was made for another "
                        "freezing of sweep %s; delete it (and its .json) and run this again",
                        path, t->id, have, t->idx, w->name) == 0;
      } else {
        cb_error("%s: %s", path, sqlite3_errmsg(cb_store_db(sh)));
      }
    }
    if (ok && cb_store_commit(sh) == 0)
      ret = 0;
    else if (!ok)
      cb_store_rollback(sh);
  }
  cb_store_close(sh);
  free(name);
  free(config);
  free(point);
  return ret;
}

/* ---- the script ---------------------------------------------------------------- */

typedef struct {
  char path[4200];
  int first, n; /* slice of the todo list */
  char array[64];
  char job_id[64];
} chunk;

static void remove_old_scripts(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    size_t l = strlen(n);
    if (strncmp(n, "job", 3) != 0 || l < 10 || strcmp(n + l - 7, ".sbatch") != 0) continue;
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, n);
    unlink(p);
  }
  closedir(d);
}

static int write_script(const cb_slurm_args *a, const plan *p, const chunk *c, int which, int of,
                        const char *dir, const char *main_abs, const char *exe, const char *cwd) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", c->path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return cb_error("cannot write %s: %s", tmp, strerror(errno));
  char q_exe[8200], q_main[8200], q_shards[8200], q_sweep[300], q_logs[8200];
  char shards[4200], logs[4200];
  snprintf(shards, sizeof shards, "%s/shards", dir);
  snprintf(logs, sizeof logs, "%s/logs", dir);
  shell_quote(exe, q_exe, sizeof q_exe);
  shell_quote(main_abs, q_main, sizeof q_main);
  shell_quote(shards, q_shards, sizeof q_shards);
  shell_quote(a->sweep, q_sweep, sizeof q_sweep);
  shell_quote(logs, q_logs, sizeof q_logs);
  time_t now = time(NULL);
  struct tm tm;
  char when[32];
  localtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
  fprintf(f, "#!/bin/bash\n");
  fprintf(f,
          "# clipbench sweep %s: SLURM job array %d of %d (%d runs), written %s by clipbench %s "
          "(%s).\n",
          a->sweep, which, of, c->n, when, cb_version(), cb_git_rev());
  fprintf(f, "# Each task trains one run into its own SQLite shard under %s\n", shards);
  fprintf(f, "# (SQLite must not be shared over NFS/Lustre); when the tasks are done:\n");
  fprintf(f, "#   clipbench merge --db %s %s\n", main_abs, shards);
  fprintf(f, "# Edit the #SBATCH lines freely. Task i runs line i of RUNS: keep --array within\n");
  fprintf(f, "# 0-%d. A task whose run is finished exits at once, so resubmitting is safe;\n",
          c->n - 1);
  fprintf(f, "# a killed task (time limit, preemption, scancel) resumes from its checkpoint.\n");
  char name[160];
  snprintf(name, sizeof name, "cb-%s", a->sweep);
  for (char *x = name; *x; x++)
    if (*x == ' ' || *x == '\t' || *x == '\n' || *x == '#') *x = '_';
  fprintf(f, "#SBATCH --job-name=%s\n", name);
  fprintf(f, "#SBATCH --array=%s\n", c->array);
  fprintf(f, "#SBATCH --output=%s/%%A_%%a.out\n", logs);
  fprintf(f, "#SBATCH --chdir=%s\n", cwd);
  fprintf(f, "#SBATCH --requeue\n");
  fprintf(f, "#SBATCH --ntasks=1\n");
  if (a->cpus_per_task > 0) fprintf(f, "#SBATCH --cpus-per-task=%d\n", a->cpus_per_task);
  if (a->gpus_per_task > 0) fprintf(f, "#SBATCH --gpus-per-task=%d\n", a->gpus_per_task);
  if (a->partition) fprintf(f, "#SBATCH --partition=%s\n", a->partition);
  if (a->account) fprintf(f, "#SBATCH --account=%s\n", a->account);
  if (a->time) fprintf(f, "#SBATCH --time=%s\n", a->time);
  if (a->mem) fprintf(f, "#SBATCH --mem=%s\n", a->mem);
  for (int i = 0; i < a->n_extra; i++)
    fprintf(f, "#SBATCH %s\n", a->extra[i]);
  fprintf(f, "set -euo pipefail\n");
  fprintf(f, "CLIPBENCH=%s\nMAIN=%s\nSHARDS=%s\nLOGS=%s\n", q_exe, q_main, q_shards, q_logs);
  fprintf(f, "# array task -> sweep position and run id\nRUNS=(\n");
  for (int i = 0; i < c->n; i++) {
    const task *t = &p->todo[c->first + i];
    fprintf(f, "  \"%d %s\"\n", t->idx, t->id);
  }
  fprintf(f, ")\n");
  fprintf(
      f, "TASK=${SLURM_ARRAY_TASK_ID:?run this script with sbatch (or set SLURM_ARRAY_TASK_ID)}\n");
  fprintf(f, "read -r POS ID <<< \"${RUNS[$TASK]}\"\n");
  fprintf(f, "# the task's output file, as --output names it (status and merge show it)\n");
  fprintf(f, "if [[ -n ${SLURM_ARRAY_JOB_ID:-} ]]; then\n"
             "  export CLIPBENCH_SLURM_LOG=\"$LOGS/${SLURM_ARRAY_JOB_ID}_$TASK.out\"\nfi\n");
  fprintf(f, "THREADS=${SLURM_CPUS_PER_TASK:-1}\n");
  fprintf(f, "export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS\n");
  fprintf(f,
          "exec \"$CLIPBENCH\" sweep --worker %s --index \"$POS\" --db \"$SHARDS/$ID.db\" "
          "--shard-of \"$MAIN\" --threads \"$THREADS\"%s\n",
          q_sweep, a->retry_failed ? " --retry-failed" : "");
  int ok = !ferror(f);
  if (fclose(f) != 0) ok = 0;
  if (!ok || chmod(tmp, 0755) != 0 || rename(tmp, c->path) != 0) {
    int e = errno;
    unlink(tmp);
    return cb_error("cannot write %s: %s", c->path, strerror(e));
  }
  return 0;
}

/* ---- submitting ------------------------------------------------------------------ */

static int submit(const chunk *c, const char *after, char *job_id, size_t n) {
  char dep[96], out[4096];
  snprintf(dep, sizeof dep, "--dependency=afterany:%s", after ? after : "");
  char *argv[5] = {"sbatch", "--parsable", NULL, NULL, NULL};
  int k = 2;
  if (after) argv[k++] = dep;
  argv[k] = (char *)c->path;
  int rc = cb_slurm_run(argv, out, sizeof out, CB_SLURM_SUBMIT_TIMEOUT_S);
  if (rc < 0) return -1;
  /* "1234" or "1234;cluster" */
  char *nl = strrchr(out, '\n');
  while (nl && nl[1] == 0 && nl > out) {
    *nl = 0;
    nl = strrchr(out, '\n');
  }
  const char *line = nl ? nl + 1 : out;
  size_t digits = strspn(line, "0123456789");
  if (rc != 0 || digits == 0) {
    if (rc == 127) return cb_error("sbatch not found: is this a SLURM login node?");
    return cb_error("sbatch %s failed (exit %d): %s", c->path, rc, out);
  }
  snprintf(job_id, n, "%.*s", (int)digits, line);
  return 0;
}

static int record(cb_store *s, const plan *p, const chunk *c, const char *logs) {
  if (cb_store_begin(s)) return -1;
  int ok = 1;
  for (int i = 0; ok && i < c->n; i++) {
    const task *t = &p->todo[c->first + i];
    char num[16], log[4300];
    snprintf(num, sizeof num, "%d", i);
    snprintf(log, sizeof log, "%s/%s_%d.out", logs, c->job_id, i);
    ok = cb_store_set_run_field(s, t->id, "slurm_job_id", c->job_id) == 0 &&
         cb_store_set_run_field(s, t->id, "slurm_task_id", num) == 0 &&
         cb_store_set_run_field(s, t->id, "slurm_log", log) == 0;
  }
  if (!ok) {
    cb_store_rollback(s);
    return -1;
  }
  return cb_store_commit(s);
}

/* ---- output ------------------------------------------------------------------------ */

static void print_counts(const cb_slurm_args *a, const plan *p, const cb_slurm_queue *q,
                         const char *dir, int max_array, int n_chunks) {
  if (a->json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "sweep", a->sweep);
    cb_json_kv_str(&j, "db", a->db);
    cb_json_kv_str(&j, "dir", dir);
    cb_json_kv_int(&j, "runs", p->runs);
    cb_json_kv_int(&j, "finished", p->finished);
    cb_json_kv_int(&j, "failed", p->failed);
    cb_json_kv_int(&j, "queued", p->queued);
    cb_json_kv_int(&j, "running_in_shards", p->running_in_shard);
    cb_json_kv_int(&j, "finished_in_shards", p->done_in_shard);
    cb_json_kv_int(&j, "failed_in_shards", p->failed_in_shard);
    cb_json_kv_int(&j, "tasks", p->n_todo);
    cb_json_kv_int(&j, "arrays", n_chunks);
    cb_json_kv_int(&j, "max_array_size", max_array);
    cb_json_kv_bool(&j, "squeue", q->available);
    cb_json_obj_end(&j);
    printf("\n");
    return;
  }
  printf("%s: %d runs: %d finished, %d failed", a->sweep, p->runs, p->finished, p->failed);
  if (q->available)
    printf(", %d queued or running in SLURM", p->queued);
  else
    printf(", %d running (from the status files: %s)", p->running_in_shard, q->why);
  if (p->done_in_shard) printf(", %d finished in shards not merged yet", p->done_in_shard);
  if (p->failed_in_shard) printf(", %d failed in shards", p->failed_in_shard);
  printf("; %d to run\n", p->n_todo);
  if (p->failed || p->failed_in_shard)
    printf("note: failed runs are not submitted again without --retry-failed\n");
}

static void print_chunk(const cb_slurm_args *a, const chunk *c, const char *after) {
  if (a->json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "script", c->path);
    cb_json_kv_str(&j, "array", c->array);
    cb_json_kv_int(&j, "tasks", c->n);
    if (c->job_id[0])
      cb_json_kv_str(&j, "job_id", c->job_id);
    else {
      cb_json_key(&j, "job_id");
      cb_json_null(&j);
    }
    if (after) cb_json_kv_str(&j, "after", after);
    cb_json_obj_end(&j);
    printf("\n");
    return;
  }
  if (c->job_id[0])
    printf("submitted job %s: %s, --array=%s (%d task%s)%s%s\n", c->job_id, c->path, c->array, c->n,
           c->n == 1 ? "" : "s", after ? ", after job " : "", after ? after : "");
  else
    printf("wrote %s: --array=%s (%d task%s)\n", c->path, c->array, c->n, c->n == 1 ? "" : "s");
}

/* ---- the command ---------------------------------------------------------------- */

static int read_sweep_row(cb_store *s, int64_t id, sweep_row *w) {
  memset(w, 0, sizeof *w);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(cb_store_db(s), "SELECT name, file, spec FROM sweeps WHERE id = ?", -1,
                         &st, NULL) != SQLITE_OK)
    return cb_error("%s: %s", cb_store_path(s), sqlite3_errmsg(cb_store_db(s)));
  sqlite3_bind_int64(st, 1, id);
  int ok = sqlite3_step(st) == SQLITE_ROW;
  if (ok) {
    w->name = col_dup(st, 0);
    w->file = col_dup(st, 1);
    w->spec = col_dup(st, 2);
  }
  sqlite3_finalize(st);
  if (!ok) return cb_error("%s: no sweep %lld", cb_store_path(s), (long long)id);
  return w->name && w->file && w->spec ? 0 : -1;
}

int cb_sweep_slurm(cb_store *s, const cb_slurm_args *a) {
  char main_abs[PATH_MAX], dir[4096], cwd[PATH_MAX], exe[PATH_MAX];
  if (!realpath(cb_store_path(s), main_abs))
    return cb_error("%s: %s", cb_store_path(s), strerror(errno));
  if (!getcwd(cwd, sizeof cwd))
    return cb_error("cannot read the current folder: %s", strerror(errno));
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return cb_error("cannot find this program's path (/proc/self/exe): %s", strerror(errno));
  exe[n] = 0;
  cb_slurm_dir(main_abs, a->sweep, dir, sizeof dir);
  char shards[4200], logs[4200];
  snprintf(shards, sizeof shards, "%s/shards", dir);
  snprintf(logs, sizeof logs, "%s/logs", dir);
  if (mkdirs(shards) || mkdirs(logs)) return -1;

  cb_slurm_queue q;
  cb_slurm_queue_read(&q);
  plan p;
  sweep_row w = {0};
  chunk *chunks = NULL;
  int n_chunks = 0, ret = make_plan(s, a, dir, &q, &p);
  if (!ret) ret = read_sweep_row(s, a->sweep_id, &w);
  for (int i = 0; !ret && i < p.n_todo; i++) {
    char path[4300];
    cb_slurm_shard_path(dir, p.todo[i].id, path, sizeof path);
    ret = make_shard(s, &w, &p.todo[i], path);
  }
  /* Without an answer from squeue, scontrol would not answer either (it
   * retries for a minute). */
  int max_array = a->max_array_size > 0             ? a->max_array_size
                  : !ret && p.n_todo && q.available ? cb_slurm_max_array_size()
                                                    : CB_SLURM_DEFAULT_MAX_ARRAY;
  if (!ret && p.n_todo) {
    n_chunks = (p.n_todo + max_array - 1) / max_array;
    chunks = calloc((size_t)n_chunks, sizeof *chunks);
    if (!chunks) ret = cb_error("out of memory");
  }
  if (!ret) print_counts(a, &p, &q, dir, max_array, n_chunks);
  if (!ret && p.cuda && a->gpus_per_task <= 0 && !a->json)
    fprintf(stderr,
            "note: runs of this sweep use backend cuda but no --gpus-per-task was given; "
            "add it (or an --sbatch=--gres=... line) so that SLURM gives each task a GPU\n");
  if (!ret && n_chunks) remove_old_scripts(dir);
  for (int k = 0; !ret && k < n_chunks; k++) {
    chunk *c = &chunks[k];
    c->first = k * max_array;
    c->n = p.n_todo - c->first < max_array ? p.n_todo - c->first : max_array;
    if (n_chunks == 1)
      snprintf(c->path, sizeof c->path, "%s/job.sbatch", dir);
    else
      snprintf(c->path, sizeof c->path, "%s/job-%d.sbatch", dir, k + 1);
    if (a->max_running > 0)
      snprintf(c->array, sizeof c->array, "0-%d%%%d", c->n - 1, a->max_running);
    else
      snprintf(c->array, sizeof c->array, "0-%d", c->n - 1);
    ret = write_script(a, &p, c, k + 1, n_chunks, dir, main_abs, exe, cwd);
  }
  /* Chained arrays keep --max-running for the whole sweep. */
  int chain = a->max_running > 0 && n_chunks > 1;
  for (int k = 0; !ret && k < n_chunks; k++) {
    const char *after = chain && k > 0 ? chunks[k - 1].job_id : NULL;
    if (a->submit) {
      ret = submit(&chunks[k], after, chunks[k].job_id, sizeof chunks[k].job_id);
      if (!ret) ret = record(s, &p, &chunks[k], logs);
      if (ret && k > 0) cb_error_prefix("after submitting job %s: ", chunks[k - 1].job_id);
    }
    if (!ret || chunks[k].job_id[0]) print_chunk(a, &chunks[k], after);
  }
  if (!ret && !a->json) {
    if (!p.n_todo) {
      printf("nothing to submit");
      if (p.done_in_shard || p.failed_in_shard) printf("; merge the shards:");
      printf("\n");
    } else if (!a->submit) {
      printf("submit with:\n");
      for (int k = 0; k < n_chunks; k++) {
        if (chain && k == 0)
          printf("  j1=$(sbatch --parsable %s)\n", chunks[k].path);
        else if (chain)
          printf("  j%d=$(sbatch --parsable --dependency=afterany:$j%d %s)\n", k + 1, k,
                 chunks[k].path);
        else
          printf("  sbatch %s\n", chunks[k].path);
      }
      printf("(or run this command again with --submit)\n");
    }
    if (p.n_todo || p.queued || p.running_in_shard)
      printf("follow it with: clipbench status %s --db %s\n", a->sweep, a->db);
    if (p.n_todo || p.queued || p.running_in_shard || p.done_in_shard || p.failed_in_shard)
      printf("merge the results: clipbench merge --db %s %s\n", a->db, shards);
  }
  free(chunks);
  free(w.name);
  free(w.file);
  free(w.spec);
  free(p.todo);
  cb_slurm_queue_free(&q);
  return ret;
}

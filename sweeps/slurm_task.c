/* What an array task does around training its run: skip it when the main
 * database already has it finished, take back a run its own earlier
 * incarnation left running (requeue, preemption), record its SLURM job in the
 * shard, and keep the status file beside the shard current from a thread
 * (its own connection, so the training thread is never held up). */
#include "core/base/error.h"
#include "sweeps/slurm.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* This task's job as squeue prints it: "A_a" for an array task, else "J". */
static void my_job(char *job, size_t n, char *job_id, size_t jn, char *task_id, size_t tn) {
  const char *a = getenv("SLURM_ARRAY_JOB_ID"), *t = getenv("SLURM_ARRAY_TASK_ID");
  const char *j = getenv("SLURM_JOB_ID");
  job[0] = job_id[0] = task_id[0] = 0;
  if (a && *a && t && *t) {
    snprintf(job, n, "%s_%s", a, t);
    snprintf(job_id, jn, "%s", a);
    snprintf(task_id, tn, "%s", t);
  } else if (j && *j) {
    snprintf(job, n, "%s", j);
    snprintf(job_id, jn, "%s", j);
  }
}

/* ---- the main database, read-only ------------------------------------------- */

/* "file:" URI of a path (immutable: no locks, no -shm, no writes, so it is
 * safe on a network file system while the login node owns the file). */
static void immutable_uri(const char *path, char *out, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t k = (size_t)snprintf(out, n, "file:");
  for (const unsigned char *p = (const unsigned char *)path; *p && k + 4 < n; p++) {
    int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("/-_.~", *p);
    if (plain) {
      out[k++] = (char)*p;
    } else {
      out[k++] = '%';
      out[k++] = hex[*p >> 4];
      out[k++] = hex[*p & 15];
    }
  }
  snprintf(out + k, n - k, "?immutable=1");
}

int cb_slurm_finished_in_main(const char *main_db, const char *sweep, int idx, char *id, size_t n) {
  if (!main_db || access(main_db, R_OK) != 0) return 0;
  char uri[8192];
  immutable_uri(main_db, uri, sizeof uri);
  sqlite3 *db = NULL;
  int fin = 0;
  if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.id, r.status = 'finished' FROM runs r JOIN sweep_runs sr ON "
                           "sr.run_id = r.id JOIN sweeps w ON w.id = sr.sweep_id WHERE w.name = ? "
                           "AND sr.idx = ?",
                           -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
      sqlite3_bind_int(st, 2, idx);
      if (sqlite3_step(st) == SQLITE_ROW) {
        fin = sqlite3_column_int(st, 1);
        snprintf(id, n, "%s", (const char *)sqlite3_column_text(st, 0));
      }
      sqlite3_finalize(st);
    }
  }
  sqlite3_close(db);
  return fin;
}

/* ---- a run left running ----------------------------------------------------- */

int cb_slurm_takeback(cb_store *s, const char *id) {
  sqlite3_stmt *st;
  sqlite3 *db = cb_store_db(s);
  if (sqlite3_prepare_v2(db,
                         "SELECT worker, coalesce(slurm_job_id, ''), slurm_task_id FROM runs "
                         "WHERE id = ? AND status = 'running'",
                         -1, &st, NULL) != SQLITE_OK)
    return cb_error("%s: %s", cb_store_path(s), sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  char worker[256] = "", holder[96] = "";
  int held = sqlite3_step(st) == SQLITE_ROW;
  if (held) {
    const unsigned char *w = sqlite3_column_text(st, 0);
    snprintf(worker, sizeof worker, "%s", w ? (const char *)w : "");
    const char *j = (const char *)sqlite3_column_text(st, 1);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
      snprintf(holder, sizeof holder, "%s_%d", j, sqlite3_column_int(st, 2));
    else
      snprintf(holder, sizeof holder, "%s", j);
  }
  sqlite3_finalize(st);
  if (!held || !holder[0] || !strcmp(holder, "_0")) return 0;
  char job[64], jid[64], tid[32];
  my_job(job, sizeof job, jid, sizeof jid, tid, sizeof tid);
  const char *why = NULL;
  cb_slurm_queue q;
  cb_slurm_queue_read(&q);
  if (job[0] && strcmp(job, holder) == 0)
    why = "this task's earlier incarnation (requeued)";
  else if (q.available && !cb_slurm_queue_find(&q, holder))
    why = "a job squeue no longer lists";
  cb_slurm_queue_free(&q);
  if (!why) return 0;
  fprintf(stderr, "run %s was left running by job %s (worker %s), %s: taking it back\n", id, holder,
          worker, why);
  return cb_store_release(s, id, worker);
}

/* ---- the status file -------------------------------------------------------- */

struct cb_slurm_task {
  cb_store *s;
  char shard[4096], path[4200];
  cb_shard_status base;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop, running;
};

static void fill_base(cb_shard_status *st, cb_store *s, const char *id, int idx) {
  memset(st, 0, sizeof *st);
  snprintf(st->run, sizeof st->run, "%s", id);
  st->idx = idx;
  char jid[64], tid[32];
  my_job(st->job, sizeof st->job, jid, sizeof jid, tid, sizeof tid);
  char me[256];
  cb_store_worker_name(me, sizeof me);
  char *colon = strrchr(me, ':');
  if (colon) *colon = 0;
  snprintf(st->host, sizeof st->host, "%s", me);
  const char *log = getenv("CLIPBENCH_SLURM_LOG");
  snprintf(st->log, sizeof st->log, "%s", log ? log : "");
  cb_sweep_log_path(cb_store_path(s), NULL, id, st->run_log, sizeof st->run_log);
}

/* The status file from the run's row in s; with last, only when the status
 * or epoch differ from *last or `force` (last is updated). 1 when written,
 * 0 when unchanged, -1 on an error. */
static int write_from(cb_store *s, const char *path, const cb_shard_status *base,
                      cb_shard_status *last, int force) {
  cb_run_progress p;
  if (cb_store_progress(s, base->run, &p)) return -1;
  if (last && !force && strcmp(last->status, p.status) == 0 && last->epochs_done == p.epochs_done)
    return 0;
  cb_shard_status st = *base;
  snprintf(st.status, sizeof st.status, "%s", p.status);
  st.epochs_done = p.epochs_done;
  st.epochs = p.epochs_total;
  st.epsilon = p.epsilon;
  st.val_dice = p.val_dice;
  st.seconds_per_epoch = p.seconds_per_epoch;
  st.heartbeat = wall_now();
  snprintf(st.error, sizeof st.error, "%s", p.error);
  if (last) *last = st;
  return cb_slurm_status_write(path, &st) ? -1 : 1;
}

static void *beat(void *arg) {
  cb_slurm_task *t = arg;
  /* SIGINT/SIGTERM are for the training thread (it gives the run back). */
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, NULL);
  cb_store *s = cb_store_open(t->shard, 0);
  cb_shard_status last;
  memset(&last, 0, sizeof last);
  double written = 0;
  pthread_mutex_lock(&t->mu);
  while (!t->stop) {
    pthread_mutex_unlock(&t->mu);
    /* A failed write is tried again at the next poll; the run goes on. */
    double now = wall_now();
    int w = s ? write_from(s, t->path, &t->base, &last, now - written >= CB_SLURM_BEAT_S) : 0;
    if (w < 0) fprintf(stderr, "warning: status file: %s\n", cb_last_error());
    if (w > 0) written = now;
    pthread_mutex_lock(&t->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)CB_SLURM_POLL_S;
    while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0) {
    }
  }
  pthread_mutex_unlock(&t->mu);
  cb_store_close(s);
  return NULL;
}

cb_slurm_task *cb_slurm_task_begin(cb_store *s, const char *sweep, int idx, const char *id) {
  cb_slurm_task *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->s = s;
  snprintf(t->shard, sizeof t->shard, "%s", cb_store_path(s));
  cb_slurm_status_path(t->shard, t->path, sizeof t->path);
  fill_base(&t->base, s, id, idx);
  char job[64], jid[64], tid[32];
  my_job(job, sizeof job, jid, sizeof jid, tid, sizeof tid);
  /* Informational: a failure to record them must not stop the run. */
  if (jid[0]) cb_store_set_run_field(s, id, "slurm_job_id", jid);
  if (tid[0]) cb_store_set_run_field(s, id, "slurm_task_id", tid);
  if (t->base.log[0]) cb_store_set_run_field(s, id, "slurm_log", t->base.log);
  fprintf(stderr, "%s%s%srun %s (position %d of sweep %s) into %s on %s\n", job[0] ? "job " : "",
          job, job[0] ? ": " : "", id, idx, sweep, t->shard, t->base.host);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  t->running = pthread_create(&t->th, NULL, beat, t) == 0;
  return t;
}

void cb_slurm_task_end(cb_slurm_task *t) {
  if (!t) return;
  if (t->running) {
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
  }
  cb_shard_status last;
  if (write_from(t->s, t->path, &t->base, &last, 1) < 0) {
    fprintf(stderr, "warning: status file: %s\n", cb_last_error());
  } else {
    fprintf(stderr, "run %s %s at epoch %d of %d%s%s; its log: %s\n", last.run,
            strcmp(last.status, "pending") == 0 ? "was given back" : last.status, last.epochs_done,
            last.epochs, last.error[0] ? ": " : "", last.error, last.run_log);
  }
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

void cb_slurm_task_note(cb_store *s, const char *sweep, int idx, const char *id) {
  (void)sweep;
  char path[4200];
  cb_slurm_status_path(cb_store_path(s), path, sizeof path);
  cb_shard_status base;
  fill_base(&base, s, id, idx);
  if (write_from(s, path, &base, NULL, 1) < 0)
    fprintf(stderr, "warning: status file: %s\n", cb_last_error());
}

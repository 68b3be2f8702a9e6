/* Where the runs of a SLURM sweep stand. The main database knows what has
 * been merged and which job each run was submitted as; the queue (squeue)
 * knows what is waiting or running; the status file beside each shard knows
 * the task's progress and outcome. Runs the main database has finished are
 * taken as they are. */
#include "core/base/error.h"
#include "sweeps/slurm.h"

#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The job a run was last submitted as ("A_a"), and its output file. */
static void submitted_as(sqlite3_stmt *q, const char *id, char *job, size_t jn, char *log,
                         size_t ln) {
  job[0] = log[0] = 0;
  sqlite3_reset(q);
  sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
  if (sqlite3_step(q) != SQLITE_ROW) return;
  const unsigned char *j = sqlite3_column_text(q, 0), *l = sqlite3_column_text(q, 2);
  if (j && *j) {
    if (sqlite3_column_type(q, 1) != SQLITE_NULL)
      snprintf(job, jn, "%s_%d", (const char *)j, sqlite3_column_int(q, 1));
    else
      snprintf(job, jn, "%s", (const char *)j);
  }
  snprintf(log, ln, "%s", l ? (const char *)l : "");
}

static void take_progress(cb_sweep_item *it, const cb_shard_status *st) {
  it->p.epochs_done = st->epochs_done;
  if (st->epochs > 0) it->p.epochs_total = st->epochs;
  it->p.epsilon = st->epsilon;
  it->p.val_dice = st->val_dice;
  it->p.seconds_per_epoch = st->seconds_per_epoch;
}

static void overlay_one(cb_sweep_snapshot *ss, cb_sweep_item *it, const cb_slurm_queue *q,
                        const char *job, const cb_shard_status *st) {
  cb_run_progress *p = &it->p;
  const char *sjob = st->present && st->job[0] ? st->job : job;
  const cb_slurm_job *qj = cb_slurm_queue_find(q, job);
  if (!qj) qj = cb_slurm_queue_find(q, st->job);
  if (st->present && st->log[0]) snprintf(it->log, sizeof it->log, "%s", st->log);
  if (qj) {
    if (strcmp(qj->state, "PENDING") == 0 || strcmp(qj->state, "REQUEUED") == 0 ||
        strcmp(qj->state, "SUSPENDED") == 0) {
      snprintf(p->status, sizeof p->status, "pending");
      snprintf(it->slurm, sizeof it->slurm, "queued as job %s (%s)", qj->job, qj->state);
      if (st->present) take_progress(it, st);
      ss->queued++;
    } else {
      snprintf(p->status, sizeof p->status, "running");
      snprintf(it->slurm, sizeof it->slurm, "job %s on %s", qj->job, qj->node[0] ? qj->node : "?");
      if (strcmp(qj->state, "RUNNING") != 0)
        snprintf(it->slurm + strlen(it->slurm), sizeof it->slurm - strlen(it->slurm), " (%s)",
                 qj->state);
      p->heartbeat_at = cb_slurm_status_fresh(st) ? st->heartbeat : wall_now();
      if (st->present) take_progress(it, st);
    }
    return;
  }
  if (!st->present) {
    if (job[0])
      snprintf(it->slurm, sizeof it->slurm, "%s as job %s",
               q->available ? "ended before training (see its log)" : "submitted", job);
    return;
  }
  take_progress(it, st);
  if (strcmp(st->status, "finished") == 0 || strcmp(st->status, "failed") == 0) {
    snprintf(p->status, sizeof p->status, "%s", st->status);
    snprintf(p->error, sizeof p->error, "%s", st->error);
    snprintf(it->slurm, sizeof it->slurm, "in its shard, not merged%s%s%s", sjob[0] ? " (job " : "",
             sjob, sjob[0] ? ")" : "");
    it->in_shard = 1;
    ss->unmerged++;
    return;
  }
  if (strcmp(st->status, "running") == 0 && !q->available && cb_slurm_status_fresh(st)) {
    snprintf(p->status, sizeof p->status, "running");
    p->heartbeat_at = st->heartbeat;
    snprintf(it->slurm, sizeof it->slurm, "job %s on %s (status file)", sjob, st->host);
    return;
  }
  snprintf(p->status, sizeof p->status, "pending");
  if (strcmp(st->status, "running") == 0)
    snprintf(it->slurm, sizeof it->slurm,
             "job %s stopped at epoch %d without a word (killed?); resubmit to resume", sjob,
             st->epochs_done);
  else
    snprintf(it->slurm, sizeof it->slurm,
             "job %s was stopped at epoch %d (cancelled, time limit or preempted); resubmit to "
             "resume",
             sjob, st->epochs_done);
}

int cb_sweep_slurm_overlay(cb_store *s, cb_sweep_snapshot *ss) {
  if (ss->sweep_id <= 0) return 0;
  char main_abs[PATH_MAX];
  if (!realpath(cb_store_path(s), main_abs))
    snprintf(main_abs, sizeof main_abs, "%s", cb_store_path(s));
  cb_slurm_dir(main_abs, ss->name, ss->slurm_dir, sizeof ss->slurm_dir);
  struct stat sb;
  if (stat(ss->slurm_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    ss->slurm_dir[0] = 0;
    return 0;
  }
  ss->slurm = 1;
  sqlite3 *db = cb_store_db(s);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db, "SELECT slurm_job_id, slurm_task_id, slurm_log FROM runs WHERE id = ?",
                         -1, &q, NULL) != SQLITE_OK)
    return cb_error("%s: %s", cb_store_path(s), sqlite3_errmsg(db));
  cb_slurm_queue queue;
  cb_slurm_queue_read(&queue);
  if (!queue.available) snprintf(ss->queue_note, sizeof ss->queue_note, "%s", queue.why);
  int ret = 0;
  for (int i = 0; !ret && i < ss->n; i++) {
    cb_sweep_item *it = &ss->items[i];
    char job[96], shard[4300], spath[4400];
    submitted_as(q, it->p.id, job, sizeof job, it->log, sizeof it->log);
    if (strcmp(it->p.status, "finished") == 0 || strcmp(it->p.status, "failed") == 0) continue;
    cb_slurm_shard_path(ss->slurm_dir, it->p.id, shard, sizeof shard);
    cb_slurm_status_path(shard, spath, sizeof spath);
    cb_shard_status st;
    if (cb_slurm_status_read(db, spath, &st)) {
      ret = -1;
      break;
    }
    overlay_one(ss, it, &queue, job, &st);
  }
  sqlite3_finalize(q);
  cb_slurm_queue_free(&queue);
  cb_sweep_snapshot_tally(ss);
  return ret;
}

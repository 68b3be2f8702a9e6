/* Sweeps on a SLURM cluster (issue 10): job-array scripts, one SQLite shard
 * per array task, the tasks' status files, and what the queue says.
 *
 * Layout, for the main database MAIN.db and sweep S (the folder is derived,
 * so `status` and `merge` find it from MAIN.db and S alone):
 *
 *   MAIN.slurm/S/job.sbatch           the array script (job-1.sbatch, ... when split)
 *   MAIN.slurm/S/logs/<A>_<a>.out     each task's output (%A_%a)
 *   MAIN.slurm/S/shards/<run id>.db   the task's own database (SQLite must not
 *                                     be shared over NFS/Lustre)
 *   MAIN.slurm/S/shards/<run id>.json the task's status file, replaced
 *                                     atomically after every epoch and at
 *                                     least every 30 s (safe to read from any
 *                                     node, unlike a live SQLite file)
 *   MAIN.slurm/S/shards/checkpoints/, logs/   what the runner writes beside a database
 *
 * A shard holds the sweep (name, file, spec) and its one run at its frozen
 * position, so `clipbench merge` can rebuild positions from shards alone. */
#ifndef CB_SWEEPS_SLURM_H
#define CB_SWEEPS_SLURM_H

#include "sweeps/sweep.h"

#include <stddef.h>

/* A status file older than this while it says "running" means its task died
 * without a word (SIGKILL, node failure). */
#define CB_SLURM_STALE_S 120.0
/* A task looks at its progress every CB_SLURM_POLL_S and rewrites its
 * status file when it changed or CB_SLURM_BEAT_S have passed (a file per
 * poll would load a shared file system with thousands of tasks). */
#define CB_SLURM_POLL_S 2.0
#define CB_SLURM_BEAT_S 30.0
/* SLURM's default MaxArraySize (the largest index is one less). */
#define CB_SLURM_DEFAULT_MAX_ARRAY 1001

/* <MAIN minus .db>.slurm/<sweep, unsafe characters as _>. */
void cb_slurm_dir(const char *main_db, const char *sweep, char *out, size_t n);
/* <dir>/shards/<id>.db and .json */
void cb_slurm_shard_path(const char *dir, const char *id, char *out, size_t n);
void cb_slurm_status_path(const char *shard, char *out, size_t n);

/* ---- the queue --------------------------------------------------------- */

typedef struct {
  char job[64]; /* "A_a" for array tasks, else the job id */
  char state[24];
  char node[64];
} cb_slurm_job;

typedef struct {
  int available; /* squeue answered */
  char why[256]; /* when not: why */
  int n;
  cb_slurm_job *jobs;
} cb_slurm_queue;

/* The current user's jobs, one line per array task (squeue -r). Never fails:
 * without squeue (or when it errs) available = 0 and why says so. */
void cb_slurm_queue_read(cb_slurm_queue *q);
void cb_slurm_queue_free(cb_slurm_queue *q);
/* The entry of job "A_a" (or "J"), or NULL. */
const cb_slurm_job *cb_slurm_queue_find(const cb_slurm_queue *q, const char *job);

/* MaxArraySize from `scontrol show config`, or CB_SLURM_DEFAULT_MAX_ARRAY. */
int cb_slurm_max_array_size(void);

/* Seconds to wait for squeue/scontrol, and for sbatch (which may queue
 * behind a busy controller). */
#define CB_SLURM_QUERY_TIMEOUT_S 15.0
#define CB_SLURM_SUBMIT_TIMEOUT_S 120.0

/* Runs argv (PATH lookup) and captures its stdout and stderr. Returns the
 * exit status, 127 when it cannot run, 124 when it did not finish within
 * timeout_s (it is killed), -1 on a system error (cb_error). */
int cb_slurm_run(char *const argv[], char *out, size_t n, double timeout_s);

/* ---- status files ------------------------------------------------------ */

typedef struct {
  int present;
  char run[CB_RUN_ID_LEN + 1];
  char status[16]; /* pending, running, finished, failed */
  int idx;
  int epochs_done, epochs;
  double epsilon, val_dice; /* NaN when unknown */
  double seconds_per_epoch;
  double heartbeat; /* unix seconds */
  char job[64];     /* "A_a", "J" or "" outside SLURM */
  char host[128];
  char log[1024];     /* the task's SLURM output */
  char run_log[1024]; /* the run's own log */
  char error[512];
} cb_shard_status;

/* Writes the status file (temporary file + rename). */
int cb_slurm_status_write(const char *path, const cb_shard_status *st);
/* Reads it through db's JSON functions (any open connection: no table is
 * touched). Absent file: present = 0 and 0 returned. */
int cb_slurm_status_read(sqlite3 *db, const char *path, cb_shard_status *st);
/* Whether a "running" status file's heartbeat is recent. */
int cb_slurm_status_fresh(const cb_shard_status *st);

/* ---- writing and submitting the job array -------------------------------- */

typedef struct {
  const char *db; /* main database (already holding the frozen sweep) */
  const char *sweep;
  int64_t sweep_id;
  const char *partition, *time, *mem, *account;
  int gpus_per_task, cpus_per_task, max_running;
  int max_array_size; /* 0: ask scontrol */
  int retry_failed;
  int submit;
  int json;
  int n_extra;
  const char *const *extra; /* more #SBATCH options, as given */
} cb_slurm_args;

/* Writes the array script(s) for the sweep's unfinished runs (creating their
 * shards), and with submit, submits them and records the job ids in the main
 * database. Prints what it did. */
int cb_sweep_slurm(cb_store *s, const cb_slurm_args *a);

/* ---- the array task ----------------------------------------------------- */

/* Called by the worker (--index with --shard-of): whether the run at
 * position idx of the sweep is finished in the main database (its id into
 * id), read without locking or writing the file (immutable, so no harm on a
 * network file system while the login node owns it); errors read as "no". */
int cb_slurm_finished_in_main(const char *main_db, const char *sweep, int idx, char *id, size_t n);

/* Gives back a run of the shard held by a task that is gone: the same array
 * task before a requeue, or a job squeue no longer lists. */
int cb_slurm_takeback(cb_store *s, const char *id);

/* Records this task's SLURM job in the shard's run row and keeps the status
 * file current from a thread until cb_slurm_task_end. */
typedef struct cb_slurm_task cb_slurm_task;
cb_slurm_task *cb_slurm_task_begin(cb_store *s, const char *sweep, int idx, const char *id);
/* Writes the final status file and stops the thread. */
void cb_slurm_task_end(cb_slurm_task *t);
/* The status file of a run that was not trained now (finished or failed). */
void cb_slurm_task_note(cb_store *s, const char *sweep, int idx, const char *id);

/* ---- status --------------------------------------------------------------- */

/* For a sweep with a SLURM folder: replaces the state of every run the main
 * database has not finished by what its status file and the queue say
 * (queued, running on which job, finished or failed in its shard, or stopped),
 * fills the items' slurm/log fields and recomputes counts and ETA. Nothing
 * happens for other sweeps. */
int cb_sweep_slurm_overlay(cb_store *s, cb_sweep_snapshot *ss);

#endif

/* Sweeps: a YAML grid of experiments expanded into runs, frozen into the
 * results database, and worked off by local worker processes (issue 7).
 *
 *   cb_sweep sw;
 *   cb_sweep_load(&sw, "sweeps/x.yaml", n_sets, sets);  parse, expand, validate
 *   cb_sweep_freeze(store, &sw, retry_failed, &fz);     one transaction
 *   cb_sweep_run_local(store, &args, &summary);         workers until done
 *
 * Expansion order (the order runs are claimed in): for each seed, for each
 * arm, the cartesian product of the grid (first key outermost), then the
 * include entries. Points whose run id was seen before are merged into the
 * first (a non-private arm is not multiplied by noise multipliers: grid keys
 * that do not apply to a point are cleared, so those points share one id).
 *
 * Freezing: every run of the expansion gets a row (or joins its existing
 * row: the id is the configuration hash, so runs are shared between sweeps
 * and with `clipbench run`) and a position idx in the sweep. Positions never
 * change once given: a re-run of an edited file appends the new points after
 * the highest position, and runs no longer in the file stay listed. Issue 10
 * (SLURM arrays) uses idx as the array index.
 *
 * Workers claim pending runs of the sweep one at a time (BEGIN IMMEDIATE ...
 * RETURNING in the store), train them through the experiment runner (which
 * resumes from the run's checkpoint) and write the runner's progress to
 * <db folder>/logs/<run id>.log. */
#ifndef CB_SWEEPS_SWEEP_H
#define CB_SWEEPS_SWEEP_H

#include "experiments/config.h"
#include "results/store.h"

#include <stdint.h>
#include <stdio.h>

#define CB_SWEEP_NAME_MAX 128
#define CB_SWEEP_MAX_COLS 24
#define CB_SWEEP_MAX_POINTS 100000
/* Worker processes one `clipbench sweep --jobs N` may start. */
#define CB_SWEEP_MAX_JOBS 256
/* A run whose worker died this many times is failed instead of retried. */
#define CB_SWEEP_MAX_ATTEMPTS 5
/* Seconds without a heartbeat after which another process's run is taken
 * back (the runner beats every 15 s during training). */
#define CB_SWEEP_GRACE_S 120.0

typedef struct {
  int idx; /* expansion order after load; the frozen position after freeze/plan */
  char id[CB_RUN_ID_LEN + 1];
  char name[128];
  char *config; /* canonical JSON of the resolved configuration (CB_EXP_JSON_FULL) */
  char *point;  /* JSON object: arm, the grid values that apply, seed */
  char **cells; /* one text per column of the table; "-" where the key does not apply */
  int epochs;
  int backend;     /* CB_EXP_BACKEND_* */
  int is_new;      /* plan/freeze: not yet listed in the sweep */
  char status[16]; /* plan/freeze: status in the database, "" when the run is new */
} cb_sweep_run;

typedef struct {
  char name[CB_SWEEP_NAME_MAX];
  char file[4096];
  char *spec; /* what is frozen: the file's text plus the --set arguments */
  int n_cols;
  char cols[CB_SWEEP_MAX_COLS][64]; /* table header: arm, grid keys, seed */
  int n_points;                     /* points after exclusion, before merging equal ids */
  int n_excluded;
  int n_runs;
  cb_sweep_run *runs;
  int n_notes; /* remarks for people (an exclude pattern matching nothing) */
  char **notes;
} cb_sweep;

/* Parses the sweep file, applies `sets` ("key=value", like clipbench run
 * --set, to every point) and expands it. Every mistake is an error with
 * file:line:col; a point that fails validation is named. */
int cb_sweep_load(cb_sweep *sw, const char *path, int n_sets, const char *const *sets);
void cb_sweep_free(cb_sweep *sw);
/* Loads every distinct dataset of the sweep's runs once, as training will:
 * a missing or unreadable dataset is one error naming the run and the path,
 * before anything is frozen, trained or submitted. */
int cb_sweep_check_data(const cb_sweep *sw);

/* The sweep's frozen positions and run statuses as the database knows them,
 * without writing: fills runs[].idx, is_new, status. *sweep_id = 0 when the
 * sweep is not in the database. (The dry run.) */
int cb_sweep_plan(cb_store *s, cb_sweep *sw, int64_t *sweep_id);

typedef struct {
  int64_t sweep_id;
  int n_new;         /* runs added to the sweep now */
  int n_listed;      /* runs in the sweep after freezing */
  int n_retried;     /* failed runs set back to pending (retry_failed) */
  int n_not_in_file; /* runs of the sweep no longer in its file (kept) */
} cb_sweep_frozen;

/* Freezes the expansion in one transaction: the sweep row (its spec is
 * updated when points are added), the run rows and their positions; with
 * retry_failed, the sweep's failed runs become pending again. Fills the
 * runs' plan fields as cb_sweep_plan does. Idempotent. */
int cb_sweep_freeze(cb_store *s, cb_sweep *sw, int retry_failed, cb_sweep_frozen *out);

/* Runs of the sweep (sweep_id > 0) or of the whole database (0) that are
 * stuck as running: a worker process of this host that no longer exists
 * gives its run back at once, other workers' runs go back to pending when
 * their heartbeat is older than grace_s (failed after max_attempts). *n (may
 * be NULL) = runs given back. */
int cb_sweep_reclaim(cb_store *s, int64_t sweep_id, double grace_s, int max_attempts, int *n);
/* Whether worker "host:pid" is a process of this host that no longer exists
 * (other hosts' workers cannot be asked: 0). */
int cb_sweep_worker_dead(const char *worker);

/* ---- workers --------------------------------------------------------- */

typedef struct {
  const char *db;
  const char *sweep;   /* name */
  int threads;         /* CPU threads per run when the configuration leaves it at 0 */
  const char *log_dir; /* NULL = <db folder>/logs */
  int by_index;        /* train only the run at position `index` (a SLURM array task) */
  int index;
  int retry_failed; /* with index: train that run again if it failed */
  /* With index: db is a shard of this main database (a SLURM array task):
   * exit at once when the run is finished there, record the SLURM job and
   * keep a status file beside the shard (sweeps/slurm.h). */
  const char *shard_of;
} cb_sweep_worker_args;

/* One worker: claims pending runs of the sweep and trains them until none is
 * left or SIGINT/SIGTERM arrives (the run in progress is given back and
 * resumes from its checkpoint later). A run that fails is recorded as failed
 * and the worker goes on. Returns 0, or -1 when the database cannot be used
 * or the worker was interrupted (cb_error set).
 * With by_index it trains only the run at position index of the frozen
 * expansion: 0 when it finishes or was already finished (so resubmitting a
 * task is harmless), -1 when it fails, is failed (without retry_failed) or is
 * held by another live worker. */
int cb_sweep_worker(const cb_sweep_worker_args *a);

/* The log file of a run: <dir>/<id>.log, dir = log_dir or <db folder>/logs. */
void cb_sweep_log_path(const char *db, const char *log_dir, const char *id, char *out, size_t n);

typedef struct {
  const char *db;
  const char *sweep; /* name; its expansion must be frozen */
  int64_t sweep_id;
  int jobs;    /* worker processes; 0 = one per CUDA device, else 1 */
  int threads; /* per worker; 0 = the CPU cores divided by the workers */
  int cuda;    /* whether configurations may use CUDA (backend auto or cuda) */
  int json;    /* events and the summary as JSON lines on stdout */
  int quiet;   /* no display, only the summary */
} cb_sweep_local_args;

typedef struct {
  int counts[4];           /* pending, running, finished, failed (CB_RUN_*) at the end */
  int total;               /* runs in the sweep */
  int started;             /* runs this invocation's workers claimed */
  int done_here;           /* of those, finished */
  int failed_here;         /* of those, failed */
  int interrupted;         /* stopped by SIGINT/SIGTERM */
  int no_space;            /* stopped because a disk is full (runs given back) */
  char no_space_msg[1024]; /* the worker's error */
  double seconds;
} cb_sweep_summary;

/* Starts the worker processes (fork and exec of this binary as `clipbench
 * sweep --worker`), splits the CPU threads between them and pins one per
 * CUDA device (CUDA_VISIBLE_DEVICES), shows progress, replaces workers that
 * die, forwards SIGINT/SIGTERM and waits until no run of the sweep is pending
 * or running (runs held by other live processes are waited for). */
int cb_sweep_run_local(cb_store *s, const cb_sweep_local_args *a, cb_sweep_summary *out);

/* ---- progress and status ---------------------------------------------- */

typedef struct {
  int idx; /* position in the sweep (-1 for loose runs) */
  char *point;
  cb_run_progress p;
  int stale; /* running, but the heartbeat is older than the grace period, or */
  int dead;  /* its worker is a process of this host that no longer exists */
  /* SLURM sweeps (cb_sweep_slurm_overlay): where the run is ("queued as job
   * 12_3", "job 12_3 on node7"), the task's output file, and whether its
   * state comes from a shard not merged yet. */
  char slurm[192];
  char log[1024];
  int in_shard;
} cb_sweep_item;

typedef struct {
  int64_t sweep_id; /* 0: the loose runs (in no sweep) */
  char name[CB_SWEEP_NAME_MAX];
  char file[4096];
  int n;
  cb_sweep_item *items;
  int counts[4];
  int active;         /* running runs with a fresh heartbeat (= busy workers) */
  double remaining_s; /* training seconds left, summed over unfinished runs */
  double eta_s;       /* remaining_s / active workers (NaN when unknown) */
  /* SLURM sweeps: the sweep's SLURM folder, runs finished or failed in
   * shards not merged yet, runs queued, and why squeue was not asked. */
  int slurm;
  char slurm_dir[4096];
  int unmerged, queued;
  char queue_note[256];
} cb_sweep_snapshot;

/* Progress of every run of a sweep (sweep_id > 0) or of the loose runs (0).
 * Seconds per epoch: a run's own mean when it has epochs, else the mean over
 * the sweep's epochs. */
int cb_sweep_snapshot_take(cb_store *s, int64_t sweep_id, cb_sweep_snapshot *out);
void cb_sweep_snapshot_free(cb_sweep_snapshot *ss);
/* Counts, active workers, stale flags and ETA from the items (after their
 * progress changed). */
void cb_sweep_snapshot_tally(cb_sweep_snapshot *ss);

/* "1h05m", "42s", "?" */
void cb_sweep_fmt_duration(double s, char *buf, size_t n);

#endif

/* The results store: one SQLite database holding sweeps, runs, per-epoch
 * metrics, per-class scores and per-layer gradient norms (schema in
 * results/schema.c, summary in README "Experiment files and results
 * database").
 *
 * Concurrency: several processes may use one database on one machine at
 * once. Connections use WAL, busy_timeout, foreign_keys=ON and
 * synchronous=NORMAL; every write is one short BEGIN IMMEDIATE transaction
 * (so a waiting writer queues in the busy handler instead of failing), and a
 * transaction still locked after busy_timeout is retried until the store's
 * lock timeout before it is reported. The schema is created or migrated in
 * one BEGIN IMMEDIATE transaction when a database is opened, so processes
 * that open a fresh database together cannot race. SQLite must not be shared
 * over NFS/Lustre: on a cluster each task writes its own shard.
 *
 * Run life cycle: pending -> running (claimed by one worker, heartbeat) ->
 * finished | failed. A running run whose heartbeat is older than a grace
 * period goes back to pending (cb_store_requeue_stale). Writes on behalf of a
 * run (epochs, heartbeat, finish, fail) name the worker; if the run has been
 * taken away from that worker they fail, so a stalled process that wakes up
 * cannot overwrite the work of its successor.
 *
 * Epoch rows: one epoch (its epochs row, per-class rows and per-layer rows)
 * is written as a unit in one transaction by cb_store_put_epoch. Writing
 * epoch e first deletes any rows of epochs >= e of that run, and epoch e - 1
 * must already be there. So a run's rows are always exactly epochs 1..e of
 * one trajectory: no duplicates, no gaps, and rows from an attempt that was
 * killed after its last checkpoint are replaced when the resumed attempt
 * recomputes those epochs. The runner writes an epoch's rows before its
 * checkpoint, so every checkpointed epoch has its rows. */
#ifndef CB_RESULTS_STORE_H
#define CB_RESULTS_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cb_store cb_store;
typedef struct sqlite3 sqlite3;

#define CB_STORE_RUN_ID_LEN 16

enum {
  CB_STORE_CREATE = 1,   /* create the file (and its folder) when missing */
  CB_STORE_READONLY = 2, /* read only: never writes to the file nor switches its journal
                          * mode; an older schema is read through a migrated copy in
                          * memory; a read-only folder or mount is read as immutable */
};

/* Opens (and creates or migrates) the database at path. NULL with cb_error
 * set on failure; the message names the file and the fix. The file is
 * identified as a clipbench database (application id and our
 * schema_migrations table) before anything in it is changed: a foreign SQLite
 * file is refused untouched. */
cb_store *cb_store_open(const char *path, int flags);
/* Checkpoints the WAL into the main file when it is the last connection. */
void cb_store_close(cb_store *s);

const char *cb_store_path(const cb_store *s);
/* Whether the file at the store's path is still the one opened: -1 with
 * cb_error set when it was deleted or replaced (a sweep must stop: its rows
 * would go to a file nobody can see). */
int cb_store_check_file(cb_store *s);
/* The connection, for read queries (export, status). Do not write through it
 * outside cb_store_begin/commit. */
sqlite3 *cb_store_db(cb_store *s);
/* Schema version of the open database and of this code. */
int cb_store_schema_version(cb_store *s);
int cb_store_code_schema_version(void);
/* Seconds to keep retrying a locked database before reporting it (default
 * 120; the busy handler inside waits up to 10 s per attempt). */
void cb_store_set_lock_timeout(cb_store *s, double seconds);

/* Groups several writes in one BEGIN IMMEDIATE transaction (e.g. freezing a
 * sweep's expansion). The write functions below join an open transaction and
 * otherwise run in their own. */
int cb_store_begin(cb_store *s);
int cb_store_commit(cb_store *s);
void cb_store_rollback(cb_store *s);

/* "host:pid", the default worker name. */
void cb_store_worker_name(char *buf, size_t n);

/* ---- sweeps and runs -------------------------------------------------- */

/* Creates the sweep (or finds it by name); spec is the frozen sweep file. */
int cb_store_add_sweep(cb_store *s, const char *name, const char *file, const char *spec,
                       int64_t *sweep_id);

/* Creates the run row if it does not exist (an existing row, whatever its
 * status, is left alone: never a duplicate). The main fields (arch,
 * clipping, noise_multiplier, ...) are taken from config, the canonical JSON
 * of cb_exp_to_json(CB_EXP_JSON_FULL). With sweep_id > 0 the run is also
 * listed in that sweep at position idx with its grid values `point` (JSON
 * object or NULL). *created (may be NULL) tells whether the run is new. */
int cb_store_add_run(cb_store *s, const char *id, const char *name, const char *config,
                     int64_t sweep_id, int idx, const char *point, int *created);

typedef struct {
  char id[CB_STORE_RUN_ID_LEN + 1];
  char status[16];  /* when not claimed: why (finished, running, failed) */
  char *config;     /* resolved config JSON (malloc'ed) */
  char *checkpoint; /* last checkpoint path or NULL (malloc'ed) */
  int attempts;     /* claims, including this one */
  int counted;      /* of those, the ones that count against the retry limit: all but the
                     * interrupted ones (runs.attempts - runs.interruptions) */
  int epochs_done;  /* epochs with rows */
} cb_claim;
void cb_claim_free(cb_claim *c);

/* Atomically takes the next pending run (of the sweep when sweep_id > 0, in
 * expansion order) for `worker`. Returns 1 with *out filled, 0 when nothing
 * is pending, -1 on error. */
int cb_store_claim_next(cb_store *s, int64_t sweep_id, const char *worker, cb_claim *out);
/* Takes one run: pending (or failed, with retry_failed) becomes running.
 * Returns 1 when claimed; 0 when not, with out->status saying why; -1 on
 * error (for example an unknown id). */
int cb_store_claim_run(cb_store *s, const char *id, const char *worker, int retry_failed,
                       cb_claim *out);

/* Keeps the claim alive. Fails (-1, cb_error) when the run no longer belongs
 * to worker: the caller must stop working on it. */
int cb_store_heartbeat(cb_store *s, const char *id, const char *worker);
int cb_store_finish(cb_store *s, const char *id, const char *worker);
/* Records the failure reason (one line) and status failed. */
int cb_store_fail(cb_store *s, const char *id, const char *worker, const char *error);
/* Gives the run back (status pending) after an interruption that is no fault
 * of the training: SIGINT/SIGTERM, a stopping sweep, SLURM preemption or
 * requeue, a full disk. Counted in runs.interruptions, so it never uses up
 * one of the run's attempts. */
int cb_store_release(cb_store *s, const char *id, const char *worker);
/* Gives back the run of a worker that died while training it (killed, out
 * of memory, crashed): status pending, and the attempt counts. */
int cb_store_requeue(cb_store *s, const char *id, const char *worker);
/* Runs of dead workers: running with a heartbeat older than grace_s go back
 * to pending, or to failed once max_attempts of their attempts ended that
 * way or in a crash (interruptions do not count; 0 = no limit). *n (may be
 * NULL) = runs changed. */
int cb_store_requeue_stale(cb_store *s, double grace_s, int max_attempts, int *n);

/* Sets one informational column of a run: backend, checkpoint, host,
 * slurm_job_id, slurm_task_id, slurm_log, data_fingerprint, n_params. */
int cb_store_set_run_field(cb_store *s, const char *id, const char *field, const char *value);

/* Records the names of the run's classes (class k = names[k]), replacing
 * any recorded before. */
int cb_store_put_class_names(cb_store *s, const char *id, int n, const char *const *names);

/* ---- per-epoch rows ---------------------------------------------------- */

enum { CB_NORM_P10, CB_NORM_P25, CB_NORM_P50, CB_NORM_P75, CB_NORM_P90, CB_NORM_P99, CB_NORM_MAX };

/* One clipping group's per-sample norms over an epoch (see
 * cb_dp_group_stats): a tensor or layer clipped against its own C_k (scope
 * "tensor"/"layer"), or a layer of a gradient clipped as a whole (scope
 * "model", clip_bound the model-wide C). */
typedef struct {
  const char *name; /* parameter tensor or layer, model order */
  double median, p90, max;
  double clip_bound;   /* bound in force (mean over the epoch's samples) */
  double frac_clipped; /* fraction of samples whose group norm exceeded it */
  const char *scope;   /* "tensor", "layer" or "model"; NULL = unknown */
} cb_layer_norm_row;

/* One epoch. NaN (or NULL pointers) mean "not measured" and are stored as
 * NULL: val_* when the epoch was not evaluated, epsilon columns of
 * accountants not configured, norms of a non-private run. */
typedef struct {
  int epoch;    /* 1-based */
  int64_t step; /* logical steps done at the end of the epoch (cumulative) */
  int steps;    /* logical steps in this epoch */
  double train_loss, train_pixel_acc;
  double val_loss, val_pixel_acc;
  double val_dice, val_dice_fg; /* mean Dice over all classes / without background */
  double val_iou, val_iou_fg;
  double epoch_seconds, samples_per_s;
  double expected_batch, realised_batch; /* realised = mean logical batch size */
  double eps_rdp, eps_prv, eps_gdp, eps_pld;
  double epsilon;         /* the primary accountant's */
  const char *accountant; /* which one produced epsilon (NULL if non-private) */
  double delta;
  double clip_bound, noise_multiplier; /* in force during the epoch */
  double frac_clipped;
  double norm[7]; /* per-sample pre-clip norms: p10 p25 p50 p75 p90 p99 max */
  double lr;
  int n_classes;
  const double *class_dice, *class_iou; /* [n_classes] or NULL */
  int n_layers;
  const cb_layer_norm_row *layers; /* [n_layers] or NULL */
} cb_epoch_row;

/* Sets every double of r to NaN and every pointer/count to 0. */
void cb_epoch_row_init(cb_epoch_row *r);

/* Writes epoch r->epoch of run `id` as one unit (see the header comment).
 * With worker != NULL the run must be running under that worker; the write
 * also counts as a heartbeat. */
int cb_store_put_epoch(cb_store *s, const char *id, const char *worker, const cb_epoch_row *r);
/* Deletes the run's rows of epochs > keep_through (e.g. at resume). */
int cb_store_truncate_epochs(cb_store *s, const char *id, int keep_through);

/* A run's privacy audit (experiments/audit.h): one row of `audits` and one
 * row per canary in `audit_canaries`, replaced as a unit. */
typedef struct {
  const char *kind; /* gradient | input */
  int canaries, included, guesses, correct;
  double confidence, delta, epsilon_lb;
  double epsilon;         /* the run's accountant epsilon at the end (NaN: non-private) */
  const char *accountant; /* its name, or NULL */
  int privacy_bug;        /* epsilon_lb > epsilon: less private than reported */
  double seconds;         /* time spent on canaries and scoring */
  /* per canary [canaries] */
  const unsigned char *in, *guessed;
  const double *score;
} cb_audit_row;
int cb_store_put_audit(cb_store *s, const char *id, const cb_audit_row *r);
/* ---- what a run's epsilon stands on, and its test split ----------------- */

/* Written when a run starts (results/store_test.c). dp_guarantee: 1 = the
 * epsilon columns are a DP guarantee for this run, 0 = they are not
 * (dp_caveat says why), -1 = a non-private run (stored as NULL). */
typedef struct {
  double sample_rate; /* the q given to the accountant */
  int64_t dataset_size;
  const char *sampling; /* "poisson" | "shuffle" */
  int dp_guarantee;
  const char *dp_caveat; /* NULL when there is nothing to say */
} cb_run_sampling;
int cb_store_set_run_sampling(cb_store *s, const char *id, const char *worker,
                              const cb_run_sampling *p);

/* The test split evaluated with one set of weights: "final" (after the last
 * epoch) or "best_val" (the epoch with the best validation Dice). Replaces
 * an earlier row of the same run and weights. */
typedef struct {
  const char *weights; /* "final" | "best_val" */
  int epoch;           /* whose weights */
  double loss, pixel_acc, dice, dice_fg, iou, iou_fg;
  int n_classes;
  const double *class_dice, *class_iou; /* [n_classes] */
} cb_test_row;
int cb_store_put_test(cb_store *s, const char *id, const char *worker, const cb_test_row *r);

/* ---- progress -------------------------------------------------------- */

typedef struct {
  char id[CB_STORE_RUN_ID_LEN + 1];
  char name[128];
  char status[16];
  char worker[128];
  char error[512];
  int attempts;
  int epochs_done, epochs_total;
  double epsilon;                               /* last epoch's, NaN if none */
  double val_dice;                              /* last evaluated epoch's, NaN if none */
  double seconds_per_epoch;                     /* mean over the rows */
  double started_at, heartbeat_at, finished_at; /* unix seconds, NaN if unset */
  double audit_lb;                              /* audited epsilon lower bound, NaN if none */
  double audit_epsilon;                         /* the accountant's epsilon it was held to */
  int privacy_bug;                              /* the audit's lower bound exceeds it */
  int dp_guarantee; /* runs.dp_guarantee: 1, 0 (epsilon not a DP guarantee), -1 unknown/none */
} cb_run_progress;

int cb_store_progress(cb_store *s, const char *id, cb_run_progress *p);
/* Runs per status (pending, running, finished, failed) of a sweep
 * (sweep_id > 0) or of the whole database. */
enum { CB_RUN_PENDING, CB_RUN_RUNNING, CB_RUN_FINISHED, CB_RUN_FAILED };
int cb_store_status_counts(cb_store *s, int64_t sweep_id, int counts[4]);
/* Id of the sweep called name: 1 found, 0 not, -1 error. */
int cb_store_find_sweep(cb_store *s, const char *name, int64_t *sweep_id);

#endif

/* The experiment runner: trains one resolved configuration and records it in
 * the results database (issue 6). `clipbench run` parses the file and options
 * and hands over here; the sweep workers hand over claimed runs.
 *
 * A run is checkpointed after every checkpoint.every epochs (and the last);
 * its epoch rows are written before the checkpoint, so a run killed at any
 * moment restarts from its last checkpoint and rewrites the epochs after it:
 * the final rows and weights equal those of an uninterrupted run. */
#ifndef CB_EXPERIMENTS_RUNNER_H
#define CB_EXPERIMENTS_RUNNER_H

#include "experiments/config.h"
#include "results/store.h"

typedef struct {
  const char *db;    /* results database path */
  const char *file;  /* the experiment file, for messages */
  int quiet;         /* no progress on stderr */
  int json;          /* one JSON object per epoch on stdout */
  int retry_failed;  /* clipbench run: a failed run is trained again */
  const char *label; /* progress prefix (default: the run name) */
} cb_run_args;

/* Trains e (resolved) to completion or failure. Returns 0 when the run is
 * finished (or was already finished), -1 with cb_error set otherwise. */
int cb_run_experiment(const cb_experiment *e, const cb_run_args *a);

/* Trains a run already claimed by `worker` in store s (e is its resolved
 * configuration). Marks it finished, failed (with the reason) or, when
 * interrupted by SIGINT/SIGTERM, gives it back as pending. Returns 0 when
 * finished, -1 otherwise (cb_error set). */
int cb_run_claimed(cb_store *s, const char *worker, const cb_claim *c, const cb_experiment *e,
                   const cb_run_args *a);

/* Installs SIGINT/SIGTERM handlers that make runs stop at the next step and
 * release their claim; cb_run_interrupted() tells whether one arrived. */
void cb_run_install_signals(void);
int cb_run_interrupted(void);

/* Where a run's checkpoint lives: DIR/<id>/checkpoint.safetensors with DIR
 * = checkpoint.dir relative to the database's folder (unless absolute). */
void cb_run_checkpoint_path(const cb_experiment *e, const char *db, const char *id, char *out,
                            size_t n);

/* The best-validation checkpoint beside a run's latest one:
 * DIR/<id>/best_val.safetensors. */
void cb_run_best_path(const char *ckpt, char *out, size_t n);

/* Why a private run's epsilon is not a DP guarantee (stored as
 * runs.dp_caveat; every reason, joined by "; ") in buf, or NULL when it is
 * one or the run is non-private. */
const char *cb_run_dp_caveat(const cb_experiment *e, char *buf, size_t n);

#endif

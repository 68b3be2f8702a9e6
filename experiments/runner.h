/* The experiment runner: trains one resolved configuration and records it in
 * the results database (issue 6). `clipbench run` parses the file and options
 * and hands over here. */
#ifndef CB_EXPERIMENTS_RUNNER_H
#define CB_EXPERIMENTS_RUNNER_H

#include "experiments/config.h"

typedef struct {
  const char *db;   /* results database path */
  const char *file; /* the experiment file, for messages */
  int quiet;        /* no progress on stderr */
  int json;         /* one JSON object per epoch on stdout */
} cb_run_args;

/* Trains e (resolved) to completion or failure. Returns 0 when the run is
 * finished (or was already finished), -1 with cb_error set otherwise. */
int cb_run_experiment(const cb_experiment *e, const cb_run_args *a);

#endif

/* Warnings about clip bounds that never or always bind (see bounds.c). */
#ifndef CB_RESULTS_BOUNDS_H
#define CB_RESULTS_BOUNDS_H

#include "results/store.h"

typedef void (*cb_warning_fn)(void *ctx, const char *message);

/* Calls emit once per run (of sweep, or all runs when NULL) whose last epoch
 * has a clipping group whose bound never or always bound, with one line
 * naming the run, the epoch and the counts. Returns the number of warnings,
 * or -1. */
int cb_bound_warnings(cb_store *s, const char *sweep, cb_warning_fn emit, void *ctx);

#endif

/* A stored run's epsilon recomputed from the database (clipbench epsilon
 * --run ID). */
#ifndef CB_RESULTS_RUN_EPSILON_H
#define CB_RESULTS_RUN_EPSILON_H

#include "core/privacy/accountant.h"

/* Prints the run's sampling facts, its accountant history and, per
 * accountant (accountant < 0: all), the recomputed epsilon next to the one
 * stored for its last epoch. delta NaN = the run's delta. Returns -1 with
 * cb_error set for an unknown or non-private run, or one without stored
 * sampling facts. */
int cb_run_epsilon_print(const char *db, const char *id, int accountant, double delta, int json);

#endif

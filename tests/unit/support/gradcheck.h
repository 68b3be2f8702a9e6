/* Checks a small graph (cb_model_create_graph + cb_add_*) against the
 * double-precision reference (ref.h):
 *   1. forward: the last node's output;
 *   2. backward of J = sum_i <y_i, R_i> (R fixed random): the input gradient
 *      and the parameter gradients (coefficients 1) against central finite
 *      differences of the reference J, on every coordinate;
 *   3. per-sample gradients of each parameterised node equal the gradients
 *      of that image run alone (batch of one), and the coefficient-weighted
 *      sum (with beta) equals sum_i c_i g_i;
 *   4. ghost squared norms equal the squared norms of the materialised
 *      per-sample gradients (convolutions).
 * Comparisons use two bounds at once (gc_compare): the relative L2 error
 * |got - want|_2 / |want|_2 <= tol and every element |got_j - want_j| <=
 * tol * max_j |want_j|. */
#ifndef CB_TESTS_GRADCHECK_H
#define CB_TESTS_GRADCHECK_H

#include "core/nn/model.h"

#include <stdint.h>

typedef struct {
  int n; /* images (<= max_batch of the model) */
  uint64_t seed;
  double fwd_tol;     /* forward output vs reference */
  double grad_tol;    /* analytic gradients vs finite differences */
  double ps_tol;      /* per-sample vs batch-of-one, ghost vs materialised */
  double h;           /* finite-difference step (double precision) */
  float in_lo, in_hi; /* input range */
} gc_opts;

/* Default bounds (see gradcheck.c for why they are what they are). */
gc_opts gc_defaults(int n, uint64_t seed);

/* Asserts (cmocka) that got [n] matches want [n] within tol as described
 * above; prints the observed errors and the worst element. Returns the
 * relative L2 error. */
double gc_compare(const char *what, const float *got, const double *want, int64_t n, double tol);

/* Fills the model's parameters with values uniform in [-1, 1] (GroupNorm
 * weights in [0.5, 1.5]) from seed; returns them as doubles (caller frees). */
double *gc_random_params(cb_model *m, uint64_t seed);

/* Checks 3-4 on the state of a batch run of o->n images (inputs x; forward
 * and backward done by the caller). The backward was seeded with the output
 * gradient R, or with the loss against labels when R is NULL; the
 * batch-of-one runs are seeded the same way. Clobbers the model's state. */
void gc_check_per_sample(cb_model *m, const gc_opts *o, const float *x, const unsigned char *labels,
                         const float *R);

/* Runs checks 1-4 on m (allocated for at least o->n images). */
void gc_check_graph(cb_model *m, const gc_opts *o);

#endif

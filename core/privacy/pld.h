/* PLD accountant: privacy loss distributions (Koskela et al. 2020; Doroshenko
 * et al. 2022, "Connect the dots"), as dp_accounting's PLDAccountant for the
 * Poisson-subsampled Gaussian under add-or-remove-one adjacency.
 *
 * Both directions are accounted: remove (the step's output mixes the noise
 * with and without the example, against noise alone) and add (noise alone
 * against the mixture). Each is composed over the whole history on its own
 * and the worse one is reported: epsilon = max(eps_remove, eps_add),
 * delta = max(delta_remove, delta_add). At q = 1 the two coincide and only
 * one is computed.
 *
 * Discretisation (pessimistic): the losses of one step live on the grid
 * i * interval for i between the floor/ceil of the losses at the noise's
 * 0.5 e^-50 quantiles (dp_accounting's truncation); the exact hockey-stick
 * delta(eps_i) of the step is computed at every grid point and turned into
 * masses by connect-the-dots, whose delta curve is the chord of the true
 * (convex in e^eps) curve and so lies above it everywhere; mass beyond the
 * top point goes to +infinity. Composition of dominating PLDs dominates the
 * composition, so the result never under-reports (up to floating point).
 *
 * Composition: each segment's PMF is transformed once (FFTW) and its
 * spectrum raised to the segment's step count in log-polar form; the
 * product over segments is transformed back once. The transform only spans
 * a window of the composed losses chosen with Chernoff bounds (moment
 * generating functions of the one-step PMFs at 16 orders) so that at most
 * tail/2 of the mass lies above it (that bound is added to the infinity
 * mass) and at most tail/2 below it (put at the window's lowest loss), with
 * tail = min(1e-15, 1e-6 delta). Internal to core/privacy; use cb_epsilon()
 * or cb_delta(). */
#ifndef CB_PRIVACY_PLD_H
#define CB_PRIVACY_PLD_H

#include "core/privacy/accountant.h"

#include <stddef.h>

#define CB_PLD_INTERVAL 1e-4 /* dp_accounting's default value_discretization_interval */
/* Largest composition window (grid points); 2^25 doubles are 256 MiB. */
#define CB_PLD_MAX_POINTS (1L << 25)

typedef struct {
  double eps_remove, eps_add; /* per direction (eps_add = eps_remove at q = 1) */
  double delta_remove, delta_add;
  long points; /* largest transform used */
} cb_pld_info;

/* Epsilon at delta in (0, 1) with discretisation `interval` (<= 0: 1e-4).
 * Returns 0 with *eps set; -1 when the PLD cannot be computed (not an error:
 * the caller falls back), with the reason in `why`. */
int cb_pld_epsilon(const cb_history *h, double delta, double interval, double *eps,
                   cb_pld_info *info, char *why, size_t why_n);
/* Delta at epsilon >= 0, same conventions. */
int cb_pld_delta(const cb_history *h, double epsilon, double interval, double *delta,
                 cb_pld_info *info, char *why, size_t why_n);

#endif

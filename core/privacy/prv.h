/* PRV accountant (Gopi, Lee, Wutschitz 2021) for the Poisson-subsampled
 * Gaussian, following Opacus's PRVAccountant: remove-direction PRV, domain
 * L = max(RDP eps at delta_err/4, one-step RDP eps at delta_err/(8 T),
 * eps_error) + 3, mesh eps_error / sqrt(T log(12/delta_err) / 2), cell masses
 * from CDF differences, a mean-preserving grid shift, FFT self-composition
 * (FFTW), eps_upper = eps(delta - delta_err) + eps_error.
 *
 * Where this differs from Opacus, it is on the conservative or more accurate
 * side:
 *  - the grid size is rounded up to a 2,3,5,7-smooth length (a slightly larger
 *    L) so FFTW is fast;
 *  - cell masses are CDF differences taken on whichever side (CDF or survival
 *    function) is small, so tail masses keep their digits;
 *  - mass below the first evaluated cell is moved up into it (pessimistic);
 *    tail mass above the last evaluated cell (at most 1e-3 delta_err / T per
 *    step) is dropped and delta_err is widened by steps * that mass, a bound on
 *    its effect on the composed delta;
 *  - heterogeneous segments are composed by multiplying their spectra (one
 *    inverse FFT) rather than by a tree of linear convolutions;
 *  - the continuous mean is integrated to ~1e-15 (Opacus's quad: ~1e-8);
 *  - the precision check uses double's epsilon (our arithmetic), not long
 *    double's.
 * Internal to core/privacy; use cb_epsilon(). */
#ifndef CB_PRIVACY_PRV_H
#define CB_PRIVACY_PRV_H

#include "core/privacy/accountant.h"

#include <stddef.h>

#define CB_PRV_EPS_ERROR 0.01
/* Largest grid (points) we compose: 2^25 doubles are 256 MiB per array. */
#define CB_PRV_MAX_POINTS (1L << 25)

typedef struct {
  double eps_upper;    /* reported */
  double eps_estimate; /* eps(delta), for information */
  double eps_lower;    /* eps(delta + delta_error) - eps_error: true epsilon is above */
  double L, dt;        /* domain half-width and mesh */
  long n;              /* grid points */
} cb_prv_info;

/* eps_error <= 0 and delta_error <= 0 select Opacus's defaults (0.01 and
 * delta/1000). Returns 0 on success; -1 when the PRV cannot be computed, with
 * the reason in `why` (not an error: the caller falls back to RDP). */
int cb_prv_epsilon(const cb_history *h, double delta, double eps_error, double delta_error,
                   cb_prv_info *out, char *why, size_t why_n);

#endif

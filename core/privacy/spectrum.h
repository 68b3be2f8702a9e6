/* Internals shared by the PRV and PLD accountants. FFTW plumbing: plan creation under
 * one lock (FFTW's planner is not thread-safe; execution is), and T-fold
 * self-composition of a distribution by raising its spectrum to the T-th
 * power in log-polar form (one forward and one inverse transform however
 * large T is, instead of T convolutions). Internal to core/privacy. */
#ifndef CB_PRIVACY_SPECTRUM_H
#define CB_PRIVACY_SPECTRUM_H

#include "core/base/error.h"

#include <fftw3.h>
#include <stddef.h>

/* Writes why a numerical accountant cannot answer into why (n bytes; may be
 * NULL) and returns -1: not an error, the caller falls back to RDP. */
int cb_acc_why(char *why, size_t n, const char *fmt, ...) CB_PRINTF(3, 4);

/* 1 when n has no prime factor above 7 (a length FFTW transforms fast). */
int cb_spec_is_smooth(long n);

/* The forward (r2c) and inverse (c2r) plans of an n-point transform between
 * re and spec, run with `threads` OpenMP threads. Either plan is NULL when
 * FFTW cannot plan it. */
void cb_spec_plan_pair(long n, int threads, double *re, fftw_complex *spec, fftw_plan *fwd,
                       fftw_plan *inv);
void cb_spec_destroy_pair(fftw_plan fwd, fftw_plan inv);

/* spec (nc bins) holds the transform of one step's distribution. Raises it to
 * the power `steps` in log-polar form, (log |z|, arg z): added into acc
 * (2 * nc doubles; start it at 0) when acc is given, written over spec
 * otherwise. A bin whose power underflows e^-800 becomes -inf magnitude and
 * stays so in acc. */
void cb_spec_pow_logpolar(fftw_complex *spec, long nc, double steps, double *acc);
/* Converts log-polar pairs (src: 2 * nc doubles, may alias spec) back to
 * complex bins; magnitudes below e^-745 become exact zeros. */
void cb_spec_from_logpolar(const double *src, fftw_complex *spec, long nc);

#endif

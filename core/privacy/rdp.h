/* RDP of the Poisson-subsampled Gaussian mechanism (Mironov, Talwar, Zhang
 * 2019, section 3.3) as computed by Opacus, and the RDP -> (eps, delta)
 * conversion of Balle et al. 2020, Thm 21. Internal to core/privacy; the
 * public entry point is cb_epsilon() in accountant.h.
 *
 * Fractional orders: Opacus's signed two-sided series ("variant S" of
 * reference/accounting.md, the column asserted by the tests), but with
 * dp_accounting's robust stopping rule (both terms decreasing and 30 nats below
 * the running total) and an iteration cap instead of Opacus's "stop once every
 * term is below e^-30", which can stop at i = 0 and return a negative RDP. The
 * terms decay only polynomially past z0, so small orders at large q need
 * thousands of terms (q = 0.5, sigma = 10, a = 1.1: ~9400); the cap is set far
 * above what any sane (q, sigma) needs, because a capped order is +inf, which
 * is safe (never chosen) but would make epsilon looser than Opacus's. If the signed partial sums
 * cancel so much that the sign cannot be trusted, the sum of absolute values ("variant D", an upper
 * bound) is used instead. */
#ifndef CB_PRIVACY_RDP_H
#define CB_PRIVACY_RDP_H

#include "core/privacy/accountant.h"

#define CB_RDP_N_ORDERS 151
#define CB_RDP_FRAC_MAX_ITER 100000

/* Opacus RDPAccountant.DEFAULT_ALPHAS: 1.1, 1.2, ..., 10.9, 12, 13, ..., 63. */
extern const double CB_RDP_ORDERS[CB_RDP_N_ORDERS];

double cb_log_add(double x, double y);
/* log(exp(x) - exp(y)) for x >= y; NaN when x < y. */
double cb_log_sub(double x, double y);
/* log(erfc(x)), accurate for large x (asymptotic series beyond 26). */
double cb_log_erfc(double x);

/* log A_a for 0 < q < 1, sigma > 0, a > 1 (integer path iff a is integral).
 * +inf when a fractional series does not converge within the cap. If iters is
 * not NULL it receives the number of series terms used. */
double cb_rdp_log_a(double q, double sigma, double a, int *iters);
/* One step's RDP at order a, with Opacus's special cases:
 * q == 0 -> 0, sigma == 0 -> inf, q == 1 -> a / (2 sigma^2), a == inf -> inf. */
double cb_rdp_order(double q, double sigma, double a);
/* One step's RDP at the 151 default orders. Cached per thread by (q, sigma). */
void cb_rdp_default(double q, double sigma, double out[CB_RDP_N_ORDERS]);
/* Sum over the history of steps * RDP at the default orders. */
void cb_rdp_history(const cb_history *h, double out[CB_RDP_N_ORDERS]);

/* Opacus get_privacy_spent: eps_a = rdp_a - (log delta + log a)/(a-1) +
 * log((a-1)/a), minimised over orders (NaN ignored). The result is clamped at
 * 0 (a negative epsilon is meaningless; 0 is the conservative reading).
 * *alpha is the minimising order, NaN when epsilon is inf. */
void cb_rdp_to_eps(const double *orders, const double *rdp, int n, double delta, double *eps,
                   double *alpha);

/* Epsilon of a history under RDP with the default orders. */
void cb_rdp_epsilon(const cb_history *h, double delta, double *eps, double *alpha);

#endif

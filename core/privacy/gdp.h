/* Gaussian DP through the central limit theorem (Dong, Roth, Su 2019; Bu,
 * Dong, Long, Su 2019) as in Opacus's GaussianAccountant with Poisson
 * sampling. An approximation that can underestimate epsilon (Gopi et al.
 * 2021), so results are never labelled guarantees. Internal to core/privacy. */
#ifndef CB_PRIVACY_GDP_H
#define CB_PRIVACY_GDP_H

#include "core/privacy/accountant.h"

/* mu = sqrt(sum_k steps_k q_k^2 (exp(1/sigma_k^2) - 1)); for one segment this
 * is Opacus's q sqrt(T (exp(1/sigma^2) - 1)). inf when some sigma is 0 or
 * exp overflows (sigma < ~0.0376). */
double cb_gdp_mu(const cb_history *h);
/* delta(eps; mu) = Phi(-eps/mu + mu/2) - exp(eps) Phi(-eps/mu - mu/2). */
double cb_gdp_delta(double eps, double mu);
/* The eps in [0, 500] with delta(eps; mu) = delta, by bisection to full
 * precision, rounded up; 0 when delta(0) <= delta; inf when even 500 is not
 * enough (Opacus raises there). */
double cb_gdp_eps_from_mu(double mu, double delta);

#endif

/* The epsilon lower bound of a privacy audit in one training run (Steinke,
 * Nasr and Jagielski, "Privacy auditing with one (1) training run", NeurIPS
 * 2023, Theorem 3 / Proposition 5 and their Algorithm).
 *
 * m canaries are each included in training independently with probability
 * 1/2. After training, an auditor guesses membership for r of them (abstaining
 * on the rest) and v guesses are right. If the training algorithm is
 * (eps, delta)-DP, then
 *
 *   P[>= v correct] <= beta + alpha * delta * 2m,
 *   beta  = P[Binomial(r, q) >= v],  q = e^eps / (1 + e^eps),
 *   alpha = max over i = 1..v of P[v - i <= Binomial(r, q) < v] / i.
 *
 * That right-hand side is the p-value of the observation under the claim
 * "(eps, delta)-DP". The lower bound at confidence c is the largest eps whose
 * claim is rejected at significance 1 - c: the algorithm is not (eps,
 * delta)-DP for any eps below it, with probability >= c over the canaries'
 * coin flips and the training run. It bounds epsilon from below; it never
 * certifies privacy (an audit that finds nothing proves nothing). */
#ifndef CB_PRIVACY_AUDIT_BOUND_H
#define CB_PRIVACY_AUDIT_BOUND_H

/* The p-value above; 0 <= v <= r <= m, eps >= 0, delta in [0, 1]. NaN when
 * the arguments are out of range. */
double cb_audit_p_value(int m, int r, int v, double eps, double delta);

/* The lower bound: the largest eps with p-value < 1 - confidence, to 1e-10
 * absolute (rounded down, so the claim at the returned value is rejected),
 * or 0 when even eps = 0 is not rejected. confidence in (0, 1). Returns -1
 * with cb_error set for arguments out of range. */
int cb_audit_epsilon_lb(int m, int r, int v, double delta, double confidence, double *eps);

#endif

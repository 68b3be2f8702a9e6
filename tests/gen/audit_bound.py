#!/usr/bin/env python3
"""Reference values for the one-run audit bound (tests/fixtures/audit_bound_golden.txt).

Development time only (CI reads the committed fixture):
    python3 -m venv /tmp/v && /tmp/v/bin/pip install scipy jax-privacy==2.0.0
    /tmp/v/bin/python tests/gen/audit_bound.py > tests/fixtures/audit_bound_golden.txt

Two computations must agree before a line is written:
  * jax_privacy.auditing (DeepMind's implementation of Steinke, Nasr and
    Jagielski 2023): _one_run_p_value and _epsilon_one_run (brentq, xtol 1e-6);
  * an independent transcription of the paper's theorem written here from the
    paper: p = beta + alpha * delta * 2m, bisected to 1e-12.
The fixture holds the paper-formula values (the tighter root); the C test
allows 2e-6 absolute on epsilon, the reference's own root tolerance.
"""
import math

import scipy.stats
from jax_privacy import auditing


def p_value(m, r, v, eps, delta):
    q = 1.0 / (1.0 + math.exp(-eps))
    beta = scipy.stats.binom.sf(v - 1, r, q)
    alpha = 0.0
    below = 0.0
    for i in range(1, v + 1):
        below += float(scipy.stats.binom.pmf(v - i, r, q))
        alpha = max(alpha, below / i)
    return min(float(beta) + alpha * delta * 2 * m, 1.0)


def eps_lb(m, r, v, delta, confidence):
    a = 1 - confidence
    if p_value(m, r, v, 0.0, delta) >= a:
        return 0.0
    lo, hi = 0.0, 1.0
    while p_value(m, r, v, hi, delta) < a:
        lo, hi = hi, hi * 2
    while hi - lo > 1e-12:
        mid = (lo + hi) / 2
        if p_value(m, r, v, mid, delta) < a:
            lo = mid
        else:
            hi = mid
    return lo


# (m, r, v, delta, confidence, eps for the p-value column)
CASES = [
    (1000, 100, 100, 0.0, 0.95, 1.0),
    (1000, 100, 100, 1e-5, 0.95, 2.0),
    (1000, 100, 90, 1e-5, 0.95, 1.5),
    (1000, 100, 75, 0.0, 0.99, 0.5),
    (1000, 500, 400, 1e-5, 0.95, 1.0),
    (1000, 1000, 600, 1e-5, 0.95, 0.3),
    (1000, 50, 30, 1e-5, 0.95, 0.1),
    (1000, 100, 55, 1e-5, 0.95, 0.0),
    (10000, 1000, 700, 1e-5, 0.95, 0.8),
    (5000, 200, 180, 1e-6, 0.90, 2.5),
    (100, 20, 20, 1e-5, 0.95, 3.0),
    (50, 10, 10, 1e-3, 0.95, 1.0),
    (400, 40, 40, 1e-5, 0.95, 4.0),
    (2000, 20, 20, 1e-5, 0.95, 2.0),
]

print("# m r v delta confidence eps p_value(m,r,v,eps,delta) epsilon_lb")
for m, r, v, delta, conf, e in CASES:
    p_ref = float(auditing._one_run_p_value(m, r, v, e, delta))
    p_own = p_value(m, r, v, e, delta)
    assert abs(p_ref - p_own) <= 1e-12 + 1e-9 * p_ref, (m, r, v, p_ref, p_own)
    lb_ref = float(auditing._epsilon_one_run(0.0, m, r, v, 1 - conf, delta))
    lb_own = eps_lb(m, r, v, delta, conf)
    assert abs(lb_ref - lb_own) <= 2e-6, (m, r, v, lb_ref, lb_own)
    print(f"{m} {r} {v} {delta!r} {conf!r} {e!r} {p_own!r} {lb_own!r}")

/* Poisson sampling and the OS seed for secure mode. */
#include "core/base/error.h"
#include "core/dp/dp.h"
#include "core/kernels/philox.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>

int cb_poisson_batch(uint64_t seed, uint32_t step, int N, double q, int *idx) {
  int n = 0;
  for (int j = 0; j < N; j++)
    if (cb_uniform(seed, CB_STREAM_SAMPLE, step, (uint64_t)j) <= q) idx[n++] = j;
  return n;
}

int cb_os_seed(uint64_t *out) {
  ssize_t got = getrandom(out, sizeof *out, 0);
  if (got != (ssize_t)sizeof *out)
    return cb_error("secure_mode: cannot read the OS random source (getrandom: %s)",
                    got < 0 ? strerror(errno) : "short read");
  return 0;
}

int cb_adaptive_sigma_delta(double z, double sigma_b, double *out) {
  if (!(2.0 * sigma_b > z))
    return cb_error("dp.adaptive: the count noise std %g must exceed half the noise multiplier "
                    "%g (2*count_std > sigma); raise dp.adaptive.count_std",
                    sigma_b, z);
  *out = pow(pow(z, -2.0) - pow(2.0 * sigma_b, -2.0), -0.5);
  return 0;
}

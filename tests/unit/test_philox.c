/* The counter-based generator behind all noise, sampling and masks:
 * Random123's published known-answer vectors, the uniform and normal
 * transforms, stream independence, the noise kernel against the header, and
 * secure mode (OS-seeded key, rounding-resistant sampler). */
#include "core/backend/backend.h"
#include "core/dp/dp.h"
#include "core/kernels/philox.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Random123 kat_vectors, "philox4x32 10" lines: counter, key, expected. */
static void known_answers(void **s) {
  (void)s;
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int k = 0; k < 3; k++) {
    cb_philox_ctr c = {{kat[k][0], kat[k][1], kat[k][2], kat[k][3]}};
    cb_philox_key key = {{kat[k][4], kat[k][5]}};
    cb_philox_ctr r = cb_philox4x32_10(c, key);
    for (int w = 0; w < 4; w++)
      assert_int_equal(r.v[w], kat[k][6 + w]);
  }
}

static void uniform_and_normal(void **s) {
  (void)s;
  const int n = 200000;
  double m = 0, m2 = 0, g = 0, g2 = 0, g4 = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; i++) {
    double u = cb_uniform(42, 9, 3, (uint64_t)i);
    assert_true(u > 0.0 && u <= 1.0);
    lo = fmin(lo, u);
    hi = fmax(hi, u);
    m += u;
    m2 += u * u;
    double z = cb_gauss(42, 9, 3, (uint64_t)i);
    g += z;
    g2 += z * z;
    g4 += z * z * z * z;
  }
  m /= n;
  assert_true(fabs(m - 0.5) < 5 * sqrt(1.0 / 12 / n));
  assert_true(fabs(m2 / n - m * m - 1.0 / 12) < 0.002);
  assert_true(lo < 1e-4 && hi > 1 - 1e-4);
  assert_true(fabs(g / n) < 5 / sqrt((double)n));
  assert_true(fabs(g2 / n - 1) < 0.01);
  assert_true(fabs(g4 / n - 3) < 0.06);
  /* Same (seed, stream, step, index): same draw; any part changed: another. */
  assert_true(cb_gauss(1, 2, 3, 4) == cb_gauss(1, 2, 3, 4));
  assert_true(cb_gauss(1, 2, 3, 4) != cb_gauss(2, 2, 3, 4));
  assert_true(cb_gauss(1, 2, 3, 4) != cb_gauss(1, 3, 3, 4));
  assert_true(cb_gauss(1, 2, 3, 4) != cb_gauss(1, 2, 4, 4));
  assert_true(cb_gauss(1, 2, 3, 4) != cb_gauss(1, 2, 3, 5));
  /* Indices past 2^32 are distinct counters. */
  assert_true(cb_gauss(1, 2, 3, 7) != cb_gauss(1, 2, 3, 7 + ((uint64_t)1 << 32)));
}

/* Two streams of the same seed are uncorrelated. */
static void streams_independent(void **s) {
  (void)s;
  const int n = 100000;
  double c = 0;
  for (int i = 0; i < n; i++)
    c += cb_gauss(5, CB_STREAM_NOISE, 0, (uint64_t)i) *
         cb_gauss(5, CB_STREAM_SAMPLE, 0, (uint64_t)i);
  assert_true(fabs(c / n) < 5 / sqrt((double)n));
}

/* The secure sampler: unit variance, and not the plain draw. */
static void secure_sampler(void **s) {
  (void)s;
  const int n = 100000;
  double g2 = 0, diff = 0;
  for (int i = 0; i < n; i++) {
    double z = cb_gauss_secure(7, CB_STREAM_NOISE, 1, (uint64_t)i);
    g2 += z * z;
    diff += fabs(z - cb_gauss(7, CB_STREAM_NOISE, 1, (uint64_t)i));
  }
  assert_true(fabs(g2 / n - 1) < 0.015);
  assert_true(diff / n > 0.5);
}

/* The noise kernel the backends run adds exactly std * the header's draw. */
static void noise_kernel(void **s) {
  (void)s;
  const cb_backend *be = cb_backend_cpu();
  const int n = 5000;
  float *g = be->alloc(be, sizeof(float) * n, "test");
  be->zero(be, g, sizeof(float) * n);
  cb_launch_noise(be, n, (cb_k_noise){g, NULL, 99, 12, 1000, 0.5f, 0});
  for (int j = 0; j < n; j++)
    assert_true(g[j] == (float)(0.5 * cb_gauss(99, CB_STREAM_NOISE, 12, (uint64_t)(1000 + j))));
  be->free(be, g);
}

/* Secure mode keys the noise from the OS: two engines with the same config
 * draw different noise (and the std is still sigma*C). */
static void secure_mode_engine(void **s) {
  (void)s;
  cb_model_cfg mc;
  cb_model_cfg_default(&mc, CB_ARCH_UNET);
  mc.width = 4;
  mc.depth = 2;
  mc.classes = 3;
  mc.groups = 2;
  cb_model *m = cb_model_create(cb_backend_cpu(), &mc, 16, 16);
  assert_int_equal(cb_model_alloc(m, 1), 0);
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  c.noise_multiplier = 1.0;
  c.clip_bound = 2.0;
  c.expected_batch = 1.0;
  c.secure_mode = 1;
  float *first = malloc(sizeof(float) * m->n_params);
  double var[2];
  for (int k = 0; k < 2; k++) {
    cb_dp *dp = cb_dp_create(m, &c);
    assert_non_null(dp);
    cb_dp_step_info info = {0, 0, 0};
    cb_dp_begin_step(dp, &info);
    cb_dp_accumulate(dp, 0);
    cb_dp_finish_step(dp, NULL);
    double v = 0;
    for (int64_t j = 0; j < m->n_params; j++)
      v += (double)m->grads[j] * m->grads[j];
    var[k] = v / m->n_params;
    if (k == 0) memcpy(first, m->grads, sizeof(float) * m->n_params);
    cb_dp_free(dp);
  }
  assert_true(memcmp(first, m->grads, sizeof(float) * m->n_params) != 0);
  for (int k = 0; k < 2; k++)
    assert_true(fabs(var[k] / 4.0 - 1) < 0.1);
  free(first);
  cb_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(known_answers),       cmocka_unit_test(uniform_and_normal),
      cmocka_unit_test(streams_independent), cmocka_unit_test(secure_sampler),
      cmocka_unit_test(noise_kernel),        cmocka_unit_test(secure_mode_engine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

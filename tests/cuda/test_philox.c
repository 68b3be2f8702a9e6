/* Philox noise on the device against the CPU for the same (seed, stream,
 * step, coordinate), at scale: 2^20 coordinates for several seeds, steps,
 * offsets (the high word of the counter too), masked and secure mode.
 * The generator is integer arithmetic (identical by construction); the
 * Gaussian goes through log, sqrt and cos in double, where CUDA is within
 * 1-2 ulp of the correctly rounded result and glibc within 1, so the float
 * draw can differ by one rounding step. Bound: at most 2 float ulps per
 * coordinate and at least 99.9% of coordinates bit-identical (in practice
 * nearly all are). */
#include "core/kernels/philox.h"
#include "tests/cuda/support/parity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N (1 << 20)

static void draw_both(uint64_t seed, uint32_t step, int64_t off, int secure,
                      const unsigned char *keep_host) {
  float *zero = calloc(N, sizeof(float));
  pt_buf g = pt_buf_from(zero, N);
  pt_bytes keep = {0};
  if (keep_host) keep = pt_bytes_from(keep_host, off + N);
  for (int side = 0; side < 2; side++) {
    const cb_backend *be = side ? pt_dev() : pt_cpu();
    cb_launch_noise(be, N,
                    (cb_k_noise){side ? g.dev : g.cpu,
                                 keep_host ? (side ? keep.dev : keep.cpu) : NULL, seed, step, off,
                                 1.0f, secure});
  }
  float *h = pt_download(g.dev, N);
  char what[96];
  snprintf(what, sizeof what, "noise seed %llx step %u off %lld%s%s", (unsigned long long)seed,
           step, (long long)off, secure ? " secure" : "", keep_host ? " masked" : "");
  pt_expect_ulps(what, h, g.cpu, N, PT_MATH_ULPS, PT_MATH_IDENTICAL);
  /* The CPU values are the header's own draws (the stream is the spec). */
  for (int64_t j = 0; j < N; j += 4099)
    if (!keep_host || keep_host[off + j]) {
      double z = secure ? cb_gauss_secure(seed, CB_STREAM_NOISE, step, (uint64_t)(off + j))
                        : cb_gauss(seed, CB_STREAM_NOISE, step, (uint64_t)(off + j));
      assert_true(g.cpu[j] == (float)z);
    } else {
      assert_true(g.cpu[j] == 0.0f && h[j] == 0.0f);
    }
  free(h);
  free(zero);
  pt_buf_free(&g);
  if (keep_host) pt_bytes_free(&keep);
}

static void test_streams(void **s) {
  (void)s;
  draw_both(0, 0, 0, 0, NULL);
  draw_both(42, 7, 0, 0, NULL);
  draw_both(0xfeedface12345678ULL, 123456, 1000003, 0, NULL);
  draw_both(9, 3, ((int64_t)1 << 32) - 1000, 0, NULL); /* counter's high word changes */
}

static void test_secure_and_masked(void **s) {
  (void)s;
  int64_t off = 55;
  unsigned char *keep = malloc(off + N);
  for (int64_t j = 0; j < off + N; j++)
    keep[j] = (unsigned char)((j * 2654435761u >> 7) % 3 != 0);
  draw_both(77, 1, off, 1, NULL);
  draw_both(77, 1, off, 0, keep);
  draw_both(78, 2, off, 1, keep);
  free(keep);
}

int main(void) {
  pt_init_or_skip("cuda philox");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_streams),
      cmocka_unit_test(test_secure_and_masked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

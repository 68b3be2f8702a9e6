/* Error handling of the CUDA backend (device only; the CPU stand-in has no
 * such failures and skips):
 *   - an allocation larger than the device fails with a one-line message
 *     naming the buffer, its size and max_physical_batch, and is not sticky:
 *     the backend keeps working;
 *   - a model too large for the device fails in cb_model_alloc the same way;
 *   - a failing cuBLAS call (invalid leading dimension) is reported by
 *     status() with the call and its dimensions, later operations are
 *     skipped, and the DP step functions return the error.
 * Runs last in its own process: the failure is sticky by design. */
#include "core/base/error.h"
#include "core/dp/dp.h"
#include "tests/cuda/support/parity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_oom_not_sticky(void **s) {
  (void)s;
  const cb_backend *d = pt_dev();
  cb_error_clear();
  void *p = d->alloc(d, (size_t)1 << 50, "per-sample gradients");
  assert_null(p);
  const char *e = cb_last_error();
  printf("message: %s\n", e);
  assert_non_null(strstr(e, "out of GPU memory"));
  assert_non_null(strstr(e, "per-sample gradients"));
  assert_non_null(strstr(e, "1073741824.0 MiB"));
  assert_non_null(strstr(e, "max_physical_batch"));
  assert_null(strchr(e, '\n'));
  assert_int_equal(d->status(d), 0);
  float *q = d->alloc(d, 1024, "after the failure");
  assert_non_null(q);
  d->zero(d, q, 1024);
  d->free(d, q);
  assert_int_equal(d->status(d), 0);
}

static void test_model_too_large(void **s) {
  (void)s;
  cb_model_cfg c;
  cb_model_cfg_default(&c, CB_ARCH_UNET);
  c.width = 64;
  cb_model *m = cb_model_create(pt_dev(), &c, 1024, 1024);
  assert_non_null(m);
  int rc = cb_model_alloc(m, 4096);
  const char *e = cb_last_error();
  printf("message: %s\n", e);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(e, "activations"));
  assert_non_null(strstr(e, "max_physical_batch"));
  cb_model_free(m);
  assert_int_equal(pt_dev()->status(pt_dev()), 0);
}

static void test_blas_error_sticky(void **s) {
  (void)s;
  const cb_backend *d = pt_dev();
  /* A small model and engine first, to see the DP functions report it. */
  cb_model_cfg c;
  cb_model_cfg_default(&c, CB_ARCH_UNET);
  c.width = 4;
  c.depth = 1;
  c.classes = 2;
  c.groups = 2;
  cb_model *m = cb_model_create(d, &c, 8, 8);
  assert_non_null(m);
  assert_int_equal(cb_model_alloc(m, 1), 0);
  cb_dp_cfg dc;
  cb_dp_cfg_default(&dc);
  cb_dp *dp = cb_dp_create(m, &dc);
  assert_non_null(dp);
  float *a = d->alloc(d, 64 * sizeof(float), "a");
  assert_non_null(a);
  /* lda = 1 < K = 8: cuBLAS rejects the call. */
  d->gemm(d, 0, 0, 8, 8, 8, 1.0f, a, 1, a, 8, 0.0f, a, 8);
  cb_error_clear();
  assert_int_equal(d->status(d), -1);
  char first[CB_ERRMSG_MAX];
  snprintf(first, sizeof first, "%s", cb_last_error());
  printf("message: %s\n", first);
  assert_non_null(strstr(first, "cuBLAS error"));
  assert_non_null(strstr(first, "M=8 N=8 K=8 lda=1"));
  /* Later operations are skipped and the first message stays. */
  float h[64] = {0};
  d->upload(d, a, h, sizeof h);
  assert_int_equal(d->status(d), -1);
  assert_string_equal(cb_last_error(), first);
  cb_dp_step_info info = {0, 0, 0};
  assert_int_equal(cb_dp_begin_step(dp, &info), -1);
  assert_int_equal(cb_dp_finish_step(dp, NULL), -1);
  assert_non_null(strstr(cb_last_error(), "cuBLAS error"));
  assert_null(d->alloc(d, 16, "after a sticky error"));
}

int main(void) {
  pt_init_or_skip("cuda errors");
  if (pt_standin()) {
    printf("SKIPPED: the error paths are the CUDA backend's own; nothing to check on the CPU "
           "stand-in\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oom_not_sticky),
      cmocka_unit_test(test_model_too_large),
      cmocka_unit_test(test_blas_error_sticky),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

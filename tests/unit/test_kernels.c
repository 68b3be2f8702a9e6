/* Direct CPU tests of the kernel bodies no layer uses yet (fill, axpy,
 * argmax) and of scale, against values written out by hand, so that every
 * kernel of CB_KERNEL_LIST is checked by the CPU suite (kernel_coverage
 * enforces it; the other kernels are checked through the layer, loss, DP and
 * optimizer tests against double-precision references and PyTorch). */
#include "core/backend/backend.h"
#include "tests/unit/support.h"

#include <math.h>
#include <string.h>

static void test_fill_scale_axpy(void **s) {
  (void)s;
  const cb_backend *be = cb_backend_cpu();
  float x[1000], y[1000];
  cb_launch_fill(be, 1000, (cb_k_fill){x, 0.5f});
  for (int i = 0; i < 1000; i++)
    assert_true(x[i] == 0.5f);
  tst_fill_uniform(y, 1000, 3, -1, 1);
  float y0[1000];
  memcpy(y0, y, sizeof y);
  for (int i = 0; i < 1000; i++)
    x[i] = (float)i - 500.0f;
  cb_launch_axpy(be, 1000, (cb_k_axpy){y, x, -0.25f});
  for (int i = 0; i < 1000; i++)
    assert_true(y[i] == y0[i] + -0.25f * x[i]);
  cb_launch_scale(be, 1000, (cb_k_scale){x, 3.0f});
  for (int i = 0; i < 1000; i++)
    assert_true(x[i] == 3.0f * ((float)i - 500.0f));
  /* n = 0 launches nothing */
  x[0] = 7.0f;
  cb_launch_fill(be, 0, (cb_k_fill){x, 1.0f});
  assert_true(x[0] == 7.0f);
}

/* Per-pixel argmax over classes, first maximum on ties (torch.argmax). */
static void test_argmax(void **s) {
  (void)s;
  enum { N = 2, K = 3, T = 4 };
  const float z[N * K * T] = {
      /* image 0: classes x pixels */
      0,
      5,
      1,
      2,
      /**/ 1,
      5,
      0,
      2,
      /**/ -1,
      4,
      3,
      2,
      /* image 1 */
      -3,
      -2,
      NAN,
      0,
      /**/ -1,
      -2,
      0,
      0,
      /**/ -2,
      -9,
      1,
      1,
  };
  unsigned char pred[N * T];
  memset(pred, 9, sizeof pred);
  cb_launch_argmax(cb_backend_cpu(), N * T, (cb_k_argmax){z, pred, K, T});
  /* Nothing compares greater than a NaN, so a NaN in class 0 stays chosen. */
  const unsigned char want[N * T] = {1, 0, 2, 0, 1, 0, 0, 2};
  assert_memory_equal(pred, want, sizeof want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fill_scale_axpy),
      cmocka_unit_test(test_argmax),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

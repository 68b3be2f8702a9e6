/* Metrics against values computed by hand on small masks, including a class
 * absent from both truth and prediction (undefined, left out of the means)
 * and a class present in the truth only (Dice 0, counted). */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "tests/unit/support.h"

#include <math.h>
#include <string.h>

/* truth      pred        confusion (row truth, column prediction)
 * 0 0 1      0 1 1        t0: p0 4, p1 1
 * 1 1 2      1 0 0        t1: p0 1, p1 2
 * 0 0 0      0 0 0        t2: p0 1         t3: nothing
 * class 0: TP 4 FP 2 FN 1 -> Dice 8/11, IoU 4/7
 * class 1: TP 2 FP 1 FN 1 -> Dice 2/3,  IoU 1/2
 * class 2: TP 0 FP 0 FN 1 -> Dice 0,    IoU 0
 * class 3: absent         -> undefined
 * pixel accuracy 6/9; mean Dice (8/11 + 2/3 + 0)/3, without background
 * (2/3 + 0)/2; mean IoU (4/7 + 1/2 + 0)/3, without background 1/4. */
static const uint8_t TRUTH[9] = {0, 0, 1, 1, 1, 2, 0, 0, 0};
static const uint8_t PRED[9] = {0, 1, 1, 1, 0, 0, 0, 0, 0};

static void test_hand_computed(void **state) {
  (void)state;
  cb_confusion c;
  assert_int_equal(cb_confusion_init(&c, 4, 1), 0);
  assert_int_equal(cb_confusion_add(&c, TRUTH, PRED, 9), 0);
  cb_metrics m;
  cb_confusion_finish(&c, &m);
  const double eps = 1e-15;
  assert_true(fabs(m.pixel_accuracy - 6.0 / 9.0) < eps);
  assert_true(fabs(m.dice[0] - 8.0 / 11.0) < eps);
  assert_true(fabs(m.dice[1] - 2.0 / 3.0) < eps);
  assert_true(m.dice[2] == 0.0);
  assert_true(isnan(m.dice[3]) && isnan(m.iou[3]));
  assert_true(fabs(m.iou[0] - 4.0 / 7.0) < eps);
  assert_true(fabs(m.iou[1] - 0.5) < eps);
  assert_true(m.iou[2] == 0.0);
  assert_int_equal(m.defined, 3);
  assert_true(fabs(m.mean_dice - (8.0 / 11.0 + 2.0 / 3.0) / 3.0) < eps);
  assert_true(fabs(m.mean_dice_fg - 1.0 / 3.0) < eps);
  assert_true(fabs(m.mean_iou - (4.0 / 7.0 + 0.5) / 3.0) < eps);
  assert_true(fabs(m.mean_iou_fg - 0.25) < eps);
  assert_int_equal(m.pixels, 9);
  /* Adding the same pixels in two pieces gives the same matrix. */
  cb_confusion c2;
  assert_int_equal(cb_confusion_init(&c2, 4, 1), 0);
  assert_int_equal(cb_confusion_add(&c2, TRUTH, PRED, 4), 0);
  assert_int_equal(cb_confusion_add(&c2, TRUTH + 4, PRED + 4, 5), 0);
  assert_memory_equal(c.cm, c2.cm, 16 * sizeof(uint64_t));
  /* A label beyond the classes is an error and adds nothing. */
  uint8_t bad[2] = {1, 4};
  assert_int_equal(cb_confusion_add(&c2, TRUTH, bad, 2), -1);
  assert_non_null(strstr(cb_last_error(), "predicted class 4"));
  assert_int_equal(cb_confusion_add(&c2, bad, PRED, 2), -1);
  assert_non_null(strstr(cb_last_error(), "true class 4"));
  assert_memory_equal(c.cm, c2.cm, 16 * sizeof(uint64_t));
  /* reset empties it: no defined class, NaN means. */
  cb_confusion_reset(&c2);
  cb_confusion_finish(&c2, &m);
  assert_true(isnan(m.pixel_accuracy) && isnan(m.mean_dice) && isnan(m.mean_dice_fg));
  assert_int_equal(m.defined, 0);
  cb_confusion_free(&c);
  cb_confusion_free(&c2);
}

/* Ten classes: both backgrounds (0 and 8) are left out of the foreground
 * means; a perfect prediction scores 1 everywhere it is defined. */
static void test_two_backgrounds(void **state) {
  (void)state;
  const uint8_t t[6] = {0, 8, 8, 3, 3, 9};
  const uint8_t p[6] = {0, 8, 0, 3, 3, 9};
  cb_confusion c;
  assert_int_equal(cb_confusion_init(&c, 10, (1u << 0) | (1u << 8)), 0);
  assert_int_equal(cb_confusion_add(&c, t, p, 6), 0);
  cb_metrics m;
  cb_confusion_finish(&c, &m);
  /* class 0: TP1 FP1 FN0 -> 2/3; class 8: TP1 FP0 FN1 -> 2/3; 3 and 9: 1. */
  assert_true(fabs(m.dice[0] - 2.0 / 3.0) < 1e-15);
  assert_true(fabs(m.dice[8] - 2.0 / 3.0) < 1e-15);
  assert_true(m.dice[3] == 1.0 && m.dice[9] == 1.0);
  assert_int_equal(m.defined, 4);
  assert_true(m.mean_dice_fg == 1.0);
  assert_true(fabs(m.mean_dice - (2.0 / 3.0 * 2 + 2) / 4.0) < 1e-15);
  assert_true(fabs(m.pixel_accuracy - 5.0 / 6.0) < 1e-15);
  cb_confusion_reset(&c);
  assert_int_equal(cb_confusion_add(&c, t, t, 6), 0);
  cb_confusion_finish(&c, &m);
  assert_true(m.pixel_accuracy == 1.0 && m.mean_dice == 1.0 && m.mean_iou == 1.0);
  cb_confusion_free(&c);
  assert_int_equal(cb_confusion_init(&c, 0, 1), -1);
  assert_int_equal(cb_confusion_init(&c, CB_DATA_MAX_CLASSES + 1, 1), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand_computed),
      cmocka_unit_test(test_two_backgrounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

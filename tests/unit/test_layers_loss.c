/* The per-image loss: softmax cross-entropy (mean over the image's pixels)
 * plus soft Dice over the image's own pixels. The loss values against the
 * double-precision reference (bound 1e-5 relative per image), dL_i/dlogits
 * against central finite differences of the reference (gc_compare bound
 * 1e-5, see gradcheck.h), and the loss and gradient of image i do not move
 * when any other image's logits or labels change (bitwise). The graph is the
 * input node alone, so the logits are the input and their gradient lands in
 * nodes[0].dout. */
#include "core/kernels/philox.h"
#include "tests/unit/support.h"
#include "tests/unit/support/gradcheck.h"
#include "tests/unit/support/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int K, H, W, n;
  cb_loss_cfg loss;
  float scale; /* logits uniform in [-scale, scale] */
  uint64_t seed;
} loss_case;

static cb_model *make(const loss_case *c) {
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), c->K, c->H, c->W, c->K);
  assert_non_null(m);
  assert_int_equal(cb_model_alloc(m, c->n), 0);
  m->loss = c->loss;
  return m;
}

/* Labels drawn from classes 0..K-2 in image 0 (class K-1 absent: Dice then
 * rests on the smoothing term) and from all classes elsewhere. */
static void labels_for(const loss_case *c, unsigned char *lab) {
  int64_t T = (int64_t)c->H * c->W;
  for (int i = 0; i < c->n; i++)
    for (int64_t t = 0; t < T; t++) {
      int K = i == 0 ? c->K - 1 : c->K;
      lab[i * T + t] = (unsigned char)(cb_uniform(c->seed, 77, (uint32_t)i, (uint64_t)t) * K) % K;
    }
}

static void run(cb_model *m, int n, const float *z, const unsigned char *lab, float *loss,
                float *dz) {
  int64_t T = (int64_t)m->H * m->W, K = m->cfg.classes;
  memcpy(m->input, z, (size_t)(n * K * T) * sizeof(float));
  memcpy(m->labels, lab, (size_t)(n * T));
  cb_model_forward(m, n);
  cb_model_loss(m, n);
  cb_model_backward(m, n);
  memcpy(loss, m->host_loss, (size_t)n * sizeof(float));
  memcpy(dz, m->nodes[0].dout, (size_t)(n * K * T) * sizeof(float));
}

static void check_loss(const loss_case *c) {
  cb_model *m = make(c);
  int64_t T = (int64_t)c->H * c->W, per = c->K * T, tot = c->n * per;
  float *z = malloc((size_t)tot * sizeof(float)), *dz = malloc((size_t)tot * sizeof(float));
  double *zd = malloc((size_t)tot * sizeof(double)), *want = malloc((size_t)per * sizeof(double));
  unsigned char *lab = malloc((size_t)(c->n * T));
  float loss[16];
  double ref[16];
  tst_fill_uniform(z, (size_t)tot, c->seed, -c->scale, c->scale);
  labels_for(c, lab);
  for (int64_t j = 0; j < tot; j++)
    zd[j] = z[j];
  run(m, c->n, z, lab, loss, dz);

  ref_loss(zd, lab, c->n, c->K, T, c->loss, ref);
  gc_compare("per-image loss", loss, ref, c->n, 1e-5);

  const double h = 1e-5;
  for (int i = 0; i < c->n; i++) {
    for (int64_t j = 0; j < per; j++) {
      double *v = zd + i * per + j, s = *v, lp, lm;
      *v = s + h;
      ref_loss(zd + i * per, lab + i * T, 1, c->K, T, c->loss, &lp);
      *v = s - h;
      ref_loss(zd + i * per, lab + i * T, 1, c->K, T, c->loss, &lm);
      *v = s;
      want[j] = (lp - lm) / (2 * h);
    }
    gc_compare("dL_i/dlogits vs finite differences", dz + i * per, want, per, 1e-5);
  }

  /* Image i alone: change every other image's logits and labels. */
  float *z2 = malloc((size_t)tot * sizeof(float)), *dz2 = malloc((size_t)tot * sizeof(float));
  unsigned char *lab2 = malloc((size_t)(c->n * T));
  float loss2[16];
  for (int keep = 0; keep < c->n; keep++) {
    tst_fill_uniform(z2, (size_t)tot, c->seed + 100 + (uint64_t)keep, -c->scale, c->scale);
    for (int64_t t = 0; t < c->n * T; t++)
      lab2[t] = (unsigned char)((lab[t] + 1) % c->K);
    memcpy(z2 + keep * per, z + keep * per, (size_t)per * sizeof(float));
    memcpy(lab2 + keep * T, lab + keep * T, (size_t)T);
    run(m, c->n, z2, lab2, loss2, dz2);
    assert_memory_equal(&loss2[keep], &loss[keep], sizeof(float));
    assert_memory_equal(dz2 + keep * per, dz + keep * per, (size_t)per * sizeof(float));
    for (int i = 0; i < c->n; i++)
      if (i != keep) assert_true(loss2[i] != loss[i]); /* the others did move */
  }
  free(z2);
  free(dz2);
  free(lab2);
  free(z);
  free(dz);
  free(zd);
  free(want);
  free(lab);
  cb_model_free(m);
}

static void test_loss_ce_plus_dice(void **s) {
  (void)s;
  loss_case c = {4, 3, 5, 3, {1.0f, 1.0f, 1.0f}, 3.0f, 51};
  check_loss(&c);
}

static void test_loss_ce_only(void **s) {
  (void)s;
  loss_case c = {3, 4, 4, 2, {1.0f, 0.0f, 1.0f}, 3.0f, 52};
  check_loss(&c);
}

static void test_loss_dice_only(void **s) {
  (void)s;
  loss_case c = {3, 4, 3, 2, {0.0f, 1.0f, 1.0f}, 3.0f, 53};
  check_loss(&c);
}

static void test_loss_weights_and_smooth(void **s) {
  (void)s;
  loss_case c = {5, 3, 3, 3, {0.7f, 1.3f, 0.25f}, 2.0f, 54};
  check_loss(&c);
}

/* The study's 9 classes on a 16x16 image. */
static void test_loss_nine_classes(void **s) {
  (void)s;
  loss_case c = {9, 16, 16, 2, {1.0f, 1.0f, 1.0f}, 4.0f, 55};
  check_loss(&c);
}

/* Large logits: the softmax must not overflow. */
static void test_loss_large_logits(void **s) {
  (void)s;
  loss_case c = {3, 3, 3, 2, {1.0f, 1.0f, 1.0f}, 60.0f, 56};
  check_loss(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loss_ce_plus_dice), cmocka_unit_test(test_loss_ce_only),
      cmocka_unit_test(test_loss_dice_only),    cmocka_unit_test(test_loss_weights_and_smooth),
      cmocka_unit_test(test_loss_nine_classes), cmocka_unit_test(test_loss_large_logits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

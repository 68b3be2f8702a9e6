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
  loss_case c = {4, 3, 5, 3, {1.0f, 1.0f, 1.0f, 0, 0}, 3.0f, 51};
  check_loss(&c);
}

static void test_loss_ce_only(void **s) {
  (void)s;
  loss_case c = {3, 4, 4, 2, {1.0f, 0.0f, 1.0f, 0, 0}, 3.0f, 52};
  check_loss(&c);
}

static void test_loss_dice_only(void **s) {
  (void)s;
  loss_case c = {3, 4, 3, 2, {0.0f, 1.0f, 1.0f, 0, 0}, 3.0f, 53};
  check_loss(&c);
}

static void test_loss_weights_and_smooth(void **s) {
  (void)s;
  loss_case c = {5, 3, 3, 3, {0.7f, 1.3f, 0.25f, 0, 0}, 2.0f, 54};
  check_loss(&c);
}

/* The study's 9 classes on a 16x16 image. */
static void test_loss_nine_classes(void **s) {
  (void)s;
  loss_case c = {9, 16, 16, 2, {1.0f, 1.0f, 1.0f, 0, 0}, 4.0f, 55};
  check_loss(&c);
}

/* Large logits: the softmax must not overflow. */
static void test_loss_large_logits(void **s) {
  (void)s;
  loss_case c = {3, 3, 3, 2, {1.0f, 1.0f, 1.0f, 0, 0}, 60.0f, 56};
  check_loss(&c);
}

/* ---- loss.reduction: batch (the study's CombinedLoss), in double ----
 * Transcribed from the study's code/losses.py: CE = nn.CrossEntropyLoss on
 * the model output u (mean over the batch's pixels), Dice on
 * exp(softmax(u)) summed over the batch, 1 - 2 I_c / (sum + 1e-4-style
 * smoothing in the denominator only), averaged over the classes. */
static double ref_batch(const double *z, const unsigned char *lab, int N, int K, int64_t T,
                        cb_loss_cfg cfg) {
  double I[CB_MAX_CLASSES] = {0}, Q[CB_MAX_CLASSES] = {0}, ce = 0.0;
  for (int n = 0; n < N; n++)
    for (int64_t t = 0; t < T; t++) {
      double u[CB_MAX_CLASSES] = {0}, mx = -1e300, s = 0.0;
      for (int k = 0; k < K; k++)
        mx = fmax(mx, z[(n * K + k) * T + t]);
      for (int k = 0; k < K; k++)
        s += exp(z[(n * K + k) * T + t] - mx);
      for (int k = 0; k < K; k++) {
        double zk = z[(n * K + k) * T + t];
        u[k] = cfg.softmax_input ? exp(zk - mx) / s : zk;
      }
      double mu = -1e300, su = 0.0;
      for (int k = 0; k < K; k++)
        mu = fmax(mu, u[k]);
      for (int k = 0; k < K; k++)
        su += exp(u[k] - mu);
      int y = lab[n * T + t];
      ce += mu + log(su) - u[y];
      for (int k = 0; k < K; k++) {
        double e = exp(exp(u[k] - mu) / su);
        I[k] += y == k ? e : 0.0;
        Q[k] += e + (y == k ? 1.0 : 0.0);
      }
    }
  double dice = 0.0;
  for (int k = 0; k < K; k++)
    dice += 1.0 - 2.0 * I[k] / (Q[k] + cfg.smooth);
  return cfg.w_ce * ce / ((double)N * T) + cfg.w_dice * dice / K;
}

/* The engine's per-sample output gradient under the batch loss is
 * N * dL/dz_n (Opacus's rescaling of a mean-reduced loss), checked against
 * central differences of the reference; host_loss[i] is image i's loss
 * alone; and, unlike the per-image loss, image 0's gradient moves when
 * another image changes (the coupling that voids per-sample clipping). */
static void check_batch_loss(const loss_case *c) {
  cb_model *m = make(c);
  int64_t T = (int64_t)c->H * c->W, per = c->K * T, tot = c->n * per;
  float *z = malloc((size_t)tot * sizeof(float)), *dz = malloc((size_t)tot * sizeof(float));
  float *dz2 = malloc((size_t)tot * sizeof(float));
  double *zd = malloc((size_t)tot * sizeof(double)), *want = malloc((size_t)tot * sizeof(double));
  unsigned char *lab = malloc((size_t)(c->n * T));
  float loss[16];
  double ref[16];
  tst_fill_uniform(z, (size_t)tot, c->seed, -c->scale, c->scale);
  labels_for(c, lab);
  for (int64_t j = 0; j < tot; j++)
    zd[j] = z[j];
  run(m, c->n, z, lab, loss, dz);
  for (int i = 0; i < c->n; i++)
    ref[i] = ref_batch(zd + i * per, lab + i * T, 1, c->K, T, c->loss);
  gc_compare("per-image loss (batch formula, image alone)", loss, ref, c->n, 1e-5);
  const double h = 1e-5;
  for (int64_t j = 0; j < tot; j++) {
    double s = zd[j];
    zd[j] = s + h;
    double lp = ref_batch(zd, lab, c->n, c->K, T, c->loss);
    zd[j] = s - h;
    double lm = ref_batch(zd, lab, c->n, c->K, T, c->loss);
    zd[j] = s;
    want[j] = c->n * (lp - lm) / (2 * h);
  }
  gc_compare("N * dL_batch/dlogits vs finite differences", dz, want, tot, 2e-5);
  /* Another image's logits change image 0's gradient. */
  memcpy(dz2, z, (size_t)tot * sizeof(float));
  for (int64_t j = per; j < tot; j++)
    dz2[j] = -dz2[j];
  float loss2[16];
  run(m, c->n, dz2, lab, loss2, dz2);
  assert_true(memcmp(dz2, dz, (size_t)per * sizeof(float)) != 0);
  free(z);
  free(dz);
  free(dz2);
  free(zd);
  free(want);
  free(lab);
  cb_model_free(m);
}

static void test_batch_loss_logits(void **s) {
  (void)s;
  loss_case c = {4, 3, 5, 3, {1.0f, 1.0f, 1e-4f, 1, 0}, 3.0f, 61};
  check_batch_loss(&c);
}

/* The study's U-Net: its output is Softmax2d probabilities, so CE and Dice
 * see softmax(z); 9 classes. */
static void test_batch_loss_softmax_input(void **s) {
  (void)s;
  loss_case c = {9, 4, 4, 2, {1.0f, 1.0f, 1e-4f, 1, 1}, 3.0f, 62};
  check_batch_loss(&c);
}

static void test_batch_loss_weights(void **s) {
  (void)s;
  loss_case c = {3, 3, 3, 4, {0.6f, 1.4f, 0.5f, 1, 1}, 2.0f, 63};
  check_batch_loss(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loss_ce_plus_dice),  cmocka_unit_test(test_loss_ce_only),
      cmocka_unit_test(test_loss_dice_only),     cmocka_unit_test(test_loss_weights_and_smooth),
      cmocka_unit_test(test_loss_nine_classes),  cmocka_unit_test(test_loss_large_logits),
      cmocka_unit_test(test_batch_loss_logits),  cmocka_unit_test(test_batch_loss_softmax_input),
      cmocka_unit_test(test_batch_loss_weights),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "tests/cuda/support/parity.h"

#include "core/base/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cb_backend *g_dev;
static int g_standin;

void pt_init_or_skip(const char *test) {
  const char *v = getenv("CLIPBENCH_TEST_DEVICE");
  if (v && strcmp(v, "cpu") == 0) {
    g_dev = cb_backend_cpu();
    g_standin = 1;
    printf("%s: CLIPBENCH_TEST_DEVICE=cpu: the CPU backend stands in for the device; this "
           "checks the test code, not CUDA\n",
           test);
    return;
  }
  if (!cb_cuda_available()) {
    cb_error_clear();
    cb_backend_cuda(); /* for the reason */
    const char *why = cb_last_error();
    if (strncmp(why, "no CUDA device: ", 16) == 0) why += 16;
    printf("SKIPPED: no CUDA device (%s)\n", why);
    fflush(stdout);
    exit(77);
  }
  g_dev = cb_backend_cuda();
  if (!g_dev) {
    printf("%s: the CUDA device is present but unusable: %s\n", test, cb_last_error());
    exit(1);
  }
}

const cb_backend *pt_dev(void) {
  return g_dev;
}
const cb_backend *pt_cpu(void) {
  return cb_backend_cpu();
}
int pt_standin(void) {
  return g_standin;
}

static void *dev_alloc(size_t bytes) {
  void *p = g_dev->alloc(g_dev, bytes, "test buffer");
  if (!p) fail_msg("device allocation of %zu bytes failed: %s", bytes, cb_last_error());
  return p;
}

pt_buf pt_buf_from(const float *host, int64_t n) {
  pt_buf b = {malloc(sizeof(float) * (size_t)(n ? n : 1)), dev_alloc(sizeof(float) * (size_t)n), n};
  memcpy(b.cpu, host, sizeof(float) * (size_t)n);
  g_dev->upload(g_dev, b.dev, host, sizeof(float) * (size_t)n);
  return b;
}

pt_buf pt_buf_uniform(int64_t n, uint64_t seed, float lo, float hi) {
  float *h = malloc(sizeof(float) * (size_t)(n ? n : 1));
  tst_fill_uniform(h, (size_t)n, seed, lo, hi);
  pt_buf b = pt_buf_from(h, n);
  free(h);
  return b;
}

pt_bytes pt_bytes_from(const unsigned char *host, int64_t n) {
  pt_bytes b = {malloc((size_t)(n ? n : 1)), dev_alloc((size_t)n), n};
  memcpy(b.cpu, host, (size_t)n);
  g_dev->upload(g_dev, b.dev, host, (size_t)n);
  return b;
}

pt_dbuf pt_dbuf_zero(int64_t n) {
  pt_dbuf b = {calloc((size_t)(n ? n : 1), sizeof(double)), dev_alloc(sizeof(double) * (size_t)n),
               n};
  g_dev->zero(g_dev, b.dev, sizeof(double) * (size_t)n);
  return b;
}

void pt_buf_sync(pt_buf *b) {
  g_dev->upload(g_dev, b->dev, b->cpu, sizeof(float) * (size_t)b->n);
}

void pt_buf_free(pt_buf *b) {
  free(b->cpu);
  g_dev->free(g_dev, b->dev);
}

void pt_bytes_free(pt_bytes *b) {
  free(b->cpu);
  g_dev->free(g_dev, b->dev);
}

void pt_dbuf_free(pt_dbuf *b) {
  free(b->cpu);
  g_dev->free(g_dev, b->dev);
}

float *pt_download(const float *dev, int64_t n) {
  float *h = malloc(sizeof(float) * (size_t)(n ? n : 1));
  g_dev->download(g_dev, h, dev, sizeof(float) * (size_t)n);
  if (g_dev->status(g_dev)) fail_msg("device error: %s", cb_last_error());
  return h;
}

double *pt_download_d(const double *dev, int64_t n) {
  double *h = malloc(sizeof(double) * (size_t)(n ? n : 1));
  g_dev->download(g_dev, h, dev, sizeof(double) * (size_t)n);
  if (g_dev->status(g_dev)) fail_msg("device error: %s", cb_last_error());
  return h;
}

static int64_t ulp_distance(float a, float b) {
  if (a == b) return 0;
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : INT64_MAX;
  int32_t ia, ib;
  memcpy(&ia, &a, 4);
  memcpy(&ib, &b, 4);
  /* Map the sign-magnitude bit patterns onto a monotone integer line. */
  int64_t la = ia < 0 ? (int64_t)INT32_MIN - ia : ia, lb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
  return la > lb ? la - lb : lb - la;
}

void pt_expect_exact(const char *what, const float *d, const float *c, int64_t n) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; i++)
    if (memcmp(&d[i], &c[i], 4) != 0 && !(isnan(d[i]) && isnan(c[i]))) {
      if (first < 0) first = i;
      bad++;
    }
  if (bad)
    fail_msg("%s: %lld of %lld elements differ from the CPU (bit-identical expected); first [%lld] "
             "device %.9g cpu %.9g",
             what, (long long)bad, (long long)n, (long long)first, d[first], c[first]);
}

void pt_expect_exact_bytes(const char *what, const unsigned char *d, const unsigned char *c,
                           int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (d[i] != c[i])
      fail_msg("%s: element %lld device %d cpu %d (identical expected)", what, (long long)i, d[i],
               c[i]);
}

void pt_expect_exact_d(const char *what, const double *d, const double *c, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (memcmp(&d[i], &c[i], 8) != 0 && !(isnan(d[i]) && isnan(c[i])))
      fail_msg("%s: element %lld device %.17g cpu %.17g (bit-identical expected)", what,
               (long long)i, d[i], c[i]);
}

void pt_expect_ulps(const char *what, const float *d, const float *c, int64_t n, int max_ulps,
                    double min_identical) {
  int64_t same = 0, worst = 0, at = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t u = ulp_distance(d[i], c[i]);
    same += u == 0;
    if (u > worst) {
      worst = u;
      at = i;
    }
  }
  double frac = n ? (double)same / (double)n : 1.0;
  if (worst > max_ulps || frac < min_identical)
    fail_msg("%s: worst %lld ulps at [%lld] (device %.9g cpu %.9g), %.5f identical (bounds: %d "
             "ulps, %.4f identical)",
             what, (long long)worst, (long long)at, d[at], c[at], frac, max_ulps, min_identical);
  if (getenv("CB_TEST_VERBOSE"))
    fprintf(stderr, "%-40s worst %lld ulps, %.6f identical\n", what, (long long)worst, frac);
}

static void close_common(const char *what, double num, double den, double maxc, double maxd,
                         int64_t worst, double dv, double cv, double tol) {
  double rel = den > 0 ? sqrt(num / den) : sqrt(num);
  double elem = maxc > 0 ? maxd / maxc : maxd;
  int ok = rel <= tol && elem <= tol;
  if (!ok || getenv("CB_TEST_VERBOSE"))
    fprintf(stderr, "%-48s rel L2 %.2e, max elem %.2e (bound %.0e)%s; worst [%lld] %.9g vs %.9g\n",
            what, rel, elem, tol, ok ? "" : " FAIL", (long long)worst, dv, cv);
  if (!ok) fail_msg("%s: device and CPU differ beyond %g", what, tol);
}

void pt_expect_close(const char *what, const float *d, const float *c, int64_t n, double tol) {
  double num = 0, den = 0, maxc = 0, maxd = 0;
  int64_t worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs((double)d[i] - (double)c[i]);
    if (isnan(d[i]) != isnan(c[i])) e = INFINITY;
    if (isnan(d[i]) && isnan(c[i])) e = 0;
    num += e * e;
    den += (double)c[i] * c[i];
    maxc = fmax(maxc, fabs(c[i]));
    if (e > maxd) {
      maxd = e;
      worst = i;
    }
  }
  close_common(what, num, den, maxc, maxd, worst, n ? d[worst] : 0, n ? c[worst] : 0, tol);
}

void pt_expect_close_d(const char *what, const double *d, const double *c, int64_t n, double tol) {
  double num = 0, den = 0, maxc = 0, maxd = 0;
  int64_t worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs(d[i] - c[i]);
    if (isnan(d[i]) != isnan(c[i])) e = INFINITY;
    if (isnan(d[i]) && isnan(c[i])) e = 0;
    num += e * e;
    den += c[i] * c[i];
    maxc = fmax(maxc, fabs(c[i]));
    if (e > maxd) {
      maxd = e;
      worst = i;
    }
  }
  close_common(what, num, den, maxc, maxd, worst, n ? d[worst] : 0, n ? c[worst] : 0, tol);
}

void pt_check_exact(const char *what, const pt_buf *b) {
  float *h = pt_download(b->dev, b->n);
  pt_expect_exact(what, h, b->cpu, b->n);
  free(h);
}

void pt_check_ulps(const char *what, const pt_buf *b, int max_ulps, double min_identical) {
  float *h = pt_download(b->dev, b->n);
  pt_expect_ulps(what, h, b->cpu, b->n, max_ulps, min_identical);
  free(h);
}

void pt_check_close(const char *what, const pt_buf *b, double tol) {
  float *h = pt_download(b->dev, b->n);
  pt_expect_close(what, h, b->cpu, b->n, tol);
  free(h);
}

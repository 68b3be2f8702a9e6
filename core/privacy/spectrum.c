/* FFTW plans and spectral self-composition: see spectrum.h. */
#include "core/privacy/spectrum.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

int cb_acc_why(char *why, size_t n, const char *fmt, ...) {
  if (why && n) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static pthread_mutex_t g_plan_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_fftw_threads;

int cb_spec_is_smooth(long n) {
  for (long p = 2; p <= 7; p++)
    while (n % p == 0)
      n /= p;
  return n == 1;
}

void cb_spec_plan_pair(long n, int threads, double *re, fftw_complex *spec, fftw_plan *fwd,
                       fftw_plan *inv) {
  pthread_mutex_lock(&g_plan_lock);
  if (!g_fftw_threads) g_fftw_threads = fftw_init_threads() ? 1 : -1;
  if (g_fftw_threads > 0) fftw_plan_with_nthreads(threads);
  *fwd = fftw_plan_dft_r2c_1d((int)n, re, spec, FFTW_ESTIMATE);
  *inv = fftw_plan_dft_c2r_1d((int)n, spec, re, FFTW_ESTIMATE);
  pthread_mutex_unlock(&g_plan_lock);
}

void cb_spec_destroy_pair(fftw_plan fwd, fftw_plan inv) {
  pthread_mutex_lock(&g_plan_lock);
  if (fwd) fftw_destroy_plan(fwd);
  if (inv) fftw_destroy_plan(inv);
  pthread_mutex_unlock(&g_plan_lock);
}

void cb_spec_pow_logpolar(fftw_complex *spec, long nc, double steps, double *acc) {
  /* A factor below e^-800 underflows the product, so skip its log and atan2
   * (most of the spectrum of a wide distribution). */
  const double thr = exp(-1600.0 / steps);
  for (long f = 0; f < nc; f++) {
    double re = spec[f][0], im = spec[f][1], r2 = re * re + im * im;
    double lm, ph;
    if (acc && acc[2 * f] == -INFINITY) continue;
    if (!(r2 > thr)) {
      lm = -INFINITY, ph = 0;
    } else {
      lm = 0.5 * steps * log(r2);
      ph = fmod(steps * atan2(im, re), 2 * M_PI);
    }
    if (acc) {
      acc[2 * f] += lm;
      acc[2 * f + 1] = fmod(acc[2 * f + 1] + ph, 2 * M_PI);
    } else {
      spec[f][0] = lm, spec[f][1] = ph;
    }
  }
}

void cb_spec_from_logpolar(const double *src, fftw_complex *spec, long nc) {
  for (long f = 0; f < nc; f++) {
    double lm = src[2 * f], ph = src[2 * f + 1];
    if (lm < -745.0) {
      spec[f][0] = spec[f][1] = 0;
    } else {
      double m = exp(lm);
      spec[f][0] = m * cos(ph);
      spec[f][1] = m * sin(ph);
    }
  }
}

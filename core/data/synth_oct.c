/* Synthetic OCT B-scans: the default dataset, so every part of clipbench runs
 * without a download.
 *
 * A B-scan is built like the Duke DME scans it stands in for: eight smooth
 * boundaries (ILM ... RPE/choroid) stacked upwards from a tilted, curved
 * Bruch's-membrane curve; the inner layers thin into a foveal pit whose depth
 * depends on how close the B-scan is to the fovea; optional fluid pockets
 * swell the ONL (or INL) and push the layers above them up. Each region has
 * a reflectivity; layers of one brightness group share it (NFL, ISE, OS-RPE
 * bright; GCL-IPL, OPL, upper choroid medium; INL, ONL dark; vitreous and
 * fluid black), so a pixel's brightness does not say which layer it is in:
 * the model has to use position and context (tested in test_data_synth.c).
 * Then per-image attenuation with depth, lateral vignetting, vessel shadows,
 * low-frequency inhomogeneity, an axial/lateral point-spread blur, correlated
 * multiplicative speckle (|complex Gaussian field|^2, two looks), log
 * compression, and brightness/contrast jitter; rounded to 0..255.
 *
 * Determinism: every draw is Philox(seed, CB_STREAM_DATA, step, index) with
 * step 1 = subject parameters, 2 = image parameters, 3/4 = speckle looks,
 * 5 = inhomogeneity grid, and the index carrying (subject|image, coordinate).
 * Images are independent, so any thread count gives the same bytes. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/detmath.h"
#include "core/kernels/philox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

enum { STEP_SUBJECT = 1, STEP_IMAGE = 2, STEP_SPECKLE = 3, STEP_GRID = 5 }; /* 5, 6: lattices */
enum { LOOKS = 2, MAX_POCKETS = 3, MAX_VESSELS = 3, N_WAVES = 3, GRID = 12, FINE = 28 };

#define PI 3.14159265358979323846

/* Sequential draws from one (step, base) block of Philox indices. */
typedef struct {
  uint64_t seed;
  uint32_t step;
  uint64_t base, k;
} drawer;

static double draw_u(drawer *r) {
  cb_philox_ctr w = cb_philox_words(r->seed, CB_STREAM_DATA, r->step, r->base + r->k++);
  return cb_u01d(w.v[0], w.v[1]) - 0x1p-53; /* [0, 1) */
}

static double draw_in(drawer *r, double lo, double hi) {
  return lo + (hi - lo) * draw_u(r);
}

/* Layer order, top to bottom: NFL, GCL-IPL, INL, OPL, ONL-ISM, ISE, OS-RPE. */
static const double LAYER_SHARE[7] = {0.10, 0.18, 0.12, 0.10, 0.26, 0.08, 0.16};
/* How much of each layer the foveal pit removes (negative: it thickens). */
static const double PIT_THINNING[7] = {0.95, 0.92, 0.75, 0.55, -0.35, 0.0, 0.0};
/* Mean reflectivity per region: 0 vitreous, 1-7 layers, 8 choroid (top), 9 fluid. */
static const double REFLECTIVITY[10] = {0.008, 0.80, 0.40, 0.17, 0.42,
                                        0.15,  0.85, 0.80, 0.42, 0.012};

typedef struct {
  double thick;    /* retina thickness, fraction of H */
  double share[7]; /* layer shares of it (sum 1) */
  double refl[10];
  double fov_x, fov_w, fov_strength;
  double bm; /* Bruch's membrane depth at the centre, fraction of H */
  double fluid_scale;
  double nfl_side; /* +1/-1: the side where the NFL thickens (nasal) */
} subject_params;

typedef struct {
  double tilt, curv;
  double und_a[2], und_f[2], und_p[2];
  double eps_a[7][N_WAVES], eps_f[7][N_WAVES], eps_p[7][N_WAVES];
  double pit; /* foveal pit depth 0..1 for this B-scan */
  double fov_x;
  double refl[10];
  double gain, contrast, atten, vignette, choroid_decay;
  int n_pockets;
  double pk_x[MAX_POCKETS], pk_w[MAX_POCKETS], pk_h[MAX_POCKETS];
  int pk_layer[MAX_POCKETS]; /* 2 = INL, 4 = ONL (0-based layer index) */
  int n_vessels;
  double vs_x[MAX_VESSELS], vs_w[MAX_VESSELS], vs_s[MAX_VESSELS];
} image_params;

void cb_synth_opts_default(cb_synth_opts *o) {
  o->per_subject = 0;
  o->fluid_prob = 0.5;
  o->noise = 1.0;
  o->classes = 9;
}

static void subject_draw(uint64_t seed, int subject, subject_params *s) {
  drawer r = {seed, STEP_SUBJECT, (uint64_t)subject << 16, 0};
  s->thick = draw_in(&r, 0.44, 0.52);
  double sum = 0.0;
  for (int k = 0; k < 7; k++) {
    s->share[k] = LAYER_SHARE[k] * draw_in(&r, 0.85, 1.15);
    sum += s->share[k];
  }
  for (int k = 0; k < 7; k++)
    s->share[k] /= sum;
  for (int c = 0; c < 10; c++)
    s->refl[c] = REFLECTIVITY[c] * draw_in(&r, 0.88, 1.12);
  s->fov_x = draw_in(&r, 0.40, 0.60);
  s->fov_w = draw_in(&r, 0.06, 0.10);
  s->fov_strength = draw_in(&r, 0.75, 1.0);
  s->bm = draw_in(&r, 0.65, 0.71);
  s->fluid_scale = draw_in(&r, 0.5, 1.0);
  s->nfl_side = draw_u(&r) < 0.5 ? -1.0 : 1.0;
}

/* offset: where this B-scan lies relative to the fovea, -1 .. 1. */
static void image_draw(uint64_t seed, int image, double offset, const subject_params *s,
                       const cb_synth_opts *o, image_params *p) {
  drawer r = {seed, STEP_IMAGE, (uint64_t)image << 16, 0};
  p->tilt = draw_in(&r, -0.10, 0.10);
  p->curv = draw_in(&r, -0.05, 0.25);
  for (int i = 0; i < 2; i++) {
    p->und_a[i] = draw_in(&r, 0.0, 0.012);
    p->und_f[i] = draw_in(&r, 0.5, 2.5);
    p->und_p[i] = draw_in(&r, 0.0, 2.0 * PI);
  }
  for (int k = 0; k < 7; k++)
    for (int i = 0; i < N_WAVES; i++) {
      p->eps_a[k][i] = draw_in(&r, 0.0, 0.07);
      p->eps_f[k][i] = draw_in(&r, 0.5, 4.0);
      p->eps_p[k][i] = draw_in(&r, 0.0, 2.0 * PI);
    }
  p->pit = s->fov_strength * cb_dm_exp(-(offset * offset) / (0.45 * 0.45)) * draw_in(&r, 0.9, 1.0);
  p->fov_x = s->fov_x + draw_in(&r, -0.02, 0.02);
  for (int c = 0; c < 10; c++)
    p->refl[c] = s->refl[c] * draw_in(&r, 0.92, 1.08);
  p->gain = draw_in(&r, -0.35, 0.35);
  p->contrast = draw_in(&r, 0.85, 1.15);
  p->atten = draw_in(&r, 0.3, 1.5);
  p->vignette = draw_in(&r, 0.0, 0.6);
  p->choroid_decay = draw_in(&r, 0.04, 0.09);
  p->n_vessels = (int)(draw_u(&r) * (MAX_VESSELS + 1));
  for (int v = 0; v < MAX_VESSELS; v++) {
    p->vs_x[v] = draw_in(&r, 0.05, 0.95);
    p->vs_w[v] = draw_in(&r, 0.006, 0.018);
    p->vs_s[v] = draw_in(&r, 0.3, 0.7);
  }
  double has_fluid = draw_u(&r);
  p->n_pockets = has_fluid < o->fluid_prob ? 1 + (int)(draw_u(&r) * MAX_POCKETS) : 0;
  for (int q = 0; q < MAX_POCKETS; q++) {
    p->pk_x[q] = p->fov_x + draw_in(&r, -0.22, 0.22);
    p->pk_w[q] = draw_in(&r, 0.03, 0.10);
    /* height as a fraction of the retina thickness */
    p->pk_h[q] = s->fluid_scale * draw_in(&r, 0.15, 0.55);
    p->pk_layer[q] = draw_u(&r) < 0.3 ? 2 : 4;
  }
}

/* The eight boundaries of column x (rows, continuous, top to bottom) and the
 * fluid pocket extents in that column. */
typedef struct {
  double b[8];
  double fl_c[MAX_POCKETS], fl_r[MAX_POCKETS]; /* pocket centre row, half height (0: none) */
} column_geom;

static void column_geometry(int H, int W, int x, const subject_params *s, const image_params *p,
                            column_geom *g) {
  double u = ((double)x + 0.5) / (double)W, du = u - 0.5;
  double base = s->bm + p->tilt * du - p->curv * (du * du - 1.0 / 12.0);
  for (int i = 0; i < 2; i++)
    base += p->und_a[i] * cb_dm_sin(2.0 * PI * p->und_f[i] * u + p->und_p[i]);
  double fz = (u - p->fov_x) / s->fov_w;
  double pit = p->pit * cb_dm_exp(-0.5 * fz * fz);
  double T = s->thick * (double)H;
  double t[7];
  for (int k = 0; k < 7; k++) {
    double eps = 0.0;
    for (int i = 0; i < N_WAVES; i++)
      eps += p->eps_a[k][i] * cb_dm_sin(2.0 * PI * p->eps_f[k][i] * u + p->eps_p[k][i]);
    t[k] = T * s->share[k] * (1.0 + eps) * (1.0 - PIT_THINNING[k] * pit);
  }
  double side = 1.0 + 0.8 * s->nfl_side * (u - p->fov_x);
  t[0] *= side < 0.3 ? 0.3 : side;
  for (int q = 0; q < MAX_POCKETS; q++)
    g->fl_r[q] = 0.0;
  for (int q = 0; q < p->n_pockets; q++) {
    double z = (u - p->pk_x[q]) / p->pk_w[q];
    if (z * z >= 1.0) continue;
    double h = p->pk_h[q] * T * sqrt(1.0 - z * z);
    t[p->pk_layer[q]] += h;
    g->fl_r[q] = 0.45 * h;
  }
  for (int k = 0; k < 7; k++)
    if (t[k] < 0.0) t[k] = 0.0;
  g->b[7] = base * (double)H;
  for (int k = 6; k >= 0; k--)
    g->b[k] = g->b[k + 1] - t[k];
  for (int k = 0; k < 8; k++) {
    if (g->b[k] < 1.0) g->b[k] = 1.0;
    if (g->b[k] > (double)H - 1.0) g->b[k] = (double)H - 1.0;
    if (k > 0 && g->b[k] < g->b[k - 1]) g->b[k] = g->b[k - 1];
  }
  /* The pocket sits in the middle of the layer it swelled. */
  for (int q = 0; q < p->n_pockets; q++) {
    int L = p->pk_layer[q];
    g->fl_c[q] = 0.5 * (g->b[L] + g->b[L + 1]);
  }
}

/* Separable Gaussian taps, radius R. */
enum { R = 3, TAPS = 2 * R + 1 };
static void gauss_taps(double sigma, double *w) {
  double sum = 0.0;
  for (int i = -R; i <= R; i++) {
    w[i + R] = cb_dm_exp(-0.5 * (double)(i * i) / (sigma * sigma));
    sum += w[i + R];
  }
  for (int i = 0; i < TAPS; i++)
    w[i] /= sum;
}

/* dst[y][x] = sum_j wy[j] sum_i wx[i] src[y+j][x+i] over a source padded by R
 * on every side (src is (H+2R) x (W+2R)); tmp is H+2R rows of W. */
static void blur_valid(const double *src, int H, int W, const double *wx, const double *wy,
                       double *tmp, double *dst) {
  int Wp = W + 2 * R;
  for (int y = 0; y < H + 2 * R; y++)
    for (int x = 0; x < W; x++) {
      double a = 0.0;
      for (int i = 0; i < TAPS; i++)
        a += wx[i] * src[(size_t)y * Wp + x + i];
      tmp[(size_t)y * W + x] = a;
    }
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double a = 0.0;
      for (int j = 0; j < TAPS; j++)
        a += wy[j] * tmp[(size_t)(y + j) * W + x];
      dst[(size_t)y * W + x] = a;
    }
}

/* Two standard normals from one Philox call (Box-Muller on our own log/sin/cos). */
static void normal_pair(uint64_t seed, uint32_t step, uint64_t index, double *a, double *b) {
  cb_philox_ctr w = cb_philox_words(seed, CB_STREAM_DATA, step, index);
  double u1 = cb_u01d(w.v[0], w.v[1]), u2 = cb_u01d(w.v[2], w.v[3]);
  double rad = sqrt(-2.0 * cb_dm_log(u1)), th = 2.0 * PI * u2;
  *a = rad * cb_dm_cos(th);
  *b = rad * cb_dm_sin(th);
}

typedef struct {
  double *refl, *refl_pad, *re, *im, *fre, *fim, *tmp, *speckle;
} scratch;

static void scratch_free(scratch *s) {
  free(s->refl);
  free(s->refl_pad);
  free(s->re);
  free(s->im);
  free(s->fre);
  free(s->fim);
  free(s->tmp);
  free(s->speckle);
}

static int scratch_alloc(scratch *s, int H, int W) {
  size_t n = (size_t)H * W, np = (size_t)(H + 2 * R) * (W + 2 * R), nt = (size_t)(H + 2 * R) * W;
  memset(s, 0, sizeof *s);
  s->refl = malloc(n * sizeof(double));
  s->refl_pad = malloc(np * sizeof(double));
  s->re = malloc(np * sizeof(double));
  s->im = malloc(np * sizeof(double));
  s->fre = malloc(n * sizeof(double));
  s->fim = malloc(n * sizeof(double));
  s->tmp = malloc(nt * sizeof(double));
  s->speckle = malloc(n * sizeof(double));
  if (s->refl && s->refl_pad && s->re && s->im && s->fre && s->fim && s->tmp && s->speckle)
    return 0;
  scratch_free(s);
  return -1;
}

/* Value noise: a G x G lattice of values interpolated bilinearly over the
 * image. G = GRID gives the low-frequency inhomogeneity, G = FINE the
 * blotchy texture of the choroid's vessels. */
static double lattice_value(const double *g, int G, int H, int W, int y, int x) {
  double gy = ((double)y + 0.5) / (double)H * (G - 1), gx = ((double)x + 0.5) / (double)W * (G - 1);
  int iy = (int)gy, ix = (int)gx;
  if (iy > G - 2) iy = G - 2;
  if (ix > G - 2) ix = G - 2;
  double fy = gy - iy, fx = gx - ix;
  double a = g[iy * G + ix] * (1.0 - fx) + g[iy * G + ix + 1] * fx;
  double b = g[(iy + 1) * G + ix] * (1.0 - fx) + g[(iy + 1) * G + ix + 1] * fx;
  return a * (1.0 - fy) + b * fy;
}

static void render_image(int H, int W, uint64_t seed, int image, const subject_params *s,
                         const image_params *p, const cb_synth_opts *o, scratch *sc, float *img,
                         uint8_t *mask) {
  double grid[GRID * GRID], fine[FINE * FINE];
  for (int i = 0; i < GRID * GRID; i++)
    grid[i] = 0.8 + 0.4 * cb_uniform(seed, CB_STREAM_DATA, STEP_GRID,
                                     ((uint64_t)image << 36) | (uint64_t)i);
  for (int i = 0; i < FINE * FINE; i++)
    fine[i] = 0.4 + 1.2 * cb_uniform(seed, CB_STREAM_DATA, STEP_GRID + 1,
                                     ((uint64_t)image << 36) | (uint64_t)i);
  const int fluid_class = o->classes == 10 ? 9 : 8;
  for (int x = 0; x < W; x++) {
    column_geom g;
    column_geometry(H, W, x, s, p, &g);
    double u = ((double)x + 0.5) / (double)W;
    double lateral = 1.0 - p->vignette * (2.0 * u - 1.0) * (2.0 * u - 1.0);
    double shadow = 1.0, vessel_row = -1.0, vessel_r = 0.0;
    for (int v = 0; v < p->n_vessels; v++) {
      double z = (u - p->vs_x[v]) / p->vs_w[v];
      if (z * z >= 1.0) continue;
      shadow *= 1.0 - p->vs_s[v] * sqrt(1.0 - z * z);
      vessel_row = g.b[1];
      vessel_r = 0.5 * p->vs_w[v] * (double)W * sqrt(1.0 - z * z);
    }
    for (int y = 0; y < H; y++) {
      double yc = (double)y + 0.5;
      int region = 0;
      while (region < 8 && yc >= g.b[region])
        region++;
      int fluid = 0;
      for (int q = 0; q < p->n_pockets; q++)
        if (g.fl_r[q] > 0.0 && yc > g.fl_c[q] - g.fl_r[q] && yc < g.fl_c[q] + g.fl_r[q]) fluid = 1;
      double refl;
      if (fluid)
        refl = p->refl[9];
      else if (region == 8)
        refl = p->refl[8] * cb_dm_exp(-(yc - g.b[7]) / (p->choroid_decay * (double)H)) *
                   lattice_value(fine, FINE, H, W, y, x) +
               0.006;
      else
        refl = p->refl[region];
      if (vessel_r > 0.0 && yc > vessel_row - vessel_r && yc < vessel_row + vessel_r) refl = 0.7;
      if (yc > g.b[0]) {
        refl *= cb_dm_exp(-p->atten * (yc - g.b[0]) / (double)H);
        if (yc > vessel_row + vessel_r && vessel_r > 0.0) refl *= shadow;
      }
      refl *= lateral * lattice_value(grid, GRID, H, W, y, x);
      sc->refl[(size_t)y * W + x] = refl;
      int label = fluid ? fluid_class : (o->classes != 10 && region == 8 ? 0 : region);
      mask[(size_t)y * W + x] = (uint8_t)label;
    }
  }
  /* Point-spread blur of the reflectivity (edge-replicated padding). */
  double psf_x[TAPS], psf_y[TAPS], sp_x[TAPS], sp_y[TAPS];
  gauss_taps(0.6, psf_x);
  gauss_taps(0.6, psf_y);
  gauss_taps(0.9, sp_x);
  gauss_taps(0.7, sp_y);
  int Wp = W + 2 * R, Hp = H + 2 * R;
  for (int y = 0; y < Hp; y++)
    for (int x = 0; x < Wp; x++) {
      int yy = y - R < 0 ? 0 : (y - R >= H ? H - 1 : y - R);
      int xx = x - R < 0 ? 0 : (x - R >= W ? W - 1 : x - R);
      sc->refl_pad[(size_t)y * Wp + x] = sc->refl[(size_t)yy * W + xx];
    }
  blur_valid(sc->refl_pad, H, W, psf_x, psf_y, sc->tmp, sc->refl);
  /* Speckle: |blurred complex white noise|^2, normalised to mean 1, looks averaged. */
  double e2x = 0.0, e2y = 0.0;
  for (int i = 0; i < TAPS; i++) {
    e2x += sp_x[i] * sp_x[i];
    e2y += sp_y[i] * sp_y[i];
  }
  double norm = 1.0 / (2.0 * e2x * e2y * LOOKS);
  for (size_t i = 0; i < (size_t)H * W; i++)
    sc->speckle[i] = 0.0;
  for (int look = 0; look < LOOKS; look++) {
    for (size_t i = 0; i < (size_t)Hp * Wp; i++)
      normal_pair(seed, STEP_SPECKLE + (uint32_t)look, ((uint64_t)image << 36) | (uint64_t)i,
                  &sc->re[i], &sc->im[i]);
    blur_valid(sc->re, H, W, sp_x, sp_y, sc->tmp, sc->fre);
    blur_valid(sc->im, H, W, sp_x, sp_y, sc->tmp, sc->fim);
    for (size_t i = 0; i < (size_t)H * W; i++)
      sc->speckle[i] += (sc->fre[i] * sc->fre[i] + sc->fim[i] * sc->fim[i]) * norm;
  }
  /* Log compression to 0..255 display units. */
  const double lo = cb_dm_log(0.006), hi = cb_dm_log(1.4), floor_ = 0.003;
  for (size_t i = 0; i < (size_t)H * W; i++) {
    double sp = o->noise > 0.0 ? cb_dm_exp(o->noise * cb_dm_log(sc->speckle[i] + 1e-12)) : 1.0;
    double L = cb_dm_log(sc->refl[i] * sp + floor_) + p->gain;
    double D = 255.0 * (L - lo) / (hi - lo);
    D = 128.0 + p->contrast * (D - 128.0);
    D = floor(D + 0.5);
    img[i] = (float)(D < 0.0 ? 0.0 : (D > 255.0 ? 255.0 : D));
  }
}

/* Subject (1-based) of image i and its position among the subject's images. */
static void subject_of(int i, int n, int per, int *subject, double *offset) {
  int first, count, s0;
  if (per > 0) {
    s0 = i / per;
    first = s0 * per;
    count = n - first < per ? n - first : per;
  } else {
    int ns = n < 10 ? n : 10;
    s0 = (int)(((long long)i * ns) / n);
    first = (int)(((long long)s0 * n + ns - 1) / ns);
    int next = (int)(((long long)(s0 + 1) * n + ns - 1) / ns);
    count = next - first;
  }
  *subject = s0 + 1;
  *offset = 2.0 * ((double)(i - first) + 0.5) / (double)count - 1.0;
}

int cb_synth_oct(cb_dataset *out, int n, int H, int W, uint64_t seed, const cb_synth_opts *opts) {
  cb_synth_opts o;
  if (opts)
    o = *opts;
  else
    cb_synth_opts_default(&o);
  memset(out, 0, sizeof *out);
  if (n < 1) return cb_error("synthetic data: %d images requested; need at least 1", n);
  if (H < 16 || W < 16 || H > 8192 || W > 8192)
    return cb_error("synthetic data: size %dx%d; height and width must be 16..8192", H, W);
  if (o.classes != 9 && o.classes != 10)
    return cb_error("synthetic data: %d classes; the OCT generator makes 9 (backgrounds merged) "
                    "or 10 (above ILM and below RPE apart)",
                    o.classes);
  if (o.per_subject < 0)
    return cb_error("synthetic data: images per subject must be >= 0 (0 = 10 subjects)");
  if (!(o.fluid_prob >= 0.0 && o.fluid_prob <= 1.0))
    return cb_error("synthetic data: fluid probability %g must be within 0..1", o.fluid_prob);
  if (!(o.noise >= 0.0 && o.noise <= 4.0))
    return cb_error("synthetic data: noise %g must be within 0..4", o.noise);
  if (cb_dataset_alloc(out, n, H, W, o.classes, 1)) return -1;
  cb_dataset_set_oct_classes(out, o.classes);
  out->subjects_known = 1;
  int failed = 0;
  size_t px = (size_t)H * W;
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < n; i++) {
    scratch sc;
    if (scratch_alloc(&sc, H, W)) {
#pragma omp atomic write
      failed = 1;
      continue;
    }
    int subject;
    double offset;
    subject_of(i, n, o.per_subject, &subject, &offset);
    subject_params sp;
    image_params ip;
    subject_draw(seed, subject, &sp);
    image_draw(seed, i, offset, &sp, &o, &ip);
    render_image(H, W, seed, i, &sp, &ip, &o, &sc, out->images + (size_t)i * px,
                 out->masks + (size_t)i * px);
    out->subjects[i] = subject;
    scratch_free(&sc);
  }
  if (failed) {
    cb_dataset_free(out);
    return cb_error("synthetic data: out of memory for %dx%d scratch buffers", H, W);
  }
  for (int i = 0; i < n; i++) {
    char name[40];
    snprintf(name, sizeof name, "synth_s%02d_%05d", out->subjects[i], i);
    if (cb_dataset_set_name(out, i, name)) {
      cb_dataset_free(out);
      return -1;
    }
  }
  return 0;
}

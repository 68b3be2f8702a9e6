#include "tests/unit/support/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ref_conv2d(const double *x, int N, int Cin, int H, int W, const double *w, const double *b,
                int Cout, int k, double *y) {
  int pad = k / 2;
  for (int n = 0; n < N; n++)
    for (int o = 0; o < Cout; o++)
      for (int h = 0; h < H; h++)
        for (int v = 0; v < W; v++) {
          double s = b ? b[o] : 0.0;
          for (int c = 0; c < Cin; c++)
            for (int i = 0; i < k; i++)
              for (int j = 0; j < k; j++) {
                int hh = h + i - pad, vv = v + j - pad;
                if (hh < 0 || hh >= H || vv < 0 || vv >= W) continue;
                s += w[((o * Cin + c) * k + i) * k + j] *
                     x[(((int64_t)n * Cin + c) * H + hh) * W + vv];
              }
          y[(((int64_t)n * Cout + o) * H + h) * W + v] = s;
        }
}

void ref_convt2x2(const double *x, int N, int Cin, int H, int W, const double *w, const double *b,
                  int Cout, double *y) {
  int Ho = 2 * H, Wo = 2 * W;
  /* y[n, o, 2h+i, 2v+j] = b[o] + sum_c x[n, c, h, v] w[c, o, i, j] */
  for (int n = 0; n < N; n++)
    for (int o = 0; o < Cout; o++)
      for (int h = 0; h < Ho; h++)
        for (int v = 0; v < Wo; v++) {
          double s = b ? b[o] : 0.0;
          for (int c = 0; c < Cin; c++)
            s += x[(((int64_t)n * Cin + c) * H + h / 2) * W + v / 2] *
                 w[((c * Cout + o) * 2 + h % 2) * 2 + v % 2];
          y[(((int64_t)n * Cout + o) * Ho + h) * Wo + v] = s;
        }
}

void ref_group_norm(const double *x, int N, int C, int H, int W, int G, const double *gamma,
                    const double *beta, double eps, double *y) {
  int64_t T = (int64_t)H * W, cg = C / G;
  for (int n = 0; n < N; n++)
    for (int g = 0; g < G; g++) {
      const double *p = x + ((int64_t)n * C + g * cg) * T;
      double *q = y + ((int64_t)n * C + g * cg) * T;
      double mu = 0.0, var = 0.0;
      for (int64_t j = 0; j < cg * T; j++)
        mu += p[j];
      mu /= (double)(cg * T);
      for (int64_t j = 0; j < cg * T; j++)
        var += (p[j] - mu) * (p[j] - mu);
      var /= (double)(cg * T);
      double r = 1.0 / sqrt(var + eps);
      for (int64_t j = 0; j < cg * T; j++) {
        int64_t c = g * cg + j / T;
        q[j] = (p[j] - mu) * r * gamma[c] + beta[c];
      }
    }
}

void ref_relu(const double *x, int64_t n, double *y, unsigned char *gate, int replay) {
  for (int64_t i = 0; i < n; i++) {
    int on = gate && replay ? gate[i] : x[i] > 0.0;
    if (gate && !replay) gate[i] = (unsigned char)on;
    y[i] = on ? x[i] : 0.0;
  }
}

void ref_maxpool2(const double *x, int N, int C, int H, int W, double *y, unsigned char *gate,
                  int replay) {
  int Ho = H / 2, Wo = W / 2;
  for (int64_t nc = 0; nc < (int64_t)N * C; nc++)
    for (int h = 0; h < Ho; h++)
      for (int v = 0; v < Wo; v++) {
        int64_t o = (nc * Ho + h) * Wo + v;
        const double *p = x + (nc * H + 2 * h) * W + 2 * v;
        double win[4] = {p[0], p[1], p[W], p[W + 1]};
        int best = 0;
        for (int k = 1; k < 4; k++)
          if (win[k] > win[best]) best = k;
        if (gate && replay) best = gate[o];
        if (gate && !replay) gate[o] = (unsigned char)best;
        y[o] = win[best];
      }
}

/* Source index and weight of the align_corners=True mapping (1-D). */
static void up_src(int o, int in, int out, int *i0, int *i1, double *f) {
  double s = out > 1 ? (double)o * (in - 1) / (double)(out - 1) : 0.0;
  *i0 = (int)floor(s);
  if (*i0 > in - 1) *i0 = in - 1;
  *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
  *f = s - *i0;
}

void ref_upsample2(const double *x, int N, int C, int H, int W, double *y) {
  int Ho = 2 * H, Wo = 2 * W;
  for (int64_t nc = 0; nc < (int64_t)N * C; nc++)
    for (int h = 0; h < Ho; h++)
      for (int v = 0; v < Wo; v++) {
        int h0, h1, v0, v1;
        double fh, fv;
        up_src(h, H, Ho, &h0, &h1, &fh);
        up_src(v, W, Wo, &v0, &v1, &fv);
        const double *p = x + nc * H * W;
        y[(nc * Ho + h) * Wo + v] = (1 - fh) * (1 - fv) * p[h0 * W + v0] +
                                    (1 - fh) * fv * p[h0 * W + v1] +
                                    fh * (1 - fv) * p[h1 * W + v0] + fh * fv * p[h1 * W + v1];
      }
}

void ref_concat(const double *const *xs, const int *Cs, int k, int N, int H, int W, double *y) {
  int64_t T = (int64_t)H * W;
  int Ct = 0;
  for (int j = 0; j < k; j++)
    Ct += Cs[j];
  for (int n = 0; n < N; n++) {
    int off = 0;
    for (int j = 0; j < k; j++) {
      memcpy(y + ((int64_t)n * Ct + off) * T, xs[j] + (int64_t)n * Cs[j] * T,
             (size_t)(Cs[j] * T) * sizeof(double));
      off += Cs[j];
    }
  }
}

void ref_loss(const double *logits, const unsigned char *labels, int N, int K, int64_t T,
              cb_loss_cfg cfg, double *loss) {
  double *p = malloc((size_t)K * sizeof(double));
  double *I = malloc((size_t)K * sizeof(double)), *P = malloc((size_t)K * sizeof(double)),
         *Y = malloc((size_t)K * sizeof(double));
  for (int n = 0; n < N; n++) {
    const double *z = logits + (int64_t)n * K * T;
    const unsigned char *lab = labels + (int64_t)n * T;
    double ce = 0.0;
    for (int k = 0; k < K; k++)
      I[k] = P[k] = Y[k] = 0.0;
    for (int64_t t = 0; t < T; t++) {
      double mx = -INFINITY, s = 0.0;
      for (int k = 0; k < K; k++)
        mx = fmax(mx, z[k * T + t]);
      for (int k = 0; k < K; k++)
        s += exp(z[k * T + t] - mx);
      for (int k = 0; k < K; k++)
        p[k] = exp(z[k * T + t] - mx) / s;
      ce -= log(p[lab[t]]);
      for (int k = 0; k < K; k++) {
        P[k] += p[k];
        if (lab[t] == k) {
          I[k] += p[k];
          Y[k] += 1.0;
        }
      }
    }
    double dice = 0.0;
    for (int k = 0; k < K; k++)
      dice += (2.0 * I[k] + cfg.smooth) / (P[k] + Y[k] + cfg.smooth);
    loss[n] = cfg.w_ce * ce / (double)T + cfg.w_dice * (1.0 - dice / K);
  }
  free(p);
  free(I);
  free(P);
  free(Y);
}

ref_gates *ref_gates_new(const cb_model *m, int n) {
  ref_gates *g = calloc(1, sizeof *g);
  g->gate = calloc((size_t)m->n_nodes, sizeof *g->gate);
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    if (nd->kind == CB_NODE_RELU || nd->kind == CB_NODE_MAXPOOL)
      g->gate[i] = calloc((size_t)n * nd->C * nd->H * nd->W, 1);
  }
  return g;
}

void ref_gates_free(const cb_model *m, ref_gates *g) {
  if (!g) return;
  for (int i = 0; i < m->n_nodes; i++)
    free(g->gate[i]);
  free(g->gate);
  free(g);
}

double **ref_forward(const cb_model *m, const double *params, const double *input, int n) {
  return ref_forward_gated(m, params, input, n, NULL);
}

double **ref_forward_gated(const cb_model *m, const double *params, const double *input, int n,
                           ref_gates *g) {
  double **out = calloc((size_t)m->n_nodes, sizeof *out);
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    int64_t sz = (int64_t)n * nd->C * nd->H * nd->W;
    out[i] = malloc((size_t)sz * sizeof(double));
    const cb_node *in = nd->kind == CB_NODE_INPUT ? NULL : &m->nodes[nd->in[0]];
    const double *x = in ? out[nd->in[0]] : NULL;
    const double *w = nd->w_tensor >= 0 ? params + m->tensors[nd->w_tensor].offset : NULL;
    const double *b = nd->b_tensor >= 0 ? params + m->tensors[nd->b_tensor].offset : NULL;
    switch (nd->kind) {
    case CB_NODE_INPUT: memcpy(out[i], input, (size_t)sz * sizeof(double)); break;
    case CB_NODE_CONV: ref_conv2d(x, n, in->C, in->H, in->W, w, b, nd->C, nd->k, out[i]); break;
    case CB_NODE_CONVT: ref_convt2x2(x, n, in->C, in->H, in->W, w, b, nd->C, out[i]); break;
    case CB_NODE_GN:
      ref_group_norm(x, n, nd->C, nd->H, nd->W, nd->groups, w, b, 1e-5, out[i]);
      break;
    case CB_NODE_RELU: ref_relu(x, sz, out[i], g ? g->gate[i] : NULL, g && g->replay); break;
    case CB_NODE_MAXPOOL:
      ref_maxpool2(x, n, in->C, in->H, in->W, out[i], g ? g->gate[i] : NULL, g && g->replay);
      break;
    case CB_NODE_UPSAMPLE: ref_upsample2(x, n, in->C, in->H, in->W, out[i]); break;
    case CB_NODE_CONCAT: {
      const double *xs[CB_MAX_INPUTS];
      int Cs[CB_MAX_INPUTS];
      for (int j = 0; j < nd->n_in; j++) {
        xs[j] = out[nd->in[j]];
        Cs[j] = m->nodes[nd->in[j]].C;
      }
      ref_concat(xs, Cs, nd->n_in, n, nd->H, nd->W, out[i]);
      break;
    }
    }
  }
  return out;
}

void ref_outputs_free(const cb_model *m, double **outs) {
  for (int i = 0; i < m->n_nodes; i++)
    free(outs[i]);
  free(outs);
}

void ref_model_loss(const cb_model *m, const double *params, const double *input,
                    const unsigned char *labels, int n, ref_gates *g, double *loss) {
  double **outs = ref_forward_gated(m, params, input, n, g);
  const cb_node *last = &m->nodes[m->n_nodes - 1];
  ref_loss(outs[m->n_nodes - 1], labels, n, last->C, (int64_t)last->H * last->W, m->loss, loss);
  ref_outputs_free(m, outs);
}

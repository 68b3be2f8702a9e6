/* Graph construction: nodes and parameter tensors, shapes per sample. */
#include "core/base/error.h"
#include "core/nn/model.h"

#include <stdlib.h>
#include <string.h>

static int gcd(int a, int b) {
  while (b) {
    int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static cb_node *new_node(cb_model *m, cb_node_kind kind, const char *name) {
  if (m->n_nodes == m->cap_nodes) {
    int cap = m->cap_nodes ? 2 * m->cap_nodes : 64;
    cb_node *nn = realloc(m->nodes, (size_t)cap * sizeof *nn);
    if (!nn) abort();
    m->nodes = nn;
    m->cap_nodes = cap;
  }
  cb_node *nd = &m->nodes[m->n_nodes++];
  memset(nd, 0, sizeof *nd);
  nd->kind = kind;
  nd->w_tensor = nd->b_tensor = -1;
  snprintf(nd->name, sizeof nd->name, "%s", name ? name : "");
  return nd;
}

static int add_tensor(cb_model *m, int node, const char *name, int ndim, const int *shape,
                      int is_bias) {
  if (m->n_tensors == m->cap_tensors) {
    int cap = m->cap_tensors ? 2 * m->cap_tensors : 64;
    cb_tensor *nt = realloc(m->tensors, (size_t)cap * sizeof *nt);
    if (!nt) abort();
    m->tensors = nt;
    m->cap_tensors = cap;
  }
  cb_tensor *t = &m->tensors[m->n_tensors];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ndim = ndim;
  t->numel = 1;
  for (int i = 0; i < ndim; i++) {
    t->shape[i] = shape[i];
    t->numel *= shape[i];
  }
  t->offset = m->n_params;
  t->node = node;
  t->is_bias = is_bias;
  m->n_params += t->numel;
  return m->n_tensors++;
}

/* Weight then bias, contiguous, so a node's parameters are one region. */
static void add_params(cb_model *m, int node, const int *wshape, int wdim, int bias_len) {
  cb_node *nd = &m->nodes[node];
  char nm[128];
  nd->p_off = m->n_params;
  snprintf(nm, sizeof nm, "%s.weight", nd->name);
  nd->w_tensor = add_tensor(m, node, nm, wdim, wshape, 0);
  if (bias_len > 0) {
    snprintf(nm, sizeof nm, "%s.bias", nd->name);
    nd->b_tensor = add_tensor(m, node, nm, 1, &bias_len, 1);
  }
  nd = &m->nodes[node];
  nd->p_numel = m->n_params - nd->p_off;
}

int cb_add_input(cb_model *m, int C, int H, int W) {
  cb_node *nd = new_node(m, CB_NODE_INPUT, "input");
  nd->C = C;
  nd->H = H;
  nd->W = W;
  return m->n_nodes - 1;
}

static void link1(cb_model *m, cb_node *nd, int in) {
  nd->in[0] = in;
  nd->n_in = 1;
  nd->needs_dx = m->nodes[in].kind != CB_NODE_INPUT || m->input_grad;
}

int cb_add_conv(cb_model *m, const char *name, int in, int cout, int k, int bias) {
  int cin = m->nodes[in].C, H = m->nodes[in].H, W = m->nodes[in].W;
  cb_node *nd = new_node(m, CB_NODE_CONV, name);
  link1(m, nd, in);
  nd->C = cout;
  nd->H = H;
  nd->W = W;
  nd->k = k;
  int idx = m->n_nodes - 1;
  int shape[4] = {cout, cin, k, k};
  add_params(m, idx, shape, 4, bias ? cout : 0);
  return idx;
}

int cb_add_convt(cb_model *m, const char *name, int in, int cout) {
  int cin = m->nodes[in].C, H = m->nodes[in].H, W = m->nodes[in].W;
  cb_node *nd = new_node(m, CB_NODE_CONVT, name);
  link1(m, nd, in);
  nd->C = cout;
  nd->H = 2 * H;
  nd->W = 2 * W;
  nd->k = 2;
  int idx = m->n_nodes - 1;
  int shape[4] = {cin, cout, 2, 2}; /* PyTorch ConvTranspose2d layout */
  add_params(m, idx, shape, 4, cout);
  return idx;
}

int cb_add_gn(cb_model *m, const char *name, int in, int groups) {
  int C = m->nodes[in].C;
  cb_node *nd = new_node(m, CB_NODE_GN, name);
  link1(m, nd, in);
  nd->C = C;
  nd->H = m->nodes[in].H;
  nd->W = m->nodes[in].W;
  /* gcd(request, C): the request itself whenever it divides C (every
   * power-of-two width of the study), and always a divisor of C. */
  nd->groups = gcd(groups, C);
  int idx = m->n_nodes - 1;
  add_params(m, idx, &C, 1, C);
  return idx;
}

static int add_simple(cb_model *m, cb_node_kind kind, const char *name, int in, int C, int H,
                      int W) {
  cb_node *nd = new_node(m, kind, name);
  link1(m, nd, in);
  nd->C = C;
  nd->H = H;
  nd->W = W;
  return m->n_nodes - 1;
}

int cb_add_relu(cb_model *m, int in) {
  const cb_node *s = &m->nodes[in];
  return add_simple(m, CB_NODE_RELU, "relu", in, s->C, s->H, s->W);
}

int cb_add_maxpool(cb_model *m, int in) {
  const cb_node *s = &m->nodes[in];
  return add_simple(m, CB_NODE_MAXPOOL, "maxpool", in, s->C, s->H / 2, s->W / 2);
}

int cb_add_upsample(cb_model *m, int in) {
  const cb_node *s = &m->nodes[in];
  return add_simple(m, CB_NODE_UPSAMPLE, "upsample", in, s->C, 2 * s->H, 2 * s->W);
}

int cb_add_concat(cb_model *m, const int *ins, int n) {
  cb_node *nd = new_node(m, CB_NODE_CONCAT, "concat");
  int C = 0;
  for (int i = 0; i < n && i < CB_MAX_INPUTS; i++) {
    nd->in[i] = ins[i];
    C += m->nodes[ins[i]].C;
  }
  nd->n_in = n;
  nd->C = C;
  nd->H = m->nodes[ins[0]].H;
  nd->W = m->nodes[ins[0]].W;
  nd->needs_dx = 1;
  return m->n_nodes - 1;
}

int64_t cb_model_tensor_numel(const cb_model *m, int t) {
  return m->tensors[t].numel;
}

int cb_node_is_param(const cb_node *nd) {
  return nd->kind == CB_NODE_CONV || nd->kind == CB_NODE_CONVT || nd->kind == CB_NODE_GN;
}

int cb_node_has_ghost(const cb_node *nd) {
  return nd->kind == CB_NODE_CONV || nd->kind == CB_NODE_CONVT;
}

void cb_node_gemm_dims(const cb_model *m, const cb_node *nd, int64_t *T, int64_t *p, int64_t *d) {
  const cb_node *in = &m->nodes[nd->in[0]];
  if (nd->kind == CB_NODE_CONV) {
    *T = (int64_t)nd->H * nd->W;
    *p = nd->C;
    *d = (int64_t)in->C * nd->k * nd->k;
  } else if (nd->kind == CB_NODE_CONVT) {
    *T = (int64_t)in->H * in->W;
    *p = (int64_t)nd->C * 4;
    *d = in->C;
  } else {
    *T = (int64_t)nd->H * nd->W;
    *p = 1;
    *d = nd->C;
  }
}

double cb_model_flops_forward(const cb_model *m) {
  double f = 0.0;
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    if (nd->kind == CB_NODE_CONV || nd->kind == CB_NODE_CONVT) {
      int64_t T, p, d;
      cb_node_gemm_dims(m, nd, &T, &p, &d);
      f += 2.0 * (double)T * (double)p * (double)d;
    }
  }
  return f;
}

static const char *kind_name(cb_node_kind k) {
  switch (k) {
  case CB_NODE_INPUT: return "Input";
  case CB_NODE_CONV: return "Conv2d";
  case CB_NODE_CONVT: return "ConvTranspose2d";
  case CB_NODE_GN: return "GroupNorm";
  case CB_NODE_RELU: return "ReLU";
  case CB_NODE_MAXPOOL: return "MaxPool2d";
  case CB_NODE_UPSAMPLE: return "Upsample";
  case CB_NODE_CONCAT: return "Concat";
  }
  return "?";
}

void cb_model_print(const cb_model *m, FILE *f) {
  fprintf(f, "%-4s %-34s %-16s %-18s %12s\n", "#", "name", "layer", "output (CxHxW)", "params");
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    char shape[48], kind[40];
    snprintf(shape, sizeof shape, "%dx%dx%d", nd->C, nd->H, nd->W);
    if (nd->kind == CB_NODE_CONV)
      snprintf(kind, sizeof kind, "Conv2d %dx%d%s", nd->k, nd->k, nd->b_tensor >= 0 ? "+b" : "");
    else if (nd->kind == CB_NODE_GN)
      snprintf(kind, sizeof kind, "GroupNorm(%d)", nd->groups);
    else
      snprintf(kind, sizeof kind, "%s", kind_name(nd->kind));
    const char *name = nd->name;
    if (nd->kind == CB_NODE_RELU || nd->kind == CB_NODE_MAXPOOL || nd->kind == CB_NODE_UPSAMPLE ||
        nd->kind == CB_NODE_CONCAT || nd->kind == CB_NODE_INPUT)
      name = "";
    if (nd->p_numel)
      fprintf(f, "%-4d %-34s %-16s %-18s %12lld\n", i, name, kind, shape, (long long)nd->p_numel);
    else
      fprintf(f, "%-4d %-34s %-16s %-18s %12s\n", i, name, kind, shape, "-");
  }
}

/* Expanding a parsed sweep into runs.
 *
 * Layers of one point, later ones winning: the base experiment file (the
 * arm's own base if it has one), set:, --set, the arm, then the grid values
 * (or an include entry), then the seed. Keys that do not apply to the
 * point's final choices are then cleared (cb_exp_clear_inapplicable): that is
 * how a non-private arm sheds the noise multiplier of the grid and of a
 * private base file, so its points collapse into one run id. Keys an arm or
 * an include entry sets are explicit, though: they are applied again after
 * the clearing, so one that does not apply is reported by cb_exp_resolve
 * with its place in the sweep file. */
#include "core/base/error.h"
#include "core/base/json.h"
#include "sweeps/sweep_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  cb_sw_spec sp;
  cb_sweep *sw;
  cb_experiment *tmpl; /* [n_arms] arm templates, then [n_arms] = no arm */
  cb_experiment *e, *c;
  int *hash; /* run index + 1, open addressing over the id */
  size_t hcap;
  int cap_runs;
  int n_extra; /* columns for keys only include entries set */
  const char *extra_key[CB_SWEEP_MAX_COLS];
  int extra_col[CB_SWEEP_MAX_COLS];
  int ordinal;     /* 1-based point number, for messages */
  int grid_points; /* grid points not excluded */
} expander;

/* ---- helpers ------------------------------------------------------------- */

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* Strips the quotes of a JSON string for tables ("unet" -> unet). */
static void display(const char *json, char *buf, size_t n) {
  size_t l = strlen(json);
  if (l >= 2 && json[0] == '"' && json[l - 1] == '"')
    snprintf(buf, n, "%.*s", (int)(l - 2), json + 1);
  else
    snprintf(buf, n, "%s", json);
}

static const char *short_key(const char *key) {
  const char *dot = strrchr(key, '.');
  return dot ? dot + 1 : key;
}

static int axis_applies(const cb_sw_axis *ax, int v, const cb_experiment *c) {
  if (!ax->is_section) return cb_exp_key_is_set(c, ax->key);
  for (int i = 0; i < ax->leaves[v].n; i++)
    if (cb_exp_key_is_set(c, ax->leaves[v].v[i].key)) return 1;
  return 0;
}

/* The JSON value of a grid choice as it stands in the resolved c. */
static int axis_value(expander *x, const cb_sw_axis *ax, int v, const cb_experiment *c, char *buf,
                      size_t n) {
  if (!ax->is_section) return cb_exp_value_json(c, ax->key, buf, n);
  char *js = cb_sw_node_json(&x->sp.doc, ax->vals[v]);
  if (!js) return -1;
  snprintf(buf, n, "%s", js);
  free(js);
  return 0;
}

/* "arm=flat noise_multiplier=0.5 seed=3" from the choices (before collapse). */
static void point_label(expander *x, int arm, const int *choice, const cb_sw_include *inc,
                        int64_t seed, int has_seed, char *buf, size_t n) {
  cb_sw_spec *sp = &x->sp;
  buf[0] = 0;
  size_t used = 0;
  if (arm >= 0) used += (size_t)snprintf(buf + used, n - used, "arm=%s", sp->arms[arm].name);
  if (inc)
    used += (size_t)snprintf(buf + used, n - used, "%sinclude at line %zu", used ? " " : "",
                             inc->at->start_mark.line + 1);
  for (int a = 0; choice && a < sp->n_axes && used < n; a++) {
    char *js = cb_sw_node_json(&sp->doc, sp->axes[a].vals[choice[a]]);
    char d[256];
    display(js ? js : "?", d, sizeof d);
    free(js);
    used += (size_t)snprintf(buf + used, n - used, "%s%s=%s", used ? " " : "", sp->axes[a].key, d);
  }
  if (has_seed && used < n)
    snprintf(buf + used, n - used, "%sseed=%lld", used ? " " : "", (long long)seed);
}

/* ---- one point ------------------------------------------------------------ */

static int push_run(expander *x, cb_sweep_run **out) {
  cb_sweep *sw = x->sw;
  if (sw->n_runs == x->cap_runs) {
    int cap = x->cap_runs ? 2 * x->cap_runs : 16;
    cb_sweep_run *nr = realloc(sw->runs, (size_t)cap * sizeof *nr);
    if (!nr) return cb_error("out of memory expanding the sweep");
    sw->runs = nr;
    x->cap_runs = cap;
  }
  *out = &sw->runs[sw->n_runs++];
  memset(*out, 0, sizeof **out);
  (*out)->cells = calloc((size_t)(sw->n_cols ? sw->n_cols : 1), sizeof(char *));
  return (*out)->cells ? 0 : cb_error("out of memory");
}

/* Name, point JSON and table cells of a new run (c resolved). */
static int describe(expander *x, cb_sweep_run *r, int arm, const int *choice,
                    const cb_sw_include *inc, int inc_no, const cb_experiment *c, int show_seed) {
  cb_sw_spec *sp = &x->sp;
  cb_sweep *sw = x->sw;
  char name[512] = "", val[1024], d[256];
  size_t nu = 0;
  cb_json j;
  cb_json_init_mem(&j);
  cb_json_obj_begin(&j);
  if (arm >= 0) {
    cb_json_kv_str(&j, "arm", sp->arms[arm].name);
    nu += (size_t)snprintf(name + nu, sizeof name - nu, "%s", sp->arms[arm].name);
  }
  if (inc) cb_json_kv_int(&j, "include", inc_no);
  for (int a = 0; a < sp->n_axes; a++) {
    const cb_sw_axis *ax = &sp->axes[a];
    const char *cell = "-";
    if (choice && axis_applies(ax, choice[a], c)) {
      if (axis_value(x, ax, choice[a], c, val, sizeof val)) return -1;
      cb_json_key(&j, ax->key);
      cb_json_raw(&j, val);
      display(val, d, sizeof d);
      cell = d;
      if (nu < sizeof name)
        nu += (size_t)snprintf(name + nu, sizeof name - nu, "%s%s=%s", nu ? " " : "",
                               short_key(ax->key), d);
    } else if (!choice && !ax->is_section && cb_exp_key_applies(c, ax->key)) {
      if (cb_exp_value_json(c, ax->key, val, sizeof val)) return -1;
      display(val, d, sizeof d);
      cell = d;
    }
    if (!(r->cells[ax->col] = cb_strdup(cell))) return -1;
  }
  for (int i = 0; inc && i < inc->set.n; i++) {
    const char *key = inc->set.v[i].key;
    if (strcmp(key, "seed") == 0 || strcmp(key, "name") == 0 || !cb_exp_key_applies(c, key))
      continue;
    if (cb_exp_has_key(key) == 2) {
      char *js = cb_sw_node_json(&sp->doc, inc->set.v[i].value);
      if (!js) return -1;
      snprintf(val, sizeof val, "%s", js);
      free(js);
    } else if (cb_exp_value_json(c, key, val, sizeof val)) {
      return -1;
    }
    cb_json_key(&j, key);
    cb_json_raw(&j, val);
    display(val, d, sizeof d);
    if (nu < sizeof name)
      nu += (size_t)snprintf(name + nu, sizeof name - nu, "%s%s=%s", nu ? " " : "", short_key(key),
                             d);
  }
  for (int k = 0; k < x->n_extra; k++) {
    const char *cell = "-";
    if (cb_exp_key_applies(c, x->extra_key[k])) {
      if (cb_exp_value_json(c, x->extra_key[k], val, sizeof val)) return -1;
      display(val, d, sizeof d);
      cell = d;
    }
    if (!(r->cells[x->extra_col[k]] = cb_strdup(cell))) return -1;
  }
  if (show_seed) {
    cb_json_kv_int(&j, "seed", c->seed);
    if (nu < sizeof name)
      nu += (size_t)snprintf(name + nu, sizeof name - nu, "%sseed=%lld", nu ? " " : "",
                             (long long)c->seed);
  }
  cb_json_obj_end(&j);
  r->point = j.oom ? NULL : cb_strdup(cb_json_text(&j));
  cb_json_free(&j);
  if (!r->point) return cb_error("out of memory");
  if (sp->arm_col >= 0 && !(r->cells[sp->arm_col] = cb_strdup(arm >= 0 ? sp->arms[arm].name : "-")))
    return -1;
  if (sp->seed_col >= 0) {
    snprintf(d, sizeof d, "%lld", (long long)c->seed);
    if (!(r->cells[sp->seed_col] = cb_strdup(d))) return -1;
  }
  for (int k = 0; k < sw->n_cols; k++)
    if (!r->cells[k] && !(r->cells[k] = cb_strdup("-"))) return -1;
  /* An include entry may name its run; otherwise the point names it. */
  int named = 0;
  for (int i = 0; inc && i < inc->set.n; i++)
    if (strcmp(inc->set.v[i].key, "name") == 0) named = 1;
  if (!named && name[0])
    snprintf(r->name, sizeof r->name, "%s", name);
  else
    snprintf(r->name, sizeof r->name, "%s", c->name);
  return 0;
}

/* Resolves e as one point; adds a run unless its id is already there. */
static int add_point(expander *x, const cb_experiment *e, int arm, const int *choice,
                     const cb_sw_include *inc, int inc_no, int64_t seed, int show_seed) {
  cb_sw_spec *sp = &x->sp;
  cb_experiment *c = x->c;
  *c = *e;
  cb_exp_clear_inapplicable(c);
  int rc = 0;
  if (arm >= 0) rc = cb_sw_apply_pairs(sp, c, &sp->arms[arm].set);
  if (!rc && inc) rc = cb_sw_apply_pairs(sp, c, &inc->set);
  if (!rc) rc = cb_exp_resolve(c);
  char id[CB_RUN_ID_LEN + 1];
  if (!rc) rc = cb_exp_id(c, id);
  if (rc) {
    char label[1024];
    point_label(x, arm, choice, inc, seed, show_seed, label, sizeof label);
    return cb_error_prefix("%s: point %d (%s): ", sp->path, x->ordinal, label);
  }
  for (int a = 0; choice && a < sp->n_axes; a++)
    if (axis_applies(&sp->axes[a], choice[a], c)) sp->axes[a].applied = 1;
  size_t h = (size_t)fnv(id) & (x->hcap - 1);
  while (x->hash[h]) {
    if (strcmp(x->sw->runs[x->hash[h] - 1].id, id) == 0) return 0; /* merged */
    h = (h + 1) & (x->hcap - 1);
  }
  cb_sweep_run *r;
  if (push_run(x, &r)) return -1;
  x->hash[h] = x->sw->n_runs;
  r->idx = x->sw->n_runs - 1;
  snprintf(r->id, sizeof r->id, "%s", id);
  r->epochs = c->train.epochs;
  r->backend = c->backend;
  if (describe(x, r, arm, choice, inc, inc_no, c, show_seed)) return -1;
  snprintf(c->name, sizeof c->name, "%s", r->name);
  r->config = cb_exp_to_json(c, CB_EXP_JSON_FULL);
  return r->config ? 0 : -1;
}

static int excluded(expander *x, const cb_experiment *e, int arm) {
  char buf[1024];
  for (int p = 0; p < x->sp.n_excl; p++) {
    cb_sw_pattern *pat = &x->sp.excl[p];
    int all = 1;
    for (int m = 0; all && m < pat->n; m++) {
      const cb_sw_match *mt = &pat->m[m];
      const char *have = NULL;
      if (strcmp(mt->key, "arm") == 0) {
        if (arm < 0) {
          all = 0;
          break;
        }
        have = x->sp.arms[arm].name;
      } else {
        if (cb_exp_value_json(e, mt->key, buf, sizeof buf)) return -1;
        have = buf;
      }
      int any = 0;
      for (int k = 0; k < mt->n; k++)
        if (strcmp(mt->canon[k], have) == 0) any = 1;
      all = any;
    }
    if (all) {
      pat->hits++;
      return 1;
    }
  }
  return 0;
}

static int apply_seed(expander *x, cb_experiment *e, int s, int64_t *seed) {
  cb_sw_spec *sp = &x->sp;
  if (!sp->n_seeds) {
    *seed = e->seed;
    return 0;
  }
  *seed = sp->seeds_are_offsets ? e->seed + sp->seeds[s] : sp->seeds[s];
  char where[4200], v[32];
  cb_sw_where(sp, sp->seeds_at, where, sizeof where);
  snprintf(v, sizeof v, "%lld", (long long)*seed);
  return cb_exp_set_value(e, "seed", v, where);
}

/* ---- templates, columns, checks -------------------------------------------------- */

static int build_template(expander *x, int arm, cb_experiment *t) {
  cb_sw_spec *sp = &x->sp;
  cb_exp_init(t);
  const char *base = arm >= 0 && sp->arms[arm].base[0] ? sp->arms[arm].base : sp->base;
  if (base[0] && cb_exp_load_file(t, base)) return -1;
  if (cb_sw_apply_pairs(sp, t, &sp->set)) return -1;
  for (int i = 0; i < sp->n_sets; i++)
    if (cb_exp_set(t, sp->sets[i])) return -1;
  return arm >= 0 ? cb_sw_apply_pairs(sp, t, &sp->arms[arm].set) : 0;
}

static int set_columns(expander *x) {
  cb_sw_spec *sp = &x->sp;
  cb_sweep *sw = x->sw;
  if (sp->n_axes + 2 > CB_SWEEP_MAX_COLS)
    return cb_error("%s: grid: %d keys; at most %d are supported", sp->path, sp->n_axes,
                    CB_SWEEP_MAX_COLS - 2);
  if (sp->n_arms) {
    sp->arm_col = sw->n_cols;
    snprintf(sw->cols[sw->n_cols++], sizeof sw->cols[0], "arm");
  }
  for (int a = 0; a < sp->n_axes; a++) {
    const char *s = short_key(sp->axes[a].key);
    int clash = strcmp(s, "arm") == 0 || strcmp(s, "seed") == 0;
    for (int b = 0; b < sp->n_axes; b++)
      if (b != a && strcmp(short_key(sp->axes[b].key), s) == 0) clash = 1;
    sp->axes[a].col = sw->n_cols;
    snprintf(sw->cols[sw->n_cols++], sizeof sw->cols[0], "%s", clash ? sp->axes[a].key : s);
  }
  /* Keys that only include entries set get a column too. */
  for (int i = 0; i < sp->n_incl; i++)
    for (int p = 0; p < sp->incl[i].set.n; p++) {
      const char *key = sp->incl[i].set.v[p].key;
      int skip = cb_exp_has_key(key) != 1 || !strcmp(key, "seed") || !strcmp(key, "name");
      for (int a = 0; !skip && a < sp->n_axes; a++)
        skip = cb_sw_keys_overlap(sp->axes[a].key, key);
      for (int k = 0; !skip && k < x->n_extra; k++)
        skip = strcmp(x->extra_key[k], key) == 0;
      if (skip || sw->n_cols + 1 >= CB_SWEEP_MAX_COLS) continue;
      x->extra_key[x->n_extra] = key;
      x->extra_col[x->n_extra++] = sw->n_cols;
      snprintf(sw->cols[sw->n_cols++], sizeof sw->cols[0], "%s", short_key(key));
    }
  if (sp->n_seeds) {
    sp->seed_col = sw->n_cols;
    snprintf(sw->cols[sw->n_cols++], sizeof sw->cols[0], "seed");
  }
  return 0;
}

/* A grid key that applies to no point at all is a mistake (a gamma swept
 * without an automatic arm); show why with the first grid point. */
static int check_axes_applied(expander *x) {
  cb_sw_spec *sp = &x->sp;
  for (int a = 0; a < sp->n_axes; a++) {
    cb_sw_axis *ax = &sp->axes[a];
    if (ax->applied) continue;
    int arm = sp->n_arms ? 0 : -1;
    cb_experiment *c = x->c;
    *c = x->tmpl[arm >= 0 ? 0 : sp->n_arms];
    for (int b = 0; b < sp->n_axes; b++)
      cb_exp_apply_yaml_node(c, sp->axes[b].key, &sp->doc, sp->axes[b].vals[0], sp->path);
    cb_exp_clear_inapplicable(c);
    cb_exp_apply_yaml_node(c, ax->key, &sp->doc, ax->vals[0], sp->path);
    char why[CB_ERRMSG_MAX] = "";
    if (cb_exp_resolve(c)) snprintf(why, sizeof why, "; for example %s", cb_last_error());
    char where[4200];
    cb_sw_where(sp, ax->at, where, sizeof where);
    return cb_error("%s: grid: %s applies to none of the %d points%s", where, ax->key,
                    x->grid_points, why);
  }
  return 0;
}

/* ---- the sweep ----------------------------------------------------------------- */

static int product(const cb_sw_spec *sp, long long *out) {
  long long p = 1;
  for (int a = 0; a < sp->n_axes; a++) {
    p *= sp->axes[a].n;
    if (p > CB_SWEEP_MAX_POINTS) break;
  }
  *out = p;
  return 0;
}

static int expand(expander *x) {
  cb_sw_spec *sp = &x->sp;
  long long grid;
  product(sp, &grid);
  int n_t = sp->n_arms ? sp->n_arms : 1, n_s = sp->n_seeds ? sp->n_seeds : 1;
  long long total = (grid * n_t + sp->n_incl) * n_s;
  if (grid > CB_SWEEP_MAX_POINTS || total > CB_SWEEP_MAX_POINTS)
    return cb_error("%s: the sweep expands to more than %d points; split it into several sweeps",
                    sp->path, CB_SWEEP_MAX_POINTS);
  x->hcap = 16;
  while (x->hcap < 2 * (size_t)total)
    x->hcap *= 2;
  x->hash = calloc(x->hcap, sizeof *x->hash);
  x->tmpl = malloc((size_t)(sp->n_arms + 1) * sizeof *x->tmpl);
  x->e = malloc(sizeof *x->e);
  x->c = malloc(sizeof *x->c);
  int *choice = calloc((size_t)(sp->n_axes + 1), sizeof *choice);
  if (!x->hash || !x->tmpl || !x->e || !x->c || !choice) {
    free(choice);
    return cb_error("out of memory expanding the sweep");
  }
  int rc = 0;
  for (int a = 0; !rc && a <= sp->n_arms; a++)
    rc = build_template(x, a < sp->n_arms ? a : -1, &x->tmpl[a]);
  int show_seed = sp->n_seeds > 0;
  for (int s = 0; !rc && s < n_s; s++) {
    for (int t = 0; !rc && t < n_t; t++) {
      int arm = sp->n_arms ? t : -1;
      for (long long g = 0; !rc && g < grid; g++) {
        long long rest = g;
        for (int a = sp->n_axes - 1; a >= 0; a--) {
          choice[a] = (int)(rest % sp->axes[a].n);
          rest /= sp->axes[a].n;
        }
        x->ordinal++;
        cb_experiment *e = x->e;
        *e = x->tmpl[arm >= 0 ? arm : sp->n_arms];
        for (int a = 0; !rc && a < sp->n_axes; a++) {
          if (sp->axes[a].is_section)
            rc = cb_sw_apply_pairs(sp, e, &sp->axes[a].leaves[choice[a]]);
          else
            rc = cb_exp_apply_yaml_node(e, sp->axes[a].key, &sp->doc, sp->axes[a].vals[choice[a]],
                                        sp->path);
        }
        int64_t seed;
        if (!rc) rc = apply_seed(x, e, s, &seed);
        int ex = rc ? 0 : excluded(x, e, arm);
        if (ex < 0) rc = -1;
        if (rc || ex) {
          x->sw->n_excluded += ex > 0;
          continue;
        }
        x->grid_points++;
        x->sw->n_points++;
        rc = add_point(x, e, arm, sp->n_axes ? choice : NULL, NULL, 0, seed, show_seed);
      }
    }
    for (int i = 0; !rc && i < sp->n_incl; i++) {
      cb_sw_include *inc = &sp->incl[i];
      if (inc->sets_seed && s > 0) continue;
      x->ordinal++;
      cb_experiment *e = x->e;
      *e = x->tmpl[inc->arm >= 0 ? inc->arm : sp->n_arms];
      rc = cb_sw_apply_pairs(sp, e, &inc->set);
      int64_t seed = e->seed;
      if (!rc && !inc->sets_seed) rc = apply_seed(x, e, s, &seed);
      if (rc) break;
      x->sw->n_points++;
      rc = add_point(x, e, inc->arm, NULL, inc, i + 1, seed, show_seed || inc->sets_seed);
    }
  }
  free(choice);
  if (rc) return -1;
  if (x->grid_points > 0 && check_axes_applied(x)) return -1;
  if (x->sw->n_runs == 0)
    return cb_error("%s: the sweep has no points (every grid point is excluded)", sp->path);
  return 0;
}

static int add_note(cb_sweep *sw, const char *text) {
  char **nn = realloc(sw->notes, (size_t)(sw->n_notes + 1) * sizeof *nn);
  if (!nn) return cb_error("out of memory");
  sw->notes = nn;
  if (!(sw->notes[sw->n_notes] = cb_strdup(text))) return -1;
  sw->n_notes++;
  return 0;
}

/* The frozen text: the file, then the --set arguments as comments. */
static int make_spec(expander *x) {
  cb_sw_spec *sp = &x->sp;
  size_t n = strlen(sp->text) + 64;
  for (int i = 0; i < sp->n_sets; i++)
    n += strlen(sp->sets[i]) + 16;
  char *s = malloc(n);
  if (!s) return cb_error("out of memory");
  size_t used = (size_t)snprintf(s, n, "%s", sp->text);
  if (sp->n_sets && used && s[used - 1] != '\n') used += (size_t)snprintf(s + used, n - used, "\n");
  for (int i = 0; i < sp->n_sets; i++)
    used += (size_t)snprintf(s + used, n - used, "# --set %s\n", sp->sets[i]);
  x->sw->spec = s;
  return 0;
}

int cb_sweep_load(cb_sweep *sw, const char *path, int n_sets, const char *const *sets) {
  memset(sw, 0, sizeof *sw);
  expander x;
  memset(&x, 0, sizeof x);
  x.sw = sw;
  snprintf(sw->file, sizeof sw->file, "%s", path);
  int rc = cb_sw_parse(&x.sp, path, n_sets, sets);
  if (!rc) {
    snprintf(sw->name, sizeof sw->name, "%s", x.sp.name);
    rc = set_columns(&x);
  }
  if (!rc) rc = expand(&x);
  if (!rc) rc = make_spec(&x);
  for (int p = 0; !rc && p < x.sp.n_excl; p++) {
    if (x.sp.excl[p].hits) continue;
    char where[4200], note[4400];
    cb_sw_where(&x.sp, x.sp.excl[p].at, where, sizeof where);
    snprintf(note, sizeof note, "%s: this exclude pattern matches no point", where);
    rc = add_note(sw, note);
  }
  free(x.hash);
  free(x.tmpl);
  free(x.e);
  free(x.c);
  cb_sw_spec_free(&x.sp);
  if (rc) cb_sweep_free(sw);
  return rc;
}

void cb_sweep_free(cb_sweep *sw) {
  for (int i = 0; i < sw->n_runs; i++) {
    free(sw->runs[i].config);
    free(sw->runs[i].point);
    for (int k = 0; sw->runs[i].cells && k < sw->n_cols; k++)
      free(sw->runs[i].cells[k]);
    free(sw->runs[i].cells);
  }
  free(sw->runs);
  for (int i = 0; i < sw->n_notes; i++)
    free(sw->notes[i]);
  free(sw->notes);
  free(sw->spec);
  memset(sw, 0, sizeof *sw);
}

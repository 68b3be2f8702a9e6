/* Reading a sweep file into a cb_sw_spec: the top-level keys, flattened
 * dotted keys, and every check that needs no expansion (unknown keys, grid
 * values that are not lists or have the wrong type, empty lists, keys set by
 * two layers). Errors are `file:line:col: what (fix)`. */
#include "core/base/error.h"
#include "core/base/json.h"
#include "sweeps/sweep_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const TOP_KEYS =
    "name, description, base, set, arms, grid, include, exclude, seeds";

void cb_sw_where(const cb_sw_spec *sp, const yaml_node_t *n, char *buf, size_t len) {
  if (!n) {
    snprintf(buf, len, "%s", sp->path);
    return;
  }
  snprintf(buf, len, "%s:%zu:%zu", sp->path, n->start_mark.line + 1, n->start_mark.column + 1);
}

static int at_error(const cb_sw_spec *sp, const yaml_node_t *n, const char *fmt, ...)
    CB_PRINTF(3, 4);
static int at_error(const cb_sw_spec *sp, const yaml_node_t *n, const char *fmt, ...) {
  char where[4200], msg[1600];
  cb_sw_where(sp, n, where, sizeof where);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return cb_error("%s: %s", where, msg);
}

static const char *kind(const yaml_node_t *n) {
  return n->type == YAML_SEQUENCE_NODE  ? "a list"
         : n->type == YAML_MAPPING_NODE ? "a mapping"
                                        : "a value";
}

static const char *scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_null(const yaml_node_t *n) {
  const char *s = scalar(n);
  return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
         (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"));
}

static yaml_node_t *node(const cb_sw_spec *sp, yaml_node_item_t i) {
  return yaml_document_get_node((yaml_document_t *)&sp->doc, i);
}

int cb_sw_keys_overlap(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t m = la < lb ? la : lb;
  if (strncmp(a, b, m) != 0) return 0;
  if (la == lb) return 1;
  return (la < lb ? b[m] : a[m]) == '.';
}

/* ---- pairs -------------------------------------------------------------- */

static int pairs_add(cb_sw_pairs *p, const char *key, yaml_node_t *key_node, yaml_node_t *value) {
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 8;
    cb_sw_pair *nv = realloc(p->v, (size_t)cap * sizeof *nv);
    if (!nv) return cb_error("out of memory reading a sweep file");
    p->v = nv;
    p->cap = cap;
  }
  p->v[p->n].key = cb_strdup(key);
  if (!p->v[p->n].key) return -1;
  p->v[p->n].key_node = key_node;
  p->v[p->n].value = value;
  p->n++;
  return 0;
}

static void pairs_free(cb_sw_pairs *p) {
  for (int i = 0; i < p->n; i++)
    free(p->v[i].key);
  free(p->v);
  memset(p, 0, sizeof *p);
}

/* An unknown experiment key, reported by the experiment loader (it knows the
 * accepted keys and suggests the closest one). */
static int unknown_key(const cb_sw_spec *sp, const yaml_node_t *at, const char *key) {
  char where[4200];
  cb_sw_where(sp, at, where, sizeof where);
  cb_experiment *scratch = cb_malloc(sizeof *scratch, "experiment");
  if (!scratch) return -1;
  cb_exp_init(scratch);
  if (cb_exp_set_value(scratch, key, "null", where) == 0)
    cb_error("%s: unknown key '%s'", where, key);
  free(scratch);
  return -1;
}

/* Flattens a mapping of experiment keys (nested or dotted) into leaf pairs.
 * `special` lists top-level names the caller handles (e.g. "arm"); they are
 * skipped here. Sections whose value is not a mapping stay one pair (the
 * loader reports them). */
static int flatten(const cb_sw_spec *sp, const char *prefix, yaml_node_t *map, cb_sw_pairs *out,
                   const char *const *special) {
  if (is_null(map)) return 0;
  if (map->type != YAML_MAPPING_NODE)
    return at_error(sp, map,
                    "expected a mapping of experiment keys (e.g. {dp.clipping: flat}), got %s",
                    kind(map));
  for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
       pr++) {
    yaml_node_t *k = node(sp, pr->key), *v = node(sp, pr->value);
    const char *ks = scalar(k);
    if (!ks || !*ks) return at_error(sp, k, "keys must be plain names");
    int skip = 0;
    for (int s = 0; !*prefix && special && special[s]; s++)
      if (strcmp(special[s], ks) == 0) skip = 1;
    if (skip) continue;
    char full[512];
    snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", ks);
    int has = cb_exp_has_key(full);
    if (!has) return unknown_key(sp, k, full);
    if (has == 2 && v->type == YAML_MAPPING_NODE) {
      if (flatten(sp, full, v, out, NULL)) return -1;
    } else if (pairs_add(out, full, k, v)) {
      return -1;
    }
  }
  return 0;
}

/* Two pairs of one layer that set the same key (dp.clipping and dp: {clipping}). */
static int check_twice(const cb_sw_spec *sp, const cb_sw_pairs *p) {
  for (int i = 0; i < p->n; i++)
    for (int j = 0; j < i; j++)
      if (cb_sw_keys_overlap(p->v[i].key, p->v[j].key))
        return at_error(sp, p->v[i].key_node, "%s is set twice (also as %s at line %zu)",
                        p->v[i].key, p->v[j].key, p->v[j].key_node->start_mark.line + 1);
  return 0;
}

int cb_sw_apply_pairs(const cb_sw_spec *sp, cb_experiment *e, const cb_sw_pairs *p) {
  for (int i = 0; i < p->n; i++)
    if (cb_exp_apply_yaml_node(e, p->v[i].key, (void *)&sp->doc, p->v[i].value, sp->path))
      return -1;
  return 0;
}

/* ---- JSON of a node ------------------------------------------------------ */

static void node_to_json(cb_json *j, yaml_document_t *doc, yaml_node_t *n) {
  if (n->type == YAML_SEQUENCE_NODE) {
    cb_json_arr_begin(j);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
      node_to_json(j, doc, yaml_document_get_node(doc, *it));
    cb_json_arr_end(j);
    return;
  }
  if (n->type == YAML_MAPPING_NODE) {
    cb_json_obj_begin(j);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
      yaml_node_t *k = yaml_document_get_node(doc, p->key);
      cb_json_key(j, k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?");
      node_to_json(j, doc, yaml_document_get_node(doc, p->value));
    }
    cb_json_obj_end(j);
    return;
  }
  const char *s = (const char *)n->data.scalar.value;
  if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
    char *end;
    double v = strtod(s, &end);
    if (*s && !*end && !strpbrk(s, "xXpP") && v == v && v - v == 0) {
      cb_json_num(j, v);
      return;
    }
    if (!strcmp(s, "true") || !strcmp(s, "false")) {
      cb_json_bool(j, s[0] == 't');
      return;
    }
    if (is_null(n)) {
      cb_json_null(j);
      return;
    }
  }
  cb_json_str(j, s);
}

char *cb_sw_node_json(yaml_document_t *doc, yaml_node_t *n) {
  cb_json j;
  cb_json_init_mem(&j);
  node_to_json(&j, doc, n);
  char *out = j.oom ? NULL : cb_strdup(cb_json_text(&j));
  cb_json_free(&j);
  if (!out) cb_error("out of memory");
  return out;
}

/* ---- sections of the sweep file ----------------------------------------- */

static int parse_name(cb_sw_spec *sp, yaml_node_t *v) {
  const char *s = scalar(v);
  if (!s || is_null(v) || !*s)
    return at_error(sp, v, "name: expected the sweep's name, got %s", kind(v));
  if (strlen(s) >= sizeof sp->name)
    return at_error(sp, v, "name: longer than %zu characters", sizeof sp->name - 1);
  for (const char *c = s; *c; c++)
    if ((unsigned char)*c < 32)
      return at_error(sp, v, "name: control characters are not allowed in a sweep name");
  snprintf(sp->name, sizeof sp->name, "%s", s);
  return 0;
}

/* A file path relative to the sweep file's folder. */
static int parse_path(cb_sw_spec *sp, yaml_node_t *v, const char *what, char *out, size_t n) {
  const char *s = scalar(v);
  if (!s || is_null(v) || !*s)
    return at_error(sp, v, "%s: expected the path of an experiment file, got %s", what, kind(v));
  if (s[0] == '/' || !sp->dir[0])
    snprintf(out, n, "%s", s);
  else
    snprintf(out, n, "%s/%s", sp->dir, s);
  /* A folder opens but cannot be read. */
  struct stat st;
  FILE *f = NULL;
  if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
    return at_error(sp, v, "%s: %s is a folder, not an experiment file", what, out);
  if (!(f = fopen(out, "rb")))
    return at_error(sp, v, "%s: cannot read %s: %s (paths are relative to the sweep file's folder)",
                    what, out, strerror(errno));
  fclose(f);
  return 0;
}

static int parse_arms(cb_sw_spec *sp, yaml_node_t *v) {
  if (v->type != YAML_MAPPING_NODE)
    return at_error(sp, v,
                    "arms: expected a mapping of arm names to partial configurations, e.g. "
                    "{nonprivate: {dp.clipping: none}, flat: {dp.clipping: flat}}, got %s",
                    kind(v));
  int n = (int)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
  if (n == 0) return at_error(sp, v, "arms: empty; remove the key or name at least one arm");
  sp->arms = calloc((size_t)n, sizeof *sp->arms);
  if (!sp->arms) return cb_error("out of memory");
  static const char *const special[] = {"base", NULL};
  for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = node(sp, pr->key), *a = node(sp, pr->value);
    const char *name = scalar(k);
    if (!name || !*name) return at_error(sp, k, "arms: an arm's name must be a plain name");
    if (strlen(name) >= sizeof sp->arms[0].name)
      return at_error(sp, k, "arms: name '%s' is longer than %zu characters", name,
                      sizeof sp->arms[0].name - 1);
    for (const char *c = name; *c; c++)
      if (!(*c == '_' || *c == '-' || *c == '.' || *c == '+' || (*c >= '0' && *c <= '9') ||
            (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
        return at_error(sp, k, "arms: name '%s': use letters, digits and _-.+ only", name);
    for (int i = 0; i < sp->n_arms; i++)
      if (strcmp(sp->arms[i].name, name) == 0)
        return at_error(sp, k, "arms: '%s' is named twice (first at line %zu)", name,
                        sp->arms[i].at->start_mark.line + 1);
    cb_sw_arm *arm = &sp->arms[sp->n_arms++];
    snprintf(arm->name, sizeof arm->name, "%s", name);
    arm->at = k;
    if (!is_null(a) && a->type != YAML_MAPPING_NODE)
      return at_error(
          sp, a,
          "arms: %s: expected a mapping of experiment keys (or {} for the base as it is), got %s",
          name, kind(a));
    if (a->type == YAML_MAPPING_NODE)
      for (yaml_node_pair_t *q = a->data.mapping.pairs.start; q < a->data.mapping.pairs.top; q++) {
        const char *ks = scalar(node(sp, q->key));
        if (ks && strcmp(ks, "base") == 0 &&
            parse_path(sp, node(sp, q->value), "arms: base", arm->base, sizeof arm->base))
          return -1;
      }
    if (flatten(sp, "", a, &arm->set, special) || check_twice(sp, &arm->set)) return -1;
  }
  return 0;
}

/* A canonical text of a value for duplicate detection: the field's value
 * after applying the node to a default experiment. */
static int canon_value(const cb_sw_spec *sp, const char *key, yaml_node_t *v, char *buf, size_t n) {
  cb_experiment *e = cb_malloc(sizeof *e, "experiment");
  if (!e) return -1;
  cb_exp_init(e);
  int rc = cb_exp_apply_yaml_node(e, key, (void *)&sp->doc, v, sp->path);
  if (!rc) rc = cb_exp_value_json(e, key, buf, n);
  free(e);
  return rc;
}

static int add_axis(cb_sw_spec *sp, const char *key, yaml_node_t *k, yaml_node_t *v, int cap) {
  int has = cb_exp_has_key(key);
  if (v->type != YAML_SEQUENCE_NODE)
    return at_error(sp, v,
                    "grid: %s: expected a list of values (e.g. [0.5, 1.0]), got %s; one value for "
                    "every point goes under set:",
                    key, kind(v));
  int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n == 0)
    return at_error(sp, v, "grid: %s: an empty list gives no points; list at least one value", key);
  if (has == 1 && !cb_exp_key_in_identity(key))
    return at_error(sp, k,
                    "grid: %s does not change what a run computes (it is not part of the run id: "
                    "speed or output only), so every value would be the same run; set it under "
                    "set: or with --set",
                    key);
  if (sp->n_axes == cap) return at_error(sp, k, "grid: more than %d keys", cap);
  cb_sw_axis *ax = &sp->axes[sp->n_axes];
  memset(ax, 0, sizeof *ax);
  ax->key = cb_strdup(key);
  ax->vals = calloc((size_t)n, sizeof *ax->vals);
  if (has == 2) ax->leaves = calloc((size_t)n, sizeof *ax->leaves);
  if (!ax->key || !ax->vals || (has == 2 && !ax->leaves)) return cb_error("out of memory");
  sp->n_axes++;
  ax->n_alloc = n;
  ax->at = k;
  ax->is_section = has == 2;
  char(*seen)[256] = calloc((size_t)n, sizeof *seen);
  if (!seen) return cb_error("out of memory");
  int rc = 0;
  for (yaml_node_item_t *it = v->data.sequence.items.start; !rc && it < v->data.sequence.items.top;
       it++) {
    yaml_node_t *val = node(sp, *it);
    if (has == 2) {
      /* A section value: a mapping of that section's keys, checked now. */
      cb_sw_pairs *tmp = &ax->leaves[ax->n];
      rc = flatten(sp, key, val, tmp, NULL);
      if (!rc) rc = check_twice(sp, tmp);
      int volatile_only = 1;
      for (int i = 0; i < tmp->n; i++)
        if (cb_exp_key_in_identity(tmp->v[i].key)) volatile_only = 0;
      if (!rc && volatile_only)
        rc = at_error(sp, val, "grid: %s: this value changes nothing that is part of the run id",
                      key);
      char *js = rc ? NULL : cb_sw_node_json(&sp->doc, val);
      if (!rc && !js) rc = -1;
      if (js) {
        snprintf(seen[ax->n], sizeof seen[0], "%s", js);
        free(js);
      }
    } else {
      rc = canon_value(sp, key, val, seen[ax->n], sizeof seen[0]);
    }
    for (int i = 0; !rc && i < ax->n; i++)
      if (strcmp(seen[i], seen[ax->n]) == 0)
        rc = at_error(sp, val, "grid: %s: value %s is listed twice", key, seen[i]);
    if (!rc) ax->vals[ax->n++] = val;
  }
  free(seen);
  return rc;
}

/* Grid keys may be nested like experiment keys: grid: {dp: {clip_bound: [..]}}. */
static int parse_grid(cb_sw_spec *sp, const char *prefix, yaml_node_t *v, int cap) {
  if (v->type != YAML_MAPPING_NODE)
    return at_error(sp, v,
                    "grid: expected a mapping of dotted keys to lists, e.g. {dp.noise_multiplier: "
                    "[0.5, 1.0]}, got %s",
                    kind(v));
  for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = node(sp, pr->key), *val = node(sp, pr->value);
    const char *ks = scalar(k);
    if (!ks || !*ks) return at_error(sp, k, "grid: keys must be plain names");
    char full[512];
    snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", ks);
    int has = cb_exp_has_key(full);
    if (!has) return unknown_key(sp, k, full);
    if (has == 2 && val->type == YAML_MAPPING_NODE) {
      if (parse_grid(sp, full, val, cap)) return -1;
    } else if (add_axis(sp, full, k, val, cap)) {
      return -1;
    }
  }
  return 0;
}

static int arm_index(const cb_sw_spec *sp, yaml_node_t *v, const char *what) {
  const char *s = scalar(v);
  for (int i = 0; s && i < sp->n_arms; i++)
    if (strcmp(sp->arms[i].name, s) == 0) return i;
  char names[1024] = "";
  for (int i = 0; i < sp->n_arms; i++) {
    size_t used = strlen(names);
    snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", sp->arms[i].name);
  }
  if (!sp->n_arms) return at_error(sp, v, "%s: arm: the sweep has no arms: section", what);
  return at_error(sp, v, "%s: arm: unknown arm %s%s%s (arms: %s)", what, s ? "'" : "",
                  s ? s : kind(v), s ? "'" : "", names);
}

static int parse_include(cb_sw_spec *sp, yaml_node_t *v) {
  if (v->type != YAML_SEQUENCE_NODE)
    return at_error(sp, v,
                    "include: expected a list of configurations (mappings of experiment keys, "
                    "optionally arm: NAME), got %s",
                    kind(v));
  int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
  sp->incl = calloc((size_t)(n ? n : 1), sizeof *sp->incl);
  if (!sp->incl) return cb_error("out of memory");
  static const char *const special[] = {"arm", NULL};
  for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
    yaml_node_t *m = node(sp, *it);
    cb_sw_include *in = &sp->incl[sp->n_incl++];
    in->arm = -1;
    in->at = m;
    if (m->type != YAML_MAPPING_NODE)
      return at_error(sp, m, "include: each entry is a mapping of experiment keys, got %s",
                      kind(m));
    for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
      const char *ks = scalar(node(sp, q->key));
      if (ks && strcmp(ks, "arm") == 0 &&
          (in->arm = arm_index(sp, node(sp, q->value), "include")) < 0)
        return -1;
    }
    if (flatten(sp, "", m, &in->set, special) || check_twice(sp, &in->set)) return -1;
    for (int i = 0; i < in->set.n; i++)
      if (strcmp(in->set.v[i].key, "seed") == 0) in->sets_seed = 1;
  }
  return 0;
}

/* One exclude key: a value, or a list of alternatives. */
static int parse_match(cb_sw_spec *sp, cb_sw_match *m, const char *key, yaml_node_t *k,
                       yaml_node_t *v) {
  m->key = cb_strdup(key);
  m->at = k;
  int n = v->type == YAML_SEQUENCE_NODE
              ? (int)(v->data.sequence.items.top - v->data.sequence.items.start)
              : 1;
  m->canon = calloc((size_t)(n ? n : 1), sizeof *m->canon);
  if (!m->key || !m->canon) return cb_error("out of memory");
  char buf[1024];
  if (strcmp(key, "arm") == 0) {
    if (n == 0) return at_error(sp, v, "exclude: arm: an empty list matches nothing");
    yaml_node_t *one[1] = {v};
    for (int i = 0; i < n; i++) {
      yaml_node_t *item =
          v->type == YAML_SEQUENCE_NODE ? node(sp, v->data.sequence.items.start[i]) : one[0];
      int a = arm_index(sp, item, "exclude");
      if (a < 0 || !(m->canon[m->n++] = cb_strdup(sp->arms[a].name))) return -1;
    }
    return 0;
  }
  if (cb_exp_has_key(key) == 2)
    return at_error(sp, k, "exclude: %s is a section; name the keys inside it (e.g. %s.KEY: value)",
                    key, key);
  /* A list value is one value if the key takes lists (data.size), else alternatives. */
  if (canon_value(sp, key, v, buf, sizeof buf) == 0) {
    m->canon[m->n++] = cb_strdup(buf);
    return m->canon[0] ? 0 : -1;
  }
  if (v->type != YAML_SEQUENCE_NODE) return -1;
  if (n == 0) return at_error(sp, v, "exclude: %s: an empty list matches nothing", key);
  for (int i = 0; i < n; i++) {
    if (canon_value(sp, key, node(sp, v->data.sequence.items.start[i]), buf, sizeof buf)) return -1;
    if (!(m->canon[m->n++] = cb_strdup(buf))) return -1;
  }
  return 0;
}

static int parse_exclude(cb_sw_spec *sp, yaml_node_t *v) {
  if (v->type != YAML_SEQUENCE_NODE)
    return at_error(sp, v,
                    "exclude: expected a list of patterns (mappings of keys to a value or a list "
                    "of values), got %s",
                    kind(v));
  int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
  sp->excl = calloc((size_t)(n ? n : 1), sizeof *sp->excl);
  if (!sp->excl) return cb_error("out of memory");
  static const char *const special[] = {"arm", NULL};
  for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
    yaml_node_t *m = node(sp, *it);
    cb_sw_pattern *p = &sp->excl[sp->n_excl++];
    p->at = m;
    if (m->type != YAML_MAPPING_NODE || m->data.mapping.pairs.top == m->data.mapping.pairs.start)
      return at_error(sp, m,
                      "exclude: each pattern is a non-empty mapping, e.g. {arm: nonprivate, "
                      "model.arch: nested_unet}");
    cb_sw_pairs keys = {0};
    int rc = flatten(sp, "", m, &keys, special);
    int total = keys.n + 1;
    p->m = calloc((size_t)total, sizeof *p->m);
    if (!rc && !p->m) rc = cb_error("out of memory");
    for (yaml_node_pair_t *q = m->data.mapping.pairs.start; !rc && q < m->data.mapping.pairs.top;
         q++) {
      yaml_node_t *k = node(sp, q->key);
      const char *ks = scalar(k);
      if (ks && strcmp(ks, "arm") == 0)
        rc = parse_match(sp, &p->m[p->n++], "arm", k, node(sp, q->value));
    }
    for (int i = 0; !rc && i < keys.n; i++)
      rc = parse_match(sp, &p->m[p->n++], keys.v[i].key, keys.v[i].key_node, keys.v[i].value);
    pairs_free(&keys);
    if (rc) return -1;
  }
  return 0;
}

static int parse_seeds(cb_sw_spec *sp, yaml_node_t *v) {
  sp->seeds_at = v;
  long long x;
  char *end;
  if (v->type == YAML_SCALAR_NODE) {
    const char *s = scalar(v);
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < 1 || x > 10000)
      return at_error(sp, v,
                      "seeds: expected a list of seeds ([1, 2, 3]) or a count of repeats (3 = the "
                      "base seed and the next two), got '%s'",
                      s);
    sp->n_seeds = (int)x;
    sp->seeds = calloc((size_t)x, sizeof *sp->seeds);
    if (!sp->seeds) return cb_error("out of memory");
    sp->seeds_are_offsets = 1;
    for (int i = 0; i < sp->n_seeds; i++)
      sp->seeds[i] = i;
    return 0;
  }
  if (v->type != YAML_SEQUENCE_NODE)
    return at_error(sp, v, "seeds: expected a list of seeds or a count, got %s", kind(v));
  int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n == 0) return at_error(sp, v, "seeds: an empty list gives no runs; list at least one seed");
  sp->seeds = calloc((size_t)n, sizeof *sp->seeds);
  if (!sp->seeds) return cb_error("out of memory");
  for (int i = 0; i < n; i++) {
    yaml_node_t *it = node(sp, v->data.sequence.items.start[i]);
    const char *s = scalar(it);
    errno = 0;
    x = s ? strtoll(s, &end, 10) : -1;
    if (!s || errno || end == s || *end || x < 0)
      return at_error(sp, it, "seeds: expected a non-negative integer, got %s%s%s", s ? "'" : "",
                      s ? s : kind(it), s ? "'" : "");
    for (int j = 0; j < i; j++)
      if (sp->seeds[j] == x) return at_error(sp, it, "seeds: %lld is listed twice", x);
    sp->seeds[sp->n_seeds++] = x;
  }
  return 0;
}

/* ---- conflicts between layers --------------------------------------------- */

static int axis_leaf_overlap(const cb_sw_spec *sp, const char *key, const cb_sw_axis **hit) {
  for (int a = 0; a < sp->n_axes; a++)
    if (cb_sw_keys_overlap(sp->axes[a].key, key)) {
      *hit = &sp->axes[a];
      return 1;
    }
  return 0;
}

static int check_layers(const cb_sw_spec *sp) {
  const cb_sw_axis *ax;
  for (int a = 0; a < sp->n_axes; a++)
    for (int b = 0; b < a; b++)
      if (cb_sw_keys_overlap(sp->axes[a].key, sp->axes[b].key))
        return at_error(sp, sp->axes[a].at, "grid: %s overlaps %s (line %zu); sweep a key once",
                        sp->axes[a].key, sp->axes[b].key, sp->axes[b].at->start_mark.line + 1);
  for (int i = 0; i < sp->set.n; i++)
    if (axis_leaf_overlap(sp, sp->set.v[i].key, &ax))
      return at_error(sp, sp->set.v[i].key_node,
                      "set: %s is also swept by grid: %s (line %zu); remove one", sp->set.v[i].key,
                      ax->key, ax->at->start_mark.line + 1);
  for (int i = 0; i < sp->n_sets; i++) {
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)strcspn(sp->sets[i], "="), sp->sets[i]);
    if (axis_leaf_overlap(sp, key, &ax))
      return cb_error("--set %s: %s is swept by the grid of %s (%s, line %zu); remove it from the "
                      "grid instead",
                      sp->sets[i], key, sp->path, ax->key, ax->at->start_mark.line + 1);
    if (strcmp(key, "seed") == 0 && sp->n_seeds)
      return cb_error("--set %s: the sweep lists seeds: (line %zu)", sp->sets[i],
                      sp->seeds_at->start_mark.line + 1);
    /* Arms and include entries come after --set and would silently win. */
    for (int a = 0; a < sp->n_arms + sp->n_incl; a++) {
      const cb_sw_pairs *layer = a < sp->n_arms ? &sp->arms[a].set : &sp->incl[a - sp->n_arms].set;
      for (int k = 0; k < layer->n; k++)
        if (cb_sw_keys_overlap(layer->v[k].key, key))
          return cb_error(
              "--set %s: %s sets %s for %s%s (line %zu), which --set cannot override; "
              "edit the file",
              sp->sets[i], sp->path, layer->v[k].key, a < sp->n_arms ? "arm " : "an include entry",
              a < sp->n_arms ? sp->arms[a].name : "", layer->v[k].key_node->start_mark.line + 1);
    }
  }
  for (int a = 0; a < sp->n_arms; a++)
    for (int i = 0; i < sp->arms[a].set.n; i++)
      if (axis_leaf_overlap(sp, sp->arms[a].set.v[i].key, &ax))
        return at_error(sp, sp->arms[a].set.v[i].key_node,
                        "arms: %s: %s is also swept by grid: %s (line %zu); an arm and the grid "
                        "cannot both set a key (use include: for one-off combinations)",
                        sp->arms[a].name, sp->arms[a].set.v[i].key, ax->key,
                        ax->at->start_mark.line + 1);
  if (sp->n_seeds) {
    for (int a = 0; a < sp->n_axes; a++)
      if (strcmp(sp->axes[a].key, "seed") == 0)
        return at_error(sp, sp->axes[a].at,
                        "grid: seed and seeds: (line %zu) both set seeds; keep one",
                        sp->seeds_at->start_mark.line + 1);
    for (int i = 0; i < sp->set.n; i++)
      if (strcmp(sp->set.v[i].key, "seed") == 0)
        return at_error(sp, sp->set.v[i].key_node,
                        "set: seed and seeds: (line %zu) both set seeds; keep one",
                        sp->seeds_at->start_mark.line + 1);
    for (int a = 0; a < sp->n_arms; a++)
      for (int i = 0; i < sp->arms[a].set.n; i++)
        if (strcmp(sp->arms[a].set.v[i].key, "seed") == 0)
          return at_error(sp, sp->arms[a].set.v[i].key_node,
                          "arms: seed and seeds: (line %zu) both set seeds; keep one",
                          sp->seeds_at->start_mark.line + 1);
  }
  return 0;
}

/* ---- the file ---------------------------------------------------------------- */

static int load_doc(cb_sw_spec *sp) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return cb_error("out of memory creating a YAML parser");
  yaml_parser_set_input_string(&p, (const unsigned char *)sp->text, strlen(sp->text));
  if (!yaml_parser_load(&p, &sp->doc)) {
    int rc = cb_error("%s:%zu:%zu: YAML syntax error: %s%s%s", sp->path, p.problem_mark.line + 1,
                      p.problem_mark.column + 1, p.problem ? p.problem : "unreadable",
                      p.context ? " " : "", p.context ? p.context : "");
    yaml_parser_delete(&p);
    return rc;
  }
  sp->have_doc = 1;
  yaml_document_t extra;
  if (yaml_parser_load(&p, &extra)) {
    int more = yaml_document_get_root_node(&extra) != NULL;
    size_t line = extra.start_mark.line + 1;
    yaml_document_delete(&extra);
    if (more) {
      yaml_parser_delete(&p);
      return cb_error("%s:%zu:1: a second YAML document; a sweep file holds one", sp->path, line);
    }
  }
  yaml_parser_delete(&p);
  return 0;
}

int cb_sw_parse(cb_sw_spec *sp, const char *path, int n_sets, const char *const *sets) {
  memset(sp, 0, sizeof *sp);
  sp->path = path;
  sp->n_sets = n_sets;
  sp->sets = sets;
  sp->arm_col = sp->seed_col = -1;
  const char *slash = strrchr(path, '/');
  if (slash) snprintf(sp->dir, sizeof sp->dir, "%.*s", (int)(slash - path), path);
  if (slash == path) snprintf(sp->dir, sizeof sp->dir, "/");
  /* The default name is the file's name without .yaml. */
  const char *b = slash ? slash + 1 : path;
  size_t bl = strlen(b);
  if (bl > 5 && !strcmp(b + bl - 5, ".yaml"))
    bl -= 5;
  else if (bl > 4 && !strcmp(b + bl - 4, ".yml"))
    bl -= 4;
  snprintf(sp->name, sizeof sp->name, "%.*s", (int)bl, b);
  if (!(sp->text = cb_exp_read_text(path, "sweep file")) || load_doc(sp)) return -1;
  yaml_node_t *root = yaml_document_get_root_node(&sp->doc);
  if (!root || is_null(root))
    return cb_error("%s: empty sweep file; it needs at least base: or grid:", path);
  if (root->type != YAML_MAPPING_NODE)
    return at_error(sp, root, "a sweep file is a mapping of %s; got %s", TOP_KEYS, kind(root));
  static const char *const order[] = {"name", "description", "base",    "set",   "arms",
                                      "grid", "include",     "exclude", "seeds", NULL};
  yaml_node_t *sec[10] = {0};
  for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
       pr++) {
    yaml_node_t *k = node(sp, pr->key);
    const char *ks = scalar(k);
    int found = -1;
    for (int i = 0; ks && order[i]; i++)
      if (strcmp(order[i], ks) == 0) found = i;
    if (found < 0) {
      const char *hint =
          ks && cb_exp_has_key(ks) ? " (experiment keys go under set:, arms: or grid:)" : "";
      return at_error(sp, k, "unknown key %s%s%s in a sweep file%s (accepted: %s)", ks ? "'" : "",
                      ks ? ks : "", ks ? "'" : "", hint, TOP_KEYS);
    }
    if (sec[found])
      return at_error(sp, k, "duplicate key '%s' (first at line %zu)", ks,
                      sec[found]->start_mark.line + 1);
    sec[found] = node(sp, pr->value);
  }
  if (sec[0] && parse_name(sp, sec[0])) return -1;
  if (sec[2] && !is_null(sec[2]) && parse_path(sp, sec[2], "base", sp->base, sizeof sp->base))
    return -1;
  if (sec[3] && (flatten(sp, "", sec[3], &sp->set, NULL) || check_twice(sp, &sp->set))) return -1;
  if (sec[4] && !is_null(sec[4]) && parse_arms(sp, sec[4])) return -1;
  if (sec[5] && !is_null(sec[5])) {
    int cap = 64;
    sp->axes = calloc((size_t)cap, sizeof *sp->axes);
    if (!sp->axes) return cb_error("out of memory");
    if (parse_grid(sp, "", sec[5], cap)) return -1;
  }
  if (sec[6] && !is_null(sec[6]) && parse_include(sp, sec[6])) return -1;
  if (sec[7] && !is_null(sec[7]) && parse_exclude(sp, sec[7])) return -1;
  if (sec[8] && !is_null(sec[8]) && parse_seeds(sp, sec[8])) return -1;
  return check_layers(sp);
}

void cb_sw_spec_free(cb_sw_spec *sp) {
  pairs_free(&sp->set);
  for (int a = 0; a < sp->n_arms; a++)
    pairs_free(&sp->arms[a].set);
  free(sp->arms);
  for (int a = 0; a < sp->n_axes; a++) {
    free(sp->axes[a].key);
    free(sp->axes[a].vals);
    for (int v = 0; sp->axes[a].leaves && v < sp->axes[a].n_alloc; v++)
      pairs_free(&sp->axes[a].leaves[v]);
    free(sp->axes[a].leaves);
  }
  free(sp->axes);
  for (int i = 0; i < sp->n_incl; i++)
    pairs_free(&sp->incl[i].set);
  free(sp->incl);
  for (int i = 0; i < sp->n_excl; i++) {
    for (int j = 0; j < sp->excl[i].n; j++) {
      free(sp->excl[i].m[j].key);
      for (int k = 0; k < sp->excl[i].m[j].n; k++)
        free(sp->excl[i].m[j].canon[k]);
      free(sp->excl[i].m[j].canon);
    }
    free(sp->excl[i].m);
  }
  free(sp->excl);
  free(sp->seeds);
  if (sp->have_doc) yaml_document_delete(&sp->doc);
  free(sp->text);
  memset(sp, 0, sizeof *sp);
}

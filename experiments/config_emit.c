/* Output of a configuration: canonical JSON (stored with every run, hashed
 * into the run id), the resolved YAML of --print-config, and the schema
 * table. */
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/sha256.h"
#include "experiments/config_schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(char *buf, size_t n, size_t *used, const char *s) {
  size_t l = strlen(s);
  if (*used + l + 1 > n) l = *used + 1 < n ? n - *used - 1 : 0;
  memcpy(buf + *used, s, l);
  *used += l;
  buf[*used] = 0;
}

static void json_string(const char *s, char *buf, size_t n) {
  cb_json j;
  cb_json_init_mem(&j);
  cb_json_str(&j, s);
  snprintf(buf, n, "%s", cb_json_text(&j));
  cb_json_free(&j);
}

int cb_field_format(const cb_experiment *e, const cb_field *f, int yaml, char *buf, size_t n) {
  const void *p = cb_field_ptr(e, f);
  const char *unset = f->flags & CB_F_AUTO ? (yaml ? "auto" : "\"auto\"") : "null";
  char tmp[64];
  size_t used = 0;
  buf[0] = 0;
  switch (f->type) {
  case CB_FT_STR: json_string((const char *)p, buf, n); return 0;
  case CB_FT_INT:
  case CB_FT_BOOL:
  case CB_FT_ENUM: {
    int v = *(const int *)p;
    if (v < 0 && f->flags & CB_F_AUTO)
      snprintf(buf, n, "%s", unset);
    else if (f->type == CB_FT_INT)
      snprintf(buf, n, "%d", v);
    else if (f->type == CB_FT_BOOL)
      snprintf(buf, n, "%s", v ? "true" : "false");
    else
      snprintf(buf, n, yaml ? "%s" : "\"%s\"", f->choices[v]);
    return 0;
  }
  case CB_FT_I64: snprintf(buf, n, "%lld", (long long)*(const int64_t *)p); return 0;
  case CB_FT_NUM: {
    double v = *(const double *)p;
    if (isnan(v))
      snprintf(buf, n, "%s", unset);
    else
      cb_format_double(v, buf, n);
    return 0;
  }
  case CB_FT_INTS:
  case CB_FT_NUMS:
  case CB_FT_ENUMS: {
    int cnt = *cb_field_count(e, f);
    put(buf, n, &used, "[");
    for (int k = 0; k < cnt; k++) {
      if (k) put(buf, n, &used, yaml ? ", " : ",");
      if (f->type == CB_FT_NUMS)
        cb_format_double(((const double *)p)[k], tmp, sizeof tmp);
      else if (f->type == CB_FT_INTS)
        snprintf(tmp, sizeof tmp, "%d", ((const int *)p)[k]);
      else
        snprintf(tmp, sizeof tmp, yaml ? "%s" : "\"%s\"", f->choices[((const int *)p)[k]]);
      put(buf, n, &used, tmp);
    }
    put(buf, n, &used, "]");
    return 0;
  }
  }
  return cb_error("internal: field %s has no type", f->key);
}

int cb_exp_value_json(const cb_experiment *e, const char *key, char *buf, size_t n) {
  const cb_field *f = cb_field_find(key, NULL);
  if (!f) return cb_error("unknown key '%s'", key);
  return cb_field_format(e, f, 0, buf, n);
}

/* Dotted keys compared component by component, so that nested objects come
 * out with sorted keys at every level ("dp.clip_bound" < "dp.clipping"). */
static int cmp_keys(const void *a, const void *b) {
  const char *x = CB_FIELDS[*(const int *)a].key, *y = CB_FIELDS[*(const int *)b].key;
  for (;;) {
    size_t lx = strcspn(x, "."), ly = strcspn(y, ".");
    size_t l = lx < ly ? lx : ly;
    int c = memcmp(x, y, l);
    if (c) return c;
    if (lx != ly) return lx < ly ? -1 : 1;
    if (!x[lx] || !y[ly]) return x[lx] ? 1 : y[ly] ? -1 : 0;
    x += lx + 1;
    y += ly + 1;
  }
}

/* The value, written as YAML, is the schema's default text (the flagged keys
 * are enums and strings, whose defaults are written the same way). */
static int at_default(const cb_experiment *e, const cb_field *f) {
  char a[CB_EXP_STR_MAX + 64];
  return !cb_field_format(e, f, 1, a, sizeof a) && strcmp(a, f->def) == 0;
}

static int included(const cb_experiment *e, const cb_field *f, int which) {
  if (f->applies && !f->applies(e)) return 0;
  if (which == CB_EXP_JSON_IDENTITY && f->flags & CB_F_VOLATILE) return 0;
  if (which == CB_EXP_JSON_IDENTITY && f->flags & CB_F_ID_UNLESS_DEFAULT && at_default(e, f))
    return 0;
  return 1;
}

char *cb_exp_to_json(const cb_experiment *e, int which) {
  if (!e->resolved) {
    cb_error("internal: the configuration must be resolved before it is written");
    return NULL;
  }
  int idx[CB_EXP_MAX_FIELDS], m = 0;
  for (int i = 0; i < CB_N_FIELDS; i++)
    if (included(e, &CB_FIELDS[i], which)) idx[m++] = i;
  qsort(idx, (size_t)m, sizeof idx[0], cmp_keys);
  cb_json j;
  cb_json_init_mem(&j);
  cb_json_obj_begin(&j);
  /* Open sections as the sorted keys enter them and close them as they
   * leave. `open` holds the currently open section path. */
  char open[256] = "";
  int depth = 0;
  for (int t = 0; t < m; t++) {
    const char *key = CB_FIELDS[idx[t]].key;
    const char *leaf = strrchr(key, '.');
    size_t sec_len = leaf ? (size_t)(leaf - key) : 0;
    /* Close sections that are not prefixes of this key's section. */
    while (depth > 0) {
      size_t ol = strlen(open);
      if (ol <= sec_len && strncmp(key, open, ol) == 0 && (key[ol] == '.')) break;
      cb_json_obj_end(&j);
      depth--;
      char *d = strrchr(open, '.');
      if (d)
        *d = 0;
      else
        open[0] = 0;
    }
    /* Open the remaining components. */
    size_t ol = strlen(open);
    const char *rest = key + (ol ? ol + 1 : 0);
    while ((size_t)(rest - key) < sec_len) {
      size_t cl = strcspn(rest, ".");
      char comp[128];
      snprintf(comp, sizeof comp, "%.*s", (int)cl, rest);
      cb_json_key(&j, comp);
      cb_json_obj_begin(&j);
      depth++;
      snprintf(open, sizeof open, "%.*s", (int)(rest - key + cl), key);
      rest += cl + 1;
    }
    char val[2048];
    if (cb_field_format(e, &CB_FIELDS[idx[t]], 0, val, sizeof val)) {
      cb_json_free(&j);
      return NULL;
    }
    cb_json_key(&j, leaf ? leaf + 1 : key);
    cb_json_raw(&j, val);
  }
  while (depth-- > 0)
    cb_json_obj_end(&j);
  cb_json_obj_end(&j);
  if (j.oom) {
    cb_json_free(&j);
    cb_error("out of memory writing the configuration as JSON");
    return NULL;
  }
  char *out = cb_strdup(cb_json_text(&j));
  cb_json_free(&j);
  return out;
}

int cb_exp_id(const cb_experiment *e, char id[CB_RUN_ID_LEN + 1]) {
  char *json = cb_exp_to_json(e, CB_EXP_JSON_IDENTITY);
  if (!json) return -1;
  char hex[65];
  cb_sha256_hex(json, strlen(json), hex);
  free(json);
  memcpy(id, hex, CB_RUN_ID_LEN);
  id[CB_RUN_ID_LEN] = 0;
  return 0;
}

/* Whether any field inside section `sec` (length sl) applies. */
static int section_live(const cb_experiment *e, const char *sec, size_t sl) {
  for (int i = 0; i < CB_N_FIELDS; i++) {
    const cb_field *f = &CB_FIELDS[i];
    if (strncmp(f->key, sec, sl) == 0 && f->key[sl] == '.' && (!f->applies || f->applies(e)))
      return 1;
  }
  return 0;
}

int cb_exp_print_yaml(const cb_experiment *e, FILE *out) {
  char id[CB_RUN_ID_LEN + 1];
  if (cb_exp_id(e, id)) return -1;
  fprintf(out, "# clipbench experiment, fully resolved; run id %s\n", id);
  fprintf(out, "# Commented-out keys do not apply to this configuration. Keys marked\n"
               "# [not in id] change speed or output location only.\n");
  const char *prev = "";
  for (int i = 0; i < CB_N_FIELDS; i++) {
    const cb_field *f = &CB_FIELDS[i];
    const char *key = f->key;
    /* Common section prefix with the previous key (whole components). */
    size_t common = 0;
    for (size_t k = 0; key[k] && key[k] == prev[k]; k++)
      if (key[k] == '.') common = k + 1;
    /* Print headers of the sections this key enters. */
    int level = 0;
    for (size_t k = 0; k < common; k++)
      if (key[k] == '.') level++;
    for (const char *p = key + common; strchr(p, '.'); p = strchr(p, '.') + 1) {
      size_t cl = strcspn(p, ".");
      int live = section_live(e, key, (size_t)(p - key + cl));
      fprintf(out, "%*s%s%.*s:\n", 2 * level, "", live ? "" : "# ", (int)cl, p);
      level++;
    }
    const char *leaf = strrchr(key, '.');
    leaf = leaf ? leaf + 1 : key;
    char val[2048], line[2300];
    if (cb_field_format(e, f, 1, val, sizeof val)) return -1;
    int live = !f->applies || f->applies(e);
    snprintf(line, sizeof line, "%*s%s%s: %s", 2 * level, "", live ? "" : "# ", leaf, val);
    if (live)
      fprintf(out, "%-40s # %s%s\n", line, f->doc, f->flags & CB_F_VOLATILE ? " [not in id]" : "");
    else
      fprintf(out, "%-40s #   (applies when %s)\n", line, f->when);
    prev = key;
  }
  return 0;
}

void cb_exp_print_schema(FILE *out) {
  cb_experiment d;
  cb_exp_init(&d);
  fprintf(out, "| key | default | accepted | applies when | meaning |\n");
  fprintf(out, "| --- | --- | --- | --- | --- |\n");
  for (int i = 0; i < CB_N_FIELDS; i++) {
    const cb_field *f = &CB_FIELDS[i];
    char acc[512], def[512];
    cb_field_accepted(f, acc, sizeof acc);
    cb_field_format(&d, f, 1, def, sizeof def);
    for (char *p = acc; *p; p++)
      if (*p == '|') *p = '/';
    fprintf(out, "| `%s` | `%s` | %s | %s | %s%s |\n", f->key, def, acc,
            f->when ? f->when : "always", f->doc,
            f->flags & CB_F_VOLATILE ? " (not in the run id)" : "");
  }
}

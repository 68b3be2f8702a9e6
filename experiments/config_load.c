/* Loading experiment YAML (files, --set overrides, sweep nodes) onto a
 * cb_experiment. Every value goes through cb_field_set_from_node, so a file,
 * an override and a sweep grid point are checked the same way and their
 * errors have the same shape: WHERE: KEY: PROBLEM (accepted: VALUES). */
#include "core/base/error.h"
#include "experiments/config_schema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

void cb_exp_init(cb_experiment *e) {
  memset(e, 0, sizeof *e);
  for (int i = 0; i < CB_N_FIELDS; i++) {
    if (cb_exp_set_value(e, CB_FIELDS[i].key, CB_FIELDS[i].def, "(default)")) {
      /* A broken default is a programming error caught by the unit tests. */
      fprintf(stderr, "internal: default of %s: %s\n", CB_FIELDS[i].key, cb_last_error());
      abort();
    }
    e->where[i][0] = 0;
  }
  e->resolved = 0;
}

/* ---- one value ---------------------------------------------------------- */

static void node_text(yaml_node_t *n, char *buf, size_t len) {
  if (n->type == YAML_SCALAR_NODE)
    snprintf(buf, len, "'%.60s%s'", (const char *)n->data.scalar.value,
             n->data.scalar.length > 60 ? "..." : "");
  else if (n->type == YAML_SEQUENCE_NODE)
    snprintf(buf, len, "a list");
  else
    snprintf(buf, len, "a mapping");
}

static int field_error(const char *where, const cb_field *f, const char *fmt, ...) CB_PRINTF(3, 4);
static int field_error(const char *where, const cb_field *f, const char *fmt, ...) {
  char msg[512], acc[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cb_field_accepted(f, acc, sizeof acc);
  return cb_error("%s: %s: %s (accepted: %s)", where, f->key, msg, acc);
}

static int is_plain(yaml_node_t *n) {
  return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int is_null(yaml_node_t *n) {
  if (!is_plain(n)) return 0;
  const char *s = (const char *)n->data.scalar.value;
  return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int is_auto(yaml_node_t *n) {
  return is_plain(n) && strcmp((const char *)n->data.scalar.value, "auto") == 0;
}

static int parse_i64(const char *s, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end) return -1;
  *out = v;
  return 0;
}

static int parse_num(const char *s, double *out) {
  if (strpbrk(s, "xXpP")) return -1; /* no hex floats */
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

static int in_range(const cb_field *f, double v) {
  if (f->flags & CB_F_LO_OPEN ? v <= f->lo : v < f->lo) return 0;
  if (f->flags & CB_F_HI_OPEN ? v >= f->hi : v > f->hi) return 0;
  return 1;
}

static int choice_index(const char *const *choices, const char *s) {
  for (int k = 0; choices[k]; k++)
    if (strcmp(choices[k], s) == 0) return k;
  return -1;
}

static int parse_bool(const char *s) {
  static const char *const t[] = {"true", "yes", "on"}, *const f[] = {"false", "no", "off"};
  for (int k = 0; k < 3; k++) {
    if (!strcasecmp(s, t[k])) return 1;
    if (!strcasecmp(s, f[k])) return 0;
  }
  return -1;
}

/* One scalar of a numeric, boolean or enum type into *out (double). */
static int scalar_value(const cb_field *f, yaml_node_t *n, const char *where, double *out) {
  char got[96];
  node_text(n, got, sizeof got);
  if (n->type != YAML_SCALAR_NODE) return field_error(where, f, "expected a value, got %s", got);
  const char *s = (const char *)n->data.scalar.value;
  switch (f->type) {
  case CB_FT_INT:
  case CB_FT_I64:
  case CB_FT_INTS: {
    long long v;
    if (!is_plain(n) || parse_i64(s, &v)) return field_error(where, f, "not an integer: %s", got);
    if (!in_range(f, (double)v)) return field_error(where, f, "%lld is out of range", v);
    *out = (double)v;
    return 0;
  }
  case CB_FT_NUM:
  case CB_FT_NUMS: {
    double v;
    if (!is_plain(n) || parse_num(s, &v)) return field_error(where, f, "not a number: %s", got);
    if (!in_range(f, v)) return field_error(where, f, "%s is out of range", s);
    *out = v;
    return 0;
  }
  case CB_FT_BOOL: {
    int b = is_plain(n) ? parse_bool(s) : -1;
    if (b < 0) return field_error(where, f, "not a boolean: %s", got);
    *out = b;
    return 0;
  }
  case CB_FT_ENUM:
  case CB_FT_ENUMS: {
    int k = choice_index(f->choices, s);
    if (k < 0) return field_error(where, f, "unknown value %s", got);
    *out = k;
    return 0;
  }
  case CB_FT_STR: break;
  }
  return field_error(where, f, "internal: no scalar type");
}

/* The first character of a string value that YAML cannot hold as it is
 * (escapes such as "\x7f", "\0" or "\N" can put one in): C0 and C1 control
 * characters, DEL, NUL, and the line and paragraph separators U+2028/2029.
 * Such a string would come back cut or changed from --print-config and from
 * the stored configuration a sweep's worker loads. -1 when there is none. */
static long unprintable_at(const unsigned char *s, size_t len) {
  long chars = 0;
  for (size_t i = 0; i < len; chars++) {
    unsigned c = s[i];
    if (c < 0x20 || c == 0x7f) return chars;
    if (c == 0xc2 && i + 1 < len && s[i + 1] < 0xa0) return chars;
    if (c == 0xe2 && i + 2 < len && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
      return chars;
    /* libyaml hands over valid UTF-8: step over the sequence. */
    i += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  }
  return -1;
}

int cb_field_set_from_node(cb_experiment *e, int index, yaml_document_t *doc, yaml_node_t *n,
                           const char *where) {
  const cb_field *f = &CB_FIELDS[index];
  void *p = cb_field_ptr(e, f);
  char got[96];
  node_text(n, got, sizeof got);
  int special = (f->flags & CB_F_NULL && is_null(n)) || (f->flags & CB_F_AUTO && is_auto(n));
  if (special) {
    /* null and auto share the "unset" representation; the flag says which. */
    if (f->type == CB_FT_NUM)
      *(double *)p = NAN;
    else if (f->type == CB_FT_INT || f->type == CB_FT_ENUM || f->type == CB_FT_BOOL)
      *(int *)p = -1;
    else
      return field_error(where, f, "internal: auto/null on a list or string field");
  } else if (f->type == CB_FT_STR) {
    if (n->type != YAML_SCALAR_NODE || is_null(n))
      return field_error(where, f, "expected a string, got %s", is_null(n) ? "null" : got);
    if (n->data.scalar.length >= f->cap)
      return field_error(where, f, "longer than %zu characters", f->cap - 1);
    long bad = unprintable_at(n->data.scalar.value, n->data.scalar.length);
    if (bad >= 0)
      return field_error(where, f,
                         "character %ld is a control character or line separator; names and "
                         "paths must be printable",
                         bad + 1);
    memcpy(p, n->data.scalar.value, n->data.scalar.length + 1);
  } else if (f->type == CB_FT_INTS || f->type == CB_FT_NUMS || f->type == CB_FT_ENUMS) {
    double vals[CB_EXP_SUBJECTS_MAX];
    int cnt = 0;
    if (n->type == YAML_SCALAR_NODE && f->type == CB_FT_ENUMS && !is_null(n)) {
      if (scalar_value(f, n, where, &vals[0])) return -1; /* `rdp` means [rdp] */
      cnt = 1;
    } else if (n->type != YAML_SEQUENCE_NODE) {
      return field_error(where, f, "expected a list, got %s", got);
    } else {
      for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
           it++) {
        if (cnt >= f->max_n) return field_error(where, f, "more than %d items", f->max_n);
        if (scalar_value(f, yaml_document_get_node(doc, *it), where, &vals[cnt])) return -1;
        if (f->type == CB_FT_ENUMS)
          for (int k = 0; k < cnt; k++)
            if (vals[k] == vals[cnt])
              return field_error(where, f, "'%s' is listed twice", f->choices[(int)vals[k]]);
        cnt++;
      }
    }
    if (cnt < f->min_n)
      return field_error(where, f, "%d item%s, need %d", cnt, cnt == 1 ? "" : "s", f->min_n);
    for (int k = 0; k < cnt; k++) {
      if (f->type == CB_FT_NUMS)
        ((double *)p)[k] = vals[k];
      else
        ((int *)p)[k] = (int)vals[k];
    }
    *cb_field_count(e, f) = cnt;
  } else {
    double v;
    if (scalar_value(f, n, where, &v)) return -1;
    if (f->type == CB_FT_NUM)
      *(double *)p = v;
    else if (f->type == CB_FT_I64)
      *(int64_t *)p = strtoll((const char *)n->data.scalar.value, NULL, 10); /* exact */
    else
      *(int *)p = (int)v;
  }
  snprintf(e->where[index], CB_EXP_WHERE_MAX, "%s", where);
  e->resolved = 0;
  return 0;
}

/* ---- keys and sections ------------------------------------------------ */

int cb_exp_has_key(const char *key) {
  if (cb_field_find(key, NULL)) return 1;
  return *key && cb_field_is_section(key) ? 2 : 0;
}

static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 63 || lb > 63) return 99;
  int d[64][64];
  for (int i = 0; i <= la; i++)
    d[i][0] = i;
  for (int j = 0; j <= lb; j++)
    d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
      d[i][j] = c;
    }
  return d[la][lb];
}

/* The keys directly inside section `prefix` ("" = top level), e.g.
 * "clipping, clip_bound, per_layer, ...". */
static void section_keys(const char *prefix, char *buf, size_t n) {
  size_t pl = strlen(prefix);
  buf[0] = 0;
  const char *seen[CB_EXP_MAX_FIELDS];
  size_t seen_len[CB_EXP_MAX_FIELDS];
  int ns = 0;
  for (int i = 0; i < CB_N_FIELDS; i++) {
    const char *k = CB_FIELDS[i].key;
    if (pl && (strncmp(k, prefix, pl) != 0 || k[pl] != '.')) continue;
    const char *c = pl ? k + pl + 1 : k;
    const char *dot = strchr(c, '.');
    size_t cl = dot ? (size_t)(dot - c) : strlen(c);
    int dup = 0;
    for (int s = 0; s < ns; s++)
      if (seen_len[s] == cl && strncmp(seen[s], c, cl) == 0) dup = 1;
    if (dup) continue;
    seen[ns] = c;
    seen_len[ns++] = cl;
    size_t used = strlen(buf);
    snprintf(buf + used, n - used, "%s%.*s", ns > 1 ? ", " : "", (int)cl, c);
  }
}

static int unknown_key(const char *where, const char *full, const char *prefix) {
  /* Suggest the closest key or section name (every prefix of a key). */
  char best[256] = "", cand[256];
  int bestd = 99;
  for (int i = 0; i < CB_N_FIELDS; i++) {
    const char *k = CB_FIELDS[i].key;
    for (const char *p = k;; p++) {
      if (*p == '.' || *p == 0) {
        snprintf(cand, sizeof cand, "%.*s", (int)(p - k), k);
        int d = edit_distance(full, cand);
        if (d < bestd) {
          bestd = d;
          snprintf(best, sizeof best, "%s", cand);
        }
      }
      if (!*p) break;
    }
  }
  char keys[1024];
  section_keys(prefix, keys, sizeof keys);
  int limit = (int)strlen(full) / 3 > 1 ? (int)strlen(full) / 3 : 1;
  char hint[300] = "";
  if (best[0] && bestd <= limit) snprintf(hint, sizeof hint, "did you mean '%s'? ", best);
  return cb_error("%s: unknown key '%s' (%saccepted keys%s%s: %s)", where, full, hint,
                  *prefix ? " in " : " at the top level", prefix, keys);
}

typedef struct {
  const char *file;   /* for file:line:col, or NULL */
  const char *setarg; /* "--set ARG" style location, or NULL */
  int in_file;        /* file is a file on disk: relative input paths are relative to it */
} origin;

static void where_of(const origin *o, yaml_node_t *n, char *buf, size_t len) {
  if (o->setarg)
    snprintf(buf, len, "%s", o->setarg);
  else
    snprintf(buf, len, "%s:%zu:%zu", o->file, n->start_mark.line + 1, n->start_mark.column + 1);
}

/* Whether a string field names a file or folder to read (data.path and any
 * other "*.path" key): relative values are relative to the file that sets
 * them, as a sweep's base: is. (checkpoint.dir is an output location,
 * relative to the database's folder, and does not end in ".path".) */
static int is_input_path(const cb_field *f) {
  size_t l = strlen(f->key);
  return f->type == CB_FT_STR && l > 5 && strcmp(f->key + l - 5, ".path") == 0;
}

/* dir/rel without "." segments and with "x/.." pairs folded, so the same
 * place gets the same text (the path is part of the run id). A leading ".."
 * that cannot fold stays. */
static int join_path(const char *dir, const char *rel, char *out, size_t n) {
  char buf[2 * CB_EXP_STR_MAX + 2];
  snprintf(buf, sizeof buf, "%s/%s", dir, rel);
  const char *seg[256];
  size_t len[256];
  int k = 0, absolute = buf[0] == '/';
  for (char *p = buf; *p;) {
    while (*p == '/')
      p++;
    if (!*p) break;
    char *q = p;
    while (*q && *q != '/')
      q++;
    size_t l = (size_t)(q - p);
    if (l == 1 && p[0] == '.') {
      /* nothing */
    } else if (l == 2 && p[0] == '.' && p[1] == '.' && k > 0 &&
               !(len[k - 1] == 2 && seg[k - 1][0] == '.' && seg[k - 1][1] == '.')) {
      k--;
    } else if (l == 2 && p[0] == '.' && p[1] == '.' && absolute && k == 0) {
      /* "/.." is "/" */
    } else {
      if (k == 256) return -1;
      seg[k] = p;
      len[k++] = l;
    }
    p = q;
  }
  size_t w = 0;
  if (absolute && w + 1 < n) out[w++] = '/';
  for (int i = 0; i < k; i++) {
    if (w + len[i] + 2 > n) return -1;
    if (i) out[w++] = '/';
    memcpy(out + w, seg[i], len[i]);
    w += len[i];
  }
  if (w == 0) out[w++] = '.';
  out[w] = 0;
  return 0;
}

static int apply(cb_experiment *e, const char *prefix, yaml_document_t *doc, yaml_node_t *n,
                 const origin *o) {
  char where[CB_EXP_WHERE_MAX];
  where_of(o, n, where, sizeof where);
  int index;
  if (*prefix && cb_field_find(prefix, &index)) {
    if (cb_field_set_from_node(e, index, doc, n, where)) return -1;
    const cb_field *f = &CB_FIELDS[index];
    char *v = cb_field_ptr(e, f);
    const char *slash = o->file && o->in_file ? strrchr(o->file, '/') : NULL;
    if (is_input_path(f) && slash && v[0] && v[0] != '/') {
      char dir[CB_EXP_STR_MAX], joined[CB_EXP_STR_MAX];
      snprintf(dir, sizeof dir, "%.*s", (int)(slash == o->file ? 1 : slash - o->file), o->file);
      if (join_path(dir, v, joined, sizeof joined) || strlen(joined) >= f->cap)
        return cb_error("%s: %s: '%s' relative to %s is too long", where, f->key, v, dir);
      /* Below the current folder it is written relative to it, so that the
       * run id does not depend on whether the file was named by an absolute
       * or a relative path. */
      char cwd[CB_EXP_STR_MAX];
      size_t cl = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
      const char *rel = joined;
      if (joined[0] == '/' && cl > 1 && strncmp(joined, cwd, cl) == 0 && joined[cl] == '/')
        rel = joined + cl + 1;
      else if (joined[0] == '/' && cl > 0 && strcmp(joined, cwd) == 0)
        rel = ".";
      snprintf(v, f->cap, "%s", rel);
    }
    return 0;
  }
  if (*prefix && !cb_field_is_section(prefix)) return unknown_key(where, prefix, "");
  if (is_null(n)) return 0; /* an empty section: nothing to set */
  if (n->type != YAML_MAPPING_NODE) {
    char keys[1024], got[96];
    section_keys(prefix, keys, sizeof keys);
    node_text(n, got, sizeof got);
    return cb_error("%s: %s: expected a mapping, got %s (accepted keys: %s)", where,
                    *prefix ? prefix : "the experiment", got, keys);
  }
  for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(doc, pr->key);
    yaml_node_t *v = yaml_document_get_node(doc, pr->value);
    char kwhere[CB_EXP_WHERE_MAX];
    where_of(o, k, kwhere, sizeof kwhere);
    if (k->type != YAML_SCALAR_NODE)
      return cb_error("%s: keys must be plain names, got a %s", kwhere,
                      k->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
    const char *ks = (const char *)k->data.scalar.value;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pr; q++) {
      yaml_node_t *k2 = yaml_document_get_node(doc, q->key);
      if (k2->type == YAML_SCALAR_NODE && strcmp((const char *)k2->data.scalar.value, ks) == 0)
        return cb_error("%s: duplicate key '%s' (first at line %zu)", kwhere, ks,
                        k2->start_mark.line + 1);
    }
    char full[512];
    snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", ks);
    if (!*ks || !cb_exp_has_key(full)) return unknown_key(kwhere, full, prefix);
    if (apply(e, full, doc, v, o)) return -1;
  }
  return 0;
}

/* ---- entry points ------------------------------------------------------- */

static int parse_text(const char *text, size_t len, const char *origin_name, yaml_document_t *doc) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return cb_error("out of memory creating a YAML parser");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, doc)) {
    int rc =
        cb_error("%s:%zu:%zu: YAML syntax error: %s%s%s", origin_name, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "unreadable",
                 parser.context ? " " : "", parser.context ? parser.context : "");
    yaml_parser_delete(&parser);
    return rc;
  }
  yaml_document_t extra;
  if (yaml_parser_load(&parser, &extra)) {
    yaml_node_t *r = yaml_document_get_root_node(&extra);
    int more = r != NULL;
    size_t line = extra.start_mark.line + 1;
    yaml_document_delete(&extra);
    if (more) {
      yaml_document_delete(doc);
      yaml_parser_delete(&parser);
      return cb_error("%s:%zu:1: a second YAML document; an experiment file holds one", origin_name,
                      line);
    }
  }
  yaml_parser_delete(&parser);
  return 0;
}

static int load_text(cb_experiment *e, const char *text, const char *origin_name, int in_file) {
  yaml_document_t doc;
  if (parse_text(text, strlen(text), origin_name, &doc)) return -1;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root && in_file) {
    yaml_document_delete(&doc);
    return cb_error("%s: empty experiment file: every key would take its default (a 100-epoch "
                    "run); write the keys you mean, or {} to ask for the defaults on purpose",
                    origin_name);
  }
  origin o = {.file = origin_name, .in_file = in_file};
  int rc = root ? apply(e, "", &doc, root, &o) : 0;
  yaml_document_delete(&doc);
  return rc;
}

int cb_exp_load_string(cb_experiment *e, const char *text, const char *origin_name) {
  return load_text(e, text, origin_name, 0);
}

char *cb_exp_read_text(const char *path, const char *kind) {
  const char *a = strchr("aeiou", kind[0]) ? "an" : "a";
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    cb_error("%s is a folder, not %s %s", path, a, kind);
    return NULL;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    cb_error("cannot read %s %s: %s", kind, path, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    /* A bound, so that /dev/zero or a huge file by mistake ends with a message. */
    if (len > CB_EXP_FILE_MAX) {
      free(buf);
      fclose(f);
      cb_error("%s: larger than %d MB; is it %s %s?", path, CB_EXP_FILE_MAX >> 20, a, kind);
      return NULL;
    }
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        cb_error("out of memory reading %s", path);
        return NULL;
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) break;
  }
  int failed = ferror(f), err = errno;
  fclose(f);
  if (failed) {
    free(buf);
    cb_error("cannot read %s %s: %s", kind, path, strerror(err));
    return NULL;
  }
  buf[len] = 0;
  if (strlen(buf) != len) {
    free(buf);
    cb_error("%s: contains a NUL byte; is it a YAML text file?", path);
    return NULL;
  }
  return buf;
}

int cb_exp_load_file(cb_experiment *e, const char *path) {
  char *buf = cb_exp_read_text(path, "experiment file");
  if (!buf) return -1;
  /* An unnamed experiment is called after its file. */
  int name_index;
  cb_field_find("name", &name_index);
  if (!e->where[name_index][0]) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    if (bl > 5 && strcmp(base + bl - 5, ".yaml") == 0)
      bl -= 5;
    else if (bl > 4 && strcmp(base + bl - 4, ".yml") == 0)
      bl -= 4;
    if (bl >= sizeof e->name) bl = sizeof e->name - 1;
    memcpy(e->name, base, bl);
    e->name[bl] = 0;
  }
  int rc = load_text(e, buf, path, 1);
  free(buf);
  return rc;
}

int cb_exp_set_value(cb_experiment *e, const char *key, const char *yaml_value, const char *where) {
  if (!cb_exp_has_key(key)) return unknown_key(where, key, "");
  yaml_document_t doc;
  if (parse_text(yaml_value, strlen(yaml_value), where, &doc)) return -1;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  int rc;
  origin o = {.setarg = where};
  if (!root) {
    /* "key=" : an empty value is null. */
    yaml_document_t empty;
    rc = parse_text("null", 4, where, &empty);
    if (!rc) {
      rc = apply(e, key, &empty, yaml_document_get_root_node(&empty), &o);
      yaml_document_delete(&empty);
    }
  } else {
    rc = apply(e, key, &doc, root, &o);
  }
  yaml_document_delete(&doc);
  return rc;
}

int cb_exp_set(cb_experiment *e, const char *assignment) {
  char where[CB_EXP_WHERE_MAX];
  snprintf(where, sizeof where, "--set %s", assignment);
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment)
    return cb_error("%s: expected KEY=VALUE with a dotted key, e.g. dp.clip_bound=2", where);
  char key[256];
  size_t kl = (size_t)(eq - assignment);
  if (kl >= sizeof key) return cb_error("%s: key too long", where);
  memcpy(key, assignment, kl);
  key[kl] = 0;
  return cb_exp_set_value(e, key, eq + 1, where);
}

int cb_exp_apply_yaml_node(cb_experiment *e, const char *key, void *yaml_document, void *yaml_node,
                           const char *file) {
  origin o = {.file = file, .in_file = file != NULL};
  yaml_node_t *n = yaml_node;
  if (*key && !cb_exp_has_key(key)) {
    char where[CB_EXP_WHERE_MAX];
    where_of(&o, n, where, sizeof where);
    return unknown_key(where, key, "");
  }
  return apply(e, key, yaml_document, n, &o);
}

int cb_exp_key_is_set(const cb_experiment *e, const char *key) {
  int i;
  return cb_field_find(key, &i) && e->where[i][0];
}

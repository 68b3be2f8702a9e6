#include "core/base/cli.h"

#include "core/base/error.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

void cb_cli_init(cb_cli *c, const char *prog, const char *usage, const char *summary) {
  memset(c, 0, sizeof *c);
  c->prog = prog;
  c->usage = usage;
  c->summary = summary;
  c->max_pos = 0;
}

int cb_cli_add(cb_cli *c, const char *name, cb_opt_type type, void *dst, const char *metavar,
               const char *help) {
  if (c->n_opts >= CB_CLI_MAX_OPTS) {
    fprintf(stderr, "internal: too many options for %s\n", c->prog);
    abort();
  }
  cb_opt *o = &c->opts[c->n_opts];
  memset(o, 0, sizeof *o);
  o->name = name;
  o->type = type;
  o->dst = dst;
  o->metavar = metavar;
  o->help = help;
  return c->n_opts++;
}

int cb_cli_add_choice(cb_cli *c, const char *name, int *dst, const char *const *choices,
                      const char *help) {
  int i = cb_cli_add(c, name, CB_OPT_CHOICE, dst, NULL, help);
  c->opts[i].choices = choices;
  return i;
}

void cb_cli_deprecated(cb_cli *c, const char *old_name, const char *new_name) {
  if (c->n_alias >= (int)(sizeof c->alias_old / sizeof c->alias_old[0])) {
    fprintf(stderr, "internal: too many deprecated options for %s\n", c->prog);
    abort();
  }
  c->alias_old[c->n_alias] = old_name;
  c->alias_new[c->n_alias++] = new_name;
}

/* One letter per concept, the same in every command. */
static const struct {
  char letter;
  const char *name;
} SHORT[] = {{'j', "jobs"}, {'o', "out"}, {'q', "quiet"}};

static char short_of(const char *name) {
  for (size_t k = 0; k < sizeof SHORT / sizeof SHORT[0]; k++)
    if (strcmp(SHORT[k].name, name) == 0) return SHORT[k].letter;
  return 0;
}

int cb_cli_given(const cb_cli *c, const char *name) {
  for (int i = 0; i < c->n_opts; i++)
    if (strcmp(c->opts[i].name, name) == 0) return c->opts[i].seen;
  return 0;
}

int cb_edit_distance(const char *a, const char *b) {
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
      /* two neighbours swapped ("jbos") is one typo */
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < c)
        c = d[i - 2][j - 2] + 1;
      d[i][j] = c;
    }
  return d[la][lb];
}

const char *cb_did_you_mean(const char *word, const char *const *cands, int n) {
  const char *best = NULL, *prefix_of = NULL;
  int bestd = 99, n_prefix = 0;
  size_t wl = strlen(word);
  for (int i = 0; i < n; i++) {
    if (!cands[i]) continue;
    int d = cb_edit_distance(word, cands[i]);
    if (d < bestd) {
      bestd = d;
      best = cands[i];
    }
    if (wl >= 2 && strncmp(cands[i], word, wl) == 0) {
      prefix_of = cands[i];
      n_prefix++;
    }
  }
  int limit = (int)wl / 3 > 1 ? (int)wl / 3 : 1;
  if (best && bestd <= limit) return best;
  return n_prefix == 1 ? prefix_of : NULL;
}

static const cb_opt *find(const cb_cli *c, const char *name, size_t len) {
  for (int i = 0; i < c->n_opts; i++)
    if (strlen(c->opts[i].name) == len && strncmp(c->opts[i].name, name, len) == 0)
      return &c->opts[i];
  return NULL;
}

static void choices_text(const cb_opt *o, char *buf, size_t n) {
  buf[0] = 0;
  for (int k = 0; o->choices[k]; k++) {
    size_t used = strlen(buf);
    snprintf(buf + used, n - used, "%s%s", k ? "|" : "", o->choices[k]);
  }
}

static int parse_long(const char *s, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end) return -1;
  *out = v;
  return 0;
}

static int set_value(cb_opt *o, const char *val) {
  switch (o->type) {
  case CB_OPT_INT: {
    long long v;
    if (parse_long(val, &v) || v < INT_MIN || v > INT_MAX)
      return cb_error("--%s expects an integer, got '%s'", o->name, val);
    *(int *)o->dst = (int)v;
    return 0;
  }
  case CB_OPT_LONG: {
    long long v;
    if (parse_long(val, &v)) return cb_error("--%s expects an integer, got '%s'", o->name, val);
    *(long long *)o->dst = v;
    return 0;
  }
  case CB_OPT_DOUBLE: {
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end)
      return cb_error("--%s expects a number, got '%s'", o->name, val);
    *(double *)o->dst = v;
    return 0;
  }
  case CB_OPT_STR: *(const char **)o->dst = val; return 0;
  case CB_OPT_CHOICE:
    for (int k = 0; o->choices[k]; k++)
      if (strcmp(o->choices[k], val) == 0) {
        *(int *)o->dst = k;
        return 0;
      }
    {
      char buf[512];
      choices_text(o, buf, sizeof buf);
      return cb_error("--%s must be one of %s, got '%s'", o->name, buf, val);
    }
  case CB_OPT_STRLIST: {
    cb_strlist *l = o->dst;
    if (l->n >= CB_STRLIST_MAX)
      return cb_error("--%s given more than %d times", o->name, CB_STRLIST_MAX);
    l->v[l->n++] = val;
    return 0;
  }
  default: return cb_error("internal: option --%s has no value", o->name);
  }
}

static int parse(cb_cli *c, int argc, char **argv);

int cb_cli_parse(cb_cli *c, int argc, char **argv) {
  int rc = parse(c, argc, argv);
  if (rc < 0) {
    /* A mistake on the command line: exit status 2, as for usage errors of
     * other Unix tools. */
    char msg[CB_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", cb_last_error());
    return cb_error_code(CB_EXIT_USAGE, "%s", msg);
  }
  return rc;
}

static int parse(cb_cli *c, int argc, char **argv) {
  c->n_pos = 0;
  int only_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
      if (c->n_pos >= c->max_pos || c->n_pos >= CB_CLI_MAX_POS)
        return cb_error("unexpected argument '%s' (see %s --help)", a, c->prog);
      c->pos[c->n_pos++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_pos = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      cb_cli_print_help(c, stdout);
      return 1;
    }
    const char *name, *eq;
    size_t len;
    cb_opt *o = NULL;
    if (a[1] != '-') {
      /* -j 4, -j4, -o FILE, -q */
      for (size_t k = 0; !o && k < sizeof SHORT / sizeof SHORT[0]; k++)
        if (SHORT[k].letter == a[1]) o = (cb_opt *)find(c, SHORT[k].name, strlen(SHORT[k].name));
      if (!o)
        return cb_error("unknown option '%s'; options are spelled --name (see %s --help)", a,
                        c->prog);
      name = o->name;
      len = strlen(name);
      eq = a[2] ? a + 1 : NULL; /* the value follows the letter: read it as after '=' */
    } else {
      name = a + 2;
      eq = strchr(name, '=');
      len = eq ? (size_t)(eq - name) : strlen(name);
      o = (cb_opt *)find(c, name, len);
    }
    for (int k = 0; !o && k < c->n_alias; k++)
      if (strlen(c->alias_old[k]) == len && strncmp(c->alias_old[k], name, len) == 0) {
        fprintf(stderr, "%s: --%s is deprecated, use --%s\n", c->prog, c->alias_old[k],
                c->alias_new[k]);
        o = (cb_opt *)find(c, c->alias_new[k], strlen(c->alias_new[k]));
      }
    if (!o) {
      char given[128];
      snprintf(given, sizeof given, "%.*s", (int)len, name);
      const char *names[CB_CLI_MAX_OPTS + 1];
      for (int k = 0; k < c->n_opts; k++)
        names[k] = c->opts[k].name;
      names[c->n_opts] = "help";
      const char *hint = cb_did_you_mean(given, names, c->n_opts + 1);
      if (hint)
        return cb_error("unknown option '--%s' (did you mean --%s? see %s --help)", given, hint,
                        c->prog);
      return cb_error("unknown option '--%s' (see %s --help)", given, c->prog);
    }
    o->seen = 1;
    if (o->type == CB_OPT_FLAG) {
      if (eq) return cb_error("--%s takes no value", o->name);
      *(int *)o->dst = 1;
      continue;
    }
    if (o->type == CB_OPT_INTS) {
      cb_intlist *l = o->dst;
      l->n = 0;
      int max_n = l->max_n ? l->max_n : 1, min_n = l->min_n ? l->min_n : 1;
      if (eq) {
        /* --size=128x128 or --size=128,128 */
        const char *p = eq + 1;
        while (*p && l->n < max_n) {
          char *end;
          long v = strtol(p, &end, 10);
          if (end == p) break;
          l->v[l->n++] = (int)v;
          p = end;
          if (*p == 'x' || *p == ',') p++;
        }
        if (*p) return cb_error("--%s: cannot read '%s'", o->name, eq + 1);
      } else {
        while (l->n < max_n && i + 1 < argc) {
          long long v;
          if (parse_long(argv[i + 1], &v)) break;
          l->v[l->n++] = (int)v;
          i++;
        }
      }
      if (l->n < min_n)
        return cb_error("--%s expects %d integer%s", o->name, min_n, min_n > 1 ? "s" : "");
      continue;
    }
    const char *val;
    if (eq)
      val = eq + 1;
    else if (i + 1 < argc)
      val = argv[++i];
    else
      return cb_error("--%s needs a value%s%s", o->name, o->metavar ? " " : "",
                      o->metavar ? o->metavar : "");
    if (set_value(o, val)) return -1;
  }
  if (c->n_pos < c->min_pos) return cb_error("missing argument; usage: %s %s", c->prog, c->usage);
  return 0;
}

/* Writes text from column `col` (already there). A line that does not fit
 * in 79 columns is broken at blanks; its continuation lines start under the
 * line's second column (the text after its first run of two blanks, as in
 * "  final        the last epoch ...") or under its own indentation. Lines
 * that fit are written as they are. Later lines start at `indent`. */
static void wrap(FILE *f, const char *text, int col, int indent) {
  const char *line = text;
  for (;;) {
    int len = (int)strcspn(line, "\n");
    int hang = (int)strspn(line, " ");
    const char *gap = strstr(line + hang, "  ");
    if (gap && gap < line + len) hang = (int)(gap - line) + (int)strspn(gap, " ");
    if (hang > 40) hang = 0;
    hang += col;
    const char *p = line;
    int left = len;
    while (col + left > 79) {
      int room = 79 - col, b = room;
      while (b > 0 && p[b] != ' ')
        b--;
      if (b <= 0 || (p == line && b <= hang - col)) { /* no blank in reach: the next one */
        b = room;
        while (b < left && p[b] != ' ')
          b++;
        if (b >= left) break;
      }
      int e = b;
      while (e > 0 && p[e - 1] == ' ')
        e--;
      fprintf(f, "%.*s\n%*s", e, p, hang, "");
      col = hang;
      while (b < left && p[b] == ' ')
        b++;
      p += b;
      left -= b;
    }
    fprintf(f, "%.*s", left, p);
    if (!line[len]) break;
    fprintf(f, "\n%*s", indent, "");
    col = indent;
    line += len + 1;
  }
  fputc('\n', f);
}

void cb_cli_print_help(const cb_cli *c, FILE *f) {
  fprintf(f, "usage: %s %s\n\n", c->prog, c->usage);
  if (c->summary) {
    wrap(f, c->summary, 0, 0);
    fputc('\n', f);
  }
  if (c->n_opts) fprintf(f, "options:\n");
  for (int i = 0; i < c->n_opts; i++) {
    const cb_opt *o = &c->opts[i];
    char left[160], flag[48];
    char letter = short_of(o->name);
    if (letter)
      snprintf(flag, sizeof flag, "-%c, --%s", letter, o->name);
    else
      snprintf(flag, sizeof flag, "--%s", o->name);
    if (o->type == CB_OPT_FLAG)
      snprintf(left, sizeof left, "%s", flag);
    else if (o->type == CB_OPT_CHOICE) {
      char buf[120];
      choices_text(o, buf, sizeof buf);
      snprintf(left, sizeof left, "%s %s", flag, buf);
    } else
      snprintf(left, sizeof left, "%s %s", flag, o->metavar ? o->metavar : "VALUE");
    if (strlen(left) > 26)
      fprintf(f, "  %s\n  %-26s  ", left, "");
    else
      fprintf(f, "  %-26s  ", left);
    wrap(f, o->help ? o->help : "", 30, 30);
  }
  fprintf(f, "  %-26s  %s\n", "-h, --help", "show this help");
}

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

int cb_cli_given(const cb_cli *c, const char *name) {
  for (int i = 0; i < c->n_opts; i++)
    if (strcmp(c->opts[i].name, name) == 0) return c->opts[i].seen;
  return 0;
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
    if (a[1] != '-')
      return cb_error("unknown option '%s'; options are spelled --name (see %s --help)", a,
                      c->prog);
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    cb_opt *o = (cb_opt *)find(c, name, len);
    if (!o) return cb_error("unknown option '--%.*s' (see %s --help)", (int)len, name, c->prog);
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

void cb_cli_print_help(const cb_cli *c, FILE *f) {
  fprintf(f, "usage: %s %s\n\n", c->prog, c->usage);
  if (c->summary) fprintf(f, "%s\n\n", c->summary);
  if (c->n_opts) fprintf(f, "options:\n");
  for (int i = 0; i < c->n_opts; i++) {
    const cb_opt *o = &c->opts[i];
    char left[160];
    if (o->type == CB_OPT_FLAG)
      snprintf(left, sizeof left, "--%s", o->name);
    else if (o->type == CB_OPT_CHOICE) {
      char buf[120];
      choices_text(o, buf, sizeof buf);
      snprintf(left, sizeof left, "--%s %s", o->name, buf);
    } else
      snprintf(left, sizeof left, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
    if (strlen(left) > 26)
      fprintf(f, "  %s\n  %-26s  %s\n", left, "", o->help ? o->help : "");
    else
      fprintf(f, "  %-26s  %s\n", left, o->help ? o->help : "");
  }
  fprintf(f, "  %-26s  %s\n", "--help", "show this help");
}

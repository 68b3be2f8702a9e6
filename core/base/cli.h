/* Declarative command-line parsing shared by every subcommand, so that all of
 * them accept `--name value` and `--name=value`, print the same `--help`, and
 * reject mistakes with one clear line naming the option and the fix. */
#ifndef CB_BASE_CLI_H
#define CB_BASE_CLI_H

#include <stdio.h>

typedef enum {
  CB_OPT_FLAG,    /* int* set to 1 */
  CB_OPT_INT,     /* int* */
  CB_OPT_LONG,    /* long long* */
  CB_OPT_DOUBLE,  /* double* */
  CB_OPT_STR,     /* const char** (points into argv) */
  CB_OPT_CHOICE,  /* int* index into choices */
  CB_OPT_STRLIST, /* cb_strlist*; the option may repeat */
  CB_OPT_INTS     /* cb_intlist*; one or more integers (e.g. --size H W) */
} cb_opt_type;

#define CB_STRLIST_MAX 64
typedef struct {
  const char *v[CB_STRLIST_MAX];
  int n;
} cb_strlist;

#define CB_INTLIST_MAX 8
typedef struct {
  int v[CB_INTLIST_MAX];
  int n;
  int min_n, max_n; /* how many integers the option takes */
} cb_intlist;

typedef struct {
  const char *name; /* long name without dashes */
  cb_opt_type type;
  void *dst;
  const char *metavar; /* shown in --help, e.g. "N" */
  const char *help;
  const char *const *choices; /* NULL-terminated (CB_OPT_CHOICE) */
  int seen;                   /* set by the parser when the option is given */
} cb_opt;

#define CB_CLI_MAX_OPTS 96
#define CB_CLI_MAX_POS 64

typedef struct {
  const char *prog;    /* e.g. "clipbench model" */
  const char *usage;   /* e.g. "[options]" */
  const char *summary; /* one paragraph shown by --help */
  cb_opt opts[CB_CLI_MAX_OPTS];
  int n_opts;
  int min_pos, max_pos; /* positional argument count limits */
  const char *pos[CB_CLI_MAX_POS];
  int n_pos;
  /* Old spellings still accepted, with a deprecation line on stderr. */
  const char *alias_old[8], *alias_new[8];
  int n_alias;
} cb_cli;

void cb_cli_init(cb_cli *c, const char *prog, const char *usage, const char *summary);
/* Adds an option; returns its index so callers can query `seen`. */
int cb_cli_add(cb_cli *c, const char *name, cb_opt_type type, void *dst, const char *metavar,
               const char *help);
int cb_cli_add_choice(cb_cli *c, const char *name, int *dst, const char *const *choices,
                      const char *help);
/* Keeps an old option name working: `--old` is read as `--new` after one
 * line on stderr saying so. */
void cb_cli_deprecated(cb_cli *c, const char *old_name, const char *new_name);
/* Short options: -j is --jobs, -o is --out, -q is --quiet (-j4 and -j 4),
 * for every command that has the long one. */
/* Whether the option called `name` appeared on the command line. */
int cb_cli_given(const cb_cli *c, const char *name);

/* Parses argv (argv[0] is the subcommand name). Returns 0 on success, 1 when
 * --help was printed (the caller exits 0), -1 on a usage error (cb_error set). */
int cb_cli_parse(cb_cli *c, int argc, char **argv);
void cb_cli_print_help(const cb_cli *c, FILE *f);

/* Edit distance between two strings, a swap of neighbours counting as one
 * edit (99 for strings over 63 chars). */
int cb_edit_distance(const char *a, const char *b);
/* The candidate a mistyped `word` most likely meant: the closest within
 * max(1, length/3) edits, or the only candidate `word` is a prefix of; NULL
 * when none is that close. cands may hold NULLs (skipped). */
const char *cb_did_you_mean(const char *word, const char *const *cands, int n);

/* Standard options every results reader / script-callable command takes. */
#define CB_DEFAULT_DB "results/results.db"

#endif

/* Internal: the field table behind cb_experiment (config_schema.c) and the
 * helpers the loader, the resolver and the printers share. */
#ifndef CB_EXPERIMENTS_CONFIG_SCHEMA_H
#define CB_EXPERIMENTS_CONFIG_SCHEMA_H

#include "experiments/config.h"

#include <stddef.h>

typedef enum {
  CB_FT_STR,   /* char[cap] */
  CB_FT_INT,   /* int */
  CB_FT_I64,   /* int64_t */
  CB_FT_NUM,   /* double */
  CB_FT_BOOL,  /* int 0/1 */
  CB_FT_ENUM,  /* int index into choices */
  CB_FT_INTS,  /* cb_exp_subjects or int[max_n] + int count */
  CB_FT_NUMS,  /* double[max_n] + int count */
  CB_FT_ENUMS, /* int[max_n] + int count, distinct choices */
} cb_ftype;

enum {
  CB_F_NULL = 1,     /* accepts null (stored as NaN) */
  CB_F_AUTO = 2,     /* accepts auto (NaN / -1), filled by cb_exp_resolve */
  CB_F_VOLATILE = 4, /* not part of the run id: speed or output location only */
  CB_F_LO_OPEN = 8,  /* lower bound exclusive */
  CB_F_HI_OPEN = 16, /* upper bound exclusive */
  /* In the run id only when set to something other than its default: keys
   * added after run ids were frozen, whose default is what every run did
   * before them, so existing databases keep their ids. runs.config (the full
   * JSON) always shows them. */
  CB_F_ID_UNLESS_DEFAULT = 32,
};

typedef struct {
  const char *key; /* dotted path */
  cb_ftype type;
  size_t off;   /* the value in cb_experiment */
  size_t off_n; /* element count (lists) */
  int min_n, max_n;
  size_t cap; /* string buffer size */
  const char *const *choices;
  double lo, hi;
  unsigned flags;
  const char *def; /* default, as YAML text */
  /* When the field matters given the other choices (NULL = always), and the
   * same in words for messages. */
  int (*applies)(const cb_experiment *e);
  const char *when;
  const char *doc;
} cb_field;

extern const cb_field CB_FIELDS[];
extern const int CB_N_FIELDS;

const cb_field *cb_field_find(const char *key, int *index);
/* 1 when `prefix` is a section (some field's key starts with "prefix."). */
int cb_field_is_section(const char *prefix);

/* "a number > 0", "one of none|flat|...", for messages. */
void cb_field_accepted(const cb_field *f, char *buf, size_t n);

/* Converts one YAML node to the field's value in e. `where` already formatted
 * ("file:l:c" or "--set ARG"). */
struct yaml_document_s;
struct yaml_node_s;
int cb_field_set_from_node(cb_experiment *e, int index, struct yaml_document_s *doc,
                           struct yaml_node_s *node, const char *where);

/* Field value pointers. */
static inline void *cb_field_ptr(const cb_experiment *e, const cb_field *f) {
  return (char *)e + f->off;
}
static inline int *cb_field_count(const cb_experiment *e, const cb_field *f) {
  return (int *)((char *)e + f->off_n);
}

/* Formats the value as JSON (yaml=0) or YAML flow (yaml=1) text. Numbers are
 * the shortest text that reads back to the same double. */
int cb_field_format(const cb_experiment *e, const cb_field *f, int yaml, char *buf, size_t n);
void cb_format_double(double v, char *buf, size_t n);

#endif

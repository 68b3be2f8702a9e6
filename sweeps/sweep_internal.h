/* Internal to sweeps/: the parsed sweep file (sweep_parse.c) that the
 * expansion (sweep_expand.c) walks. Values stay libyaml nodes until they are
 * applied to an experiment, so every error can point into the sweep file. */
#ifndef CB_SWEEPS_SWEEP_INTERNAL_H
#define CB_SWEEPS_SWEEP_INTERNAL_H

#include "sweeps/sweep.h"

#include <yaml.h>

/* One dotted key and its value, e.g. dp.clipping: none. */
typedef struct {
  char *key;
  yaml_node_t *key_node; /* for messages */
  yaml_node_t *value;
} cb_sw_pair;

typedef struct {
  cb_sw_pair *v;
  int n, cap;
} cb_sw_pairs;

/* A named partial configuration crossed with the grid. */
typedef struct {
  char name[64];
  char base[4096]; /* its own base experiment file ("" = the sweep's) */
  cb_sw_pairs set;
  yaml_node_t *at;
} cb_sw_arm;

/* A grid key and its values. */
typedef struct {
  char *key;
  yaml_node_t *at;
  yaml_node_t **vals;
  int n, n_alloc;
  int is_section;      /* values are mappings of that section's keys */
  cb_sw_pairs *leaves; /* section axes: each value's keys, flattened */
  int applied;         /* applies to at least one point */
  int col;             /* column in the table */
} cb_sw_axis;

typedef struct {
  int arm; /* -1: none */
  cb_sw_pairs set;
  yaml_node_t *at;
  int sets_seed;
} cb_sw_include;

/* One key of an exclude pattern and the values it matches. */
typedef struct {
  char *key; /* "arm" or a field */
  yaml_node_t *at;
  int n;
  char **canon; /* canonical JSON of each value (arm names for "arm") */
} cb_sw_match;

typedef struct {
  cb_sw_match *m;
  int n;
  yaml_node_t *at;
  int hits;
} cb_sw_pattern;

typedef struct {
  const char *path;
  char dir[4096];
  char *text;
  yaml_document_t doc;
  int have_doc;
  char name[CB_SWEEP_NAME_MAX];
  char base[4096]; /* resolved path, "" = defaults only */
  cb_sw_pairs set;
  int n_sets;
  const char *const *sets; /* --set arguments */
  cb_sw_arm *arms;
  int n_arms;
  cb_sw_axis *axes;
  int n_axes;
  cb_sw_include *incl;
  int n_incl;
  cb_sw_pattern *excl;
  int n_excl;
  int64_t *seeds; /* seeds, or offsets from each point's base seed */
  int n_seeds;
  int seeds_are_offsets; /* seeds: N */
  yaml_node_t *seeds_at;
  int seed_col, arm_col;
} cb_sw_spec;

int cb_sw_parse(cb_sw_spec *sp, const char *path, int n_sets, const char *const *sets);
void cb_sw_spec_free(cb_sw_spec *sp);

/* "FILE:LINE:COL" of a node. */
void cb_sw_where(const cb_sw_spec *sp, const yaml_node_t *n, char *buf, size_t len);
/* A node as compact JSON (plain scalars that read as numbers, booleans or
 * null keep their type; other scalars are strings). Malloc'ed. */
char *cb_sw_node_json(yaml_document_t *doc, yaml_node_t *n);
/* Applies pairs to e (errors located in the sweep file). */
int cb_sw_apply_pairs(const cb_sw_spec *sp, cb_experiment *e, const cb_sw_pairs *p);
/* Whether two dotted keys overlap (equal, or one is a section of the other). */
int cb_sw_keys_overlap(const char *a, const char *b);

#endif

/* clipbench merge --db MAIN.db SHARD.db...: fold shards (SLURM array tasks'
 * databases) into the main database, one transaction per shard (rules in
 * results/merge.h). A shard whose task is still writing it is left for
 * later: only the node running a task may open its SQLite file. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "results/merge.h"
#include "sweeps/slurm.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  char **v;
  int n, cap;
} cb_paths;

static void paths_free(cb_paths *p) {
  for (int i = 0; i < p->n; i++)
    free(p->v[i]);
  free(p->v);
  memset(p, 0, sizeof *p);
}

static int paths_add(cb_paths *p, const char *path) {
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 64;
    char **nv = realloc(p->v, (size_t)cap * sizeof *nv);
    if (!nv) return cb_error("out of memory");
    p->v = nv;
    p->cap = cap;
  }
  if (!(p->v[p->n] = cb_strdup(path))) return -1;
  p->n++;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every *.db of a folder (in name order). */
static int add_shards(cb_paths *p, const char *arg) {
  struct stat sb;
  /* A missing shard is an error before anything is opened or created. */
  if (stat(arg, &sb) != 0)
    return cb_error("%s: %s; nothing was merged (give the shard files or the folder holding "
                    "them)",
                    arg, strerror(errno));
  if (!S_ISDIR(sb.st_mode)) return paths_add(p, arg);
  DIR *d = opendir(arg);
  if (!d) return cb_error("%s: %s", arg, strerror(errno));
  int first = p->n, rc = 0;
  struct dirent *e;
  while (!rc && (e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 4 || strcmp(e->d_name + l - 3, ".db") != 0) continue;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", arg, e->d_name);
    rc = paths_add(p, path);
  }
  closedir(d);
  if (!rc && p->n == first) return cb_error("%s: a folder without *.db files", arg);
  if (!rc) qsort(p->v + first, (size_t)(p->n - first), sizeof *p->v, by_name);
  return rc;
}

typedef struct {
  int merged, conflicts, errors, skipped;
  int added, updated, unchanged, epochs;
} totals;

/* Why the shard must not be opened now, or NULL. */
static const char *still_written(cb_store *s, const char *shard, const cb_slurm_queue *q, char *why,
                                 size_t n) {
  char path[4200];
  cb_slurm_status_path(shard, path, sizeof path);
  cb_shard_status st;
  if (cb_slurm_status_read(cb_store_db(s), path, &st) || !st.present ||
      strcmp(st.status, "running") != 0)
    return NULL;
  const cb_slurm_job *j = cb_slurm_queue_find(q, st.job);
  if (!j && !(cb_slurm_status_fresh(&st) && !q->available)) return NULL;
  if (j)
    snprintf(why, n, "its task (job %s, %s on %s) is still writing it", j->job, j->state, j->node);
  else
    snprintf(why, n, "its task (job %s on %s) is still writing it (status file %s)", st.job,
             st.host, path);
  return why;
}

static void json_result(const char *shard, const char *result, const cb_merge_stats *m,
                        const char *msg) {
  cb_json j;
  cb_json_init_file(&j, stdout);
  cb_json_obj_begin(&j);
  cb_json_kv_str(&j, "shard", shard);
  cb_json_kv_str(&j, "result", result);
  if (m) {
    cb_json_kv_int(&j, "runs_added", m->runs_added);
    cb_json_kv_int(&j, "runs_updated", m->runs_updated);
    cb_json_kv_int(&j, "runs_unchanged", m->runs_unchanged);
    cb_json_kv_int(&j, "epochs_added", m->epochs_added);
    cb_json_kv_int(&j, "sweeps_added", m->sweeps_added);
    cb_json_kv_int(&j, "positions_added", m->positions_added);
    if (m->migrated_from) cb_json_kv_int(&j, "migrated_from", m->migrated_from);
    cb_json_key(&j, "conflicts");
    cb_json_arr_begin(&j);
    for (int i = 0; i < m->n_conflicts; i++)
      cb_json_str(&j, m->conflicts[i]);
    cb_json_arr_end(&j);
  }
  if (msg) cb_json_kv_str(&j, "message", msg);
  cb_json_obj_end(&j);
  printf("\n");
}

static void merge_one(cb_store *s, const char *shard, const cb_slurm_queue *q, int json,
                      totals *t) {
  char why[512];
  if (still_written(s, shard, q, why, sizeof why)) {
    t->skipped++;
    if (json)
      json_result(shard, "skipped", NULL, why);
    else
      printf("%s: skipped: %s; merge it when the task has ended\n", shard, why);
    return;
  }
  cb_merge_stats m;
  int rc = cb_store_merge(s, shard, &m);
  if (rc < 0) {
    t->errors++;
    if (json)
      json_result(shard, "error", NULL, cb_last_error());
    else
      printf("%s: error, nothing merged: %s\n", shard, cb_last_error());
    return;
  }
  if (rc > 0) {
    t->conflicts++;
    if (json) {
      json_result(shard, "conflict", &m, NULL);
    } else {
      printf("%s: conflict, nothing merged:\n", shard);
      for (int i = 0; i < m.n_conflicts; i++)
        printf("  %s\n", m.conflicts[i]);
    }
    cb_merge_stats_free(&m);
    return;
  }
  t->merged++;
  t->added += m.runs_added;
  t->updated += m.runs_updated;
  t->unchanged += m.runs_unchanged;
  t->epochs += m.epochs_added;
  if (json) {
    json_result(shard, "merged", &m, NULL);
  } else {
    printf("%s: ", shard);
    if (m.migrated_from) printf("(migrated from schema %d) ", m.migrated_from);
    if (!m.runs_added && !m.runs_updated && !m.positions_added && !m.sweeps_added)
      printf("nothing new (%d run%s already there)\n", m.runs_unchanged,
             m.runs_unchanged == 1 ? "" : "s");
    else
      printf("%d run%s added, %d taken further, %d unchanged; %d epoch rows\n", m.runs_added,
             m.runs_added == 1 ? "" : "s", m.runs_updated, m.runs_unchanged, m.epochs_added);
  }
  cb_merge_stats_free(&m);
}

int cb_cmd_merge(int argc, char **argv) {
  cb_cli c;
  const char *db = CB_DEFAULT_DB;
  int json = 0;
  cb_cli_init(
      &c, "clipbench merge", "--db MAIN.db SHARD.db|FOLDER... [options]",
      "Folds results databases (the shards SLURM array tasks write: <db>.slurm/<sweep>/shards/"
      "*.db, or that folder) into the main database, one transaction per shard. Merging twice adds "
      "nothing. A "
      "run present in both must agree on every epoch both have (timing columns aside); the side "
      "that got further wins (more epochs; then finished > failed > pending). Rows that "
      "disagree are a conflict: reported with the run, epoch and column, and nothing of that "
      "shard is merged. Older shards are migrated first; shards from a newer clipbench are "
      "refused. Shards whose task is still running are skipped.");
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "main results database (created when missing)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON object per shard and a summary");
  /* A sweep can have thousands of shards, more than the option parser keeps
   * as positional arguments: they are taken out here and the parser sees
   * only the options. */
  char **opts = calloc((size_t)argc + 1, sizeof *opts);
  cb_paths shards = {0};
  if (!opts) return cb_error("out of memory");
  int n_opts = 0, rc = 0, only_pos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (i == 0 || (!only_pos && a[0] == '-' && strcmp(a, "--") != 0)) {
      opts[n_opts++] = argv[i];
      if (strcmp(a, "--db") == 0 && i + 1 < argc) opts[n_opts++] = argv[++i];
    } else if (!only_pos && strcmp(a, "--") == 0) {
      only_pos = 1;
    } else if (!rc) {
      rc = add_shards(&shards, a);
    }
  }
  if (!rc) rc = cb_cli_parse(&c, n_opts, opts);
  free(opts);
  if (!rc && shards.n == 0)
    rc = cb_error("no shards given; usage: clipbench merge --db MAIN.db SHARD.db... (or the "
                  "folder holding them)");
  int existed = access(db, F_OK) == 0;
  cb_store *s = rc ? NULL : cb_store_open(db, CB_STORE_CREATE);
  if (!s) {
    paths_free(&shards);
    return rc > 0 ? 0 : -1;
  }
  cb_slurm_queue q;
  cb_slurm_queue_read(&q);
  totals t = {0};
  for (int i = 0; i < shards.n; i++)
    merge_one(s, shards.v[i], &q, json, &t);
  cb_slurm_queue_free(&q);
  cb_store_close(s);
  if (!existed && t.merged == 0) {
    /* Nothing could be merged: leave no empty main database behind. */
    char side[4200];
    unlink(db);
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
  }
  int n_shards = shards.n;
  paths_free(&shards);
  if (json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "summary", db);
    cb_json_kv_int(&j, "shards", n_shards);
    cb_json_kv_int(&j, "merged", t.merged);
    cb_json_kv_int(&j, "conflicts", t.conflicts);
    cb_json_kv_int(&j, "errors", t.errors);
    cb_json_kv_int(&j, "skipped", t.skipped);
    cb_json_kv_int(&j, "runs_added", t.added);
    cb_json_kv_int(&j, "runs_updated", t.updated);
    cb_json_kv_int(&j, "runs_unchanged", t.unchanged);
    cb_json_kv_int(&j, "epochs_added", t.epochs);
    cb_json_obj_end(&j);
    printf("\n");
  } else {
    printf("%s: merged %d of %d shard%s: %d run%s added, %d taken further, %d unchanged, %d "
           "epoch rows",
           db, t.merged, n_shards, n_shards == 1 ? "" : "s", t.added, t.added == 1 ? "" : "s",
           t.updated, t.unchanged, t.epochs);
    if (t.skipped) printf("; %d skipped (still running)", t.skipped);
    printf(".\n");
  }
  if (t.conflicts || t.errors) {
    int bad = t.conflicts + t.errors;
    if (t.merged == 0)
      return cb_error("no shard was merged (%d conflicting, %d with errors; listed above)%s",
                      t.conflicts, t.errors, existed ? "" : ", and no main database was created");
    return cb_error("%d of %d shards were not merged (%d conflicting, %d with errors; listed "
                    "above); the other %d were.",
                    bad, n_shards, t.conflicts, t.errors, n_shards - bad);
  }
  return 0;
}

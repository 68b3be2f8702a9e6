/* clipbench sweep FILE.yaml: expand, freeze, run what is missing. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "sweeps/slurm.h"
#include "sweeps/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_table(const cb_sweep *sw, int64_t sweep_id, int json) {
  if (json) {
    for (int i = 0; i < sw->n_runs; i++) {
      const cb_sweep_run *r = &sw->runs[i];
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "sweep", sw->name);
      cb_json_kv_int(&j, "idx", r->idx);
      cb_json_kv_str(&j, "id", r->id);
      cb_json_kv_str(&j, "name", r->name);
      cb_json_kv_str(&j, "status", r->status[0] ? r->status : "new");
      cb_json_kv_bool(&j, "new_in_sweep", r->is_new);
      cb_json_kv_int(&j, "epochs", r->epochs);
      cb_json_key(&j, "point");
      cb_json_raw(&j, r->point);
      cb_json_obj_end(&j);
      printf("\n");
    }
    return;
  }
  /* Column widths from the content. */
  int w[CB_SWEEP_MAX_COLS];
  for (int k = 0; k < sw->n_cols; k++) {
    w[k] = (int)strlen(sw->cols[k]);
    for (int i = 0; i < sw->n_runs; i++) {
      int l = (int)strlen(sw->runs[i].cells[k]);
      if (l > w[k]) w[k] = l;
    }
    if (w[k] > 40) w[k] = 40;
  }
  printf("%5s  %-16s  %-8s", "idx", "run id", "status");
  for (int k = 0; k < sw->n_cols; k++)
    printf("  %-*s", w[k], sw->cols[k]);
  printf("\n");
  int n_new = 0, per[5] = {0};
  for (int i = 0; i < sw->n_runs; i++) {
    const cb_sweep_run *r = &sw->runs[i];
    const char *st = r->status[0] ? r->status : "new";
    printf("%5d  %-16s  %-8s", r->idx, r->id, st);
    for (int k = 0; k < sw->n_cols; k++)
      printf("  %-*.*s", w[k], w[k], r->cells[k]);
    printf("\n");
    n_new += r->is_new;
    per[!strcmp(st, "pending")    ? 0
        : !strcmp(st, "running")  ? 1
        : !strcmp(st, "finished") ? 2
        : !strcmp(st, "failed")   ? 3
                                  : 4]++;
  }
  printf("%s: %d points", sw->name, sw->n_points);
  if (sw->n_excluded) printf(" (%d excluded)", sw->n_excluded);
  printf(" -> %d runs", sw->n_runs);
  if (sw->n_points > sw->n_runs)
    printf(" (%d points share a run: keys that do not apply)", sw->n_points - sw->n_runs);
  if (sweep_id > 0)
    printf("; in the database: %d finished, %d failed, %d running, %d pending, %d new to the sweep",
           per[2], per[3], per[1], per[0], n_new);
  else
    printf("; not in the database yet");
  printf("\n");
}

static int worker_mode(const char *name, const char *db, int threads, int index, int retry,
                       const char *shard_of) {
  cb_sweep_worker_args wa = {.db = db,
                             .sweep = name,
                             .threads = threads,
                             .by_index = index >= 0,
                             .index = index,
                             .retry_failed = retry,
                             .shard_of = shard_of};
  return cb_sweep_worker(&wa);
}

/* The --slurm options: given without --slurm they are a mistake. */
static const char *const SLURM_ONLY[] = {
    "partition", "gpus-per-task", "cpus-per-task", "time",           "mem", "max-running",
    "account",   "submit",        "sbatch",        "max-array-size", NULL};

static void print_summary(const cb_sweep *sw, const cb_sweep_summary *su, const char *db,
                          int json) {
  char d[32];
  cb_sweep_fmt_duration(su->seconds, d, sizeof d);
  if (json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "summary", sw->name);
    cb_json_kv_str(&j, "db", db);
    cb_json_kv_int(&j, "runs", su->total);
    cb_json_kv_int(&j, "finished", su->counts[CB_RUN_FINISHED]);
    cb_json_kv_int(&j, "failed", su->counts[CB_RUN_FAILED]);
    cb_json_kv_int(&j, "pending", su->counts[CB_RUN_PENDING]);
    cb_json_kv_int(&j, "running", su->counts[CB_RUN_RUNNING]);
    cb_json_kv_int(&j, "trained_here", su->started);
    cb_json_kv_int(&j, "finished_here", su->done_here);
    cb_json_kv_int(&j, "failed_here", su->failed_here);
    cb_json_kv_bool(&j, "interrupted", su->interrupted);
    cb_json_kv_num(&j, "seconds", su->seconds);
    cb_json_obj_end(&j);
    printf("\n");
    return;
  }
  int back = su->started - su->done_here - su->failed_here;
  printf("%s: %d runs: %d finished, %d failed, %d pending, %d running; this invocation trained %d "
         "(%d finished, %d failed, %d given back) in %s\n",
         sw->name, su->total, su->counts[CB_RUN_FINISHED], su->counts[CB_RUN_FAILED],
         su->counts[CB_RUN_PENDING], su->counts[CB_RUN_RUNNING], su->started, su->done_here,
         su->failed_here, back, d);
}

/* One line per failed run of the sweep. */
static void print_failures(cb_store *s, int64_t sweep_id) {
  cb_sweep_snapshot ss;
  if (cb_sweep_snapshot_take(s, sweep_id, &ss)) return;
  for (int i = 0; i < ss.n; i++) {
    const cb_run_progress *p = &ss.items[i].p;
    if (strcmp(p->status, "failed") == 0) printf("  failed %s %s: %s\n", p->id, p->name, p->error);
  }
  cb_sweep_snapshot_free(&ss);
}

int cb_cmd_sweep(int argc, char **argv) {
  cb_cli c;
  cb_strlist sets = {0};
  const char *db = CB_DEFAULT_DB, *worker = NULL, *shard_of = NULL;
  int jobs = 0, threads = 0, dry = 0, retry = 0, json = 0, quiet = 0, index = -1;
  int slurm = 0;
  cb_strlist extra = {0};
  cb_slurm_args sa = {0};
  cb_cli_init(
      &c, "clipbench sweep", "FILE.yaml [options]",
      "Expands the sweep file's grid into runs, freezes the expansion into the results database "
      "and trains what is missing: finished runs are skipped, interrupted ones resume from their "
      "checkpoints, runs of live workers are left alone, and a run whose worker died goes back to "
      "pending. Editing the file and running it again adds only the new points. Progress of each "
      "run goes to <db folder>/logs/<run id>.log. Exits non-zero when a run of the sweep failed.");
  c.max_pos = 1;
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "jobs", CB_OPT_INT, &jobs, "N", "worker processes (default: one per GPU, else 1)");
  cb_cli_add(&c, "threads", CB_OPT_INT, &threads, "N",
             "CPU threads per worker (default: cores / workers)");
  cb_cli_add(&c, "dry-run", CB_OPT_FLAG, &dry, NULL,
             "print the expanded runs (position, run id, grid values, status in --db) and exit");
  cb_cli_add(&c, "retry-failed", CB_OPT_FLAG, &retry, NULL, "train the sweep's failed runs again");
  cb_cli_add(&c, "set", CB_OPT_STRLIST, &sets, "KEY=VALUE",
             "override one key in every run (may repeat)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL,
             "runs (--dry-run), events and the summary as JSON lines");
  cb_cli_add(&c, "quiet", CB_OPT_FLAG, &quiet, NULL, "no progress display, only the summary");
  cb_cli_add(&c, "worker", CB_OPT_STR, &worker, "NAME",
             "work as one more worker on sweep NAME already frozen in --db (what --jobs starts)");
  cb_cli_add(&c, "index", CB_OPT_INT, &index, "I",
             "with --worker: train only the run at position I of the sweep (an array task)");
  cb_cli_add(&c, "shard-of", CB_OPT_STR, &shard_of, "MAIN.db",
             "with --index: --db is a shard of MAIN.db (what a SLURM array task runs)");
  cb_cli_add(&c, "slurm", CB_OPT_FLAG, &slurm, NULL,
             "write a SLURM job-array script (one task per unfinished run, each into its own "
             "shard under <db>.slurm/<sweep>/) instead of training here");
  cb_cli_add(&c, "submit", CB_OPT_FLAG, &sa.submit, NULL,
             "with --slurm: submit the script(s) with sbatch and record the job ids");
  cb_cli_add(&c, "partition", CB_OPT_STR, &sa.partition, "P", "with --slurm: #SBATCH --partition");
  cb_cli_add(&c, "account", CB_OPT_STR, &sa.account, "A", "with --slurm: #SBATCH --account");
  cb_cli_add(&c, "time", CB_OPT_STR, &sa.time, "T",
             "with --slurm: #SBATCH --time per task (e.g. 4:00:00)");
  cb_cli_add(&c, "mem", CB_OPT_STR, &sa.mem, "M", "with --slurm: #SBATCH --mem per task (e.g. 8G)");
  cb_cli_add(&c, "cpus-per-task", CB_OPT_INT, &sa.cpus_per_task, "N",
             "with --slurm: CPU cores per task (its threads)");
  cb_cli_add(&c, "gpus-per-task", CB_OPT_INT, &sa.gpus_per_task, "N",
             "with --slurm: GPUs per task");
  cb_cli_add(&c, "max-running", CB_OPT_INT, &sa.max_running, "K",
             "with --slurm: at most K tasks at once (--array=0-N%K)");
  cb_cli_add(&c, "max-array-size", CB_OPT_INT, &sa.max_array_size, "N",
             "with --slurm: split arrays longer than N (default: MaxArraySize from scontrol, "
             "else 1001)");
  cb_cli_add(&c, "sbatch", CB_OPT_STRLIST, &extra, "OPTION",
             "with --slurm: one more #SBATCH line, e.g. --sbatch=--qos=long (may repeat)");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (cb_cli_given(&c, "jobs") && (jobs < 1 || jobs > CB_SWEEP_MAX_JOBS))
    return cb_error_code(CB_EXIT_USAGE, "--jobs %d: give a number of worker processes from 1 to %d",
                         jobs, CB_SWEEP_MAX_JOBS);
  if (threads < 0)
    return cb_error_code(CB_EXIT_USAGE, "--threads %d: give a positive number", threads);
  if (cb_cli_given(&c, "index") && (!worker || index < 0))
    return cb_error_code(CB_EXIT_USAGE,
                         "--index takes a position >= 0 and goes with --worker NAME");
  if (shard_of && index < 0)
    return cb_error_code(CB_EXIT_USAGE, "--shard-of goes with --worker NAME --index I");
  for (int k = 0; SLURM_ONLY[k]; k++)
    if (!slurm && cb_cli_given(&c, SLURM_ONLY[k]))
      return cb_error_code(CB_EXIT_USAGE, "--%s goes with --slurm", SLURM_ONLY[k]);
  if (slurm && (worker || dry || cb_cli_given(&c, "jobs") || cb_cli_given(&c, "threads")))
    return cb_error_code(CB_EXIT_USAGE,
                         "--slurm writes a job array for the cluster; it does not go with %s",
                         worker                     ? "--worker"
                         : dry                      ? "--dry-run"
                         : cb_cli_given(&c, "jobs") ? "--jobs"
                                                    : "--threads (use --cpus-per-task)");
  if (sa.cpus_per_task < 0 || sa.gpus_per_task < 0 || sa.max_running < 0 || sa.max_array_size < 0)
    return cb_error_code(
        CB_EXIT_USAGE,
        "--cpus-per-task, --gpus-per-task, --max-running and --max-array-size take a "
        "positive number");
  for (int k = 0; k < extra.n; k++)
    if (extra.v[k][0] != '-')
      return cb_error_code(CB_EXIT_USAGE,
                           "--sbatch %s: give an sbatch option such as --sbatch=--qos=long",
                           extra.v[k]);
  if (worker) {
    if (c.n_pos) return cb_error_code(CB_EXIT_USAGE, "--worker takes the sweep's name and no file");
    return worker_mode(worker, db, threads, index, retry, shard_of);
  }
  if (c.n_pos != 1)
    return cb_error_code(CB_EXIT_USAGE,
                         "missing FILE.yaml; usage: clipbench sweep FILE.yaml [options]");
  const char *file = c.pos[0];

  cb_sweep sw;
  if (cb_sweep_load(&sw, file, sets.n, sets.v)) return -1;
  /* The data is checked before anything is frozen or queued; a dry run only
   * plans, so there it is a note. */
  if (cb_sweep_check_data(&sw)) {
    if (!dry) {
      cb_sweep_free(&sw);
      return -1;
    }
    fprintf(stderr, "note: %s (training these runs would fail)\n", cb_last_error());
  }
  for (int i = 0; i < sw.n_notes; i++)
    fprintf(stderr, "note: %s\n", sw.notes[i]);

  if (dry) {
    int64_t sweep_id = 0;
    rc = 0;
    if (access(db, F_OK) == 0) {
      cb_store *s = cb_store_open(db, CB_STORE_READONLY);
      rc = s ? cb_sweep_plan(s, &sw, &sweep_id) : -1;
      if (s) cb_store_close(s);
    } else {
      for (int i = 0; i < sw.n_runs; i++)
        sw.runs[i].is_new = 1;
    }
    if (!rc) print_table(&sw, sweep_id, json);
    cb_sweep_free(&sw);
    return rc;
  }

  cb_store *s = cb_store_open(db, CB_STORE_CREATE);
  if (!s) {
    cb_sweep_free(&sw);
    return -1;
  }
  cb_sweep_frozen fz;
  rc = cb_sweep_freeze(s, &sw, retry, &fz);
  if (!rc && !quiet && !json) {
    int fin = 0, fail = 0;
    for (int i = 0; i < sw.n_runs; i++) {
      fin += strcmp(sw.runs[i].status, "finished") == 0;
      fail += strcmp(sw.runs[i].status, "failed") == 0;
    }
    fprintf(stderr, "%s: %d runs in %s (%d new", sw.name, fz.n_listed, db, fz.n_new);
    if (fz.n_retried) fprintf(stderr, ", %d failed set to retry", fz.n_retried);
    fprintf(stderr, "); %d already finished", fin);
    if (fail) fprintf(stderr, ", %d failed (--retry-failed runs them again)", fail);
    fprintf(stderr, "\n");
    if (fz.n_not_in_file)
      fprintf(stderr,
              "note: %d run%s of sweep %s %s no longer in %s; kept (finished results stay listed, "
              "pending ones still run)\n",
              fz.n_not_in_file, fz.n_not_in_file == 1 ? "" : "s", sw.name,
              fz.n_not_in_file == 1 ? "is" : "are", file);
  }
  if (!rc && slurm) {
    sa.db = db;
    sa.sweep = sw.name;
    sa.sweep_id = fz.sweep_id;
    sa.retry_failed = retry;
    sa.json = json;
    sa.n_extra = extra.n;
    sa.extra = extra.v;
    rc = cb_sweep_slurm(s, &sa);
    cb_store_close(s);
    cb_sweep_free(&sw);
    return rc;
  }
  int cuda = 0;
  for (int i = 0; i < sw.n_runs; i++)
    cuda |= sw.runs[i].backend != CB_EXP_BACKEND_CPU;
  cb_sweep_summary su;
  if (!rc) {
    cb_sweep_local_args la = {.db = db,
                              .sweep = sw.name,
                              .sweep_id = fz.sweep_id,
                              .jobs = jobs,
                              .threads = threads,
                              .cuda = cuda,
                              .json = json,
                              .quiet = quiet};
    rc = cb_sweep_run_local(s, &la, &su);
  }
  if (!rc) {
    print_summary(&sw, &su, db, json);
    if (!json) print_failures(s, fz.sweep_id);
    if (su.no_space)
      rc = cb_error_code(CB_EXIT_NOSPACE,
                         "stopped starting runs, no space left; the runs in progress were given "
                         "back and resume when the same command runs again: %s",
                         su.no_space_msg);
    else if (su.interrupted)
      rc = cb_error_code(CB_EXIT_INTERRUPTED,
                         "interrupted; runs in progress were given back and resume from their "
                         "checkpoints when you run the same command again");
    else if (su.counts[CB_RUN_FAILED])
      rc = cb_error(
          "%d of %d runs failed (listed above); fix the cause and run again with --retry-failed "
          "(clipbench status %s --db %s)",
          su.counts[CB_RUN_FAILED], su.total, sw.name, db);
    else if (su.counts[CB_RUN_PENDING] || su.counts[CB_RUN_RUNNING])
      rc = cb_error("%d runs are not finished",
                    su.counts[CB_RUN_PENDING] + su.counts[CB_RUN_RUNNING]);
  }
  cb_store_close(s);
  cb_sweep_free(&sw);
  return rc;
}

/* clipbench bench: throughput and memory of one training step per clipping
 * mode, as ratios measured in one run: each DP mode against our own
 * non-private step, and achieved GFLOP/s against the backend's sgemm (OpenBLAS
 * or cuBLAS) measured in the same run. Each mode runs in a child process so
 * its peak memory is its own. With CUDA the parent never touches the device
 * (a process that initialised CUDA cannot fork children that use it): the
 * backend is resolved, and everything measured, in the children. */
#include "core/base/cli.h"
#include "core/base/cores.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/version.h"
#include "core/cli/bench_load.h"
#include "core/cli/commands.h"
#include "core/dp/dp.h"
#include "core/kernels/philox.h"
#include "core/models/model_opts.h"

#include <cblas.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
  double sec_per_step;
  double peak_rss_mb;
  double backend_peak_mb;
  double dp_mb;
  int ghost_layers, param_layers;
  int ok;
  char err[256];
} bench_result;

typedef struct {
  cb_model_cfg cfg;
  char backend[8]; /* "cpu" or "cuda", resolved */
  int H, W, batch, steps, warmup;
  double clip, sigma;
} bench_args;

/* FLOPs of one non-private step per image: forward, dW, and dX for every
 * conv that needs it (the first layer's input gradient is skipped). */
static double step_flops(const cb_model *m) {
  double f = 0.0;
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    if (nd->kind != CB_NODE_CONV && nd->kind != CB_NODE_CONVT) continue;
    int64_t T, p, d;
    cb_node_gemm_dims(m, nd, &T, &p, &d);
    double g = 2.0 * (double)T * (double)p * (double)d;
    f += g * (nd->needs_dx ? 3.0 : 2.0);
  }
  return f;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void run_mode(const bench_args *a, int mode, bench_result *r) {
  memset(r, 0, sizeof *r);
  const cb_backend *be = cb_backend_get(a->backend);
  cb_model *m = be ? cb_model_create(be, &a->cfg, a->H, a->W) : NULL;
  if (!m || cb_model_alloc(m, a->batch)) {
    snprintf(r->err, sizeof r->err, "%s", cb_last_error());
    return;
  }
  cb_model_init_params(m, 1);
  int64_t T = (int64_t)a->H * a->W, n = (int64_t)a->batch * a->cfg.in_channels * T;
  float *x = malloc(sizeof(float) * n);
  unsigned char *y = malloc((size_t)a->batch * T);
  if (!x || !y) {
    snprintf(r->err, sizeof r->err, "out of memory for the benchmark batch");
    free(x);
    free(y);
    cb_model_free(m);
    return;
  }
  for (int64_t i = 0; i < n; i++)
    x[i] = (float)cb_gauss(5, CB_STREAM_DATA, 0, (uint64_t)i);
  for (int64_t i = 0; i < a->batch * T; i++)
    y[i] = (unsigned char)((i / 97 + i % 13) % a->cfg.classes);
  m->be->upload(m->be, m->input, x, sizeof(float) * n);
  m->be->upload(m->be, m->labels, y, (size_t)a->batch * T);
  cb_dp_cfg dc;
  cb_dp_cfg_default(&dc);
  dc.mode = (cb_clip_mode)mode;
  dc.clip_bound = a->clip;
  dc.noise_multiplier = a->sigma;
  dc.expected_batch = a->batch;
  dc.epochs = 1;
  dc.steps_per_epoch = a->steps + a->warmup;
  cb_dp *dp = cb_dp_create(m, &dc);
  if (!dp) {
    snprintf(r->err, sizeof r->err, "%s", cb_last_error());
    return;
  }
  /* The median step time: on a shared machine one slow step (another
   * process, a page-cache flush) should not move the ratio between modes. */
  double *dt = calloc((size_t)a->steps, sizeof *dt);
  int timed = 0;
  for (int s = 0; dt && s < a->warmup + a->steps; s++) {
    m->be->sync(m->be);
    double t0 = now();
    cb_dp_step_info info = {(uint32_t)s, 0, s};
    if (cb_dp_begin_step(dp, &info)) break;
    cb_model_forward(m, a->batch);
    cb_model_loss(m, a->batch);
    cb_model_backward(m, a->batch);
    if (cb_dp_accumulate(dp, a->batch) || cb_dp_finish_step(dp, NULL)) break;
    m->be->sync(m->be);
    if (s >= a->warmup) dt[timed++] = now() - t0;
  }
  if (!dt || timed < a->steps || m->be->status(m->be)) {
    snprintf(r->err, sizeof r->err, "%s", dt ? cb_last_error() : "out of memory");
    free(dt);
    return;
  }
  qsort(dt, (size_t)timed, sizeof *dt, cmp_double);
  r->sec_per_step = timed % 2 ? dt[timed / 2] : 0.5 * (dt[timed / 2 - 1] + dt[timed / 2]);
  free(dt);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  r->peak_rss_mb = ru.ru_maxrss / 1024.0;
  r->backend_peak_mb = m->be->mem_peak(m->be) / 1048576.0;
  r->dp_mb = cb_dp_bytes(dp) / 1048576.0;
  for (int i = 0; i < m->n_nodes; i++) {
    if (!cb_node_is_param(&m->nodes[i])) continue;
    r->param_layers++;
    r->ghost_layers += cb_dp_node_uses_ghost(dp, i);
  }
  r->ok = 1;
  cb_dp_free(dp);
  cb_model_free(m);
  free(x);
  free(y);
}

/* Runs one mode in a child process and reads its result through a pipe. */
static void run_isolated(const bench_args *a, int mode, bench_result *r) {
  int fd[2];
  memset(r, 0, sizeof *r);
  if (pipe(fd)) {
    snprintf(r->err, sizeof r->err, "pipe failed");
    return;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    /* A bench stopped by a signal must not leave a mode running. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(fd[0]);
    bench_result res;
    run_mode(a, mode, &res);
    ssize_t w = write(fd[1], &res, sizeof res);
    _exit(w == (ssize_t)sizeof res ? 0 : 1);
  }
  close(fd[1]);
  ssize_t got = pid > 0 ? read(fd[0], r, sizeof *r) : -1;
  close(fd[0]);
  int st = 0;
  if (pid > 0) waitpid(pid, &st, 0);
  if (got != (ssize_t)sizeof *r)
    snprintf(r->err, sizeof r->err, "benchmark process died (status %d)", st);
}

/* Best of a few large square sgemm calls through the backend (OpenBLAS's
 * cblas_sgemm on the CPU, cuBLAS on CUDA), synchronised around each. */
static double sgemm_best(const char *backend, int n) {
  const cb_backend *be = cb_backend_get(backend);
  if (!be) return 0.0;
  size_t bytes = sizeof(float) * n * n;
  float *h = malloc(bytes);
  float *A = be->alloc(be, bytes, "sgemm reference"), *B = be->alloc(be, bytes, "sgemm reference"),
        *C = be->alloc(be, bytes, "sgemm reference");
  double best = 0;
  if (h && A && B && C) {
    for (int i = 0; i < n * n; i++)
      h[i] = (float)(i % 7) * 0.1f;
    be->upload(be, A, h, bytes);
    for (int i = 0; i < n * n; i++)
      h[i] = (float)(i % 5) * 0.1f;
    be->upload(be, B, h, bytes);
    for (int r = 0; r < 4; r++) {
      be->sync(be);
      double t = now();
      be->gemm(be, 0, 0, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
      be->sync(be);
      t = now() - t;
      if (r > 0 && 2.0 * n * n * (double)n / t / 1e9 > best)
        best = 2.0 * n * n * (double)n / t / 1e9;
    }
    if (be->status(be)) best = 0.0;
  }
  be->free(be, A);
  be->free(be, B);
  be->free(be, C);
  free(h);
  return best;
}

/* Measured in a child as well: GNU OpenMP is not fork-safe, so the parent
 * must not start a thread pool before it forks the per-mode children (nor
 * initialise CUDA). */
static double sgemm_gflops(const char *backend, int n) {
  int fd[2];
  double g = 0.0;
  if (pipe(fd)) return 0.0;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    double v = sgemm_best(backend, n);
    ssize_t w = write(fd[1], &v, sizeof v);
    _exit(w == (ssize_t)sizeof v ? 0 : 1);
  }
  close(fd[1]);
  if (pid > 0 && read(fd[0], &g, sizeof g) != (ssize_t)sizeof g) g = 0.0;
  close(fd[0]);
  if (pid > 0) waitpid(pid, NULL, 0);
  return g;
}

/* Resolves "cpu", "cuda" or "auto" to the backend the children will use.
 * Anything but "cpu" is resolved in a child, so this process never
 * initialises CUDA. 0, or -1 with cb_error set (e.g. "no CUDA device ..."). */
static int resolve_backend(const char *name, char out[8]) {
  if (strcmp(name, "cpu") == 0) {
    snprintf(out, 8, "cpu");
    return 0;
  }
  if (strcmp(name, "cuda") != 0 && strcmp(name, "auto") != 0)
    return cb_error("--backend must be cpu, cuda or auto; got '%s'", name);
  int fd[2];
  if (pipe(fd)) return cb_error("--backend %s: pipe failed", name);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    char msg[CB_ERRMSG_MAX] = {0};
    const cb_backend *be = cb_backend_get(name);
    /* "+name" on success, "-message" on failure. */
    snprintf(msg, sizeof msg, "%c%s", be ? '+' : '-', be ? be->name : cb_last_error());
    ssize_t w = write(fd[1], msg, sizeof msg);
    _exit(w == (ssize_t)sizeof msg ? 0 : 1);
  }
  close(fd[1]);
  char msg[CB_ERRMSG_MAX] = {0};
  ssize_t got = pid > 0 ? read(fd[0], msg, sizeof msg) : -1;
  close(fd[0]);
  if (pid > 0) waitpid(pid, NULL, 0);
  if (got != (ssize_t)sizeof msg) return cb_error("--backend %s: the probe process died", name);
  msg[sizeof msg - 1] = 0;
  if (msg[0] != '+') return cb_error("%s", msg + 1);
  snprintf(out, 8, "%s", msg + 1);
  return 0;
}

#define N_MODES (CB_CLIP_ADAPTIVE + 1)

/* One model configuration of a bench (one architecture of a preset). */
typedef struct {
  bench_args a;
  double flops, sgemm; /* the non-private step's FLOPs; the sgemm reference */
  int64_t nparams;
  bench_result idle[N_MODES], loaded[N_MODES];
} bench_set;

/* Folds run `round` of a mode into its best-so-far: the fastest median step
 * (the least disturbed run), the largest peak memory. */
static void fold(bench_result *best, const bench_result *one, int round) {
  if (round == 0 || !one->ok) {
    *best = *one;
    return;
  }
  bench_result m = *one;
  m.peak_rss_mb = fmax(m.peak_rss_mb, best->peak_rss_mb);
  m.backend_peak_mb = fmax(m.backend_peak_mb, best->backend_peak_mb);
  if (m.sec_per_step > best->sec_per_step) m.sec_per_step = best->sec_per_step;
  *best = m;
}

/* Progress and ETA on stderr: redrawn in place on a terminal, one line per
 * update when forced (--progress) onto a file or pipe. */
typedef struct {
  int on, tty, done, total;
  double t0;
} progress;

static void fmt_duration(char *b, size_t n, double s) {
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(b, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else
    snprintf(b, n, "%ldm%02lds", t / 60, t % 60);
}

static void progress_show(const progress *p, const bench_set *s, int mode, int loaded, int round,
                          int rounds) {
  if (!p->on) return;
  double el = now() - p->t0;
  char e[32], eta[32] = "--";
  fmt_duration(e, sizeof e, el);
  if (p->done > 0) fmt_duration(eta, sizeof eta, el / p->done * (p->total - p->done));
  fprintf(stderr, "%sbench: %d/%d runs, round %d/%d: %s %s%s; elapsed %s, ETA %s%s",
          p->tty ? "\r" : "", p->done, p->total, round + 1, rounds, CB_ARCH_NAMES[s->a.cfg.arch],
          CB_CLIP_NAMES[mode], loaded ? " (loaded)" : "", e, eta, p->tty ? "\033[K" : "\n");
  fflush(stderr);
}

/* What the numbers were measured on, for the table's caption and the JSON
 * summary. */
typedef struct {
  char date[40], cpu[160], cores_why[160], openblas[200], command[1024];
  int cores, threads, n_pids;
  pid_t pids[CB_LOAD_MAX]; /* the busy processes of --background-load */
} bench_env;

static void env_collect(bench_env *v, int argc, char **argv, int threads) {
  memset(v, 0, sizeof *v);
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(v->date, sizeof v->date, "%Y-%m-%d %H:%M UTC", &tm);
  snprintf(v->cpu, sizeof v->cpu, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) != 0 || !colon) continue;
    colon += 1 + (colon[1] == ' ');
    colon[strcspn(colon, "\n")] = 0;
    snprintf(v->cpu, sizeof v->cpu, "%s", colon);
    break;
  }
  if (f) fclose(f);
  v->cores = cb_cores_available(v->cores_why, sizeof v->cores_why);
  v->threads = threads;
  const char *cfg = openblas_get_config();
  snprintf(v->openblas, sizeof v->openblas, "%s", cfg ? cfg : "unknown");
  v->openblas[strcspn(v->openblas, "\n")] = 0;
  size_t at = (size_t)snprintf(v->command, sizeof v->command, "clipbench");
  for (int i = 0; i < argc && at < sizeof v->command; i++)
    at += (size_t)snprintf(v->command + at, sizeof v->command - at, " %s", argv[i]);
}

/* The JSON line of one mode. */
static void json_mode(const bench_set *s, int k, int load) {
  const bench_result *r = &s->idle[k], *base = &s->idle[CB_CLIP_NONE], *l = &s->loaded[k];
  int on_cuda = strcmp(s->a.backend, "cuda") == 0;
  cb_json j;
  cb_json_init_file(&j, stdout);
  cb_json_obj_begin(&j);
  cb_json_kv_str(&j, "mode", CB_CLIP_NAMES[k]);
  cb_json_kv_str(&j, "backend", s->a.backend);
  cb_json_kv_str(&j, "arch", CB_ARCH_NAMES[s->a.cfg.arch]);
  cb_json_kv_int(&j, "width", s->a.cfg.width);
  cb_json_kv_int(&j, "size", s->a.H);
  cb_json_kv_int(&j, "batch", s->a.batch);
  cb_json_kv_int(&j, "params", s->nparams);
  if (!r->ok) {
    cb_json_kv_str(&j, "error", r->err);
    cb_json_obj_end(&j);
    printf("\n");
    return;
  }
  double mem = on_cuda ? r->backend_peak_mb : r->peak_rss_mb;
  double base_mem = on_cuda ? base->backend_peak_mb : base->peak_rss_mb;
  double gf = s->flops / r->sec_per_step / 1e9;
  cb_json_kv_num(&j, "ms_per_step", 1e3 * r->sec_per_step);
  cb_json_kv_num(&j, "samples_per_s", s->a.batch / r->sec_per_step);
  cb_json_kv_num(&j, "throughput_vs_nonprivate", base->sec_per_step / r->sec_per_step);
  cb_json_kv_num(&j, "peak_rss_mib", r->peak_rss_mb);
  cb_json_kv_num(&j, "memory_vs_nonprivate", mem / base_mem);
  cb_json_kv_num(&j, "backend_peak_mib", r->backend_peak_mb);
  cb_json_kv_num(&j, "dp_buffers_mib", r->dp_mb);
  cb_json_kv_num(&j, "gflops", gf);
  cb_json_kv_num(&j, "sgemm_gflops", s->sgemm);
  cb_json_kv_num(&j, "fraction_of_sgemm", gf / s->sgemm);
  cb_json_kv_int(&j, "ghost_layers", r->ghost_layers);
  cb_json_kv_int(&j, "param_layers", r->param_layers);
  cb_json_kv_int(&j, "background_load", load);
  if (load > 0 && l->ok) {
    cb_json_kv_num(&j, "loaded_ms_per_step", 1e3 * l->sec_per_step);
    cb_json_kv_num(&j, "slowdown_under_load", l->sec_per_step / r->sec_per_step);
  } else if (load > 0) {
    cb_json_kv_str(&j, "loaded_error", l->err);
  }
  cb_json_obj_end(&j);
  printf("\n");
}

static void json_summary(const bench_env *v, const char *blas, double sgemm, int load, int rounds,
                         int steps) {
  cb_json j;
  cb_json_init_file(&j, stdout);
  cb_json_obj_begin(&j);
  cb_json_kv_bool(&j, "summary", 1);
  cb_json_kv_str(&j, "date", v->date);
  cb_json_kv_str(&j, "cpu", v->cpu);
  cb_json_kv_int(&j, "cores_available", v->cores);
  cb_json_kv_str(&j, "cores_limited_by", v->cores_why);
  cb_json_kv_int(&j, "threads", v->threads);
  cb_json_kv_str(&j, "omp_wait_policy", cb_omp_wait_policy_desc());
  cb_json_kv_str(&j, "openblas", v->openblas);
  cb_json_kv_str(&j, "sgemm_reference", blas);
  cb_json_kv_num(&j, "sgemm_gflops", sgemm);
  cb_json_kv_int(&j, "rounds", rounds);
  cb_json_kv_int(&j, "steps", steps);
  cb_json_kv_int(&j, "background_load", load);
  cb_json_key(&j, "background_load_pids");
  cb_json_arr_begin(&j);
  for (int i = 0; i < v->n_pids; i++)
    cb_json_int(&j, v->pids[i]);
  cb_json_arr_end(&j);
  cb_json_kv_str(&j, "clipbench", cb_version_string());
  cb_json_kv_str(&j, "command", v->command);
  cb_json_obj_end(&j);
  printf("\n");
}

static void text_set(const bench_set *s, const int *want, int load) {
  int on_cuda = strcmp(s->a.backend, "cuda") == 0;
  const bench_result *base = &s->idle[CB_CLIP_NONE];
  printf("\n%s width %d depth %d, %dx%d, batch %d, %lld params; non-private step %.2f GFLOP\n",
         CB_ARCH_NAMES[s->a.cfg.arch], s->a.cfg.width, s->a.cfg.depth, s->a.H, s->a.W, s->a.batch,
         (long long)s->nparams, s->flops / 1e9);
  printf("%-22s %9s %10s %8s %9s %8s %10s %8s %7s", "mode", "ms/step", "samples/s", "vs none",
         "peak MiB", "vs none", "GFLOP/s", "of sgemm", "ghost");
  if (load) printf(" %10s %9s", "loaded ms", "slowdown");
  printf("\n");
  for (int k = 0; k < N_MODES; k++) {
    if (!want[k]) continue;
    const bench_result *r = &s->idle[k];
    if (!r->ok) {
      printf("%-22s error: %s\n", CB_CLIP_NAMES[k], r->err);
      continue;
    }
    double sps = s->a.batch / r->sec_per_step, gf = s->flops / r->sec_per_step / 1e9;
    /* Memory that matters: the process's peak RSS on the CPU, the device
     * memory clipbench held on CUDA (the host RSS there is mostly the CUDA
     * runtime). */
    double mem = on_cuda ? r->backend_peak_mb : r->peak_rss_mb;
    double base_mem = on_cuda ? base->backend_peak_mb : base->peak_rss_mb;
    char gh[16];
    snprintf(gh, sizeof gh, "%d/%d", r->ghost_layers, r->param_layers);
    printf("%-22s %9.1f %10.2f %7.2fx %9.0f %7.2fx %10.1f %7.1f%% %7s", CB_CLIP_NAMES[k],
           1e3 * r->sec_per_step, sps, base->sec_per_step / r->sec_per_step, mem, mem / base_mem,
           gf, 100.0 * gf / s->sgemm, k ? gh : "-");
    if (load && s->loaded[k].ok)
      printf(" %10.1f %8.2fx", 1e3 * s->loaded[k].sec_per_step,
             s->loaded[k].sec_per_step / r->sec_per_step);
    else if (load)
      printf("  loaded run failed: %s", s->loaded[k].err);
    printf("\n");
  }
}

/* A Markdown table (the README's performance table is this output). */
static void markdown_head(const bench_env *v, const char *blas, double sgemm, int load) {
  printf("Measured %s on %s (%d core%s available, %s; %d thread%s; OMP_WAIT_POLICY %s; %s; "
         "%s %.0f GFLOP/s), clipbench %s:\n\n",
         v->date, v->cpu, v->cores, v->cores == 1 ? "" : "s", v->cores_why, v->threads,
         v->threads == 1 ? "" : "s", cb_omp_wait_policy_desc(), v->openblas, blas, sgemm,
         cb_version_string());
  printf("    %s\n\n", v->command);
  printf("| model | mode | ms/step | samples/s | vs non-private | peak RSS MiB (vs non-private) | "
         "GFLOP/s (of sgemm) |%s\n",
         load ? " ms/step under load | slowdown |" : "");
  printf("| --- | --- | --- | --- | --- | --- | --- |%s\n", load ? " --- | --- |" : "");
}

static void markdown_set(const bench_set *s, const int *want, int load) {
  const bench_result *base = &s->idle[CB_CLIP_NONE];
  int first = 1;
  for (int k = 0; k < N_MODES; k++) {
    if (!want[k]) continue;
    const bench_result *r = &s->idle[k];
    char model[128] = "";
    if (first)
      snprintf(model, sizeof model, "%s w%d %dx%d b%d (%.2f M params)",
               CB_ARCH_NAMES[s->a.cfg.arch], s->a.cfg.width, s->a.H, s->a.W, s->a.batch,
               s->nparams / 1e6);
    first = 0;
    if (!r->ok) {
      printf("| %s | %s | error: %s |\n", model, CB_CLIP_NAMES[k], r->err);
      continue;
    }
    double gf = s->flops / r->sec_per_step / 1e9;
    printf("| %s | %s | %.0f | %.2f | %.2f | %.0f (%.2f) | %.0f (%.0f %%) |", model,
           CB_CLIP_NAMES[k], 1e3 * r->sec_per_step, s->a.batch / r->sec_per_step,
           base->sec_per_step / r->sec_per_step, r->peak_rss_mb, r->peak_rss_mb / base->peak_rss_mb,
           gf, 100.0 * gf / s->sgemm);
    if (load && s->loaded[k].ok)
      printf(" %.0f | %.2f |", 1e3 * s->loaded[k].sec_per_step,
             s->loaded[k].sec_per_step / r->sec_per_step);
    else if (load)
      printf(" failed | |");
    printf("\n");
  }
}

int cb_cmd_bench(int argc, char **argv) {
  cb_cli c;
  cb_model_opts mo;
  cb_intlist size = {.v = {128, 128}, .n = 2, .min_n = 1, .max_n = 2};
  cb_strlist modes = {0};
  int batch = 10, steps = 3, warmup = 1, rounds = 3, json = 0, markdown = 0, threads = 0;
  int load = 0, force_progress = 0;
  double clip = 1.0, sigma = 1.0;
  const char *backend = "cpu", *preset = NULL;
  cb_cli_init(&c, "clipbench bench", "[options]",
              "Times one training step (forward, backward, per-sample clipping, noise) for\n"
              "each clipping mode and reports samples/s, peak memory, the ratio to the\n"
              "non-private step and achieved GFLOP/s against OpenBLAS sgemm measured in the\n"
              "same run. Each mode runs in its own process so its peak RSS is its own. With\n"
              "--background-load N every run is repeated next to N busy processes and the\n"
              "slowdown factor is reported.");
  cb_model_opts_add(&c, &mo, 16);
  cb_cli_add(&c, "preset", CB_OPT_STR, &preset, "study",
             "study: both architectures at the study's shape (width 32, 224x224, batch 10)");
  cb_cli_add(&c, "size", CB_OPT_INTS, &size, "H [W]", "image size (128)");
  cb_cli_add(&c, "batch-size", CB_OPT_INT, &batch, "B", "images per step (10)");
  cb_cli_deprecated(&c, "batch", "batch-size");
  cb_cli_add(&c, "mode", CB_OPT_STRLIST, &modes, "MODE",
             "none, flat, per_layer, automatic, random_sparsification, adaptive or all; "
             "repeatable (default all)");
  cb_cli_add(&c, "steps", CB_OPT_INT, &steps, "N", "timed steps per run of a mode (3)");
  cb_cli_add(&c, "rounds", CB_OPT_INT, &rounds, "N",
             "runs of every mode, interleaved; ms/step is the fastest run's median step (3)");
  cb_cli_add(&c, "warmup", CB_OPT_INT, &warmup, "N", "untimed steps first (1)");
  cb_cli_add(&c, "clip", CB_OPT_DOUBLE, &clip, "C", "clip bound (1.0)");
  cb_cli_add(&c, "sigma", CB_OPT_DOUBLE, &sigma, "S", "noise multiplier (1.0)");
  cb_cli_add(&c, "threads", CB_OPT_INT, &threads, "N",
             "CPU threads (default: OMP_NUM_THREADS, else the cores this process may use)");
  cb_cli_add(&c, "background-load", CB_OPT_INT, &load, "N",
             "also time every run next to N busy processes (started and ended by the bench) "
             "and report the slowdown (0)");
  cb_cli_add(&c, "backend", CB_OPT_STR, &backend, "cpu|cuda|auto", "compute backend (cpu)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON object per mode, then a summary");
  cb_cli_add(&c, "markdown", CB_OPT_FLAG, &markdown, NULL,
             "a Markdown table with the machine, OpenBLAS, threads, date and command");
  cb_cli_add(&c, "progress", CB_OPT_FLAG, &force_progress, NULL,
             "progress and ETA on stderr even when it is not a terminal");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (size.n == 1) size.v[1] = size.v[0];
  if (batch < 1 || steps < 1 || rounds < 1 || warmup < 0)
    return cb_error("--batch-size, --steps and --rounds must be >= 1");
  if (json && markdown) return cb_error("--json and --markdown: choose one output format");
  if (load < 0 || load > CB_LOAD_MAX)
    return cb_error("--background-load takes 0 to %d busy processes; got %d", CB_LOAD_MAX, load);
  bench_set sets[2];
  int n_sets = 1;
  memset(sets, 0, sizeof sets);
  int archs[2] = {mo.arch, -1};
  if (preset) {
    if (strcmp(preset, "study") != 0) return cb_error("--preset must be study; got '%s'", preset);
    if (cb_cli_given(&c, "arch") || cb_cli_given(&c, "width") || cb_cli_given(&c, "size") ||
        cb_cli_given(&c, "batch-size"))
      return cb_error(
          "--preset study sets --arch (both), --width 32, --size 224 and --batch-size 10; "
          "drop those options or drop --preset");
    archs[0] = CB_ARCH_UNET;
    archs[1] = CB_ARCH_NESTED_UNET;
    n_sets = 2;
    mo.width = 32;
    size.v[0] = size.v[1] = 224;
    batch = 10;
  }
  char be_name[8];
  if (resolve_backend(backend, be_name)) return -1;
  int on_cuda = strcmp(be_name, "cuda") == 0;
  if (load > 0 && on_cuda)
    return cb_error("--background-load measures CPU contention; it applies to --backend cpu");
  int nthreads = threads > 0 ? threads : cb_default_threads();
  if (!on_cuda) cb_backend_cpu()->set_threads(cb_backend_cpu(), nthreads);
  for (int i = 0; i < n_sets; i++) {
    bench_args *a = &sets[i].a;
    mo.arch = archs[i];
    if (cb_model_opts_resolve(&mo, &a->cfg)) return -1;
    snprintf(a->backend, sizeof a->backend, "%s", be_name);
    a->H = size.v[0];
    a->W = size.v[1];
    a->batch = batch;
    a->steps = steps;
    a->warmup = warmup;
    a->clip = clip;
    a->sigma = sigma;
    /* The graph alone (no buffers), so the CPU table serves for any backend. */
    cb_model *probe = cb_model_create(cb_backend_cpu(), &a->cfg, a->H, a->W);
    if (!probe) return -1;
    sets[i].flops = step_flops(probe) * batch;
    sets[i].nparams = probe->n_params;
    cb_model_free(probe);
  }
  int want[N_MODES] = {0}, n_want = 0;
  if (modes.n == 0) {
    for (int k = 0; k < N_MODES; k++)
      want[k] = 1;
  }
  for (int i = 0; i < modes.n; i++) {
    int found = 0;
    if (strcmp(modes.v[i], "all") == 0) {
      for (int k = 0; k < N_MODES; k++)
        want[k] = 1;
      continue;
    }
    if (strcmp(modes.v[i], "nonprivate") == 0) modes.v[i] = "none";
    for (int k = 0; CB_CLIP_NAMES[k]; k++)
      if (strcmp(modes.v[i], CB_CLIP_NAMES[k]) == 0) want[k] = found = 1;
    if (!found)
      return cb_error("--mode must be none, flat, per_layer, automatic, random_sparsification, "
                      "adaptive or all; got '%s'",
                      modes.v[i]);
  }
  want[CB_CLIP_NONE] = 1; /* the baseline of every ratio */
  for (int k = 0; k < N_MODES; k++)
    n_want += want[k];
  bench_env env;
  env_collect(&env, argc, argv, nthreads);
  /* The sgemm reference runs before the busy processes exist. */
  double sgemm = sgemm_gflops(be_name, on_cuda ? 4096 : 2048);
  const char *blas = on_cuda ? "cuBLAS sgemm 4096^3" : "OpenBLAS sgemm 2048^3";
  for (int i = 0; i < n_sets; i++)
    sets[i].sgemm = sgemm;
  if (cb_load_start(load)) return -1;
  const pid_t *pids;
  env.n_pids = cb_load_pids(&pids);
  memcpy(env.pids, pids, sizeof(pid_t) * (size_t)env.n_pids);
  progress pg = {.on = force_progress || isatty(STDERR_FILENO),
                 .tty = isatty(STDERR_FILENO),
                 .total = rounds * n_sets * n_want * (load > 0 ? 2 : 1),
                 .t0 = now()};
  /* Rounds interleave the modes (and the idle and loaded runs of each), so
   * a slow spell of a shared machine hits every mode alike; the fastest run
   * is the least disturbed. Peak memory is the largest of the runs. */
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < n_sets; i++)
      for (int k = 0; k < N_MODES; k++) {
        bench_set *s = &sets[i];
        if (!want[k] || (r > 0 && !s->idle[k].ok)) continue;
        bench_result one;
        progress_show(&pg, s, k, 0, r, rounds);
        run_isolated(&s->a, k, &one);
        fold(&s->idle[k], &one, r);
        pg.done++;
        if (load == 0) continue;
        progress_show(&pg, s, k, 1, r, rounds);
        cb_load_run(1);
        run_isolated(&s->a, k, &one);
        cb_load_run(0);
        fold(&s->loaded[k], &one, r);
        pg.done++;
      }
  if (pg.on && pg.tty) fprintf(stderr, "\r\033[K");
  cb_load_end();
  for (int i = 0; i < n_sets; i++)
    if (!sets[i].idle[CB_CLIP_NONE].ok)
      return cb_error("%s: non-private step failed: %s", CB_ARCH_NAMES[sets[i].a.cfg.arch],
                      sets[i].idle[CB_CLIP_NONE].err);
  if (markdown) markdown_head(&env, blas, sgemm, load);
  if (!json && !markdown)
    printf("clipbench bench: backend %s, %d thread%s (%d core%s available: %s), %s: %.1f "
           "GFLOP/s\n",
           be_name, nthreads, nthreads == 1 ? "" : "s", env.cores, env.cores == 1 ? "" : "s",
           env.cores_why, blas, sgemm);
  for (int i = 0; i < n_sets; i++) {
    if (json)
      for (int k = 0; k < N_MODES; k++) {
        if (want[k]) json_mode(&sets[i], k, load);
      }
    else if (markdown)
      markdown_set(&sets[i], want, load);
    else
      text_set(&sets[i], want, load);
  }
  if (json) json_summary(&env, blas, sgemm, load, rounds, steps);
  if (!json && !markdown) {
    printf("\nms/step: the fastest of %d interleaved runs' median of %d steps. vs none: "
           "throughput and %s relative to the non-private step of this run. GFLOP/s counts the "
           "non-private step's FLOPs (forward, dX, dW) for every mode.\n",
           rounds, steps, on_cuda ? "peak device memory" : "peak RSS");
    if (load)
      printf("loaded ms: the same runs next to %d busy process%s (started and ended by the "
             "bench); slowdown = loaded / idle ms/step, measured interleaved in this run. "
             "OpenMP wait policy: %s.\n",
             load, load == 1 ? "" : "es", cb_omp_wait_policy_desc());
  }
  return 0;
}

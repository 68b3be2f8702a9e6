/* clipbench bench: throughput and memory of one training step per clipping
 * mode, as ratios measured in one run: each DP mode against our own
 * non-private step, and achieved GFLOP/s against the backend's sgemm (OpenBLAS
 * or cuBLAS) measured in the same run. Each mode runs in a child process so
 * its peak memory is its own. With CUDA the parent never touches the device
 * (a process that initialised CUDA cannot fork children that use it): the
 * backend is resolved, and everything measured, in the children. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "core/dp/dp.h"
#include "core/kernels/philox.h"
#include "core/models/model_opts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Progress and ETA on a terminal (stderr, one line rewritten in place): a
 * full bench takes minutes of silence otherwise. The ETA adds each remaining
 * run at its mode's first-round time (the mean of the measured modes before
 * a mode has run once). */
typedef struct {
  int on, total, done;
  double start, mode_s[CB_CLIP_ADAPTIVE + 1];
} progress;

static void progress_show(const progress *p, int round, int rounds, int mode, const int *want,
                          const bench_result *res) {
  if (!p->on) return;
  double known = 0, left = 0;
  int n_known = 0;
  for (int k = 0; k <= CB_CLIP_ADAPTIVE; k++)
    if (p->mode_s[k] > 0) {
      known += p->mode_s[k];
      n_known++;
    }
  double mean = n_known ? known / n_known : 0;
  for (int r = round; r < rounds; r++)
    for (int k = r == round ? mode : 0; k <= CB_CLIP_ADAPTIVE; k++)
      if (want[k] && (r == 0 || res[k].ok)) left += p->mode_s[k] > 0 ? p->mode_s[k] : mean;
  char eta[32] = "ETA ?";
  if (n_known) snprintf(eta, sizeof eta, "ETA %.0fs", left);
  fprintf(stderr, "\r\033[Kbench: round %d/%d, %s (%d/%d runs done, %.0fs elapsed, %s)", round + 1,
          rounds, CB_CLIP_NAMES[mode], p->done, p->total, now() - p->start, eta);
  fflush(stderr);
}

int cb_cmd_bench(int argc, char **argv) {
  cb_cli c;
  cb_model_opts mo;
  cb_intlist size = {.v = {128, 128}, .n = 2, .min_n = 1, .max_n = 2};
  cb_strlist modes = {0};
  int batch = 10, steps = 3, warmup = 1, rounds = 3, json = 0, threads = 0;
  double clip = 1.0, sigma = 1.0;
  const char *backend = "cpu";
  cb_cli_init(
      &c, "clipbench bench", "[options]",
      "Times one training step (forward, backward, per-sample clipping, noise) for each\n"
      "clipping mode and reports samples/s, peak memory, the ratio to the non-private step\n"
      "and achieved GFLOP/s against OpenBLAS sgemm measured in the same run. Each mode runs\n"
      "in its own process so its peak RSS is its own.");
  cb_model_opts_add(&c, &mo);
  mo.width = 16;
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
  cb_cli_add(&c, "threads", CB_OPT_INT, &threads, "N", "CPU threads (default: all cores)");
  cb_cli_add(&c, "backend", CB_OPT_STR, &backend, "cpu|cuda|auto", "compute backend (cpu)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON object per mode, then a summary");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (size.n == 1) size.v[1] = size.v[0];
  if (batch < 1 || steps < 1 || rounds < 1 || warmup < 0)
    return cb_error("--batch-size, --steps and --rounds must be >= 1");
  bench_args a = {0};
  if (cb_model_opts_resolve(&mo, &a.cfg)) return -1;
  if (resolve_backend(backend, a.backend)) return -1;
  int on_cuda = strcmp(a.backend, "cuda") == 0;
  if (threads > 0 && !on_cuda) cb_backend_cpu()->set_threads(cb_backend_cpu(), threads);
  a.H = size.v[0];
  a.W = size.v[1];
  a.batch = batch;
  a.steps = steps;
  a.warmup = warmup;
  a.clip = clip;
  a.sigma = sigma;
  int want[CB_CLIP_ADAPTIVE + 1] = {0};
  if (modes.n == 0) {
    for (int k = 0; k <= CB_CLIP_ADAPTIVE; k++)
      want[k] = 1;
  }
  for (int i = 0; i < modes.n; i++) {
    int found = 0;
    if (strcmp(modes.v[i], "all") == 0) {
      for (int k = 0; k <= CB_CLIP_ADAPTIVE; k++)
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
  /* The graph alone (no buffers), so the CPU table serves for any backend. */
  cb_model *probe = cb_model_create(cb_backend_cpu(), &a.cfg, a.H, a.W);
  if (!probe) return -1;
  double flops = step_flops(probe) * batch;
  int64_t nparams = probe->n_params;
  cb_model_free(probe);
  double peak = sgemm_gflops(a.backend, on_cuda ? 4096 : 2048);
  const char *blas = on_cuda ? "cuBLAS sgemm 4096^3" : "OpenBLAS sgemm 2048^3";
  bench_result res[CB_CLIP_ADAPTIVE + 1];
  /* Rounds interleave the modes, so a slow spell of a shared machine hits
   * every mode alike; the fastest run is the least disturbed. Peak memory is
   * the largest of the runs. */
  progress pr = {.on = !json && isatty(STDERR_FILENO), .start = now()};
  for (int k = 0; k <= CB_CLIP_ADAPTIVE; k++)
    pr.total += want[k] * rounds;
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k <= CB_CLIP_ADAPTIVE; k++) {
      if (!want[k] || (r > 0 && !res[k].ok)) continue;
      bench_result one;
      progress_show(&pr, r, rounds, k, want, res);
      double t0 = now();
      run_isolated(&a, k, &one);
      if (r == 0) pr.mode_s[k] = now() - t0;
      pr.done++;
      if (r == 0 || !one.ok) {
        res[k] = one;
        continue;
      }
      one.peak_rss_mb = fmax(one.peak_rss_mb, res[k].peak_rss_mb);
      one.backend_peak_mb = fmax(one.backend_peak_mb, res[k].backend_peak_mb);
      if (one.sec_per_step > res[k].sec_per_step) one.sec_per_step = res[k].sec_per_step;
      res[k] = one;
    }
  if (pr.on) fprintf(stderr, "\r\033[K");
  if (!res[CB_CLIP_NONE].ok) return cb_error("non-private step failed: %s", res[CB_CLIP_NONE].err);
  const bench_result *base = &res[CB_CLIP_NONE];
  if (!json) {
    printf("clipbench bench: %s width %d depth %d, %dx%d, batch %d, %lld params, backend %s\n",
           CB_ARCH_NAMES[a.cfg.arch], a.cfg.width, a.cfg.depth, a.H, a.W, batch, (long long)nparams,
           a.backend);
    printf("%s: %.1f GFLOP/s; non-private step: %.2f GFLOP\n\n", blas, peak, flops / 1e9);
    printf("%-22s %9s %10s %8s %9s %8s %10s %8s %7s\n", "mode", "ms/step", "samples/s", "vs none",
           "peak MiB", "vs none", "GFLOP/s", "of sgemm", "ghost");
  }
  for (int k = 0; k <= CB_CLIP_ADAPTIVE; k++) {
    if (!want[k]) continue;
    const bench_result *r = &res[k];
    if (!r->ok) {
      if (json)
        printf("{\"mode\":\"%s\",\"error\":", CB_CLIP_NAMES[k]),
            cb_json_fput_string(stdout, r->err), printf("}\n");
      else
        printf("%-22s error: %s\n", CB_CLIP_NAMES[k], r->err);
      continue;
    }
    double sps = batch / r->sec_per_step, gf = flops / r->sec_per_step / 1e9;
    /* Memory that matters: the process's peak RSS on the CPU, the device
     * memory clipbench held on CUDA (the host RSS there is mostly the CUDA
     * runtime). */
    double mem = on_cuda ? r->backend_peak_mb : r->peak_rss_mb;
    double base_mem = on_cuda ? base->backend_peak_mb : base->peak_rss_mb;
    double tr = base->sec_per_step / r->sec_per_step, mr = mem / base_mem;
    if (json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "mode", CB_CLIP_NAMES[k]);
      cb_json_kv_str(&j, "backend", a.backend);
      cb_json_kv_str(&j, "arch", CB_ARCH_NAMES[a.cfg.arch]);
      cb_json_kv_int(&j, "width", a.cfg.width);
      cb_json_kv_int(&j, "size", a.H);
      cb_json_kv_int(&j, "batch", batch);
      cb_json_kv_num(&j, "ms_per_step", 1e3 * r->sec_per_step);
      cb_json_kv_num(&j, "samples_per_s", sps);
      cb_json_kv_num(&j, "throughput_vs_nonprivate", tr);
      cb_json_kv_num(&j, "peak_rss_mib", r->peak_rss_mb);
      cb_json_kv_num(&j, "memory_vs_nonprivate", mr);
      cb_json_kv_num(&j, "backend_peak_mib", r->backend_peak_mb);
      cb_json_kv_num(&j, "dp_buffers_mib", r->dp_mb);
      cb_json_kv_num(&j, "gflops", gf);
      cb_json_kv_num(&j, "sgemm_gflops", peak);
      cb_json_kv_num(&j, "fraction_of_sgemm", gf / peak);
      cb_json_kv_int(&j, "ghost_layers", r->ghost_layers);
      cb_json_kv_int(&j, "param_layers", r->param_layers);
      cb_json_obj_end(&j);
      printf("\n");
    } else {
      char gh[16];
      snprintf(gh, sizeof gh, "%d/%d", r->ghost_layers, r->param_layers);
      printf("%-22s %9.1f %10.2f %7.2fx %9.0f %7.2fx %10.1f %7.1f%% %7s\n", CB_CLIP_NAMES[k],
             1e3 * r->sec_per_step, sps, tr, mem, mr, gf, 100.0 * gf / peak, k ? gh : "-");
    }
  }
  if (!json)
    printf("\nms/step: the fastest of %d interleaved runs' median of %d steps. vs none: "
           "throughput and %s relative to the non-private step of this run. GFLOP/s counts the "
           "non-private step's FLOPs (forward, dX, dW) for every mode.\n",
           rounds, steps, on_cuda ? "peak device memory" : "peak RSS");
  return 0;
}

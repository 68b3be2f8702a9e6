/* The local supervisor of `clipbench sweep`: worker processes, their threads
 * and GPUs, the progress display, signals, and runs of workers that die.
 *
 * Workers are this binary run again (fork, then exec of /proc/self/exe as
 * `clipbench sweep --worker NAME`), so each starts with fresh OpenMP, BLAS
 * and CUDA state configured by its environment: OMP_NUM_THREADS and
 * OPENBLAS_NUM_THREADS get the worker's share of the cores, and
 * CUDA_VISIBLE_DEVICES its GPU. A worker asks the kernel for SIGTERM when the
 * supervisor dies (PR_SET_PDEATHSIG), so killing the supervisor stops the
 * workers and their runs go back to pending at once. Everything the
 * supervisor shows comes from the database, so the display also covers runs
 * of other processes working on the same sweep. */
#define _GNU_SOURCE
#include "core/backend/backend.h"
#include "core/base/cores.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "sweeps/sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 64
#define MAX_CHILDREN CB_SWEEP_MAX_JOBS
#define POLL_TTY_S 1.0
#define POLL_PLAIN_S 2.0
#define RECLAIM_S 15.0
#define PLAIN_STATUS_S 60.0

static volatile sig_atomic_t g_signals;

static void on_signal(int sig) {
  (void)sig;
  g_signals++;
}

static double mono_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
  pid_t pid;
  char worker[256]; /* host:pid, as the store knows it */
  char log[4096];
  int alive;
} child;

typedef struct {
  int idx;
  char status[16];
} seen_status;

typedef struct {
  cb_store *s;
  const cb_sweep_local_args *a;
  char exe[4096];
  char logs[4096];
  int threads, jobs;
  int n_dev;
  char dev[MAX_DEVICES][64];
  child kids[MAX_CHILDREN];
  int n_kids, spawned, live;
  int stopping, killed;
  int no_space; /* a worker stopped on a full disk: start nothing more */
  char no_space_msg[1024];
  int fail_streak;
  char last_worker_error[1024];
  /* display */
  int tty, block_lines;
  seen_status *seen;
  int n_seen;
  int polled;
  double last_poll, last_reclaim, last_plain;
  cb_sweep_snapshot ss;
} local;

/* ---- set-up ---------------------------------------------------------------- */

/* The cores the supervisor may use (affinity, cgroup v2 quota, SLURM), split
 * between the workers. */
static int cpu_count(void) {
  return cb_cores_available(NULL, 0);
}

/* cb_cuda_available() initialises the driver, after which this process could
 * not fork workers that use CUDA: ask in a child. */
static int cuda_usable(const char *visible) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    if (visible) setenv("CUDA_VISIBLE_DEVICES", visible, 1);
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) dup2(fd, STDERR_FILENO);
    _exit(cb_cuda_available() ? 0 : 1);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The GPUs to spread workers over: the entries of CUDA_VISIBLE_DEVICES when
 * it is set, else every device index that answers. */
static void find_devices(local *L) {
  L->n_dev = 0;
  const char *vis = getenv("CUDA_VISIBLE_DEVICES");
  if (vis) {
    if (!*vis || !cuda_usable(NULL)) return;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", vis);
    for (char *tok = strtok(buf, ","); tok && L->n_dev < MAX_DEVICES; tok = strtok(NULL, ","))
      if (*tok) snprintf(L->dev[L->n_dev++], sizeof L->dev[0], "%s", tok);
    return;
  }
  for (int i = 0; i < MAX_DEVICES; i++) {
    char d[16];
    snprintf(d, sizeof d, "%d", i);
    if (!cuda_usable(d)) break;
    snprintf(L->dev[L->n_dev++], sizeof L->dev[0], "%s", d);
  }
}

static void logs_dir(const char *db, char *out, size_t n) {
  char probe[4096];
  cb_sweep_log_path(db, NULL, "x", probe, sizeof probe);
  char *slash = strrchr(probe, '/');
  if (slash) *slash = 0;
  snprintf(out, n, "%s", probe);
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", out);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(buf, 0777);
    *p = '/';
  }
  mkdir(buf, 0777);
}

/* ---- workers ---------------------------------------------------------------- */

static int spawn(local *L) {
  if (L->n_kids == MAX_CHILDREN) {
    /* Reuse the slot of a worker that has exited. */
    int k = 0;
    while (k < L->n_kids && L->kids[k].alive)
      k++;
    if (k == L->n_kids) return cb_error("too many worker processes");
    L->kids[k] = L->kids[--L->n_kids];
  }
  int slot = L->spawned++;
  char threads[16];
  snprintf(threads, sizeof threads, "%d", L->threads);
  const char *dev = L->n_dev ? L->dev[slot % L->n_dev] : NULL;
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return cb_error("cannot start a worker process: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    char log[4200];
    snprintf(log, sizeof log, "%s/worker-%ld.log", L->logs, (long)getpid());
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    setenv("OMP_NUM_THREADS", threads, 1);
    setenv("OPENBLAS_NUM_THREADS", threads, 1);
    if (dev) setenv("CUDA_VISIBLE_DEVICES", dev, 1);
    char *argv[] = {L->exe,      "sweep", "--worker", (char *)L->a->sweep, "--db", (char *)L->a->db,
                    "--threads", threads, NULL};
    execv(L->exe, argv);
    fprintf(stderr, "cannot run %s: %s\n", L->exe, strerror(errno));
    _exit(127);
  }
  child *c = &L->kids[L->n_kids++];
  memset(c, 0, sizeof *c);
  c->pid = pid;
  c->alive = 1;
  char host[256];
  cb_store_worker_name(host, sizeof host);
  char *colon = strrchr(host, ':');
  if (colon) *colon = 0;
  snprintf(c->worker, sizeof c->worker, "%s:%ld", host, (long)pid);
  snprintf(c->log, sizeof c->log, "%s/worker-%ld.log", L->logs, (long)pid);
  L->live++;
  return 0;
}

static int is_ours(const local *L, const char *worker) {
  for (int k = 0; k < L->n_kids; k++)
    if (strcmp(L->kids[k].worker, worker) == 0) return 1;
  return 0;
}

static void last_line(const char *path, char *buf, size_t n) {
  buf[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[1024];
  while (fgets(line, sizeof line, f))
    if (line[0] && line[0] != '\n') snprintf(buf, n, "%s", line);
  fclose(f);
  size_t l = strlen(buf);
  if (l && buf[l - 1] == '\n') buf[l - 1] = 0;
}

static void clear_block(local *L);
static void signal_kids(local *L, int sig);

/* A worker exited: runs it still holds go back to pending (or to failed when
 * this was their last attempt). */
static void reap(local *L, child *c, int status) {
  c->alive = 0;
  L->live--;
  char why[128];
  if (WIFSIGNALED(status))
    snprintf(why, sizeof why, "was killed by signal %d", WTERMSIG(status));
  else
    snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) == CB_EXIT_NOSPACE) {
    /* The disk is full: every run would fail alike. Stop starting runs and
     * let the others give theirs back; a re-run resumes them all. */
    last_line(c->log, L->no_space_msg, sizeof L->no_space_msg);
    L->no_space = 1;
    if (!L->stopping) {
      L->stopping = 1;
      signal_kids(L, SIGTERM);
    }
  }
  int held = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(cb_store_db(L->s),
                         "SELECT id, attempts - interruptions FROM runs WHERE status = 'running' "
                         "AND worker = ?",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, c->worker, -1, SQLITE_STATIC);
    char ids[16][CB_RUN_ID_LEN + 1];
    int att[16], n = 0;
    while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
      snprintf(ids[n], sizeof ids[n], "%s", (const char *)sqlite3_column_text(st, 0));
      att[n++] = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    held = n;
    for (int i = 0; i < n; i++) {
      if (!L->stopping && att[i] >= CB_SWEEP_MAX_ATTEMPTS) {
        char msg[512], log[4096];
        cb_sweep_log_path(L->a->db, NULL, ids[i], log, sizeof log);
        snprintf(msg, sizeof msg,
                 "the worker %s during attempt %d; not retried after %d attempts; see %s", why,
                 att[i], CB_SWEEP_MAX_ATTEMPTS, log);
        cb_store_fail(L->s, ids[i], c->worker, msg);
      } else if (L->stopping) {
        cb_store_release(L->s, ids[i], c->worker); /* we stopped it: not the run's fault */
      } else {
        cb_store_requeue(L->s, ids[i], c->worker); /* it died training: the attempt counts */
      }
      if (!L->stopping && !L->a->quiet) {
        clear_block(L);
        fprintf(stderr, "worker %ld %s while training %s (attempt %d); %s\n", (long)c->pid, why,
                ids[i], att[i],
                att[i] >= CB_SWEEP_MAX_ATTEMPTS ? "failed, not retried"
                                                : "it goes back to pending and resumes");
      }
    }
  }
  int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (clean || L->stopping) {
    unlink(c->log);
    if (clean) L->fail_streak = 0;
  } else {
    /* A worker that died training a run (out of memory, a crash) counts
     * against that run's attempts; one that dies without a run points at
     * the set-up (the database, the binary) and stops the sweep when it
     * keeps happening. */
    if (!held) L->fail_streak++;
    char tail[900];
    last_line(c->log, tail, sizeof tail);
    snprintf(L->last_worker_error, sizeof L->last_worker_error, "worker %ld %s%s%s (log %s)",
             (long)c->pid, why, tail[0] ? ": " : "", tail, c->log);
  }
}

static void reap_all(local *L, int block) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid <= 0) return;
    for (int k = 0; k < L->n_kids; k++)
      if (L->kids[k].alive && L->kids[k].pid == pid) reap(L, &L->kids[k], status);
    block = 0;
  }
}

static void signal_kids(local *L, int sig) {
  for (int k = 0; k < L->n_kids; k++)
    if (L->kids[k].alive) kill(L->kids[k].pid, sig);
}

/* ---- display ------------------------------------------------------------------- */

static void clear_block(local *L) {
  if (!L->tty || !L->block_lines) return;
  fprintf(stderr, "\r\033[%dA\033[J", L->block_lines);
  L->block_lines = 0;
}

static void draw_block(local *L) {
  if (!L->tty || L->a->quiet) return;
  const cb_sweep_snapshot *ss = &L->ss;
  char eta[32];
  cb_sweep_fmt_duration(ss->eta_s, eta, sizeof eta);
  fprintf(stderr, "%s: %d runs: %d finished, %d running, %d failed, %d pending; ETA %s\n",
          L->a->sweep, ss->n, ss->counts[CB_RUN_FINISHED], ss->counts[CB_RUN_RUNNING],
          ss->counts[CB_RUN_FAILED], ss->counts[CB_RUN_PENDING],
          ss->counts[CB_RUN_PENDING] + ss->counts[CB_RUN_RUNNING] ? eta : "-");
  L->block_lines = 1;
  for (int i = 0; i < ss->n && L->block_lines < 9; i++) {
    const cb_run_progress *p = &ss->items[i].p;
    if (strcmp(p->status, "running") != 0) continue;
    fprintf(stderr, "  %s %.48s: epoch %d/%d", p->id, p->name, p->epochs_done, p->epochs_total);
    if (isfinite(p->epsilon)) fprintf(stderr, " eps %.3g", p->epsilon);
    if (isfinite(p->val_dice)) fprintf(stderr, " dice %.3f", p->val_dice);
    fprintf(stderr, "%s\n", is_ours(L, p->worker) ? "" : " (other process)");
    L->block_lines++;
  }
  fflush(stderr);
}

static void event(local *L, const char *what, const cb_sweep_item *it) {
  const cb_run_progress *p = &it->p;
  if (L->a->json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "event", what);
    cb_json_kv_str(&j, "sweep", L->a->sweep);
    cb_json_kv_int(&j, "idx", it->idx);
    cb_json_kv_str(&j, "id", p->id);
    cb_json_kv_str(&j, "name", p->name);
    cb_json_kv_str(&j, "worker", p->worker);
    cb_json_kv_int(&j, "epochs_done", p->epochs_done);
    cb_json_kv_num(&j, "epsilon", p->epsilon);
    cb_json_kv_num(&j, "val_dice", p->val_dice);
    if (strcmp(what, "failed") == 0) cb_json_kv_str(&j, "error", p->error);
    cb_json_obj_end(&j);
    printf("\n");
    fflush(stdout);
  }
  if (L->a->quiet) return;
  clear_block(L);
  fprintf(stderr, "%-8s %s %s", what, p->id, p->name);
  if (strcmp(what, "finished") == 0) {
    double secs =
        isfinite(p->finished_at) && isfinite(p->started_at) ? p->finished_at - p->started_at : NAN;
    char d[32];
    cb_sweep_fmt_duration(secs, d, sizeof d);
    if (isfinite(p->val_dice)) fprintf(stderr, ": dice %.3f", p->val_dice);
    if (isfinite(p->epsilon)) fprintf(stderr, " eps %.3g", p->epsilon);
    fprintf(stderr, " (%s)", d);
  } else if (strcmp(what, "failed") == 0) {
    fprintf(stderr, ": %s", p->error);
  } else if (strcmp(what, "started") == 0 && p->attempts > 1) {
    fprintf(stderr, " (attempt %d, resumes from its checkpoint)", p->attempts);
  }
  fprintf(stderr, "\n");
}

static seen_status *find_seen(local *L, int idx) {
  int lo = 0, hi = L->n_seen - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (L->seen[mid].idx == idx) return &L->seen[mid];
    if (L->seen[mid].idx < idx)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

/* Reads the sweep's progress and reports what changed since the last poll. */
static int poll_db(local *L) {
  cb_sweep_snapshot_free(&L->ss);
  if (cb_sweep_snapshot_take(L->s, L->a->sweep_id, &L->ss)) return -1;
  const cb_sweep_snapshot *ss = &L->ss;
  seen_status *next = calloc((size_t)(ss->n ? ss->n : 1), sizeof *next);
  if (!next) return cb_error("out of memory");
  for (int i = 0; i < ss->n; i++) {
    const cb_sweep_item *it = &ss->items[i];
    const char *now = it->p.status;
    seen_status *was = find_seen(L, it->idx);
    next[i].idx = it->idx;
    snprintf(next[i].status, sizeof next[i].status, "%s", now);
    if (!L->polled || (was && strcmp(was->status, now) == 0)) continue;
    int ran = strcmp(now, "running") == 0;
    if (ran)
      event(L, "started", it);
    else if (strcmp(now, "finished") == 0)
      event(L, "finished", it);
    else if (strcmp(now, "failed") == 0)
      event(L, "failed", it);
    if (strcmp(now, "finished") == 0 && is_ours(L, it->p.worker)) L->fail_streak = 0;
  }
  /* The sweep's items come ordered by idx, so next is sorted. */
  free(L->seen);
  L->seen = next;
  L->n_seen = ss->n;
  L->polled = 1;
  return 0;
}

/* Our live workers' runs get a heartbeat from here too, so that a training
 * step longer than the grace period (a large model on a CPU) never makes
 * them look dead; runs of other processes depend on their own heartbeats. */
static void keep_alive(local *L) {
  for (int i = 0; i < L->ss.n; i++) {
    const cb_run_progress *p = &L->ss.items[i].p;
    if (strcmp(p->status, "running") != 0) continue;
    for (int k = 0; k < L->n_kids; k++)
      if (L->kids[k].alive && strcmp(L->kids[k].worker, p->worker) == 0) {
        cb_store_heartbeat(L->s, p->id, p->worker); /* refused if no longer held: fine */
        break;
      }
  }
}

/* ---- the loop ---------------------------------------------------------------------- */

static int unclaimed(const local *L) {
  return L->ss.counts[CB_RUN_PENDING];
}

static int supervise(local *L) {
  const cb_sweep_local_args *a = L->a;
  int waiting_note = 0;
  for (;;) {
    double now = mono_now();
    if (g_signals && !L->stopping) {
      L->stopping = 1;
      clear_block(L);
      if (!a->quiet)
        fprintf(
            stderr,
            "stopping: the workers give their runs back (they resume from their checkpoints)\n");
      signal_kids(L, SIGTERM);
    }
    if (g_signals > 1 && !L->killed) {
      L->killed = 1;
      signal_kids(L, SIGKILL);
    }
    reap_all(L, 0);
    if (L->fail_streak >= 3 && !L->stopping) {
      L->stopping = 1;
      signal_kids(L, SIGTERM);
    }
    if (now - L->last_reclaim > RECLAIM_S) {
      L->last_reclaim = now;
      keep_alive(L);
      int n = 0;
      if (cb_sweep_reclaim(L->s, a->sweep_id, CB_SWEEP_GRACE_S, CB_SWEEP_MAX_ATTEMPTS, &n))
        return -1;
    }
    int due = now - L->last_poll > (L->tty ? POLL_TTY_S : POLL_PLAIN_S);
    if (due || !L->live) {
      L->last_poll = now;
      if (cb_store_check_file(L->s) || poll_db(L)) return -1;
      clear_block(L);
      draw_block(L);
      if (!L->tty && !a->quiet && !a->json && now - L->last_plain > PLAIN_STATUS_S && L->live) {
        L->last_plain = now;
        char eta[32];
        cb_sweep_fmt_duration(L->ss.eta_s, eta, sizeof eta);
        fprintf(stderr, "%s: %d of %d runs finished, %d running, %d failed; ETA %s\n", a->sweep,
                L->ss.counts[CB_RUN_FINISHED], L->ss.n, L->ss.counts[CB_RUN_RUNNING],
                L->ss.counts[CB_RUN_FAILED], eta);
      }
    }
    if (L->stopping) {
      if (!L->live) return 0;
    } else {
      /* Keep `jobs` workers while runs are waiting to be claimed. */
      int want = unclaimed(L) < L->jobs ? unclaimed(L) : L->jobs;
      while (L->live < want)
        if (spawn(L)) return -1;
      if (!L->live) {
        if (L->ss.counts[CB_RUN_RUNNING] == 0) return 0;
        /* Runs held by other processes: wait for them (or for their
         * heartbeats to go stale, when they are taken back). */
        if (!waiting_note && !a->quiet) {
          clear_block(L);
          fprintf(stderr, "waiting for %d run%s held by other processes\n",
                  L->ss.counts[CB_RUN_RUNNING], L->ss.counts[CB_RUN_RUNNING] == 1 ? "" : "s");
          draw_block(L);
          waiting_note = 1;
        }
        if (now - L->last_reclaim > 5) L->last_reclaim = 0;
      }
    }
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

int cb_sweep_run_local(cb_store *s, const cb_sweep_local_args *a, cb_sweep_summary *out) {
  memset(out, 0, sizeof *out);
  double t0 = mono_now();
  local *L = calloc(1, sizeof *L);
  if (!L) return cb_error("out of memory");
  L->s = s;
  L->a = a;
  L->tty = isatty(STDERR_FILENO) && !a->quiet;
  ssize_t n = readlink("/proc/self/exe", L->exe, sizeof L->exe - 1);
  if (n <= 0) {
    free(L);
    return cb_error("cannot find this program's path (/proc/self/exe): %s", strerror(errno));
  }
  L->exe[n] = 0;
  logs_dir(a->db, L->logs, sizeof L->logs);
  int rc = cb_sweep_reclaim(s, a->sweep_id, CB_SWEEP_GRACE_S, CB_SWEEP_MAX_ATTEMPTS, NULL);
  if (!rc) rc = poll_db(L);
  int todo = rc ? 0 : L->ss.counts[CB_RUN_PENDING];
  if (!rc && a->cuda && todo) find_devices(L);
  L->jobs = a->jobs > 0 ? a->jobs : L->n_dev > 0 ? L->n_dev : 1;
  if (L->jobs > MAX_CHILDREN) L->jobs = MAX_CHILDREN;
  int cores = cpu_count(), eff = todo < L->jobs ? todo : L->jobs;
  L->threads = a->threads > 0 ? a->threads
                              : (cores / (eff > 0 ? eff : 1) > 0 ? cores / (eff > 0 ? eff : 1) : 1);
  if (!rc && todo && !a->quiet) {
    fprintf(stderr, "%s: %d run%s to do: %d worker%s x %d thread%s (%d core%s)", a->sweep, todo,
            todo == 1 ? "" : "s", eff, eff == 1 ? "" : "s", L->threads, L->threads == 1 ? "" : "s",
            cores, cores == 1 ? "" : "s");
    if (L->n_dev) {
      fprintf(stderr, ", GPUs");
      for (int d = 0; d < L->n_dev && d < eff; d++)
        fprintf(stderr, "%s%s", d ? "," : " ", L->dev[d]);
    }
    fprintf(stderr, "; logs in %s\n", L->logs);
  }
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  g_signals = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  if (!rc) rc = supervise(L);
  if (rc) {
    /* The database went away under us: stop the workers before reporting. */
    L->stopping = 1;
    char msg[CB_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", cb_last_error());
    signal_kids(L, SIGTERM);
    while (L->live)
      reap_all(L, 1);
    cb_error("%s", msg);
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (!rc) rc = poll_db(L);
  clear_block(L);
  if (!rc) {
    const cb_sweep_snapshot *ss = &L->ss;
    memcpy(out->counts, ss->counts, sizeof out->counts);
    out->total = ss->n;
    for (int i = 0; i < ss->n; i++) {
      const cb_run_progress *p = &ss->items[i].p;
      if (!is_ours(L, p->worker)) continue;
      out->started++;
      out->done_here += strcmp(p->status, "finished") == 0;
      out->failed_here += strcmp(p->status, "failed") == 0;
    }
    out->interrupted = g_signals > 0;
    if (L->no_space) {
      out->no_space = 1;
      const char *m = strstr(L->no_space_msg, "error: ");
      snprintf(out->no_space_msg, sizeof out->no_space_msg, "%s", m ? m + 7 : L->no_space_msg);
    }
    if (L->fail_streak >= 3 && !out->interrupted)
      rc = cb_error("workers keep failing, stopped: %s", L->last_worker_error);
  }
  out->seconds = mono_now() - t0;
  cb_sweep_snapshot_free(&L->ss);
  free(L->seen);
  free(L);
  return rc;
}

/* Talking to SLURM through its commands (squeue, scontrol, sbatch): no
 * library, so clipbench builds and runs where SLURM is absent. */
#include "core/base/error.h"
#include "sweeps/slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cb_slurm_run(char *const argv[], char *out, size_t n, double timeout_s) {
  if (n) out[0] = 0;
  int fd[2];
  if (pipe(fd)) return cb_error("cannot run %s: pipe: %s", argv[0], strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addclose(&fa, fd[0]);
  posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, fd[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&fa, fd[1]);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid;
  fflush(NULL);
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fd[1]);
  if (rc != 0) {
    close(fd[0]);
    snprintf(out, n, "%s: %s", argv[0], strerror(rc));
    return 127;
  }
  size_t len = 0;
  char buf[4096];
  double deadline = mono_now() + timeout_s;
  int timed_out = 0;
  for (;;) {
    struct pollfd pfd = {fd[0], POLLIN, 0};
    double left = deadline - mono_now();
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    int pr = poll(&pfd, 1, (int)(left * 1000) + 1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) continue;
    ssize_t r = read(fd[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++)
      if (len + 1 < n) out[len++] = buf[i];
  }
  if (n) out[len < n ? len : n - 1] = 0;
  close(fd[0]);
  /* SLURM's commands retry an unreachable controller for a minute or more. */
  if (timed_out) kill(pid, SIGKILL);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return cb_error("waiting for %s: %s", argv[0], strerror(errno));
  if (timed_out) {
    snprintf(out, n, "%s did not answer within %.0f s", argv[0], timeout_s);
    return 124;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The last non-empty line of s, for messages. */
static void last_line(const char *s, char *out, size_t n) {
  const char *end = s + strlen(s);
  while (end > s && (end[-1] == '\n' || end[-1] == ' '))
    end--;
  const char *start = end;
  while (start > s && start[-1] != '\n')
    start--;
  snprintf(out, n, "%.*s", (int)(end - start), start);
}

void cb_slurm_queue_free(cb_slurm_queue *q) {
  free(q->jobs);
  memset(q, 0, sizeof *q);
}

void cb_slurm_queue_read(cb_slurm_queue *q) {
  memset(q, 0, sizeof *q);
  char user[256] = "";
  struct passwd *pw = getpwuid(getuid());
  snprintf(user, sizeof user, "%s", pw ? pw->pw_name : "");
  size_t cap = 1 << 20;
  char *out = malloc(cap);
  if (!out) {
    snprintf(q->why, sizeof q->why, "out of memory");
    return;
  }
  char *argv[] = {"squeue", "-h", "-r", "-o", "%i|%T|%N", user[0] ? "-u" : NULL, user, NULL};
  int rc = cb_slurm_run(argv, out, cap, CB_SLURM_QUERY_TIMEOUT_S);
  if (rc != 0) {
    char line[200];
    last_line(out, line, sizeof line);
    const char *l = strncmp(line, "squeue: ", 8) == 0 ? line + 8 : line;
    if (rc == 127)
      snprintf(q->why, sizeof q->why, "no squeue on this machine");
    else
      snprintf(q->why, sizeof q->why, "squeue failed: %s", l);
    if (rc < 0) cb_error_clear();
    free(out);
    return;
  }
  q->available = 1;
  int lines = 0;
  for (char *p = out; *p; p++)
    lines += *p == '\n';
  q->jobs = calloc((size_t)lines + 1, sizeof *q->jobs);
  if (!q->jobs) {
    q->available = 0;
    snprintf(q->why, sizeof q->why, "out of memory");
    free(out);
    return;
  }
  char *save = NULL;
  for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *a = line, *b = strchr(a, '|');
    if (!b) continue;
    *b++ = 0;
    char *c = strchr(b, '|');
    if (c) *c++ = 0;
    cb_slurm_job *j = &q->jobs[q->n++];
    snprintf(j->job, sizeof j->job, "%s", a);
    snprintf(j->state, sizeof j->state, "%s", b);
    snprintf(j->node, sizeof j->node, "%s", c ? c : "");
  }
  free(out);
}

const cb_slurm_job *cb_slurm_queue_find(const cb_slurm_queue *q, const char *job) {
  if (!job || !*job) return NULL;
  for (int i = 0; i < q->n; i++)
    if (strcmp(q->jobs[i].job, job) == 0) return &q->jobs[i];
  return NULL;
}

int cb_slurm_max_array_size(void) {
  size_t cap = 1 << 18;
  char *out = malloc(cap);
  if (!out) return CB_SLURM_DEFAULT_MAX_ARRAY;
  char *argv[] = {"scontrol", "show", "config", NULL};
  int rc = cb_slurm_run(argv, out, cap, CB_SLURM_QUERY_TIMEOUT_S), v = CB_SLURM_DEFAULT_MAX_ARRAY;
  if (rc < 0) cb_error_clear();
  if (rc == 0) {
    /* "MaxArraySize            = 1001" */
    for (char *p = strstr(out, "MaxArraySize"); p; p = strstr(p + 1, "MaxArraySize")) {
      if (p != out && p[-1] != '\n') continue;
      char *eq = strchr(p, '=');
      long x = eq ? strtol(eq + 1, NULL, 10) : 0;
      if (x > 0) v = (int)x;
      break;
    }
  }
  free(out);
  return v;
}

/* Busy background processes for the bench (see bench_load.h). */
#include "core/cli/bench_load.h"

#include "core/base/error.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t g_pid[CB_LOAD_MAX];
static volatile sig_atomic_t g_n;
static int g_handlers;
static const int SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_SIGNALS (int)(sizeof SIGNALS / sizeof SIGNALS[0])

static void kill_all(void) {
  for (int i = 0; i < g_n; i++)
    if (g_pid[i] > 0) kill(g_pid[i], SIGKILL);
}

/* Async-signal-safe: kill the busy processes, then die of the signal as if
 * there were no handler (the exit status says which signal). */
static void on_signal(int sig) {
  kill_all();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void set_handlers(void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < N_SIGNALS; i++)
    sigaction(SIGNALS[i], &sa, NULL);
}

static void busy(pid_t parent) {
  for (int i = 0; i < N_SIGNALS; i++)
    signal(SIGNALS[i], SIG_DFL);
  /* The kernel kills us when the bench dies, however it dies; if it died
   * before this line, the parent is already someone else. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(0);
  prctl(PR_SET_NAME, "cb-busy");
  volatile unsigned long spin = 0;
  for (;;)
    spin++;
}

int cb_load_start(int n) {
  if (n < 0 || n > CB_LOAD_MAX)
    return cb_error("--background-load takes 0 to %d processes; got %d", CB_LOAD_MAX, n);
  if (n == 0) return 0;
  set_handlers(on_signal);
  g_handlers = 1;
  pid_t parent = getpid();
  for (int i = 0; i < n; i++) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
      int e = errno;
      cb_load_end();
      return cb_error("--background-load: cannot start a busy process: %s", strerror(e));
    }
    if (pid == 0) busy(parent);
    g_pid[i] = pid;
    g_n = i + 1;
    kill(pid, SIGSTOP);
  }
  return 0;
}

void cb_load_run(int on) {
  for (int i = 0; i < g_n; i++)
    kill(g_pid[i], on ? SIGCONT : SIGSTOP);
}

void cb_load_end(void) {
  kill_all();
  for (int i = 0; i < g_n; i++)
    while (waitpid(g_pid[i], NULL, 0) < 0 && errno == EINTR) {
    }
  g_n = 0;
  if (g_handlers) set_handlers(SIG_DFL);
  g_handlers = 0;
}

int cb_load_pids(const pid_t **pids) {
  *pids = g_pid;
  return g_n;
}

/* Cores available to this process and the OpenMP wait policy (see cores.h). */
#define _GNU_SOURCE
#include "core/base/cores.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whole cores of one cpu.max file ("QUOTA PERIOD" or "max PERIOD"); 0 when
 * unlimited or unreadable. */
static int quota_file(const char *path, long long *q_out, long long *p_out) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char quota[32] = {0};
  long long period = 0;
  int ok = fscanf(f, "%31s %lld", quota, &period) == 2;
  fclose(f);
  if (!ok || strcmp(quota, "max") == 0 || period <= 0) return 0;
  char *end = NULL;
  long long q = strtoll(quota, &end, 10);
  if (!end || *end || q <= 0) return 0;
  *q_out = q;
  *p_out = period;
  long long cores = (q + period - 1) / period;
  return cores > 4096 ? 4096 : (int)cores;
}

int cb_cgroup_cpu_quota(const char *cgroup_file, const char *root, char *why, size_t n) {
  FILE *f = fopen(cgroup_file, "r");
  if (!f) return 0;
  char line[4096], rel[4096] = {0};
  int found = 0;
  /* cgroup v2 is the line "0::/path"; v1 controllers have other numbers. */
  while (!found && fgets(line, sizeof line, f)) {
    if (strncmp(line, "0::", 3) != 0) continue;
    snprintf(rel, sizeof rel, "%s", line + 3);
    rel[strcspn(rel, "\n")] = 0;
    found = 1;
  }
  fclose(f);
  if (!found || rel[0] != '/') return 0;
  int best = 0;
  /* The cgroup and each ancestor up to the root: the tightest quota holds. */
  for (;;) {
    char path[8300];
    snprintf(path, sizeof path, "%s%s/cpu.max", root, strcmp(rel, "/") == 0 ? "" : rel);
    long long q = 0, p = 0;
    int c = quota_file(path, &q, &p);
    if (c > 0 && (best == 0 || c < best)) {
      best = c;
      if (why) snprintf(why, n, "cgroup cpu.max %lld/%lld", q, p);
    }
    char *slash = strrchr(rel, '/');
    if (!slash || strcmp(rel, "/") == 0) break;
    if (slash == rel)
      rel[1] = 0;
    else
      *slash = 0;
  }
  return best;
}

int cb_cores_available(char *why, size_t n) {
  int cores = 0;
  char tmp[160] = "";
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    cores = CPU_COUNT(&set);
    snprintf(tmp, sizeof tmp, "affinity %d of %ld", cores, online);
  } else {
    cores = online > 0 ? (int)online : 1;
    snprintf(tmp, sizeof tmp, "%d online", cores);
  }
  char cg[160] = "";
  int q = cb_cgroup_cpu_quota("/proc/self/cgroup", "/sys/fs/cgroup", cg, sizeof cg);
  if (q > 0 && q < cores) {
    cores = q;
    snprintf(tmp, sizeof tmp, "%s", cg);
  }
  const char *slurm = getenv("SLURM_CPUS_PER_TASK");
  if (slurm && *slurm) {
    char *end = NULL;
    long s = strtol(slurm, &end, 10);
    if (end && !*end && s > 0 && s < cores) {
      cores = (int)s;
      snprintf(tmp, sizeof tmp, "SLURM_CPUS_PER_TASK=%ld", s);
    }
  }
  if (why) snprintf(why, n, "%s", tmp);
  return cores > 0 ? cores : 1;
}

int cb_default_threads(void) {
  const char *env = getenv("OMP_NUM_THREADS");
  if (env && *env) {
    /* OpenMP allows a list ("4,2" for nested levels): the first counts. */
    char *end = NULL;
    long v = strtol(env, &end, 10);
    if (end != env && v > 0 && v <= 4096) return (int)v;
  }
  return cb_cores_available(NULL, 0);
}

void cb_omp_wait_policy_reexec(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  /* Set before the exec, so a second pass never loops even if the exec
   * comes back to this point. */
  if (setenv("OMP_WAIT_POLICY", "passive", 1) || setenv("CLIPBENCH_OMP_DEFAULTS", "1", 1)) return;
  /* The resolved path, so the process keeps its name (ps, top show
   * "clipbench", not "exe"); /proc/self/exe itself when the file is gone. */
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  const char *path = "/proc/self/exe";
  if (n > 0 && n < (ssize_t)sizeof self - 1) {
    self[n] = 0;
    if (!strstr(self, " (deleted)") && access(self, X_OK) == 0) path = self;
  }
  execv(path, argv);
  fprintf(stderr,
          "clipbench: warning: cannot re-execute itself (%s) to set OMP_WAIT_POLICY; "
          "OpenMP threads will spin when idle (set OMP_WAIT_POLICY=passive yourself)\n",
          strerror(errno));
  unsetenv("OMP_WAIT_POLICY");
  unsetenv("CLIPBENCH_OMP_DEFAULTS");
}

const char *cb_omp_wait_policy_desc(void) {
  static char buf[96];
  const char *w = getenv("OMP_WAIT_POLICY"), *s = getenv("GOMP_SPINCOUNT");
  const char *by = getenv("CLIPBENCH_OMP_DEFAULTS") ? "set by clipbench" : "from the environment";
  if (w && s)
    snprintf(buf, sizeof buf, "%s, GOMP_SPINCOUNT=%s (%s)", w, s, by);
  else if (w)
    snprintf(buf, sizeof buf, "%s (%s)", w, by);
  else if (s)
    snprintf(buf, sizeof buf, "GOMP_SPINCOUNT=%s (%s)", s, by);
  else
    snprintf(buf, sizeof buf, "libgomp default (spins up to ~300000 iterations)");
  return buf;
}

/* The cores a process may use: cgroup v2 cpu.max quotas read from fixture
 * trees (the cgroup and its ancestors; "max"; v1-only files), the affinity
 * mask and SLURM_CPUS_PER_TASK as limits, and OMP_NUM_THREADS as the user's
 * thread choice. */
#define _GNU_SOURCE
#include "core/base/cores.h"
#include "tests/unit/support.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* root/a/b with /proc/PID/cgroup saying "0::/a/b". */
static const char *tree(const char *name, const char *root_max, const char *a_max,
                        const char *b_max) {
  static char root[512];
  char p[700];
  snprintf(root, sizeof root, "%s", tst_tmp_path(name));
  mkdir(root, 0755);
  snprintf(p, sizeof p, "%s/a", root);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/a/b", root);
  mkdir(p, 0755);
  if (root_max) snprintf(p, sizeof p, "%s/cpu.max", root), put(p, root_max);
  if (a_max) snprintf(p, sizeof p, "%s/a/cpu.max", root), put(p, a_max);
  if (b_max) snprintf(p, sizeof p, "%s/a/b/cpu.max", root), put(p, b_max);
  snprintf(p, sizeof p, "%s/cgroup", root);
  put(p, "0::/a/b\n");
  return root;
}

static int quota(const char *root, char *why, size_t n) {
  char cg[600];
  snprintf(cg, sizeof cg, "%s/cgroup", root);
  return cb_cgroup_cpu_quota(cg, root, why, n);
}

static void test_cgroup_quota(void **state) {
  (void)state;
  char why[160] = "";
  /* 1.5 cores rounds up to 2: a thread per started core. */
  assert_int_equal(quota(tree("q1", NULL, NULL, "150000 100000\n"), why, sizeof why), 2);
  assert_string_equal(why, "cgroup cpu.max 150000/100000");
  /* An ancestor's tighter quota holds. */
  assert_int_equal(quota(tree("q2", NULL, "50000 100000\n", "400000 100000\n"), why, sizeof why),
                   1);
  assert_string_equal(why, "cgroup cpu.max 50000/100000");
  /* No limit anywhere. */
  assert_int_equal(quota(tree("q3", "max 100000\n", "max 100000\n", "max 100000\n"), NULL, 0), 0);
  assert_int_equal(quota(tree("q4", NULL, NULL, NULL), NULL, 0), 0);
  /* A quota on the root counts too. */
  assert_int_equal(quota(tree("q5", "300000 100000\n", NULL, NULL), NULL, 0), 3);
  /* cgroup v1 only (no "0::" line), a missing file, garbage. */
  char p[700];
  const char *r = tree("q6", NULL, NULL, "100000 100000\n");
  snprintf(p, sizeof p, "%s/cgroup", r);
  put(p, "4:cpu,cpuacct:/a/b\n");
  assert_int_equal(quota(r, NULL, 0), 0);
  assert_int_equal(cb_cgroup_cpu_quota("/nonexistent/cgroup", r, NULL, 0), 0);
  assert_int_equal(quota(tree("q7", NULL, NULL, "lots 100000\n"), NULL, 0), 0);
}

static void test_limits(void **state) {
  (void)state;
  char why[160];
  int all = cb_cores_available(why, sizeof why);
  assert_true(all >= 1);
  setenv("SLURM_CPUS_PER_TASK", "1", 1);
  assert_int_equal(cb_cores_available(why, sizeof why), 1);
  if (all > 1) assert_string_equal(why, "SLURM_CPUS_PER_TASK=1");
  setenv("SLURM_CPUS_PER_TASK", "100000", 1); /* a limit never raises the count */
  assert_int_equal(cb_cores_available(NULL, 0), all);
  unsetenv("SLURM_CPUS_PER_TASK");
  cpu_set_t old, one;
  assert_int_equal(sched_getaffinity(0, sizeof old, &old), 0);
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &old)) {
      CPU_SET(c, &one);
      break;
    }
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  assert_int_equal(cb_cores_available(why, sizeof why), 1);
  assert_non_null(strstr(why, "affinity 1 of"));
  assert_int_equal(sched_setaffinity(0, sizeof old, &old), 0);
}

static void test_default_threads(void **state) {
  (void)state;
  setenv("OMP_NUM_THREADS", "3", 1);
  assert_int_equal(cb_default_threads(), 3);
  setenv("OMP_NUM_THREADS", "5,2", 1); /* the outer level of a nested list */
  assert_int_equal(cb_default_threads(), 5);
  setenv("OMP_NUM_THREADS", "many", 1);
  assert_int_equal(cb_default_threads(), cb_cores_available(NULL, 0));
  unsetenv("OMP_NUM_THREADS");
  assert_int_equal(cb_default_threads(), cb_cores_available(NULL, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cgroup_quota),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_default_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Linked into every CPU unit test: when CB_KERNEL_COVERAGE_DIR is set, the
 * test writes how often it launched each kernel of CB_KERNEL_LIST to
 * DIR/<executable>.cov at exit, for check_kernel_coverage. */
#include "core/backend/backend.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CB_KNAME(name) #name,
static const char *const NAMES[] = {CB_KERNEL_LIST(CB_KNAME)};
#undef CB_KNAME

static void dump(void) {
  const char *dir = getenv("CB_KERNEL_COVERAGE_DIR");
  char exe[PATH_MAX], path[PATH_MAX + 64];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (!dir || len <= 0) return;
  exe[len] = 0;
  const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
  snprintf(path, sizeof path, "%s/%s.cov", dir, base);
  FILE *f = fopen(path, "w");
  if (!f) return;
  const uint64_t *n = cb_cpu_kernel_launches();
  for (int k = 0; k < CB_KID_COUNT; k++)
    fprintf(f, "%s %llu\n", NAMES[k], (unsigned long long)n[k]);
  fclose(f);
}

__attribute__((constructor)) static void install(void) {
  if (getenv("CB_KERNEL_COVERAGE_DIR")) atexit(dump);
}

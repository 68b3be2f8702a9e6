/* Proves that the CPU unit tests run every kernel of CB_KERNEL_LIST, so the
 * arithmetic the CUDA backend shares with the CPU (core/kernels) is checked
 * by tests that run on every machine.
 *
 *   check_kernel_coverage reset DIR
 *   check_kernel_coverage check DIR TEST...
 *
 * CTest runs `reset` before the unit tests (fixture setup) and `check` after
 * them (fixture cleanup); each unit test writes DIR/TEST.cov at exit
 * (kernel_launch_dump.c). `check` fails when a kernel was launched by no
 * test, and reports SKIPPED (77) when some of the tests did not run (a
 * subset was selected) or died before writing, since the claim is about
 * the whole suite. */
#include "core/kernels/kernels.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CB_KNAME(name) #name,
static const char *const NAMES[] = {CB_KERNEL_LIST(CB_KNAME)};
#undef CB_KNAME

static int reset(const char *dir) {
  mkdir(dir, 0755);
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "check_kernel_coverage: cannot open %s\n", dir);
    return 1;
  }
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".cov")) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  closedir(d);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "reset") == 0) return reset(argv[2]);
  if (argc < 4 || strcmp(argv[1], "check") != 0) {
    fprintf(stderr, "usage: check_kernel_coverage reset DIR | check DIR TEST...\n");
    return 2;
  }
  unsigned long long total[CB_KID_COUNT] = {0};
  int tests[CB_KID_COUNT] = {0}, missing = 0;
  char path[4096], name[128];
  for (int t = 3; t < argc; t++) {
    snprintf(path, sizeof path, "%s/%s.cov", argv[2], argv[t]);
    FILE *f = fopen(path, "r");
    if (!f) {
      printf("not run (or died before exit): %s\n", argv[t]);
      missing++;
      continue;
    }
    unsigned long long n;
    while (fscanf(f, "%127s %llu", name, &n) == 2)
      for (int k = 0; k < CB_KID_COUNT; k++)
        if (strcmp(name, NAMES[k]) == 0) {
          total[k] += n;
          tests[k] += n > 0;
        }
    fclose(f);
  }
  if (missing) {
    printf("SKIPPED: kernel coverage is a claim about the whole CPU suite; %d of %d unit tests "
           "did not report (run all unit tests)\n",
           missing, argc - 3);
    return 77;
  }
  int uncovered = 0;
  for (int k = 0; k < CB_KID_COUNT; k++) {
    printf("%-16s launched %10llu times by %2d test(s)\n", NAMES[k], total[k], tests[k]);
    if (!total[k]) {
      printf("  FAIL: kernel %s is run by no CPU unit test: add a test that checks its "
             "arithmetic (tests/unit/test_kernels.c has direct ones)\n",
             NAMES[k]);
      uncovered++;
    }
  }
  printf("kernels run by the CPU suite: %d of %d\n", CB_KID_COUNT - uncovered, CB_KID_COUNT);
  return uncovered ? 1 : 0;
}

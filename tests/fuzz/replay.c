/* fuzz_replay TARGET DIR...: runs every file of the folders (seed corpus,
 * committed crash reproducers) through the fuzz target's entry function,
 * with the normal compiler and no libFuzzer, so CI keeps checking the found
 * bugs. A broken property aborts (the message names the input); exit 0
 * otherwise. A missing folder is fine (no reproducers yet). */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef int (*entry_fn)(const uint8_t *, size_t);

static const struct {
  const char *name;
  entry_fn fn;
} TARGETS[] = {
#define CB_FUZZ_ROW(n) {#n, cb_fuzz_##n},
    CB_FUZZ_TARGETS(CB_FUZZ_ROW)
#undef CB_FUZZ_ROW
};

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(entry_fn fn, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fuzz_replay: cannot read %s\n", path);
    return -1;
  }
  size_t cap = 4096, len = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  fclose(f);
  if (!buf) return -1;
  /* An exactly-sized copy, so ASan sees reads past the end. */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) return -1;
  memcpy(exact, buf, len);
  free(buf);
  cb_fuzz_current = path;
  fn(exact, len);
  cb_fuzz_current = NULL;
  free(exact);
  return 0;
}

static int run_dir(entry_fn fn, const char *dir, int *count) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md")) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nn = realloc(names, (size_t)cap * sizeof *nn);
      if (!nn) abort();
      names = nn;
    }
    size_t l = strlen(dir) + strlen(e->d_name) + 2;
    names[n] = malloc(l);
    if (!names[n]) abort();
    snprintf(names[n++], l, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (n) qsort(names, (size_t)n, sizeof *names, cmp_str);
  int rc = 0;
  for (int i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(fn, names[i])) rc = -1;
      (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: fuzz_replay TARGET [DIR|FILE]...\ntargets:");
    for (size_t t = 0; t < sizeof TARGETS / sizeof TARGETS[0]; t++)
      fprintf(stderr, " %s", TARGETS[t].name);
    fprintf(stderr, "\n");
    return 2;
  }
  entry_fn fn = NULL;
  for (size_t t = 0; t < sizeof TARGETS / sizeof TARGETS[0]; t++)
    if (!strcmp(TARGETS[t].name, argv[1])) fn = TARGETS[t].fn;
  if (!fn) {
    fprintf(stderr, "fuzz_replay: unknown target '%s'\n", argv[1]);
    return 2;
  }
  int count = 0, rc = 0;
  for (int a = 2; a < argc; a++) {
    struct stat st;
    if (stat(argv[a], &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(fn, argv[a])) rc = 1;
      count++;
    } else if (run_dir(fn, argv[a], &count)) {
      rc = 1;
    }
  }
  printf("fuzz_replay %s: %d inputs passed\n", argv[1], count);
  if (count == 0) {
    fprintf(stderr, "fuzz_replay: no inputs found for %s\n", argv[1]);
    return 1;
  }
  return rc;
}

/* Helpers shared by the fuzz targets (see fuzz.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "core/base/error.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cb_fuzz_current;

void cb_fuzz_accepted(const char *reader) {
  const char *base = cb_fuzz_current ? strrchr(cb_fuzz_current, '/') : NULL;
  base = base ? base + 1 : cb_fuzz_current;
  CB_FUZZ_CHECK(!base || strncmp(base, "reject_", 7) != 0,
                "%s accepted an input that must be refused", reader);
}

void cb_fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "\n%s:%d: fuzz property failed: %s\n  ", file, line, cond);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  if (cb_fuzz_current) fprintf(stderr, "  input: %s\n", cb_fuzz_current);
  fflush(stderr);
  abort();
}

static char g_tmp[256];
static pid_t g_owner;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p) == 0 ? 0 : 0;
}

static void rm_tmp(void) {
  /* Only the process that made it (libFuzzer -fork children inherit atexit). */
  if (g_tmp[0] && getpid() == g_owner) nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *cb_fuzz_tmpdir(void) {
  if (!g_tmp[0]) {
    /* tmpfs when there is one: the writers fsync, which is slow on disk. */
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_tmp, sizeof g_tmp, "%s/cbfuzz-XXXXXX", base);
    if (!mkdtemp(g_tmp)) {
      fprintf(stderr, "fuzz: cannot create a temporary folder %s: %s\n", g_tmp, strerror(errno));
      abort();
    }
    g_owner = getpid();
    atexit(rm_tmp);
  }
  return g_tmp;
}

char *cb_fuzz_path(char *path, size_t n, const char *rel) {
  snprintf(path, n, "%s/%s", cb_fuzz_tmpdir(), rel);
  return path;
}

int cb_fuzz_write(const char *path, const uint8_t *data, size_t size) {
  /* Create missing parent folders. */
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", path);
  for (char *p = dir + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(dir, 0700);
      *p = '/';
    }
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
    abort();
  }
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  return 0;
}

char *cb_fuzz_text(const uint8_t *data, size_t size) {
  if (memchr(data, 0, size)) return NULL;
  char *s = malloc(size + 1);
  if (!s) abort();
  memcpy(s, data, size);
  s[size] = 0;
  return s;
}

void cb_fuzz_check_error(const char *reader, const char *name) {
  const char *msg = cb_last_error();
  /* CB_FUZZ_VERBOSE=1 fuzz_replay ...: show what each input is told. */
  static int verbose = -1;
  if (verbose < 0) verbose = getenv("CB_FUZZ_VERBOSE") != NULL;
  if (verbose) fprintf(stderr, "%s: %s: %s\n", cb_fuzz_current ? cb_fuzz_current : "", reader, msg);
  CB_FUZZ_CHECK(strcmp(msg, "unknown error") != 0 && msg[0],
                "%s failed without a message (silent failure)", reader);
  CB_FUZZ_CHECK(!strchr(msg, '\n') && !strchr(msg, '\r'), "%s: message is not one line: %s", reader,
                msg);
  if (name)
    CB_FUZZ_CHECK(strstr(msg, name) != NULL, "%s: message does not name the file %s: %s", reader,
                  name, msg);
}

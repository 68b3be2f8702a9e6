#include "core/cuda/diag.h"

#include "core/base/error.h"

#include <stdio.h>
#include <string.h>

#define MIB(b) ((double)(b) / 1048576.0)

void cb_cuda_oom_message(char *buf, size_t n, const char *what, size_t bytes, size_t free_bytes,
                         size_t total_bytes, size_t held_bytes) {
  snprintf(buf, n,
           "out of GPU memory allocating %.1f MiB for %s (device: %.0f MiB free of %.0f MiB; "
           "clipbench holds %.1f MiB); lower max_physical_batch (the images per physical chunk) "
           "or use a smaller model or image size",
           MIB(bytes), what && *what ? what : "a buffer", MIB(free_bytes), MIB(total_bytes),
           MIB(held_bytes));
}

int cb_cuda_tf32_setting(const char *value, int *on) {
  *on = 0;
  if (!value || !*value || strcmp(value, "0") == 0) return 0;
  if (strcmp(value, "1") == 0) {
    *on = 1;
    return 0;
  }
  return cb_error("CLIPBENCH_TF32 must be 0 (FP32 GEMMs, the default) or 1 (allow TF32 tensor "
                  "cores), got '%s'",
                  value);
}

#include "core/backend/backend.h"
#include "core/base/error.h"

#include <string.h>

#ifndef CB_HAVE_CUDA
const cb_backend *cb_backend_cuda(void) {
  cb_error("this clipbench was built without the CUDA backend (no nvcc at build time); "
           "use --backend cpu or rebuild on a machine with the CUDA toolkit");
  return NULL;
}
int cb_cuda_available(void) {
  return 0;
}
#endif

const cb_backend *cb_backend_get(const char *name) {
  if (!name || strcmp(name, "cpu") == 0) return cb_backend_cpu();
  if (strcmp(name, "cuda") == 0) return cb_backend_cuda();
  if (strcmp(name, "auto") == 0) return cb_cuda_available() ? cb_backend_cuda() : cb_backend_cpu();
  cb_error("unknown backend '%s' (accepted: cpu, cuda, auto)", name);
  return NULL;
}

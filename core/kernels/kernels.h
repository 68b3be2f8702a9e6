/* The list of custom kernels. Each entry names an argument struct cb_k_NAME
 * and a body cb_kb_NAME(index, args) defined in the headers below. Backends
 * expand this list: the CPU backend into OpenMP loops, the CUDA backend into
 * grid-stride kernels. Adding a kernel = a body + one line here. */
#ifndef CB_KERNELS_KERNELS_H
#define CB_KERNELS_KERNELS_H

#include "core/kernels/conv.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/loss.h"
#include "core/kernels/norm.h"
#include "core/kernels/pool.h"
#include "core/kernels/reduce.h"
#include "core/kernels/update.h"

#define CB_KERNEL_LIST(X) \
  X(fill)                 \
  X(scale)                \
  X(axpy)                 \
  X(relu_fwd)             \
  X(relu_bwd)             \
  X(concat_fwd)           \
  X(concat_bwd)           \
  X(add_bias)             \
  X(bias_grad)            \
  X(mask_rows)            \
  X(argmax)               \
  X(im2col)               \
  X(col2im)               \
  X(maxpool_fwd)          \
  X(maxpool_bwd)          \
  X(upsample_fwd)         \
  X(upsample_bwd)         \
  X(gn_stats)             \
  X(gn_fwd)               \
  X(gn_bwd_reduce)        \
  X(gn_bwd_dx)            \
  X(gn_param_grad)        \
  X(softmax_nll)          \
  X(loss_reduce)          \
  X(loss_bwd)             \
  X(batch_loss_fwd)       \
  X(batch_loss_bwd)       \
  X(row_sumsq)            \
  X(noise)                \
  X(sgd)                  \
  X(adam)

/* clang-format cannot see that the list expands to enumerators. */
/* clang-format off */
typedef enum {
#define CB_KID(name) CB_KID_##name,
  CB_KERNEL_LIST(CB_KID)
#undef CB_KID
  CB_KID_COUNT
} cb_kernel_id;
/* clang-format on */

#endif

/* The C interface of a device plugin of rmsprop-native: librmsprop_cuda.so (the CUDA kernels,
 * cuda/rmsprop_cuda.cu) or the host emulator used to test the addon's device path without a GPU
 * (cuda/emulator/). The addon loads a plugin with dlopen on the first use of device: 'cuda', so
 * the main .node never needs CUDA libraries. Every function returns 0 or an error code whose
 * message comes from rmsprop_cuda_error_string; none throws or aborts. */
#ifndef RMSPROP_CUDA_H
#define RMSPROP_CUDA_H
#include <stddef.h>
#include <stdint.h>

#include "step_scalars.h"

#if defined(_WIN32)
#define RMSPROP_CUDA_API __declspec(dllexport)
#else
#define RMSPROP_CUDA_API __attribute__((visibility("default")))
#endif

/* Bumped whenever a signature or struct below changes; the addon refuses another version. */
#ifndef RMSPROP_CUDA_ABI_VERSION  /* overridable only to test that the addon refuses another version */
#define RMSPROP_CUDA_ABI_VERSION 6
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The dtype of a step's parameters (rmsprop_cuda_step_config.dtype). */
enum rmsprop_cuda_dtype {
  RMSPROP_CUDA_FLOAT32 = 0,
  RMSPROP_CUDA_FLOAT64 = 1,
  RMSPROP_CUDA_FLOAT16 = 2,  /* IEEE binary16 parameters; state, master copy and math float32 */
  RMSPROP_CUDA_BFLOAT16 = 3  /* bfloat16 parameters; state, master copy and math float32 */
};

/* One tensor of a step; every pointer is device memory. The parameter is of the step's dtype;
 * the state is of the state's dtype (float32 for half precision); the gradient is of the
 * parameter's dtype, or float32 where grad_float32 is set (half precision only). Pointers that
 * are 16-byte aligned (every cudaMalloc'd buffer at a 16-byte multiple offset) get vector loads. */
typedef struct {
  void* param;
  void* mean_square;
  void* moment;
  void* mean_grad;   /* null unless centered */
  const void* grad;
  void* master;      /* half precision with master weights: the float32 copy the update applies to
                        (the parameter is its rounding); else null */
  int grad_float32;  /* half precision: the gradient is float32 (else of the parameter's dtype) */
  uint64_t size;
  uint64_t slices;   /* 0: none; >= 1: gradient centralization over this many slices along axis 0 (dividing size) */
  double lr;
  double weight_decay; /* the factor wd·L (coupled), or wd (decoupled) */
  unsigned variant;  /* the update's variant bits (variants.h: kCoupledDecay, ...;
                        coupled weight decay is also in the slice means of centralization) */
} rmsprop_cuda_tensor;

typedef struct {
  rmsprop_shared_scalars shared; /* ρ, β, ε, 1/L and where 1 − ρ is formed (step_scalars.h) */
  int centered;
  int dtype;         /* every tensor's parameter dtype: an rmsprop_cuda_dtype */
} rmsprop_cuda_step_config;

/* A queue of work on the device (a CUDA stream) with its own launch tables. One thread at a time. */
typedef struct rmsprop_cuda_queue_s* rmsprop_cuda_queue;

enum rmsprop_cuda_copy_kind {
  RMSPROP_CUDA_HOST_TO_DEVICE = 1,
  RMSPROP_CUDA_DEVICE_TO_HOST = 2,
  RMSPROP_CUDA_DEVICE_TO_DEVICE = 3
};

RMSPROP_CUDA_API int rmsprop_cuda_abi_version(void);

/* The number of devices (0 without a driver, without a GPU, or when the current GPU cannot run the
 * built kernels: the CUDA plugin needs compute capability 8.0 or newer); never fails. */
RMSPROP_CUDA_API int rmsprop_cuda_device_count(void);

/* The current device's name into `out` (NUL-terminated, truncated to `size`). */
RMSPROP_CUDA_API int rmsprop_cuda_device_name(char* out, size_t size);

RMSPROP_CUDA_API int rmsprop_cuda_malloc(void** ptr, size_t bytes);
RMSPROP_CUDA_API int rmsprop_cuda_free(void* ptr);
/* Page-locked host memory (staging for copies that overlap with other work). */
RMSPROP_CUDA_API int rmsprop_cuda_host_alloc(void** ptr, size_t bytes);
RMSPROP_CUDA_API int rmsprop_cuda_host_free(void* ptr);

RMSPROP_CUDA_API int rmsprop_cuda_queue_create(rmsprop_cuda_queue* out);
RMSPROP_CUDA_API int rmsprop_cuda_queue_destroy(rmsprop_cuda_queue queue);

/* Enqueues a copy of `bytes` bytes; host memory must stay valid until the queue is synchronized. */
RMSPROP_CUDA_API int rmsprop_cuda_copy_async(rmsprop_cuda_queue queue, void* dst, const void* src, size_t bytes, int kind);

/* Enqueues one RMSProp step over `count` tensors of one dtype: at most two launches (the slice
 * means of centralized tensors, then the fused update). `tensors` is copied before returning. */
RMSPROP_CUDA_API int rmsprop_cuda_step_async(rmsprop_cuda_queue queue, const rmsprop_cuda_tensor* tensors, size_t count,
                                             const rmsprop_cuda_step_config* config);

/* Enqueues the check of every gradient of `count` tensors of one dtype (the config's) for inf and
 * NaN (gradients as the records say: of the parameter's dtype, or float32): one launch over the
 * same chunk table as the step's; where an element is not finite the kernel writes 1 to
 * `*flag` (4 bytes of device memory, which the caller zeroes first and reads after
 * synchronizing). Nothing else is written. */
RMSPROP_CUDA_API int rmsprop_cuda_check_finite_async(rmsprop_cuda_queue queue, const rmsprop_cuda_tensor* tensors,
                                                     size_t count, const rmsprop_cuda_step_config* config,
                                                     uint32_t* flag);

/* Waits for everything enqueued; returns the first error of that work, if any. */
RMSPROP_CUDA_API int rmsprop_cuda_synchronize(rmsprop_cuda_queue queue);

RMSPROP_CUDA_API const char* rmsprop_cuda_error_string(int code);

#ifdef __cplusplus
}
#endif
#endif

/* The C interface of the CUDA plugin (librmsprop_cuda.so), meant to be loaded with dlopen so that
 * the main addon never needs CUDA libraries. Work in progress (issue 8): the kernels below are
 * compiled in CI and checked against a float64 reference on a GPU by cuda/test/cuda_tests.cu;
 * the addon does not load the plugin yet. */
#ifndef RMSPROP_CUDA_H
#define RMSPROP_CUDA_H
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define RMSPROP_CUDA_API __declspec(dllexport)
#else
#define RMSPROP_CUDA_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One tensor of a step; every pointer is device memory of the step's dtype. */
typedef struct {
  void* param;
  void* mean_square;
  void* moment;
  void* mean_grad;   /* null unless centered */
  const void* grad;
  uint64_t size;
  uint64_t slices;   /* > 1: gradient centralization over this many slices along axis 0 */
  double lr;
  double weight_decay; /* the factor wd·L */
  int apply_weight_decay;
} rmsprop_cuda_tensor;

typedef struct {
  double decay;
  double momentum;
  double epsilon;
  double inv_loss_scale;
  int centered;
  int float64;       /* 0: every tensor is float32; 1: every tensor is float64 */
} rmsprop_cuda_step_config;

/* The number of usable CUDA devices (0 without a driver or a GPU); never fails. */
RMSPROP_CUDA_API int rmsprop_cuda_device_count(void);

/* Applies one RMSProp step to `count` tensors on the current device and waits for it.
 * Returns 0, or a CUDA error code (the message from rmsprop_cuda_error_string). */
RMSPROP_CUDA_API int rmsprop_cuda_step(const rmsprop_cuda_tensor* tensors, size_t count, const rmsprop_cuda_step_config* config);

RMSPROP_CUDA_API const char* rmsprop_cuda_error_string(int code);

#ifdef __cplusplus
}
#endif
#endif

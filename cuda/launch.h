// The launch sequence of one step, shared by the CUDA plugin (rmsprop_cuda.cu, compiled by
// nvcc) and the host emulator (emulator/, compiled by the host compiler over
// emulation/cuda_shim.h), so that the emulated device tests run the very sequence a GPU runs:
// the table cache, the staging, the copies and the two launches. Each side supplies a Runtime
// (its memory, its copies, its events and its launches of the kernels of kernels.cuh).
//
// A Runtime has: `Event`; host_alloc / host_free (page-locked staging), device_alloc /
// device_free; copy_to_device (enqueued on the queue; the source must stay valid until the
// queue passes it); record(Event&) and wait(Event&) (the host waits until the queue has passed
// the event); synchronize(); launch_slice_means<T>(blocks, views) and
// launch_update<T, kCentered>(blocks, views, shared), each enqueued. Every int is 0 or an error.
#pragma once
#include <cstddef>
#include <vector>

#include "kernels.cuh"
#include "../include/rmsprop_cuda.h"

namespace rmsprop::cuda_launch {

using cuda_kernels::LaunchTables;

// The launch tables of one dtype, kept on the device between steps. Rebuilt and sent whole only
// when the step's tensors change (pointers, sizes, slices, flags); when only learning rates or
// weight decays change (a schedule), the host copy is patched and only the tensor records are
// sent; when nothing changes (fixed rates), nothing is sent and a step is its launches alone.
// Two page-locked staging buffers are used in turn, so preparing a step's tables never waits for
// the copy of the step before.
template <class Runtime>
struct TableCache {
  LaunchTables tables;
  std::vector<rmsprop_cuda_tensor> built_from;  // the records the device copy holds
  bool valid = false;
  char* device = nullptr;
  size_t device_capacity = 0;
  char* host[2] = {nullptr, nullptr};
  size_t host_capacity[2] = {0, 0};
  typename Runtime::Event sent[2] = {};  // the last copy from host[i] has left it
  bool pending[2] = {false, false};
  int next = 0;
};

inline bool same_layout(const rmsprop_cuda_tensor& a, const rmsprop_cuda_tensor& b) {
  return a.param == b.param && a.mean_square == b.mean_square && a.moment == b.moment &&
         a.mean_grad == b.mean_grad && a.grad == b.grad && a.master == b.master &&
         a.grad_float32 == b.grad_float32 && a.size == b.size && a.slices == b.slices && a.variant == b.variant;
}

inline bool same_scalars(const rmsprop_cuda_tensor& a, const rmsprop_cuda_tensor& b) {
  return a.lr == b.lr && a.weight_decay == b.weight_decay;
}

// Copies `bytes` of the tables (the whole layout, or its tensor records alone) to the device
// through the next staging buffer.
template <class Runtime>
int stage(Runtime& rt, TableCache<Runtime>& c, size_t bytes, bool whole) {
  const int b = c.next;
  c.next ^= 1;
  if (c.pending[b]) {  // the copy from this buffer two sends ago
    if (int e = rt.wait(c.sent[b])) return e;
    c.pending[b] = false;
  }
  if (c.host_capacity[b] < bytes) {
    rt.host_free(c.host[b]);
    c.host[b] = nullptr;
    c.host_capacity[b] = 0;
    if (int e = rt.host_alloc(&c.host[b], bytes)) return e;
    c.host_capacity[b] = bytes;
  }
  if (whole) {
    c.tables.pack(c.host[b]);
  } else {
    c.tables.pack_tensors(c.host[b]);
  }
  if (int e = rt.copy_to_device(c.device, c.host[b], bytes)) return e;
  if (int e = rt.record(c.sent[b])) return e;
  c.pending[b] = true;
  return 0;
}

// Makes the device copy of `c` hold the tables of `tensors`.
template <class Runtime>
int update_tables(Runtime& rt, TableCache<Runtime>& c, const rmsprop_cuda_tensor* tensors, size_t count) {
  bool layout = c.valid && c.built_from.size() == count;
  bool scalars = layout;
  for (size_t i = 0; layout && i < count; ++i) {
    layout = same_layout(c.built_from[i], tensors[i]);
    scalars = scalars && same_scalars(c.built_from[i], tensors[i]);
  }
  if (layout && scalars) return 0;
  LaunchTables& tables = c.tables;
  if (layout) {  // new learning rates or weight decays: patch the records and send them alone
    for (size_t i = 0; i < count; ++i) {
      tables.tensors[i].t.lr = tensors[i].lr;
      tables.tensors[i].t.weight_decay = tensors[i].weight_decay;
      c.built_from[i].lr = tensors[i].lr;
      c.built_from[i].weight_decay = tensors[i].weight_decay;
    }
    c.valid = false;
    if (int e = stage(rt, c, tables.tensor_bytes(), false)) return e;
    c.valid = true;
    return 0;
  }
  c.valid = false;
  tables.build(tensors, count);
  if (tables.chunks.empty()) return 0;
  const size_t total = tables.total();
  if (c.device_capacity < total) {
    // The device buffer may still be read by an earlier launch of this queue.
    if (int e = rt.synchronize()) return e;
    rt.device_free(c.device);
    c.device = nullptr;
    c.device_capacity = 0;
    if (int e = rt.device_alloc(&c.device, total)) return e;
    c.device_capacity = total;
  }
  if (int e = stage(rt, c, tables.sent(), true)) return e;
  c.built_from.assign(tensors, tensors + count);
  c.valid = true;
  return 0;
}

// Enqueues one step over `count` tensors whose parameters are of type T (float, double, __half,
// __nv_bfloat16): the slice means of centralized tensors, then the fused update
// (rmsprop_cuda_step_async).
template <class T, class Runtime>
int enqueue_step(Runtime& rt, TableCache<Runtime>& c, const rmsprop_cuda_tensor* tensors, size_t count,
                 const rmsprop_cuda_step_config& config) {
  if (int e = update_tables(rt, c, tensors, count)) return e;
  const LaunchTables& tables = c.tables;
  if (tables.chunks.empty()) return 0;  // update_tables leaves c invalid only then
  const LaunchTables::Views d = tables.views(c.device);
  if (!tables.slice_index.empty()) {
    if (int e = rt.template launch_slice_means<T>(static_cast<unsigned>(tables.slice_index.size()), d)) return e;
  }
  const unsigned blocks = static_cast<unsigned>(tables.chunks.size());
  return config.centered ? rt.template launch_update<T, true>(blocks, d, config.shared)
                         : rt.template launch_update<T, false>(blocks, d, config.shared);
}

// Enqueues the finite check of the gradients of `count` tensors whose parameters are of type T
// (rmsprop_cuda_check_finite_async), over the same launch tables as the step's.
template <class T, class Runtime>
int enqueue_check(Runtime& rt, TableCache<Runtime>& c, const rmsprop_cuda_tensor* tensors, size_t count,
                  uint32_t* flag) {
  if (int e = update_tables(rt, c, tensors, count)) return e;
  const LaunchTables& tables = c.tables;
  if (tables.chunks.empty()) return 0;
  return rt.template launch_nonfinite<T>(static_cast<unsigned>(tables.chunks.size()), tables.views(c.device), flag);
}

// A queue's table caches: one per dtype (rmsprop_cuda_dtype order).
constexpr int kDTypes = 4;

// Calls f(Tag<T>{}, cache index) for the parameter type T of an rmsprop_cuda_dtype, or returns
// `invalid` for an unknown one.
template <class T>
struct Tag {
  using type = T;
};
template <class F>
int with_dtype(int dtype, int invalid, F&& f) {
  switch (dtype) {
    case RMSPROP_CUDA_FLOAT32: return f(Tag<float>{}, 0);
    case RMSPROP_CUDA_FLOAT64: return f(Tag<double>{}, 1);
    case RMSPROP_CUDA_FLOAT16: return f(Tag<__half>{}, 2);
    case RMSPROP_CUDA_BFLOAT16: return f(Tag<__nv_bfloat16>{}, 3);
    default: return invalid;
  }
}

// rmsprop_cuda_step_async on a queue's caches: the step of the config's dtype (an unknown dtype
// is refused with `invalid`).
template <class Runtime>
int enqueue(Runtime& rt, TableCache<Runtime> (&caches)[kDTypes], const rmsprop_cuda_tensor* tensors, size_t count,
            const rmsprop_cuda_step_config& config, int invalid) {
  return with_dtype(config.dtype, invalid, [&](auto tag, int k) {
    return enqueue_step<typename decltype(tag)::type>(rt, caches[k], tensors, count, config);
  });
}

// rmsprop_cuda_check_finite_async on a queue's caches.
template <class Runtime>
int enqueue_finite_check(Runtime& rt, TableCache<Runtime> (&caches)[kDTypes], const rmsprop_cuda_tensor* tensors,
                         size_t count, const rmsprop_cuda_step_config& config, uint32_t* flag, int invalid) {
  return with_dtype(config.dtype, invalid, [&](auto tag, int k) {
    return enqueue_check<typename decltype(tag)::type>(rt, caches[k], tensors, count, flag);
  });
}

// Frees what a cache holds (after the queue is synchronized).
template <class Runtime>
void release(Runtime& rt, TableCache<Runtime>& c) {
  for (int b = 0; b < 2; ++b) {
    rt.host_free(c.host[b]);
    c.host[b] = nullptr;
    c.host_capacity[b] = 0;
  }
  rt.device_free(c.device);
  c.device = nullptr;
  c.device_capacity = 0;
  c.valid = false;
}

}  // namespace rmsprop::cuda_launch

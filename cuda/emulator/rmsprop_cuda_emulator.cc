// A host emulator of the device plugin's C interface (include/rmsprop_cuda.h), for testing the
// addon's device path (loading, memory model, staging, checkpoints) on machines without a GPU.
// It is a test double, not a backend: "device" memory is host memory, but it is tracked, and
// every copy and step checks that its device pointers lie inside device allocations and its host
// pointers do not, as a GPU would fault otherwise. Enqueued work runs only at synchronize (or
// queue destroy), so a caller that reads results or reuses a host buffer before synchronizing
// sees stale data in tests, as it would on a GPU. A step runs the plugin's own launch sequence
// (cuda/launch.h: the table cache, staging and copies) and the CUDA kernels themselves
// (cuda/kernels.cuh) through the CPU emulation of cuda/emulation/cuda_shim.h: the same launch
// tables, chunks, vector path and slice-mean reduction as on a GPU.
#include "../emulation/cuda_shim.h"  // first: the CUDA vocabulary the kernels use

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "../launch.h"
#include "../../include/rmsprop_cuda.h"

namespace {

enum Error {
  kOk = 0,
  kInvalidValue = 1,
  kOutOfMemory = 2,
  kNotDevicePointer = 3,
  kNotHostPointer = 4,
  kNotAllocated = 5,
};

// Device allocations: base address -> size in bytes.
std::mutex registry_mutex;
std::map<std::uintptr_t, std::size_t>& device_allocations() {
  static auto* map = new std::map<std::uintptr_t, std::size_t>();
  return *map;
}

bool is_device(const void* p, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  const auto& map = device_allocations();
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  auto it = map.upper_bound(at);
  if (it == map.begin()) return false;
  --it;
  return at >= it->first && at + bytes <= it->first + it->second;
}

bool overlaps_device(const void* p, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  for (const auto& [base, size] : device_allocations()) {
    if (at < base + size && base < at + (bytes ? bytes : 1)) return true;
  }
  return false;
}

}  // namespace

// The emulator's side of the launch sequence (launch.h): copies and launches are enqueued as
// work run at synchronize; an event is waited for by running the queue up to now.
struct EmulatedRuntime {
  using Event = int;  // unused: waiting runs everything enqueued
  std::vector<std::function<void()>> pending;

  void run() {
    for (auto& work : pending) work();
    pending.clear();
  }
  int host_alloc(char** p, std::size_t bytes) { return rmsprop_cuda_host_alloc(reinterpret_cast<void**>(p), bytes); }
  void host_free(char* p) { rmsprop_cuda_host_free(p); }
  int device_alloc(char** p, std::size_t bytes) { return rmsprop_cuda_malloc(reinterpret_cast<void**>(p), bytes); }
  void device_free(char* p) { rmsprop_cuda_free(p); }
  int copy_to_device(void* dst, const void* src, std::size_t bytes) {
    if (!is_device(dst, bytes)) return kNotDevicePointer;
    if (overlaps_device(src, bytes)) return kNotHostPointer;
    pending.push_back([=] { std::memmove(dst, src, bytes); });
    return kOk;
  }
  int record(Event&) { return kOk; }
  int wait(Event&) {
    run();
    return kOk;
  }
  int synchronize() {
    run();
    return kOk;
  }
  template <class T>
  int launch_slice_means(unsigned blocks, const rmsprop::cuda_kernels::LaunchTables::Views& d) {
    using namespace rmsprop::cuda_kernels;
    pending.push_back([=] {
      rmsprop::cuda_emulation::launch(blocks, kThreads, true,
                                      [&] { slice_means<T>(d.tensors, d.slice_tensor, d.slice_index, d.means); });
    });
    return kOk;
  }
  template <class T>
  int launch_nonfinite(unsigned blocks, const rmsprop::cuda_kernels::LaunchTables::Views& d, std::uint32_t* flag) {
    using namespace rmsprop::cuda_kernels;
    pending.push_back([=] {
      rmsprop::cuda_emulation::launch(blocks, kThreads, false, [&] { nonfinite<T>(d.tensors, d.chunks, flag); });
    });
    return kOk;
  }
  template <class T, bool kCentered>
  int launch_update(unsigned blocks, const rmsprop::cuda_kernels::LaunchTables::Views& d,
                    const rmsprop_shared_scalars& shared) {
    using namespace rmsprop::cuda_kernels;
    pending.push_back([=] {
      rmsprop::cuda_emulation::launch(blocks, kThreads, false,
                                      [&] { update<T, kCentered>(d.tensors, d.chunks, d.means, shared); });
    });
    return kOk;
  }
};

struct rmsprop_cuda_queue_s {
  EmulatedRuntime rt;
  rmsprop::cuda_launch::TableCache<EmulatedRuntime> cache[rmsprop::cuda_launch::kDTypes];  // by rmsprop_cuda_dtype
};

extern "C" {

RMSPROP_CUDA_API int rmsprop_cuda_abi_version(void) { return RMSPROP_CUDA_ABI_VERSION; }

RMSPROP_CUDA_API int rmsprop_cuda_device_count(void) { return 1; }

RMSPROP_CUDA_API int rmsprop_cuda_device_name(char* out, std::size_t size) {
  if (out == nullptr || size == 0) return kInvalidValue;
  std::strncpy(out, "rmsprop-native host emulator (not a GPU)", size - 1);
  out[size - 1] = '\0';
  return kOk;
}

RMSPROP_CUDA_API int rmsprop_cuda_malloc(void** ptr, std::size_t bytes) {
  if (ptr == nullptr) return kInvalidValue;
  void* p = std::malloc(bytes ? bytes : 1);
  if (p == nullptr) return kOutOfMemory;
  std::memset(p, 0xA5, bytes);  // garbage, as fresh device memory may hold
  std::lock_guard<std::mutex> lock(registry_mutex);
  device_allocations()[reinterpret_cast<std::uintptr_t>(p)] = bytes;
  *ptr = p;
  return kOk;
}

RMSPROP_CUDA_API int rmsprop_cuda_free(void* ptr) {
  if (ptr == nullptr) return kOk;
  std::lock_guard<std::mutex> lock(registry_mutex);
  if (device_allocations().erase(reinterpret_cast<std::uintptr_t>(ptr)) == 0) return kNotAllocated;
  std::free(ptr);
  return kOk;
}

RMSPROP_CUDA_API int rmsprop_cuda_host_alloc(void** ptr, std::size_t bytes) {
  if (ptr == nullptr) return kInvalidValue;
  *ptr = std::malloc(bytes ? bytes : 1);
  return *ptr ? kOk : kOutOfMemory;
}

RMSPROP_CUDA_API int rmsprop_cuda_host_free(void* ptr) {
  std::free(ptr);
  return kOk;
}

RMSPROP_CUDA_API int rmsprop_cuda_queue_create(rmsprop_cuda_queue* out) {
  if (out == nullptr) return kInvalidValue;
  *out = new (std::nothrow) rmsprop_cuda_queue_s();
  return *out ? kOk : kOutOfMemory;
}

RMSPROP_CUDA_API int rmsprop_cuda_queue_destroy(rmsprop_cuda_queue q) {
  if (q == nullptr) return kOk;
  q->rt.run();
  for (auto& c : q->cache) rmsprop::cuda_launch::release(q->rt, c);
  delete q;
  return kOk;
}

RMSPROP_CUDA_API int rmsprop_cuda_copy_async(rmsprop_cuda_queue q, void* dst, const void* src, std::size_t bytes, int kind) {
  if (q == nullptr) return kInvalidValue;
  if (bytes == 0) return kOk;
  switch (kind) {
    case RMSPROP_CUDA_HOST_TO_DEVICE:
      if (!is_device(dst, bytes)) return kNotDevicePointer;
      if (overlaps_device(src, bytes)) return kNotHostPointer;
      break;
    case RMSPROP_CUDA_DEVICE_TO_HOST:
      if (!is_device(src, bytes)) return kNotDevicePointer;
      if (overlaps_device(dst, bytes)) return kNotHostPointer;
      break;
    case RMSPROP_CUDA_DEVICE_TO_DEVICE:
      if (!is_device(src, bytes) || !is_device(dst, bytes)) return kNotDevicePointer;
      break;
    default:
      return kInvalidValue;
  }
  q->rt.pending.push_back([=] { std::memmove(dst, src, bytes); });
  return kOk;
}

// Bytes of a parameter element of the config's dtype, 0 for an unknown dtype.
std::size_t param_element(const rmsprop_cuda_step_config& config) {
  switch (config.dtype) {
    case RMSPROP_CUDA_FLOAT32: return 4;
    case RMSPROP_CUDA_FLOAT64: return 8;
    case RMSPROP_CUDA_FLOAT16:
    case RMSPROP_CUDA_BFLOAT16: return 2;
    default: return 0;
  }
}

RMSPROP_CUDA_API int rmsprop_cuda_step_async(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors, std::size_t count,
                                             const rmsprop_cuda_step_config* config) {
  if (q == nullptr || config == nullptr || (count > 0 && tensors == nullptr)) return kInvalidValue;
  const std::size_t element = param_element(*config);
  if (element == 0) return kInvalidValue;
  const bool half = element == 2;
  const std::size_t state_element = half ? 4 : element;
  for (std::size_t i = 0; i < count; ++i) {
    const rmsprop_cuda_tensor& t = tensors[i];
    if (t.size == 0) continue;
    if (!half && (t.master != nullptr || t.grad_float32)) return kInvalidValue;
    const std::size_t state = t.size * state_element;
    const std::size_t grad = t.size * (t.grad_float32 ? 4 : element);
    if (!is_device(t.param, t.size * element) || !is_device(t.mean_square, state) || !is_device(t.moment, state) ||
        !is_device(t.grad, grad) || (config->centered && !is_device(t.mean_grad, state)) ||
        (t.master != nullptr && !is_device(t.master, state))) {
      return kNotDevicePointer;
    }
  }
  try {
    return rmsprop::cuda_launch::enqueue(q->rt, q->cache, tensors, count, *config, kInvalidValue);
  } catch (const std::bad_alloc&) {
    return kOutOfMemory;
  }
}

RMSPROP_CUDA_API int rmsprop_cuda_check_finite_async(rmsprop_cuda_queue q, const rmsprop_cuda_tensor* tensors,
                                                     std::size_t count, const rmsprop_cuda_step_config* config,
                                                     std::uint32_t* flag) {
  if (q == nullptr || config == nullptr || flag == nullptr || (count > 0 && tensors == nullptr)) return kInvalidValue;
  const std::size_t element = param_element(*config);
  if (element == 0) return kInvalidValue;
  if (!is_device(flag, sizeof *flag)) return kNotDevicePointer;
  for (std::size_t i = 0; i < count; ++i) {
    const rmsprop_cuda_tensor& t = tensors[i];
    if (t.size > 0 && !is_device(t.grad, t.size * (t.grad_float32 ? 4 : element))) return kNotDevicePointer;
  }
  try {
    return rmsprop::cuda_launch::enqueue_finite_check(q->rt, q->cache, tensors, count, *config, flag, kInvalidValue);
  } catch (const std::bad_alloc&) {
    return kOutOfMemory;
  }
}

RMSPROP_CUDA_API int rmsprop_cuda_synchronize(rmsprop_cuda_queue q) {
  if (q == nullptr) return kInvalidValue;
  q->rt.run();
  return kOk;
}

// Not part of the interface: the number of live device allocations, for leak checks in tests.
RMSPROP_CUDA_API std::size_t rmsprop_cuda_emulator_live_allocations(void) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  return device_allocations().size();
}

RMSPROP_CUDA_API const char* rmsprop_cuda_error_string(int code) {
  switch (code) {
    case kOk: return "no error";
    case kInvalidValue: return "invalid argument";
    case kOutOfMemory: return "out of memory";
    case kNotDevicePointer: return "a device pointer is not inside a device allocation";
    case kNotHostPointer: return "a host pointer lies in device memory";
    case kNotAllocated: return "the pointer was not allocated by rmsprop_cuda_malloc";
    default: return "unknown error";
  }
}

}  // extern "C"

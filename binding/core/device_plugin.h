// The device plugin's entry points (include/rmsprop_cuda.h: the CUDA plugin, or its host emulator
// in tests), loaded with dlopen once per process. The device step (device_step.h) runs on them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../include/rmsprop_cuda.h"

namespace rmsprop::core {

// The entry points of a loaded plugin (the functions of include/rmsprop_cuda.h).
struct DevicePlugin {
  std::string path;
  int (*abi_version)();
  int (*device_count)();
  int (*device_name)(char*, size_t);
  int (*malloc_)(void**, size_t);
  int (*free_)(void*);
  int (*host_alloc)(void**, size_t);
  int (*host_free)(void*);
  int (*queue_create)(rmsprop_cuda_queue*);
  int (*queue_destroy)(rmsprop_cuda_queue);
  int (*copy_async)(rmsprop_cuda_queue, void*, const void*, size_t, int);
  int (*step_async)(rmsprop_cuda_queue, const rmsprop_cuda_tensor*, size_t, const rmsprop_cuda_step_config*);
  int (*check_finite_async)(rmsprop_cuda_queue, const rmsprop_cuda_tensor*, size_t, const rmsprop_cuda_step_config*,
                            uint32_t*);
  int (*synchronize)(rmsprop_cuda_queue);
  const char* (*error_string)(int);
};

// Loads the plugin at `path` once per process (later calls return the same object; it is never
// unloaded). Returns null and sets `error` when the file cannot be loaded, lacks a symbol or has
// another interface version. Never throws.
const DevicePlugin* load_device_plugin(const std::string& path, std::string* error) noexcept;

}  // namespace rmsprop::core

// See device_plugin.h.
#include "device_plugin.h"

#include <dlfcn.h>

#include <exception>
#include <map>
#include <memory>
#include <mutex>

namespace rmsprop::core {
namespace {

template <class F>
bool bind(void* handle, const char* name, F& out, std::string* error) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  if (out == nullptr) *error = "missing symbol " + std::string(name);
  return out != nullptr;
}

}  // namespace

const DevicePlugin* load_device_plugin(const std::string& path, std::string* error) noexcept {
  try {
    static std::mutex mutex;
    static auto* loaded = new std::map<std::string, std::unique_ptr<DevicePlugin>>();
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = loaded->find(path); it != loaded->end()) return it->second.get();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* reason = dlerror();
      *error = reason ? reason : "dlopen failed";
      return nullptr;
    }
    auto p = std::make_unique<DevicePlugin>();
    p->path = path;
    const bool ok = bind(handle, "rmsprop_cuda_abi_version", p->abi_version, error) &&
                    bind(handle, "rmsprop_cuda_device_count", p->device_count, error) &&
                    bind(handle, "rmsprop_cuda_device_name", p->device_name, error) &&
                    bind(handle, "rmsprop_cuda_malloc", p->malloc_, error) &&
                    bind(handle, "rmsprop_cuda_free", p->free_, error) &&
                    bind(handle, "rmsprop_cuda_host_alloc", p->host_alloc, error) &&
                    bind(handle, "rmsprop_cuda_host_free", p->host_free, error) &&
                    bind(handle, "rmsprop_cuda_queue_create", p->queue_create, error) &&
                    bind(handle, "rmsprop_cuda_queue_destroy", p->queue_destroy, error) &&
                    bind(handle, "rmsprop_cuda_copy_async", p->copy_async, error) &&
                    bind(handle, "rmsprop_cuda_step_async", p->step_async, error) &&
                    bind(handle, "rmsprop_cuda_check_finite_async", p->check_finite_async, error) &&
                    bind(handle, "rmsprop_cuda_synchronize", p->synchronize, error) &&
                    bind(handle, "rmsprop_cuda_error_string", p->error_string, error);
    if (ok && p->abi_version() == RMSPROP_CUDA_ABI_VERSION) {
      const DevicePlugin* plugin = p.get();
      (*loaded)[path] = std::move(p);
      return plugin;
    }
    if (ok) {
      *error = "interface version " + std::to_string(p->abi_version()) + ", this addon needs " +
               std::to_string(RMSPROP_CUDA_ABI_VERSION) + " (rebuild it with npm run build:cuda)";
    }
    dlclose(handle);
    return nullptr;
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}

}  // namespace rmsprop::core

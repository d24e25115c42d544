// The device optimizer of the binding (device: 'cuda'), over core::DeviceStep.
#pragma once
#include <napi.h>

namespace rmsprop::napi {

// The class CudaOptimizer (see cuda_optimizer.cc for its methods).
Napi::Function DefineCudaOptimizer(Napi::Env env);

// cudaLoad(path): loads the device plugin at `path` (once per process) and reports
// { ok, devices, name, error }. Never throws.
Napi::Value CudaLoad(const Napi::CallbackInfo& info);

}  // namespace rmsprop::napi

// The binding's one optimizer class, over a core::Stepper: the CPU's MultiTensorStep or a
// device's DeviceStep (see optimizer.cc for its methods).
#pragma once
#include <napi.h>

namespace rmsprop::napi {

// The class Optimizer.
Napi::Function DefineOptimizer(Napi::Env env);

// cudaLoad(path): loads the device plugin at `path` (once per process) and reports
// { ok, devices, name, error }. Never throws.
Napi::Value CudaLoad(const Napi::CallbackInfo& info);

}  // namespace rmsprop::napi

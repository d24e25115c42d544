// The JavaScript boundary: converts JS values to plain spans for the core and maps failures to
// JS errors. No math lives here. The TypeScript facade validates everything first and builds the
// user-facing messages; the checks below only guarantee that a misuse of this internal binding
// throws instead of touching memory it should not.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "../core/lock_registry.h"
#include "../core/multi_tensor_step.h"
#include "../core/plan.h"
#include "../core/thread_pool.h"
#include "../kernels/kernels.h"
#include "common.h"
#include "cuda_optimizer.h"

namespace rmsprop::napi {
namespace {

using core::DType;

// new NativeOptimizer(params, meanSquare, moment, meanGrad | null, plan, useLocking, counter)
// Registers the parameters and their state once; holds references so none is collected while
// this object lives. Every array is float32 or float64 and a tensor's buffers share its dtype
// and length. The plan already holds each tensor's flags and slices. `counter`: the global step
// (an Int32Array; see StepCounter in common.h for who claims the step index).
class NativeOptimizer : public Napi::ObjectWrap<NativeOptimizer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeOptimizer",
                       {InstanceMethod<&NativeOptimizer::Step>("step"),
                        InstanceMethod<&NativeOptimizer::StepAsync>("stepAsync"),
                        InstanceMethod<&NativeOptimizer::StreamBaseline>("streamBaseline"),
                        InstanceAccessor<&NativeOptimizer::Size>("size")});
  }

  explicit NativeOptimizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeOptimizer>(info) {
    bool centered = false;
    std::vector<core::TensorSlot> tensors =
        read_tensor_slots(info, 0, &centered, [this](const Napi::Value& v) { keep(v); });
    const double* plan = plan_arg(info[4], tensors.size());
    keep(info[4]);
    locks_ = locks_arg(info[5], tensors);
    counter_.read(info[6]);
    keep(info[6]);
    step_ = std::make_unique<core::MultiTensorStep>(std::move(tensors), plan, centered);
  }

 private:
  void keep(const Napi::Value& value) {
    keep_alive_.push_back(Napi::Persistent(value.As<Napi::Object>()));
  }

  // Reads one gradient per registered tensor (same dtype and length), or throws.
  void read_grads(const Napi::Value& value, const Napi::Value& same = Napi::Value()) {
    if (in_flight_) throw Napi::Error::New(value.Env(), "an asynchronous step of this optimizer is still running");
    grads_.read(value, same, step_->size(), [this](std::size_t i) -> const core::TensorSlot& { return step_->tensor(i); });
  }

  // step(grads, same?, expected?): one gradient per registered tensor, same dtype and length;
  // updates in place, under every parameter's lock when useLocking. With `expected` (a step
  // index) it claims that index under the locks first and returns false, changing nothing, when
  // another step took it (see StepCounter); else true.
  Napi::Value Step(const Napi::CallbackInfo& info) {
    read_grads(info[0], info[1]);
    const std::optional<std::int32_t> expected = expected_index_arg(info[2]);
    return Napi::Boolean::New(info.Env(), run_step(active_kernels(), expected));
  }

  // streamBaseline(grads): for benchmarks only. Streams the same arrays as step (same chunks and
  // threads) with trivial arithmetic instead of RMSProp: the memory-traffic limit of a step.
  Napi::Value StreamBaseline(const Napi::CallbackInfo& info) {
    read_grads(info[0]);
    step_->run(active_kernels(), grads_.data(), core::MultiTensorStep::Work::kStreamBaseline);
    return info.Env().Undefined();
  }

  // stepAsync(grads, same?, expected?): the same work on a libuv thread; resolves with what step
  // returns. The grads array (and so its typed arrays) stays referenced until then; a second
  // call before it settles throws.
  Napi::Value StepAsync(const Napi::CallbackInfo& info);

  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(step_->size()));
  }

  // Runs the step, under every parameter's lock when useLocking (taken in one global order),
  // claiming `expected` first when given; false when that index was taken.
  bool run_step(const KernelTable& kernels, std::optional<std::int32_t> expected = std::nullopt) {
    return locked_step(locks_.get(), counter_, expected, [&] { step_->run(kernels, grads_.data()); });
  }

  std::unique_ptr<core::MultiTensorStep> step_;
  std::unique_ptr<core::ParameterLocks> locks_;  // null unless useLocking
  StepCounter counter_;
  GradientReader grads_;
  std::vector<Napi::ObjectReference> keep_alive_;
  bool in_flight_ = false;  // an asynchronous step is running
};

Napi::Value NativeOptimizer::StepAsync(const Napi::CallbackInfo& info) {
  read_grads(info[0], info[1]);
  const std::optional<std::int32_t> expected = expected_index_arg(info[2]);
  const KernelTable* kernels = &active_kernels();
  return queue_async_step(info.Env(), this, info[0], &in_flight_,
                          [this, kernels, expected] { return run_step(*kernels, expected); });
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(core::ThreadPool::instance().size()));
}

// setNumThreads(n): the threads of the process-wide pool, the calling thread included.
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "threads must be a number");
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= 1024) || n != static_cast<double>(static_cast<std::size_t>(n))) {
    throw Napi::RangeError::New(info.Env(), "threads must be an integer from 1 to 1024");
  }
  core::ThreadPool::instance().resize(static_cast<std::size_t>(n));
  return info.Env().Undefined();
}

Napi::Value SimdLevel(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), active_kernels().level);
}

Napi::Value SupportedSimdLevels(const Napi::CallbackInfo& info) {
  const auto& tables = supported_kernels();
  Napi::Array levels = Napi::Array::New(info.Env(), tables.size());
  for (std::size_t i = 0; i < tables.size(); ++i) levels[i] = Napi::String::New(info.Env(), tables[i]->level);
  return levels;
}

// setSimdLevel(level): true when switched, false for an unknown or unsupported level.
Napi::Value SetSimdLevel(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "level must be a string");
  return Napi::Boolean::New(info.Env(), select_kernels(info[0].As<Napi::String>().Utf8Value()));
}

// setGrainElements(n): for benchmarks measuring the chunk size; returns the grain in use.
Napi::Value SetGrainElements(const Napi::CallbackInfo& info) {
  if (info[0].IsNumber()) core::set_grain_elements(static_cast<std::size_t>(info[0].As<Napi::Number>().Int64Value()));
  return Napi::Number::New(info.Env(), static_cast<double>(core::grain_elements()));
}

Napi::Object PlanLayout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  layout["decay"] = static_cast<double>(plan::kDecay);
  layout["momentum"] = static_cast<double>(plan::kMomentum);
  layout["epsilon"] = static_cast<double>(plan::kEpsilon);
  layout["invLossScale"] = static_cast<double>(plan::kInvLossScale);
  layout["headerSize"] = static_cast<double>(plan::kHeaderSize);
  layout["lr"] = static_cast<double>(plan::kLr);
  layout["weightDecay"] = static_cast<double>(plan::kWeightDecay);
  layout["flags"] = static_cast<double>(plan::kFlags);
  layout["slices"] = static_cast<double>(plan::kSlices);
  layout["tensorStride"] = static_cast<double>(plan::kTensorStride);
  layout["applyWeightDecay"] = static_cast<double>(plan::kApplyWeightDecay);
  layout["centralize"] = static_cast<double>(plan::kCentralize);
  return layout;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports["NativeOptimizer"] = NativeOptimizer::Define(env);
  exports["simdLevel"] = Napi::Function::New<SimdLevel>(env, "simdLevel");
  exports["supportedSimdLevels"] = Napi::Function::New<SupportedSimdLevels>(env, "supportedSimdLevels");
  exports["setSimdLevel"] = Napi::Function::New<SetSimdLevel>(env, "setSimdLevel");
  exports["numThreads"] = Napi::Function::New<NumThreads>(env, "numThreads");
  exports["setNumThreads"] = Napi::Function::New<SetNumThreads>(env, "setNumThreads");
  exports["setGrainElements"] = Napi::Function::New<SetGrainElements>(env, "setGrainElements");
  exports["planLayout"] = PlanLayout(env);
  exports["CudaOptimizer"] = DefineCudaOptimizer(env);
  exports["cudaLoad"] = Napi::Function::New<CudaLoad>(env, "cudaLoad");
  return exports;
}

}  // namespace
}  // namespace rmsprop::napi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return rmsprop::napi::Init(env, exports);
}

NODE_API_MODULE(rmsprop_native, InitAddon)

// The JavaScript boundary of the optimizer: one class over a core::Stepper (the CPU's
// MultiTensorStep, or a device's DeviceStep), argument conversion and error mapping. No math and
// no device calls live here. The TypeScript facade validates everything first and builds the
// user-facing messages; the checks below only guarantee that a misuse of this internal binding
// throws instead of touching memory it should not.
#include "optimizer.h"

#include <memory>
#include <string>
#include <vector>

#include "../core/device_step.h"
#include "../core/lock_registry.h"
#include "../core/multi_tensor_step.h"
#include "../core/plan.h"
#include "arguments.h"
#include "async_step.h"
#include "gradient_reader.h"
#include "step_counter.h"

namespace rmsprop::napi {
namespace {

using core::Buffer;

Buffer buffer_arg(const Napi::Value& value) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "param") return Buffer::kParam;
  if (name == "meanSquare") return Buffer::kMeanSquare;
  if (name == "moment") return Buffer::kMoment;
  if (name == "meanGrad") return Buffer::kMeanGrad;
  if (name == "grad") return Buffer::kGrad;
  if (name == "master") return Buffer::kMaster;
  throw Napi::TypeError::New(value.Env(), "buffer must be 'param', 'meanSquare', 'moment', 'meanGrad', 'grad' or 'master'");
}

// Runs `work`, turning a device failure (core::DeviceError, or running out of host memory) into
// a JS Error with its message.
template <class Work>
void on_device(Napi::Env env, Work&& work) {
  try {
    work();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// new Optimizer(pluginPath | null, params, meanSquare, moment, meanGrad | null, plan, useLocking,
//               syncParams, counter, dtypes?, master?)
// Registers the parameters and their state once and holds references so none is collected
// while this object lives. A tensor's buffers share its length; float32 and float64 parameters
// have state of their dtype, float16 and bfloat16 ones (Uint16Arrays, named in `dtypes`) float32
// state and optionally a float32 master copy (`master`; see read_tensor_slots in arguments.h). The plan already holds each tensor's flags and slices. With a plugin path
// the step runs on that device (parameters and state move to device memory; the registered host
// arrays are the host side of every transfer; with syncParams, every step uploads the host
// parameters first and writes the updated ones back); with null, on the CPU. `counter`: the
// global step (see StepCounter in step_counter.h for who claims the step index).
class Optimizer : public Napi::ObjectWrap<Optimizer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Optimizer",
                       {InstanceMethod<&Optimizer::Step>("step"),
                        InstanceMethod<&Optimizer::StepAsync>("stepAsync"),
                        InstanceMethod<&Optimizer::ReadGradients>("readGradients"),
                        InstanceMethod<&Optimizer::Upload>("upload"),
                        InstanceMethod<&Optimizer::Download>("download"),
                        InstanceMethod<&Optimizer::DeviceBuffers>("deviceBuffers"),
                        InstanceMethod<&Optimizer::Dispose>("dispose"),
                        InstanceAccessor<&Optimizer::Size>("size"),
                        InstanceAccessor<&Optimizer::Device>("device")});
  }

  explicit Optimizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Optimizer>(info) {
    Napi::Env env = info.Env();
    const core::DevicePlugin* plugin = nullptr;
    if (!info[0].IsNull()) {
      if (!info[0].IsString()) throw Napi::TypeError::New(env, "pluginPath must be a string or null");
      std::string error;
      plugin = core::load_device_plugin(info[0].As<Napi::String>().Utf8Value(), &error);
      if (plugin == nullptr) throw Napi::Error::New(env, "cannot load the CUDA plugin: " + error);
    }
    bool centered = false;
    std::vector<core::TensorSlot> tensors =
        read_tensor_slots(info, 1, 9, 10, &centered, [this](const Napi::Value& v) { keep(v); });
    const double* plan = plan_arg(info[5], tensors.size());
    keep(info[5]);
    locks_ = locks_arg(info[6], tensors);
    const bool sync_params = info[7].IsBoolean() && info[7].As<Napi::Boolean>().Value();
    counter_.read(info[8]);
    keep(info[8]);
    if (plugin == nullptr) {
      step_ = std::make_unique<core::MultiTensorStep>(std::move(tensors), plan, centered);
    } else {
      on_device(env, [&] {
        step_ = std::make_unique<core::DeviceStep>(*plugin, std::move(tensors), plan, centered, sync_params);
      });
    }
  }

 private:
  void keep(const Napi::Value& value) { keep_alive_.push_back(Napi::Persistent(value.As<Napi::Object>())); }

  void assert_idle(Napi::Env env) const {
    if (in_flight_) throw Napi::Error::New(env, "an asynchronous step of this optimizer is still running");
    if (core::DeviceStep* d = step_->device(); d != nullptr && d->released()) {
      throw Napi::Error::New(env, "this optimizer was disposed: its device memory is released");
    }
  }

  core::DeviceStep& device(Napi::Env env) const {
    core::DeviceStep* d = step_->device();
    if (d == nullptr) throw Napi::Error::New(env, "this optimizer runs on the CPU (no device buffers)");
    return *d;
  }

  // Reads host gradients, or none when `value` is null (a device's gradient buffers are used).
  const void* const* read_grads(const Napi::Value& value, const Napi::Value& same) {
    if (value.IsNull() && step_->device() != nullptr) return nullptr;
    grads_.read(value, same, step_->size(), [this](std::size_t i) -> const core::TensorSlot& { return step_->tensor(i); });
    return grads_.data();
  }

  // Each gradient's dtype as last read (null with device gradients).
  const core::DType* grad_dtypes(const void* const* grads) const { return grads != nullptr ? grads_.dtypes() : nullptr; }

  // The step, under every parameter's lock when useLocking (taken in one global order): the
  // non-finite check where the plan asks for it, then the claim of `expected` when given (see
  // StepCounter), then the update. Throws core::DeviceError.
  StepOutcome run_step(const void* const* grads, std::optional<std::int32_t> expected) {
    const core::DType* dtypes = grad_dtypes(grads);
    return locked_step(
        locks_.get(), counter_, expected, [&] { return step_->may_apply(grads, dtypes); },
        [&] { step_->step(grads, dtypes); });
  }

  // step(grads | null, same?, expected?): one gradient per registered tensor, same dtype and
  // length (null on a device: its gradient buffers); updates in place. Returns a StepOutcome:
  // skipped (nothing changed) when the plan asks for the non-finite check and a gradient fails
  // it; with `expected` (a step index), taken (nothing changed) when another step claimed that
  // index first (see StepCounter); else applied.
  Napi::Value Step(const Napi::CallbackInfo& info) {
    assert_idle(info.Env());
    const void* const* grads = read_grads(info[0], info[1]);
    const std::optional<std::int32_t> expected = expected_index_arg(info[2]);
    StepOutcome outcome = StepOutcome::kTaken;
    on_device(info.Env(), [&] { outcome = run_step(grads, expected); });
    return Napi::Number::New(info.Env(), static_cast<int>(outcome));
  }

  // readGradients(...grads): reads one gradient per tensor from the arguments (cheaper per
  // tensor than an array: see GradientReader::read_arguments) for the next step called with
  // `same` true and these very arrays.
  Napi::Value ReadGradients(const Napi::CallbackInfo& info) {
    assert_idle(info.Env());
    grads_.read_arguments(info, step_->size(), [this](std::size_t i) -> const core::TensorSlot& { return step_->tensor(i); });
    return info.Env().Undefined();
  }

  // stepAsync(grads | null, same?, expected?): the same work on a libuv thread; resolves with
  // what step returns. The grads array (and so its typed arrays) stays referenced until then; a
  // second call before it settles throws.
  Napi::Value StepAsync(const Napi::CallbackInfo& info);

  // upload(buffer, grads?): host -> device for one kind of buffer of every tensor.
  Napi::Value Upload(const Napi::CallbackInfo& info) {
    assert_idle(info.Env());
    const Buffer buffer = buffer_arg(info[0]);
    const void* const* from = buffer == Buffer::kGrad ? read_grads(info[1], Napi::Value()) : nullptr;
    if (buffer == Buffer::kGrad && from == nullptr) throw Napi::TypeError::New(info.Env(), "grads must be an array");
    const core::DType* dtypes = buffer == Buffer::kGrad ? grads_.dtypes() : nullptr;
    on_device(info.Env(), [&] { device(info.Env()).upload(buffer, from, dtypes); });
    return info.Env().Undefined();
  }

  // download(buffer): device -> host for one kind of buffer (not 'grad') of every tensor.
  Napi::Value Download(const Napi::CallbackInfo& info) {
    assert_idle(info.Env());
    const Buffer buffer = buffer_arg(info[0]);
    if (buffer == Buffer::kGrad) throw Napi::TypeError::New(info.Env(), "gradients have no host buffer to download into");
    on_device(info.Env(), [&] { device(info.Env()).download(buffer); });
    return info.Env().Undefined();
  }

  // deviceBuffers(): per tensor { param, meanSquare, moment, meanGrad, grad, master } device addresses (BigInt).
  Napi::Value DeviceBuffers(const Napi::CallbackInfo& info) {
    assert_idle(info.Env());
    Napi::Env env = info.Env();
    const core::DeviceStep& d = device(env);
    Napi::Array out = Napi::Array::New(env, step_->size());
    for (std::size_t i = 0; i < step_->size(); ++i) {
      Napi::Object entry = Napi::Object::New(env);
      auto address = [&](Buffer b) { return Napi::BigInt::New(env, static_cast<std::uint64_t>(d.device_address(i, b))); };
      entry["param"] = address(Buffer::kParam);
      entry["meanSquare"] = address(Buffer::kMeanSquare);
      entry["moment"] = address(Buffer::kMoment);
      entry["meanGrad"] = address(Buffer::kMeanGrad);
      entry["grad"] = address(Buffer::kGrad);
      entry["master"] = address(Buffer::kMaster);
      out[i] = entry;
    }
    return out;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (in_flight_) throw Napi::Error::New(info.Env(), "an asynchronous step of this optimizer is still running");
    device(info.Env()).release();
    return info.Env().Undefined();
  }

  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(step_->size()));
  }

  // 'cpu' or 'cuda'.
  Napi::Value Device(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), step_->device() != nullptr ? "cuda" : "cpu");
  }

  std::unique_ptr<core::Stepper> step_;
  std::unique_ptr<core::ParameterLocks> locks_;  // null unless useLocking
  StepCounter counter_;
  GradientReader grads_;
  std::vector<Napi::ObjectReference> keep_alive_;
  bool in_flight_ = false;  // an asynchronous step is running
};

Napi::Value Optimizer::StepAsync(const Napi::CallbackInfo& info) {
  assert_idle(info.Env());
  const void* const* grads = read_grads(info[0], info[1]);
  const std::optional<std::int32_t> expected = expected_index_arg(info[2]);
  return queue_async_step(info.Env(), this, info[0], &in_flight_,
                          [this, grads, expected] { return run_step(grads, expected); });
}

}  // namespace

Napi::Function DefineOptimizer(Napi::Env env) { return Optimizer::Define(env); }

Napi::Value CudaLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  std::string error;
  const core::DevicePlugin* plugin = nullptr;
  if (info[0].IsString()) {
    plugin = core::load_device_plugin(info[0].As<Napi::String>().Utf8Value(), &error);
  } else {
    error = "path must be a string";
  }
  int devices = 0;
  std::string name;
  if (plugin != nullptr) {
    devices = plugin->device_count();
    char buffer[256] = {};
    if (devices > 0 && plugin->device_name(buffer, sizeof buffer) == 0) name = buffer;
    if (devices == 0) error = "no usable CUDA device (no NVIDIA driver, no GPU, or a GPU older than compute capability 8.0)";
  }
  result["ok"] = Napi::Boolean::New(env, plugin != nullptr && devices > 0);
  result["devices"] = Napi::Number::New(env, devices);
  result["name"] = Napi::String::New(env, name);
  result["error"] = Napi::String::New(env, error);
  return result;
}

}  // namespace rmsprop::napi

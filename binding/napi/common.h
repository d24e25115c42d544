// The argument readers and step plumbing of the binding's optimizer class (optimizer.cc): reading
// typed arrays and the registered tensors, the plan and lock arguments, gradients, and the
// asynchronous step. The facade validates first; these checks only guarantee that misuse of the
// internal binding throws instead of touching memory it should not.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#if defined(_MSC_VER)
#include <intrin.h>
#endif

#include "../core/lock_registry.h"
#include "../core/stepper.h"
#include "../core/plan.h"

namespace rmsprop::napi {

struct TypedArraySpan {
  core::DType dtype;  // kFloat16 stands for any Uint16Array (16-bit patterns: float16 or bfloat16)
  void* data;
  std::size_t length;
};

// Whether an array read as `span` can hold elements of `dtype` (a Uint16Array holds either half type).
inline bool holds(const TypedArraySpan& span, core::DType dtype) {
  return core::is_half(dtype) ? span.dtype == core::DType::kFloat16 : span.dtype == dtype;
}

// Reads a Float32Array, Float64Array or Uint16Array (any byte offset, any backing buffer)
// without copying.
inline bool read_float_array(napi_env env, napi_value value, TypedArraySpan* out) {
  // napi_get_typedarray_info answers napi_invalid_arg for anything but a typed array.
  napi_typedarray_type type;
  std::size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
  if (type == napi_float32_array) {
    out->dtype = core::DType::kFloat32;
  } else if (type == napi_float64_array) {
    out->dtype = core::DType::kFloat64;
  } else if (type == napi_uint16_array) {
    out->dtype = core::DType::kFloat16;
  } else {
    return false;
  }
  out->data = data;
  out->length = length;
  return true;
}

inline TypedArraySpan float_array_arg(const Napi::Value& value, const std::string& what) {
  TypedArraySpan span{};
  if (!read_float_array(value.Env(), value, &span)) {
    throw Napi::TypeError::New(value.Env(), what + " must be a Float32Array, Float64Array or Uint16Array");
  }
  return span;
}

inline Napi::Array array_arg(const Napi::Value& value, const std::string& what, std::size_t length) {
  if (!value.IsArray() || value.As<Napi::Array>().Length() != length) {
    throw Napi::TypeError::New(value.Env(), what + " must be an array of " + std::to_string(length));
  }
  return value.As<Napi::Array>();
}

// A dtype name of the facade ('float32', 'float64', 'float16', 'bfloat16').
inline core::DType dtype_arg(const Napi::Value& value, const std::string& what) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "float32") return core::DType::kFloat32;
  if (name == "float64") return core::DType::kFloat64;
  if (name == "float16") return core::DType::kFloat16;
  if (name == "bfloat16") return core::DType::kBFloat16;
  throw Napi::TypeError::New(value.Env(), what + " must be 'float32', 'float64', 'float16' or 'bfloat16'");
}

// The tensors of an optimizer as registered from JavaScript:
// (params, meanSquare, moment, meanGrad | null) at `first`, each an array of typed arrays, every
// tensor's buffers of one length; then at `dtypes` an array of each parameter's dtype name (or
// undefined: each parameter's array type says it; a Uint16Array must be named float16 or
// bfloat16) and at `masters` an array of float32 master copies (or null entries), or undefined.
// The state of a half-precision parameter is float32. Every array read is passed to `keep`.
template <class Keep>
std::vector<core::TensorSlot> read_tensor_slots(const Napi::CallbackInfo& info, std::size_t first, std::size_t dtypes,
                                                std::size_t masters, bool* centered, Keep keep) {
  Napi::Env env = info.Env();
  if (!info[first].IsArray()) throw Napi::TypeError::New(env, "params must be an array");
  const std::size_t count = info[first].As<Napi::Array>().Length();
  const Napi::Array params = array_arg(info[first], "params", count);
  const Napi::Array mean_square = array_arg(info[first + 1], "meanSquare", count);
  const Napi::Array moment = array_arg(info[first + 2], "moment", count);
  *centered = !info[first + 3].IsNull() && !info[first + 3].IsUndefined();
  const Napi::Array mean_grad = *centered ? array_arg(info[first + 3], "meanGrad", count) : Napi::Array();
  const bool named = !info[dtypes].IsUndefined();
  const Napi::Array names = named ? array_arg(info[dtypes], "dtypes", count) : Napi::Array();
  const bool mastered = !info[masters].IsUndefined() && !info[masters].IsNull();
  const Napi::Array master = mastered ? array_arg(info[masters], "master", count) : Napi::Array();
  std::vector<core::TensorSlot> tensors;
  tensors.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    const TypedArraySpan p = float_array_arg(params[i], "params" + at);
    const core::DType dtype = named ? dtype_arg(names[i], "dtypes" + at) : p.dtype;
    if (!holds(p, dtype) || (!named && p.dtype == core::DType::kFloat16)) {
      throw Napi::TypeError::New(env, "params" + at + " must be an array of its dtype (a Uint16Array for float16 and bfloat16)");
    }
    const core::DType state = core::state_dtype(dtype);
    auto state_array = [&](const Napi::Value& v, const std::string& what) {
      const TypedArraySpan s = float_array_arg(v, what + at);
      if (s.dtype != state || s.length != p.length) {
        throw Napi::TypeError::New(env, what + at + " must be of params" + at + "'s state dtype and length");
      }
      keep(v);
      return s.data;
    };
    keep(params[i]);
    core::TensorSlot slot{dtype, p.length, p.data, nullptr, nullptr, nullptr};
    slot.mean_square = state_array(mean_square[i], "meanSquare");
    slot.moment = state_array(moment[i], "moment");
    if (*centered) slot.mean_grad = state_array(mean_grad[i], "meanGrad");
    if (mastered && !master.Get(i).IsNull()) {
      if (!core::is_half(dtype)) throw Napi::TypeError::New(env, "master" + at + " must be null for a float32 or float64 parameter");
      slot.master = state_array(master.Get(i), "master");
    }
    tensors.push_back(slot);
  }
  return tensors;
}

// The step plan: a Float64Array of plan::size_for(tensors) values.
inline const double* plan_arg(const Napi::Value& value, std::size_t tensors) {
  const TypedArraySpan plan = float_array_arg(value, "plan");
  if (plan.dtype != core::DType::kFloat64 || plan.length != plan::size_for(tensors)) {
    throw Napi::TypeError::New(value.Env(), "plan must be a Float64Array of " + std::to_string(plan::size_for(tensors)));
  }
  return static_cast<const double*>(plan.data);
}

// With useLocking (`value` true): the process-wide locks of the tensors' parameters, keyed by
// their host data; else null.
inline std::unique_ptr<core::ParameterLocks> locks_arg(const Napi::Value& value,
                                                       const std::vector<core::TensorSlot>& tensors) {
  if (!value.IsBoolean() || !value.As<Napi::Boolean>().Value()) return nullptr;
  std::vector<std::uintptr_t> keys;
  for (const core::TensorSlot& t : tensors) {
    if (t.param != nullptr) keys.push_back(reinterpret_cast<std::uintptr_t>(t.param));
  }
  return std::make_unique<core::ParameterLocks>(std::move(keys));
}

// The global step counter: the facade's Int32Array of length 1 (on a SharedArrayBuffer when the
// optimizer can be shared, so every thread's optimizer over the same parameters sees one counter).
//
// The step-index contract with the facade (docs/semantics.md §8; lib/step-index.ts, StepIndex),
// stated here once: without useLocking the facade claims index k itself (a compare-and-swap
// k -> k + 1) before calling step. With useLocking the facade evaluates the learning rates and
// weight decays of k first, outside any lock (they may run user code, which may step another
// optimizer over the same parameters), and passes k; the binding takes the parameters' locks,
// claims k by the same compare-and-swap and applies the step, or, when another thread claimed k
// first, releases the locks having changed nothing and reports false so that the facade
// evaluates the next index and tries again. So locked steps of optimizers sharing one counter
// apply in the order of their indices.
class StepCounter {
 public:
  void read(const Napi::Value& value) {
    bool is_typed_array = false;
    napi_typedarray_type type;
    std::size_t length = 0;
    void* data = nullptr;
    if (napi_is_typedarray(value.Env(), value, &is_typed_array) != napi_ok || !is_typed_array ||
        napi_get_typedarray_info(value.Env(), value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_int32_array || length < 1) {
      throw Napi::TypeError::New(value.Env(), "counter must be an Int32Array of length 1");
    }
    data_ = static_cast<std::int32_t*>(data);
  }

  // Claims index `expected` (counter: expected -> expected + 1); false when it is no longer current.
  bool claim(std::int32_t expected) const {
#if defined(_MSC_VER)
    return _InterlockedCompareExchange(reinterpret_cast<volatile long*>(data_), expected + 1, expected) == expected;
#else
    return __atomic_compare_exchange_n(data_, &expected, expected + 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
#endif
  }

 private:
  std::int32_t* data_ = nullptr;
};

// The index a locked step claims: a number argument, else none (the facade has claimed it).
inline std::optional<std::int32_t> expected_index_arg(const Napi::Value& value) {
  if (value.IsEmpty() || value.IsUndefined()) return std::nullopt;
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), "expected index must be a number");
  return value.As<Napi::Number>().Int32Value();
}

// What a step call did (the number step / stepAsync return to the facade; lib/native.ts).
enum class StepOutcome : int {
  kTaken = 0,    // the expected index was claimed by another step: nothing changed
  kApplied = 1,  // the update ran
  kSkipped = 2,  // a gradient held an inf or NaN (with the check on): nothing changed, no index claimed
};

// One step under `locks` (null: none): asks `may_apply` first (the non-finite check), then
// claims `expected` when given (see StepCounter) and runs `work`.
template <class MayApply, class Work>
StepOutcome locked_step(core::ParameterLocks* locks, const StepCounter& counter, std::optional<std::int32_t> expected,
                        MayApply&& may_apply, Work&& work) {
  const core::ScopedLocks held(locks);
  if (!may_apply()) return StepOutcome::kSkipped;
  if (expected && !counter.claim(*expected)) return StepOutcome::kTaken;
  work();
  return StepOutcome::kApplied;
}

// Runs `work` on a libuv thread and settles the returned promise with what it returns (or rejects
// it with the message of what `work` threw). Meanwhile the optimizer `owner` (an ObjectWrap) and
// `keep` (the gradients array, if an object) stay referenced and `*in_flight` is true.
template <class Owner>
Napi::Promise queue_async_step(Napi::Env env, Owner* owner, const Napi::Value& keep, bool* in_flight,
                               std::function<StepOutcome()> work) {
  class Worker : public Napi::AsyncWorker {
   public:
    Worker(Napi::Env env, Owner* owner, const Napi::Value& keep, bool* in_flight, std::function<StepOutcome()> work)
        : Napi::AsyncWorker(env, "rmsprop:stepAsync"),
          owner_(owner),
          in_flight_(in_flight),
          deferred_(Napi::Promise::Deferred::New(env)),
          work_(std::move(work)) {
      if (keep.IsObject()) keep_ = Napi::Persistent(keep.As<Napi::Object>());
      owner_->Ref();  // the optimizer (and its buffers) outlive the work
      *in_flight_ = true;
    }
    ~Worker() override {
      *in_flight_ = false;
      owner_->Unref();
    }
    Napi::Promise Promise() const { return deferred_.Promise(); }

   protected:
    void Execute() override {
      try {
        outcome_ = work_();
      } catch (const std::exception& e) {
        SetError(e.what());
      }
    }
    void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), static_cast<int>(outcome_))); }
    void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

   private:
    Owner* owner_;
    bool* in_flight_;
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference keep_;
    std::function<StepOutcome()> work_;
    StepOutcome outcome_ = StepOutcome::kTaken;
  };
  auto* worker = new Worker(env, owner, keep, in_flight, std::move(work));
  const Napi::Promise promise = worker->Promise();
  worker->Queue();  // deleted by node-addon-api after OnOK / OnError
  return promise;
}

// One gradient pointer per registered tensor, reused from step to step.
class GradientReader {
 public:
  // Reads `value` (an array with one typed array per tensor, of `tensor(i)`'s length and dtype, or
  // float32 for a half-precision tensor) or throws. `same` (from the facade): the very array
  // objects of the previous call, none detached, so the pointers read then are still valid and
  // reading again can be skipped.
  template <class TensorAt>
  void read(const Napi::Value& value, const Napi::Value& same, std::size_t count, TensorAt tensor) {
    Napi::Env env = value.Env();
    if (ready_ && !same.IsEmpty() && same.IsBoolean() && same.As<Napi::Boolean>().Value()) return;
    ready_ = false;
    resize(count);
    if (!value.IsArray()) throw Napi::TypeError::New(env, "grads must be an array");
    std::uint32_t length = 0;
    napi_get_array_length(env, value, &length);
    if (length != count) throw Napi::TypeError::New(env, "grads must be an array of " + std::to_string(count));
    for (std::uint32_t i = 0; i < length; ++i) {
      napi_value element;
      if (napi_get_element(env, value, i, &element) != napi_ok) element = nullptr;
      take(env, element, i, tensor(i));
    }
    ready_ = true;
  }

  // Reads the arguments of a call (one typed array per tensor, as `read`), one N-API call for all
  // of them: what a step with new gradient arrays every time pays per tensor (napi_get_element
  // goes through V8's generic property lookup; the arguments come in one napi_get_cb_info).
  template <class TensorAt>
  void read_arguments(const Napi::CallbackInfo& info, std::size_t count, TensorAt tensor) {
    Napi::Env env = info.Env();
    ready_ = false;
    resize(count);
    if (info.Length() != count) throw Napi::TypeError::New(env, "expected " + std::to_string(count) + " gradients");
    for (std::size_t i = 0; i < count; ++i) take(env, info[i], i, tensor(i));
    ready_ = true;
  }

  const void* const* data() const { return grads_.data(); }
  const core::DType* dtypes() const { return dtypes_.data(); }

 private:
  void resize(std::size_t count) {
    grads_.resize(count);
    dtypes_.resize(count);
  }

  // Gradient i: the tensor's dtype (16-bit patterns for a half-precision one) or, for half
  // precision, float32; of the tensor's length.
  void take(napi_env env, napi_value element, std::size_t i, const core::TensorSlot& slot) {
    TypedArraySpan g{};
    const bool ok = element != nullptr && read_float_array(env, element, &g) && g.length == slot.size &&
                    (holds(g, slot.dtype) || (core::is_half(slot.dtype) && g.dtype == core::DType::kFloat32));
    if (!ok) {
      throw Napi::TypeError::New(env, "grads[" + std::to_string(i) + "] must match the dtype and length of its parameter");
    }
    grads_[i] = g.data;
    dtypes_[i] = g.dtype == core::DType::kFloat32 ? core::DType::kFloat32 : slot.dtype;
  }

  std::vector<const void*> grads_;
  std::vector<core::DType> dtypes_;
  bool ready_ = false;  // grads_ holds the pointers of the last call's arrays
};

}  // namespace rmsprop::napi

// The argument readers of the binding's optimizer class (optimizer.cc): typed arrays read
// without copying, the registered tensors, dtype names, the plan, the locks of useLocking and the
// index a locked step claims. The facade validates first; these checks only guarantee that
// misuse of the internal binding throws instead of touching memory it should not.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/lock_registry.h"
#include "../core/plan.h"
#include "../core/stepper.h"

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

// The index a locked step claims: a number argument, else none (the facade has claimed it).
inline std::optional<std::int32_t> expected_index_arg(const Napi::Value& value) {
  if (value.IsEmpty() || value.IsUndefined()) return std::nullopt;
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), "expected index must be a number");
  return value.As<Napi::Number>().Int32Value();
}

}  // namespace rmsprop::napi

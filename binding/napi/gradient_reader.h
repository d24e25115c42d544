// The gradients of a native step: one pointer per registered tensor, read from an array or from
// a call's arguments and reused from step to step (the binding's side of lib/step/gradients.ts).
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "arguments.h"

namespace rmsprop::napi {

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

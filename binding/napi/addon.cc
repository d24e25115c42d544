// The JavaScript boundary: converts JS values to plain spans for the core and maps failures to
// JS errors. No math lives here. The TypeScript facade validates everything first and builds the
// user-facing messages; the checks below only guarantee that a misuse of this internal binding
// throws instead of touching memory it should not.
#include <napi.h>

#include <string>
#include <vector>

#include "../core/multi_tensor_step.h"
#include "../core/plan.h"
#include "../kernels/kernels.h"

namespace rmsprop::napi {
namespace {

using core::DType;

struct TypedArraySpan {
  DType dtype;
  void* data;
  std::size_t length;
};

// Reads a Float32Array or Float64Array (any byte offset, any backing buffer) without copying.
bool read_float_array(napi_env env, napi_value value, TypedArraySpan* out) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return false;
  napi_typedarray_type type;
  std::size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) {
    return false;
  }
  if (type == napi_float32_array) {
    out->dtype = DType::kFloat32;
  } else if (type == napi_float64_array) {
    out->dtype = DType::kFloat64;
  } else {
    return false;
  }
  out->data = data;
  out->length = length;
  return true;
}

TypedArraySpan float_array_arg(const Napi::Value& value, const std::string& what) {
  TypedArraySpan span{};
  if (!read_float_array(value.Env(), value, &span)) {
    throw Napi::TypeError::New(value.Env(), what + " must be a Float32Array or Float64Array");
  }
  return span;
}

Napi::Array array_arg(const Napi::Value& value, const std::string& what, std::size_t length) {
  if (!value.IsArray() || value.As<Napi::Array>().Length() != length) {
    throw Napi::TypeError::New(value.Env(),
                               what + " must be an array of " + std::to_string(length));
  }
  return value.As<Napi::Array>();
}

// new NativeOptimizer(params, meanSquare, moment, meanGrad | null, plan)
// Registers the parameters and their state once; holds references so none is collected while
// this object lives. Every array is float32 or float64 and a tensor's buffers share its dtype
// and length.
class NativeOptimizer : public Napi::ObjectWrap<NativeOptimizer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeOptimizer",
                       {InstanceMethod<&NativeOptimizer::Step>("step"),
                        InstanceAccessor<&NativeOptimizer::Size>("size")});
  }

  explicit NativeOptimizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeOptimizer>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "params must be an array");
    const std::size_t count = info[0].As<Napi::Array>().Length();
    const Napi::Array params = array_arg(info[0], "params", count);
    const Napi::Array mean_square = array_arg(info[1], "meanSquare", count);
    const Napi::Array moment = array_arg(info[2], "moment", count);
    centered_ = !info[3].IsNull() && !info[3].IsUndefined();
    const Napi::Array mean_grad = centered_ ? array_arg(info[3], "meanGrad", count) : Napi::Array();
    const TypedArraySpan plan = float_array_arg(info[4], "plan");
    if (plan.dtype != DType::kFloat64 || plan.length != plan::size_for(count)) {
      throw Napi::TypeError::New(env, "plan must be a Float64Array of " +
                                          std::to_string(plan::size_for(count)));
    }
    plan_ = static_cast<const double*>(plan.data);
    keep(info[4]);

    tensors_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::string at = "[" + std::to_string(i) + "]";
      const TypedArraySpan p = float_array_arg(params[i], "params" + at);
      auto same_shape = [&](const Napi::Value& v, const std::string& what) {
        const TypedArraySpan s = float_array_arg(v, what + at);
        if (s.dtype != p.dtype || s.length != p.length) {
          throw Napi::TypeError::New(env, what + at + " must match params" + at);
        }
        keep(v);
        return s.data;
      };
      keep(params[i]);
      core::TensorSlot slot{p.dtype, p.length, p.data, nullptr, nullptr, nullptr};
      slot.mean_square = same_shape(mean_square[i], "meanSquare");
      slot.moment = same_shape(moment[i], "moment");
      if (centered_) slot.mean_grad = same_shape(mean_grad[i], "meanGrad");
      tensors_.push_back(slot);
    }
    grads_.resize(count);
  }

 private:
  void keep(const Napi::Value& value) {
    keep_alive_.push_back(Napi::Persistent(value.As<Napi::Object>()));
  }

  // step(grads): one gradient per registered tensor, same dtype and length; updates in place.
  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::size_t count = tensors_.size();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "grads must be an array");
    napi_value grads = info[0];
    std::uint32_t length = 0;
    napi_get_array_length(env, grads, &length);
    if (length != count) {
      throw Napi::TypeError::New(env, "grads must be an array of " + std::to_string(count));
    }
    for (std::uint32_t i = 0; i < length; ++i) {
      napi_value element;
      TypedArraySpan g{};
      if (napi_get_element(env, grads, i, &element) != napi_ok ||
          !read_float_array(env, element, &g) || g.dtype != tensors_[i].dtype ||
          g.length != tensors_[i].size) {
        throw Napi::TypeError::New(env, "grads[" + std::to_string(i) +
                                            "] must match the dtype and length of its parameter");
      }
      grads_[i] = g.data;
    }
    core::multi_tensor_step(active_kernels(),
                            core::StepInput{&tensors_, grads_.data(), plan_, centered_});
    return env.Undefined();
  }

  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(tensors_.size()));
  }

  std::vector<core::TensorSlot> tensors_;
  std::vector<const void*> grads_;  // reused at every step
  std::vector<Napi::ObjectReference> keep_alive_;
  const double* plan_ = nullptr;
  bool centered_ = false;
};

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
  exports["planLayout"] = PlanLayout(env);
  return exports;
}

}  // namespace
}  // namespace rmsprop::napi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return rmsprop::napi::Init(env, exports);
}

NODE_API_MODULE(rmsprop_native, InitAddon)

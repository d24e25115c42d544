// The addon's module: the optimizer class (optimizer.cc) and the process-wide functions (thread
// pool, kernel level, plan layout, loading a device plugin, the data-parallel reduce, the MPI
// backend's collectives of mpi.cc). No math
// lives here.
#include <napi.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/mean_of_ranks.h"
#include "../core/multi_tensor_step.h"
#include "../core/plan.h"
#include "../core/thread_pool.h"
#include "../kernels/kernels.h"
#include "mpi.h"
#include "optimizer.h"

namespace rmsprop::napi {
namespace {

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

// setGrainElements(n): the chunk size in elements (tests use small ones to split small steps
// across threads; bench/grain.js measures it); returns the grain in use.
Napi::Value SetGrainElements(const Napi::CallbackInfo& info) {
  if (info[0].IsNumber()) core::set_grain_elements(static_cast<std::size_t>(info[0].As<Napi::Number>().Int64Value()));
  return Napi::Number::New(info.Env(), static_cast<double>(core::grain_elements()));
}

// A Float32Array's or Float64Array's elements [from, to), checked against its length.
template <typename T>
T* elements(const Napi::Value& value, std::size_t from, std::size_t to, const char* what) {
  const auto type = std::is_same_v<T, float> ? napi_float32_array : napi_float64_array;
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a typed array of the reduce's dtype");
  }
  // The C call: it gives the data of arrays on SharedArrayBuffers too (Napi::ArrayBuffer does not).
  napi_typedarray_type kind;
  std::size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(value.Env(), value, &kind, &length, &data, nullptr, nullptr) != napi_ok) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " cannot be read");
  }
  if (to > length || from > to) throw Napi::RangeError::New(value.Env(), std::string(what) + " is too short");
  return static_cast<T*>(data) + from;
}

// The mean into out; with `check`, whether every value of it is finite (the active level's finite
// check, as a step's skipNonFinite uses), else true.
template <typename T>
bool reduce_mean(const Napi::CallbackInfo& info, std::size_t at, std::size_t from, std::size_t to, bool check) {
  std::vector<const T*> inputs;
  for (std::size_t k = 5; k < info.Length(); ++k) inputs.push_back(elements<T>(info[k], from, to, "inputs"));
  T* out = elements<T>(info[0], at, at + (to - from), "out");
  core::mean_of_ranks<T>(inputs.data(), inputs.size(), to - from, out);
  if (!check) return true;
  const KernelTable& kernels = active_kernels();
  if constexpr (std::is_same_v<T, float>) return kernels.finite_f32(out, to - from);
  else return kernels.finite_f64(out, to - from);
}

// reduceMean(out, at, from, to, check, ...inputs): out[at + j] = mean over the inputs of
// input[from + j] (lib/distributed/optimizer.ts; the data-parallel exchange's reduce); returns
// whether that piece of out is all finite (true without `check`).
Napi::Value ReduceMean(const Napi::CallbackInfo& info) {
  if (info.Length() < 6 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), "reduceMean(out, at, from, to, check, ...inputs)");
  }
  const auto index = [&](std::size_t i) { return static_cast<std::size_t>(info[i].As<Napi::Number>().Int64Value()); };
  const bool check = info[4].As<Napi::Boolean>().Value();
  const bool finite = info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array
                          ? reduce_mean<double>(info, index(1), index(2), index(3), check)
                          : reduce_mean<float>(info, index(1), index(2), index(3), check);
  return Napi::Boolean::New(info.Env(), finite);
}

// scaleInto(out, at, input, factor): out[at + j] = input[j] · factor, rounded once to the dtype
// (both float32 or both float64; in place when input views out there): a rank's gradients
// into the MPI exchange, × 1/ranks (lib/distributed/optimizer.ts).
Napi::Value ScaleInto(const Napi::CallbackInfo& info) {
  if (info.Length() < 4 || !info[1].IsNumber() || !info[3].IsNumber() || !info[2].IsTypedArray()) {
    throw Napi::TypeError::New(info.Env(), "scaleInto(out, at, input, factor)");
  }
  const auto at = static_cast<std::size_t>(info[1].As<Napi::Number>().Int64Value());
  const std::size_t count = info[2].As<Napi::TypedArray>().ElementLength();
  const double factor = info[3].As<Napi::Number>().DoubleValue();
  if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    core::scale_into(elements<double>(info[2], 0, count, "input"), count, factor, elements<double>(info[0], at, at + count, "out"));
  } else {
    core::scale_into(elements<float>(info[2], 0, count, "input"), count, factor, elements<float>(info[0], at, at + count, "out"));
  }
  return info.Env().Undefined();
}

// The plan's layout (binding/core/plan.h) and the variant knobs (include/variants.h), from their
// tables: lib/step/plan.ts fills the plan through these alone.
Napi::Object PlanLayout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
#define RMSPROP_EXPORT_SLOT(constant, name) layout[#name] = static_cast<double>(plan::constant);
  RMSPROP_PLAN_HEADER(RMSPROP_EXPORT_SLOT)
  RMSPROP_PLAN_TENSOR(RMSPROP_EXPORT_SLOT)
#undef RMSPROP_EXPORT_SLOT
  layout["headerSize"] = static_cast<double>(plan::kHeaderSize);
  layout["tensorStride"] = static_cast<double>(plan::kTensorStride);
  layout["centralize"] = static_cast<double>(plan::kCentralize);
  Napi::Array variants = Napi::Array::New(env);
#define RMSPROP_EXPORT_VARIANT(constant, name, option, value, weighted)     \
  {                                                                          \
    Napi::Object knob = Napi::Object::New(env);                              \
    knob["name"] = name;                                                     \
    knob["bit"] = static_cast<double>(::rmsprop::constant);                  \
    knob["option"] = option;                                                 \
    knob["value"] = Napi::Value::From(env, value);                           \
    knob["weighted"] = weighted;                                             \
    variants[variants.Length()] = knob;                                      \
  }
  RMSPROP_VARIANT_KNOBS(RMSPROP_EXPORT_VARIANT)
#undef RMSPROP_EXPORT_VARIANT
  layout["variants"] = variants;
  return layout;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports["Optimizer"] = DefineOptimizer(env);
  exports["simdLevel"] = Napi::Function::New<SimdLevel>(env, "simdLevel");
  exports["supportedSimdLevels"] = Napi::Function::New<SupportedSimdLevels>(env, "supportedSimdLevels");
  exports["setSimdLevel"] = Napi::Function::New<SetSimdLevel>(env, "setSimdLevel");
  exports["numThreads"] = Napi::Function::New<NumThreads>(env, "numThreads");
  exports["setNumThreads"] = Napi::Function::New<SetNumThreads>(env, "setNumThreads");
  // Hooks for tests and benchmarks only, apart from the surface the facade uses.
  Napi::Object testing = Napi::Object::New(env);
  testing["setGrainElements"] = Napi::Function::New<SetGrainElements>(env, "setGrainElements");
  exports["testing"] = testing;
  exports["planLayout"] = PlanLayout(env);
  exports["cudaLoad"] = Napi::Function::New<CudaLoad>(env, "cudaLoad");
  exports["reduceMean"] = Napi::Function::New<ReduceMean>(env, "reduceMean");
  exports["scaleInto"] = Napi::Function::New<ScaleInto>(env, "scaleInto");
  DefineMpi(env, exports);
  return exports;
}

}  // namespace
}  // namespace rmsprop::napi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return rmsprop::napi::Init(env, exports);
}

NODE_API_MODULE(rmsprop_native, InitAddon)

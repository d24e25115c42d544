// See mpi.h. Every collective has a blocking form (the JavaScript thread waits for the MPI owner
// thread, as `step()` needs) and, with `async` true, a promise (a libuv worker waits instead, as
// `stepAsync()` needs); the typed arrays it reads and writes stay referenced until it settles.
#include "mpi.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../../include/rmsprop_mpi.h"
#include "../core/mpi_channel.h"
#include "arguments.h"

namespace rmsprop::napi {
namespace {

double timeout_of(const Napi::Value& value) {
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), "timeoutMs must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

// A typed array's data, its length and its MPI element type.
struct View {
  void* data;
  std::size_t length;
  int dtype;
};

// The typed arrays MPI exchanges: those of a step (read_float_array: float32, float64, 16-bit
// patterns) and bytes.
View view_of(const Napi::Value& value, const char* what) {
  TypedArraySpan span{};
  if (read_float_array(value.Env(), value, &span)) {
    const int dtype = span.dtype == core::DType::kFloat32   ? RMSPROP_MPI_FLOAT32
                      : span.dtype == core::DType::kFloat64 ? RMSPROP_MPI_FLOAT64
                                                            : RMSPROP_MPI_UINT16;
    return {span.data, span.length, dtype};
  }
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto bytes = value.As<Napi::Uint8Array>();
    return {bytes.Data(), bytes.ElementLength(), RMSPROP_MPI_BYTE};
  }
  throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a Float32Array, Float64Array, Uint16Array or Uint8Array");
}

// Offsets from 0, never decreasing (one more than the ranks: core::check_groups counts them).
std::vector<std::size_t> cuts_of(const Napi::Value& value) {
  if (!value.IsArray() || value.As<Napi::Array>().Length() == 0) throw Napi::TypeError::New(value.Env(), "cuts must be a non-empty array");
  auto array = value.As<Napi::Array>();
  std::vector<std::size_t> cuts(array.Length());
  for (std::uint32_t i = 0; i < array.Length(); ++i) {
    const double at = array.Get(i).ToNumber().DoubleValue();
    if (!(at >= 0) || (i > 0 && at < static_cast<double>(cuts[i - 1]))) throw Napi::RangeError::New(value.Env(), "cuts must not decrease");
    cuts[i] = static_cast<std::size_t>(at);
  }
  if (cuts[0] != 0) throw Napi::RangeError::New(value.Env(), "cuts must start at 0");
  return cuts;
}

void require_started(Napi::Env env) {
  if (!core::mpi_started()) throw Napi::Error::New(env, "MPI is not started in this process");
}

// Runs `work` on a libuv worker and settles a promise with `result()` (or the error).
class MpiWorker : public Napi::AsyncWorker {
 public:
  MpiWorker(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> result,
            std::vector<Napi::Value> keep)
      : Napi::AsyncWorker(env, "rmsprop-native:mpi"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), result_(std::move(result)) {
    for (const auto& value : keep) refs_.push_back(Napi::Persistent(value.As<Napi::Object>()));
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(result_(Env())); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
  std::vector<Napi::ObjectReference> refs_;
};

// Blocking (the result now) or, with `async`, a promise of it.
Napi::Value run(Napi::Env env, bool async, std::function<void()> work, std::function<Napi::Value(Napi::Env)> result,
                std::vector<Napi::Value> keep) {
  if (!async) {
    try {
      work();
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    return result(env);
  }
  auto* worker = new MpiWorker(env, std::move(work), std::move(result), std::move(keep));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// mpiStart(pluginPath, timeoutMs) → { rank, size, threadLevel }
Napi::Value MpiStart(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "pluginPath must be a string");
  try {
    const core::MpiWorld world = core::mpi_start(info[0].As<Napi::String>().Utf8Value(), timeout_of(info[1]));
    Napi::Object out = Napi::Object::New(info.Env());
    out["rank"] = world.rank;
    out["size"] = world.size;
    out["threadLevel"] = world.thread_level;
    return out;
  } catch (const core::MpiError& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// mpiBarrier(timeoutMs, async)
Napi::Value MpiBarrier(const Napi::CallbackInfo& info) {
  require_started(info.Env());
  const double timeout = timeout_of(info[0]);
  return run(info.Env(), info[1].ToBoolean(), [timeout] { core::mpi_barrier(timeout); },
             [](Napi::Env env) { return env.Undefined(); }, {});
}

// mpiAllGatherBytes(bytes: Uint8Array, timeoutMs) → Uint8Array[] (every rank's, in rank order)
Napi::Value MpiAllGatherBytes(const Napi::CallbackInfo& info) {
  require_started(info.Env());
  const View bytes = view_of(info[0], "bytes");
  std::vector<std::vector<std::uint8_t>> all;
  try {
    all = core::mpi_allgather_bytes(static_cast<const std::uint8_t*>(bytes.data), bytes.length, timeout_of(info[1]));
  } catch (const core::MpiError& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  Napi::Array out = Napi::Array::New(info.Env(), all.size());
  for (std::size_t r = 0; r < all.size(); ++r) {
    auto buffer = Napi::Uint8Array::New(info.Env(), all[r].size());
    std::copy(all[r].begin(), all[r].end(), buffer.Data());
    out[static_cast<std::uint32_t>(r)] = buffer;
  }
  return out;
}

// The groups of mpiReduceMean / mpiGather: `data[i]` (and `send[i]`) with `cuts[i]`.
std::vector<core::MpiGroup> groups_of(const Napi::CallbackInfo& info, const Napi::Value* send, const Napi::Value& data,
                                      const Napi::Value& cuts, std::vector<Napi::Value>& keep) {
  if (!data.IsArray() || !cuts.IsArray() || (send && !send->IsArray())) throw Napi::TypeError::New(info.Env(), "groups must be arrays");
  auto datas = data.As<Napi::Array>();
  auto cutss = cuts.As<Napi::Array>();
  if (cutss.Length() != datas.Length() || (send && send->As<Napi::Array>().Length() != datas.Length())) {
    throw Napi::RangeError::New(info.Env(), "one cut list per group");
  }
  std::vector<core::MpiGroup> groups;
  for (std::uint32_t i = 0; i < datas.Length(); ++i) {
    core::MpiGroup g;
    const View d = view_of(datas.Get(i), "data");
    g.cuts = cuts_of(cutss.Get(i));
    g.data = d.data;
    g.length = d.length;
    g.dtype = d.dtype;
    keep.push_back(datas.Get(i));
    if (send) {
      const View s = view_of(send->As<Napi::Array>().Get(i), "send");
      if (s.dtype != d.dtype || (d.dtype != RMSPROP_MPI_FLOAT32 && d.dtype != RMSPROP_MPI_FLOAT64)) {
        throw Napi::TypeError::New(info.Env(), "send and piece must both be float32 or both float64");
      }
      if (s.length < g.cuts.back()) throw Napi::RangeError::New(info.Env(), "send is shorter than its group");
      g.send = s.data;
      keep.push_back(send->As<Napi::Array>().Get(i));
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

std::size_t bytes_of(const Napi::Value& value) {
  const double n = value.ToNumber().DoubleValue();
  return n >= 1 ? static_cast<std::size_t>(n) : 1;
}

using MeanFunction = bool (*)(const std::vector<core::MpiGroup>&, std::size_t, bool, double);

// (send[], out[], cuts[][], bucketBytes, check, timeoutMs, async) → boolean: `mean` over the
// groups; whether the mean is finite (true without check).
template <MeanFunction mean>
Napi::Value Mean(const Napi::CallbackInfo& info) {
  require_started(info.Env());
  std::vector<Napi::Value> keep;
  Napi::Value send = info[0];
  auto groups = groups_of(info, &send, info[1], info[2], keep);
  const std::size_t bucket = bytes_of(info[3]);
  const bool check = info[4].ToBoolean();
  const double timeout = timeout_of(info[5]);
  auto finite = std::make_shared<bool>(true);
  return run(
      info.Env(), info[6].ToBoolean(), [=] { *finite = mean(groups, bucket, check, timeout); },
      [finite](Napi::Env env) { return Napi::Boolean::New(env, *finite); }, keep);
}

// mpiGather(buffers[], cuts[][], bucketBytes, timeoutMs, async): every rank's piece of each buffer to every rank.
Napi::Value MpiGather(const Napi::CallbackInfo& info) {
  require_started(info.Env());
  std::vector<Napi::Value> keep;
  auto groups = groups_of(info, nullptr, info[0], info[1], keep);
  const std::size_t bucket = bytes_of(info[2]);
  const double timeout = timeout_of(info[3]);
  return run(
      info.Env(), info[4].ToBoolean(), [=] { core::mpi_gather(groups, bucket, timeout); },
      [](Napi::Env env) { return env.Undefined(); }, keep);
}

// mpiExit(code, timeoutMs): the process's exit code, for the finalize or abort at exit
// (core::mpi_set_exit_code).
Napi::Value MpiExit(const Napi::CallbackInfo& info) {
  const int code = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  core::mpi_set_exit_code(code, timeout_of(info[1]));
  return info.Env().Undefined();
}

}  // namespace

void DefineMpi(Napi::Env env, Napi::Object exports) {
  exports["mpiStart"] = Napi::Function::New<MpiStart>(env, "mpiStart");
  exports["mpiBarrier"] = Napi::Function::New<MpiBarrier>(env, "mpiBarrier");
  exports["mpiAllGatherBytes"] = Napi::Function::New<MpiAllGatherBytes>(env, "mpiAllGatherBytes");
  // mpiReduceMean(send[], pieces[], …): sharded, this rank's piece of the mean (the pieces are
  // checked against the cuts: each must hold its rank's share), finite on every rank.
  exports["mpiReduceMean"] = Napi::Function::New<Mean<core::mpi_reduce_mean>>(env, "mpiReduceMean");
  // mpiAllReduceMean(send[], means[], …): not sharded, the whole mean on every rank.
  exports["mpiAllReduceMean"] = Napi::Function::New<Mean<core::mpi_allreduce_mean>>(env, "mpiAllReduceMean");
  exports["mpiGather"] = Napi::Function::New<MpiGather>(env, "mpiGather");
  exports["mpiExit"] = Napi::Function::New<MpiExit>(env, "mpiExit");
}

}  // namespace rmsprop::napi

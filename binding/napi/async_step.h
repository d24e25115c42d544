// The asynchronous step: a step's work on a libuv thread, a promise for the facade.
#pragma once
#include <napi.h>

#include <exception>
#include <functional>

#include "step_counter.h"

namespace rmsprop::napi {

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

}  // namespace rmsprop::napi

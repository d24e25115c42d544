// The global step counter and one step under the parameters' locks: the step-index contract
// with the facade (lib/step/step-index.ts points here), and what a step call reports.
#pragma once
#include <napi.h>

#include <cstdint>
#include <optional>
#if defined(_MSC_VER)
#include <intrin.h>
#endif

#include "../core/lock_registry.h"

namespace rmsprop::napi {

// The global step counter: the facade's Int32Array of length 1 (on a SharedArrayBuffer when the
// optimizer can be shared, so every thread's optimizer over the same parameters sees one counter).
//
// The step-index contract with the facade (docs/semantics.md §8; lib/step/step-index.ts, StepIndex),
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

// What a step call did (the number step / stepAsync return to the facade; lib/native/native.ts).
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

}  // namespace rmsprop::napi

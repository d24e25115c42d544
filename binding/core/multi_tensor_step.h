// The multi-tensor step: every registered tensor updated in one call, with no knowledge of
// JavaScript. Weight decay, centralization and unscaling are fused into the kernels' single
// pass; large tensors are split and small ones batched into chunks run on the thread pool.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../kernels/kernel_types.h"
#include "plan.h"
#include "stepper.h"

namespace rmsprop::core {

// A contiguous run of the concatenation of all tensors: from element `first_begin` of tensor
// `first` to element `last_end` (exclusive) of tensor `last`. Boundaries inside a centralized
// tensor fall between slices.
struct Chunk {
  std::uint32_t first;
  std::uint32_t last;
  std::size_t first_begin;
  std::size_t last_end;
};

// Elements per chunk: large enough that waking a thread is cheap beside it, small enough to
// balance two to a few dozen threads. Measured with bench/grain.js (see README, Performance).
constexpr std::size_t kDefaultGrainElements = 1 << 16;

// Below this many elements in all, a step runs on the calling thread alone: waking a pool
// thread costs tens of microseconds, as much as the whole step (bench/grain.js).
constexpr std::size_t kMinParallelElements = 1 << 17;

// The grain in use (process-wide; changed only by benchmarks measuring it).
std::size_t grain_elements();
void set_grain_elements(std::size_t elements);

class MultiTensorStep final : public Stepper {
 public:
  // `plan` (layout in plan.h) must already hold each tensor's flags and slices; it stays owned
  // by the caller, who rewrites the per-step values (lr, weight decay) before each run.
  MultiTensorStep(std::vector<TensorSlot> tensors, const double* plan, bool centered);

  // Applies one update to every tensor with the kernels of `kernels` (the active level, or one
  // chosen by a test). `grads` holds one pointer per tensor, of its dtype and size. Safe to call
  // from any thread, but not concurrently on one object.
  void run(const KernelTable& kernels, const void* const* grads, const DType* grad_dtypes = nullptr);

  // Stepper: run() with the process's active kernels.
  void step(const void* const* grads, const DType* grad_dtypes) override;
  bool may_apply(const void* const* grads, const DType* grad_dtypes) override;
  std::size_t size() const override { return tensors_.size(); }
  const TensorSlot& tensor(std::size_t i) const override { return tensors_[i]; }

 private:
  void partition(std::size_t threads);
  void read_plan();
  void run_chunk(const KernelTable& kernels, const void* const* grads, const DType* grad_dtypes,
                 const Chunk& chunk) const;
  bool chunk_finite(const KernelTable& kernels, const void* const* grads, const DType* grad_dtypes,
                    const Chunk& chunk) const;
  void ensure_partitioned();

  std::vector<TensorSlot> tensors_;
  const double* plan_;
  bool centered_;
  std::vector<std::size_t> slice_size_;  // per tensor: elements per centralized slice; 0: none
  // Per tensor, this step's scalars rounded to its dtype (the other dtype's entry is unused),
  // recomputed only for the tensors whose rates (or the shared values) changed since the last step.
  std::vector<TensorScalars<float>> scalars_f32_;
  std::vector<TensorScalars<double>> scalars_f64_;
  std::vector<plan::TensorPlan> tensor_plan_;  // what the plan said at the last read
  plan::Shared shared_{};
  bool read_once_ = false;
  std::vector<Chunk> chunks_;
  std::size_t partitioned_for_ = 0;  // thread count the chunks were made for
  std::size_t partitioned_grain_ = 0;
};

}  // namespace rmsprop::core

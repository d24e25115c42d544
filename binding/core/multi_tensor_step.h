// The multi-tensor step: every registered tensor updated in one call, with no knowledge of
// JavaScript. Weight decay, centralization and unscaling are fused into the kernels' single
// pass; large tensors are split and small ones batched into chunks run on the thread pool.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../kernels/kernel_types.h"

namespace rmsprop::core {

enum class DType : std::uint8_t { kFloat32, kFloat64 };

// One parameter and its state, registered once. The buffers belong to the caller.
struct TensorSlot {
  DType dtype;
  std::size_t size;
  void* param;
  void* mean_square;
  void* moment;
  void* mean_grad;  // null unless centered
};

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

class MultiTensorStep {
 public:
  // `plan` (layout in plan.h) must already hold each tensor's flags and slices; it stays owned
  // by the caller, who rewrites the per-step values (lr, weight decay) before each run.
  MultiTensorStep(std::vector<TensorSlot> tensors, const double* plan, bool centered);

  // What a run computes: the RMSProp update, or the benchmark's memory-traffic baseline (the
  // same loads and stores with trivial arithmetic, through the same chunks and threads).
  enum class Work { kUpdate, kStreamBaseline };

  // Applies one update to every tensor. `grads` holds one pointer per tensor, of its dtype and
  // size. Safe to call from any thread, but not concurrently on one object.
  void run(const KernelTable& kernels, const void* const* grads, Work work = Work::kUpdate);

  std::size_t size() const { return tensors_.size(); }
  const TensorSlot& tensor(std::size_t i) const { return tensors_[i]; }

 private:
  void partition(std::size_t threads);
  void run_chunk(const KernelTable& kernels, const void* const* grads, const Chunk& chunk,
                 Work work) const;

  std::vector<TensorSlot> tensors_;
  std::vector<std::size_t> slice_size_;  // per tensor: elements per centralized slice, or 1
  const double* plan_;
  bool centered_;
  std::vector<Chunk> chunks_;
  std::size_t partitioned_for_ = 0;  // thread count the chunks were made for
  std::size_t partitioned_grain_ = 0;
};

}  // namespace rmsprop::core

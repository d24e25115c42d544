#include "multi_tensor_step.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "centralization.h"
#include "../kernels/kernels.h"
#include "plan.h"
#include "thread_pool.h"

namespace rmsprop::core {
namespace {

template <class T>
TensorBuffers<T> range_of(const TensorSlot& slot, const void* grad, std::size_t begin,
                          std::size_t end) {
  return TensorBuffers<T>{static_cast<T*>(slot.param) + begin,
                          static_cast<T*>(slot.mean_square) + begin,
                          static_cast<T*>(slot.moment) + begin,
                          slot.mean_grad ? static_cast<T*>(slot.mean_grad) + begin : nullptr,
                          static_cast<const T*>(grad) + begin,
                          end - begin};
}

// Updates elements [begin, end) of one tensor with its scalars `k` for this step; under
// centralization (slice > 0), whole slices, each centred on its own mean right before its
// update (which then reads it back from cache).
template <class T>
void update_range(KernelFn<T> kernel, const TensorSlot& slot, const void* grad, TensorScalars<T> k,
                  std::size_t slice, std::size_t begin, std::size_t end) {
  if (slice == 0) {
    kernel(range_of<T>(slot, grad, begin, end), k);
    return;
  }
  for (std::size_t from = begin; from < end; from += slice) {
    const TensorBuffers<T> t = range_of<T>(slot, grad, from, from + slice);
    k.grad_shift = static_cast<T>(
        slice_mean<T>(t.grad, t.param, slice, k.weight_decay, (k.variant & kCoupledDecay) != 0));
    kernel(t, k);
  }
}

// Half precision (docs/semantics.md §11), where the instruction set has no fused half kernel (or
// none for this variant: kFusedHalfVariants; or for a centralized slice): a tensor goes through
// the float32 kernel in blocks of this many elements (small enough that one block's conversions,
// update and rounding stay in L1; 2048 ran at half the bandwidth), its parameter (unless master
// weights hold it in float32) and gradient (unless float32) widened into per-thread scratch, and
// the parameter rounded back after the update. Every element gets the float32 arithmetic of the
// same kernel, so block and chunk boundaries cannot change a result.
constexpr std::size_t kHalfBlock = 512;

struct HalfScratch {
  std::vector<float> w, g;
};

void update_half(const KernelTable& kernels, KernelFn<float> kernel, const TensorSlot& slot, const void* grad,
                 DType grad_dtype, TensorScalars<float> k, std::size_t slice, std::size_t begin, std::size_t end) {
  thread_local HalfScratch scratch;
  const std::size_t block = slice > 0 ? slice : kHalfBlock;
  if (scratch.w.size() < block) {
    scratch.w.resize(block);
    scratch.g.resize(block);
  }
  const bool bf16 = slot.dtype == DType::kBFloat16;
  const WidenFn widen = bf16 ? kernels.bf16_to_f32 : kernels.f16_to_f32;
  const NarrowFn narrow = bf16 ? kernels.f32_to_bf16 : kernels.f32_to_f16;
  auto* param = static_cast<std::uint16_t*>(slot.param);
  auto* master = static_cast<float*>(slot.master);
  auto* mean_square = static_cast<float*>(slot.mean_square);
  auto* moment = static_cast<float*>(slot.moment);
  auto* mean_grad = static_cast<float*>(slot.mean_grad);
  for (std::size_t from = begin; from < end;) {
    const std::size_t n = std::min(block, end - from);
    float* w = master != nullptr ? master + from : scratch.w.data();
    if (master == nullptr) widen(param + from, w, n);
    const float* g = static_cast<const float*>(grad) + from;
    if (grad_dtype != DType::kFloat32) {
      widen(static_cast<const std::uint16_t*>(grad) + from, scratch.g.data(), n);
      g = scratch.g.data();
    }
    if (slice > 0) k.grad_shift = static_cast<float>(slice_mean<float>(g, w, n, k.weight_decay, (k.variant & kCoupledDecay) != 0));
    kernel(TensorBuffers<float>{w, mean_square + from, moment + from, mean_grad ? mean_grad + from : nullptr, g, n}, k);
    narrow(w, param + from, n);
    from += n;
  }
}

std::atomic<std::size_t> g_grain{kDefaultGrainElements};

}  // namespace

std::size_t grain_elements() { return g_grain.load(std::memory_order_relaxed); }
void set_grain_elements(std::size_t elements) {
  g_grain.store(std::max<std::size_t>(elements, 64), std::memory_order_relaxed);
}

MultiTensorStep::MultiTensorStep(std::vector<TensorSlot> tensors, const double* plan,
                                 bool centered)
    : tensors_(std::move(tensors)), plan_(plan), centered_(centered) {
  slice_size_.resize(tensors_.size(), 0);
  scalars_f32_.resize(tensors_.size());
  scalars_f64_.resize(tensors_.size());
  tensor_plan_.reserve(tensors_.size());
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    tensor_plan_.push_back(plan::read_tensor(plan_, i, tensors_[i].size));
    if (tensor_plan_[i].centralize) slice_size_[i] = tensor_plan_[i].slice_size;
  }
}

// This step's scalars of every tensor, rounded to its dtype once per step (not per chunk); only
// the rates change between steps (flags and slices are fixed at registration), and a tensor
// whose rates and shared values are those of the last step keeps its scalars.
void MultiTensorStep::read_plan() {
  const plan::Shared shared = plan::read_shared(plan_);
  const bool all = !read_once_ || shared.decay != shared_.decay || shared.momentum != shared_.momentum ||
                   shared.epsilon != shared_.epsilon || shared.inv_loss_scale != shared_.inv_loss_scale;
  shared_ = shared;
  read_once_ = true;
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    plan::TensorPlan& t = tensor_plan_[i];
    const plan::Rates rates = plan::read_rates(plan_, i);
    if (!all && rates == plan::Rates{t.lr, t.weight_decay}) continue;
    t.lr = rates.lr;
    t.weight_decay = rates.weight_decay;
    if (state_dtype(tensors_[i].dtype) == DType::kFloat32) {
      scalars_f32_[i] = plan::scalars_for<float>(shared, t);
    } else {
      scalars_f64_[i] = plan::scalars_for<double>(shared, t);
    }
  }
}

// Cuts the concatenated tensors into chunks of about the grain (at least one chunk per thread
// for large steps), never splitting a centralized slice. Chunk boundaries cannot change results:
// every element gets the same arithmetic wherever it sits.
void MultiTensorStep::partition(std::size_t threads) {
  chunks_.clear();
  std::size_t total = 0;
  for (const TensorSlot& t : tensors_) total += t.size;
  const std::size_t wanted = grain_elements();
  // One chunk (run inline) for small steps; else chunks of the grain, at least one per thread.
  const std::size_t grain =
      threads <= 1 || total < kMinParallelElements
          ? total
          : std::max<std::size_t>(std::min(wanted, total / threads), std::min<std::size_t>(wanted, 4096));
  Chunk open{0, 0, 0, 0};
  std::size_t filled = 0;
  bool has_open = false;
  for (std::uint32_t i = 0; i < tensors_.size(); ++i) {
    const std::size_t size = tensors_[i].size;
    const std::size_t unit = slice_size_[i];  // 0: any boundary
    std::size_t at = 0;
    while (at < size) {
      if (!has_open) {
        open = Chunk{i, i, at, at};
        filled = 0;
        has_open = true;
      }
      // Take what fits in this chunk, in whole slices (at least one).
      std::size_t take = std::min(size - at, grain - filled);
      if (unit > 1) take = std::max<std::size_t>(take / unit, 1) * unit;
      at += take;
      filled += take;
      open.last = i;
      open.last_end = at;
      if (filled >= grain) {
        chunks_.push_back(open);
        has_open = false;
      }
    }
  }
  if (has_open) chunks_.push_back(open);
  partitioned_for_ = threads;
  partitioned_grain_ = wanted;
}

void MultiTensorStep::run_chunk(const KernelTable& kernels, const void* const* grads, const DType* grad_dtypes,
                                const Chunk& chunk) const {
  const KernelFn<float> f32 = centered_ ? kernels.centered_f32 : kernels.plain_f32;
  const KernelFn<double> f64 = centered_ ? kernels.centered_f64 : kernels.plain_f64;
  for (std::uint32_t i = chunk.first; i <= chunk.last; ++i) {
    const TensorSlot& slot = tensors_[i];
    const std::size_t begin = i == chunk.first ? chunk.first_begin : 0;
    const std::size_t end = i == chunk.last ? chunk.last_end : slot.size;
    if (begin >= end) continue;
    if (slot.dtype == DType::kFloat32) {
      update_range<float>(f32, slot, grads[i], scalars_f32_[i], slice_size_[i], begin, end);
    } else if (is_half(slot.dtype)) {
      const DType grad_dtype = grad_dtypes != nullptr ? grad_dtypes[i] : slot.dtype;
      const bool bf16 = slot.dtype == DType::kBFloat16;
      const HalfKernelFn fused = bf16 ? (centered_ ? kernels.centered_bf16 : kernels.plain_bf16)
                                      : (centered_ ? kernels.centered_f16 : kernels.plain_f16);
      bool done = false;
      if (fused != nullptr && slice_size_[i] == 0) {
        // Converted in registers (where the kernel fuses this variant).
        const bool grad_f32 = grad_dtype == DType::kFloat32;
        const void* grad = grad_f32 ? static_cast<const void*>(static_cast<const float*>(grads[i]) + begin)
                                    : static_cast<const void*>(static_cast<const std::uint16_t*>(grads[i]) + begin);
        done = fused(HalfTensorBuffers{static_cast<std::uint16_t*>(slot.param) + begin,
                                       slot.master ? static_cast<float*>(slot.master) + begin : nullptr,
                                       static_cast<float*>(slot.mean_square) + begin,
                                       static_cast<float*>(slot.moment) + begin,
                                       slot.mean_grad ? static_cast<float*>(slot.mean_grad) + begin : nullptr, grad,
                                       grad_f32, end - begin},
                     scalars_f32_[i]);
      }
      if (!done) update_half(kernels, f32, slot, grads[i], grad_dtype, scalars_f32_[i], slice_size_[i], begin, end);
    } else {
      update_range<double>(f64, slot, grads[i], scalars_f64_[i], slice_size_[i], begin, end);
    }
  }
}

void MultiTensorStep::step(const void* const* grads, const DType* grad_dtypes) {
  run(active_kernels(), grads, grad_dtypes);
}

void MultiTensorStep::ensure_partitioned() {
  const std::size_t threads = ThreadPool::instance().size();
  if (threads != partitioned_for_ || grain_elements() != partitioned_grain_) partition(threads);
}

bool MultiTensorStep::chunk_finite(const KernelTable& kernels, const void* const* grads, const DType* grad_dtypes,
                                   const Chunk& chunk) const {
  for (std::uint32_t i = chunk.first; i <= chunk.last; ++i) {
    const std::size_t begin = i == chunk.first ? chunk.first_begin : 0;
    const std::size_t end = i == chunk.last ? chunk.last_end : tensors_[i].size;
    if (begin >= end) continue;
    const std::size_t n = end - begin;
    bool finite = true;
    switch (grad_dtypes != nullptr ? grad_dtypes[i] : tensors_[i].dtype) {
      case DType::kFloat32: finite = kernels.finite_f32(static_cast<const float*>(grads[i]) + begin, n); break;
      case DType::kFloat64: finite = kernels.finite_f64(static_cast<const double*>(grads[i]) + begin, n); break;
      case DType::kFloat16: finite = kernels.finite_f16(static_cast<const std::uint16_t*>(grads[i]) + begin, n); break;
      case DType::kBFloat16: finite = kernels.finite_bf16(static_cast<const std::uint16_t*>(grads[i]) + begin, n); break;
    }
    if (!finite) return false;
  }
  return true;
}

// One read of every gradient, in the step's chunks and threads, before anything is written.
bool MultiTensorStep::may_apply(const void* const* grads, const DType* grad_dtypes) {
  if (plan_[plan::kCheckFinite] == 0) return true;
  ensure_partitioned();
  const KernelTable& kernels = active_kernels();
  if (chunks_.size() == 1) return chunk_finite(kernels, grads, grad_dtypes, chunks_[0]);
  struct Job {
    const MultiTensorStep* step;
    const KernelTable* kernels;
    const void* const* grads;
    const DType* grad_dtypes;
    std::atomic<bool> finite{true};
  } job{this, &kernels, grads, grad_dtypes};
  ThreadPool::instance().run(
      chunks_.size(),
      [](void* context, std::size_t c) {
        Job& j = *static_cast<Job*>(context);
        if (!j.finite.load(std::memory_order_relaxed)) return;  // another chunk already found one
        if (!j.step->chunk_finite(*j.kernels, j.grads, j.grad_dtypes, j.step->chunks_[c])) {
          j.finite.store(false, std::memory_order_relaxed);
        }
      },
      &job);
  return job.finite.load();
}

void MultiTensorStep::run(const KernelTable& kernels, const void* const* grads, const DType* grad_dtypes) {
  ThreadPool& pool = ThreadPool::instance();
  ensure_partitioned();
  read_plan();
  if (chunks_.size() == 1) {
    run_chunk(kernels, grads, grad_dtypes, chunks_[0]);
    return;
  }
  struct Job {
    const MultiTensorStep* step;
    const KernelTable* kernels;
    const void* const* grads;
    const DType* grad_dtypes;
  } job{this, &kernels, grads, grad_dtypes};
  pool.run(
      chunks_.size(),
      [](void* context, std::size_t c) {
        const Job& j = *static_cast<const Job*>(context);
        j.step->run_chunk(*j.kernels, j.grads, j.grad_dtypes, j.step->chunks_[c]);
      },
      &job);
}

}  // namespace rmsprop::core

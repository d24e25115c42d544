#include "multi_tensor_step.h"

#include <algorithm>
#include <atomic>

#include "centralization.h"
#include "plan.h"
#include "thread_pool.h"

namespace rmsprop::core {
namespace {

// Rounds the plan's float64 hyper-parameters to the tensor's precision (docs/semantics.md §2).
template <class T>
TensorScalars<T> scalars_for(const double* plan_data, const double* tensor) {
  TensorScalars<T> k;
  k.decay = static_cast<T>(plan_data[plan::kDecay]);
  k.one_minus_decay = T(1) - k.decay;
  k.momentum = static_cast<T>(plan_data[plan::kMomentum]);
  k.epsilon = static_cast<T>(plan_data[plan::kEpsilon]);
  k.inv_loss_scale = static_cast<T>(plan_data[plan::kInvLossScale]);
  k.lr = static_cast<T>(tensor[plan::kLr]);
  k.weight_decay = static_cast<T>(tensor[plan::kWeightDecay]);
  k.grad_shift = T(0);
  k.apply_weight_decay = (plan::flags_of(tensor) & plan::kApplyWeightDecay) != 0;
  return k;
}

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

// Updates elements [begin, end) of one tensor; under centralization, whole slices, each centred
// on its own mean right before its update (which then reads it back from cache).
template <class T>
void update_range(KernelFn<T> kernel, const TensorSlot& slot, const void* grad,
                  const double* plan_data, const double* tensor, std::size_t slice,
                  std::size_t begin, std::size_t end) {
  TensorScalars<T> k = scalars_for<T>(plan_data, tensor);
  if (slice <= 1) {
    kernel(range_of<T>(slot, grad, begin, end), k);
    return;
  }
  for (std::size_t from = begin; from < end; from += slice) {
    const TensorBuffers<T> t = range_of<T>(slot, grad, from, from + slice);
    k.grad_shift = static_cast<T>(
        slice_mean<T>(t.grad, t.param, slice, k.weight_decay, k.apply_weight_decay));
    kernel(t, k);
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
  slice_size_.resize(tensors_.size(), 1);
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const double* tensor = plan::tensor_values(plan_, i);
    const auto slices = static_cast<std::size_t>(tensor[plan::kSlices]);
    if ((plan::flags_of(tensor) & plan::kCentralize) != 0 && slices > 0 &&
        tensors_[i].size % slices == 0) {
      slice_size_[i] = tensors_[i].size / slices;
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
    const std::size_t unit = slice_size_[i];
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

void MultiTensorStep::run_chunk(const KernelTable& kernels, const void* const* grads,
                                const Chunk& chunk, Work work) const {
  const bool stream = work == Work::kStreamBaseline;
  const KernelFn<float> f32 = stream ? (centered_ ? kernels.stream_centered_f32 : kernels.stream_plain_f32)
                                     : (centered_ ? kernels.centered_f32 : kernels.plain_f32);
  const KernelFn<double> f64 = stream ? (centered_ ? kernels.stream_centered_f64 : kernels.stream_plain_f64)
                                      : (centered_ ? kernels.centered_f64 : kernels.plain_f64);
  for (std::uint32_t i = chunk.first; i <= chunk.last; ++i) {
    const TensorSlot& slot = tensors_[i];
    const std::size_t begin = i == chunk.first ? chunk.first_begin : 0;
    const std::size_t end = i == chunk.last ? chunk.last_end : slot.size;
    if (begin >= end) continue;
    const double* tensor = plan::tensor_values(plan_, i);
    if (slot.dtype == DType::kFloat32) {
      update_range<float>(f32, slot, grads[i], plan_, tensor, slice_size_[i], begin, end);
    } else {
      update_range<double>(f64, slot, grads[i], plan_, tensor, slice_size_[i], begin, end);
    }
  }
}

void MultiTensorStep::run(const KernelTable& kernels, const void* const* grads, Work work) {
  ThreadPool& pool = ThreadPool::instance();
  const std::size_t threads = pool.size();
  if (threads != partitioned_for_ || grain_elements() != partitioned_grain_) partition(threads);
  if (chunks_.size() == 1) {
    run_chunk(kernels, grads, chunks_[0], work);
    return;
  }
  struct Job {
    const MultiTensorStep* step;
    const KernelTable* kernels;
    const void* const* grads;
    Work work;
  } job{this, &kernels, grads, work};
  pool.run(
      chunks_.size(),
      [](void* context, std::size_t c) {
        const Job& j = *static_cast<const Job*>(context);
        j.step->run_chunk(*j.kernels, j.grads, j.step->chunks_[c], j.work);
      },
      &job);
}

}  // namespace rmsprop::core

#include "multi_tensor_step.h"

#include "centralization.h"
#include "plan.h"

namespace rmsprop::core {
namespace {

// Rounds the plan's float64 hyper-parameters to the tensor's precision (semantics.md §2).
template <class T>
TensorScalars<T> scalars_for(const double* plan_data, const double* tensor) {
  const auto flags = static_cast<std::uint32_t>(tensor[plan::kFlags]);
  TensorScalars<T> k;
  k.decay = static_cast<T>(plan_data[plan::kDecay]);
  k.one_minus_decay = T(1) - k.decay;
  k.momentum = static_cast<T>(plan_data[plan::kMomentum]);
  k.epsilon = static_cast<T>(plan_data[plan::kEpsilon]);
  k.inv_loss_scale = static_cast<T>(plan_data[plan::kInvLossScale]);
  k.lr = static_cast<T>(tensor[plan::kLr]);
  k.weight_decay = static_cast<T>(tensor[plan::kWeightDecay]);
  k.grad_shift = T(0);
  k.apply_weight_decay = (flags & plan::kApplyWeightDecay) != 0;
  return k;
}

template <class T>
TensorBuffers<T> buffers_of(const TensorSlot& slot, const void* grad) {
  return TensorBuffers<T>{static_cast<T*>(slot.param),     static_cast<T*>(slot.mean_square),
                          static_cast<T*>(slot.moment),    static_cast<T*>(slot.mean_grad),
                          static_cast<const T*>(grad),     slot.size};
}

template <class T>
TensorBuffers<T> slice_of(const TensorBuffers<T>& t, std::size_t from, std::size_t n) {
  return TensorBuffers<T>{t.param + from,
                          t.mean_square + from,
                          t.moment + from,
                          t.mean_grad ? t.mean_grad + from : nullptr,
                          t.grad + from,
                          n};
}

template <class T>
void update_tensor(KernelFn<T> kernel, const TensorSlot& slot, const void* grad,
                   const double* plan_data, std::size_t index) {
  const double* tensor = plan_data + plan::kHeaderSize + index * plan::kTensorStride;
  const TensorBuffers<T> t = buffers_of<T>(slot, grad);
  TensorScalars<T> k = scalars_for<T>(plan_data, tensor);
  const auto flags = static_cast<std::uint32_t>(tensor[plan::kFlags]);
  const auto slices = static_cast<std::size_t>(tensor[plan::kSlices]);
  if ((flags & plan::kCentralize) == 0 || slices == 0 || t.size % slices != 0) {
    kernel(t, k);
    return;
  }
  // Centralization: each slice along axis 0 is centred on its own mean, computed right before
  // the slice is updated so that the update reads it back from cache.
  const std::size_t slice = t.size / slices;
  for (std::size_t from = 0; from < t.size; from += slice) {
    k.grad_shift = static_cast<T>(
        slice_mean<T>(t.grad + from, t.param + from, slice, k.weight_decay, k.apply_weight_decay));
    kernel(slice_of(t, from, slice), k);
  }
}

}  // namespace

void multi_tensor_step(const KernelTable& kernels, const StepInput& input) {
  const std::vector<TensorSlot>& tensors = *input.tensors;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorSlot& slot = tensors[i];
    if (slot.size == 0) continue;
    if (slot.dtype == DType::kFloat32) {
      update_tensor<float>(input.centered ? kernels.centered_f32 : kernels.plain_f32, slot,
                           input.grads[i], input.plan, i);
    } else {
      update_tensor<double>(input.centered ? kernels.centered_f64 : kernels.plain_f64, slot,
                            input.grads[i], input.plan, i);
    }
  }
}

}  // namespace rmsprop::core

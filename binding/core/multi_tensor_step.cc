#include "multi_tensor_step.h"

#include "plan.h"

namespace rmsprop::core {
namespace {

// Rounds the plan's float64 hyper-parameters to the tensor's precision (semantics.md §2).
template <class T>
TensorScalars<T> scalars_for(const double* plan_data, std::size_t index) {
  const double* tensor = plan_data + plan::kHeaderSize + index * plan::kTensorStride;
  const auto flags = static_cast<std::uint32_t>(tensor[plan::kFlags]);
  TensorScalars<T> k;
  k.decay = static_cast<T>(plan_data[plan::kDecay]);
  k.one_minus_decay = T(1) - k.decay;
  k.momentum = static_cast<T>(plan_data[plan::kMomentum]);
  k.epsilon = static_cast<T>(plan_data[plan::kEpsilon]);
  k.inv_loss_scale = static_cast<T>(plan_data[plan::kInvLossScale]);
  k.lr = static_cast<T>(tensor[plan::kLr]);
  k.weight_decay = static_cast<T>(tensor[plan::kWeightDecay]);
  k.apply_weight_decay = (flags & plan::kApplyWeightDecay) != 0;
  return k;
}

template <class T>
TensorBuffers<T> buffers_of(const TensorSlot& slot, const void* grad) {
  return TensorBuffers<T>{static_cast<T*>(slot.param),     static_cast<T*>(slot.mean_square),
                          static_cast<T*>(slot.moment),    static_cast<T*>(slot.mean_grad),
                          static_cast<const T*>(grad),     slot.size};
}

}  // namespace

void multi_tensor_step(const KernelTable& kernels, const StepInput& input) {
  const std::vector<TensorSlot>& tensors = *input.tensors;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorSlot& slot = tensors[i];
    if (slot.size == 0) continue;
    if (slot.dtype == DType::kFloat32) {
      const KernelFn<float> kernel = input.centered ? kernels.centered_f32 : kernels.plain_f32;
      kernel(buffers_of<float>(slot, input.grads[i]), scalars_for<float>(input.plan, i));
    } else {
      const KernelFn<double> kernel = input.centered ? kernels.centered_f64 : kernels.plain_f64;
      kernel(buffers_of<double>(slot, input.grads[i]), scalars_for<double>(input.plan, i));
    }
  }
}

}  // namespace rmsprop::core

// The multi-tensor step: every registered tensor updated in one call, with no knowledge of
// JavaScript. Weight decay and unscaling are fused into the kernels' single pass.
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

struct StepInput {
  const std::vector<TensorSlot>* tensors;
  const void* const* grads;  // one per tensor, of the tensor's dtype and size
  const double* plan;        // layout in plan.h
  bool centered;
};

// Applies one update to every tensor with the given kernels.
void multi_tensor_step(const KernelTable& kernels, const StepInput& input);

}  // namespace rmsprop::core

// What the binding's one optimizer class (binding/napi/optimizer.cc) steps: the CPU's
// MultiTensorStep or a device's DeviceStep, behind one interface. No JavaScript here.
#pragma once
#include <cstddef>
#include <cstdint>

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

class DeviceStep;

class Stepper {
 public:
  virtual ~Stepper() = default;

  // One step over every registered tensor with the plan's current values (binding/core/plan.h).
  // `grads`: one pointer per tensor, of its dtype and size; null only for a device stepper
  // (its device gradient buffers already hold them). Not concurrently on one object.
  virtual void step(const void* const* grads) = 0;

  // Whether the step with `grads` may apply: false when the plan asks for the check
  // (plan::kCheckFinite) and a gradient holds an inf or NaN; true without the check.
  virtual bool may_apply(const void* const* grads) = 0;

  virtual std::size_t size() const = 0;
  virtual const TensorSlot& tensor(std::size_t i) const = 0;

  // The device stepper behind this interface, or null on the CPU.
  virtual DeviceStep* device() { return nullptr; }
};

}  // namespace rmsprop::core

// What the binding's one optimizer class (binding/napi/optimizer.cc) steps: the CPU's
// MultiTensorStep or a device's DeviceStep, behind one interface. No JavaScript here.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rmsprop::core {

// A parameter's (or a gradient's) element type. Half-precision parameters (IEEE binary16 and
// bfloat16, held as 16-bit patterns) keep float32 state and compute in float32.
enum class DType : std::uint8_t { kFloat32, kFloat64, kFloat16, kBFloat16 };

inline bool is_half(DType d) { return d == DType::kFloat16 || d == DType::kBFloat16; }

// The element type of a parameter's state (and of its math): float32 for half precision.
inline DType state_dtype(DType d) { return is_half(d) ? DType::kFloat32 : d; }

// One parameter and its state, registered once. The buffers belong to the caller.
struct TensorSlot {
  DType dtype;  // the parameter's; the state's is state_dtype(dtype)
  std::size_t size;
  void* param;
  void* mean_square;
  void* moment;
  void* mean_grad;  // null unless centered
  void* master = nullptr;  // half precision with master weights: the float32 copy of param, else null
};

class DeviceStep;

class Stepper {
 public:
  virtual ~Stepper() = default;

  // One step over every registered tensor with the plan's current values (binding/core/plan.h).
  // `grads`: one pointer per tensor, of its size; null only for a device stepper (its device
  // gradient buffers already hold them). `grad_dtypes`: each gradient's type (a half-precision
  // parameter's may be its own or float32), or null: each tensor's own. Not concurrently on one
  // object.
  virtual void step(const void* const* grads, const DType* grad_dtypes) = 0;

  // Whether the step with `grads` may apply: false when the plan asks for the check
  // (plan::kCheckFinite) and a gradient holds an inf or NaN; true without the check.
  virtual bool may_apply(const void* const* grads, const DType* grad_dtypes) = 0;

  virtual std::size_t size() const = 0;
  virtual const TensorSlot& tensor(std::size_t i) const = 0;

  // The device stepper behind this interface, or null on the CPU.
  virtual DeviceStep* device() { return nullptr; }
};

}  // namespace rmsprop::core

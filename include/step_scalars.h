/* The hyper-parameters of a step and their rounding to a tensor's precision, in one place for
 * every path: the CPU step reads them from the plan (binding/core/plan.h), the device step hands
 * them to a plugin (rmsprop_cuda_step_config, a C interface: hence a C struct) and the CUDA
 * kernels and the host emulator form each tensor's scalars with the very function the CPU uses
 * (docs/semantics.md §2: each value rounded once from float64, 1 − ρ as the option says). */
#ifndef RMSPROP_STEP_SCALARS_H
#define RMSPROP_STEP_SCALARS_H

/* What every tensor of a step shares, as the facade wrote it (float64). */
typedef struct {
  double decay;
  double momentum;
  double epsilon;
  double inv_loss_scale;
  /* 1 − ρ: 0 formed in the tensor's type as 1 − T(ρ) (MindSpore's and TF1's kernels); 1 formed in
   * double and rounded once, T(1 − ρ) (PyTorch, Keras, tfjs, optax: ρ is a host double there) */
  int complement_in_double;
} rmsprop_shared_scalars;

#ifdef __cplusplus
#include "rmsprop_math.h"

namespace rmsprop {

// One tensor's scalars in its compute type T (float or double), from the shared values and its
// learning rate and weight decay of this step. No slice mean (grad_shift 0).
template <class T>
RMSPROP_LANE LaneScalars<T> tensor_scalars(const rmsprop_shared_scalars& shared, double lr, double weight_decay) {
  LaneScalars<T> k;
  k.decay = static_cast<T>(shared.decay);
  k.one_minus_decay = shared.complement_in_double ? static_cast<T>(1.0 - shared.decay) : T(1) - k.decay;
  k.momentum = static_cast<T>(shared.momentum);
  k.epsilon = static_cast<T>(shared.epsilon);
  k.lr = static_cast<T>(lr);
  k.weight_decay = static_cast<T>(weight_decay);
  k.grad_shift = T(0);
  k.inv_loss_scale = static_cast<T>(shared.inv_loss_scale);
  return k;
}

}  // namespace rmsprop
#endif
#endif

// The memory-traffic baseline of the benchmark (not an optimizer): it streams exactly the arrays
// of an RMSProp step (reads param, state and gradient, writes param and state) with trivial
// arithmetic, so its speed is the machine's limit for that traffic.
#include "kernels.h"

namespace {

template <class T>
void stream_plain(const rmsprop::TensorBuffers<T>& t, const rmsprop::TensorScalars<T>&) {
  for (std::size_t i = 0; i < t.size; ++i) {
    const T g = t.grad[i];
    t.mean_square[i] += g;
    t.moment[i] += g;
    t.param[i] += g;
  }
}

template <class T>
void stream_centered(const rmsprop::TensorBuffers<T>& t, const rmsprop::TensorScalars<T>&) {
  for (std::size_t i = 0; i < t.size; ++i) {
    const T g = t.grad[i];
    t.mean_grad[i] += g;
    t.mean_square[i] += g;
    t.moment[i] += g;
    t.param[i] += g;
  }
}

}  // namespace

namespace rmsprop {
extern const KernelTable kStreamKernels = {"stream", 1, &stream_plain<float>, &stream_centered<float>,
                                           &stream_plain<double>, &stream_centered<double>};
}  // namespace rmsprop

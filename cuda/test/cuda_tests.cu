// GPU tests of the CUDA plugin against a float64 reference of semantics.md: plain and centered,
// float32 and float64, weight decay, loss scale and gradient centralization, several tensors in
// one launch. Without a usable GPU it says so and exits 77, which CTest reports as skipped.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "../rmsprop_cuda.h"

namespace {

int failures = 0;

template <class T>
struct HostTensor {
  std::vector<T> w, s, m, mg, g;
  uint64_t slices;
};

template <class T>
T* upload(const std::vector<T>& v) {
  T* d = nullptr;
  cudaMalloc(&d, v.size() * sizeof(T));
  cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  return d;
}

template <class T>
void check(bool centered) {
  const double tol = sizeof(T) == 4 ? 2e-5 : 1e-11;
  const std::vector<std::pair<uint64_t, uint64_t>> shapes = {{1, 1}, {70000, 1}, {6 * 25, 6}, {333, 1}, {16 * 150, 16}};
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<HostTensor<T>> host;
  for (auto [n, slices] : shapes) {
    HostTensor<T> t;
    t.slices = slices;
    for (uint64_t i = 0; i < n; ++i) {
      t.w.push_back(T(u(rng)));
      t.s.push_back(T(1 + 0.5 * u(rng)));
      t.m.push_back(T(0.1 * u(rng)));
      t.mg.push_back(T(0.2 * u(rng)));
      t.g.push_back(T(u(rng)));
    }
    host.push_back(t);
  }
  const double decay = 0.9, momentum = 0.5, epsilon = 1e-6, lr = 0.01, wd = 0.04, inv = 0.25;
  std::vector<rmsprop_cuda_tensor> tensors;
  std::vector<void*> allocations;
  for (auto& t : host) {
    rmsprop_cuda_tensor d{};
    d.param = upload(t.w);
    d.mean_square = upload(t.s);
    d.moment = upload(t.m);
    d.mean_grad = centered ? upload(t.mg) : nullptr;
    d.grad = upload(t.g);
    d.size = t.w.size();
    d.slices = t.slices;
    d.lr = lr;
    d.weight_decay = wd;
    d.apply_weight_decay = 1;
    tensors.push_back(d);
    for (void* p : {d.param, d.mean_square, d.moment, d.mean_grad, const_cast<void*>(d.grad)}) if (p) allocations.push_back(p);
  }
  const rmsprop_cuda_step_config config{decay, momentum, epsilon, inv, centered ? 1 : 0, sizeof(T) == 8 ? 1 : 0};
  const int rc = rmsprop_cuda_step(tensors.data(), tensors.size(), &config);
  if (rc != 0) {
    std::printf("FAIL step: %s\n", rmsprop_cuda_error_string(rc));
    ++failures;
    return;
  }
  for (size_t k = 0; k < host.size(); ++k) {
    const HostTensor<T>& t = host[k];
    const uint64_t n = t.w.size(), slice = n / t.slices;
    std::vector<T> w(n);
    cudaMemcpy(w.data(), tensors[k].param, n * sizeof(T), cudaMemcpyDeviceToHost);
    const double r = T(decay), b = T(momentum), e = T(epsilon), l = T(lr), f = T(wd), i_ = T(inv);
    for (uint64_t from = 0; from < n; from += slice) {
      double mean = 0;
      if (t.slices > 1) {
        for (uint64_t i = from; i < from + slice; ++i) mean += t.g[i] + f * t.w[i];
        mean /= double(slice);
      }
      for (uint64_t i = from; i < from + slice; ++i) {
        const double g = (t.g[i] + f * t.w[i] - mean) * i_;
        const double s = r * t.s[i] + (1 - r) * g * g;
        double d = s + e;
        if (centered) {
          const double mg = r * t.mg[i] + (1 - r) * g;
          d = s - mg * mg + e;
        }
        const double m = b * t.m[i] + l * g / std::sqrt(d);
        const double expect = t.w[i] - m;
        if (!(std::fabs(w[i] - expect) <= tol * (1 + std::fabs(expect) + std::fabs(m)))) {
          if (failures < 10) std::printf("FAIL %s %s tensor %zu element %llu: %g vs %g\n", sizeof(T) == 4 ? "f32" : "f64",
                                         centered ? "centered" : "plain", k, (unsigned long long)i, double(w[i]), expect);
          ++failures;
        }
      }
    }
  }
  for (void* p : allocations) cudaFree(p);
}

}  // namespace

int main() {
  const int devices = rmsprop_cuda_device_count();
  if (devices == 0) {
    std::printf("no usable CUDA device: GPU tests skipped\n");
    return 77;
  }
  for (bool centered : {false, true}) {
    check<float>(centered);
    check<double>(centered);
  }
  std::printf(failures ? "%d GPU check(s) failed\n" : "all GPU checks passed%.0d\n", failures);
  return failures ? 1 : 0;
}

// Tests of a device plugin through its C interface (include/rmsprop_cuda.h), loaded by the addon's
// own loader (core::load_device_plugin: dlopen, symbols, interface version):
// `plugin_tests <path to the plugin>`. CTest runs it against the host
// emulator everywhere (`npm run test:native`) and against librmsprop_cuda.so (`npm run
// test:cuda`), where, without a usable GPU, it says so and exits 77 (CTest: skipped).
// Checked: plain and centered, float32 and float64, weight decay on some tensors, loss scale,
// gradient centralization, sizes around the chunk and vector widths, unaligned tensors, a
// centered denominator ≤ 0 (the guard), two steps enqueued before one synchronize, copies of
// every kind, and refused bad arguments; then the addon's DeviceStep on the plugin (staging
// batches, float32 with float64, both parameterSync modes, state transfers, release) and, on the
// emulator, that no device allocation is left.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <dlfcn.h>

#include "../../binding/core/device_step.h"
#include "../../binding/core/plan.h"
#include "../../include/half_bits.h"
#include "../../test/native/check.h"
#include "../../test/native/reference.h"
#include "../../include/rmsprop_cuda.h"

namespace {

const rmsprop::core::DevicePlugin* plugin = nullptr;

#define OK(call)                                                                   \
  do {                                                                             \
    const int rc_ = (call);                                                        \
    CHECK(rc_ == 0, "%s -> %d (%s)", #call, rc_, rc_ ? plugin->error_string(rc_) : ""); \
  } while (0)

// Host values of one tensor.
template <class T>
struct Host {
  std::vector<T> w, s, m, mg, g;
  size_t slices;
  bool weight_decay;
};

template <class T>
void test_steps(rmsprop_cuda_queue q, bool centered) {
  const char* name = sizeof(T) == 4 ? (centered ? "f32 centered" : "f32 plain") : (centered ? "f64 centered" : "f64 plain");
  // n, slices, weight decay, offset in elements (1 and 3: not 16-byte aligned, no vector loads).
  struct Shape {
    size_t n, slices;
    bool wd;
    size_t offset;
  };
  // slices 0: no centralization; 1: one slice, the whole tensor's mean; n: one element per slice.
  const std::vector<Shape> shapes = {{1, 0, true, 0},        {3, 0, false, 0},  {4097, 0, true, 0}, {16384, 0, true, 0},
                                     {16387, 0, true, 1},    {70001, 0, false, 0}, {6 * 25, 6, true, 0},
                                     {16 * 6 * 25, 16, false, 0}, {333, 0, true, 3}, {0, 0, true, 0},
                                     {50, 1, true, 0},       {7, 7, false, 0}};
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<Host<T>> host;
  size_t region = 0;  // elements per buffer kind; each tensor starts 256-byte aligned plus its offset
  std::vector<size_t> starts;
  for (const Shape& sh : shapes) {
    Host<T> t{{}, {}, {}, {}, {}, sh.slices, sh.wd};
    for (size_t i = 0; i < sh.n; ++i) {
      t.w.push_back(T(u(rng)));
      t.s.push_back(T(1 + 0.5 * u(rng)));
      t.m.push_back(T(0.1 * u(rng)));
      t.mg.push_back(T(0.2 * u(rng)));
      t.g.push_back(T(u(rng)));
    }
    if (sh.n > 10) t.mg[7] = T(1.5);  // a centered denominator ≤ 0: the guard keeps w and m
    starts.push_back(region + sh.offset);
    region += (sh.offset + sh.n + 64) / 64 * 64;
    host.push_back(std::move(t));
  }
  void* device = nullptr;
  const size_t kinds = 5;  // w, s, m, mg, g
  OK(plugin->malloc_(&device, kinds * region * sizeof(T)));
  if (!device) return;
  T* base = static_cast<T*>(device);
  auto at = [&](size_t kind, size_t k) { return base + kind * region + starts[k]; };
  for (size_t k = 0; k < host.size(); ++k) {
    const size_t bytes = host[k].w.size() * sizeof(T);
    OK(plugin->copy_async(q, at(0, k), host[k].w.data(), bytes, RMSPROP_CUDA_HOST_TO_DEVICE));
    OK(plugin->copy_async(q, at(1, k), host[k].s.data(), bytes, RMSPROP_CUDA_HOST_TO_DEVICE));
    OK(plugin->copy_async(q, at(2, k), host[k].m.data(), bytes, RMSPROP_CUDA_HOST_TO_DEVICE));
    OK(plugin->copy_async(q, at(3, k), host[k].mg.data(), bytes, RMSPROP_CUDA_HOST_TO_DEVICE));
    OK(plugin->copy_async(q, at(4, k), host[k].g.data(), bytes, RMSPROP_CUDA_HOST_TO_DEVICE));
  }
  const double decay = 0.9, momentum = 0.5, epsilon = 1e-6, lr = 0.01, wd = 0.04, inv = 0.25;
  std::vector<rmsprop_cuda_tensor> tensors;
  for (size_t k = 0; k < host.size(); ++k) {
    rmsprop_cuda_tensor t{};
    t.param = at(0, k);
    t.mean_square = at(1, k);
    t.moment = at(2, k);
    t.mean_grad = centered ? at(3, k) : nullptr;
    t.grad = at(4, k);
    t.size = host[k].w.size();
    t.slices = host[k].slices;
    t.lr = lr * (1 + 0.1 * double(k));
    t.weight_decay = wd;
    t.variant = host[k].weight_decay ? rmsprop::kCoupledDecay : 0u;
    tensors.push_back(t);
  }
  const rmsprop_cuda_step_config config{{decay, momentum, epsilon, inv, 0}, centered ? 1 : 0, sizeof(T) == 8 ? RMSPROP_CUDA_FLOAT64 : RMSPROP_CUDA_FLOAT32};
  // Four steps enqueued back to back and one synchronize, the values copied after each: step 2
  // with other learning rates than step 1 (new tables), step 3 with the very same records as
  // step 2 (the plugin may reuse its tables), step 4 with step 1's again.
  std::vector<Host<T>> after1 = host, after2 = host, after3 = host, after4 = host;
  auto download = [&](std::vector<Host<T>>& into) {
    for (size_t k = 0; k < host.size(); ++k) {
      const size_t bytes = host[k].w.size() * sizeof(T);
      OK(plugin->copy_async(q, into[k].w.data(), at(0, k), bytes, RMSPROP_CUDA_DEVICE_TO_HOST));
      OK(plugin->copy_async(q, into[k].s.data(), at(1, k), bytes, RMSPROP_CUDA_DEVICE_TO_HOST));
      OK(plugin->copy_async(q, into[k].m.data(), at(2, k), bytes, RMSPROP_CUDA_DEVICE_TO_HOST));
      OK(plugin->copy_async(q, into[k].mg.data(), at(3, k), bytes, RMSPROP_CUDA_DEVICE_TO_HOST));
    }
  };
  OK(plugin->step_async(q, tensors.data(), tensors.size(), &config));
  download(after1);
  for (rmsprop_cuda_tensor& t : tensors) t.lr *= 0.5;  // the table was copied: step 1 keeps its lr
  OK(plugin->step_async(q, tensors.data(), tensors.size(), &config));
  download(after2);
  OK(plugin->step_async(q, tensors.data(), tensors.size(), &config));
  download(after3);
  for (rmsprop_cuda_tensor& t : tensors) t.lr *= 2;
  OK(plugin->step_async(q, tensors.data(), tensors.size(), &config));
  download(after4);
  for (rmsprop_cuda_tensor& t : tensors) t.lr *= 0.5;
  OK(plugin->synchronize(q));
  for (size_t k = 0; k < host.size(); ++k) {
    const Host<T>& h = host[k];
    auto values = [&](const Host<T>& v) {
      return rmsprop::testing::TensorValues<T>{v.w.data(), v.s.data(), v.m.data(), centered ? v.mg.data() : nullptr};
    };
    rmsprop::testing::Hyper hyper{decay, momentum, epsilon, tensors[k].lr * 2, wd, inv, h.weight_decay, centered, h.slices};
    const std::string what1 = std::string(name) + " step 1 tensor " + std::to_string(k);
    size_t bad = rmsprop::testing::reference_mismatches(values(h), h.g.data(), h.w.size(), hyper, values(after1[k]), what1.c_str());
    CHECK(bad == 0, "%s: %zu mismatches", what1.c_str(), bad);
    hyper.lr = tensors[k].lr;
    const std::string what2 = std::string(name) + " step 2 tensor " + std::to_string(k);
    bad = rmsprop::testing::reference_mismatches(values(after1[k]), h.g.data(), h.w.size(), hyper, values(after2[k]), what2.c_str());
    CHECK(bad == 0, "%s: %zu mismatches", what2.c_str(), bad);
    const std::string what3 = std::string(name) + " step 3 (same records) tensor " + std::to_string(k);
    bad = rmsprop::testing::reference_mismatches(values(after2[k]), h.g.data(), h.w.size(), hyper, values(after3[k]), what3.c_str());
    CHECK(bad == 0, "%s: %zu mismatches", what3.c_str(), bad);
    hyper.lr = tensors[k].lr * 2;
    const std::string what4 = std::string(name) + " step 4 (step 1's records) tensor " + std::to_string(k);
    bad = rmsprop::testing::reference_mismatches(values(after3[k]), h.g.data(), h.w.size(), hyper, values(after4[k]), what4.c_str());
    CHECK(bad == 0, "%s: %zu mismatches", what4.c_str(), bad);
    if (!centered) {  // plain mode never touches mean_grad
      CHECK(h.mg.empty() || std::memcmp(after4[k].mg.data(), h.mg.data(), h.mg.size() * sizeof(T)) == 0, "%s: mean_grad changed", what2.c_str());
    }
  }
  OK(plugin->free_(device));
}

// Half-precision parameters (float16, bfloat16) with float32 state: one step through the
// plugin over tensors of many shapes, with and without a master copy and with gradients of the
// parameter's dtype or float32 (mixed in one step), against the float64 reference of the float32
// math; a parameter with a master copy must be exactly the master's rounding (to nearest even),
// one without within half an ulp of the reference.
void test_half_steps(rmsprop_cuda_queue q, bool bf16, bool centered) {
  const char* name = bf16 ? (centered ? "bf16 centered" : "bf16 plain") : (centered ? "f16 centered" : "f16 plain");
  auto widen = [&](std::uint16_t x) { return bf16 ? rmsprop::bfloat_to_float(x) : rmsprop::half_to_float(x); };
  auto narrow = [&](float x) { return bf16 ? rmsprop::float_to_bfloat(x) : rmsprop::float_to_half(x); };
  struct Shape {
    size_t n, slices;
    bool wd, master, grad_f32;
  };
  const std::vector<Shape> shapes = {{1, 0, true, false, false},   {3, 0, false, true, true},     {4097, 0, true, false, true},
                                     {70001, 0, true, true, false}, {6 * 25, 6, true, false, false}, {6 * 25, 6, true, true, true},
                                     {50, 1, false, false, true},  {0, 0, true, true, false}};
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(-1, 1);
  const size_t count = shapes.size();
  std::vector<std::vector<std::uint16_t>> w16(count), g16(count), w16_after(count);
  std::vector<std::vector<float>> master(count), s(count), m(count), mg(count), g32(count);
  std::vector<std::vector<float>> master_after(count), s_after(count), m_after(count), mg_after(count);
  std::vector<void*> buffers;
  auto device_copy = [&](const void* data, size_t bytes) {
    void* d = nullptr;
    OK(plugin->malloc_(&d, bytes > 0 ? bytes : 4));
    buffers.push_back(d);
    if (d && bytes) OK(plugin->copy_async(q, d, data, bytes, RMSPROP_CUDA_HOST_TO_DEVICE));
    return d;
  };
  std::vector<rmsprop_cuda_tensor> tensors;
  for (size_t k = 0; k < count; ++k) {
    const Shape& sh = shapes[k];
    for (size_t i = 0; i < sh.n; ++i) {
      w16[k].push_back(narrow(u(rng)));
      master[k].push_back(widen(w16[k].back()));
      s[k].push_back(1 + 0.5f * u(rng));
      m[k].push_back(0.1f * u(rng));
      mg[k].push_back(0.2f * u(rng));
      g32[k].push_back(u(rng));
      g16[k].push_back(narrow(g32[k].back()));
    }
    if (sh.n > 10) mg[k][7] = 1.5f;  // a centered denominator ≤ 0: the guard keeps w and m
    rmsprop_cuda_tensor t{};
    t.param = device_copy(w16[k].data(), sh.n * 2);
    t.mean_square = device_copy(s[k].data(), sh.n * 4);
    t.moment = device_copy(m[k].data(), sh.n * 4);
    t.mean_grad = centered ? device_copy(mg[k].data(), sh.n * 4) : nullptr;
    t.grad = sh.grad_f32 ? device_copy(g32[k].data(), sh.n * 4) : device_copy(g16[k].data(), sh.n * 2);
    t.master = sh.master ? device_copy(master[k].data(), sh.n * 4) : nullptr;
    t.grad_float32 = sh.grad_f32 ? 1 : 0;
    t.size = sh.n;
    t.slices = sh.slices;
    t.lr = 0.01 * (1 + 0.1 * double(k));
    t.weight_decay = 0.04;
    t.variant = sh.wd ? rmsprop::kCoupledDecay : 0u;
    tensors.push_back(t);
  }
  const double decay = 0.9, momentum = 0.5, epsilon = 1e-6, inv = 0.25;
  const rmsprop_cuda_step_config config{{decay, momentum, epsilon, inv, 0}, centered ? 1 : 0,
                                        bf16 ? RMSPROP_CUDA_BFLOAT16 : RMSPROP_CUDA_FLOAT16};
  OK(plugin->step_async(q, tensors.data(), tensors.size(), &config));
  for (size_t k = 0; k < count; ++k) {
    const size_t n = shapes[k].n;
    w16_after[k].resize(n);
    master_after[k].resize(n);
    s_after[k].resize(n);
    m_after[k].resize(n);
    mg_after[k] = mg[k];
    if (n == 0) continue;
    OK(plugin->copy_async(q, w16_after[k].data(), tensors[k].param, n * 2, RMSPROP_CUDA_DEVICE_TO_HOST));
    OK(plugin->copy_async(q, s_after[k].data(), tensors[k].mean_square, n * 4, RMSPROP_CUDA_DEVICE_TO_HOST));
    OK(plugin->copy_async(q, m_after[k].data(), tensors[k].moment, n * 4, RMSPROP_CUDA_DEVICE_TO_HOST));
    if (centered) OK(plugin->copy_async(q, mg_after[k].data(), tensors[k].mean_grad, n * 4, RMSPROP_CUDA_DEVICE_TO_HOST));
    if (shapes[k].master) OK(plugin->copy_async(q, master_after[k].data(), tensors[k].master, n * 4, RMSPROP_CUDA_DEVICE_TO_HOST));
  }
  OK(plugin->synchronize(q));
  for (size_t k = 0; k < count; ++k) {
    const Shape& sh = shapes[k];
    const size_t n = sh.n;
    // The parameter as the update saw it and as it left it, in float32.
    std::vector<float> w_after(n), g(n);
    for (size_t i = 0; i < n; ++i) {
      w_after[i] = sh.master ? master_after[k][i] : widen(w16_after[k][i]);
      g[i] = sh.grad_f32 ? g32[k][i] : widen(g16[k][i]);
    }
    const rmsprop::testing::Hyper hyper{decay, momentum, epsilon, tensors[k].lr, 0.04, inv, sh.wd, centered, sh.slices};
    const rmsprop::testing::TensorValues<float> before{master[k].data(), s[k].data(), m[k].data(), centered ? mg[k].data() : nullptr};
    const rmsprop::testing::TensorValues<float> after{w_after.data(), s_after[k].data(), m_after[k].data(),
                                                      centered ? mg_after[k].data() : nullptr};
    const std::string what = std::string(name) + " tensor " + std::to_string(k);
    const double param_round = sh.master ? 0 : bf16 ? 1.0 / 256 : 1.0 / 2048;
    const size_t bad = rmsprop::testing::reference_mismatches(before, g.data(), n, hyper, after, what.c_str(), param_round);
    CHECK(bad == 0, "%s: %zu mismatches", what.c_str(), bad);
    if (sh.master) {
      size_t unrounded = 0;
      for (size_t i = 0; i < n; ++i) unrounded += w16_after[k][i] != narrow(master_after[k][i]);
      CHECK(unrounded == 0, "%s: %zu parameters are not their master copy rounded to nearest even", what.c_str(), unrounded);
    }
  }
  for (void* d : buffers) OK(plugin->free_(d));
}

// The finite check (rmsprop_cuda_check_finite_async): float32 tensors of several sizes with an
// inf, -inf or NaN at the edges or middle of one of them, and float16 gradients (with an inf
// pattern, and float32 ones for a half tensor), set the flag; finite ones, denormals and the
// largest values included, do not. Nothing but the flag is written.
void test_finite_check(rmsprop_cuda_queue q) {
  const std::vector<size_t> sizes = {1, 4097, 70001};
  void* device = nullptr;
  const size_t region = 80000 * 4;
  OK(plugin->malloc_(&device, 3 * region + 256));
  if (!device) return;
  char* base = static_cast<char*>(device);
  auto* flag = reinterpret_cast<std::uint32_t*>(base + 3 * region);
  auto run = [&](const std::vector<rmsprop_cuda_tensor>& tensors, int dtype) {
    const std::uint32_t zero = 0;
    std::uint32_t out = 7;
    OK(plugin->copy_async(q, flag, &zero, 4, RMSPROP_CUDA_HOST_TO_DEVICE));
    const rmsprop_cuda_step_config config{{0.9, 0, 1e-10, 1, 0}, 0, dtype};
    OK(plugin->check_finite_async(q, tensors.data(), tensors.size(), &config, flag));
    OK(plugin->copy_async(q, &out, flag, 4, RMSPROP_CUDA_DEVICE_TO_HOST));
    OK(plugin->synchronize(q));
    return out;
  };
  const float specials[] = {INFINITY, -INFINITY, NAN};
  for (size_t bad_tensor = 0; bad_tensor <= sizes.size(); ++bad_tensor) {  // == size: none bad
    for (float special : specials) {
      std::vector<rmsprop_cuda_tensor> tensors;
      std::vector<std::vector<float>> host(sizes.size());  // valid until the queue is synchronized
      for (size_t k = 0; k < sizes.size(); ++k) {
        std::vector<float>& g = host[k];
        g.assign(sizes[k], 0.5f);
        g[0] = 3.4e38f;
        if (g.size() > 2) g[1] = 1e-45f;
        const size_t at = (sizes[k] - 1) * (special != special ? 1 : special > 0 ? 0 : 2) / 2;
        if (k == bad_tensor) g[at] = special;
        OK(plugin->copy_async(q, base + k * region, g.data(), g.size() * 4, RMSPROP_CUDA_HOST_TO_DEVICE));
        rmsprop_cuda_tensor t{};
        t.param = t.mean_square = t.moment = base + k * region;  // never read
        t.grad = base + k * region;
        t.size = sizes[k];
        tensors.push_back(t);
      }
      const std::uint32_t got = run(tensors, RMSPROP_CUDA_FLOAT32);
      CHECK(got == (bad_tensor < sizes.size() ? 1u : 0u), "f32 finite check: tensor %zu with %g: flag %u", bad_tensor, double(special), got);
    }
  }
  // float16 gradients (bits), and a float32 gradient for a float16 tensor.
  std::vector<std::uint16_t> h(4097, 0x3c00);
  h[4096] = 0x7bff;  // 65504: finite
  OK(plugin->copy_async(q, base, h.data(), h.size() * 2, RMSPROP_CUDA_HOST_TO_DEVICE));
  rmsprop_cuda_tensor t{};
  t.param = t.mean_square = t.moment = base + region;
  t.grad = base;
  t.size = h.size();
  CHECK(run({t}, RMSPROP_CUDA_FLOAT16) == 0, "f16 finite check: finite patterns flagged");
  h[2000] = 0x7c00;  // inf
  OK(plugin->copy_async(q, base, h.data(), h.size() * 2, RMSPROP_CUDA_HOST_TO_DEVICE));
  CHECK(run({t}, RMSPROP_CUDA_FLOAT16) == 1, "f16 finite check: an inf pattern missed");
  std::vector<float> f(4097, 1.0f);
  f[17] = NAN;
  OK(plugin->copy_async(q, base + 2 * region, f.data(), f.size() * 4, RMSPROP_CUDA_HOST_TO_DEVICE));
  t.grad = base + 2 * region;
  t.grad_float32 = 1;
  CHECK(run({t}, RMSPROP_CUDA_FLOAT16) == 1, "f16 finite check: a NaN in a float32 gradient missed");
  OK(plugin->free_(device));
}

void test_copies_and_errors(rmsprop_cuda_queue q) {
  std::vector<float> a(1000), b(1000, -1.0f);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.5f;
  void* d1 = nullptr;
  void* d2 = nullptr;
  OK(plugin->malloc_(&d1, a.size() * sizeof(float)));
  OK(plugin->malloc_(&d2, a.size() * sizeof(float)));
  OK(plugin->copy_async(q, d1, a.data(), a.size() * sizeof(float), RMSPROP_CUDA_HOST_TO_DEVICE));
  OK(plugin->copy_async(q, d2, d1, a.size() * sizeof(float), RMSPROP_CUDA_DEVICE_TO_DEVICE));
  OK(plugin->copy_async(q, b.data(), d2, b.size() * sizeof(float), RMSPROP_CUDA_DEVICE_TO_HOST));
  OK(plugin->synchronize(q));
  CHECK(a == b, "host -> device -> device -> host round trip changed the data");
  // Through page-locked host memory, as the addon's staging.
  float* pinned = nullptr;
  OK(plugin->host_alloc(reinterpret_cast<void**>(&pinned), 2 * a.size() * sizeof(float)));
  if (pinned) {
    std::memcpy(pinned, a.data(), a.size() * sizeof(float));
    OK(plugin->copy_async(q, d2, pinned, a.size() * sizeof(float), RMSPROP_CUDA_HOST_TO_DEVICE));
    OK(plugin->copy_async(q, pinned + a.size(), d2, a.size() * sizeof(float), RMSPROP_CUDA_DEVICE_TO_HOST));
    OK(plugin->synchronize(q));
    CHECK(std::memcmp(pinned + a.size(), a.data(), a.size() * sizeof(float)) == 0, "page-locked round trip changed the data");
    OK(plugin->host_free(pinned));
  }
  CHECK(plugin->copy_async(q, d1, a.data(), 4, 42) != 0, "an unknown copy kind was accepted");
  const rmsprop_cuda_step_config config{{0.9, 0, 1e-10, 1, 0}, 0, RMSPROP_CUDA_FLOAT32};
  const rmsprop_cuda_step_config unknown{{0.9, 0, 1e-10, 1, 0}, 0, 7};
  CHECK(plugin->step_async(q, nullptr, 0, &unknown) != 0, "an unknown dtype was accepted");
  CHECK(plugin->step_async(q, nullptr, 1, &config) != 0, "a null tensor table was accepted");
  CHECK(plugin->step_async(q, nullptr, 0, nullptr) != 0, "a null config was accepted");
  CHECK(plugin->step_async(q, nullptr, 0, &config) == 0, "an empty step failed");
  CHECK(plugin->error_string(1) != nullptr && std::strlen(plugin->error_string(1)) > 0, "no error message");
  OK(plugin->synchronize(q));
  OK(plugin->free_(d1));
  OK(plugin->free_(d2));
}

// The addon's device optimizer (core::DeviceStep) on this plugin: host gradients through the
// staging (a tensor over 8 MiB, so uploads go in several batches), float32 and float64 together,
// parameterSync 'step' (upload + write back) and 'manual' (download on demand), state transfers.
void test_device_step(bool centered) {
  using rmsprop::core::Buffer;
  using rmsprop::core::DType;
  const std::vector<size_t> sizes = {1000, 3000000, 777, 17 * 241};
  const std::vector<bool> f64 = {false, false, true, false};
  std::mt19937 rng(21);
  std::uniform_real_distribution<double> u(-1, 1);
  struct Tensor {
    std::vector<float> w32, s32, m32, mg32, g32;
    std::vector<double> w64, s64, m64, mg64, g64;
  };
  std::vector<Tensor> host(sizes.size());
  std::vector<rmsprop::core::TensorSlot> slots;
  std::vector<const void*> grads;
  for (size_t k = 0; k < sizes.size(); ++k) {
    Tensor& t = host[k];
    auto fill = [&](auto& w, auto& s, auto& m, auto& mg, auto& g) {
      for (size_t i = 0; i < sizes[k]; ++i) {
        w.push_back(u(rng));
        s.push_back(1.0);
        m.push_back(0.0);
        mg.push_back(0.0);
        g.push_back(u(rng));
      }
      slots.push_back({f64[k] ? DType::kFloat64 : DType::kFloat32, sizes[k], w.data(), s.data(), m.data(),
                       centered ? mg.data() : nullptr});
      grads.push_back(g.data());
    };
    if (f64[k]) fill(t.w64, t.s64, t.m64, t.mg64, t.g64);
    else fill(t.w32, t.s32, t.m32, t.mg32, t.g32);
  }
  std::vector<double> plan(rmsprop::plan::size_for(sizes.size()), 0.0);
  plan[rmsprop::plan::kDecay] = 0.9;
  plan[rmsprop::plan::kMomentum] = 0.5;
  plan[rmsprop::plan::kEpsilon] = 1e-6;
  plan[rmsprop::plan::kInvLossScale] = 0.5;
  for (size_t k = 0; k < sizes.size(); ++k) {
    double* p = &plan[rmsprop::plan::kHeaderSize + k * rmsprop::plan::kTensorStride];
    p[rmsprop::plan::kLr] = 0.01;
    p[rmsprop::plan::kWeightDecay] = 0.02;
    p[rmsprop::plan::kFlags] = rmsprop::kCoupledDecay | (k == 3 ? rmsprop::plan::kCentralize : 0);
    p[rmsprop::plan::kSlices] = k == 3 ? 17 : 1;
  }
  const auto before = host;
  // Checks tensor k of `after` against one reference step from `from`.
  auto check_step = [&](const std::vector<Tensor>& from, const std::vector<Tensor>& after, const char* what) {
    for (size_t k = 0; k < sizes.size(); ++k) {
      const rmsprop::testing::Hyper h{0.9, 0.5, 1e-6, 0.01, 0.02, 0.5, true, centered, k == 3 ? size_t(17) : 0};
      const std::string name = std::string(what) + (centered ? " centered" : " plain") + " tensor " + std::to_string(k);
      size_t bad;
      if (f64[k]) {
        bad = rmsprop::testing::reference_mismatches<double>(
            {from[k].w64.data(), from[k].s64.data(), from[k].m64.data(), centered ? from[k].mg64.data() : nullptr},
            host[k].g64.data(), sizes[k], h,
            {after[k].w64.data(), after[k].s64.data(), after[k].m64.data(), centered ? after[k].mg64.data() : nullptr},
            name.c_str());
      } else {
        bad = rmsprop::testing::reference_mismatches<float>(
            {from[k].w32.data(), from[k].s32.data(), from[k].m32.data(), centered ? from[k].mg32.data() : nullptr},
            host[k].g32.data(), sizes[k], h,
            {after[k].w32.data(), after[k].s32.data(), after[k].m32.data(), centered ? after[k].mg32.data() : nullptr},
            name.c_str());
      }
      CHECK(bad == 0, "%s: %zu mismatches", name.c_str(), bad);
    }
  };
  try {
    rmsprop::core::DeviceStep step(*plugin, slots, plan.data(), centered);
    // parameterSync 'step': the host parameters are uploaded and written back.
    step.step(grads.data(), nullptr, true, true);
    step.download(Buffer::kMeanSquare);
    step.download(Buffer::kMoment);
    step.download(Buffer::kMeanGrad);
    check_step(before, host, "DeviceStep sync");
    // parameterSync 'manual': the host parameters stay as they are until downloaded.
    const auto middle = host;
    step.step(grads.data(), nullptr, false, false);
    CHECK(host[1].w32 == middle[1].w32, "manual sync wrote the host parameters");
    for (Buffer b : {Buffer::kParam, Buffer::kMeanSquare, Buffer::kMoment, Buffer::kMeanGrad}) step.download(b);
    check_step(middle, host, "DeviceStep manual");
    step.release();
    bool threw = false;
    try {
      step.step(grads.data(), nullptr, false, false);
    } catch (const rmsprop::core::DeviceError&) {
      threw = true;
    }
    CHECK(threw, "a released DeviceStep stepped");
  } catch (const std::exception& e) {
    CHECK(false, "DeviceStep: %s", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: plugin_tests <plugin.so>\n");
    return 2;
  }
  // The addon's own loader: dlopen, every symbol, the interface version.
  std::string error;
  plugin = rmsprop::core::load_device_plugin(argv[1], &error);
  if (plugin == nullptr) {
    std::fprintf(stderr, "cannot load %s: %s\n", argv[1], error.c_str());
    return 1;
  }
  if (plugin->device_count() == 0) {
    std::printf("%s: no usable CUDA device: skipped\n", argv[1]);
    return 77;
  }
  char device[256];
  OK(plugin->device_name(device, sizeof device));
  std::printf("device: %s\n", device);
  rmsprop_cuda_queue q = nullptr;
  OK(plugin->queue_create(&q));
  if (!q) return 1;
  for (bool centered : {false, true}) {
    test_steps<float>(q, centered);
    test_steps<double>(q, centered);
    test_half_steps(q, false, centered);
    test_half_steps(q, true, centered);
  }
  test_copies_and_errors(q);
  test_finite_check(q);
  OK(plugin->queue_destroy(q));
  test_device_step(false);
  test_device_step(true);
  // The emulator counts its live device allocations: nothing may be left.
  if (void* self = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD)) {
    if (auto live = reinterpret_cast<size_t (*)()>(dlsym(self, "rmsprop_cuda_emulator_live_allocations"))) {
      CHECK(live() == 0, "%zu device allocation(s) left after every queue and DeviceStep was released", live());
    }
    dlclose(self);
  }
  return rmsprop::testing::summary("all plugin checks passed");
}

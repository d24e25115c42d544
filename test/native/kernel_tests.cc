// Native tests of the kernels, the multi-tensor step, the thread pool and the lock registry,
// without Node. Built with AddressSanitizer and UndefinedBehaviorSanitizer by `npm run
// test:native` (CTest), so memory errors in the C++ core fail the suite.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../binding/core/lock_registry.h"
#include "../../binding/core/multi_tensor_step.h"
#include "../../binding/core/plan.h"
#include "../../binding/core/thread_pool.h"
#include "../../binding/kernels/kernels.h"
#include "check.h"
#include "reference.h"

using namespace rmsprop;

namespace {


template <class T>
struct Model {
  std::vector<std::vector<T>> param, mean_square, moment, mean_grad, grad;
  std::vector<double> plan;
  bool centered;

  Model(const std::vector<std::size_t>& sizes, bool centered_, unsigned seed) : centered(centered_) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    for (std::size_t n : sizes) {
      param.emplace_back(n);
      mean_square.emplace_back(n);
      moment.emplace_back(n);
      mean_grad.emplace_back(n);
      grad.emplace_back(n);
      for (std::size_t i = 0; i < n; ++i) {
        param.back()[i] = T(u(rng));
        mean_square.back()[i] = T(1.0 + 0.5 * u(rng));
        moment.back()[i] = T(0.1 * u(rng));
        mean_grad.back()[i] = T(0.2 * u(rng));
        grad.back()[i] = T(u(rng));
      }
    }
    plan.assign(plan::size_for(sizes.size()), 0);
    plan[plan::kDecay] = 0.9;
    plan[plan::kMomentum] = 0.5;
    plan[plan::kEpsilon] = 1e-6;
    plan[plan::kInvLossScale] = 0.25;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
      double* p = &plan[plan::kHeaderSize + t * plan::kTensorStride];
      p[plan::kLr] = 0.01;
      p[plan::kWeightDecay] = 0.04;
      p[plan::kFlags] = rmsprop::kCoupledDecay | (t == 0 ? plan::kCentralize : 0);
      p[plan::kSlices] = t == 0 ? 4 : 1;  // tensor 0: 4 centralized slices
    }
  }

  core::MultiTensorStep step() {
    std::vector<core::TensorSlot> slots;
    for (std::size_t t = 0; t < param.size(); ++t) {
      slots.push_back(core::TensorSlot{sizeof(T) == 4 ? core::DType::kFloat32 : core::DType::kFloat64,
                                       param[t].size(), param[t].data(), mean_square[t].data(),
                                       moment[t].data(), centered ? mean_grad[t].data() : nullptr});
    }
    return core::MultiTensorStep(std::move(slots), plan.data(), centered);
  }

  std::vector<const void*> grads() const {
    std::vector<const void*> g;
    for (const auto& v : grad) g.push_back(v.data());
    return g;
  }

  std::string bytes() const {
    std::string out;
    for (const auto* group : {&param, &mean_square, &moment, &mean_grad}) {
      for (const auto& v : *group) out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    }
    return out;
  }
};

// Every tensor against the shared float64 reference (test/native/reference.h).
template <class T>
void check_against_reference(const Model<T>& before, const Model<T>& after, const char* level) {
  for (std::size_t t = 0; t < before.param.size(); ++t) {
    const testing::Hyper h{0.9, 0.5, 1e-6, 0.01, 0.04, 0.25, true, before.centered, t == 0 ? std::size_t(4) : 0};
    auto values = [&](const Model<T>& m) {
      return testing::TensorValues<T>{m.param[t].data(), m.mean_square[t].data(), m.moment[t].data(),
                                      m.centered ? m.mean_grad[t].data() : nullptr};
    };
    const std::string what = std::string(level) + " tensor " + std::to_string(t);
    const std::size_t bad =
        testing::reference_mismatches(values(before), before.grad[t].data(), before.param[t].size(), h, values(after), what.c_str());
    CHECK(bad == 0, "%s: %zu element(s) differ from the reference", what.c_str(), bad);
  }
}

template <class T>
void test_levels_and_threads(bool centered) {
  const std::vector<std::size_t> sizes = {4 * 37, 1, 15, 17, 1000, 70001};
  std::string first_bits;
  for (const KernelTable* table : supported_kernels()) {
    Model<T> before(sizes, centered, 7);
    std::string level_bits;
    for (std::size_t threads : {1, 2, 3, 5}) {
      core::ThreadPool::instance().resize(threads);
      for (std::size_t grain : {std::size_t(64), std::size_t(1) << 16}) {
        core::set_grain_elements(grain);
        Model<T> model(sizes, centered, 7);
        auto step = model.step();
        const auto grads = model.grads();
        step.run(*table, grads.data());
        if (level_bits.empty()) {
          level_bits = model.bytes();
          check_against_reference(before, model, table->level);
        }
        CHECK(model.bytes() == level_bits, "%s: %zu threads, grain %zu differ", table->level, threads, grain);
      }
    }
  }
  core::set_grain_elements(core::kDefaultGrainElements);
}

// Every level's finite check: inf, -inf and NaN (quiet and signalling) anywhere in tensors of
// many lengths are found; the largest finite values, denormals and -0 are not.
template <class T>
void test_finite_check() {
  const T specials[] = {std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
                        std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::signaling_NaN()};
  const T fine[] = {std::numeric_limits<T>::max(), -std::numeric_limits<T>::max(), std::numeric_limits<T>::denorm_min(),
                    T(-0.0), T(1)};
  for (const KernelTable* table : supported_kernels()) {
    const auto finite = [&](const std::vector<T>& v) {
      if constexpr (sizeof(T) == 4) return table->finite_f32(v.data(), v.size());
      else return table->finite_f64(v.data(), v.size());
    };
    for (std::size_t n : {std::size_t(1), std::size_t(7), std::size_t(64), std::size_t(4095), std::size_t(4097), std::size_t(10000)}) {
      std::vector<T> v(n, T(0.5));
      for (std::size_t i = 0; i < n; i += 1 + n / 5) v[i] = fine[i % 5];
      CHECK(finite(v), "%s: %zu finite values reported non-finite", table->level, n);
      for (std::size_t at : {std::size_t(0), n / 2, n - 1}) {
        for (T bad : specials) {
          std::vector<T> w = v;
          w[at] = bad;
          CHECK(!finite(w), "%s: a non-finite value at %zu of %zu was missed", table->level, at, n);
        }
      }
    }
    CHECK(finite(std::vector<T>()), "%s: an empty tensor is finite", table->level);
  }
}

// Every level's half-precision conversions: all 65536 patterns widen and narrow back to
// themselves (NaN to a NaN), and narrowing any float32 agrees with the scalar level's exact
// software rounding (to nearest, ties to even), tails included.
void test_half_conversions() {
  const KernelTable* scalar = supported_kernels().back();
  std::mt19937 rng(3);
  std::vector<float> values;
  for (int i = 0; i < 20000; ++i) {
    std::uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    values.push_back(f);  // every exponent, NaN and inf included
    values.push_back(std::ldexp(static_cast<float>(rng() % 4096) + 0.5f, -24 + static_cast<int>(rng() % 40)));  // ties
  }
  for (const KernelTable* table : supported_kernels()) {
    for (bool bf16 : {false, true}) {
      const WidenFn widen = bf16 ? table->bf16_to_f32 : table->f16_to_f32;
      const NarrowFn narrow = bf16 ? table->f32_to_bf16 : table->f32_to_f16;
      const NarrowFn reference = bf16 ? scalar->f32_to_bf16 : scalar->f32_to_f16;
      const std::uint16_t exponent = bf16 ? 0x7f80 : 0x7c00;
      std::vector<std::uint16_t> all(65536), back(65536);
      for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i);
      std::vector<float> wide(65536);
      widen(all.data(), wide.data(), all.size() - 3);  // a tail for the vector levels
      widen(all.data() + all.size() - 3, wide.data() + all.size() - 3, 3);
      narrow(wide.data(), back.data(), wide.size());
      std::size_t bad = 0;
      for (std::size_t i = 0; i < all.size(); ++i) {
        const bool nan = (i & exponent) == exponent && (i & ~(exponent | 0x8000u)) != 0;
        bad += nan ? !((back[i] & exponent) == exponent && (back[i] & ~(exponent | 0x8000u)) != 0) : back[i] != all[i];
      }
      CHECK(bad == 0, "%s %s: %zu patterns changed through widen and narrow", table->level, bf16 ? "bf16" : "f16", bad);
      std::vector<std::uint16_t> got(values.size()), want(values.size());
      narrow(values.data(), got.data(), values.size());
      reference(values.data(), want.data(), values.size());
      std::size_t differ = 0;
      for (std::size_t i = 0; i < values.size(); ++i) {
        const bool nan = std::isnan(values[i]);
        differ += nan ? (got[i] & exponent) != exponent : got[i] != want[i];
      }
      CHECK(differ == 0, "%s %s: %zu of %zu values rounded unlike the scalar level", table->level, bf16 ? "bf16" : "f16", differ,
            values.size());
    }
  }
}

// Every level's fused half-precision kernels (converting in registers) give the bits of the
// path they replace: the parameter widened (or its float32 master copy), the same level's float32
// kernel, the result rounded by the scalar level's software. float16 and bfloat16, plain and
// centered, with and without a master copy, gradients in the parameter's dtype or float32, a
// variant with coupled weight decay and one with everything on, lengths with and without tails.
void test_fused_half_kernels() {
  const KernelTable* scalar = supported_kernels().back();
  std::size_t ran = 0;
  for (const KernelTable* table : supported_kernels()) {
    for (bool bf16 : {false, true}) {
      for (bool centered : {false, true}) {
        const HalfKernelFn fused = bf16 ? (centered ? table->centered_bf16 : table->plain_bf16)
                                        : (centered ? table->centered_f16 : table->plain_f16);
        if (fused == nullptr) continue;  // this level converts in blocks (tested through Node)
        const KernelFn<float> f32 = centered ? table->centered_f32 : table->plain_f32;
        const WidenFn widen = bf16 ? scalar->bf16_to_f32 : scalar->f16_to_f32;
        const NarrowFn narrow = bf16 ? scalar->f32_to_bf16 : scalar->f32_to_f16;
        for (unsigned variant : {0u, kCoupledDecay, kDecoupledDecay, kVariantMask}) {
          const bool covered = variant != kVariantMask;  // every knob on: not in kFusedHalfVariants
          for (bool master : {false, true}) {
            for (bool grad_f32 : {false, true}) {
              for (std::size_t n : {std::size_t(1), std::size_t(15), std::size_t(17), std::size_t(1000), std::size_t(70001)}) {
                std::mt19937 rng(static_cast<unsigned>(n + variant));
                std::uniform_real_distribution<float> u(-1, 1);
                std::vector<float> w(n), s(n), m(n), mg(n), g(n);
                for (std::size_t i = 0; i < n; ++i) {
                  w[i] = u(rng), s[i] = 1.0f + 0.5f * u(rng), m[i] = 0.1f * u(rng), mg[i] = 0.2f * u(rng), g[i] = u(rng);
                }
                std::vector<std::uint16_t> w16(n), g16(n);
                narrow(w.data(), w16.data(), n);
                narrow(g.data(), g16.data(), n);
                const TensorScalars<float> k{0.9f, 0.1f, 0.5f, 1e-6f, 0.01f, 0.04f, 0.0f, 0.25f, variant};
                // The fused kernel.
                std::vector<std::uint16_t> got_w16 = w16;
                std::vector<float> got_master = w, got_s = s, got_m = m, got_mg = mg;
                const bool handled =
                    fused(HalfTensorBuffers{got_w16.data(), master ? got_master.data() : nullptr, got_s.data(), got_m.data(),
                                            centered ? got_mg.data() : nullptr,
                                            grad_f32 ? static_cast<const void*>(g.data()) : static_cast<const void*>(g16.data()),
                                            grad_f32, n},
                          k);
                CHECK(handled == covered, "%s: variant %u %s", table->level, variant, covered ? "not fused" : "claimed as fused");
                if (!handled) {
                  CHECK(got_w16 == w16 && got_s == s && got_m == m, "%s: variant %u refused but changed the tensor", table->level, variant);
                  continue;
                }
                // The path it replaces.
                std::vector<float> want_w(n), want_g(n), want_s = s, want_m = m, want_mg = mg;
                if (master) want_w = w;
                else widen(w16.data(), want_w.data(), n);
                if (grad_f32) want_g = g;
                else widen(g16.data(), want_g.data(), n);
                f32(TensorBuffers<float>{want_w.data(), want_s.data(), want_m.data(), centered ? want_mg.data() : nullptr,
                                         want_g.data(), n},
                    k);
                std::vector<std::uint16_t> want_w16(n);
                narrow(want_w.data(), want_w16.data(), n);
                const bool same = got_w16 == want_w16 && got_s == want_s && got_m == want_m && (!centered || got_mg == want_mg) &&
                                  (!master || got_master == want_w);
                CHECK(same, "%s %s %s variant %u master %d grad %s n %zu: the fused kernel differs from widen, float32, round",
                      table->level, bf16 ? "bf16" : "f16", centered ? "centered" : "plain", variant, master,
                      grad_f32 ? "f32" : "half", n);
                ++ran;
              }
            }
          }
        }
      }
    }
  }
  std::printf("fused half kernels checked: %zu configurations\n", ran);
}

void test_locks() {
  // Two threads stepping overlapping parameter sets in opposite orders under the locks. Both
  // steps apply the same update to each tensor (the backward plan is the forward one with its
  // tensors swapped), so any serialized order gives the bytes of 400 steps in one thread; updates
  // that interleave (no-op locks) lose or mix some and give other bytes.
  Model<float> model({100000, 50000}, false, 3);
  Model<float> alone = model;
  auto slots = [](Model<float>& m) {
    std::vector<core::TensorSlot> s;
    for (std::size_t t : {0, 1}) {
      s.push_back(core::TensorSlot{core::DType::kFloat32, m.param[t].size(), m.param[t].data(),
                                   m.mean_square[t].data(), m.moment[t].data(), nullptr});
    }
    return s;
  };
  const std::vector<core::TensorSlot> forward = slots(model);
  const std::vector<core::TensorSlot> backward = {forward[1], forward[0]};
  std::vector<double> plan_backward = model.plan;
  for (std::size_t k = 0; k < plan::kTensorStride; ++k) {
    std::swap(plan_backward[plan::kHeaderSize + k], plan_backward[plan::kHeaderSize + plan::kTensorStride + k]);
  }
  core::MultiTensorStep a(forward, model.plan.data(), false), b(backward, plan_backward.data(), false);
  const auto grads = model.grads();
  const std::vector<const void*> grads_backward = {grads[1], grads[0]};
  auto keys = [](const std::vector<core::TensorSlot>& s) {
    std::vector<std::uintptr_t> k;
    for (const auto& t : s) k.push_back(reinterpret_cast<std::uintptr_t>(t.param));
    return k;
  };
  core::ParameterLocks locks_a(keys(forward)), locks_b(keys(backward));
  constexpr int kSteps = 200;
  auto worker = [&](core::MultiTensorStep& step, core::ParameterLocks& locks, const void* const* g) {
    for (int i = 0; i < kSteps; ++i) {
      locks.lock_all();
      step.run(active_kernels(), g);
      locks.unlock_all();
    }
  };
  std::thread t1(worker, std::ref(a), std::ref(locks_a), grads.data());
  std::thread t2(worker, std::ref(b), std::ref(locks_b), grads_backward.data());
  t1.join();
  t2.join();

  const std::vector<core::TensorSlot> alone_slots = slots(alone);
  core::MultiTensorStep serial(alone_slots, alone.plan.data(), false);
  const auto alone_grads = alone.grads();
  for (int i = 0; i < 2 * kSteps; ++i) serial.run(active_kernels(), alone_grads.data());
  CHECK(model.bytes() == alone.bytes(), "locked steps from two threads differ from %d steps in one thread", 2 * kSteps);
}

}  // namespace

int main(int argc, char** argv) {
  // Every level is tested where the CPU has it; the others are compiled in but not run here.
#if defined(__x86_64__) || defined(_M_X64)
  const std::vector<std::string> compiled = {"avx512", "avx2", "sse2", "scalar"};
#elif defined(__aarch64__) || defined(_M_ARM64)
  const std::vector<std::string> compiled = {"neon", "scalar"};
#else
  const std::vector<std::string> compiled = {"scalar"};
#endif
  std::string tested, untested;
  for (const std::string& level : compiled) {
    bool supported = false;
    for (const KernelTable* t : supported_kernels()) supported = supported || level == t->level;
    (supported ? tested : untested) += " " + level;
  }
  std::printf("kernel levels tested:%s\n", tested.c_str());
  if (!untested.empty()) {
    std::printf("kernel levels NOT tested (this CPU lacks them; no emulator in Debian runs them):%s\n", untested.c_str());
  }
  if (argc > 1 && std::string(argv[1]) == "--levels") return 0;  // npm run test:native prints them
  for (bool centered : {false, true}) {
    test_levels_and_threads<float>(centered);
    test_levels_and_threads<double>(centered);
  }
  test_half_conversions();
  test_fused_half_kernels();
  test_finite_check<float>();
  test_finite_check<double>();
  test_locks();
  return testing::summary("all native checks passed");
}

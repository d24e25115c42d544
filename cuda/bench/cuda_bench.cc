// GPU benchmark of the device plugin: `cuda_bench <plugin.so> [--quick]`, run by
// `npm run bench -- --cuda`. For each case it times, interleaved, on one queue:
//   - the fused step with gradients already on the device (rmsprop_cuda_step_async),
//   - a device-to-device copy of the step's bytes in the same run: the memory bus's limit,
//   - the whole step as `device: 'cuda'` runs it with host gradients (core::DeviceStep:
//     gradients uploaded through page-locked staging; parameters uploaded and written back
//     with parameterSync 'step', or not with 'manual').
// Step GB/s counts the bytes the update must move (plain: read w, s, m, g, write w, s, m;
// centered: and read/write mean_grad; 2 bytes for a half-precision w and g, 4 for their float32
// state); copy GB/s counts read + write. Prints a markdown table;
// exits 77 without a usable device.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../binding/core/device_step.h"
#include "../../binding/core/plan.h"

using rmsprop::core::DevicePlugin;

namespace {

const DevicePlugin* plugin = nullptr;
rmsprop_cuda_queue queue = nullptr;

void ok(int code, const char* what) {
  if (code != 0) {
    std::fprintf(stderr, "%s: %s\n", what, plugin->error_string(code));
    std::exit(1);
  }
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Case {
  std::string label;
  std::size_t tensors;
  std::size_t elements;  // per tensor
  bool centered;
  bool f64;
  bool new_lr = false;  // every step has other learning rates (a schedule): the plugin re-sends its tables
  int half = 0;         // RMSPROP_CUDA_FLOAT16 or RMSPROP_CUDA_BFLOAT16: 16-bit parameters and gradients, float32 state
  bool check = false;   // skipNonFinite: each step first checks the gradients and reads the flag back (as DeviceStep)
};

// 0.5 and 0.01 as 16-bit patterns of each half-precision dtype.
std::uint16_t half_bits(int dtype, double v) {
  if (dtype == RMSPROP_CUDA_FLOAT16) return v == 0.5 ? 0x3800 : 0x211f;
  return v == 0.5 ? 0x3f00 : 0x3c24;
}

void run_case(const Case& c, bool quick) {
  const std::size_t element = c.f64 ? 8 : 4;  // of the state (and, unless half, of everything)
  const std::size_t total = c.tensors * c.elements;
  const std::size_t stride = (c.elements * element + 255) / 256 * 256;  // bytes per tensor, aligned
  const std::size_t region = stride * c.tensors;
  const int kinds = c.centered ? 5 : 4;
  char* device = nullptr;
  ok(plugin->malloc_(reinterpret_cast<void**>(&device), region * kinds), "malloc");
  // Initial values: s = 1, everything else small and non-zero (no denormals on the way).
  std::vector<char> host(region);
  auto fill = [&](int kind, double value) {
    for (std::size_t t = 0; t < c.tensors; ++t) {
      for (std::size_t i = 0; i < c.elements; ++i) {
        const double v = value * (1 + 0.001 * double(i % 97));
        if (c.half && (kind == 0 || kind == kinds - 1)) reinterpret_cast<std::uint16_t*>(host.data() + t * stride)[i] = half_bits(c.half, value);
        else if (c.f64) reinterpret_cast<double*>(host.data() + t * stride)[i] = v;
        else reinterpret_cast<float*>(host.data() + t * stride)[i] = float(v);
      }
    }
    ok(plugin->copy_async(queue, device + kind * region, host.data(), region, RMSPROP_CUDA_HOST_TO_DEVICE), "upload");
    ok(plugin->synchronize(queue), "upload");
  };
  fill(0, 0.5);
  fill(1, 1.0);
  fill(2, 0.0);
  if (c.centered) fill(3, 0.0);
  fill(kinds - 1, 0.01);
  std::vector<rmsprop_cuda_tensor> table(c.tensors);
  for (std::size_t t = 0; t < c.tensors; ++t) {
    rmsprop_cuda_tensor& d = table[t];
    d = rmsprop_cuda_tensor{};
    d.param = device + 0 * region + t * stride;
    d.mean_square = device + 1 * region + t * stride;
    d.moment = device + 2 * region + t * stride;
    d.mean_grad = c.centered ? device + 3 * region + t * stride : nullptr;
    d.grad = device + (kinds - 1) * region + t * stride;
    d.size = c.elements;
    d.slices = 0;
    d.lr = 1e-3;
  }
  const rmsprop_cuda_step_config config{{0.9, 0.9, 1e-10, 1.0, 0}, c.centered ? 1 : 0,
                                        c.half ? c.half : c.f64 ? RMSPROP_CUDA_FLOAT64 : RMSPROP_CUDA_FLOAT32};
  // Plain: read w, s, m, g, write w, s, m; centered: and mean_grad (half: w and g 2 bytes each).
  const double step_bytes = c.half ? double(total) * (2 + 2 + 2 + 4 * 2 * (c.centered ? 3 : 2))
                                   : double(total) * element * (c.centered ? 9 : 7);
  // The copy moves as many bytes (read + write) as the step: half of them from one buffer to another.
  const std::size_t copy_bytes = (std::size_t(step_bytes / 2) + 255) / 256 * 256;
  char* copy_buffer = nullptr;
  ok(plugin->malloc_(reinterpret_cast<void**>(&copy_buffer), 2 * copy_bytes), "malloc");
  const int reps = total >= 50000000 ? 5 : total >= 5000000 ? 20 : 100;
  double lr_scale = 1;  // with new_lr, a slightly different learning rate every step
  auto next_lr = [&] {
    lr_scale *= 1 - 1e-9;
    return 1e-3 * lr_scale;
  };
  std::uint32_t* flag_host = nullptr;
  ok(plugin->host_alloc(reinterpret_cast<void**>(&flag_host), 8), "host_alloc");
  auto time_step = [&] {
    const double t0 = now();
    for (int r = 0; r < reps; ++r) {
      if (c.check) {  // the finite check as DeviceStep::may_apply runs it: zero, check, read back, wait
        flag_host[0] = 0;
        ok(plugin->copy_async(queue, copy_buffer, flag_host, 4, RMSPROP_CUDA_HOST_TO_DEVICE), "flag");
        ok(plugin->check_finite_async(queue, table.data(), table.size(), &config, reinterpret_cast<std::uint32_t*>(copy_buffer)), "check");
        ok(plugin->copy_async(queue, flag_host + 1, copy_buffer, 4, RMSPROP_CUDA_DEVICE_TO_HOST), "flag");
        ok(plugin->synchronize(queue), "check");
      }
      if (c.new_lr) {
        const double lr = next_lr();
        for (rmsprop_cuda_tensor& d : table) d.lr = lr;
      }
      ok(plugin->step_async(queue, table.data(), table.size(), &config), "step");
    }
    ok(plugin->synchronize(queue), "step");
    return (now() - t0) / reps;
  };
  auto time_copy = [&] {
    const double t0 = now();
    for (int r = 0; r < reps; ++r) {
      ok(plugin->copy_async(queue, copy_buffer + copy_bytes, copy_buffer, copy_bytes, RMSPROP_CUDA_DEVICE_TO_DEVICE), "copy");
    }
    ok(plugin->synchronize(queue), "copy");
    return (now() - t0) / reps;
  };
  time_step();
  time_copy();
  std::vector<double> steps, copies;
  const int rounds = quick ? 3 : 7;
  for (int r = 0; r < rounds; ++r) {
    steps.push_back(time_step());
    copies.push_back(time_copy());
  }
  ok(plugin->free_(device), "free");
  ok(plugin->free_(copy_buffer), "free");
  ok(plugin->host_free(flag_host), "host_free");

  // The whole step with host gradients, as device: 'cuda' runs it.
  std::vector<std::vector<char>> w(c.tensors, std::vector<char>(c.elements * element)), s = w, m = w, mg = w, g = w;
  std::vector<rmsprop::core::TensorSlot> slots;
  std::vector<const void*> grads;
  for (std::size_t t = 0; t < c.tensors; ++t) {
    if (c.half) {
      std::fill_n(reinterpret_cast<float*>(s[t].data()), c.elements, 1.0f);
      std::fill_n(reinterpret_cast<std::uint16_t*>(g[t].data()), c.elements, half_bits(c.half, 0.01));
    } else if (c.f64) {
      std::fill_n(reinterpret_cast<double*>(s[t].data()), c.elements, 1.0);
      std::fill_n(reinterpret_cast<double*>(g[t].data()), c.elements, 0.01);
    } else {
      std::fill_n(reinterpret_cast<float*>(s[t].data()), c.elements, 1.0f);
      std::fill_n(reinterpret_cast<float*>(g[t].data()), c.elements, 0.01f);
    }
    using rmsprop::core::DType;
    const DType dtype = c.half == RMSPROP_CUDA_FLOAT16    ? DType::kFloat16
                        : c.half == RMSPROP_CUDA_BFLOAT16 ? DType::kBFloat16
                        : c.f64                           ? DType::kFloat64
                                                          : DType::kFloat32;
    slots.push_back(rmsprop::core::TensorSlot{dtype,
                                              c.elements, w[t].data(), s[t].data(), m[t].data(),
                                              c.centered ? mg[t].data() : nullptr});
    grads.push_back(g[t].data());
  }
  std::vector<double> plan(rmsprop::plan::size_for(c.tensors), 0.0);
  plan[rmsprop::plan::kDecay] = 0.9;
  plan[rmsprop::plan::kMomentum] = 0.9;
  plan[rmsprop::plan::kEpsilon] = 1e-10;
  plan[rmsprop::plan::kInvLossScale] = 1;
  plan[rmsprop::plan::kCheckFinite] = c.check ? 1 : 0;
  for (std::size_t t = 0; t < c.tensors; ++t) {
    plan[rmsprop::plan::kHeaderSize + t * rmsprop::plan::kTensorStride + rmsprop::plan::kLr] = 1e-3;
    plan[rmsprop::plan::kHeaderSize + t * rmsprop::plan::kTensorStride + rmsprop::plan::kSlices] = 1;
  }
  double host_manual = 0, host_sync = 0;
  {
    rmsprop::core::DeviceStep step(*plugin, slots, plan.data(), c.centered);
    const int host_reps = std::max(1, reps / 5);
    auto time_host = [&](bool sync) {
      const double t0 = now();
      for (int r = 0; r < host_reps; ++r) {
        if (c.new_lr) {
          const double lr = next_lr();
          for (std::size_t t = 0; t < c.tensors; ++t) plan[rmsprop::plan::kHeaderSize + t * rmsprop::plan::kTensorStride + rmsprop::plan::kLr] = lr;
        }
        if (!c.check || step.may_apply(grads.data(), nullptr)) step.step(grads.data(), nullptr, sync, sync);
      }
      return (now() - t0) / host_reps;
    };
    time_host(false);
    std::vector<double> a, b;
    for (int r = 0; r < (quick ? 2 : 3); ++r) {
      a.push_back(time_host(false));
      b.push_back(time_host(true));
    }
    host_manual = median(a);
    host_sync = median(b);
  }
  const double step_s = median(steps), copy_s = median(copies);
  const double step_gbs = step_bytes / step_s / 1e9, copy_gbs = 2.0 * copy_bytes / copy_s / 1e9;
  std::printf("| %s%s | %s | %s | %.1f | %.0f | %.0f | **%.0f%%** | %.0f | %.0f |\n", c.label.c_str(),
              c.new_lr ? ", new lr every step" : c.check ? ", finite check first" : "",
              c.half == RMSPROP_CUDA_FLOAT16 ? "f16" : c.half == RMSPROP_CUDA_BFLOAT16 ? "bf16" : c.f64 ? "f64" : "f32", c.centered ? "centered" : "plain", step_s * 1e6, step_gbs, copy_gbs, 100 * step_gbs / copy_gbs,
              host_manual * 1e6, host_sync * 1e6);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: cuda_bench <plugin.so> [--quick]\n");
    return 2;
  }
  const bool quick = argc > 2 && std::strcmp(argv[2], "--quick") == 0;
  std::string error;
  plugin = rmsprop::core::load_device_plugin(argv[1], &error);
  if (plugin == nullptr) {
    std::fprintf(stderr, "cannot load %s: %s\n", argv[1], error.c_str());
    return 1;
  }
  if (plugin->device_count() == 0) {
    std::printf("%s: no usable CUDA device: benchmark skipped\n", argv[1]);
    return 77;
  }
  char name[256] = {};
  plugin->device_name(name, sizeof name);
  ok(plugin->queue_create(&queue), "queue");
  std::printf("# CUDA benchmark on %s%s\n\n", name, quick ? " (quick)" : "");
  std::printf("Interleaved medians. Step: gradients on the device (one fused launch per dtype), steps enqueued back to\n"
              "back. Copy: a device-to-device copy of the step's bytes in the same run. Host columns: the whole\n"
              "`device: 'cuda'` step with host gradients (upload through page-locked staging), parameterSync 'manual' and\n"
              "'step' (parameters also uploaded and written back). 'new lr every step': as with a schedule, every step\n"
              "sends other learning rates, so the plugin re-sends its tensor records; otherwise it reuses its launch tables.\n\n");
  std::printf("| case | dtype | variant | step µs | step GB/s | copy GB/s | %% of copy | host grads µs (manual) | host grads µs (step) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  std::vector<Case> cases;
  const std::vector<std::size_t> sizes = quick ? std::vector<std::size_t>{1000000} : std::vector<std::size_t>{1000000, 10000000, 100000000};
  for (std::size_t n : sizes) {
    const std::string label = n == 1000000 ? "1e6" : n == 10000000 ? "1e7" : "1e8";
    cases.push_back({label, 1, n, false, false});
    cases.push_back({label, 1, n, true, false});
    if (!quick) cases.push_back({label, 1, n, false, true});
    // Half-precision parameters (float32 state): fewer bytes per element.
    for (int half : {RMSPROP_CUDA_FLOAT16, RMSPROP_CUDA_BFLOAT16}) {
      for (bool centered : {false, true}) cases.push_back({label, 1, n, centered, false, false, half});
    }
  }
  cases.push_back({"2000×500", 2000, 500, false, false});
  cases.push_back({"2000×500", 2000, 500, true, false});
  // The same tensors with a schedule's learning rate: the launch tables change every step.
  cases.push_back({"1e6", 1, 1000000, false, false, true});
  cases.push_back({"2000×500", 2000, 500, false, false, true});
  // skipNonFinite / DynamicLossScaler: the gradients checked before each step (its cost: against the rows above).
  for (bool centered : {false, true}) {
    Case c{quick ? "1e6" : "1e7", 1, quick ? std::size_t(1000000) : std::size_t(10000000), centered, false};
    c.check = true;
    cases.push_back(c);
  }
  for (const Case& c : cases) run_case(c, quick);
  ok(plugin->queue_destroy(queue), "queue");
  return 0;
}

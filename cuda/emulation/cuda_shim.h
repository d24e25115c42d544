// Just enough of CUDA for the host compiler to compile cuda/kernels.cuh and run its kernels on
// the CPU: the qualifiers, blockIdx/threadIdx/blockDim, 16-byte vector types, __syncthreads and
// a launch. Used by the host emulator plugin (cuda/emulator/) and the native tests, so that the
// CUDA kernels' indexing, chunking, vector path and reductions run (under the sanitizers) on
// machines without a GPU. It says nothing about timing, occupancy or memory coalescing.
#pragma once
#include <barrier>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "../../include/half_bits.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// One block runs at a time (see launch below), so a block's shared memory can be a static.
#define __shared__ static

struct dim3 {
  unsigned x = 0, y = 0, z = 0;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) double2 {
  double x, y;
};

// Device math resolves to the overloads of the operand type, as in CUDA.
using std::fma;
using std::sqrt;

// The half-precision types of cuda_fp16.h / cuda_bf16.h as their 16-bit patterns, with the
// conversions the kernels use, exact in software (include/half_bits.h: the CPU levels'
// own rounding, to nearest even, as __float2half_rn / __float2bfloat16_rn).
struct __half {
  std::uint16_t bits;
};
struct __nv_bfloat16 {
  std::uint16_t bits;
};
inline float __half2float(__half x) { return rmsprop::half_to_float(x.bits); }
inline __half __float2half_rn(float x) { return __half{rmsprop::float_to_half(x)}; }
inline float __bfloat162float(__nv_bfloat16 x) { return rmsprop::bfloat_to_float(x.bits); }
inline __nv_bfloat16 __float2bfloat16_rn(float x) { return __nv_bfloat16{rmsprop::float_to_bfloat(x)}; }

namespace rmsprop::cuda_emulation {
inline thread_local dim3 block_index;
inline thread_local dim3 thread_index;
inline dim3 block_size;
inline std::barrier<>* block_barrier = nullptr;
}  // namespace rmsprop::cuda_emulation

#define blockIdx (::rmsprop::cuda_emulation::block_index)
#define threadIdx (::rmsprop::cuda_emulation::thread_index)
#define blockDim (::rmsprop::cuda_emulation::block_size)

inline void __syncthreads() { rmsprop::cuda_emulation::block_barrier->arrive_and_wait(); }

namespace rmsprop::cuda_emulation {

// The OS threads that play the CUDA threads of one block for kernels that synchronize: started
// once, reused by every block (starting 256 threads per block made emulated steps slow).
class Team {
 public:
  explicit Team(unsigned size) : size_(size), barrier_(size) {
    for (unsigned t = 0; t < size; ++t) {
      std::thread([this, t] { serve(t); }).detach();  // lives as long as the process
    }
  }

  // Runs job(t) on thread t of the team, for every t, and returns when all are done.
  void run(std::function<void(unsigned)> job) {
    std::unique_lock<std::mutex> lock(mutex_);
    job_ = std::move(job);
    done_ = 0;
    ++generation_;
    start_.notify_all();
    finished_.wait(lock, [&] { return done_ == size_; });
  }

  std::barrier<>& barrier() { return barrier_; }

 private:
  void serve(unsigned t) {
    unsigned seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      const std::function<void(unsigned)> job = job_;
      lock.unlock();
      job(t);
      lock.lock();
      if (++done_ == size_) finished_.notify_one();
    }
  }

  const unsigned size_;
  std::barrier<> barrier_;
  std::mutex mutex_;
  std::condition_variable start_, finished_;
  std::function<void(unsigned)> job_;
  unsigned generation_ = 0;
  unsigned done_ = 0;
};

// Launches run one block at a time, process-wide (block_size, the barrier and __shared__
// statics are shared): one mutex for every kernel, not one per template instantiation.
inline std::mutex& launch_mutex() {
  static std::mutex mutex;
  return mutex;
}

// The team for blocks of `threads` threads, kept for the life of the process. Under launch_mutex().
inline Team& team_for(unsigned threads) {
  static std::vector<std::pair<unsigned, Team*>> teams;
  for (const auto& [size, team] : teams) {
    if (size == threads) return *team;
  }
  teams.emplace_back(threads, new Team(threads));
  return *teams.back().second;
}

// Runs `kernel()` as a grid of `blocks` × `threads`. With `cooperative` (the kernel calls
// __syncthreads), each CUDA thread of a block runs on a thread of a team of OS threads;
// otherwise the block's threads run one after another on the calling thread.
template <class Kernel>
void launch(unsigned blocks, unsigned threads, bool cooperative, const Kernel& kernel) {
  std::lock_guard<std::mutex> lock(launch_mutex());
  block_size = dim3{threads, 1, 1};
  for (unsigned b = 0; b < blocks; ++b) {
    if (!cooperative) {
      block_index = dim3{b, 0, 0};
      for (unsigned t = 0; t < threads; ++t) {
        thread_index = dim3{t, 0, 0};
        kernel();
      }
      continue;
    }
    Team& team = team_for(threads);
    block_barrier = &team.barrier();
    team.run([&, b](unsigned t) {
      block_index = dim3{b, 0, 0};
      thread_index = dim3{t, 0, 0};
      kernel();
    });
    block_barrier = nullptr;
  }
}

}  // namespace rmsprop::cuda_emulation

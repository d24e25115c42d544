// Just enough of CUDA for the host compiler to compile cuda/kernels.cuh and run its kernels on
// the CPU: the qualifiers, blockIdx/threadIdx/blockDim, 16-byte vector types, __syncthreads and
// a launch. Used by the host emulator plugin (cuda/emulator/) and the native tests, so that the
// CUDA kernels' indexing, chunking, vector path and reductions run (under the sanitizers) on
// machines without a GPU. It says nothing about timing, occupancy or memory coalescing.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

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

// Runs `kernel()` as a grid of `blocks` × `threads`, one block at a time (process-wide). With
// `cooperative` (the kernel calls __syncthreads), each CUDA thread of a block is an OS thread;
// otherwise the block's threads run one after another on the calling thread.
template <class Kernel>
void launch(unsigned blocks, unsigned threads, bool cooperative, const Kernel& kernel) {
  static std::mutex one_block_at_a_time;
  std::lock_guard<std::mutex> lock(one_block_at_a_time);
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
    std::barrier<> barrier(threads);
    block_barrier = &barrier;
    std::vector<std::thread> team;
    team.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
      team.emplace_back([&, b, t] {
        block_index = dim3{b, 0, 0};
        thread_index = dim3{t, 0, 0};
        kernel();
      });
    }
    for (std::thread& thread : team) thread.join();
    block_barrier = nullptr;
  }
}

}  // namespace rmsprop::cuda_emulation

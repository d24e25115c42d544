// A small process-wide pool of persistent threads for the multi-tensor step. Every optimizer in
// every JS thread shares it; it never touches JavaScript.
#pragma once
#include <cstddef>

namespace rmsprop::core {

class ThreadPool {
 public:
  // The pool of this process, created on first use with RMSPROP_THREADS threads (default: the
  // number of hardware threads). Never destroyed: its threads simply end with the process.
  static ThreadPool& instance();

  // Threads that work on one job, the calling thread included (>= 1).
  std::size_t size() const;

  // Changes the number of threads (>= 1); waits for a running job to finish first.
  void resize(std::size_t threads);

  using Task = void (*)(void* context, std::size_t index);

  // Calls task(context, i) for every i in [0, count) across the pool and the calling thread, and
  // returns when all have finished. When the pool is already busy with another caller's job, or
  // there is one task, everything runs on the calling thread (results never depend on the thread
  // count). Allocates nothing.
  void run(std::size_t count, Task task, void* context);

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

 private:
  ThreadPool();
  struct State;
  State* state_;
};

}  // namespace rmsprop::core

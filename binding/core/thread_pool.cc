#include "thread_pool.h"

#include <cstdint>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace rmsprop::core {

struct ThreadPool::State {
  std::mutex job_mutex;  // held by the one caller whose job the pool runs
  std::mutex mutex;      // guards the fields below
  std::condition_variable wake;
  std::condition_variable done;
  std::vector<std::thread> workers;
  std::size_t target_workers = 0;
  std::uint64_t generation = 0;  // bumped for each job
  Task task = nullptr;
  void* context = nullptr;
  std::size_t count = 0;
  std::atomic<std::size_t> next{0};
  std::size_t busy = 0;  // workers still inside the current job
  bool stopping = false;

  void work_on_job() {
    for (std::size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) task(context, i);
  }

  // `seen`: the generation when the thread was created (between jobs); it joins later ones only.
  void worker_loop(std::size_t index, std::uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return generation != seen || index >= target_workers; });
      if (index >= target_workers) return;  // the pool shrank
      seen = generation;
      lock.unlock();
      work_on_job();
      lock.lock();
      if (--busy == 0) done.notify_one();
    }
  }

  // Starts or stops workers so that `workers` threads besides the caller exist. Holds job_mutex.
  void set_workers(std::size_t count_wanted) {
    std::uint64_t current = 0;
    {
      std::lock_guard<std::mutex> lock(mutex);
      target_workers = count_wanted;
      current = generation;
    }
    wake.notify_all();
    while (workers.size() > count_wanted) {
      workers.back().join();
      workers.pop_back();
    }
    while (workers.size() < count_wanted) {
      const std::size_t index = workers.size();
      workers.emplace_back([this, index, current] { worker_loop(index, current); });
    }
  }
};

namespace {

std::size_t initial_threads() {
  if (const char* env = std::getenv("RMSPROP_THREADS")) {
    char* end = nullptr;
    const long value = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && value >= 1 && value <= 1024) return static_cast<std::size_t>(value);
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware == 0 ? 1 : hardware;
}

}  // namespace

ThreadPool::ThreadPool() : state_(new State) {
  std::lock_guard<std::mutex> job(state_->job_mutex);
  state_->set_workers(initial_threads() - 1);
}

ThreadPool& ThreadPool::instance() {
  static ThreadPool* pool = new ThreadPool();  // leaked on purpose: no teardown at exit
  return *pool;
}

std::size_t ThreadPool::size() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->target_workers + 1;
}

void ThreadPool::resize(std::size_t threads) {
  if (threads < 1) threads = 1;
  std::lock_guard<std::mutex> job(state_->job_mutex);
  state_->set_workers(threads - 1);
}

void ThreadPool::run(std::size_t count, Task task, void* context) {
  State& s = *state_;
  std::unique_lock<std::mutex> job(s.job_mutex, std::defer_lock);
  if (count <= 1 || !job.try_lock() || s.workers.empty()) {
    if (job.owns_lock()) job.unlock();
    for (std::size_t i = 0; i < count; ++i) task(context, i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.task = task;
    s.context = context;
    s.count = count;
    s.next.store(0);
    s.busy = s.workers.size();
    ++s.generation;
  }
  s.wake.notify_all();
  s.work_on_job();
  std::unique_lock<std::mutex> lock(s.mutex);
  s.done.wait(lock, [&] { return s.busy == 0; });
  s.task = nullptr;
}

}  // namespace rmsprop::core

#include "thread_pool.h"

#include <cstdint>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

namespace rmsprop::core {
namespace {

// How long a thread spins on an atomic before it sleeps on a condition variable: between the
// steps of a training loop (back to back, or after a short gradient computation) the next job
// comes soon, and waking a sleeping thread costs tens of microseconds on a VM (a futex wake and a
// reschedule), a large share of a step of ~1e6 elements. OpenMP runtimes spin likewise.
constexpr std::chrono::microseconds kSpin(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or kSpin has passed; returns ready().
template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (unsigned i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return ready();
    cpu_relax();
  }
}

}  // namespace

// One participant's contiguous share of a job's tasks (its own cache line: no false sharing).
struct alignas(64) Share {
  std::atomic<std::size_t> next{0};
  std::size_t end = 0;
};

struct ThreadPool::State {
  std::mutex job_mutex;  // held by the one caller whose job the pool runs
  std::mutex mutex;      // guards the fields below
  std::condition_variable wake;
  std::condition_variable done;
  std::vector<std::thread> workers;
  std::size_t target_workers = 0;
  std::atomic<std::uint64_t> generation{0};  // bumped for each job (under mutex; spun on without)
  Task task = nullptr;
  void* context = nullptr;
  // Tasks are split into one contiguous share per participant (the caller's is shares[0], worker
  // i's is shares[i + 1]): consecutive steps give each thread the same memory, which stays in its
  // caches, and the prefetchers see one stream (1e6 float32 elements on 2 threads, back to back:
  // 0.200 -> 0.160 ns/element against one shared counter). A participant that finishes its share
  // takes what is left of the others' (a late worker never holds a step up).
  std::unique_ptr<Share[]> shares;
  std::size_t participants = 0;
  std::size_t participants_capacity = 0;
  std::atomic<std::size_t> busy{0};  // workers still inside the current job (likewise)

  void work_on_share(Share& share) {
    for (std::size_t i = share.next.fetch_add(1); i < share.end; i = share.next.fetch_add(1)) task(context, i);
  }

  // Participant `self`: its own share first, then whatever is left of the others'.
  void work_on_job(std::size_t self) {
    work_on_share(shares[self]);
    for (std::size_t k = 1; k < participants; ++k) work_on_share(shares[(self + k) % participants]);
  }

  // `seen`: the generation when the thread was created (between jobs); it joins later ones only.
  void worker_loop(std::size_t index, std::uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      if (generation == seen && index < target_workers) {  // no job yet: spin a little, then sleep
        lock.unlock();
        spin_until([&] { return generation.load() != seen; });
        lock.lock();
      }
      wake.wait(lock, [&] { return generation != seen || index >= target_workers; });
      if (index >= target_workers) return;  // the pool shrank
      seen = generation;
      lock.unlock();
      work_on_job(index + 1);
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
      current = generation.load();
    }
    wake.notify_all();
    while (workers.size() > count_wanted) {
      workers.back().join();
      workers.pop_back();
    }
    if (participants_capacity < count_wanted + 1) {
      shares.reset(new Share[count_wanted + 1]);
      participants_capacity = count_wanted + 1;
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
    s.participants = s.workers.size() + 1;
    for (std::size_t p = 0; p < s.participants; ++p) {
      s.shares[p].next.store(count * p / s.participants);
      s.shares[p].end = count * (p + 1) / s.participants;
    }
    s.busy = s.workers.size();
    ++s.generation;
  }
  s.wake.notify_all();
  s.work_on_job(0);
  spin_until([&] { return s.busy.load() == 0; });  // the workers' share usually ends about now
  std::unique_lock<std::mutex> lock(s.mutex);
  s.done.wait(lock, [&] { return s.busy == 0; });
  s.task = nullptr;
}

}  // namespace rmsprop::core

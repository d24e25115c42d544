// See mpi_channel.h. MPI is called from one thread only (the owner thread, started with the
// channel); callers hand it a job and wait on a condition variable with a deadline, so that a
// rank that never arrives is an error on this rank, not a hang.
#include "mpi_channel.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "../../include/rmsprop_mpi.h"
#include "../kernels/kernels.h"

namespace rmsprop::core {
namespace {

struct Plugin {
  int (*abi_version)();
  int (*init)(int*, int*, int*);
  int (*finalize)();
  void (*abort_)(int);
  int (*barrier)();
  int (*allgather)(const void*, void*, int, int);
  int (*allgatherv)(const void*, int, void*, const int*, const int*, int);
  int (*allgatherv_in_place)(void*, const int*, const int*, int);
  int (*reduce_scatter_sum)(const void*, void*, const int*, int);
  int (*allreduce_sum)(const void*, void*, int, int);
  int (*allreduce_max_int)(int*);
  void (*error_string)(int, char*, int);
};

template <class F>
void bind(void* handle, const char* name, F& out, const std::string& path) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  if (out == nullptr) throw MpiError("the MPI plugin " + path + " lacks " + name);
}

Plugin load(const std::string& path) {
  // RTLD_GLOBAL: Open MPI's own components (loaded by libmpi) resolve libmpi's symbols globally.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    const char* reason = dlerror();
    throw MpiError(reason ? reason : "dlopen failed: " + path);
  }
  Plugin p{};
  bind(handle, "rmsprop_mpi_abi_version", p.abi_version, path);
  if (p.abi_version() != RMSPROP_MPI_ABI_VERSION) {
    throw MpiError("the MPI plugin " + path + " has interface version " + std::to_string(p.abi_version()) +
                   ", this addon needs " + std::to_string(RMSPROP_MPI_ABI_VERSION));
  }
  bind(handle, "rmsprop_mpi_init", p.init, path);
  bind(handle, "rmsprop_mpi_finalize", p.finalize, path);
  bind(handle, "rmsprop_mpi_abort", p.abort_, path);
  bind(handle, "rmsprop_mpi_barrier", p.barrier, path);
  bind(handle, "rmsprop_mpi_allgather", p.allgather, path);
  bind(handle, "rmsprop_mpi_allgatherv", p.allgatherv, path);
  bind(handle, "rmsprop_mpi_allgatherv_in_place", p.allgatherv_in_place, path);
  bind(handle, "rmsprop_mpi_reduce_scatter_sum", p.reduce_scatter_sum, path);
  bind(handle, "rmsprop_mpi_allreduce_sum", p.allreduce_sum, path);
  bind(handle, "rmsprop_mpi_allreduce_max_int", p.allreduce_max_int, path);
  bind(handle, "rmsprop_mpi_error_string", p.error_string, path);
  return p;
}

// A job for the owner thread: `run` returns 0 or an MPI error code.
struct Job {
  std::function<int(const Plugin&)> run;
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  int rc = 0;
  std::string failure;  // an exception's message from `run`
};

class Channel {
 public:
  explicit Channel(Plugin plugin) : plugin_(plugin), thread_([this] { loop(); }) { thread_.detach(); }

  const Plugin& plugin() const { return plugin_; }

  // Runs `run` on the owner thread; throws MpiError on an MPI error, a failure or a timeout.
  void call(const char* what, std::function<int(const Plugin&)> run, double timeout_ms) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!broken_.empty()) throw MpiError(broken_);
    }
    auto job = std::make_shared<Job>();
    job->run = std::move(run);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(job);
    }
    wake_.notify_one();
    std::unique_lock<std::mutex> lock(job->mutex);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(timeout_ms);
    if (!job->finished.wait_until(lock, deadline, [&] { return job->done; })) {
      std::string message = std::string("the MPI collective '") + what + "' did not complete within " +
                            std::to_string(static_cast<long long>(timeout_ms)) +
                            " ms: another rank is slow, stopped or gone (this rank's exit ends the MPI job)";
      std::lock_guard<std::mutex> channel_lock(mutex_);
      broken_ = message;
      throw MpiError(message);
    }
    if (!job->failure.empty()) throw MpiError(job->failure);
    if (job->rc != 0) {
      char text[512];
      plugin_.error_string(job->rc, text, sizeof text);
      throw MpiError(std::string("the MPI collective '") + what + "' failed: " + text);
    }
  }

  bool broken() {
    std::lock_guard<std::mutex> lock(mutex_);
    return !broken_.empty();
  }

 private:
  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
        queue_.pop_front();
      }
      int rc = 0;
      std::string failure;
      try {
        rc = job->run(plugin_);
      } catch (const std::exception& e) {
        failure = e.what();
      }
      std::lock_guard<std::mutex> lock(job->mutex);
      job->rc = rc;
      job->failure = failure;
      job->done = true;
      job->finished.notify_all();
    }
  }

  Plugin plugin_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::string broken_;
  std::thread thread_;
};

std::mutex start_mutex;
Channel* channel = nullptr;  // never deleted: the owner thread may be stuck in a collective at exit
MpiWorld world;
int exit_code = 1;           // until the process tells its own (mpi_set_exit_code)
double exit_timeout_ms = 30000;

void at_exit();

Channel& started() {
  if (channel == nullptr) throw MpiError("MPI is not started in this process");
  return *channel;
}

std::size_t element_bytes(int dtype) {
  switch (dtype) {
    case RMSPROP_MPI_FLOAT64: return 8;
    case RMSPROP_MPI_FLOAT32: return 4;
    case RMSPROP_MPI_UINT16: return 2;
    default: return 1;
  }
}

// Elements per bucket: at most bucket_bytes, at least one, and a count that fits an int.
std::size_t bucket_elements(std::size_t bucket_bytes, int dtype) {
  return std::clamp<std::size_t>(bucket_bytes / element_bytes(dtype), 1, INT_MAX / 2);
}

// Each rank's share of the bucket [a, b) of a group cut at `cuts`, and where it starts.
void bucket_counts(const std::vector<std::size_t>& cuts, std::size_t a, std::size_t b, std::vector<int>& counts,
                   std::vector<int>& displs) {
  const std::size_t ranks = cuts.size() - 1;
  counts.assign(ranks, 0);
  displs.assign(ranks, 0);
  for (std::size_t r = 0; r < ranks; ++r) {
    const std::size_t lo = std::max(a, cuts[r]);
    const std::size_t hi = std::min(b, cuts[r + 1]);
    if (hi > lo) {
      counts[r] = static_cast<int>(hi - lo);
      displs[r] = static_cast<int>(lo - a);
    }
  }
}

// With check, whether the values (sums of gradients already × 1/ranks: means) are all finite,
// by the active level's finite check, as a step's skipNonFinite uses.
template <typename T>
void check_finite(const T* values, std::size_t len, bool check, bool& finite) {
  if (!check || len == 0) return;
  const KernelTable& kernels = active_kernels();
  if constexpr (std::is_same_v<T, float>) finite = finite && kernels.finite_f32(values, len);
  else finite = finite && kernels.finite_f64(values, len);
}

// The sums of one group, bucket by bucket, into this rank's piece; (with check) whether it is finite.
template <typename T>
int reduce_group(const Plugin& p, const MpiGroup& g, std::size_t bucket, bool check, bool& finite) {
  const std::size_t total = g.cuts.back();
  const std::size_t me_from = g.cuts[world.rank];
  const std::size_t me_to = g.cuts[world.rank + 1];
  const T* send = static_cast<const T*>(g.send);
  T* piece = static_cast<T*>(g.data);
  std::vector<int> counts, displs;
  for (std::size_t a = 0; a < total; a += bucket) {
    const std::size_t b = std::min(total, a + bucket);
    bucket_counts(g.cuts, a, b, counts, displs);
    T* recv = piece + (std::max(a, me_from) - me_from) * (counts[world.rank] > 0);
    if (int rc = p.reduce_scatter_sum(send + a, recv, counts.data(), g.dtype)) return rc;
  }
  check_finite(piece, me_to - me_from, check, finite);
  return 0;
}

// The sums of one whole group on every rank, bucket by bucket; (with check) whether finite.
template <typename T>
int allreduce_group(const Plugin& p, const MpiGroup& g, std::size_t bucket, bool check, bool& finite) {
  const std::size_t total = g.cuts.back();
  const T* send = static_cast<const T*>(g.send);
  T* mean = static_cast<T*>(g.data);
  for (std::size_t a = 0; a < total; a += bucket) {
    const int count = static_cast<int>(std::min(bucket, total - a));
    if (int rc = p.allreduce_sum(send + a, mean + a, count, g.dtype)) return rc;
  }
  check_finite(mean, total, check, finite);
  return 0;
}

}  // namespace

MpiWorld mpi_start(const std::string& path, double timeout_ms) {
  std::lock_guard<std::mutex> lock(start_mutex);
  if (channel != nullptr) return world;
  Plugin plugin = load(path);
  auto* fresh = new Channel(plugin);
  auto joined = std::make_shared<MpiWorld>();
  fresh->call("MPI_Init_thread", [joined](const Plugin& p) { return p.init(&joined->rank, &joined->size, &joined->thread_level); },
              timeout_ms);
  world = *joined;
  channel = fresh;
  std::atexit(at_exit);
  return world;
}

bool mpi_started() {
  std::lock_guard<std::mutex> lock(start_mutex);
  return channel != nullptr;
}

void mpi_barrier(double timeout_ms) {
  started().call("MPI_Barrier", [](const Plugin& p) { return p.barrier(); }, timeout_ms);
}

std::vector<std::vector<std::uint8_t>> mpi_allgather_bytes(const std::uint8_t* data, std::size_t length, double timeout_ms) {
  if (length > static_cast<std::size_t>(INT_MAX)) throw MpiError("allGather takes at most 2 GiB from a rank");
  auto out = std::make_shared<std::vector<std::vector<std::uint8_t>>>();
  std::vector<std::uint8_t> mine(data, data + length);
  started().call(
      "MPI_Allgatherv",
      [out, mine](const Plugin& p) {
        std::vector<int> lengths(world.size);
        int own = static_cast<int>(mine.size());
        if (int rc = p.allgather(&own, lengths.data(), sizeof(int), RMSPROP_MPI_BYTE)) return rc;
        std::vector<int> displs(world.size);
        std::size_t total = 0;
        for (int r = 0; r < world.size; ++r) {
          displs[r] = static_cast<int>(total);
          total += static_cast<std::size_t>(lengths[r]);
        }
        if (total > static_cast<std::size_t>(INT_MAX)) throw MpiError("allGather takes at most 2 GiB in all");
        std::vector<std::uint8_t> all(total);
        if (int rc = p.allgatherv(mine.data(), own, all.data(), lengths.data(), displs.data(), RMSPROP_MPI_BYTE)) return rc;
        for (int r = 0; r < world.size; ++r) out->emplace_back(all.begin() + displs[r], all.begin() + displs[r] + lengths[r]);
        return 0;
      },
      timeout_ms);
  return std::move(*out);
}

// Every group cut for this world, its data long enough (its piece, or the whole group).
static void check_groups(const std::vector<MpiGroup>& groups, bool pieces) {
  for (const MpiGroup& g : groups) {
    if (g.cuts.size() != static_cast<std::size_t>(world.size) + 1) throw MpiError("a group must be cut for every rank");
    const std::size_t need = pieces ? g.cuts[world.rank + 1] - g.cuts[world.rank] : g.cuts.back();
    if (g.length < need) throw MpiError("a group's buffer is shorter than its cuts");
  }
}

bool mpi_reduce_mean(const std::vector<MpiGroup>& groups, std::size_t bucket_bytes, bool check, double timeout_ms) {
  check_groups(groups, true);
  auto finite = std::make_shared<bool>(true);
  started().call(
      "MPI_Reduce_scatter",
      [groups, bucket_bytes, check, finite](const Plugin& p) {
        bool mine = true;
        for (const MpiGroup& g : groups) {
          const std::size_t bucket = bucket_elements(bucket_bytes, g.dtype);
          int rc = g.dtype == RMSPROP_MPI_FLOAT64 ? reduce_group<double>(p, g, bucket, check, mine)
                                                   : reduce_group<float>(p, g, bucket, check, mine);
          if (rc != 0) return rc;
        }
        if (!check) return 0;
        int flag = mine ? 0 : 1;
        if (int rc = p.allreduce_max_int(&flag)) return rc;
        *finite = flag == 0;
        return 0;
      },
      timeout_ms);
  return *finite;
}

bool mpi_allreduce_mean(const std::vector<MpiGroup>& groups, std::size_t bucket_bytes, bool check, double timeout_ms) {
  check_groups(groups, false);
  auto finite = std::make_shared<bool>(true);
  started().call(
      "MPI_Allreduce",
      [groups, bucket_bytes, check, finite](const Plugin& p) {
        for (const MpiGroup& g : groups) {
          const std::size_t bucket = bucket_elements(bucket_bytes, g.dtype);
          int rc = g.dtype == RMSPROP_MPI_FLOAT64 ? allreduce_group<double>(p, g, bucket, check, *finite)
                                                   : allreduce_group<float>(p, g, bucket, check, *finite);
          if (rc != 0) return rc;
        }
        return 0;
      },
      timeout_ms);
  return *finite;
}

void mpi_gather(const std::vector<MpiGroup>& groups, std::size_t bucket_bytes, double timeout_ms) {
  check_groups(groups, false);
  started().call(
      "MPI_Allgatherv",
      [groups, bucket_bytes](const Plugin& p) {
        std::vector<int> counts, displs;
        for (const MpiGroup& g : groups) {
          const std::size_t bucket = bucket_elements(bucket_bytes, g.dtype);
          const std::size_t bytes = element_bytes(g.dtype);
          const std::size_t total = g.cuts.back();
          for (std::size_t a = 0; a < total; a += bucket) {
            bucket_counts(g.cuts, a, std::min(total, a + bucket), counts, displs);
            void* at = static_cast<std::uint8_t*>(g.data) + a * bytes;
            if (int rc = p.allgatherv_in_place(at, counts.data(), displs.data(), g.dtype)) return rc;
          }
        }
        return 0;
      },
      timeout_ms);
}

void mpi_set_exit_code(int code, double timeout_ms) {
  std::lock_guard<std::mutex> lock(start_mutex);
  exit_code = code;
  exit_timeout_ms = timeout_ms;
}

namespace {

void at_exit() {
  Channel* c;
  int code;
  double timeout_ms;
  {
    std::lock_guard<std::mutex> lock(start_mutex);
    c = channel;
    code = exit_code;
    timeout_ms = exit_timeout_ms;
  }
  if (c == nullptr) return;
  if (code == 0 && !c->broken()) {
    try {
      c->call("MPI_Finalize", [](const Plugin& p) { return p.finalize(); }, timeout_ms);
      return;
    } catch (const MpiError&) {
      // Another rank never finalized: end the job rather than wait.
    }
  }
  std::fprintf(stderr, "rmsprop-native: MPI rank %d of %d exits with code %d: ending the MPI job\n", world.rank, world.size,
               code);
  std::fflush(stderr);
  c->plugin().abort_(code != 0 ? code : 1);
}

}  // namespace

}  // namespace rmsprop::core

// Per-parameter locks shared by every optimizer of the process, in every thread (useLocking).
// A parameter is identified by the address of its first element, the same in every worker
// thread for a parameter on a SharedArrayBuffer.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace rmsprop::core {

class LockRegistry {
 public:
  static LockRegistry& instance();

  // The lock of the parameter at `key`, created on first use and shared by every holder.
  std::shared_ptr<std::mutex> acquire(std::uintptr_t key);

  // Drops one holder's claim; the lock is forgotten when no optimizer holds it.
  void release(std::uintptr_t key);

 private:
  LockRegistry() = default;
  struct Entry {
    std::shared_ptr<std::mutex> lock;
    std::size_t holders;
  };
  std::mutex mutex_;
  std::unordered_map<std::uintptr_t, Entry> entries_;
};

// The locks of one optimizer's parameters, taken all together in one global order (by key) so
// that optimizers locking overlapping sets in any order never deadlock.
class ParameterLocks {
 public:
  explicit ParameterLocks(std::vector<std::uintptr_t> keys);
  ~ParameterLocks();
  ParameterLocks(const ParameterLocks&) = delete;
  ParameterLocks& operator=(const ParameterLocks&) = delete;

  void lock_all();
  void unlock_all();

 private:
  std::vector<std::uintptr_t> keys_;  // sorted, unique
  std::vector<std::shared_ptr<std::mutex>> locks_;
};

// Holds every lock of `locks` (none when null) from construction to destruction.
class ScopedLocks {
 public:
  explicit ScopedLocks(ParameterLocks* locks) : locks_(locks) {
    if (locks_) locks_->lock_all();
  }
  ~ScopedLocks() {
    if (locks_) locks_->unlock_all();
  }
  ScopedLocks(const ScopedLocks&) = delete;
  ScopedLocks& operator=(const ScopedLocks&) = delete;

 private:
  ParameterLocks* locks_;
};

}  // namespace rmsprop::core

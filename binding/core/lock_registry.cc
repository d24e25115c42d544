#include "lock_registry.h"

#include <algorithm>

namespace rmsprop::core {

LockRegistry& LockRegistry::instance() {
  static LockRegistry* registry = new LockRegistry();  // leaked on purpose: no teardown at exit
  return *registry;
}

std::shared_ptr<std::mutex> LockRegistry::acquire(std::uintptr_t key) {
  std::lock_guard<std::mutex> guard(mutex_);
  Entry& e = entries_[key];
  if (!e.lock) e.lock = std::make_shared<std::mutex>();
  ++e.holders;
  return e.lock;
}

void LockRegistry::release(std::uintptr_t key) {
  std::lock_guard<std::mutex> guard(mutex_);
  const auto it = entries_.find(key);
  if (it != entries_.end() && --it->second.holders == 0) entries_.erase(it);
}

ParameterLocks::ParameterLocks(std::vector<std::uintptr_t> keys) : keys_(std::move(keys)) {
  std::sort(keys_.begin(), keys_.end());
  keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
  locks_.reserve(keys_.size());
  for (std::uintptr_t key : keys_) locks_.push_back(LockRegistry::instance().acquire(key));
}

ParameterLocks::~ParameterLocks() {
  for (std::uintptr_t key : keys_) LockRegistry::instance().release(key);
}

void ParameterLocks::lock_all() {
  for (auto& lock : locks_) lock->lock();
}

void ParameterLocks::unlock_all() {
  for (auto it = locks_.rbegin(); it != locks_.rend(); ++it) (*it)->unlock();
}

}  // namespace rmsprop::core

#include "serving/shadow_pool.h"

namespace falaj::serving {

ShadowPool::ShadowPool(int workers, size_t capacity)
    : capacity_(capacity), pool_(workers, "shadow predictions") {}

bool ShadowPool::TrySubmit(std::function<void()> task) {
  size_t pending = pending_.load(std::memory_order_relaxed);
  do {
    if (pending >= capacity_) return false;
  } while (!pending_.compare_exchange_weak(pending, pending + 1, std::memory_order_relaxed));
  pool_.Submit([this, task = std::move(task)] {
    task();
    pending_.fetch_sub(1, std::memory_order_relaxed);
  });
  return true;
}

}  // namespace falaj::serving

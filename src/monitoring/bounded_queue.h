// A bounded multi-producer, multi-consumer queue that never blocks: TryPush fails when the queue
// is full and TryPop when it is empty. Lock-free (Vyukov's bounded MPMC ring: a sequence number
// per slot, producers and consumers each claim a position with one compare-and-swap), so
// producers on the serving path never wait on the consumer or on each other's critical sections.
//
// Thread-safety: TryPush and TryPop may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <utility>

namespace falaj::monitoring {

template <typename T>
class BoundedQueue {
 public:
  // The capacity is rounded up to a power of two (at least 2).
  explicit BoundedQueue(size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity) - 1),
        slots_(std::make_unique<Slot[]>(mask_ + 1)) {
    for (size_t i = 0; i <= mask_; ++i) slots_[i].sequence.store(i, std::memory_order_relaxed);
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Moves `value` in and returns true, or returns false (leaving `value` intact) when full.
  bool TryPush(T& value) noexcept {
    size_t position = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[position & mask_];
      const size_t sequence = slot.sequence.load(std::memory_order_acquire);
      const auto difference = static_cast<std::ptrdiff_t>(sequence - position);
      if (difference == 0) {
        if (tail_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          slot.value = std::move(value);
          slot.sequence.store(position + 1, std::memory_order_release);
          return true;
        }
      } else if (difference < 0) {
        return false;
      } else {
        position = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  std::optional<T> TryPop() noexcept {
    size_t position = head_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[position & mask_];
      const size_t sequence = slot.sequence.load(std::memory_order_acquire);
      const auto difference = static_cast<std::ptrdiff_t>(sequence - (position + 1));
      if (difference == 0) {
        if (head_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          std::optional<T> value(std::move(slot.value));
          slot.value = T();
          slot.sequence.store(position + mask_ + 1, std::memory_order_release);
          return value;
        }
      } else if (difference < 0) {
        return std::nullopt;
      } else {
        position = head_.load(std::memory_order_relaxed);
      }
    }
  }

 private:
  struct Slot {
    std::atomic<size_t> sequence;
    T value;
  };
  const size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  // Apart, so producers and the consumer do not share a cache line.
  alignas(64) std::atomic<size_t> tail_{0};
  alignas(64) std::atomic<size_t> head_{0};
};

}  // namespace falaj::monitoring

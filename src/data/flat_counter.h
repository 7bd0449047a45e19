// Internal to the data module: counts occurrences of keys in a flat open-addressing table
// (linear probing, key and count side by side, doubling at half load). Used for exact top-k
// value counts in profiles and for the unique check, where std::unordered_map's node per key was
// the bottleneck. Keys are plain values (integers, string_views into buffers that outlive the
// counter). Not thread-safe: one counter per scan.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace falaj::data {

// A string key carrying its hash: probing compares hashes first, so a collision costs no visit to
// the string's bytes (a cache miss into the column's buffer), and the hash is computed once.
struct HashedView {
  std::string_view text{};
  uint64_t hash = 0;
  bool operator==(const HashedView& other) const {
    return hash == other.hash && text == other.text;
  }
  bool operator<(const HashedView& other) const { return text < other.text; }
};

inline uint64_t HashOf(HashedView view) { return view.hash; }

template <typename Key, uint64_t (*Hash)(Key)>
class FlatCounter {
 public:
  // Sized so that `expected_distinct` keys fit without growing.
  explicit FlatCounter(size_t expected_distinct = 512) {
    slots_.resize(std::bit_ceil(std::max<size_t>(expected_distinct, 8) * 2));
  }

  // Counts one more occurrence of `key`; returns its count including this one.
  int64_t Add(Key key) {
    size_t mask = slots_.size() - 1;
    for (size_t i = Hash(key) & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.count == 0) {
        slot.key = key;
        slot.count = 1;
        if (++size_ * 2 > slots_.size()) Grow();
        return 1;
      }
      if (slot.key == key) return ++slot.count;
    }
  }

  size_t size() const { return size_; }

  // Starts loading the slot where `key` probing begins.
  void Prefetch(Key key) const { __builtin_prefetch(&slots_[Hash(key) & (slots_.size() - 1)]); }

  // Calls fn(key, count) for every key counted, in no particular order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& slot : slots_) {
      if (slot.count != 0) fn(slot.key, slot.count);
    }
  }

 private:
  struct Slot {
    Key key{};
    int64_t count = 0;  // 0: empty
  };

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.count == 0) continue;
      size_t i = Hash(slot.key) & mask;
      while (slots_[i].count != 0) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

// Feeds keys to a FlatCounter through a short FIFO: each key's slot is prefetched when the key
// arrives and counted kDepth keys later, so the cache miss of a table much larger than the cache
// overlaps with work on the following keys. `done(key, tag, count)` runs in arrival order.
template <typename Counter, typename Key, typename Tag, size_t kDepth = 16>
class PrefetchingAdder {
 public:
  explicit PrefetchingAdder(Counter& counter) : counter_(counter) {}

  template <typename Done>
  void Add(Key key, Tag tag, Done&& done) {
    counter_.Prefetch(key);
    if (pending_ == kDepth) {
      Entry& oldest = ring_[next_];
      done(oldest.key, oldest.tag, counter_.Add(oldest.key));
      oldest = {key, tag};
      next_ = (next_ + 1) % kDepth;
      return;
    }
    ring_[(next_ + pending_) % kDepth] = {key, tag};
    ++pending_;
  }

  // Counts the keys still waiting; call once after the last Add.
  template <typename Done>
  void Flush(Done&& done) {
    for (; pending_ > 0; --pending_, next_ = (next_ + 1) % kDepth) {
      done(ring_[next_].key, ring_[next_].tag, counter_.Add(ring_[next_].key));
    }
  }

 private:
  struct Entry {
    Key key{};
    Tag tag{};
  };
  Counter& counter_;
  std::array<Entry, kDepth> ring_{};
  size_t next_ = 0;
  size_t pending_ = 0;
};

}  // namespace falaj::data

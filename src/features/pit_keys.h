// Internal to the point-in-time join (point_in_time_join.cc): join keys as dense ids. The entity
// table's key columns are flattened, and KeyIds numbers their distinct values 0..size()-1, either
// as the value minus the minimum (one integer key of dense range) or through one hash per row;
// feature rows then look their keys up straight from the Arrow chunks. The lookups are inline
// here because the join makes one per feature row.
//
// Thread-safety: a built KeyIds is immutable, and Find may be called from any number of threads.
#pragma once

#include <arrow/array.h>
#include <arrow/chunked_array.h>
#include <arrow/type.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string_view>
#include <vector>

namespace falaj::features::pit {

// The id of a key that no entity row has (or a null one).
constexpr uint32_t kNoKey = std::numeric_limits<uint32_t>::max();

inline bool IsStringKey(const arrow::DataType& type) {
  return type.id() == arrow::Type::STRING || type.id() == arrow::Type::LARGE_STRING;
}
inline bool IsIntKey(const arrow::DataType& type) {
  return type.id() == arrow::Type::INT32 || type.id() == arrow::Type::INT64;
}

inline int64_t IntAt(const arrow::Array& array, int64_t i) {
  return array.type_id() == arrow::Type::INT32
             ? static_cast<const arrow::Int32Array&>(array).Value(i)
             : static_cast<const arrow::Int64Array&>(array).Value(i);
}
inline std::string_view StrAt(const arrow::Array& array, int64_t i) {
  return array.type_id() == arrow::Type::STRING
             ? static_cast<const arrow::StringArray&>(array).GetView(i)
             : static_cast<const arrow::LargeStringArray&>(array).GetView(i);
}

// The entity table's key columns, one value per row: integers widened to int64, strings as views
// into the table's buffers (the caller holds the table for the whole join).
struct KeyColumn {
  bool is_string = false;
  std::vector<int64_t> ints;
  std::vector<std::string_view> strings;
};

// Flattens a key column (int32, int64, utf8 or large_utf8; the planner checked); null keys clear
// their row in `valid`.
KeyColumn FlattenKey(const arrow::ChunkedArray& column, std::vector<uint8_t>* valid);

// Row `row` of flattened key columns, as KeyIds reads it.
struct FlatKey {
  const std::vector<KeyColumn>* columns = nullptr;
  size_t row = 0;
  int64_t Int(size_t c) const { return (*columns)[c].ints[row]; }
  std::string_view Str(size_t c) const { return (*columns)[c].strings[row]; }
};

// Index `i` of a run of key chunks (one chunk per key column, the run starting at index local[c]
// of chunk c), as KeyIds reads it.
struct ChunkKey {
  const std::vector<const arrow::Array*>* arrays = nullptr;
  const std::vector<int64_t>* local = nullptr;
  int64_t i = 0;
  int64_t Int(size_t c) const { return IntAt(*(*arrays)[c], (*local)[c] + i); }
  std::string_view Str(size_t c) const { return StrAt(*(*arrays)[c], (*local)[c] + i); }
};

inline uint64_t Mix(uint64_t x) {  // splitmix64's finaliser: spreads integer keys over the table
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Dense ids 0..size()-1 for the distinct non-null entity keys. Feature rows look their key up and
// get kNoKey when no entity row has it.
class KeyIds {
 public:
  // Assigns ids to the entity rows with `valid` set; others get kNoKey. `keys` must outlive this.
  KeyIds(const std::vector<KeyColumn>& keys, const std::vector<uint8_t>& valid,
         std::vector<uint32_t>* ids);

  uint32_t size() const { return size_; }

  // The id of a key shaped like the entity keys (FlatKey or ChunkKey), or kNoKey.
  template <typename Key>
  uint32_t Find(const Key& key) const {
    if (direct_) {
      const uint64_t offset = static_cast<uint64_t>(key.Int(0)) - static_cast<uint64_t>(min_);
      return offset < present_.size() && present_[offset] ? static_cast<uint32_t>(offset) : kNoKey;
    }
    const uint64_t hash = Hash(key);
    for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      const Slot& s = slots_[slot];
      if (s.id_plus_one == 0) return kNoKey;
      if (s.hash == hash && Equal(key, first_row_[s.id_plus_one - 1])) return s.id_plus_one - 1;
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t id_plus_one = 0;  // 0: empty
  };

  // A single integer key whose range is at most a few times the row count needs no hashing: the
  // id is the value minus the minimum.
  bool TryDirect(const std::vector<uint8_t>& valid, std::vector<uint32_t>* ids);

  uint32_t Insert(size_t row);

  template <typename Key>
  uint64_t Hash(const Key& key) const {
    uint64_t hash = 0x9e3779b97f4a7c15ULL;
    for (size_t c = 0; c < keys_->size(); ++c) {
      hash = Mix(hash ^ ((*keys_)[c].is_string ? std::hash<std::string_view>{}(key.Str(c))
                                               : static_cast<uint64_t>(key.Int(c))));
    }
    return hash;
  }

  template <typename Key>
  bool Equal(const Key& key, size_t entity_row) const {
    for (size_t c = 0; c < keys_->size(); ++c) {
      const KeyColumn& ours = (*keys_)[c];
      if (ours.is_string ? ours.strings[entity_row] != key.Str(c)
                         : ours.ints[entity_row] != key.Int(c)) {
        return false;
      }
    }
    return true;
  }

  const std::vector<KeyColumn>* keys_ = nullptr;
  bool direct_ = false;
  int64_t min_ = 0;
  std::vector<uint8_t> present_;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::vector<size_t> first_row_;  // the entity row that introduced each id
  uint32_t size_ = 0;
};

}  // namespace falaj::features::pit

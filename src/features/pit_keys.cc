#include "features/pit_keys.h"

#include <algorithm>

namespace falaj::features::pit {

KeyColumn FlattenKey(const arrow::ChunkedArray& column, std::vector<uint8_t>* valid) {
  KeyColumn key;
  key.is_string = IsStringKey(*column.type());
  (key.is_string ? key.strings.resize(column.length()) : key.ints.resize(column.length()));
  int64_t row = 0;
  for (const auto& chunk : column.chunks()) {
    for (int64_t i = 0; i < chunk->length(); ++i, ++row) {
      if (chunk->IsNull(i)) {
        (*valid)[row] = 0;
      } else if (key.is_string) {
        key.strings[row] = StrAt(*chunk, i);
      } else {
        key.ints[row] = IntAt(*chunk, i);
      }
    }
  }
  return key;
}

KeyIds::KeyIds(const std::vector<KeyColumn>& keys, const std::vector<uint8_t>& valid,
               std::vector<uint32_t>* ids)
    : keys_(&keys) {
  ids->assign(valid.size(), kNoKey);
  if (TryDirect(valid, ids)) return;
  size_t capacity = 16;
  while (capacity < 2 * valid.size()) capacity *= 2;
  slots_.resize(capacity);
  mask_ = capacity - 1;
  for (size_t row = 0; row < valid.size(); ++row) {
    if (valid[row]) (*ids)[row] = Insert(row);
  }
}

bool KeyIds::TryDirect(const std::vector<uint8_t>& valid, std::vector<uint32_t>* ids) {
  if (keys_->size() != 1 || (*keys_)[0].is_string) return false;
  const std::vector<int64_t>& values = (*keys_)[0].ints;
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  for (size_t row = 0; row < valid.size(); ++row) {
    if (!valid[row]) continue;
    lo = std::min(lo, values[row]);
    hi = std::max(hi, values[row]);
  }
  direct_ = true;  // also when no row is valid: zero ids, every lookup finds kNoKey
  if (lo > hi) return true;
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (range == 0 || range > std::max<uint64_t>(4096, 2 * valid.size())) {
    direct_ = false;
    return false;
  }
  min_ = lo;
  present_.assign(range, 0);
  for (size_t row = 0; row < valid.size(); ++row) {
    if (!valid[row]) continue;
    const uint64_t offset = static_cast<uint64_t>(values[row]) - static_cast<uint64_t>(lo);
    present_[offset] = 1;
    (*ids)[row] = static_cast<uint32_t>(offset);
  }
  size_ = static_cast<uint32_t>(range);
  return true;
}

uint32_t KeyIds::Insert(size_t row) {
  const FlatKey key{keys_, row};
  const uint64_t hash = Hash(key);
  for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
    Slot& s = slots_[slot];
    if (s.id_plus_one == 0) {
      first_row_.push_back(row);
      s = Slot{hash, ++size_};
      return size_ - 1;
    }
    if (s.hash == hash && Equal(key, first_row_[s.id_plus_one - 1])) return s.id_plus_one - 1;
  }
}

}  // namespace falaj::features::pit

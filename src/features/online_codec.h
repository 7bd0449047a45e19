// The byte layout of the online store. A key names one entity of one feature view:
//   "fv1" | u16 project length | project | u16 view length | view | key values
// where each join-key value is a tag byte ('i' int64 big-endian, 's' u32 length + bytes), so
// every (project, view) is a key prefix (dropping a view or erasing a project is a prefix delete)
// and no two entities share a key. A value holds the row materialised for that entity:
//   u8 format (1) | u64 layout hash | i64 event µs | i64 created µs | per feature:
//   u8 present | int64/float64/timestamp: 8 bytes, bool: 1 byte, string: u32 length + bytes
// The layout hash covers the view's feature names and types, so a value written under another
// definition of the view is never misread: it reads as missing until materialised again.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "features/feature_definitions.h"

namespace falaj::features {

// One join-key value or one feature value (timestamps as int64 µs).
using OnlineValue = std::variant<std::monostate, int64_t, double, bool, std::string>;

std::string OnlineKeyPrefix(std::string_view project, std::string_view view);
// Appends one join-key value (int64 or string) to a key under construction.
void AppendKeyValue(std::string& key, const OnlineValue& value);

uint64_t LayoutHash(std::span<const FeatureField> features);

struct OnlineRow {
  int64_t event_micros = 0;
  int64_t created_micros = 0;
  std::vector<OnlineValue> values;  // one per feature of the view, in view order
};

std::string EncodeOnlineRow(uint64_t layout, const OnlineRow& row,
                            std::span<const FeatureField> features);
// nullopt when the bytes are not a row of this layout (another definition, or damage).
std::optional<OnlineRow> DecodeOnlineRow(std::string_view bytes, uint64_t layout,
                                         std::span<const FeatureField> features);
// Only the timestamps, for write-if-newer comparisons; nullopt for another layout, whose row any
// write replaces.
std::optional<std::pair<int64_t, int64_t>> DecodeOnlineTimes(std::string_view bytes,
                                                             uint64_t layout);

}  // namespace falaj::features

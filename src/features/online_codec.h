// The byte layout of the online store. A key names one entity of one feature view:
//   "fv1" | u16 project length | project | u16 view length | view | key values
// where each join-key value is a tag byte ('i' int64 big-endian, 's' u32 length + bytes), so
// every (project, view) is a key prefix (dropping a view or erasing a project is a prefix delete)
// and no two entities share a key. A value holds the row materialised for that entity:
//   u8 format (1) | u64 layout hash | i64 event µs | i64 created µs | per feature:
//   u8 present | int64/float64/timestamp: 8 bytes, bool: 1 byte, string: u32 length + bytes
// The layout hash covers the view's feature names and types, so a value written under another
// definition of the view is never misread: it reads as missing until materialised again.
//
// Encoding appends to a caller's buffer and decoding writes into caller-owned cells, so a hot
// loop over many rows allocates nothing per value. Pure functions; thread-safe.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "features/feature_definitions.h"

namespace falaj::features {

// One join-key value as a request or an erasure names it (ints or strings).
using OnlineValue = std::variant<std::monostate, int64_t, double, bool, std::string>;

// A join-key value as it arrived in a request, not owned: an integer or a string.
struct EntityKey {
  int64_t integer = 0;
  std::string_view text;
  bool is_text = false;
};

std::string OnlineKeyPrefix(std::string_view project, std::string_view view);
// Appends one join-key value to a key under construction, coerced to the key column's type: "42"
// names an int64 key only as 42 and 42 a string key only as "42", so the encodings agree with
// materialised rows. Text that is not an integer stays text for an int64 key (and finds nothing).
void AppendKey(std::string& key, const EntityKey& value, data::ColumnType type);
void AppendIntKey(std::string& key, int64_t value);
void AppendTextKey(std::string& key, std::string_view value);

uint64_t LayoutHash(std::span<const FeatureField> features);

// Row encoding, in order: the header, then exactly one Append* per feature of the view.
void AppendRowHeader(std::string& out, uint64_t layout, int64_t event_micros,
                     int64_t created_micros);
void AppendMissing(std::string& out);
// A present 8-byte value; inline because materialisation calls it once per cell. The value is
// copied whole from its own 8 bytes: assembling flag and value in one 9-byte buffer made the
// copy's load straddle two stores, which the CPU cannot forward (a stall per cell).
inline void AppendPresent64(std::string& out, uint64_t value) {
  if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap64(value);
  out.push_back(1);
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
// int64, and timestamps as µs
inline void AppendInt64(std::string& out, int64_t value) {
  AppendPresent64(out, static_cast<uint64_t>(value));
}
inline void AppendFloat64(std::string& out, double value) {
  AppendPresent64(out, std::bit_cast<uint64_t>(value));
}
void AppendBool(std::string& out, bool value);
void AppendString(std::string& out, std::string_view value);

// One selected feature of one entity as decoded. `text` points into the stored bytes.
struct FeatureCell {
  bool present = false;
  int64_t integer = 0;  // int64, and timestamps as µs
  double real = 0;
  bool flag = false;
  std::string_view text;
};

// Decodes the event time and the features a read selected: `slots[f]` is the cell of `out` that
// feature f of the view fills, or -1 to skip it. false when the bytes are not a row of this
// layout (another definition, or damage); `out` is then unspecified.
bool DecodeOnlineSelected(std::string_view bytes, uint64_t layout,
                          std::span<const FeatureField> features, std::span<const int32_t> slots,
                          int64_t& event_micros, std::span<FeatureCell> out);
// Only the timestamps, for write-if-newer comparisons; nullopt for another layout, whose row any
// write replaces.
std::optional<std::pair<int64_t, int64_t>> DecodeOnlineTimes(std::string_view bytes,
                                                             uint64_t layout);

}  // namespace falaj::features

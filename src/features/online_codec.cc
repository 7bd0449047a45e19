#include "features/online_codec.h"

#include <bit>
#include <charconv>
#include <cstring>

namespace falaj::features {
namespace {

constexpr uint8_t kFormat = 1;
constexpr size_t kHeaderBytes = 1 + 8 + 8 + 8;

void PutU64(std::string& out, uint64_t value) {
  if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap64(value);
  char bytes[8];
  std::memcpy(bytes, &value, sizeof bytes);
  out.append(bytes, sizeof bytes);
}

void PutU32(std::string& out, uint32_t value) {
  if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap32(value);
  char bytes[4];
  std::memcpy(bytes, &value, sizeof bytes);
  out.append(bytes, sizeof bytes);
}

void PutU16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

// Bounds-checked big-endian reads over a value's bytes.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : at_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  bool U64(uint64_t& value) {
    if (end_ - at_ < 8) return false;
    std::memcpy(&value, at_, 8);
    if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap64(value);
    at_ += 8;
    return true;
  }
  bool U32(uint32_t& value) {
    if (end_ - at_ < 4) return false;
    std::memcpy(&value, at_, 4);
    if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap32(value);
    at_ += 4;
    return true;
  }
  bool U8(uint8_t& value) {
    if (at_ == end_) return false;
    value = static_cast<uint8_t>(*at_++);
    return true;
  }
  bool Skip(size_t size) {
    if (static_cast<size_t>(end_ - at_) < size) return false;
    at_ += size;
    return true;
  }
  bool Bytes(size_t size, std::string_view& out) {
    if (static_cast<size_t>(end_ - at_) < size) return false;
    out = {at_, size};
    at_ += size;
    return true;
  }
  bool done() const { return at_ == end_; }

 private:
  const char* at_;
  const char* end_;
};

// The header: true when the bytes hold a row of `layout`, with its times.
bool ReadHeader(Reader& reader, uint64_t layout, uint64_t& event, uint64_t& created) {
  uint8_t format = 0;
  uint64_t stored_layout = 0;
  return reader.U8(format) && format == kFormat && reader.U64(stored_layout) &&
         stored_layout == layout && reader.U64(event) && reader.U64(created);
}

// Decodes one present value of `type` into `cell`, or skips it when `cell` is null.
bool ReadValue(Reader& reader, data::ColumnType type, FeatureCell* cell) {
  uint64_t bits = 0;
  switch (type) {
    case data::ColumnType::kInt64:
    case data::ColumnType::kTimestamp:
      if (!cell) return reader.Skip(8);
      if (!reader.U64(bits)) return false;
      cell->integer = static_cast<int64_t>(bits);
      return true;
    case data::ColumnType::kFloat64:
      if (!cell) return reader.Skip(8);
      if (!reader.U64(bits)) return false;
      cell->real = std::bit_cast<double>(bits);
      return true;
    case data::ColumnType::kBool: {
      uint8_t flag = 0;
      if (!reader.U8(flag)) return false;
      if (cell) cell->flag = flag != 0;
      return true;
    }
    case data::ColumnType::kString: {
      uint32_t size = 0;
      std::string_view text;
      if (!reader.U32(size) || !reader.Bytes(size, text)) return false;
      if (cell) cell->text = text;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string OnlineKeyPrefix(std::string_view project, std::string_view view) {
  std::string prefix = "fv1";
  PutU16(prefix, static_cast<uint16_t>(project.size()));
  prefix.append(project);
  PutU16(prefix, static_cast<uint16_t>(view.size()));
  prefix.append(view);
  return prefix;
}

void AppendIntKey(std::string& key, int64_t value) {
  key.push_back('i');
  PutU64(key, static_cast<uint64_t>(value));
}

void AppendTextKey(std::string& key, std::string_view value) {
  key.push_back('s');
  PutU32(key, static_cast<uint32_t>(value.size()));
  key.append(value);
}

void AppendKey(std::string& key, const EntityKey& value, data::ColumnType type) {
  if (type == data::ColumnType::kString) {
    if (value.is_text) return AppendTextKey(key, value.text);
    char digits[24];
    auto [end, error] = std::to_chars(digits, digits + sizeof digits, value.integer);
    return AppendTextKey(key, {digits, static_cast<size_t>(end - digits)});
  }
  if (!value.is_text) return AppendIntKey(key, value.integer);
  int64_t parsed = 0;
  const char* last = value.text.data() + value.text.size();
  auto [end, error] = std::from_chars(value.text.data(), last, parsed);
  if (error == std::errc() && end == last) return AppendIntKey(key, parsed);
  AppendTextKey(key, value.text);
}

uint64_t LayoutHash(std::span<const FeatureField> features) {
  // FNV-1a over "name:type;" for each feature: stable across builds and platforms.
  uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](std::string_view text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
  };
  for (const auto& feature : features) {
    mix(feature.name);
    mix(":");
    mix(data::ColumnTypeName(feature.type));
    mix(";");
  }
  return hash;
}

void AppendRowHeader(std::string& out, uint64_t layout, int64_t event_micros,
                     int64_t created_micros) {
  out.push_back(static_cast<char>(kFormat));
  PutU64(out, layout);
  PutU64(out, static_cast<uint64_t>(event_micros));
  PutU64(out, static_cast<uint64_t>(created_micros));
}

void AppendMissing(std::string& out) { out.push_back(0); }

void AppendBool(std::string& out, bool value) {
  out.push_back(1);
  out.push_back(value ? 1 : 0);
}

void AppendString(std::string& out, std::string_view value) {
  out.push_back(1);
  PutU32(out, static_cast<uint32_t>(value.size()));
  out.append(value);
}

std::optional<std::pair<int64_t, int64_t>> DecodeOnlineTimes(std::string_view bytes,
                                                             uint64_t layout) {
  Reader reader(bytes);
  uint64_t event = 0, created = 0;
  if (bytes.size() < kHeaderBytes || !ReadHeader(reader, layout, event, created)) {
    return std::nullopt;
  }
  return std::make_pair(static_cast<int64_t>(event), static_cast<int64_t>(created));
}

bool DecodeOnlineSelected(std::string_view bytes, uint64_t layout,
                          std::span<const FeatureField> features, std::span<const int32_t> slots,
                          int64_t& event_micros, std::span<FeatureCell> out) {
  Reader reader(bytes);
  uint64_t event = 0, created = 0;
  if (!ReadHeader(reader, layout, event, created)) return false;
  event_micros = static_cast<int64_t>(event);
  for (size_t f = 0; f < features.size(); ++f) {
    FeatureCell* cell = slots[f] >= 0 ? &out[static_cast<size_t>(slots[f])] : nullptr;
    uint8_t present = 0;
    if (!reader.U8(present)) return false;
    if (cell) cell->present = present != 0;
    if (present && !ReadValue(reader, features[f].type, cell)) return false;
  }
  return reader.done();
}

}  // namespace falaj::features

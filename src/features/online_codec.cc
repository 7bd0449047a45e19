#include "features/online_codec.h"

#include <cstring>

namespace falaj::features {
namespace {

constexpr uint8_t kFormat = 1;
constexpr size_t kHeaderBytes = 1 + 8 + 8 + 8;

void PutU64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

void PutU32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

void PutU16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool U64(uint64_t& value) {
    if (bytes_.size() < 8) return false;
    value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes_[i]);
    bytes_.remove_prefix(8);
    return true;
  }
  bool U32(uint32_t& value) {
    if (bytes_.size() < 4) return false;
    value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes_[i]);
    bytes_.remove_prefix(4);
    return true;
  }
  bool U8(uint8_t& value) {
    if (bytes_.empty()) return false;
    value = static_cast<uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return true;
  }
  bool Bytes(size_t size, std::string& out) {
    if (bytes_.size() < size) return false;
    out.assign(bytes_.data(), size);
    bytes_.remove_prefix(size);
    return true;
  }
  bool done() const { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

}  // namespace

std::string OnlineKeyPrefix(std::string_view project, std::string_view view) {
  std::string prefix = "fv1";
  PutU16(prefix, static_cast<uint16_t>(project.size()));
  prefix.append(project);
  PutU16(prefix, static_cast<uint16_t>(view.size()));
  prefix.append(view);
  return prefix;
}

void AppendKeyValue(std::string& key, const OnlineValue& value) {
  if (const auto* integer = std::get_if<int64_t>(&value)) {
    key.push_back('i');
    PutU64(key, static_cast<uint64_t>(*integer));
  } else if (const auto* text = std::get_if<std::string>(&value)) {
    key.push_back('s');
    PutU32(key, static_cast<uint32_t>(text->size()));
    key.append(*text);
  } else {
    key.push_back('n');
  }
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

std::string EncodeOnlineRow(uint64_t layout, const OnlineRow& row,
                            std::span<const FeatureField> features) {
  std::string out;
  out.reserve(kHeaderBytes + features.size() * 9);
  out.push_back(static_cast<char>(kFormat));
  PutU64(out, layout);
  PutU64(out, static_cast<uint64_t>(row.event_micros));
  PutU64(out, static_cast<uint64_t>(row.created_micros));
  for (size_t i = 0; i < features.size(); ++i) {
    const OnlineValue& value = i < row.values.size() ? row.values[i] : OnlineValue{};
    if (std::holds_alternative<std::monostate>(value)) {
      out.push_back(0);
      continue;
    }
    out.push_back(1);
    switch (features[i].type) {
      case data::ColumnType::kInt64:
      case data::ColumnType::kTimestamp:
        PutU64(out, static_cast<uint64_t>(std::get<int64_t>(value)));
        break;
      case data::ColumnType::kFloat64: {
        uint64_t bits = 0;
        double real = std::get<double>(value);
        std::memcpy(&bits, &real, sizeof bits);
        PutU64(out, bits);
        break;
      }
      case data::ColumnType::kBool:
        out.push_back(std::get<bool>(value) ? 1 : 0);
        break;
      case data::ColumnType::kString: {
        const auto& text = std::get<std::string>(value);
        PutU32(out, static_cast<uint32_t>(text.size()));
        out.append(text);
        break;
      }
    }
  }
  return out;
}

std::optional<std::pair<int64_t, int64_t>> DecodeOnlineTimes(std::string_view bytes,
                                                             uint64_t layout) {
  Reader reader(bytes);
  uint8_t format = 0;
  uint64_t stored_layout = 0, event = 0, created = 0;
  if (!reader.U8(format) || format != kFormat || !reader.U64(stored_layout) ||
      stored_layout != layout || !reader.U64(event) || !reader.U64(created)) {
    return std::nullopt;
  }
  return std::make_pair(static_cast<int64_t>(event), static_cast<int64_t>(created));
}

std::optional<OnlineRow> DecodeOnlineRow(std::string_view bytes, uint64_t layout,
                                         std::span<const FeatureField> features) {
  Reader reader(bytes);
  uint8_t format = 0;
  uint64_t stored_layout = 0, event = 0, created = 0;
  if (!reader.U8(format) || format != kFormat || !reader.U64(stored_layout) ||
      stored_layout != layout || !reader.U64(event) || !reader.U64(created)) {
    return std::nullopt;
  }
  OnlineRow row{static_cast<int64_t>(event), static_cast<int64_t>(created), {}};
  row.values.reserve(features.size());
  for (const auto& feature : features) {
    uint8_t present = 0;
    if (!reader.U8(present)) return std::nullopt;
    if (!present) {
      row.values.emplace_back();
      continue;
    }
    uint64_t bits = 0;
    switch (feature.type) {
      case data::ColumnType::kInt64:
      case data::ColumnType::kTimestamp:
        if (!reader.U64(bits)) return std::nullopt;
        row.values.emplace_back(static_cast<int64_t>(bits));
        break;
      case data::ColumnType::kFloat64: {
        if (!reader.U64(bits)) return std::nullopt;
        double real = 0;
        std::memcpy(&real, &bits, sizeof real);
        row.values.emplace_back(real);
        break;
      }
      case data::ColumnType::kBool: {
        uint8_t flag = 0;
        if (!reader.U8(flag)) return std::nullopt;
        row.values.emplace_back(flag != 0);
        break;
      }
      case data::ColumnType::kString: {
        uint32_t size = 0;
        std::string text;
        if (!reader.U32(size) || !reader.Bytes(size, text)) return std::nullopt;
        row.values.emplace_back(std::move(text));
        break;
      }
    }
  }
  if (!reader.done()) return std::nullopt;
  return row;
}

}  // namespace falaj::features

#include "monitoring/segment_format.h"

#include <nmmintrin.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace falaj::monitoring {
namespace {

constexpr uint8_t kRecordVersion = 1;
// A feature-name count meaning "the previous record's names": a chunk usually holds one model's
// records, and repeating its names would double what a small record costs to seal and write.
constexpr uint32_t kSameFeatureNames = 0xFFFFFFFFu;

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
    table[i] = crc;
  }
  return table;
}

void PutU32(std::string& out, uint32_t value) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out.append(bytes, 4);
}

void PutU64(std::string& out, uint64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out.append(bytes, 8);
}

void PutString(std::string& out, std::string_view text) {
  PutU32(out, static_cast<uint32_t>(text.size()));
  out.append(text);
}

void PutStrings(std::string& out, const std::vector<std::string>& texts) {
  PutU32(out, static_cast<uint32_t>(texts.size()));
  for (const auto& text : texts) PutString(out, text);
}

// Floats are stored as their little-endian IEEE bits (every platform we build for).
void PutFloats(std::string& out, const std::vector<float>& values) {
  PutU32(out, static_cast<uint32_t>(values.size()));
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

uint32_t ReadU32(const char* bytes) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  return value;
}

// Reads a payload front to back; every read checks the remaining length, so a malformed payload
// fails instead of reading past it.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view bytes) : bytes_(bytes) {}

  bool U32(uint32_t& value) {
    if (bytes_.size() < 4) return false;
    value = ReadU32(bytes_.data());
    bytes_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t& value) {
    uint32_t low = 0;
    uint32_t high = 0;
    if (!U32(low) || !U32(high)) return false;
    value = (static_cast<uint64_t>(high) << 32) | low;
    return true;
  }
  bool I64(int64_t& value) {
    uint64_t raw = 0;
    if (!U64(raw)) return false;
    value = static_cast<int64_t>(raw);
    return true;
  }
  bool String(std::string& text) {
    uint32_t size = 0;
    if (!U32(size) || bytes_.size() < size) return false;
    text.assign(bytes_.substr(0, size));
    bytes_.remove_prefix(size);
    return true;
  }
  bool Strings(std::vector<std::string>& texts) {
    uint32_t count = 0;
    if (!U32(count) || bytes_.size() / 4 < count) return false;
    texts.resize(count);
    for (auto& text : texts) {
      if (!String(text)) return false;
    }
    return true;
  }
  bool FeatureNames(std::vector<std::string>& names, const serving::PredictionRecord* previous) {
    if (bytes_.size() >= 4 && ReadU32(bytes_.data()) == kSameFeatureNames) {
      if (previous == nullptr) return false;
      bytes_.remove_prefix(4);
      names = previous->feature_names;
      return true;
    }
    return Strings(names);
  }
  bool Floats(std::vector<float>& values) {
    uint32_t count = 0;
    if (!U32(count) || bytes_.size() / sizeof(float) < count) return false;
    values.resize(count);
    std::memcpy(values.data(), bytes_.data(), count * sizeof(float));
    bytes_.remove_prefix(count * sizeof(float));
    return true;
  }
  bool Byte(uint8_t& value) {
    if (bytes_.empty()) return false;
    value = static_cast<uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return true;
  }
  bool AtEnd() const { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

// The SSE4.2 crc32 instruction computes CRC-32C eight bytes at a time: the writer checksums every
// logged byte, so the table walk showed in profiles of 100 % logging.
__attribute__((target("sse4.2"))) uint32_t HardwareCrc32c(std::string_view bytes) {
  uint64_t crc = 0xFFFFFFFFu;
  const char* at = bytes.data();
  const char* end = at + bytes.size();
  for (; end - at >= 8; at += 8) {
    uint64_t word;
    std::memcpy(&word, at, 8);
    crc = _mm_crc32_u64(crc, word);
  }
  auto narrow = static_cast<uint32_t>(crc);
  for (; at < end; ++at) narrow = _mm_crc32_u8(narrow, static_cast<uint8_t>(*at));
  return narrow ^ 0xFFFFFFFFu;
}

uint32_t TableCrc32c(std::string_view bytes) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  uint32_t crc = 0xFFFFFFFFu;
  for (char c : bytes) crc = (crc >> 8) ^ kTable[(crc ^ static_cast<uint8_t>(c)) & 0xFF];
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace

uint32_t Crc32c(std::string_view bytes) {
  static const bool kHardware = __builtin_cpu_supports("sse4.2");
  return kHardware ? HardwareCrc32c(bytes) : TableCrc32c(bytes);
}

namespace {

void EncodeRecordTo(std::string& out, const serving::PredictionRecord& record,
                    const serving::PredictionRecord* previous) {
  out.push_back(static_cast<char>(kRecordVersion));
  PutString(out, record.project);
  PutString(out, record.endpoint);
  PutString(out, record.model);
  PutU64(out, static_cast<uint64_t>(record.version));
  PutString(out, record.arm);
  out.push_back(record.shadow ? 1 : 0);
  PutString(out, record.request_id);
  PutString(out, record.unit_key);
  PutStrings(out, record.entity_key_names);
  PutStrings(out, record.entity_key_values);
  PutU64(out, static_cast<uint64_t>(record.timestamp_ms));
  PutU64(out, static_cast<uint64_t>(record.latency_us));
  if (previous != nullptr && previous->feature_names == record.feature_names) {
    PutU32(out, kSameFeatureNames);
  } else {
    PutStrings(out, record.feature_names);
  }
  PutU64(out, record.rows);
  PutFloats(out, record.inputs);
  PutFloats(out, record.outputs);
  PutU64(out, record.output_width);
  PutString(out, record.error);
}

}  // namespace

std::string EncodeRecord(const serving::PredictionRecord& record) {
  std::string out;
  EncodeRecordTo(out, record, nullptr);
  return out;
}

void BeginChunk(std::string& chunk) {
  chunk.clear();
  PutU32(chunk, 0);
}

void AddToChunk(std::string& chunk, const serving::PredictionRecord& record,
                const serving::PredictionRecord* previous) {
  const size_t length_at = chunk.size();
  PutU32(chunk, 0);
  EncodeRecordTo(chunk, record, previous);
  const auto length = static_cast<uint32_t>(chunk.size() - length_at - 4);
  for (int i = 0; i < 4; ++i) chunk[length_at + i] = static_cast<char>(length >> (8 * i));
}

void FinishChunk(std::string& chunk, uint32_t count) {
  for (int i = 0; i < 4; ++i) chunk[i] = static_cast<char>(count >> (8 * i));
}

Result<std::vector<serving::PredictionRecord>> DecodeChunk(std::string_view chunk) {
  if (chunk.size() < 4) return MakeError(ErrorCode::kDataLoss, "truncated prediction chunk");
  const uint32_t count = ReadU32(chunk.data());
  chunk.remove_prefix(4);
  if (count > chunk.size() / 4) {
    return MakeError(ErrorCode::kDataLoss, "prediction chunk announces {} records", count);
  }
  std::vector<serving::PredictionRecord> records;
  records.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (chunk.size() < 4 || ReadU32(chunk.data()) > chunk.size() - 4) {
      return MakeError(ErrorCode::kDataLoss, "truncated record {} of a prediction chunk", i);
    }
    const uint32_t length = ReadU32(chunk.data());
    FALAJ_ASSIGN_OR_RETURN(auto record, DecodeRecord(chunk.substr(4, length),
                                                     records.empty() ? nullptr : &records.back()));
    records.push_back(std::move(record));
    chunk.remove_prefix(4 + length);
  }
  if (!chunk.empty()) return MakeError(ErrorCode::kDataLoss, "bytes after a prediction chunk");
  return records;
}

Result<serving::PredictionRecord> DecodeRecord(std::string_view payload,
                                               const serving::PredictionRecord* previous) {
  PayloadReader in(payload);
  serving::PredictionRecord record;
  uint8_t version = 0;
  uint8_t shadow = 0;
  uint64_t version_bits = 0;
  uint64_t rows = 0;
  uint64_t width = 0;
  bool ok = in.Byte(version) && version == kRecordVersion && in.String(record.project) &&
            in.String(record.endpoint) && in.String(record.model) && in.U64(version_bits) &&
            in.String(record.arm) && in.Byte(shadow) && in.String(record.request_id) &&
            in.String(record.unit_key) && in.Strings(record.entity_key_names) &&
            in.Strings(record.entity_key_values) && in.I64(record.timestamp_ms) &&
            in.I64(record.latency_us) && in.FeatureNames(record.feature_names, previous) &&
            in.U64(rows) && in.Floats(record.inputs) && in.Floats(record.outputs) &&
            in.U64(width) && in.String(record.error) && in.AtEnd();
  if (!ok) {
    return MakeError(ErrorCode::kDataLoss, "malformed prediction record (format version {})",
                     version);
  }
  record.version = static_cast<int64_t>(version_bits);
  record.shadow = shadow != 0;
  record.rows = rows;
  record.output_width = width;
  return record;
}

void AppendFrame(std::string& out, std::string_view payload) {
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, Crc32c(payload));
  out.append(payload);
}

SegmentReader::SegmentReader(std::FILE* file, std::string path, uint64_t size)
    : file_(file), path_(std::move(path)), size_(size) {}

SegmentReader::SegmentReader(SegmentReader&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)),
      path_(std::move(other.path_)),
      size_(other.size_),
      position_(other.position_),
      end_of_intact_(other.end_of_intact_),
      damaged_(std::move(other.damaged_)) {}

SegmentReader& SegmentReader::operator=(SegmentReader&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(other.file_, nullptr);
    path_ = std::move(other.path_);
    size_ = other.size_;
    position_ = other.position_;
    end_of_intact_ = other.end_of_intact_;
    damaged_ = std::move(other.damaged_);
  }
  return *this;
}

SegmentReader::~SegmentReader() {
  if (file_ != nullptr) std::fclose(file_);
}

Result<SegmentReader> SegmentReader::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return MakeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                     "cannot open prediction log segment '{}': {}", path, std::strerror(errno));
  }
  std::fseek(file, 0, SEEK_END);
  const auto size = static_cast<uint64_t>(std::ftell(file));
  std::fseek(file, 0, SEEK_SET);
  char magic[kSegmentMagic.size()];
  if (size < kSegmentMagic.size() || std::fread(magic, 1, sizeof(magic), file) != sizeof(magic) ||
      std::string_view(magic, sizeof(magic)) != kSegmentMagic) {
    std::fclose(file);
    return MakeError(ErrorCode::kDataLoss, "'{}' is not a prediction log segment", path);
  }
  SegmentReader reader(file, path, size);
  reader.position_ = reader.end_of_intact_ = kSegmentMagic.size();
  return reader;
}

Status SegmentReader::Seek(uint64_t offset) {
  if (offset < kSegmentMagic.size() || offset >= size_ ||
      std::fseek(file_, static_cast<long>(offset), SEEK_SET) != 0) {
    return MakeError(ErrorCode::kDataLoss, "offset {} is outside segment '{}' ({} bytes)", offset,
                     path_, size_);
  }
  position_ = offset;
  return Ok();
}

Result<std::optional<SegmentReader::Frame>> SegmentReader::Next() {
  if (!damaged_.empty() || position_ >= size_) return std::optional<Frame>();
  char header[kFrameHeaderBytes];
  if (size_ - position_ < kFrameHeaderBytes ||
      std::fread(header, 1, kFrameHeaderBytes, file_) != kFrameHeaderBytes) {
    damaged_ = fmt::format("torn frame header at offset {} of '{}'", position_, path_);
    return std::optional<Frame>();
  }
  const uint32_t length = ReadU32(header);
  const uint32_t crc = ReadU32(header + 4);
  if (length > kMaxFrameBytes || size_ - position_ - kFrameHeaderBytes < length) {
    damaged_ = fmt::format("torn frame at offset {} of '{}' ({} bytes announced)", position_, path_,
                           length);
    return std::optional<Frame>();
  }
  Frame frame{position_, std::string(length, '\0')};
  if (std::fread(frame.payload.data(), 1, length, file_) != length) {
    return MakeError(ErrorCode::kInternal, "cannot read '{}': {}", path_, std::strerror(errno));
  }
  if (Crc32c(frame.payload) != crc) {
    damaged_ = fmt::format("CRC mismatch in the frame at offset {} of '{}'", position_, path_);
    return std::optional<Frame>();
  }
  position_ += kFrameHeaderBytes + length;
  end_of_intact_ = position_;
  return std::optional<Frame>(std::move(frame));
}

}  // namespace falaj::monitoring

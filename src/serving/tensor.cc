#include "serving/tensor.h"

#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

namespace falaj::serving {
namespace {

struct TypeInfo {
  DataType type;
  std::string_view name;
  size_t size;
};

constexpr std::array<TypeInfo, 13> kTypes = {{
    {DataType::kBool, "BOOL", 1},
    {DataType::kUint8, "UINT8", 1},
    {DataType::kUint16, "UINT16", 2},
    {DataType::kUint32, "UINT32", 4},
    {DataType::kUint64, "UINT64", 8},
    {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},
    {DataType::kInt32, "INT32", 4},
    {DataType::kInt64, "INT64", 8},
    {DataType::kFp16, "FP16", 2},
    {DataType::kFp32, "FP32", 4},
    {DataType::kFp64, "FP64", 8},
    {DataType::kBytes, "BYTES", 0},
}};

static_assert(std::endian::native == std::endian::little,
              "the binary tensor encodings are little-endian; add byte swapping for this target");

template <typename T>
void AppendAs(const std::byte* bytes, size_t count, std::vector<float>& out) {
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, bytes + i * sizeof(T), sizeof(T));
    out.push_back(static_cast<float>(value));
  }
}

template <typename T>
bool AppendIntegers(const std::byte* bytes, size_t count, std::vector<int64_t>& out) {
  const size_t first = out.size();
  out.resize(first + count);
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, bytes + i * sizeof(T), sizeof(T));
    if constexpr (std::is_same_v<T, uint64_t>) {
      if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        out.resize(first);
        return false;
      }
    }
    out[first + i] = static_cast<int64_t>(value);
  }
  return true;
}

}  // namespace

std::optional<DataType> ParseDataType(std::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

std::string_view DataTypeName(DataType type) { return kTypes[static_cast<size_t>(type)].name; }

size_t ElementSize(DataType type) { return kTypes[static_cast<size_t>(type)].size; }

Result<size_t> ElementCount(std::span<const int64_t> shape, size_t limit) {
  size_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) {
      return MakeError(ErrorCode::kInvalidArgument, "shape dimension {} is negative", dim);
    }
    if (dim != 0 && count > limit / static_cast<size_t>(dim)) {
      return MakeError(ErrorCode::kInvalidArgument, "shape holds more than {} elements", limit);
    }
    count *= static_cast<size_t>(dim);
  }
  return count;
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: normalise the mantissa into a normal float.
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

Status DecodeToFloat(DataType type, std::span<const std::byte> bytes, size_t count,
                     std::vector<float>& out) {
  const size_t size = ElementSize(type);
  if (size == 0) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "BYTES tensors cannot be decoded as numbers; this model takes numeric tensors");
  }
  if (count > std::numeric_limits<size_t>::max() / size || bytes.size() != count * size) {
    return MakeError(ErrorCode::kInvalidArgument, "{} tensor of {} elements needs {} bytes, got {}",
                     DataTypeName(type), count, count * size, bytes.size());
  }
  out.reserve(out.size() + count);
  const std::byte* data = bytes.data();
  switch (type) {
    case DataType::kBool:
      for (size_t i = 0; i < count; ++i) out.push_back(data[i] != std::byte{0} ? 1.0f : 0.0f);
      break;
    case DataType::kUint8:
      AppendAs<uint8_t>(data, count, out);
      break;
    case DataType::kUint16:
      AppendAs<uint16_t>(data, count, out);
      break;
    case DataType::kUint32:
      AppendAs<uint32_t>(data, count, out);
      break;
    case DataType::kUint64:
      AppendAs<uint64_t>(data, count, out);
      break;
    case DataType::kInt8:
      AppendAs<int8_t>(data, count, out);
      break;
    case DataType::kInt16:
      AppendAs<int16_t>(data, count, out);
      break;
    case DataType::kInt32:
      AppendAs<int32_t>(data, count, out);
      break;
    case DataType::kInt64:
      AppendAs<int64_t>(data, count, out);
      break;
    case DataType::kFp32:
      AppendAs<float>(data, count, out);
      break;
    case DataType::kFp64:
      AppendAs<double>(data, count, out);
      break;
    case DataType::kFp16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t half;
        std::memcpy(&half, data + i * 2, 2);
        out.push_back(HalfToFloat(half));
      }
      break;
    case DataType::kBytes:
      break;
  }
  return Ok();
}

bool IsIntegerType(DataType type) {
  switch (type) {
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
    case DataType::kInt64:
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
    case DataType::kUint64:
      return true;
    default:
      return false;
  }
}

bool DecodeExactIntegers(DataType type, std::span<const std::byte> bytes, size_t count,
                         std::vector<int64_t>& out) {
  const size_t size = ElementSize(type);
  if (!IsIntegerType(type) || count > std::numeric_limits<size_t>::max() / size ||
      bytes.size() != count * size) {
    return false;
  }
  const std::byte* data = bytes.data();
  switch (type) {
    case DataType::kInt8:
      return AppendIntegers<int8_t>(data, count, out);
    case DataType::kInt16:
      return AppendIntegers<int16_t>(data, count, out);
    case DataType::kInt32:
      return AppendIntegers<int32_t>(data, count, out);
    case DataType::kInt64:
      return AppendIntegers<int64_t>(data, count, out);
    case DataType::kUint8:
      return AppendIntegers<uint8_t>(data, count, out);
    case DataType::kUint16:
      return AppendIntegers<uint16_t>(data, count, out);
    case DataType::kUint32:
      return AppendIntegers<uint32_t>(data, count, out);
    case DataType::kUint64:
      return AppendIntegers<uint64_t>(data, count, out);
    default:
      return false;
  }
}

}  // namespace falaj::serving

#include "serving/tensor.h"

#include <array>
#include <bit>
#include <cstring>
#include <limits>

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

}  // namespace falaj::serving

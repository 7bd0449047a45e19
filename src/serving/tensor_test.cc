#include "serving/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace falaj::serving {
namespace {

template <typename T>
std::vector<std::byte> Bytes(std::initializer_list<T> values) {
  std::vector<std::byte> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), std::data(values), bytes.size());
  return bytes;
}

TEST(TensorTest, EveryDataTypeNameRoundTrips) {
  for (std::string_view name : {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                                "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"}) {
    auto type = ParseDataType(name);
    ASSERT_TRUE(type) << name;
    EXPECT_EQ(DataTypeName(*type), name);
  }
  EXPECT_FALSE(ParseDataType("fp32"));
  EXPECT_FALSE(ParseDataType("FLOAT"));
  EXPECT_EQ(ElementSize(DataType::kFp64), 8u);
  EXPECT_EQ(ElementSize(DataType::kBytes), 0u);
}

TEST(TensorTest, DecodesEachNumericTypeFromLittleEndianBytes) {
  std::vector<float> out;
  ASSERT_TRUE(DecodeToFloat(DataType::kInt64, Bytes<int64_t>({-3, 1 << 20}), 2, out));
  ASSERT_TRUE(DecodeToFloat(DataType::kFp64, Bytes<double>({0.25}), 1, out));
  ASSERT_TRUE(DecodeToFloat(DataType::kUint8, Bytes<uint8_t>({255}), 1, out));
  ASSERT_TRUE(DecodeToFloat(DataType::kInt8, Bytes<int8_t>({-128}), 1, out));
  ASSERT_TRUE(DecodeToFloat(DataType::kBool, Bytes<uint8_t>({0, 7}), 2, out));
  ASSERT_TRUE(DecodeToFloat(DataType::kFp32, Bytes<float>({1.5f}), 1, out));
  ASSERT_TRUE(DecodeToFloat(DataType::kUint16, Bytes<uint16_t>({65535}), 1, out));
  ASSERT_TRUE(DecodeToFloat(DataType::kInt32, Bytes<int32_t>({-7}), 1, out));
  EXPECT_EQ(out, (std::vector<float>{-3, 1 << 20, 0.25f, 255, -128, 0, 1, 1.5f, 65535, -7}));
}

TEST(TensorTest, HalfPrecisionMatchesTheIeeeDefinition) {
  // Brute force over every half: value = (-1)^s × 2^(e-15) × (1 + m/1024), subnormals 2^-14 ×
  // m/1024.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    uint32_t sign = bits >> 15, exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
    float got = HalfToFloat(static_cast<uint16_t>(bits));
    if (exponent == 0x1f) {
      EXPECT_EQ(std::isnan(got), mantissa != 0) << bits;
      if (mantissa == 0) {
        EXPECT_TRUE(std::isinf(got)) << bits;
      }
      continue;
    }
    double magnitude = exponent == 0 ? std::ldexp(mantissa / 1024.0, -14)
                                     : std::ldexp(1.0 + mantissa / 1024.0, int(exponent) - 15);
    double expected = sign ? -magnitude : magnitude;
    ASSERT_EQ(static_cast<double>(got), expected) << bits;
    EXPECT_EQ(std::signbit(got), sign == 1) << bits;
  }
}

TEST(TensorTest, WrongLengthsAndBytesTensorsAreRefused) {
  std::vector<float> out;
  auto short_input = DecodeToFloat(DataType::kFp32, Bytes<float>({1.0f}), 2, out);
  ASSERT_FALSE(short_input);
  EXPECT_NE(short_input.error().message.find("needs 8 bytes, got 4"), std::string::npos);
  EXPECT_FALSE(DecodeToFloat(DataType::kBytes, Bytes<uint8_t>({1}), 1, out));
  EXPECT_FALSE(DecodeToFloat(DataType::kFp64, {}, std::numeric_limits<size_t>::max() / 4, out));
  EXPECT_TRUE(out.empty());
}

TEST(TensorTest, ElementCountRefusesNegativeAndOverflowingShapes) {
  std::vector<int64_t> ok = {4, 30};
  EXPECT_EQ(*ElementCount(ok, 1000), 120u);
  std::vector<int64_t> negative = {-1, 30};
  EXPECT_FALSE(ElementCount(negative, 1000));
  std::vector<int64_t> huge = {int64_t{1} << 40, int64_t{1} << 40};
  EXPECT_FALSE(ElementCount(huge, size_t{1} << 30));
  std::vector<int64_t> over = {1001};
  EXPECT_FALSE(ElementCount(over, 1000));
}

}  // namespace
}  // namespace falaj::serving

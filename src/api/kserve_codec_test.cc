// The KServe v2 HTTP codec keeps integer tensors exact (entity keys) alongside their float32
// values, in JSON and in the binary extension, and leaves float tensors alone.
#include "api/kserve_codec.h"

#include <gtest/gtest.h>

#include <cstring>

namespace falaj::api {
namespace {

constexpr int64_t kBigId = (int64_t{1} << 53) + 1;

TEST(KServeCodecTest, JsonIntegersStayExact) {
  auto decoded = DecodeInferRequest(
      R"({"inputs": [{"name": "id", "datatype": "INT64", "shape": [3],
                      "data": [9007199254740993, -4, 50000001]},
                     {"name": "x", "datatype": "FP32", "shape": [1], "data": [1.5]}]})",
      std::nullopt);
  ASSERT_TRUE(decoded) << decoded.error().message;
  const auto& ids = decoded->request.inputs[0];
  EXPECT_EQ(ids.integers, (std::vector<int64_t>{kBigId, -4, 50'000'001}));
  EXPECT_EQ(ids.values[2], static_cast<float>(50'000'001));  // the float path is unchanged
  EXPECT_TRUE(decoded->request.inputs[1].integers.empty());
}

TEST(KServeCodecTest, Uint64BeyondInt64HasNoExactValues) {
  auto decoded = DecodeInferRequest(
      R"({"inputs": [{"name": "id", "datatype": "UINT64", "shape": [2],
                      "data": [1, 18446744073709551615]}]})",
      std::nullopt);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->request.inputs[0].values.size(), 2u);
  EXPECT_TRUE(decoded->request.inputs[0].integers.empty());
}

TEST(KServeCodecTest, BinaryIntegersStayExact) {
  const int64_t ids[] = {kBigId, kBigId - 1};
  std::string header =
      R"({"inputs": [{"name": "id", "datatype": "INT64", "shape": [2, 1],
                      "parameters": {"binary_data_size": 16}}]})";
  std::string body = header + std::string(reinterpret_cast<const char*>(ids), sizeof(ids));
  auto decoded = DecodeInferRequest(body, header.size());
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->request.inputs[0].integers, (std::vector<int64_t>{kBigId, kBigId - 1}));
}

}  // namespace
}  // namespace falaj::api

#include "serving/feature_provider.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace falaj::serving {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
// Adjacent ids that float32 (and even float64) cannot tell apart.
constexpr int64_t kBigId = (int64_t{1} << 53) + 1;

// A service with two join keys and three features; each feature of entity (a, b) is a function
// of the keys it was given, and entity a == 0 is unknown (NaN), so a test can see exactly which
// keys reached Fetch and where each value landed.
class FakeService final : public ResolvedFeatureService {
 public:
  const std::vector<std::string>& join_keys() const override { return keys_; }
  const std::vector<std::string>& features() const override { return features_; }
  bool current() const override { return true; }
  bool remote() const override { return false; }
  Status Fetch(const EntityKeys& keys, const FeatureMatrix& out) const override {
    seen.clear();
    for (size_t r = 0; r < keys.rows; ++r) {
      const int64_t a = keys.columns[0][r];
      const int64_t b = keys.columns[1][r];
      seen.emplace_back(a, b);
      for (size_t f = 0; f < features_.size(); ++f) {
        out.data[r * out.stride + f] =
            a == 0 ? kNaN : static_cast<float>(10 * (f + 1)) + static_cast<float>(b);
      }
    }
    return Ok();
  }
  mutable std::vector<std::pair<int64_t, int64_t>> seen;

 private:
  std::vector<std::string> keys_ = {"customer_id", "merchant_id"};
  std::vector<std::string> features_ = {"v:a", "v:b", "w:c"};
};

InferInput Keys(std::string name, std::vector<int64_t> ids, DataType type = DataType::kInt64) {
  InferInput input;
  input.name = std::move(name);
  input.datatype = type;
  input.shape = {static_cast<int64_t>(ids.size())};
  for (int64_t id : ids) input.values.push_back(static_cast<float>(id));
  input.integers = std::move(ids);
  return input;
}

InferInput Floats(std::string name, std::vector<int64_t> shape, std::vector<float> values) {
  InferInput input;
  input.name = std::move(name);
  input.datatype = DataType::kFp32;
  input.shape = std::move(shape);
  input.values = std::move(values);
  return input;
}

Result<size_t> Assemble(const InferRequest& request, const FakeService& service, size_t width,
                        std::vector<float>& rows) {
  return AssembleFeatureRows(request, service, "scoring", "fraud", width, rows);
}

TEST(FeatureProviderTest, DecodesExactIntegersBeyondFloatRange) {
  const int64_t ids[] = {kBigId, kBigId - 1, -5, std::numeric_limits<int64_t>::max()};
  std::vector<int64_t> out;
  ASSERT_TRUE(DecodeExactIntegers(DataType::kInt64, std::as_bytes(std::span(ids)), 4, out));
  EXPECT_EQ(out, std::vector<int64_t>(std::begin(ids), std::end(ids)));

  const int32_t narrow[] = {-7, 50'000'001};
  out.clear();
  ASSERT_TRUE(DecodeExactIntegers(DataType::kInt32, std::as_bytes(std::span(narrow)), 2, out));
  EXPECT_EQ(out, (std::vector<int64_t>{-7, 50'000'001}));

  const uint64_t unsigned_ids[] = {1, uint64_t{1} << 63};
  out.clear();
  EXPECT_FALSE(
      DecodeExactIntegers(DataType::kUint64, std::as_bytes(std::span(unsigned_ids)), 2, out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(DecodeExactIntegers(DataType::kInt64, std::as_bytes(std::span(ids)), 3, out));
  EXPECT_FALSE(DecodeExactIntegers(DataType::kFp32, std::as_bytes(std::span(narrow)), 2, out));
  EXPECT_TRUE(IsIntegerType(DataType::kUint8));
  EXPECT_FALSE(IsIntegerType(DataType::kBool));
}

TEST(FeatureProviderTest, FetchedFeaturesComeFirstThenRequestTimeFeaturesInRequestOrder) {
  FakeService service;
  InferRequest request;
  // Keys in any position among the inputs; request-time features keep their relative order.
  request.inputs.push_back(Floats("amount", {2, 2}, {1.5f, 2.5f, 3.5f, 4.5f}));
  request.inputs.push_back(Keys("merchant_id", {1, 2}));
  request.inputs.push_back(Floats("hour", {2}, {7.0f, 8.0f}));
  request.inputs.push_back(Keys("customer_id", {kBigId, kBigId - 1}));
  std::vector<float> rows;
  auto n = Assemble(request, service, 6, rows);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2u);
  // The ids reached Fetch exactly, in the service's join-key order.
  EXPECT_EQ(service.seen, (std::vector<std::pair<int64_t, int64_t>>{{kBigId, 1}, {kBigId - 1, 2}}));
  EXPECT_EQ(rows, (std::vector<float>{11, 21, 31, 1.5f, 2.5f, 7, 12, 22, 32, 3.5f, 4.5f, 8}));
}

TEST(FeatureProviderTest, UnknownEntitiesStayNaN) {
  FakeService service;
  InferRequest request;
  request.inputs.push_back(Keys("customer_id", {0, 3}));
  InferInput merchants = Keys("merchant_id", {4, 5});
  merchants.shape = {2, 1};  // [N, 1] is as good as [N]
  request.inputs.push_back(std::move(merchants));
  std::vector<float> rows;
  ASSERT_TRUE(Assemble(request, service, 3, rows));
  ASSERT_EQ(rows.size(), 6u);
  for (size_t f = 0; f < 3; ++f) EXPECT_TRUE(std::isnan(rows[f])) << f;
  EXPECT_EQ(rows[3], 15.0f);
}

TEST(FeatureProviderTest, RefusesBadRequestsNamingTheInput) {
  FakeService service;
  std::vector<float> rows;
  auto refused = [&](const InferRequest& request, size_t width, std::string_view expected) {
    auto result = Assemble(request, service, width, rows);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(result.error().message.find(expected), std::string::npos) << result.error().message;
  };
  InferRequest missing;
  missing.inputs.push_back(Keys("customer_id", {1}));
  refused(missing, 3, "missing input 'merchant_id'");

  InferRequest float_key;
  float_key.inputs.push_back(Keys("customer_id", {1}));
  float_key.inputs.push_back(Floats("merchant_id", {1}, {1.0f}));
  refused(float_key, 3, "input 'merchant_id' is an entity key: it must be an integer tensor");

  InferRequest wide_key;
  wide_key.inputs.push_back(Keys("customer_id", {1, 2}));
  wide_key.inputs.push_back(Keys("merchant_id", {1, 2}));
  wide_key.inputs.back().shape = {1, 2};
  refused(wide_key, 3, "must be [rows] or [rows, 1], not [1, 2]");

  InferRequest inexact;  // a UINT64 key beyond int64 left no exact values
  inexact.inputs.push_back(Keys("customer_id", {1}));
  inexact.inputs.push_back(Keys("merchant_id", {}, DataType::kUint64));
  inexact.inputs.back().shape = {1};
  refused(inexact, 3, "beyond the int64 range");

  InferRequest uneven;
  uneven.inputs.push_back(Keys("customer_id", {1, 2}));
  uneven.inputs.push_back(Keys("merchant_id", {1}));
  refused(uneven, 3, "input 'merchant_id' has 1 rows");

  InferRequest short_extra;
  short_extra.inputs.push_back(Keys("customer_id", {1}));
  short_extra.inputs.push_back(Keys("merchant_id", {1}));
  refused(short_extra, 5, "3 features from feature service 'fraud' and 0 request-time");

  InferRequest twice;
  twice.inputs.push_back(Keys("customer_id", {1}));
  twice.inputs.push_back(Keys("customer_id", {1}));
  twice.inputs.push_back(Keys("merchant_id", {1}));
  refused(twice, 3, "appears twice");

  InferRequest empty;
  empty.inputs.push_back(Keys("customer_id", {}));
  empty.inputs.push_back(Keys("merchant_id", {}));
  refused(empty, 3, "no entities");
}

}  // namespace
}  // namespace falaj::serving

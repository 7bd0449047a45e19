// The feature matrix an endpoint's model receives, built from a real feature registry (SQLite)
// and online store (RocksDB): the service's feature order, NaN for whatever the store does not
// have, entity ids read exactly beyond float's range, and services that cannot feed a model
// refused.
#include "api/feature_provider_adapter.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "data/source_store.h"
#include "storage/kv_store.h"
#include "storage/metadata_store.h"

namespace falaj::api {
namespace {

constexpr char kProject[] = "shop";
// Adjacent ids that float32 and float64 both round to the same number.
constexpr int64_t kBigId = (int64_t{1} << 53) + 1;

nlohmann::json Column(std::string name, std::string type) {
  return {{"name", std::move(name)}, {"type", std::move(type)}};
}

template <typename Builder, typename Value>
std::shared_ptr<arrow::Array> Build(Builder builder, const std::vector<Value>& values) {
  for (const auto& value : values) EXPECT_TRUE(builder.Append(value).ok());
  return builder.Finish().ValueOrDie();
}

class FeatureProviderAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_feature_provider_" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 1);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    for (const auto* set :
         {&data::SourceStore::Migrations(), &features::FeatureRegistry::Migrations()}) {
      ASSERT_TRUE(store_->Migrate(*set));
    }
    auto kv = storage::OpenKvStore("rocksdb://" + (directory_ / "online").string());
    ASSERT_TRUE(kv) << kv.error().message;
    kv_ = std::move(*kv);
    sources_ = std::make_unique<data::SourceStore>(*store_);
    registry_ = std::make_unique<features::FeatureRegistry>(*store_, *sources_);
    online_store_ = std::make_unique<features::OnlineStore>(*kv_);
    online_ = std::make_unique<features::OnlineFeatures>(*registry_, *online_store_);
    provider_ = std::make_unique<OnlineFeatureProvider>(*registry_, *online_, *kv_,
                                                        /*remote=*/false);

    AddSource("txns", {Column("customer_id", "int64"), Column("amount", "float64"),
                       Column("flagged", "bool"), Column("seen", "timestamp"),
                       Column("event_time", "timestamp")});
    AddSource("profiles", {Column("customer_id", "int64"), Column("age", "int64"),
                           Column("nickname", "string"), Column("event_time", "timestamp")});
    Apply(
        {{{"kind", "entity"}, {"name", "customer"}, {"join_keys", {"customer_id"}}},
         {{"kind", "feature_view"},
          {"name", "txn"},
          {"entities", {"customer"}},
          {"source", "txns"},
          {"timestamp_field", "event_time"},
          {"ttl", "1d"},
          {"features",
           {Column("amount", "float64"), Column("flagged", "bool"), Column("seen", "timestamp")}}},
         {{"kind", "feature_view"},
          {"name", "profile"},
          {"entities", {"customer"}},
          {"source", "profiles"},
          {"timestamp_field", "event_time"},
          {"features", {Column("age", "int64"), Column("nickname", "string")}}},
         // Views in the order the service first names them, features in the order named.
         {{"kind", "feature_service"},
          {"name", "scoring"},
          {"features", {"profile:age", "txn:flagged", "txn:amount", "txn:seen"}}},
         {{"kind", "feature_service"}, {"name", "chatty"}, {"features", {"profile:*"}}}});
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  void AddSource(std::string name, nlohmann::json schema) {
    auto source = data::ParseSource({{"name", name}, {"kind", "file"}, {"schema", schema}});
    ASSERT_TRUE(source) << source.error().message;
    source->project = kProject;
    ASSERT_TRUE(sources_->Create(std::move(*source)));
  }

  void Apply(const std::vector<nlohmann::json>& objects) {
    std::vector<features::Definition> definitions;
    for (const auto& object : objects) {
      auto parsed = features::ParseDefinition(object);
      ASSERT_TRUE(parsed) << parsed.error().message;
      definitions.push_back(std::move(*parsed));
    }
    auto applied = registry_->Apply(kProject, definitions, "test", false);
    ASSERT_TRUE(applied) << applied.error().message;
  }

  void Write(std::string_view view, std::vector<std::shared_ptr<arrow::Field>> fields,
             std::vector<std::shared_ptr<arrow::Array>> columns) {
    auto resolved = registry_->ResolveView(kProject, view);
    ASSERT_TRUE(resolved) << resolved.error().message;
    auto table = arrow::Table::Make(arrow::schema(std::move(fields)), std::move(columns));
    auto written =
        online_store_->WriteLatest(kProject, *resolved, *table, Now(), storage::KvWriteMode::kSync);
    ASSERT_TRUE(written) << written.error().message;
  }

  static std::chrono::system_clock::time_point Now() { return std::chrono::system_clock::now(); }
  static int64_t MicrosAgo(std::chrono::hours hours) {
    return std::chrono::duration_cast<std::chrono::microseconds>((Now() - hours).time_since_epoch())
        .count();
  }

  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<storage::KvStore> kv_;
  std::unique_ptr<data::SourceStore> sources_;
  std::unique_ptr<features::FeatureRegistry> registry_;
  std::unique_ptr<features::OnlineStore> online_store_;
  std::unique_ptr<features::OnlineFeatures> online_;
  std::unique_ptr<OnlineFeatureProvider> provider_;
};

TEST_F(FeatureProviderAdapterTest, BuildsTheMatrixInServiceOrderWithNaNForMissing) {
  auto timestamp = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  const int64_t fresh = MicrosAgo(std::chrono::hours(1));
  const int64_t stale = MicrosAgo(std::chrono::hours(48));  // beyond the view's 1 d TTL
  const int64_t seen = 1'700'000'000'000'000;
  // kBigId and kBigId - 1 are different entities with different rows; 77 is only stale.
  Write("txn",
        {arrow::field("customer_id", arrow::int64()), arrow::field("amount", arrow::float64()),
         arrow::field("flagged", arrow::boolean()), arrow::field("seen", timestamp),
         arrow::field("event_time", timestamp)},
        {Build(arrow::Int64Builder(), std::vector<int64_t>{kBigId, kBigId - 1, 77}),
         Build(arrow::DoubleBuilder(), std::vector<double>{1.5, 2.5, 3.5}),
         Build(arrow::BooleanBuilder(), std::vector<bool>{true, false, true}),
         Build(arrow::TimestampBuilder(timestamp, arrow::default_memory_pool()),
               std::vector<int64_t>{seen, seen, seen}),
         Build(arrow::TimestampBuilder(timestamp, arrow::default_memory_pool()),
               std::vector<int64_t>{fresh, fresh, stale})});
  Write("profile",
        {arrow::field("customer_id", arrow::int64()), arrow::field("age", arrow::int64()),
         arrow::field("nickname", arrow::utf8()), arrow::field("event_time", timestamp)},
        {Build(arrow::Int64Builder(), std::vector<int64_t>{kBigId, 77}),
         Build(arrow::Int64Builder(), std::vector<int64_t>{41, 63}),
         Build(arrow::StringBuilder(), std::vector<std::string>{"a", "b"}),
         Build(arrow::TimestampBuilder(timestamp, arrow::default_memory_pool()),
               std::vector<int64_t>{fresh, fresh})});

  auto resolved = provider_->Resolve(kProject, "scoring");
  ASSERT_TRUE(resolved) << resolved.error().message;
  const auto& service = **resolved;
  EXPECT_EQ(service.join_keys(), std::vector<std::string>{"customer_id"});
  EXPECT_EQ(service.features(),
            (std::vector<std::string>{"profile:age", "txn:flagged", "txn:amount", "txn:seen"}));
  EXPECT_TRUE(service.current());
  EXPECT_FALSE(service.remote());

  const std::vector<int64_t> ids = {kBigId, kBigId - 1, 77, 12345};
  const std::span<const int64_t> columns[] = {ids};
  constexpr size_t kStride = 5;  // one request-time column after the fetched ones
  std::vector<float> matrix(ids.size() * kStride, -1.0f);
  Status fetched = service.Fetch({columns, ids.size()}, {matrix, ids.size(), kStride});
  ASSERT_TRUE(fetched) << fetched.error().message;
  auto row = [&](size_t r) { return std::span<const float>(matrix).subspan(r * kStride, kStride); };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto expect_row = [&](size_t r, std::vector<float> expected) {
    for (size_t f = 0; f < expected.size(); ++f) {
      if (std::isnan(expected[f])) {
        EXPECT_TRUE(std::isnan(row(r)[f])) << "row " << r << " feature " << f;
      } else {
        EXPECT_EQ(row(r)[f], expected[f]) << "row " << r << " feature " << f;
      }
    }
    EXPECT_EQ(row(r)[4], -1.0f) << "the request-time column is left alone";
  };
  expect_row(0, {41, 1, 1.5f, static_cast<float>(seen)});
  expect_row(1, {nan, 0, 2.5f, static_cast<float>(seen)});  // no profile row
  expect_row(2, {63, nan, nan, nan});                       // txn row older than the TTL
  expect_row(3, {nan, nan, nan, nan});                      // unknown entity
}

TEST_F(FeatureProviderAdapterTest, IntegerKeysNameStringKeysByTheirDecimalText) {
  AddSource("stores", {Column("store_code", "string"), Column("size", "int64"),
                       Column("event_time", "timestamp")});
  Apply({{{"kind", "entity"}, {"name", "store"}, {"join_keys", {"store_code"}}},
         {{"kind", "feature_view"},
          {"name", "store"},
          {"entities", {"store"}},
          {"source", "stores"},
          {"timestamp_field", "event_time"},
          {"features", {Column("size", "int64")}}},
         {{"kind", "feature_service"}, {"name", "by_store"}, {"features", {"store:size"}}}});
  auto timestamp = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  Write("store",
        {arrow::field("store_code", arrow::utf8()), arrow::field("size", arrow::int64()),
         arrow::field("event_time", timestamp)},
        {Build(arrow::StringBuilder(), std::vector<std::string>{"42", "x7"}),
         Build(arrow::Int64Builder(), std::vector<int64_t>{900, 5}),
         Build(arrow::TimestampBuilder(timestamp, arrow::default_memory_pool()),
               std::vector<int64_t>{MicrosAgo(std::chrono::hours(1)),
                                    MicrosAgo(std::chrono::hours(1))})});
  auto resolved = provider_->Resolve(kProject, "by_store");
  ASSERT_TRUE(resolved) << resolved.error().message;
  const std::vector<int64_t> ids = {42, 43};
  const std::span<const int64_t> columns[] = {ids};
  std::vector<float> matrix(2);
  ASSERT_TRUE((*resolved)->Fetch({columns, 2}, {matrix, 2, 1}));
  EXPECT_EQ(matrix[0], 900.0f);
  EXPECT_TRUE(std::isnan(matrix[1]));
}

TEST_F(FeatureProviderAdapterTest, RefusesServicesThatCannotFeedAModel) {
  auto missing = provider_->Resolve(kProject, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("'nope'"), std::string::npos);

  auto strings = provider_->Resolve(kProject, "chatty");
  ASSERT_FALSE(strings);
  EXPECT_EQ(strings.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(strings.error().message.find("string feature 'profile:nickname'"), std::string::npos)
      << strings.error().message;
}

TEST_F(FeatureProviderAdapterTest, AHandleGoesStaleWhenDefinitionsChange) {
  auto resolved = provider_->Resolve(kProject, "scoring");
  ASSERT_TRUE(resolved);
  EXPECT_TRUE((*resolved)->current());
  Apply({{{"kind", "feature_service"}, {"name", "scoring"}, {"features", {"txn:amount"}}}});
  EXPECT_FALSE((*resolved)->current());
  auto again = provider_->Resolve(kProject, "scoring");
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->features(), std::vector<std::string>{"txn:amount"});
}

TEST(FeatureCellAsFloatTest, ConvertsEveryKind) {
  using data::ColumnType;
  features::FeatureCell cell;
  EXPECT_TRUE(std::isnan(FeatureCellAsFloat(cell, ColumnType::kInt64))) << "absent";
  cell.present = true;
  cell.integer = -3;
  EXPECT_EQ(FeatureCellAsFloat(cell, ColumnType::kInt64), -3.0f);
  EXPECT_EQ(FeatureCellAsFloat(cell, ColumnType::kTimestamp), -3.0f);
  cell.real = 0.25;
  EXPECT_EQ(FeatureCellAsFloat(cell, ColumnType::kFloat64), 0.25f);
  cell.flag = true;
  EXPECT_EQ(FeatureCellAsFloat(cell, ColumnType::kBool), 1.0f);
  cell.flag = false;
  EXPECT_EQ(FeatureCellAsFloat(cell, ColumnType::kBool), 0.0f);
  cell.text = "x";
  EXPECT_TRUE(std::isnan(FeatureCellAsFloat(cell, ColumnType::kString)));
}

}  // namespace
}  // namespace falaj::api

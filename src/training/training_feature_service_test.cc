// Training on a feature service: the point-in-time training set is built from the registry's
// definitions, the default features leave out the entity rows' columns, and the registered
// lineage pins the entity dataset version, the feature views and the stored training set.
#include <arrow/api.h>
#include <gtest/gtest.h>

#include "training/training_test_support.h"

namespace falaj::training {
namespace {

using nlohmann::json;

json Column(std::string name, std::string type) {
  return {{"name", std::move(name)}, {"type", std::move(type)}};
}

using FeatureServiceTrainingTest = TrainingStoresTest;

TEST_F(FeatureServiceTrainingTest, TrainsOnAPointInTimeTrainingSetAndPinsItsLineage) {
  constexpr int kCustomers = 600;
  constexpr int64_t kHour = 3'600'000'000;
  const int64_t t0 = 1'700'000'000'000'000;
  auto timestamp = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  // Feature rows: each customer's amount at t0, and a later, uninformative amount (5 for all) at
  // t0 + 2 h that a point-in-time join must not see for entity rows at t0 + 1 h.
  arrow::Int64Builder ids, entity_ids, labels;
  arrow::DoubleBuilder amounts;
  arrow::TimestampBuilder times(timestamp, arrow::default_memory_pool()),
      entity_times(timestamp, arrow::default_memory_pool());
  for (int c = 0; c < kCustomers; ++c) {
    const double amount = (c % 7) * 10.0 + c % 3;
    for (int64_t offset : {int64_t{0}, 2 * kHour}) {
      ASSERT_TRUE(ids.Append(c).ok() && times.Append(t0 + offset).ok());
      ASSERT_TRUE(amounts.Append(offset == 0 ? amount : 5.0).ok());
    }
    ASSERT_TRUE(entity_ids.Append(c).ok() && entity_times.Append(t0 + kHour).ok());
    ASSERT_TRUE(labels.Append(amount > 30 ? 1 : 0).ok());
  }
  auto txns = arrow::Table::Make(
      arrow::schema({arrow::field("customer_id", arrow::int64()),
                     arrow::field("amount", arrow::float64()),
                     arrow::field("event_time", timestamp)}),
      {ids.Finish().ValueOrDie(), amounts.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
  auto entities =
      arrow::Table::Make(arrow::schema({arrow::field("customer_id", arrow::int64()),
                                        arrow::field("event_timestamp", timestamp),
                                        arrow::field("big_spender", arrow::int64())}),
                         {entity_ids.Finish().ValueOrDie(), entity_times.Finish().ValueOrDie(),
                          labels.Finish().ValueOrDie()});
  auto source = data::ParseSource({{"name", "txns"},
                                   {"kind", "file"},
                                   {"schema",
                                    {Column("customer_id", "int64"), Column("amount", "float64"),
                                     Column("event_time", "timestamp")}}});
  ASSERT_TRUE(source) << source.error().message;
  source->project = "p";
  ASSERT_TRUE(sources_->Create(std::move(*source)));
  AddDataset("txns", *txns);
  AddDataset("customers", *entities);
  std::vector<features::Definition> definitions;
  for (const json& object :
       {json{{"kind", "entity"}, {"name", "customer"}, {"join_keys", {"customer_id"}}},
        json{{"kind", "feature_view"},
             {"name", "txn"},
             {"entities", {"customer"}},
             {"source", "txns"},
             {"timestamp_field", "event_time"},
             {"features", {Column("amount", "float64")}}},
        json{{"kind", "feature_service"}, {"name", "spend"}, {"features", {"txn:amount"}}}}) {
    auto parsed = features::ParseDefinition(object);
    ASSERT_TRUE(parsed) << parsed.error().message;
    definitions.push_back(std::move(*parsed));
  }
  ASSERT_TRUE(features_->Apply("p", definitions, "test", false));

  const json spec = {
      {"data", {{"feature_service", "spend"}, {"entities", {{"dataset", "customers"}}}}},
      {"label", "big_spender"},
      {"trainer", "xgboost"},
      {"objective", "binary:logistic"},
      {"split", {{"method", "stratified"}}},
      {"num_boost_round", 10},
      {"register", {{"model", "spend"}}}};
  auto summary = service_->Run("p", spec, context_);
  ASSERT_TRUE(summary) << summary.error().message;
  // Only the as-of amount separates the classes; the later, constant one would not.
  EXPECT_DOUBLE_EQ((*summary)["metrics"]["auc"].get<double>(), 1.0);
  auto run = tracking_->GetRun("p", (*summary)["run_id"].get<std::string>());
  ASSERT_TRUE(run);
  EXPECT_EQ(run->params.at("features"), R"(["amount"])");  // not customer_id, not the label
  auto version = registry_->GetVersion("p", "spend", 1);
  ASSERT_TRUE(version) << version.error().message;
  const json& lineage = version->lineage;
  EXPECT_EQ(lineage["feature_service"], "spend");
  EXPECT_EQ(lineage["feature_service_version"], 1);
  EXPECT_EQ(lineage["entities"], (json{{"dataset", "customers"}, {"version", 1}}));
  EXPECT_EQ(lineage["training_set"], (json{{"dataset", "spend.training"}, {"version", 1}}));
  ASSERT_EQ(lineage["feature_views"].size(), 1u);
  EXPECT_EQ(lineage["feature_views"][0]["name"], "txn");
  EXPECT_EQ(lineage["feature_views"][0]["dataset_version"], 1);
  EXPECT_EQ(lineage["run_id"], (*summary)["run_id"]);
}

}  // namespace
}  // namespace falaj::training

// What the trees runtime refuses and how the "auto" choice then behaves; input checks and
// concurrency. Its outputs are compared with XGBoost's in xgboost_fixtures_test.cc and
// xgboost_runtime_test.cc.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "serving/model_runtime.h"
#include "serving/xgboost_test_fixtures.h"

namespace falaj::serving {
namespace {

void ExpectError(const Result<std::unique_ptr<LoadedModel>>& model, ErrorCode code,
                 const std::string& phrase) {
  ASSERT_FALSE(model) << phrase;
  EXPECT_EQ(model.error().code, code) << model.error().message;
  EXPECT_NE(model.error().message.find(phrase), std::string::npos) << model.error().message;
}

TEST(TreesRuntimeTest, VectorLeafModelsAreRefusedAndTheLibraryCannotReadThemEither) {
  for (const char* file : {"vector_leaf.json", "vector_leaf.ubj"}) {
    const std::string artifact = ReadXGBoostFixture(file);
    ExpectError(LoadTreesModel(artifact), ErrorCode::kUnimplemented, "vector-leaf");
    // "auto" falls back to libxgboost 1.7, which has neither vector leaves nor per-target bases.
    ExpectError(LoadModel("xgboost", "auto", artifact), ErrorCode::kUnimplemented,
                "libxgboost 1.7.4 cannot serve this model: XGBoost 3.2.0 saved one base_score");
  }
}

TEST(TreesRuntimeTest, DartWithPerClassBaseScoresIsRefusedByBothRuntimes) {
  const std::string artifact = ReadXGBoostFixture("dart_multiclass.ubj");
  ExpectError(LoadTreesModel(artifact), ErrorCode::kUnimplemented,
              "DART models with a different base score per class");
  ExpectError(LoadModel("xgboost", "", artifact), ErrorCode::kUnimplemented,
              "one base_score per output");
}

std::string EditedLogistic(const std::function<void(nlohmann::json& learner)>& edit) {
  auto document = nlohmann::json::parse(ReadXGBoostFixture("binary_logistic.json"));
  edit(document["learner"]);
  return document.dump();
}

TEST(TreesRuntimeTest, UnknownObjectivesAndInconsistentModelsAreRefused) {
  ExpectError(LoadTreesModel(EditedLogistic(
                  [](nlohmann::json& learner) { learner["objective"]["name"] = "survival:aft"; })),
              ErrorCode::kUnimplemented, "objective 'survival:aft'");
  ExpectError(LoadTreesModel(EditedLogistic([](nlohmann::json& learner) {
                learner["learner_model_param"]["base_score"] = "[1.5E0]";
              })),
              ErrorCode::kInvalidArgument, "outside the range of objective 'binary:logistic'");
  ExpectError(LoadTreesModel(EditedLogistic([](nlohmann::json& learner) {
                learner["learner_model_param"]["num_class"] = "3";
              })),
              ErrorCode::kInvalidArgument, "does not fit num_class 3");
  ExpectError(LoadTreesModel(EditedLogistic([](nlohmann::json& learner) {
                learner["learner_model_param"]["num_target"] = "2";
                learner["learner_model_param"]["base_score"] = "[5E-1,5E-1]";
              })),
              ErrorCode::kUnimplemented, "multi-target");
}

TEST(TreesRuntimeTest, ChecksItsInputsAndPredictsMultiClassProbabilities) {
  auto model = LoadModel("xgboost", "trees", ReadXGBoostFixture("multi_softprob.ubj"));
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ((*model)->runtime(), "trees");
  ASSERT_EQ((*model)->num_features(), 8u);
  ASSERT_EQ((*model)->num_outputs(), 3u);
  std::vector<float> features(5 * 8, 0.25f);
  features[3] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> outputs(5 * 3);
  ASSERT_TRUE((*model)->Predict(features, 5, outputs));
  for (size_t row = 0; row < 5; ++row) {
    EXPECT_NEAR(outputs[row * 3] + outputs[row * 3 + 1] + outputs[row * 3 + 2], 1.0f, 1e-6);
  }
  EXPECT_EQ((*model)->Predict(features, 4, outputs).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ((*model)->Predict(features, 5, std::span(outputs).first(14)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ((*model)->Predict(std::span(features).first(39), 5, outputs).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ((*model)->Predict(features, size_t{1} << 62, outputs).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE((*model)->Predict({}, 0, {}));
}

TEST(TreesRuntimeTest, AutoServesXGBoostModelsWithTrees) {
  auto model = LoadModel("xgboost", "auto", ReadXGBoostFixture("categorical.json"));
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ((*model)->runtime(), "trees");
  ExpectError(LoadTreesModel("{\"learner\": {}}"), ErrorCode::kInvalidArgument,
              "has no 'learner_model_param'");
}

TEST(TreesRuntimeTest, ConcurrentPredictionsAgree) {
  auto model = LoadTreesModel(ReadXGBoostFixture("binary_logistic.ubj"));
  ASSERT_TRUE(model);
  std::vector<float> features(300 * 8);
  for (size_t i = 0; i < features.size(); ++i) features[i] = static_cast<float>(i % 17) / 8 - 1;
  std::vector<float> expected(300);
  ASSERT_TRUE((*model)->Predict(features, 300, expected));
  std::vector<int> mismatches(8, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 100; ++round) {
        const size_t rows = 1 + (t * 41 + round * 7) % 300;
        std::vector<float> out(rows);
        const auto status = (*model)->Predict(std::span(features).first(rows * 8), rows, out);
        if (!status || !std::equal(out.begin(), out.end(), expected.begin())) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(8, 0));
}

}  // namespace
}  // namespace falaj::serving

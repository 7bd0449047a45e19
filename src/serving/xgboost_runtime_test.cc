// The library runtime, and the trees runtime against it on models that libxgboost 1.7 itself
// trains and saves here (so 1.7 is the reference), in JSON and UBJ.
#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "serving/model_runtime.h"
#include "serving/xgboost_test_fixtures.h"

namespace falaj::serving {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Data {
  size_t rows = 0;
  size_t columns = 0;
  std::vector<float> features;
  std::vector<float> labels;
};

// Rows of uniform features (columns listed in `categorical` take whole values 0..9), some
// missing; the label is a class in [0, classes) from a few features, or a real value.
Data MakeData(size_t rows, size_t columns, int classes, const std::vector<size_t>& categorical,
              uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> uniform(-2, 2);
  Data data{rows, columns, {}, {}};
  for (size_t row = 0; row < rows; ++row) {
    for (size_t c = 0; c < columns; ++c) {
      const bool is_categorical =
          std::find(categorical.begin(), categorical.end(), c) != categorical.end();
      float x = is_categorical ? static_cast<float>(random() % 10) : uniform(random);
      if (random() % 12 == 0) x = kNaN;
      data.features.push_back(x);
    }
    const float* x = data.features.data() + row * columns;
    const float score = (std::isnan(x[0]) ? 0 : x[0]) + (std::isnan(x[1]) ? 1 : x[1] * x[1]) +
                        (std::isnan(x[2]) ? 0 : std::fmod(x[2], 3.0f));
    data.labels.push_back(classes == 0 ? score
                          : classes == 2
                              ? (score > 1 ? 1.0f : 0.0f)
                              : static_cast<float>(static_cast<int>(std::fabs(score)) % classes));
  }
  return data;
}

struct Saved {
  std::string json;
  std::string ubj;
};

// Trains with libxgboost 1.7 and saves the model both ways.
Saved Train17(const std::vector<std::pair<const char*, const char*>>& params, const Data& data,
              int rounds, const std::vector<size_t>& categorical = {}) {
  DMatrixHandle matrix = nullptr;
  EXPECT_EQ(XGDMatrixCreateFromMat(data.features.data(), data.rows, data.columns, kNaN, &matrix),
            0);
  EXPECT_EQ(XGDMatrixSetFloatInfo(matrix, "label", data.labels.data(), data.rows), 0);
  // Survival objectives read interval labels: here exact times, lower bound = upper bound.
  for (const char* bound : {"label_lower_bound", "label_upper_bound"}) {
    EXPECT_EQ(XGDMatrixSetFloatInfo(matrix, bound, data.labels.data(), data.rows), 0);
  }
  if (!categorical.empty()) {
    std::vector<const char*> types(data.columns, "q");
    for (size_t c : categorical) types[c] = "c";
    EXPECT_EQ(XGDMatrixSetStrFeatureInfo(matrix, "feature_type", types.data(), data.columns), 0);
  }
  BoosterHandle booster = nullptr;
  EXPECT_EQ(XGBoosterCreate(&matrix, 1, &booster), 0);
  XGBoosterSetParam(booster, "nthread", "1");
  XGBoosterSetParam(booster, "seed", "5");
  for (const auto& [key, value] : params) XGBoosterSetParam(booster, key, value);
  for (int round = 0; round < rounds; ++round) {
    EXPECT_EQ(XGBoosterUpdateOneIter(booster, round, matrix), 0) << XGBGetLastError();
  }
  Saved saved;
  for (auto [format, out] : {std::pair{"json", &saved.json}, std::pair{"ubj", &saved.ubj}}) {
    bst_ulong length = 0;
    const char* buffer = nullptr;
    const std::string config = std::string(R"({"format": ")") + format + "\"}";
    EXPECT_EQ(XGBoosterSaveModelToBuffer(booster, config.c_str(), &length, &buffer), 0);
    out->assign(buffer, length);
  }
  XGBoosterFree(booster);
  XGDMatrixFree(matrix);
  return saved;
}

std::vector<float> PredictAll(const LoadedModel& model, const std::vector<float>& features) {
  const size_t rows = features.size() / model.num_features();
  std::vector<float> outputs(rows * model.num_outputs());
  const auto status = model.Predict(features, rows, outputs);
  EXPECT_TRUE(status) << status.error().message;
  return outputs;
}

void ExpectSamePredictions(const Saved& saved, const std::vector<float>& rows) {
  for (const std::string* artifact : {&saved.json, &saved.ubj}) {
    auto library = LoadModel("xgboost", "xgboost", *artifact);
    auto trees = LoadModel("xgboost", "trees", *artifact);
    ASSERT_TRUE(library) << library.error().message;
    ASSERT_TRUE(trees) << trees.error().message;
    ASSERT_EQ((*trees)->num_outputs(), (*library)->num_outputs());
    const auto expected = PredictAll(**library, rows);
    const auto actual = PredictAll(**trees, rows);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      EXPECT_NEAR(actual[i], expected[i], 1e-6 * std::max(1.0f, std::fabs(expected[i])))
          << (artifact == &saved.json ? "json" : "ubj") << " value " << i;
    }
  }
}

TEST(XGBoostRuntimeTest, TreesMatchLibxgboost17OnModelsItSaved) {
  const Data train = MakeData(500, 6, 2, {}, 1);
  const Data probe = MakeData(120, 6, 2, {}, 2);
  ExpectSamePredictions(
      Train17({{"objective", "binary:logistic"}, {"max_depth", "4"}, {"base_score", "0.3"}}, train,
              12),
      probe.features);
  ExpectSamePredictions(Train17({{"objective", "binary:logitraw"}, {"max_depth", "3"}}, train, 6),
                        probe.features);
  ExpectSamePredictions(Train17({{"objective", "binary:logistic"},
                                 {"booster", "dart"},
                                 {"rate_drop", "0.4"},
                                 {"max_depth", "3"}},
                                train, 10),
                        probe.features);

  const Data multi = MakeData(600, 6, 3, {}, 3);
  ExpectSamePredictions(Train17({{"objective", "multi:softprob"},
                                 {"num_class", "3"},
                                 {"max_depth", "3"},
                                 {"base_score", "0.2"}},
                                multi, 6),
                        probe.features);
  ExpectSamePredictions(
      Train17({{"objective", "multi:softmax"}, {"num_class", "3"}, {"max_depth", "3"}}, multi, 6),
      probe.features);
  // 1.7's DART with one base score for every class, which the trees runtime serves.
  ExpectSamePredictions(Train17({{"objective", "multi:softprob"},
                                 {"num_class", "3"},
                                 {"booster", "dart"},
                                 {"rate_drop", "0.5"},
                                 {"max_depth", "2"}},
                                multi, 5),
                        probe.features);

  const Data regression = MakeData(500, 6, 0, {}, 4);
  ExpectSamePredictions(
      Train17({{"objective", "reg:squarederror"}, {"max_depth", "5"}}, regression, 10),
      probe.features);
  Data counts = regression;
  for (float& label : counts.labels) label = std::floor(std::fabs(label));
  ExpectSamePredictions(Train17({{"objective", "count:poisson"}, {"max_depth", "3"}}, counts, 8),
                        probe.features);
}

TEST(XGBoostRuntimeTest, TreesMatchLibxgboost17OnCategoricalSplits) {
  const Data train = MakeData(800, 5, 2, {2, 3}, 5);
  Data probe = MakeData(100, 5, 2, {2, 3}, 6);
  // Categories 1.7 must route by its own rules: negative, fractional, unseen, huge.
  const float odd[] = {-1, -0.5f, 0.5f, 2.7f, 11, 31, 33, 1e9f, 3e7f, kNaN};
  for (size_t i = 0; i < std::size(odd); ++i) {
    probe.features[i * 5 + 2] = odd[i];
    probe.features[(i + 10) * 5 + 3] = odd[i];
  }
  for (const char* onehot : {"4", "1"}) {  // one-hot and partition splits
    ExpectSamePredictions(Train17({{"objective", "binary:logistic"},
                                   {"tree_method", "hist"},
                                   {"max_cat_to_onehot", onehot},
                                   {"max_depth", "4"}},
                                  train, 8, {2, 3}),
                          probe.features);
  }
}

TEST(XGBoostRuntimeTest, AutoFallsBackToTheLibraryForWhatTreesDoesNotServe) {
  Data data = MakeData(300, 6, 0, {}, 8);
  for (float& label : data.labels) label = std::fabs(label) + 0.5f;
  const Saved aft = Train17({{"objective", "survival:aft"}, {"max_depth", "3"}}, data, 5);
  auto trees = LoadTreesModel(aft.ubj);
  ASSERT_FALSE(trees);
  EXPECT_EQ(trees.error().code, ErrorCode::kUnimplemented);
  auto model = LoadModel("xgboost", "auto", aft.ubj);
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ((*model)->runtime(), "xgboost");
  EXPECT_EQ(PredictAll(**model, data.features).size(), data.rows);
}

TEST(XGBoostRuntimeTest, NewerModelsAreServedOrRefusedByName) {
  // XGBoost 3's single-valued vector base_score, which 1.7 alone would ignore, is set and
  // checked (the fixtures test compares the outputs); per-class ones cannot be and are refused.
  auto binary = LoadXGBoostModel(ReadXGBoostFixture("binary_logistic.ubj"));
  ASSERT_TRUE(binary) << binary.error().message;
  EXPECT_EQ((*binary)->runtime(), "xgboost");
  auto multi = LoadXGBoostModel(ReadXGBoostFixture("multi_softprob.json"));
  ASSERT_FALSE(multi);
  EXPECT_EQ(multi.error().code, ErrorCode::kUnimplemented);
  EXPECT_NE(multi.error().message.find("one base_score per output"), std::string::npos)
      << multi.error().message;
  EXPECT_NE(multi.error().message.find("3.2.0"), std::string::npos);
  // Vector-leaf trees: 1.7 cannot read them at all.
  for (const char* file : {"vector_leaf.json", "vector_leaf.ubj"}) {
    auto vector_leaf = LoadXGBoostModel(ReadXGBoostFixture(file));
    ASSERT_FALSE(vector_leaf) << file;
    EXPECT_EQ(vector_leaf.error().code, ErrorCode::kUnimplemented);
    EXPECT_NE(vector_leaf.error().message.find("1.7"), std::string::npos)
        << vector_leaf.error().message;
  }
  auto quantile = LoadXGBoostModel(ReadXGBoostFixture("reg_quantileerror.json"));
  ASSERT_FALSE(quantile);
  EXPECT_NE(quantile.error().message.find("cannot read this model saved by XGBoost 3.2.0"),
            std::string::npos)
      << quantile.error().message;
}

TEST(XGBoostRuntimeTest, HostileFilesNeverReachTheLibrary) {
  auto document = nlohmann::json::parse(ReadXGBoostFixture("binary_logistic.json"));
  document["learner"]["gradient_booster"]["model"]["trees"][3]["left_children"][0] = 1 << 30;
  auto model = LoadXGBoostModel(document.dump());
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(model.error().message.find("outside the tree"), std::string::npos);
  EXPECT_EQ(LoadXGBoostModel("not a model").error().code, ErrorCode::kInvalidArgument);
}

TEST(XGBoostRuntimeTest, ConcurrentPredictionsAgree) {
  auto model = LoadXGBoostModel(ReadXGBoostFixture("binary_logistic.ubj"));
  ASSERT_TRUE(model);
  const Data probe = MakeData(200, 8, 2, {}, 9);
  const auto expected = PredictAll(**model, probe.features);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        // Different batch sizes, so the pooled boosters' result buffers differ in size.
        const size_t rows = 1 + (t * 37 + round) % 200;
        std::vector<float> out(rows);
        const auto status = (*model)->Predict(std::span(probe.features).first(rows * 8), rows, out);
        if (!status || !std::equal(out.begin(), out.end(), expected.begin())) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(8, 0));
}

TEST(XGBoostRuntimeTest, WrongSizesAreRefused) {
  auto model = LoadXGBoostModel(ReadXGBoostFixture("binary_logistic.ubj"));
  ASSERT_TRUE(model);
  EXPECT_EQ((*model)->num_features(), 8u);
  EXPECT_EQ((*model)->num_outputs(), 1u);
  std::vector<float> features(16);
  std::vector<float> outputs(2);
  EXPECT_TRUE((*model)->Predict(features, 2, outputs));
  EXPECT_EQ((*model)->Predict(features, 3, outputs).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ((*model)->Predict(std::span(features).first(15), 2, outputs).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ((*model)->Predict(features, 2, std::span(outputs).first(1)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE((*model)->Predict({}, 0, {}));
}

}  // namespace
}  // namespace falaj::serving

#include "serving/xgboost_model_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "serving/xgboost_test_fixtures.h"

namespace falaj::serving {
namespace {

void ExpectSameTrees(const XGBoostModel& a, const XGBoostModel& b) {
  ASSERT_EQ(a.trees.size(), b.trees.size());
  for (size_t t = 0; t < a.trees.size(); ++t) {
    EXPECT_EQ(a.trees[t].left_children, b.trees[t].left_children);
    EXPECT_EQ(a.trees[t].right_children, b.trees[t].right_children);
    EXPECT_EQ(a.trees[t].split_features, b.trees[t].split_features);
    EXPECT_EQ(a.trees[t].thresholds, b.trees[t].thresholds);
    EXPECT_EQ(a.trees[t].default_left, b.trees[t].default_left);
    EXPECT_EQ(a.trees[t].categorical_nodes, b.trees[t].categorical_nodes);
    EXPECT_EQ(a.trees[t].category_offsets, b.trees[t].category_offsets);
    EXPECT_EQ(a.trees[t].categories, b.trees[t].categories);
  }
  EXPECT_EQ(a.tree_groups, b.tree_groups);
  EXPECT_EQ(a.tree_weights, b.tree_weights);
}

TEST(XGBoostModelReaderTest, JsonAndUbjReadTheSameModel) {
  for (const char* name : {"binary_logistic", "multi_softprob", "dart", "categorical"}) {
    SCOPED_TRACE(name);
    auto json = ReadXGBoostModel(ReadXGBoostFixture(std::string(name) + ".json"));
    auto ubj = ReadXGBoostModel(ReadXGBoostFixture(std::string(name) + ".ubj"));
    ASSERT_TRUE(json) << json.error().message;
    ASSERT_TRUE(ubj) << ubj.error().message;
    EXPECT_EQ(json->version, (std::array<int64_t, 3>{3, 2, 0}));
    EXPECT_EQ(json->version, ubj->version);
    EXPECT_EQ(json->objective, ubj->objective);
    EXPECT_EQ(json->booster, ubj->booster);
    EXPECT_EQ(json->num_features, ubj->num_features);
    EXPECT_EQ(json->num_class, ubj->num_class);
    EXPECT_EQ(json->base_score, ubj->base_score);
    EXPECT_TRUE(json->base_score_is_vector);
    ExpectSameTrees(*json, *ubj);
  }
  auto multi = ReadXGBoostModel(ReadXGBoostFixture("multi_softprob.ubj"));
  ASSERT_TRUE(multi);
  EXPECT_EQ(multi->num_class, 3u);
  EXPECT_EQ(multi->base_score.size(), 3u);
  EXPECT_EQ(multi->tree_groups[0], 0u);
  EXPECT_EQ(multi->tree_groups[1], 1u);
  auto dart = ReadXGBoostModel(ReadXGBoostFixture("dart.ubj"));
  ASSERT_TRUE(dart);
  EXPECT_EQ(dart->booster, "dart");
  EXPECT_EQ(dart->tree_weights.size(), dart->trees.size());
  auto categorical = ReadXGBoostModel(ReadXGBoostFixture("categorical.json"));
  ASSERT_TRUE(categorical);
  EXPECT_FALSE(categorical->trees[0].categorical_nodes.empty());
  auto vector_leaf = ReadXGBoostModel(ReadXGBoostFixture("vector_leaf.ubj"));
  ASSERT_TRUE(vector_leaf) << vector_leaf.error().message;
  EXPECT_EQ(vector_leaf->leaf_vector_size, 2u);
  EXPECT_EQ(vector_leaf->num_target, 2u);
}

TEST(XGBoostModelReaderTest, ScalarBaseScoreOfOlderModels) {
  auto document = nlohmann::json::parse(ReadXGBoostFixture("binary_logistic.json"));
  document["learner"]["learner_model_param"]["base_score"] = "3E-1";
  document.erase("version");
  document["learner"]["learner_model_param"].erase("num_target");
  auto model = ReadXGBoostModel(document.dump());
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_FALSE(model->base_score_is_vector);
  EXPECT_EQ(model->base_score, std::vector<float>{0.3f});
  EXPECT_EQ(model->version, (std::array<int64_t, 3>{0, 0, 0}));
  EXPECT_EQ(model->num_target, 1u);
}

TEST(XGBoostModelReaderTest, BareNonFiniteNumbersAsXGBoostWritesThem) {
  auto document = nlohmann::json::parse(ReadXGBoostFixture("binary_logistic.json"));
  auto& tree = document["learner"]["gradient_booster"]["model"]["trees"][0];
  tree["split_conditions"][0] = "@1";
  tree["split_conditions"][1] = "@2";
  document["learner"]["attributes"]["note"] = "NaN and Infinity stay text in strings";
  std::string text = document.dump();
  text.replace(text.find("\"@1\""), 4, "Infinity");
  text.replace(text.find("\"@2\""), 4, "-Infinity");
  auto model = ReadXGBoostModel(text);
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ(model->trees[0].thresholds[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(model->trees[0].thresholds[1], -std::numeric_limits<float>::infinity());
  text.replace(text.find("-Infinity"), 9, "NaN");
  EXPECT_NE(ReadXGBoostModel(text).error().message.find("NaN threshold"), std::string::npos);
}

void ExpectRefused(std::string_view artifact, const std::string& phrase,
                   ErrorCode code = ErrorCode::kInvalidArgument) {
  auto model = ReadXGBoostModel(artifact);
  ASSERT_FALSE(model) << phrase;
  EXPECT_EQ(model.error().code, code) << model.error().message;
  EXPECT_NE(model.error().message.find(phrase), std::string::npos) << model.error().message;
}

TEST(XGBoostModelReaderTest, EveryTruncationIsRefused) {
  for (const char* file : {"binary_hinge.ubj", "binary_hinge.json", "categorical.ubj"}) {
    const std::string artifact = ReadXGBoostFixture(file);
    ASSERT_TRUE(ReadXGBoostModel(artifact)) << file;
    const size_t step = artifact.size() > 20000 ? 7 : 1;
    for (size_t length = 0; length < artifact.size(); length += step) {
      auto model = ReadXGBoostModel(std::string_view(artifact).substr(0, length));
      ASSERT_FALSE(model) << file << " cut at " << length;
      ASSERT_EQ(model.error().code, ErrorCode::kInvalidArgument) << model.error().message;
    }
  }
}

TEST(XGBoostModelReaderTest, RandomCorruptionNeverCrashes) {
  const std::string original = ReadXGBoostFixture("categorical.ubj");
  std::mt19937 random(3);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string artifact = original;
    for (int flips = 1 + random() % 4; flips > 0; --flips) {
      artifact[random() % artifact.size()] = static_cast<char>(random());
    }
    // Either a model that passed every check, or an error: never a crash or a hang.
    auto model = ReadXGBoostModel(artifact);
    if (!model) {
      EXPECT_NE(model.error().code, ErrorCode::kInternal);
    }
  }
}

TEST(XGBoostModelReaderTest, HostileUbjsonIsRefused) {
  using namespace std::string_literals;
  // A count far beyond the bytes that follow.
  ExpectRefused("{L\x00\x00\x00\x00\x00\x00\x00\x01x[#L\x7f\xff\xff\xff\xff\xff\xff\xff}"s,
                "truncated");
  ExpectRefused("{L\x00\x00\x00\x00\x00\x00\x00\x01x[$d#L\x00\x00\x00\x00\x10\x00\x00\x00"s,
                "truncated");
  ExpectRefused("{L\x00\x00\x00\x00\x00\x00\x00\x01x[#i\xff"s, "negative");
  // Typed containers of markers without payload could claim any count for free.
  ExpectRefused("{L\x00\x00\x00\x00\x00\x00\x00\x01x[$Z#L\x7f\xff\xff\xff\xff\xff\xff\xff}"s,
                "numeric types only");
  ExpectRefused("{i\x01xH"s, "unsupported UBJSON marker");
  ExpectRefused("{i\x01x" + std::string(100000, '[') + std::string(100000, ']') + "}",
                "nests deeper");
  ExpectRefused("{i\x01xZ}trailing"s, "after the UBJSON document");
  ExpectRefused("\x80\x04\x95pickle"s, "legacy binary");
  ExpectRefused("", "legacy binary");
}

TEST(XGBoostModelReaderTest, HostileJsonIsRefused) {
  ExpectRefused("{\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}",
                "nests deeper");
  ExpectRefused("{\"learner\": ", "not valid JSON");
  ExpectRefused("{\"learner\": 1}", "'learner' is not an object");
  ExpectRefused("[1, 2]", "legacy binary");
}

// Edits the first tree (or the learner) of the binary:logistic fixture.
std::string Edited(const std::function<void(nlohmann::json& learner)>& edit) {
  auto document = nlohmann::json::parse(ReadXGBoostFixture("binary_logistic.json"));
  edit(document["learner"]);
  return document.dump();
}

nlohmann::json& FirstTree(nlohmann::json& learner) {
  return learner["gradient_booster"]["model"]["trees"][0];
}

TEST(XGBoostModelReaderTest, CorruptTreesAreRefusedNamingTheProblem) {
  ExpectRefused(Edited([](nlohmann::json& l) { FirstTree(l)["left_children"][0] = 100000; }),
                "outside the tree");
  ExpectRefused(Edited([](nlohmann::json& l) { FirstTree(l)["left_children"][1] = 0; }),
                "reached twice");
  ExpectRefused(Edited([](nlohmann::json& l) {
                  auto& tree = FirstTree(l);
                  tree["right_children"][0] = tree["left_children"][0].get<int>() + 2;
                }),
                "reached twice");
  ExpectRefused(Edited([](nlohmann::json& l) { FirstTree(l)["split_indices"][0] = 8; }),
                "feature 8 of a 8-feature model");
  ExpectRefused(Edited([](nlohmann::json& l) { FirstTree(l)["split_indices"][0] = -1; }),
                "outside [0, 4294967295]");
  ExpectRefused(Edited([](nlohmann::json& l) { FirstTree(l)["tree_param"]["num_nodes"] = "3"; }),
                "must be an array of 3 numbers");
  ExpectRefused(
      Edited([](nlohmann::json& l) { FirstTree(l)["tree_param"]["num_nodes"] = "99999999999999"; }),
      "whole number");
  ExpectRefused(Edited([](nlohmann::json& l) { FirstTree(l)["split_conditions"][2] = "x"; }),
                "non-number");
  ExpectRefused(Edited([](nlohmann::json& l) { FirstTree(l)["split_type"][0] = 1; }),
                "split_type disagrees");
  ExpectRefused(Edited([](nlohmann::json& l) {
                  auto& tree = FirstTree(l);
                  std::swap(tree["left_children"][0], tree["right_children"][0]);
                }),
                "does not follow the left");
  ExpectRefused(
      Edited([](nlohmann::json& l) { l["gradient_booster"]["model"]["tree_info"][0] = 1; }),
      "tree_info");
  ExpectRefused(Edited([](nlohmann::json& l) { l["gradient_booster"]["model"].erase("trees"); }),
                "has no 'trees'");
  ExpectRefused(Edited([](nlohmann::json& l) { l["learner_model_param"]["base_score"] = "[0.5"; }),
                "unclosed");
  ExpectRefused(Edited([](nlohmann::json& l) { l["learner_model_param"]["base_score"] = "nan"; }),
                "base_score");
  ExpectRefused(Edited([](nlohmann::json& l) { l["learner_model_param"]["num_feature"] = "0"; }),
                "'num_feature' is 0");
  ExpectRefused(Edited([](nlohmann::json& l) { l["learner_model_param"]["num_feature"] = "1e9"; }),
                "num_feature");
  ExpectRefused(Edited([](nlohmann::json& l) { l["gradient_booster"]["name"] = "gblinear"; }),
                "gblinear", ErrorCode::kUnimplemented);
}

TEST(XGBoostModelReaderTest, CorruptCategoriesAreRefused) {
  auto categorical = [](const std::function<void(nlohmann::json & tree)>& edit) {
    auto document = nlohmann::json::parse(ReadXGBoostFixture("categorical.json"));
    edit(document["learner"]["gradient_booster"]["model"]["trees"][0]);
    return document.dump();
  };
  ExpectRefused(categorical([](nlohmann::json& t) { t["categories"][0] = -5; }),
                "outside [0, 2^24)");
  ExpectRefused(categorical([](nlohmann::json& t) { t["categories"][0] = 1 << 30; }),
                "outside [0, 2^24)");
  ExpectRefused(categorical([](nlohmann::json& t) { t["categories_sizes"][0] = 1 << 30; }),
                "lies outside the tree");
  ExpectRefused(categorical([](nlohmann::json& t) { t["categories_segments"][0] = 1 << 30; }),
                "lies outside the tree");
  ExpectRefused(categorical([](nlohmann::json& t) { t["categories_nodes"][0] = 1 << 30; }),
                "lies outside the tree");
  ExpectRefused(categorical([](nlohmann::json& t) { t.erase("categories_nodes"); }),
                "no categories are listed");
}

}  // namespace
}  // namespace falaj::serving

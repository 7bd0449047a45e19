#include "serving/tree_ensemble.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace falaj::serving {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// A node for MakeTree: a split {feature, threshold, left, right, default_left} or a leaf.
struct Spec {
  int32_t left = -1;
  int32_t right = -1;
  uint32_t feature = 0;
  float threshold = 0;
  bool default_left = true;
  float leaf = 0;
};

Spec Split(uint32_t feature, float threshold, int32_t left, int32_t right, bool default_left) {
  return {left, right, feature, threshold, default_left, 0};
}
Spec Leaf(float value) { return {-1, -1, 0, 0, true, value}; }

TreeDescription MakeTree(const std::vector<Spec>& nodes) {
  TreeDescription tree;
  for (const Spec& node : nodes) {
    tree.left_children.push_back(node.left);
    tree.right_children.push_back(node.right);
    tree.split_features.push_back(node.feature);
    tree.thresholds.push_back(node.threshold);
    tree.default_left.push_back(node.default_left ? 1 : 0);
    tree.leaf_values.push_back(node.leaf);
  }
  tree.category_offsets = {0};
  return tree;
}

EnsembleDescription MakeEnsemble(std::vector<TreeDescription> trees, uint32_t features,
                                 uint32_t groups = 1) {
  EnsembleDescription ensemble;
  ensemble.num_features = features;
  ensemble.num_groups = groups;
  ensemble.base_margins.assign(groups, 0.0f);
  for (size_t t = 0; t < trees.size(); ++t) ensemble.tree_groups.push_back(t % groups);
  ensemble.trees = std::move(trees);
  return ensemble;
}

std::vector<float> Predict(const TreeEnsemble& ensemble, const std::vector<float>& rows) {
  const size_t count = rows.size() / ensemble.num_features();
  std::vector<float> outputs(count * ensemble.num_outputs());
  ensemble.Predict(rows.data(), count, outputs.data());
  return outputs;
}

TEST(TreeEnsembleTest, NumericSplitsGoLeftBelowTheThresholdAndMissingFollowsTheDefault) {
  // Root on feature 0 at 1.0 (missing goes right), then feature 1 at -2.0 (missing goes left).
  auto ensemble = TreeEnsemble::Compile(
      MakeEnsemble({MakeTree({Split(0, 1.0f, 1, 2, false), Split(1, -2.0f, 3, 4, true), Leaf(30),
                              Leaf(10), Leaf(20)})},
                   2));
  ASSERT_TRUE(ensemble) << ensemble.error().message;
  const std::vector<float> rows = {0.5f, -3.0f, 0.5f, -2.0f, 1.0f,  0.0f, kNaN,        0.0f,
                                   0.5f, kNaN,  kInf, 0.0f,  -kInf, kInf, 0.99999994f, -2.0f};
  EXPECT_EQ(Predict(*ensemble, rows), (std::vector<float>{10, 20, 30, 30, 10, 30, 20, 20}));
}

TEST(TreeEnsembleTest, CategoricalSplitsFollowXGBoostsRules) {
  TreeDescription tree = MakeTree({Split(0, 0, 1, 2, false), Leaf(-1), Leaf(1)});
  tree.categorical_nodes = {0};
  tree.categories = {1, 3, 40};
  tree.category_offsets = {0, 3};
  auto ensemble = TreeEnsemble::Compile(MakeEnsemble({tree}, 1));
  ASSERT_TRUE(ensemble) << ensemble.error().message;
  // In the set → right (1); anything else — negative, not in the set, past the set's last
  // word, at or above 2^24, infinite — left (-1); the fraction of a category is dropped;
  // missing takes the default (right here).
  const std::vector<float> rows = {1,  3.7f, 40,   2,           0,     -1,   -0.5f, 41,
                                   64, 1e9f, kInf, 16777216.0f, -kInf, kNaN, 0.5f,  3};
  EXPECT_EQ(Predict(*ensemble, rows),
            (std::vector<float>{1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1, -1, 1}));
}

// The reference: one row, one tree at a time, the plain definition of each split.
float Walk(const TreeDescription& tree, const float* row) {
  int32_t node = 0;
  while (tree.left_children[node] != -1) {
    const float x = row[tree.split_features[node]];
    const bool left = std::isnan(x) ? tree.default_left[node] : x < tree.thresholds[node];
    node = left ? tree.left_children[node] : tree.right_children[node];
  }
  return tree.leaf_values[node];
}

TreeDescription RandomTree(std::mt19937& random, uint32_t features, int max_depth) {
  TreeDescription tree = MakeTree({Leaf(0)});
  std::uniform_real_distribution<float> value(-1, 1);
  std::vector<std::pair<int32_t, int>> pending = {{0, 0}};
  while (!pending.empty()) {
    const auto [id, depth] = pending.back();
    pending.pop_back();
    if (depth >= max_depth || random() % 4 == 0) {
      tree.leaf_values[id] = value(random);
      continue;
    }
    const auto left = static_cast<int32_t>(tree.left_children.size());
    tree.left_children[id] = left;
    tree.right_children[id] = left + 1;
    tree.split_features[id] = random() % features;
    tree.thresholds[id] = value(random);
    tree.default_left[id] = random() % 2;
    for (int child = 0; child < 2; ++child) {
      tree.left_children.push_back(-1);
      tree.right_children.push_back(-1);
      tree.split_features.push_back(0);
      tree.thresholds.push_back(0);
      tree.default_left.push_back(1);
      tree.leaf_values.push_back(0);
      pending.push_back({left + child, depth + 1});
    }
  }
  return tree;
}

TEST(TreeEnsembleTest, EveryBatchSizeMatchesTheReferenceBitForBit) {
  std::mt19937 random(7);
  constexpr uint32_t kFeatures = 9;
  constexpr uint32_t kGroups = 3;
  std::vector<TreeDescription> trees;
  for (int t = 0; t < 40; ++t) trees.push_back(RandomTree(random, kFeatures, 1 + t % 9));
  EnsembleDescription description = MakeEnsemble(trees, kFeatures, kGroups);
  description.base_margins = {0.25f, -0.5f, 0.125f};
  auto ensemble = TreeEnsemble::Compile(description);
  ASSERT_TRUE(ensemble) << ensemble.error().message;

  std::uniform_real_distribution<float> value(-1.2f, 1.2f);
  std::vector<float> rows(1000 * kFeatures);
  for (float& x : rows) x = random() % 10 == 0 ? kNaN : value(random);
  std::vector<float> expected(1000 * kGroups);
  for (size_t row = 0; row < 1000; ++row) {
    for (uint32_t g = 0; g < kGroups; ++g)
      expected[row * kGroups + g] = description.base_margins[g];
    // In model order, in float, as XGBoost sums.
    for (size_t t = 0; t < trees.size(); ++t) {
      expected[row * kGroups + description.tree_groups[t]] +=
          Walk(trees[t], rows.data() + row * kFeatures);
    }
  }
  for (const size_t batch : {1, 2, 5, 7, 8, 9, 16, 63, 64, 65, 130, 1000}) {
    std::vector<float> outputs(1000 * kGroups);
    for (size_t begin = 0; begin < 1000; begin += batch) {
      const size_t count = std::min(batch, 1000 - begin);
      ensemble->Predict(rows.data() + begin * kFeatures, count, outputs.data() + begin * kGroups);
    }
    EXPECT_EQ(outputs, expected) << "batch " << batch;
  }
}

TEST(TreeEnsembleTest, OutputTransforms) {
  // Two single-leaf trees per group: margins are fixed, so only the transform varies.
  EnsembleDescription description =
      MakeEnsemble({MakeTree({Leaf(1)}), MakeTree({Leaf(-2)}), MakeTree({Leaf(1)})}, 1, 3);
  const std::vector<float> row = {0};
  description.transform = OutputTransform::kSoftmax;
  auto softmax = TreeEnsemble::Compile(description);
  ASSERT_TRUE(softmax);
  const auto probabilities = Predict(*softmax, row);
  ASSERT_EQ(probabilities.size(), 3u);
  EXPECT_NEAR(probabilities[0] + probabilities[1] + probabilities[2], 1.0f, 1e-6);
  EXPECT_FLOAT_EQ(probabilities[0], probabilities[2]);
  EXPECT_NEAR(probabilities[1], std::exp(-3.0f) / (2 + std::exp(-3.0f)), 1e-7);

  description.transform = OutputTransform::kArgMax;  // ties go to the first
  auto argmax = TreeEnsemble::Compile(description);
  ASSERT_TRUE(argmax);
  EXPECT_EQ(argmax->num_outputs(), 1u);
  EXPECT_EQ(Predict(*argmax, row), std::vector<float>{0});

  EnsembleDescription single = MakeEnsemble({MakeTree({Leaf(0.75f)})}, 1);
  single.base_margins = {-0.25f};
  const std::vector<std::pair<OutputTransform, float>> cases = {
      {OutputTransform::kIdentity, 0.5f},
      {OutputTransform::kSigmoid, 1.0f / (1.0f + std::exp(-0.5f))},
      {OutputTransform::kExp, std::exp(0.5f)},
      {OutputTransform::kHinge, 1.0f}};
  for (const auto& [transform, expected] : cases) {
    single.transform = transform;
    auto model = TreeEnsemble::Compile(single);
    ASSERT_TRUE(model);
    EXPECT_FLOAT_EQ(Predict(*model, row)[0], expected);
  }
}

TEST(TreeEnsembleTest, ADeepChainIsPredicted) {
  // Split 2i sends x < i to leaf 2i + 1 (value i) and the rest to the next split.
  std::vector<Spec> nodes;
  constexpr int kDepth = 3000;
  for (int i = 0; i < kDepth; ++i) {
    nodes.push_back(Split(0, static_cast<float>(i), 2 * i + 1, 2 * i + 2, true));
    nodes.push_back(Leaf(static_cast<float>(i)));
  }
  nodes.push_back(Leaf(kDepth));
  auto ensemble = TreeEnsemble::Compile(MakeEnsemble({MakeTree(nodes)}, 1));
  ASSERT_TRUE(ensemble) << ensemble.error().message;
  EXPECT_EQ(Predict(*ensemble, {-1, 5.5f, 2999.5f, 1e9f}), (std::vector<float>{0, 6, 3000, 3000}));
}

void ExpectInvalid(const EnsembleDescription& description, const std::string& phrase) {
  auto ensemble = TreeEnsemble::Compile(description);
  ASSERT_FALSE(ensemble) << phrase;
  EXPECT_EQ(ensemble.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(ensemble.error().message.find(phrase), std::string::npos) << ensemble.error().message;
}

TEST(TreeEnsembleTest, MalformedTreesAreRefusedNamingTheProblem) {
  const auto one = [](std::vector<Spec> nodes) { return MakeEnsemble({MakeTree(nodes)}, 2); };
  ExpectInvalid(one({Split(0, 0, 1, 5, true), Leaf(0), Leaf(1)}), "outside the tree");
  ExpectInvalid(one({Split(0, 0, 1, -1, true), Leaf(0), Leaf(1)}), "outside the tree");
  ExpectInvalid(one({Split(0, 0, 1, 2, true), Split(0, 0, 0, 2, true), Leaf(1)}), "reached twice");
  ExpectInvalid(one({Split(0, 0, 1, 1, true), Leaf(0)}), "reached twice");
  ExpectInvalid(one({Split(0, 0, 1, 2, true), Split(1, 0, 1, 2, true), Leaf(1)}), "reached twice");
  ExpectInvalid(one({Split(7, 0, 1, 2, true), Leaf(0), Leaf(1)}), "feature 7");
  ExpectInvalid(one({Split(0, kNaN, 1, 2, true), Leaf(0), Leaf(1)}), "NaN threshold");
  ExpectInvalid(one({{-1, 1, 0, 0, true, 0}, Leaf(1)}), "right child");
  ExpectInvalid(one({}), "no nodes");

  auto uneven = one({Split(0, 0, 1, 2, true), Leaf(0), Leaf(1)});
  uneven.trees[0].thresholds.pop_back();
  ExpectInvalid(uneven, "differ in length");
  auto group = one({Leaf(0)});
  group.tree_groups = {3};
  ExpectInvalid(group, "output group");

  auto categorical = one({Split(0, 0, 1, 2, true), Leaf(0), Leaf(1)});
  categorical.trees[0].categorical_nodes = {1};
  categorical.trees[0].categories = {0};
  categorical.trees[0].category_offsets = {0, 1};
  ExpectInvalid(categorical, "not a split");
  categorical.trees[0].categorical_nodes = {0};
  categorical.trees[0].categories = {16777216};
  ExpectInvalid(categorical, "outside [0, 2^24)");
  categorical.trees[0].categories = {-1};
  ExpectInvalid(categorical, "outside [0, 2^24)");
  categorical.trees[0].category_offsets = {0, 2};
  ExpectInvalid(categorical, "do not cover");

  ExpectInvalid(MakeEnsemble({}, 0), "features");
}

}  // namespace
}  // namespace falaj::serving

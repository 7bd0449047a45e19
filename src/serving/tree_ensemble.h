// A tree ensemble compiled for prediction: the `trees` runtime's engine.
//
// The input is a neutral description (TreeDescription, EnsembleDescription): binary trees over
// float features, numerical splits (`x < threshold` goes left) and categorical splits (a
// category in the node's set goes right, anything else — negative, at least 2^24, or not in the
// set — goes left; the fraction of a non-integer category is dropped), NaN following each node's
// default branch. Each tree adds its leaf value to one output group; groups start from a base
// margin and are summed in float, tree by tree in order, so the result is bit-for-bit what
// XGBoost's CPU predictor computes. The model-format specifics (objectives, base scores, DART
// weights) are resolved before this point by the reader of each format.
//
// Compile validates the description (every reachable node reached once, children and features
// in range, category sets bounded) and lays each tree out breadth-first in 16-byte nodes with
// siblings adjacent, so a step is `node = left + go_right` without branches; leaves point to
// themselves, so many walks can advance a fixed number of steps in lock-step. Predict copies
// each block of 64 rows feature-major, then runs every tree over groups of 8 rows whose node
// positions stay in registers (independent load chains that hide each other's latency); fewer
// rows than a group advance together with several trees instead. Blocks without NaN take a
// kernel without the missing-value test, models without categorical splits one without that.
//
// A compiled TreeEnsemble is immutable; Predict may run concurrently from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

namespace falaj::serving {

// One tree, node arrays indexed by node id; node 0 is the root. A node whose left child is -1
// is a leaf and its value is leaf_values[id]; otherwise its children are left/right_children.
struct TreeDescription {
  std::vector<int32_t> left_children;
  std::vector<int32_t> right_children;
  std::vector<uint32_t> split_features;
  std::vector<float> thresholds;
  std::vector<uint8_t> default_left;
  std::vector<float> leaf_values;
  // Categorical splits: node ids, and for each the categories that go right, in `categories`
  // from category_offsets[k] to category_offsets[k + 1] (so offsets has one more entry).
  std::vector<int32_t> categorical_nodes;
  std::vector<uint32_t> category_offsets;
  std::vector<int32_t> categories;
};

enum class OutputTransform {
  kIdentity,  // the margin itself
  kSigmoid,   // 1 / (1 + e^-margin), as XGBoost computes it in float
  kExp,       // e^margin
  kSoftmax,   // probabilities over the groups
  kArgMax,    // index of the largest group margin (first on ties), as a float
  kHinge,     // 1 if margin > 0, else 0
};

struct EnsembleDescription {
  uint32_t num_features = 0;
  uint32_t num_groups = 1;
  std::vector<float> base_margins;  // one per group
  std::vector<TreeDescription> trees;
  std::vector<uint32_t> tree_groups;  // one per tree
  OutputTransform transform = OutputTransform::kIdentity;
};

// INVALID_ARGUMENT naming the node unless `tree` is a proper binary tree over `num_features`
// features: equal-length node arrays, every node reachable from the root reached exactly once
// (no cycles, no shared children), children and features in range, leaves without children,
// numeric thresholds not NaN, category sets on splits only and with categories in [0, 2^24).
Status ValidateTree(const TreeDescription& tree, uint32_t num_features);

class TreeEnsemble {
 public:
  // INVALID_ARGUMENT naming the tree and node when the description is not a valid ensemble.
  static Result<TreeEnsemble> Compile(const EnsembleDescription& description);

  size_t num_features() const { return num_features_; }
  // 1 for kArgMax and for single-group models; the number of groups otherwise.
  size_t num_outputs() const { return num_outputs_; }

  // Predicts `rows` rows (row-major, rows × num_features()) into `outputs` (rows ×
  // num_outputs()). The caller checks the sizes.
  void Predict(const float* features, size_t rows, float* outputs) const;

  // 16 bytes: a cache line holds four nodes.
  struct Node {
    // Numerical split: go left when x < threshold. Leaves: NaN, so no x moves off the leaf.
    // Categorical split: unused (the set is in category_words_).
    float threshold;
    uint32_t feature;
    // Left child's index in nodes_; the right child follows it. A leaf's own index.
    uint32_t left;
    // Bit 0: missing goes right. Bit 1: categorical split. Bits 2..31: first word of its set in
    // category_words_ when categorical.
    uint32_t flags;
  };

 private:
  struct Tree {
    uint32_t root;   // index in nodes_
    uint32_t depth;  // steps from the root to its deepest leaf
    uint32_t group;
  };
  Status AddTree(const TreeDescription& tree, uint32_t group);
  // Appends category set `set` of `tree`; its first word's index.
  Result<uint32_t> AddCategorySet(const TreeDescription& tree, int32_t set);
  template <bool kMissing, bool kCategorical>
  uint32_t Next(const Node& node, float x) const;
  template <bool kMissing, bool kCategorical>
  void TraverseGroup(const float* columns, uint32_t root, uint32_t depth, uint32_t* leaves) const;
  template <bool kMissing, bool kCategorical>
  void TraverseLanes(const float* const* row_of_lane, uint32_t* node_of_lane, size_t lanes,
                     uint32_t depth) const;
  template <bool kMissing, bool kCategorical>
  void PredictGroups(const float* features, size_t rows, float* columns, float* margins) const;
  template <bool kMissing, bool kCategorical>
  void PredictLanes(const float* features, size_t rows, float* margins) const;
  template <bool kMissing, bool kCategorical>
  void PredictBlock(const float* features, size_t rows, float* columns, float* margins) const;
  void Transform(float* margins, size_t rows, float* outputs) const;
  bool InCategorySet(const Node& node, float category) const;

  size_t num_features_ = 0;
  size_t num_groups_ = 1;
  size_t num_outputs_ = 1;
  OutputTransform transform_ = OutputTransform::kIdentity;
  std::vector<float> base_margins_;
  std::vector<Node> nodes_;
  std::vector<float> leaf_values_;  // by node index; 0 for splits
  std::vector<Tree> trees_;
  // Category sets as bit sets of 32-bit words; word 0 of each set holds its size in bits.
  std::vector<uint32_t> category_words_;
  bool has_categorical_ = false;
};

}  // namespace falaj::serving

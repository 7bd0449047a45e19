#include "serving/tree_ensemble.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace falaj::serving {
namespace {

// Hostile descriptions must not ask for absurd allocations; these bound what Compile accepts.
constexpr size_t kMaxFeatures = size_t{1} << 24;
constexpr size_t kMaxGroups = size_t{1} << 16;
constexpr size_t kMaxTotalNodes = size_t{1} << 28;
constexpr size_t kMaxCategoryWords = size_t{1} << 22;  // 16 MiB of category bit sets
// XGBoost treats a float category at or above 2^24 as invalid (it is no longer exact).
constexpr float kCategoryLimit = 16777216.0f;

// Rows per block: a block is copied feature-major once, then every tree runs over its groups
// of kGroupRows rows, whose node positions live in registers.
constexpr size_t kBlockRows = 64;
constexpr size_t kGroupRows = 8;
constexpr size_t kMaxTransposedFeatures = 4096;
// Fewer rows than a group: (rows × trees) lanes advanced together, enough independent chains
// to hide the latency of a node load.
constexpr size_t kLanes = 64;

constexpr uint32_t kFlagMissingRight = 1;
constexpr uint32_t kFlagCategorical = 2;
constexpr int kCategoryOffsetShift = 2;

auto Invalid(std::string_view what) { return MakeError(ErrorCode::kInvalidArgument, "{}", what); }

Status CheckArrays(const TreeDescription& tree) {
  const size_t n = tree.left_children.size();
  if (n == 0) return Invalid("the tree has no nodes");
  if (n > kMaxTotalNodes) return Invalid("the tree has too many nodes");
  if (tree.right_children.size() != n || tree.split_features.size() != n ||
      tree.thresholds.size() != n || tree.default_left.size() != n ||
      tree.leaf_values.size() != n) {
    return Invalid("the tree's node arrays differ in length");
  }
  if (tree.category_offsets.size() != tree.categorical_nodes.size() + 1 ||
      tree.category_offsets.front() != 0 ||
      tree.category_offsets.back() != tree.categories.size()) {
    return Invalid("the category offsets do not cover the categories");
  }
  for (size_t k = 0; k + 1 < tree.category_offsets.size(); ++k) {
    if (tree.category_offsets[k] > tree.category_offsets[k + 1]) {
      return Invalid("the category offsets go backwards");
    }
  }
  for (const int32_t category : tree.categories) {
    if (category < 0 || category >= static_cast<int32_t>(kCategoryLimit)) {
      return Invalid(fmt::format("category {} is outside [0, 2^24)", category));
    }
  }
  return Ok();
}

// The category set of each node (an index into categorical_nodes), or -1.
Result<std::vector<int32_t>> SetOfNode(const TreeDescription& tree) {
  const size_t n = tree.left_children.size();
  std::vector<int32_t> set_of_node(n, -1);
  for (size_t k = 0; k < tree.categorical_nodes.size(); ++k) {
    const int32_t node = tree.categorical_nodes[k];
    if (node < 0 || static_cast<size_t>(node) >= n || tree.left_children[node] == -1) {
      return Invalid(
          fmt::format("categorical split {} names node {}, which is not a split", k, node));
    }
    if (set_of_node[node] != -1) return Invalid(fmt::format("node {} has two category sets", node));
    set_of_node[node] = static_cast<int32_t>(k);
  }
  return set_of_node;
}

// Breadth-first order from the root, each entry a node id and its depth.
struct Placed {
  int32_t id;
  uint32_t depth;
};

std::vector<Placed> BreadthFirst(const TreeDescription& tree) {
  std::vector<Placed> order{{0, 0}};
  for (size_t i = 0; i < order.size(); ++i) {
    const auto [id, depth] = order[i];
    if (tree.left_children[id] == -1) continue;
    order.push_back({tree.left_children[id], depth + 1});
    order.push_back({tree.right_children[id], depth + 1});
  }
  return order;
}

}  // namespace

Status ValidateTree(const TreeDescription& tree, uint32_t num_features) {
  FALAJ_RETURN_IF_ERROR(CheckArrays(tree));
  FALAJ_ASSIGN_OR_RETURN(const std::vector<int32_t> set_of_node, SetOfNode(tree));
  const size_t n = tree.left_children.size();
  // Each reachable node is reached exactly once, which rules out cycles and shared children
  // and bounds the walk by the number of nodes.
  std::vector<uint8_t> reached(n, 0);
  std::vector<int32_t> pending{0};
  reached[0] = 1;
  while (!pending.empty()) {
    const int32_t id = pending.back();
    pending.pop_back();
    const int32_t left = tree.left_children[id];
    const int32_t right = tree.right_children[id];
    if (left == -1) {
      if (right != -1) return Invalid(fmt::format("leaf {} has a right child", id));
      continue;
    }
    for (const int32_t child : {left, right}) {
      if (child < 0 || static_cast<size_t>(child) >= n) {
        return Invalid(fmt::format("node {} has child {} outside the tree", id, child));
      }
      if (reached[child]) {
        return Invalid(fmt::format("node {} is reached twice (a cycle or a shared child)", child));
      }
      reached[child] = 1;
      pending.push_back(child);
    }
    if (tree.split_features[id] >= num_features) {
      return Invalid(fmt::format("node {} splits on feature {} of a {}-feature model", id,
                                 tree.split_features[id], num_features));
    }
    if (set_of_node[id] == -1 && std::isnan(tree.thresholds[id])) {
      return Invalid(fmt::format("node {} has a NaN threshold", id));
    }
  }
  return Ok();
}

Result<TreeEnsemble> TreeEnsemble::Compile(const EnsembleDescription& description) {
  if (description.num_features == 0 || description.num_features > kMaxFeatures) {
    return MakeError(ErrorCode::kInvalidArgument, "the model must have 1 to {} features, not {}",
                     kMaxFeatures, description.num_features);
  }
  if (description.num_groups == 0 || description.num_groups > kMaxGroups ||
      description.base_margins.size() != description.num_groups) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the model must have 1 to {} output groups, each with a base margin",
                     kMaxGroups);
  }
  if (description.tree_groups.size() != description.trees.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "every tree needs an output group");
  }
  TreeEnsemble ensemble;
  ensemble.num_features_ = description.num_features;
  ensemble.num_groups_ = description.num_groups;
  ensemble.transform_ = description.transform;
  ensemble.num_outputs_ =
      description.transform == OutputTransform::kArgMax ? 1 : description.num_groups;
  ensemble.base_margins_ = description.base_margins;
  for (size_t t = 0; t < description.trees.size(); ++t) {
    auto valid = ValidateTree(description.trees[t], description.num_features);
    if (!valid) return Invalid(fmt::format("tree {}: {}", t, valid.error().message));
    if (description.tree_groups[t] >= description.num_groups) {
      return Invalid(fmt::format("tree {} belongs to output group {} of {}", t,
                                 description.tree_groups[t], description.num_groups));
    }
    FALAJ_RETURN_IF_ERROR(ensemble.AddTree(description.trees[t], description.tree_groups[t]));
  }
  return ensemble;
}

Status TreeEnsemble::AddTree(const TreeDescription& tree, uint32_t group) {
  FALAJ_ASSIGN_OR_RETURN(const std::vector<int32_t> set_of_node, SetOfNode(tree));
  const std::vector<Placed> order = BreadthFirst(tree);
  if (nodes_.size() + order.size() > kMaxTotalNodes) {
    return Invalid(fmt::format("the model has more than {} nodes", kMaxTotalNodes));
  }
  // Breadth-first places keep each node's children adjacent (right = left + 1) and the top
  // levels, which every row visits, together.
  const auto root = static_cast<uint32_t>(nodes_.size());
  uint32_t depth = 0;
  uint32_t next_child = root + 1;
  for (const auto& [id, level] : order) {
    const auto place = static_cast<uint32_t>(nodes_.size());
    if (tree.left_children[id] == -1) {
      nodes_.push_back({std::numeric_limits<float>::quiet_NaN(), 0, place, 0});
      leaf_values_.push_back(tree.leaf_values[id]);
      depth = std::max(depth, level);
      continue;
    }
    Node node{tree.thresholds[id], tree.split_features[id], next_child,
              tree.default_left[id] ? 0 : kFlagMissingRight};
    next_child += 2;
    if (const int32_t set = set_of_node[id]; set != -1) {
      FALAJ_ASSIGN_OR_RETURN(const uint32_t offset, AddCategorySet(tree, set));
      node.threshold = 0.0f;
      node.flags |= kFlagCategorical | (offset << kCategoryOffsetShift);
      has_categorical_ = true;
    }
    nodes_.push_back(node);
    leaf_values_.push_back(0.0f);
  }
  trees_.push_back({root, depth, group});
  return Ok();
}

Result<uint32_t> TreeEnsemble::AddCategorySet(const TreeDescription& tree, int32_t set) {
  const auto first = tree.categories.begin() + tree.category_offsets[set];
  const auto last = tree.categories.begin() + tree.category_offsets[set + 1];
  const int32_t largest = first == last ? -1 : *std::max_element(first, last);
  const size_t words = 1 + (static_cast<size_t>(largest + 1) + 31) / 32;
  const size_t offset = category_words_.size();
  if (offset + words > kMaxCategoryWords) return Invalid("the category sets are too large");
  category_words_.resize(offset + words, 0);
  category_words_[offset] = static_cast<uint32_t>(largest + 1);
  for (auto category = first; category != last; ++category) {
    category_words_[offset + 1 + *category / 32] |= 1u << (*category % 32);
  }
  return static_cast<uint32_t>(offset);
}

bool TreeEnsemble::InCategorySet(const Node& node, float category) const {
  // XGBoost's rule: negative or too large goes left, a fraction is truncated, in the set goes
  // right.
  if (!(category >= 0.0f) || category >= kCategoryLimit) return false;
  const auto value = static_cast<uint32_t>(category);
  const uint32_t* set = category_words_.data() + (node.flags >> kCategoryOffsetShift);
  return value < set[0] && ((set[1 + value / 32] >> (value % 32)) & 1u);
}

template <bool kMissing, bool kCategorical>
uint32_t TreeEnsemble::Next(const Node& node, float x) const {
  uint32_t right;
  if (kCategorical && (node.flags & kFlagCategorical)) [[unlikely]] {
    right = (kMissing && std::isnan(x)) ? (node.flags & kFlagMissingRight)
                                        : static_cast<uint32_t>(InCategorySet(node, x));
  } else if (kMissing) {
    // `x >= threshold` is false for NaN, so the default branch is added separately; leaves
    // (NaN threshold, no flags) stay put either way.
    right = static_cast<uint32_t>(x >= node.threshold) |
            (static_cast<uint32_t>(x != x) & node.flags & kFlagMissingRight);
  } else {
    right = static_cast<uint32_t>(x >= node.threshold);
  }
  return node.left + right;
}

template <bool kMissing, bool kCategorical>
void TreeEnsemble::TraverseGroup(const float* columns, uint32_t root, uint32_t depth,
                                 uint32_t* leaves) const {
  const Node* __restrict nodes = nodes_.data();
  // Fully unrolled so the kGroupRows positions live in registers: independent chains that
  // hide each other's load latency.
  uint32_t at[kGroupRows];
#pragma GCC unroll 8
  for (size_t k = 0; k < kGroupRows; ++k) at[k] = root;
  for (uint32_t step = 0; step < depth; ++step) {
#pragma GCC unroll 8
    for (size_t k = 0; k < kGroupRows; ++k) {
      const Node& node = nodes[at[k]];
      at[k] = Next<kMissing, kCategorical>(node, columns[node.feature * kBlockRows + k]);
    }
  }
  std::copy(at, at + kGroupRows, leaves);
}

template <bool kMissing, bool kCategorical>
void TreeEnsemble::TraverseLanes(const float* const* row_of_lane, uint32_t* node_of_lane,
                                 size_t lanes, uint32_t depth) const {
  const Node* __restrict nodes = nodes_.data();
  for (uint32_t step = 0; step < depth; ++step) {
    for (size_t lane = 0; lane < lanes; ++lane) {
      const Node& node = nodes[node_of_lane[lane]];
      node_of_lane[lane] = Next<kMissing, kCategorical>(node, row_of_lane[lane][node.feature]);
    }
  }
}

template <bool kMissing, bool kCategorical>
void TreeEnsemble::PredictGroups(const float* features, size_t rows, float* columns,
                                 float* margins) const {
  // Feature-major: a group's values of one feature are adjacent, found from the node alone.
  for (size_t row = 0; row < rows; ++row) {
    for (size_t f = 0; f < num_features_; ++f) {
      columns[f * kBlockRows + row] = features[row * num_features_ + f];
    }
  }
  uint32_t leaves[kGroupRows];
  // Trees outer: each tree's nodes stay in L1 while every group runs through it, and each
  // row's margin still adds the trees in model order.
  for (const Tree& tree : trees_) {
    for (size_t group = 0; group < rows; group += kGroupRows) {
      TraverseGroup<kMissing, kCategorical>(columns + group, tree.root, tree.depth, leaves);
      for (size_t k = 0; k < kGroupRows; ++k) {
        margins[(group + k) * num_groups_ + tree.group] += leaf_values_[leaves[k]];
      }
    }
  }
}

template <bool kMissing, bool kCategorical>
void TreeEnsemble::PredictLanes(const float* features, size_t rows, float* margins) const {
  // Few rows: several trees per pass, so even one row has kLanes chains in flight.
  const size_t trees_per_pass = std::max<size_t>(1, kLanes / rows);
  const float* row_of_lane[kLanes];
  uint32_t node_of_lane[kLanes];
  for (size_t first = 0; first < trees_.size(); first += trees_per_pass) {
    const size_t count = std::min(trees_per_pass, trees_.size() - first);
    uint32_t depth = 0;
    for (size_t t = 0; t < count; ++t) {
      const Tree& tree = trees_[first + t];
      depth = std::max(depth, tree.depth);
      for (size_t row = 0; row < rows; ++row) {
        row_of_lane[t * rows + row] = features + row * num_features_;
        node_of_lane[t * rows + row] = tree.root;
      }
    }
    TraverseLanes<kMissing, kCategorical>(row_of_lane, node_of_lane, count * rows, depth);
    // Tree by tree, in model order: the float sums then round exactly as XGBoost's do.
    for (size_t t = 0; t < count; ++t) {
      const size_t group = trees_[first + t].group;
      for (size_t row = 0; row < rows; ++row) {
        margins[row * num_groups_ + group] += leaf_values_[node_of_lane[t * rows + row]];
      }
    }
  }
}

template <bool kMissing, bool kCategorical>
void TreeEnsemble::PredictBlock(const float* features, size_t rows, float* columns,
                                float* margins) const {
  const size_t grouped = columns == nullptr ? 0 : rows / kGroupRows * kGroupRows;
  if (grouped > 0) PredictGroups<kMissing, kCategorical>(features, grouped, columns, margins);
  if (grouped < rows) {
    PredictLanes<kMissing, kCategorical>(features + grouped * num_features_, rows - grouped,
                                         margins + grouped * num_groups_);
  }
}

void TreeEnsemble::Predict(const float* features, size_t rows, float* outputs) const {
  std::vector<float> margins(std::min(rows, kBlockRows) * num_groups_);
  // Wide rows are not transposed: their copy would not stay in cache.
  std::vector<float> columns;
  if (rows >= kGroupRows && num_features_ <= kMaxTransposedFeatures) {
    columns.resize(num_features_ * kBlockRows);
  }
  float* transposed = columns.empty() ? nullptr : columns.data();
  for (size_t begin = 0; begin < rows; begin += kBlockRows) {
    const size_t count = std::min(kBlockRows, rows - begin);
    const float* block = features + begin * num_features_;
    bool missing = false;
    for (size_t i = 0; i < count * num_features_; ++i) missing |= std::isnan(block[i]);
    for (size_t row = 0; row < count; ++row) {
      std::copy(base_margins_.begin(), base_margins_.end(), margins.begin() + row * num_groups_);
    }
    if (has_categorical_) {
      missing ? PredictBlock<true, true>(block, count, transposed, margins.data())
              : PredictBlock<false, true>(block, count, transposed, margins.data());
    } else {
      missing ? PredictBlock<true, false>(block, count, transposed, margins.data())
              : PredictBlock<false, false>(block, count, transposed, margins.data());
    }
    Transform(margins.data(), count, outputs + begin * num_outputs_);
  }
}

void TreeEnsemble::Transform(float* margins, size_t rows, float* outputs) const {
  const size_t groups = num_groups_;
  const size_t values = rows * groups;
  switch (transform_) {
    case OutputTransform::kIdentity:
      std::copy(margins, margins + values, outputs);
      return;
    case OutputTransform::kSigmoid:
      for (size_t i = 0; i < values; ++i) {
        // XGBoost's float sigmoid, clamped so expf cannot overflow.
        const float denominator = std::exp(std::min(-margins[i], 88.7f)) + 1.0f + 1e-16f;
        outputs[i] = 1.0f / denominator;
      }
      return;
    case OutputTransform::kExp:
      for (size_t i = 0; i < values; ++i) outputs[i] = std::exp(margins[i]);
      return;
    case OutputTransform::kHinge:
      for (size_t i = 0; i < values; ++i) outputs[i] = margins[i] > 0.0f ? 1.0f : 0.0f;
      return;
    case OutputTransform::kSoftmax:
      for (size_t row = 0; row < rows; ++row) {
        const float* margin = margins + row * groups;
        float* out = outputs + row * groups;
        float largest = margin[0];
        for (size_t g = 1; g < groups; ++g) largest = std::fmax(margin[g], largest);
        // XGBoost sums the exponentials in double and divides in float.
        double sum = 0.0;
        for (size_t g = 0; g < groups; ++g) {
          out[g] = std::exp(margin[g] - largest);
          sum += out[g];
        }
        for (size_t g = 0; g < groups; ++g) out[g] /= static_cast<float>(sum);
      }
      return;
    case OutputTransform::kArgMax:
      for (size_t row = 0; row < rows; ++row) {
        const float* margin = margins + row * groups;
        size_t best = 0;
        for (size_t g = 1; g < groups; ++g) {
          if (margin[g] > margin[best]) best = g;
        }
        outputs[row] = static_cast<float>(best);
      }
      return;
  }
}

}  // namespace falaj::serving

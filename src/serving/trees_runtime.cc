// The `trees` runtime: an XGBoost model (JSON or UBJ, saved by XGBoost 1.x to 3.x) compiled into
// our TreeEnsemble. This file holds what XGBoost means by a model: which objectives there are,
// how their base_score becomes a margin and how the margin becomes an output, and how DART
// weighs its trees. What it cannot reproduce exactly — vector-leaf and multi-target models,
// objectives not listed below, DART with per-class base scores — it refuses with UNIMPLEMENTED,
// so that the "auto" choice falls back to the library. Loaded models are immutable and their
// Predict is thread-safe.
#include <algorithm>
#include <cmath>

#include "serving/model_runtime.h"
#include "serving/tree_ensemble.h"
#include "serving/xgboost_model_reader.h"

namespace falaj::serving {
namespace {

// How base_score (stored in the objective's output space) becomes a margin: XGBoost's
// ProbToMargin, computed in float as XGBoost does.
enum class Link { kIdentity, kLogit, kLog };

struct Objective {
  std::string_view name;
  Link link;
  OutputTransform transform;
  bool multiclass;
};

constexpr Objective kObjectives[] = {
    {"binary:logistic", Link::kLogit, OutputTransform::kSigmoid, false},
    {"reg:logistic", Link::kLogit, OutputTransform::kSigmoid, false},
    {"binary:logitraw", Link::kIdentity, OutputTransform::kIdentity, false},
    {"binary:hinge", Link::kIdentity, OutputTransform::kHinge, false},
    {"reg:squarederror", Link::kIdentity, OutputTransform::kIdentity, false},
    {"reg:linear", Link::kIdentity, OutputTransform::kIdentity, false},
    {"reg:squaredlogerror", Link::kIdentity, OutputTransform::kIdentity, false},
    {"reg:pseudohubererror", Link::kIdentity, OutputTransform::kIdentity, false},
    {"reg:absoluteerror", Link::kIdentity, OutputTransform::kIdentity, false},
    {"reg:quantileerror", Link::kIdentity, OutputTransform::kIdentity, false},
    {"count:poisson", Link::kLog, OutputTransform::kExp, false},
    {"reg:gamma", Link::kLog, OutputTransform::kExp, false},
    {"reg:tweedie", Link::kLog, OutputTransform::kExp, false},
    {"survival:cox", Link::kLog, OutputTransform::kExp, false},
    {"rank:pairwise", Link::kIdentity, OutputTransform::kIdentity, false},
    {"rank:ndcg", Link::kIdentity, OutputTransform::kIdentity, false},
    {"rank:map", Link::kIdentity, OutputTransform::kIdentity, false},
    {"multi:softprob", Link::kIdentity, OutputTransform::kSoftmax, true},
    {"multi:softmax", Link::kIdentity, OutputTransform::kArgMax, true},
};

auto Unimplemented(std::string_view what) {
  return MakeError(ErrorCode::kUnimplemented, "the trees runtime does not serve {}", what);
}

Result<float> ToMargin(Link link, float base_score, std::string_view objective) {
  switch (link) {
    case Link::kIdentity:
      return base_score;
    case Link::kLogit:
      if (!(base_score > 0.0f && base_score < 1.0f)) break;
      return -std::log(1.0f / base_score - 1.0f);
    case Link::kLog:
      if (!(base_score > 0.0f)) break;
      return std::log(base_score);
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "XGBoost model: base_score {} is outside the range of objective '{}'",
                   base_score, objective);
}

// DART: XGBoost's in-place predict adds, per tree, (fl(base + leaf) - base_0) * weight, where
// base is the tree's group margin and base_0 group 0's. Folding that into each leaf value, in
// the same float operations, makes DART an ordinary sum of leaves, rounded the same way.
void WeighDartTrees(const std::vector<float>& weights, const std::vector<float>& margins,
                    EnsembleDescription& ensemble) {
  for (size_t t = 0; t < ensemble.trees.size(); ++t) {
    const float base = margins[ensemble.tree_groups[t]];
    for (float& leaf : ensemble.trees[t].leaf_values) {
      const float with_base = base + leaf;
      const float without_base = with_base - margins[0];
      leaf = without_base * weights[t];
    }
  }
}

Result<EnsembleDescription> Describe(XGBoostModel model) {
  if (model.leaf_vector_size > 1) {
    return Unimplemented(
        "vector-leaf trees (multi_strategy=\"multi_output_tree\"); the xgboost runtime may");
  }
  if (model.num_target > 1) return Unimplemented("multi-target models");
  const auto objective =
      std::find_if(std::begin(kObjectives), std::end(kObjectives),
                   [&](const Objective& known) { return known.name == model.objective; });
  if (objective == std::end(kObjectives)) {
    return Unimplemented(fmt::format("objective '{}'", model.objective.substr(0, 60)));
  }
  if (objective->multiclass != (model.num_class >= 2)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "XGBoost model: objective '{}' does not fit num_class {}", objective->name,
                     model.num_class);
  }
  EnsembleDescription ensemble;
  ensemble.num_features = model.num_features;
  ensemble.num_groups = std::max(model.num_class, 1u);
  ensemble.transform = objective->transform;
  for (uint32_t group = 0; group < ensemble.num_groups; ++group) {
    const float base = model.base_score[model.base_score.size() == 1 ? 0 : group];
    FALAJ_ASSIGN_OR_RETURN(const float margin, ToMargin(objective->link, base, model.objective));
    ensemble.base_margins.push_back(margin);
  }
  ensemble.trees = std::move(model.trees);
  ensemble.tree_groups = std::move(model.tree_groups);
  if (model.booster == "dart") {
    const auto& margins = ensemble.base_margins;
    if (std::any_of(margins.begin(), margins.end(), [&](float m) { return m != margins[0]; })) {
      // XGBoost's in-place predict subtracts group 0's base from every group and its DMatrix
      // predict does not; with per-class bases the two disagree, so neither is "the" answer.
      return Unimplemented("DART models with a different base score per class");
    }
    WeighDartTrees(model.tree_weights, margins, ensemble);
  }
  return ensemble;
}

class TreesModel final : public LoadedModel {
 public:
  explicit TreesModel(TreeEnsemble ensemble) : ensemble_(std::move(ensemble)) {}

  size_t num_features() const override { return ensemble_.num_features(); }
  size_t num_outputs() const override { return ensemble_.num_outputs(); }
  bool accepts_missing() const override { return true; }
  std::string_view runtime() const override { return "trees"; }

  Status Predict(std::span<const float> features, size_t rows,
                 std::span<float> outputs) const override {
    const size_t width = ensemble_.num_features();
    const size_t per_row = ensemble_.num_outputs();
    // Divisions, not products: a hostile row count cannot overflow them.
    if (features.size() % width != 0 || features.size() / width != rows ||
        outputs.size() % per_row != 0 || outputs.size() / per_row != rows) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "expected {} rows of {} features and room for {} outputs each, got {} "
                       "values and {} outputs",
                       rows, width, per_row, features.size(), outputs.size());
    }
    ensemble_.Predict(features.data(), rows, outputs.data());
    return Ok();
  }

 private:
  const TreeEnsemble ensemble_;
};

}  // namespace

Result<std::unique_ptr<LoadedModel>> LoadTreesModel(std::string_view artifact) {
  FALAJ_ASSIGN_OR_RETURN(XGBoostModel model, ReadXGBoostModel(artifact));
  FALAJ_ASSIGN_OR_RETURN(const EnsembleDescription description, Describe(std::move(model)));
  FALAJ_ASSIGN_OR_RETURN(TreeEnsemble ensemble, TreeEnsemble::Compile(description));
  return std::make_unique<TreesModel>(std::move(ensemble));
}

}  // namespace falaj::serving

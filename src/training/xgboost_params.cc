// Validation of XGBoost parameters from a training spec, and which direction of each evaluation
// metric is better. XGBoost 1.7 warns about (and ignores) unknown parameters instead of failing,
// so a typo would silently train a different model: hence an explicit table.
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "training/trainer.h"

namespace falaj::training {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

enum class Kind { kReal, kInteger, kChoice };

struct ParamRule {
  Kind kind;
  double min = 0;
  double max = kInf;
  bool min_exclusive = false;
  std::set<std::string> choices{};
};

const std::map<std::string, ParamRule, std::less<>>& Rules() {
  static const auto* rules = new std::map<std::string, ParamRule, std::less<>>{
      {"eta", {Kind::kReal, 0, kInf}},
      {"learning_rate", {Kind::kReal, 0, kInf}},
      {"gamma", {Kind::kReal, 0, kInf}},
      {"min_split_loss", {Kind::kReal, 0, kInf}},
      {"max_depth", {Kind::kInteger, 0, 64}},
      {"min_child_weight", {Kind::kReal, 0, kInf}},
      {"max_delta_step", {Kind::kReal, 0, kInf}},
      {"subsample", {Kind::kReal, 0, 1, true}},
      {"colsample_bytree", {Kind::kReal, 0, 1, true}},
      {"colsample_bylevel", {Kind::kReal, 0, 1, true}},
      {"colsample_bynode", {Kind::kReal, 0, 1, true}},
      {"lambda", {Kind::kReal, 0, kInf}},
      {"reg_lambda", {Kind::kReal, 0, kInf}},
      {"alpha", {Kind::kReal, 0, kInf}},
      {"reg_alpha", {Kind::kReal, 0, kInf}},
      {"scale_pos_weight", {Kind::kReal, 0, kInf, true}},
      {"base_score", {Kind::kReal, -kInf, kInf}},
      {"max_leaves", {Kind::kInteger, 0, kInf}},
      {"max_bin", {Kind::kInteger, 2, kInf}},
      {"num_parallel_tree", {Kind::kInteger, 1, 1000}},
      {"max_cat_to_onehot", {Kind::kInteger, 1, kInf}},
      {"seed", {Kind::kInteger, 0, 4294967295.0}},
      {"rate_drop", {Kind::kReal, 0, 1}},
      {"skip_drop", {Kind::kReal, 0, 1}},
      {"tree_method", {Kind::kChoice, 0, 0, false, {"auto", "exact", "approx", "hist"}}},
      {"grow_policy", {Kind::kChoice, 0, 0, false, {"depthwise", "lossguide"}}},
      // gblinear is left out: the trees runtime could not serve its models.
      {"booster", {Kind::kChoice, 0, 0, false, {"gbtree", "dart"}}},
      {"sample_type", {Kind::kChoice, 0, 0, false, {"uniform", "weighted"}}},
      {"normalize_type", {Kind::kChoice, 0, 0, false, {"tree", "forest"}}},
      {"eval_metric",
       {Kind::kChoice,
        0,
        0,
        false,
        {"rmse", "rmsle", "mae", "mape", "logloss", "error", "merror", "mlogloss", "auc", "aucpr",
         "ndcg", "map", "ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "map@5", "map@10",
         "poisson-nloglik"}}},
  };
  return *rules;
}

Result<std::string> CheckValue(const std::string& name, const ParamRule& rule,
                               const nlohmann::json& value) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, "params.{}: {}", name, why);
  };
  if (rule.kind == Kind::kChoice) {
    if (!value.is_string() || !rule.choices.contains(value.get<std::string>())) {
      std::string list;
      for (const auto& choice : rule.choices) list += (list.empty() ? "" : ", ") + choice;
      return bad("must be one of " + list);
    }
    return value.get<std::string>();
  }
  std::optional<double> number;
  if (value.is_number()) {
    number = value.get<double>();
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    size_t used = 0;
    try {
      number = std::stod(text, &used);
    } catch (...) {
      number.reset();
    }
    if (used != text.size()) number.reset();
  }
  if (!number || !std::isfinite(*number)) return bad("must be a finite number");
  if (rule.kind == Kind::kInteger && std::floor(*number) != *number) {
    return bad("must be a whole number");
  }
  const bool below = rule.min_exclusive ? *number <= rule.min : *number < rule.min;
  if (below || *number > rule.max) {
    return bad(
        fmt::format("must be in {}{}, {}]", rule.min_exclusive ? "(" : "[", rule.min, rule.max));
  }
  if (rule.kind == Kind::kInteger) return fmt::format("{}", static_cast<int64_t>(*number));
  return fmt::format("{}", *number);
}

}  // namespace

Result<std::map<std::string, std::string>> ValidateXGBoostParams(const nlohmann::json& params) {
  std::map<std::string, std::string> out;
  if (params.is_null()) return out;
  if (!params.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "params must be an object");
  }
  for (const auto& [name, value] : params.items()) {
    if (name == "objective" || name == "num_class" || name == "nthread" ||
        name == "num_boost_round") {
      return MakeError(ErrorCode::kInvalidArgument,
                       "params.{}: set it at the top level of the spec, not in params", name);
    }
    auto rule = Rules().find(name);
    if (rule == Rules().end()) {
      return MakeError(ErrorCode::kInvalidArgument, "params.{}: unknown XGBoost parameter", name);
    }
    FALAJ_ASSIGN_OR_RETURN(out[name], CheckValue(name, rule->second, value));
  }
  return out;
}

std::string DefaultEvalMetric(std::string_view objective) {
  if (objective.starts_with("binary:")) return "logloss";
  if (objective.starts_with("multi:")) return "mlogloss";
  if (objective.starts_with("rank:")) return "ndcg";
  return "rmse";
}

bool HigherIsBetter(std::string_view metric) {
  // "mape" is an error, unlike "map" (mean average precision) and "map@k".
  return metric.starts_with("auc") || metric.starts_with("ndcg") || metric == "map" ||
         metric.starts_with("map@") || metric == "accuracy" || metric == "precision" ||
         metric == "recall" || metric == "f1" || metric == "r2";
}

}  // namespace falaj::training

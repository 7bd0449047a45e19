#include "training/training_spec.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/encoding.h"
#include "common/resource_names.h"
#include "data/yaml_json.h"
#include "training/distributed_xgboost.h"
#include "training/evaluation.h"

namespace falaj::training {
namespace {

using nlohmann::json;

Error Bad(std::string_view field, std::string_view why) {
  return Error{ErrorCode::kInvalidArgument, fmt::format("{}: {}", field, why)};
}

Status OnlyKeys(const json& object, std::string_view where, const std::set<std::string>& allowed) {
  if (!object.is_object()) return std::unexpected(Bad(where, "must be an object"));
  for (const auto& [key, value] : object.items()) {
    if (!allowed.contains(key)) {
      const std::string field = where.empty() ? key : fmt::format("{}.{}", where, key);
      return std::unexpected(Bad(field, "unknown field"));
    }
  }
  return Ok();
}

Result<std::string> Text(const json& object, const std::string& key, std::string_view field,
                         bool required) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) {
    if (required) return std::unexpected(Bad(field, "is required"));
    return std::string();
  }
  if (!found->is_string() || found->get<std::string>().empty()) {
    return std::unexpected(Bad(field, "must be a non-empty string"));
  }
  return found->get<std::string>();
}

Result<int64_t> Whole(const json& object, const std::string& key, std::string_view field,
                      int64_t fallback, int64_t min, int64_t max) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return fallback;
  if (!found->is_number_integer() || found->get<int64_t>() < min || found->get<int64_t>() > max) {
    return std::unexpected(Bad(field, fmt::format("must be a whole number in [{}, {}]", min, max)));
  }
  return found->get<int64_t>();
}

Result<double> Fraction(const json& object, const std::string& key, std::string_view field,
                        double fallback) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return fallback;
  if (!found->is_number() || !(found->get<double>() >= 0 && found->get<double>() < 1)) {
    return std::unexpected(Bad(field, "must be a number in [0, 1)"));
  }
  return found->get<double>();
}

Result<std::vector<std::string>> Names(const json& object, const std::string& key) {
  std::vector<std::string> out;
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return out;
  if (!found->is_array()) return std::unexpected(Bad(key, "must be a list of strings"));
  for (size_t i = 0; i < found->size(); ++i) {
    if (!(*found)[i].is_string() || (*found)[i].get<std::string>().empty()) {
      return std::unexpected(Bad(fmt::format("{}[{}]", key, i), "must be a non-empty string"));
    }
    if (std::find(out.begin(), out.end(), (*found)[i].get<std::string>()) != out.end()) {
      return std::unexpected(Bad(fmt::format("{}[{}]", key, i), "is listed twice"));
    }
    out.push_back((*found)[i].get<std::string>());
  }
  return out;
}

Status ParseData(const json& data, TrainingSpec& spec) {
  if (!data.is_object()) return std::unexpected(Bad("data", "is required and must be an object"));
  if (data.contains("feature_service")) {
    FALAJ_RETURN_IF_ERROR(OnlyKeys(data, "data", {"feature_service", "entities"}));
    FALAJ_ASSIGN_OR_RETURN(spec.feature_service,
                           Text(data, "feature_service", "data.feature_service", true));
    const json entities = data.value("entities", json());
    if (!entities.is_object()) {
      return std::unexpected(Bad("data.entities", "is required and must be an object"));
    }
    FALAJ_RETURN_IF_ERROR(
        OnlyKeys(entities, "data.entities", {"dataset", "version", "timestamp_column"}));
    FALAJ_ASSIGN_OR_RETURN(spec.entity_dataset,
                           Text(entities, "dataset", "data.entities.dataset", true));
    FALAJ_ASSIGN_OR_RETURN(spec.entity_version,
                           Whole(entities, "version", "data.entities.version", 0, 0, INT64_MAX));
    FALAJ_ASSIGN_OR_RETURN(
        auto column, Text(entities, "timestamp_column", "data.entities.timestamp_column", false));
    if (!column.empty()) spec.entity_timestamp_column = column;
    return Ok();
  }
  FALAJ_RETURN_IF_ERROR(OnlyKeys(data, "data", {"dataset", "version"}));
  FALAJ_ASSIGN_OR_RETURN(spec.dataset, Text(data, "dataset", "data.dataset", true));
  FALAJ_ASSIGN_OR_RETURN(spec.dataset_version,
                         Whole(data, "version", "data.version", 0, 0, INT64_MAX));
  return Ok();
}

Status ParseSplit(const json& root, TrainingSpec& spec) {
  const json split = root.value("split", json::object());
  FALAJ_RETURN_IF_ERROR(OnlyKeys(
      split, "split", {"method", "validation_fraction", "test_fraction", "seed", "time_column"}));
  FALAJ_ASSIGN_OR_RETURN(auto method, Text(split, "method", "split.method", false));
  if (method == "random") spec.split_method = SplitMethod::kRandom;
  if (method == "stratified") spec.split_method = SplitMethod::kStratified;
  if (method == "time") spec.split_method = SplitMethod::kTime;
  if (!method.empty() && !spec.split_method) {
    return std::unexpected(Bad("split.method", "must be random, stratified or time"));
  }
  FALAJ_ASSIGN_OR_RETURN(spec.split.validation_fraction,
                         Fraction(split, "validation_fraction", "split.validation_fraction", 0.2));
  FALAJ_ASSIGN_OR_RETURN(spec.split.test_fraction,
                         Fraction(split, "test_fraction", "split.test_fraction", 0.2));
  if (spec.split.validation_fraction + spec.split.test_fraction >= 1) {
    return std::unexpected(
        Bad("split.test_fraction", "validation_fraction + test_fraction must be below 1"));
  }
  FALAJ_ASSIGN_OR_RETURN(auto seed, Whole(split, "seed", "split.seed", 42, 0, INT64_MAX));
  spec.split.seed = static_cast<uint64_t>(seed);
  FALAJ_ASSIGN_OR_RETURN(spec.split.time_column,
                         Text(split, "time_column", "split.time_column", false));
  return Ok();
}

Status ParseTrainer(const json& root, TrainingSpec& spec) {
  FALAJ_ASSIGN_OR_RETURN(spec.trainer, Text(root, "trainer", "trainer", true));
  const json params = root.value("params", json::object());
  if (spec.trainer == "xgboost") {
    FALAJ_ASSIGN_OR_RETURN(spec.objective, Text(root, "objective", "objective", true));
    static const std::map<std::string, Task> kObjectives = {{"binary:logistic", Task::kBinary},
                                                            {"multi:softprob", Task::kMulticlass},
                                                            {"reg:squarederror", Task::kRegression},
                                                            {"rank:pairwise", Task::kRanking},
                                                            {"rank:ndcg", Task::kRanking}};
    auto objective = kObjectives.find(spec.objective);
    if (objective == kObjectives.end()) {
      return std::unexpected(Bad("objective",
                                 "must be binary:logistic, multi:softprob, "
                                 "reg:squarederror, rank:pairwise or rank:ndcg"));
    }
    spec.task = objective->second;
    FALAJ_ASSIGN_OR_RETURN(spec.xgboost_params, ValidateXGBoostParams(params));
    FALAJ_ASSIGN_OR_RETURN(auto rounds,
                           Whole(root, "num_boost_round", "num_boost_round", 100, 1, 100000));
    spec.num_boost_round = static_cast<int>(rounds);
    FALAJ_ASSIGN_OR_RETURN(
        auto patience, Whole(root, "early_stopping_rounds", "early_stopping_rounds", 0, 0, 100000));
    spec.early_stopping_rounds = static_cast<int>(patience);
    if (spec.early_stopping_rounds > 0 && spec.split.validation_fraction <= 0) {
      return std::unexpected(
          Bad("early_stopping_rounds", "needs a validation split (split.validation_fraction > 0)"));
    }
  } else if (spec.trainer == "linear" || spec.trainer == "logistic") {
    for (const char* key : {"objective", "num_boost_round", "early_stopping_rounds", "num_class"}) {
      if (root.contains(key)) return std::unexpected(Bad(key, "applies to trainer xgboost only"));
    }
    FALAJ_RETURN_IF_ERROR(OnlyKeys(params, "params", {"l2"}));
    const double fallback = spec.trainer == "logistic" ? 1e-4 : 0.0;
    auto l2 = params.find("l2");
    spec.l2 = l2 == params.end() ? fallback : -1;
    if (l2 != params.end() && l2->is_number() && l2->get<double>() >= 0 &&
        std::isfinite(l2->get<double>())) {
      spec.l2 = l2->get<double>();
    }
    if (spec.l2 < 0) return std::unexpected(Bad("params.l2", "must be a number >= 0"));
    spec.task = spec.trainer == "logistic" ? Task::kBinary : Task::kRegression;
  } else {
    return std::unexpected(Bad("trainer", "must be xgboost, linear or logistic"));
  }
  FALAJ_ASSIGN_OR_RETURN(auto classes, Whole(root, "num_class", "num_class", 0, 0, 10000));
  spec.num_class = static_cast<int>(classes);
  if (spec.task == Task::kMulticlass && spec.num_class < 2) {
    return std::unexpected(Bad("num_class", "multi:softprob needs num_class >= 2"));
  }
  if (spec.task != Task::kMulticlass && spec.num_class != 0) {
    return std::unexpected(Bad("num_class", "applies to multi:softprob only"));
  }
  FALAJ_ASSIGN_OR_RETURN(spec.group, Text(root, "group", "group", spec.task == Task::kRanking));
  if (spec.task != Task::kRanking && !spec.group.empty()) {
    return std::unexpected(Bad("group", "applies to ranking objectives only"));
  }
  return Ok();
}

}  // namespace

Result<TrainingSpec> ParseTrainingSpec(const json& root) {
  if (!root.is_object()) return std::unexpected(Bad("spec", "must be an object"));
  FALAJ_RETURN_IF_ERROR(
      OnlyKeys(root, "",
               {"data", "label", "features", "group", "split", "trainer", "objective", "num_class",
                "params", "num_boost_round", "early_stopping_rounds", "metrics", "experiment",
                "register", "distributed"}));
  TrainingSpec spec;
  FALAJ_RETURN_IF_ERROR(ParseData(root.value("data", json()), spec));
  FALAJ_ASSIGN_OR_RETURN(spec.label, Text(root, "label", "label", true));
  FALAJ_ASSIGN_OR_RETURN(spec.features, Names(root, "features"));
  FALAJ_RETURN_IF_ERROR(ParseSplit(root, spec));
  FALAJ_RETURN_IF_ERROR(ParseTrainer(root, spec));
  if (root.contains("distributed")) {
    const json& distributed = root["distributed"];
    FALAJ_RETURN_IF_ERROR(OnlyKeys(distributed, "distributed", {"workers"}));
    if (spec.trainer != "xgboost") {
      return std::unexpected(Bad("distributed", "applies to trainer xgboost only"));
    }
    if (!distributed.contains("workers")) {
      return std::unexpected(Bad("distributed.workers", "is required"));
    }
    FALAJ_ASSIGN_OR_RETURN(auto workers, Whole(distributed, "workers", "distributed.workers", 0,
                                               kMinDistributedWorkers, kMaxDistributedWorkers));
    spec.distributed_workers = static_cast<int>(workers);
  }
  FALAJ_ASSIGN_OR_RETURN(spec.metrics, Names(root, "metrics"));
  FALAJ_RETURN_IF_ERROR(ValidateMetrics(spec.task, spec.metrics));
  if (spec.metrics.empty()) spec.metrics = DefaultMetrics(spec.task);
  FALAJ_ASSIGN_OR_RETURN(auto experiment, Text(root, "experiment", "experiment", false));
  if (!experiment.empty()) spec.experiment = experiment;
  if (root.contains("register")) {
    const json& registration = root["register"];
    FALAJ_RETURN_IF_ERROR(OnlyKeys(registration, "register", {"model", "alias"}));
    FALAJ_ASSIGN_OR_RETURN(spec.register_model,
                           Text(registration, "model", "register.model", true));
    if (auto status = ValidateName("register.model", spec.register_model); !status) {
      return std::unexpected(status.error());
    }
    FALAJ_ASSIGN_OR_RETURN(spec.register_alias,
                           Text(registration, "alias", "register.alias", false));
  }
  spec.canonical = root;  // nlohmann::json objects keep their keys sorted: dump() is canonical
  spec.digest = Sha256Hex(spec.canonical.dump());
  return spec;
}

Result<TrainingSpec> ParseTrainingSpecText(std::string_view text) {
  FALAJ_ASSIGN_OR_RETURN(auto json, data::YamlToJson(text));
  return ParseTrainingSpec(json);
}

XGBoostConfig XGBoostConfigOf(const TrainingSpec& spec) {
  XGBoostConfig config;
  config.objective = spec.objective;
  config.num_class = spec.task == Task::kMulticlass ? spec.num_class : 0;
  config.params = spec.xgboost_params;
  config.num_boost_round = spec.num_boost_round;
  config.early_stopping_rounds = spec.early_stopping_rounds;
  return config;
}

}  // namespace falaj::training

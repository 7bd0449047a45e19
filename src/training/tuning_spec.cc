#include "training/tuning_spec.h"

#include <cmath>

#include "common/json_fields.h"

namespace falaj::training {
namespace {

using Json = nlohmann::json;

// Prefixes a json_fields error with the object it came from: field 'min_resource' → 'asha.…'.
Status InObject(Status status, std::string_view object) {
  if (status || object.empty()) return status;
  std::string message = status.error().message;
  if (auto quote = message.find('\''); quote != std::string::npos) {
    message.insert(quote + 1, std::string(object) + ".");
  }
  return MakeError(status.error().code, std::move(message));
}

Result<int> IntIn(const Json& object, std::string_view field, int fallback, int low, int high,
                  std::string_view parent) {
  auto value = json::OptionalInt(object, field);
  if (!value) return std::unexpected(InObject(std::unexpected(value.error()), parent).error());
  if (!value->has_value()) return fallback;
  if (**value < low || **value > high) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}{}{}' must be between {} and {}",
                     parent, parent.empty() ? "" : ".", field, low, high);
  }
  return static_cast<int>(**value);
}

Status ParseAsha(const Json& spec, TuningSpec& parsed) {
  auto asha = spec.find("asha");
  if (asha == spec.end() || asha->is_null()) {
    if (parsed.algorithm == Algorithm::kAsha) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "field 'asha' is required for algorithm asha (max_resource at least)");
    }
    return Ok();
  }
  if (!asha->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "field 'asha' must be an object");
  }
  FALAJ_RETURN_IF_ERROR(InObject(
      json::RejectUnknownFields(*asha, {"min_resource", "reduction_factor", "max_resource"}),
      "asha"));
  constexpr int kBig = 1 << 30;
  FALAJ_ASSIGN_OR_RETURN(parsed.asha.min_resource,
                         IntIn(*asha, "min_resource", 1, 1, kBig, "asha"));
  FALAJ_ASSIGN_OR_RETURN(parsed.asha.reduction_factor,
                         IntIn(*asha, "reduction_factor", 3, 2, 1000, "asha"));
  FALAJ_ASSIGN_OR_RETURN(parsed.asha.max_resource,
                         IntIn(*asha, "max_resource", 0, 1, kBig, "asha"));
  if (parsed.algorithm == Algorithm::kAsha) return ValidateAshaConfig(parsed.asha);
  return Ok();
}

}  // namespace

Result<TuningSpec> ParseTuningSpec(const nlohmann::json& spec) {
  if (!spec.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "the tuning spec must be a JSON object");
  }
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      spec, {"space", "algorithm", "max_trials", "max_seconds", "parallelism", "seed", "asha",
             "metric", "direction", "experiment", "train"}));
  TuningSpec parsed;
  auto space = spec.find("space");
  FALAJ_ASSIGN_OR_RETURN(parsed.space, SearchSpace::Parse(space == spec.end() ? Json() : *space));

  FALAJ_ASSIGN_OR_RETURN(auto algorithm, json::OptionalString(spec, "algorithm"));
  if (algorithm && *algorithm == "asha") {
    parsed.algorithm = Algorithm::kAsha;
  } else if (algorithm && *algorithm != "random") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'algorithm' is '{}'; expected random or asha", *algorithm);
  }
  FALAJ_ASSIGN_OR_RETURN(parsed.max_trials, IntIn(spec, "max_trials", 20, 1, kMaxTrialsLimit, ""));
  FALAJ_ASSIGN_OR_RETURN(parsed.parallelism, IntIn(spec, "parallelism", 1, 1, kMaxParallelism, ""));
  if (auto seconds = spec.find("max_seconds"); seconds != spec.end() && !seconds->is_null()) {
    if (!seconds->is_number() || !(seconds->get<double>() > 0) ||
        !std::isfinite(seconds->get<double>())) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "field 'max_seconds' must be a positive number of seconds");
    }
    parsed.max_seconds = seconds->get<double>();
  }
  if (auto seed = spec.find("seed"); seed != spec.end() && !seed->is_null()) {
    if (!seed->is_number_integer() || (!seed->is_number_unsigned() && seed->get<int64_t>() < 0)) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'seed' must be a non-negative integer");
    }
    parsed.seed = seed->get<uint64_t>();
  }
  FALAJ_RETURN_IF_ERROR(ParseAsha(spec, parsed));

  FALAJ_ASSIGN_OR_RETURN(parsed.metric, json::OptionalString(spec, "metric"));
  if (parsed.metric && parsed.metric->empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "field 'metric' must not be empty");
  }
  FALAJ_ASSIGN_OR_RETURN(auto direction, json::OptionalString(spec, "direction"));
  if (direction) {
    if (*direction != "maximize" && *direction != "minimize") {
      return MakeError(ErrorCode::kInvalidArgument,
                       "field 'direction' is '{}'; expected maximize or minimize", *direction);
    }
    parsed.higher_is_better = *direction == "maximize";
  }
  FALAJ_ASSIGN_OR_RETURN(auto experiment, json::OptionalString(spec, "experiment"));
  parsed.experiment = experiment.value_or("");
  if (auto train = spec.find("train"); train != spec.end() && !train->is_null()) {
    if (!train->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'train' must be an object");
    }
    parsed.train = *train;
  }
  return parsed;
}

StudyOptions MakeStudyOptions(const TuningSpec& spec, const TrialRunner& runner) {
  StudyOptions options;
  options.algorithm = spec.algorithm;
  options.max_trials = spec.max_trials;
  options.max_seconds = spec.max_seconds;
  options.parallelism = spec.parallelism;
  options.seed = spec.seed;
  options.asha = spec.asha;
  options.higher_is_better = spec.higher_is_better.value_or(runner.HigherIsBetter());
  options.metric = spec.metric.value_or(runner.MetricName());
  return options;
}

}  // namespace falaj::training

#include "training/search_space.h"

#include <algorithm>
#include <cmath>

namespace falaj::training {
namespace {

using nlohmann::json;

Result<double> Bound(const json& spec, const std::string& path, const char* field) {
  auto found = spec.find(field);
  if (found == spec.end() || found->is_null()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}.{}' is required", path, field);
  }
  if (!found->is_number() || !std::isfinite(found->get<double>())) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}.{}' must be a finite number, not {}",
                     path, field, found->dump());
  }
  return found->get<double>();
}

Status CheckFields(const json& spec, const std::string& path,
                   std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : spec.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return MakeError(ErrorCode::kInvalidArgument, "unknown field '{}.{}'", path, key);
    }
  }
  return Ok();
}

Result<ParamSpec> ParseParam(const std::string& name, const json& spec) {
  const std::string path = "space." + name;
  if (!spec.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be an object, not {}", path,
                     spec.type_name());
  }
  auto type = spec.find("type");
  if (type == spec.end() || !type->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field '{}.type' is required: uniform, loguniform, int or categorical", path);
  }
  ParamSpec param;
  param.name = name;
  const std::string kind = type->get<std::string>();
  if (kind == "categorical") {
    param.kind = ParamKind::kCategorical;
    FALAJ_RETURN_IF_ERROR(CheckFields(spec, path, {"type", "values"}));
    auto values = spec.find("values");
    if (values == spec.end() || !values->is_array() || values->empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "field '{}.values' must be a non-empty list",
                       path);
    }
    param.values.assign(values->begin(), values->end());
    return param;
  }
  if (kind == "uniform") {
    param.kind = ParamKind::kUniform;
  } else if (kind == "loguniform") {
    param.kind = ParamKind::kLogUniform;
  } else if (kind == "int") {
    param.kind = ParamKind::kInt;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field '{}.type' is '{}'; expected uniform, loguniform, int or categorical",
                     path, kind);
  }
  FALAJ_RETURN_IF_ERROR(param.kind == ParamKind::kInt
                            ? CheckFields(spec, path, {"type", "low", "high", "log"})
                            : CheckFields(spec, path, {"type", "low", "high"}));
  FALAJ_ASSIGN_OR_RETURN(param.low, Bound(spec, path, "low"));
  FALAJ_ASSIGN_OR_RETURN(param.high, Bound(spec, path, "high"));
  if (param.kind == ParamKind::kInt) {
    if (param.low != std::floor(param.low) || param.high != std::floor(param.high) ||
        std::abs(param.low) > 1e15 || std::abs(param.high) > 1e15) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "fields '{}.low' and '{}.high' must be integers", path, path);
    }
    auto log = spec.find("log");
    if (log != spec.end() && !log->is_boolean()) {
      return MakeError(ErrorCode::kInvalidArgument, "field '{}.log' must be true or false", path);
    }
    param.log = log != spec.end() && log->get<bool>();
    if (param.low > param.high) {
      return MakeError(ErrorCode::kInvalidArgument, "field '{}.low' must not exceed '{}.high'",
                       path, path);
    }
  } else if (param.low >= param.high) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}.low' must be below '{}.high'", path,
                     path);
  }
  if ((param.kind == ParamKind::kLogUniform || param.log) && param.low <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field '{}.low' must be positive on a log scale, not {}", path, param.low);
  }
  return param;
}

json SampleParam(const ParamSpec& param, std::mt19937_64& rng) {
  const double u = UniformUnit(rng);
  switch (param.kind) {
    case ParamKind::kUniform: {
      double value = param.low + u * (param.high - param.low);
      // Rounding can land exactly on `high`, which the interval excludes.
      return value < param.high ? value : std::nextafter(param.high, param.low);
    }
    case ParamKind::kLogUniform: {
      const double log_low = std::log(param.low);
      double value = std::exp(log_low + u * (std::log(param.high) - log_low));
      return std::clamp(value, param.low, std::nextafter(param.high, param.low));
    }
    case ParamKind::kInt: {
      double value;
      if (param.log) {
        // Uniform in log space over [low, high + 1), then floored: P(k) ∝ log((k + 1) / k).
        const double log_low = std::log(param.low);
        value = std::floor(std::exp(log_low + u * (std::log(param.high + 1) - log_low)));
      } else {
        value = param.low + std::floor(u * (param.high - param.low + 1));
      }
      return static_cast<int64_t>(std::clamp(value, param.low, param.high));
    }
    case ParamKind::kCategorical: {
      auto index = static_cast<size_t>(u * static_cast<double>(param.values.size()));
      return param.values[std::min(index, param.values.size() - 1)];
    }
  }
  return nullptr;
}

}  // namespace

double UniformUnit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

Result<SearchSpace> SearchSpace::Parse(const nlohmann::json& space) {
  if (!space.is_object() || space.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'space' must be a non-empty object of parameter distributions");
  }
  SearchSpace parsed;
  for (const auto& [name, spec] : space.items()) {  // nlohmann objects iterate in key order
    if (name.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'space' has an empty parameter name");
    }
    FALAJ_ASSIGN_OR_RETURN(auto param, ParseParam(name, spec));
    parsed.params_.push_back(std::move(param));
  }
  return parsed;
}

nlohmann::json SearchSpace::Sample(std::mt19937_64& rng) const {
  json sample = json::object();
  for (const auto& param : params_) sample[param.name] = SampleParam(param, rng);
  return sample;
}

std::string_view ParamKindName(ParamKind kind) {
  switch (kind) {
    case ParamKind::kUniform:
      return "uniform";
    case ParamKind::kLogUniform:
      return "loguniform";
    case ParamKind::kInt:
      return "int";
    case ParamKind::kCategorical:
      return "categorical";
  }
  return "?";
}

}  // namespace falaj::training

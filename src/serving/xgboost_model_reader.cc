#include "serving/xgboost_model_reader.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>

#include "serving/ubjson_decoder.h"

namespace falaj::serving {
namespace {

using nlohmann::json;

constexpr size_t kMaxArtifactBytes = size_t{1} << 31;
// XGBoost's documents nest about eight deep; anything far deeper is hostile.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxTrees = size_t{1} << 20;
constexpr uint64_t kMaxNodes = uint64_t{1} << 28;
constexpr uint64_t kMaxFeatures = uint64_t{1} << 24;
constexpr uint64_t kMaxOutputs = uint64_t{1} << 16;

auto Invalid(std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument, "XGBoost model: {}", what);
}

// XGBoost's JSON writes non-finite floats as bare NaN, Infinity and -Infinity (1.7 does for the
// thresholds of categorical splits), which JSON lacks: they become the strings "NaN",
// "Infinity" and "-Infinity", which Floats reads. The same pass refuses hostile nesting early,
// although nlohmann's parser keeps its own stack.
Result<std::string> NormalizeJson(std::string_view text) {
  std::string normalized;
  size_t copied = 0;  // text before this offset is in `normalized` (when it is used at all)
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        return Invalid(fmt::format("the document nests deeper than {} levels", kMaxDepth));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == 'N' || c == 'I') {
      const std::string_view token = c == 'N' ? "NaN" : "Infinity";
      if (text.substr(i, token.size()) != token) continue;
      const size_t start = i > 0 && text[i - 1] == '-' ? i - 1 : i;
      normalized.append(text.substr(copied, start - copied));
      normalized.append("\"").append(text.substr(start, i + token.size() - start)).append("\"");
      copied = i + token.size();
      i = copied - 1;
    }
  }
  if (copied == 0) return std::string();
  normalized.append(text.substr(copied));
  return normalized;
}

Result<json> ParseDocument(std::string_view artifact) {
  if (artifact.size() > kMaxArtifactBytes) return Invalid("the file is larger than 2 GiB");
  const size_t start = artifact.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || artifact[start] != '{') {
    return Invalid(
        "not an XGBoost JSON or UBJSON model (the legacy binary format is not read; save the "
        "model as .json or .ubj)");
  }
  const size_t second = artifact.find_first_not_of(" \t\r\n", start + 1);
  const bool is_json = second != std::string_view::npos && artifact[second] == '"';
  if (!is_json) {
    auto decoded = DecodeUbjson(artifact.substr(start), kMaxDepth);
    if (!decoded) return Invalid(decoded.error().message);
    return decoded;
  }
  FALAJ_ASSIGN_OR_RETURN(const std::string normalized, NormalizeJson(artifact));
  json document = json::parse(normalized.empty() ? artifact : std::string_view(normalized), nullptr,
                              /*allow_exceptions=*/false);
  if (document.is_discarded()) return Invalid("the file is not valid JSON");
  return document;
}

// ---- Fields, with errors that name where in the document they are. ----

Result<const json*> Field(const json& object, const std::string& key, std::string_view where) {
  if (!object.is_object()) return Invalid(fmt::format("'{}' is not an object", where));
  const auto found = object.find(key);
  if (found == object.end()) return Invalid(fmt::format("'{}' has no '{}'", where, key));
  return &*found;
}

const json* OptionalField(const json& object, const std::string& key) {
  const auto found = object.find(key);
  return found == object.end() ? nullptr : &*found;
}

Result<std::string> StringField(const json& object, const std::string& key,
                                std::string_view where) {
  FALAJ_ASSIGN_OR_RETURN(const json* value, Field(object, key, where));
  if (!value->is_string()) return Invalid(fmt::format("'{}.{}' is not a string", where, key));
  return value->get<std::string>();
}

// XGBoost stores parameters as decimal strings, e.g. "num_feature": "30".
Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t max, std::string_view what) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) {
    return Invalid(fmt::format("'{}' must be a whole number up to {}", what, max));
  }
  return value;
}

Result<uint64_t> UnsignedParam(const json& object, const std::string& key, std::string_view where,
                               uint64_t max) {
  FALAJ_ASSIGN_OR_RETURN(const std::string text, StringField(object, key, where));
  return ParseUnsigned(text, max, fmt::format("{}.{}", where, key));
}

bool AsInteger(const json& value, int64_t* out) {
  if (value.is_number_unsigned()) {
    const auto unsigned_value = value.get<uint64_t>();
    if (unsigned_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(unsigned_value);
    return true;
  }
  if (value.is_number_integer()) {
    *out = value.get<int64_t>();
    return true;
  }
  if (value.is_boolean()) {  // default_left in models saved by XGBoost 1.0 – 1.5
    *out = value.get<bool>() ? 1 : 0;
    return true;
  }
  return false;
}

// An array of whole numbers in [min, max]; `size` is the length it must have (npos: any).
template <typename T>
Result<std::vector<T>> Integers(const json& object, const std::string& key, std::string_view where,
                                int64_t min, int64_t max, size_t size = std::string_view::npos) {
  FALAJ_ASSIGN_OR_RETURN(const json* array, Field(object, key, where));
  if (!array->is_array() || (size != std::string_view::npos && array->size() != size)) {
    return Invalid(fmt::format("'{}.{}' must be an array of {} numbers", where, key, size));
  }
  std::vector<T> values;
  values.reserve(array->size());
  for (const json& item : *array) {
    int64_t value = 0;
    if (!AsInteger(item, &value) || value < min || value > max) {
      return Invalid(fmt::format("'{}.{}' holds a value outside [{}, {}]", where, key, min, max));
    }
    values.push_back(static_cast<T>(value));
  }
  return values;
}

Result<std::vector<float>> Floats(const json& object, const std::string& key,
                                  std::string_view where, size_t size) {
  FALAJ_ASSIGN_OR_RETURN(const json* array, Field(object, key, where));
  if (!array->is_array() || (size != std::string_view::npos && array->size() != size)) {
    return Invalid(fmt::format("'{}.{}' must be an array of {} numbers", where, key, size));
  }
  std::vector<float> values;
  values.reserve(array->size());
  for (const json& item : *array) {
    if (item.is_number()) {
      values.push_back(static_cast<float>(item.get<double>()));
    } else if (item == "NaN") {
      values.push_back(std::numeric_limits<float>::quiet_NaN());
    } else if (item == "Infinity" || item == "-Infinity") {
      values.push_back(item == "Infinity" ? std::numeric_limits<float>::infinity()
                                          : -std::numeric_limits<float>::infinity());
    } else {
      return Invalid(fmt::format("'{}.{}' holds a non-number", where, key));
    }
  }
  return values;
}

// "5E-1" (up to XGBoost 3.0) or "[5E-1]" / "[a,b,c]" (3.1 on, one per output).
Status ParseBaseScore(XGBoostModel& model) {
  std::string_view text = model.base_score_text;
  model.base_score_is_vector = text.starts_with('[');
  if (model.base_score_is_vector) {
    if (!text.ends_with(']')) return Invalid("'base_score' has an unclosed '['");
    text = text.substr(1, text.size() - 2);
  }
  while (true) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    item.remove_prefix(std::min(item.find_first_not_of(' '), item.size()));
    float value = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (error != std::errc() || end != item.data() + item.size() || !std::isfinite(value) ||
        model.base_score.size() >= kMaxOutputs) {
      return Invalid(fmt::format("'base_score' is not a number or list of numbers: '{}'",
                                 model.base_score_text.substr(0, 80)));
    }
    model.base_score.push_back(value);
    if (comma == std::string_view::npos) return Ok();
    text.remove_prefix(comma + 1);
  }
}

// Categorical splits: XGBoost lists, per categorical node, a segment of `categories`.
Status ReadCategories(const json& tree, std::string_view where, const std::vector<uint8_t>& types,
                      TreeDescription& out) {
  const size_t n = out.left_children.size();
  out.category_offsets = {0};
  if (OptionalField(tree, "categories_nodes") == nullptr) {
    for (size_t i = 0; i < n; ++i) {
      if (types[i] && out.left_children[i] != -1) {
        return Invalid(
            fmt::format("{} node {} is categorical but no categories are listed", where, i));
      }
    }
    return Ok();
  }
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  FALAJ_ASSIGN_OR_RETURN(out.categorical_nodes,
                         Integers<int32_t>(tree, "categories_nodes", where, 0, kInt32Max));
  const size_t sets = out.categorical_nodes.size();
  FALAJ_ASSIGN_OR_RETURN(auto segments,
                         Integers<int64_t>(tree, "categories_segments", where, 0, kInt64Max, sets));
  FALAJ_ASSIGN_OR_RETURN(auto sizes,
                         Integers<int64_t>(tree, "categories_sizes", where, 0, kInt64Max, sets));
  FALAJ_ASSIGN_OR_RETURN(auto categories,
                         Integers<int32_t>(tree, "categories", where, -kInt32Max, kInt32Max));
  std::vector<uint8_t> listed(n, 0);
  size_t total = 0;
  for (size_t k = 0; k < sets; ++k) {
    const auto node = static_cast<size_t>(out.categorical_nodes[k]);
    const auto begin = static_cast<uint64_t>(segments[k]);
    const auto size = static_cast<uint64_t>(sizes[k]);
    // Segments may not overlap, so what is copied is bounded by what was read.
    total += size;
    if (node >= n || begin > categories.size() || size > categories.size() - begin ||
        total > categories.size()) {
      return Invalid(fmt::format("{} categorical split {} lies outside the tree", where, k));
    }
    listed[node] = 1;
    out.categories.insert(out.categories.end(), categories.begin() + begin,
                          categories.begin() + begin + size);
    out.category_offsets.push_back(static_cast<uint32_t>(out.categories.size()));
  }
  for (size_t i = 0; i < n; ++i) {
    if (out.left_children[i] != -1 && types[i] != listed[i]) {
      return Invalid(
          fmt::format("{} node {}: split_type disagrees with the category lists", where, i));
    }
  }
  return Ok();
}

// Vector-leaf trees keep, in a leaf's right_children entry, the index of its vector in
// `leaf_weights`; the vectors themselves are not compiled, so only their bounds are checked.
Status ReadLeafVectors(const json& tree, std::string_view where, uint64_t vector_size,
                       TreeDescription& out) {
  FALAJ_ASSIGN_OR_RETURN(const json* weights, Field(tree, "leaf_weights", where));
  if (!weights->is_array()) return Invalid(fmt::format("'{}.leaf_weights' is not an array", where));
  const uint64_t vectors = weights->size() / vector_size;
  for (size_t i = 0; i < out.left_children.size(); ++i) {
    if (out.left_children[i] != -1) continue;
    if (out.right_children[i] < 0 || static_cast<uint64_t>(out.right_children[i]) >= vectors) {
      return Invalid(fmt::format("{} leaf {} names a leaf vector it does not have", where, i));
    }
    out.right_children[i] = -1;
  }
  return Ok();
}

Result<TreeDescription> ReadTree(const json& tree, size_t index, uint32_t num_features,
                                 uint32_t* leaf_vector_size) {
  const std::string where = fmt::format("trees[{}]", index);
  FALAJ_ASSIGN_OR_RETURN(const json* param, Field(tree, "tree_param", where));
  FALAJ_ASSIGN_OR_RETURN(const uint64_t n,
                         UnsignedParam(*param, "num_nodes", where + ".tree_param", kMaxNodes));
  if (n == 0) return Invalid(fmt::format("{} has no nodes", where));
  uint64_t vector_size = 1;
  if (OptionalField(*param, "size_leaf_vector") != nullptr) {
    FALAJ_ASSIGN_OR_RETURN(
        vector_size, UnsignedParam(*param, "size_leaf_vector", where + ".tree_param", kMaxOutputs));
    *leaf_vector_size = std::max(*leaf_vector_size, static_cast<uint32_t>(vector_size));
  }
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  TreeDescription out;
  FALAJ_ASSIGN_OR_RETURN(out.left_children,
                         Integers<int32_t>(tree, "left_children", where, -1, kInt32Max, n));
  FALAJ_ASSIGN_OR_RETURN(out.right_children,
                         Integers<int32_t>(tree, "right_children", where, -1, kInt32Max, n));
  FALAJ_ASSIGN_OR_RETURN(
      out.split_features,
      Integers<uint32_t>(tree, "split_indices", where, 0, std::numeric_limits<uint32_t>::max(), n));
  FALAJ_ASSIGN_OR_RETURN(out.thresholds, Floats(tree, "split_conditions", where, n));
  FALAJ_ASSIGN_OR_RETURN(out.default_left, Integers<uint8_t>(tree, "default_left", where, 0, 1, n));
  std::vector<uint8_t> types(n, 0);
  if (OptionalField(tree, "split_type") != nullptr) {
    FALAJ_ASSIGN_OR_RETURN(types, Integers<uint8_t>(tree, "split_type", where, 0, 1, n));
  }
  FALAJ_RETURN_IF_ERROR(ReadCategories(tree, where, types, out));
  if (vector_size > 1) FALAJ_RETURN_IF_ERROR(ReadLeafVectors(tree, where, vector_size, out));
  out.leaf_values = out.thresholds;
  if (auto valid = ValidateTree(out, num_features); !valid) {
    return Invalid(fmt::format("{}: {}", where, valid.error().message));
  }
  for (size_t i = 0; i < n; ++i) {
    if (out.left_children[i] != -1 && out.right_children[i] != out.left_children[i] + 1) {
      return Invalid(fmt::format(
          "{} node {}: the right child does not follow the left, as XGBoost requires", where, i));
    }
  }
  return out;
}

Status ReadBooster(const json& learner, XGBoostModel& model) {
  FALAJ_ASSIGN_OR_RETURN(const json* booster, Field(learner, "gradient_booster", "learner"));
  FALAJ_ASSIGN_OR_RETURN(model.booster, StringField(*booster, "name", "gradient_booster"));
  const json* trees_model = nullptr;
  if (model.booster == "gbtree") {
    FALAJ_ASSIGN_OR_RETURN(trees_model, Field(*booster, "model", "gradient_booster"));
  } else if (model.booster == "dart") {
    FALAJ_ASSIGN_OR_RETURN(const json* inner, Field(*booster, "gbtree", "gradient_booster"));
    FALAJ_ASSIGN_OR_RETURN(trees_model, Field(*inner, "model", "gradient_booster.gbtree"));
    FALAJ_ASSIGN_OR_RETURN(model.tree_weights, Floats(*booster, "weight_drop", "gradient_booster",
                                                      std::string_view::npos));
  } else {
    return MakeError(ErrorCode::kUnimplemented,
                     "XGBoost model: '{}' boosters are not served (only gbtree and dart)",
                     model.booster.substr(0, 40));
  }
  FALAJ_ASSIGN_OR_RETURN(const json* trees, Field(*trees_model, "trees", "model"));
  if (!trees->is_array() || trees->size() > kMaxTrees) {
    return Invalid(fmt::format("'model.trees' must be a list of up to {} trees", kMaxTrees));
  }
  const size_t count = trees->size();
  const uint32_t groups = std::max({model.num_class, model.num_target, 1u});
  FALAJ_ASSIGN_OR_RETURN(model.tree_groups, Integers<uint32_t>(*trees_model, "tree_info", "model",
                                                               0, groups - 1, count));
  if (model.booster == "dart" && model.tree_weights.size() != count) {
    return Invalid("DART 'weight_drop' must have one weight per tree");
  }
  model.trees.reserve(count);
  for (size_t t = 0; t < count; ++t) {
    FALAJ_ASSIGN_OR_RETURN(TreeDescription tree,
                           ReadTree((*trees)[t], t, model.num_features, &model.leaf_vector_size));
    model.trees.push_back(std::move(tree));
  }
  return Ok();
}

Result<XGBoostModel> ReadModel(const json& document) {
  XGBoostModel model;
  if (const json* version = document.is_object() ? OptionalField(document, "version") : nullptr) {
    if (!version->is_array() || version->size() != 3) return Invalid("'version' is malformed");
    for (size_t i = 0; i < 3; ++i) {
      if (!AsInteger((*version)[i], &model.version[i])) return Invalid("'version' is malformed");
    }
  }
  FALAJ_ASSIGN_OR_RETURN(const json* learner, Field(document, "learner", "model"));
  FALAJ_ASSIGN_OR_RETURN(const json* param, Field(*learner, "learner_model_param", "learner"));
  const std::string where = "learner_model_param";
  FALAJ_ASSIGN_OR_RETURN(const uint64_t features,
                         UnsignedParam(*param, "num_feature", where, kMaxFeatures));
  if (features == 0) return Invalid("'num_feature' is 0");
  model.num_features = static_cast<uint32_t>(features);
  FALAJ_ASSIGN_OR_RETURN(const uint64_t classes,
                         UnsignedParam(*param, "num_class", where, kMaxOutputs));
  model.num_class = static_cast<uint32_t>(classes);
  if (OptionalField(*param, "num_target") != nullptr) {
    FALAJ_ASSIGN_OR_RETURN(const uint64_t targets,
                           UnsignedParam(*param, "num_target", where, kMaxOutputs));
    model.num_target = std::max<uint32_t>(1, static_cast<uint32_t>(targets));
  }
  FALAJ_ASSIGN_OR_RETURN(model.base_score_text, StringField(*param, "base_score", where));
  FALAJ_RETURN_IF_ERROR(ParseBaseScore(model));
  const uint32_t groups = std::max({model.num_class, model.num_target, 1u});
  if (model.base_score.size() != 1 && model.base_score.size() != groups) {
    return Invalid(
        fmt::format("'base_score' has {} values for {} outputs", model.base_score.size(), groups));
  }
  FALAJ_ASSIGN_OR_RETURN(const json* objective, Field(*learner, "objective", "learner"));
  FALAJ_ASSIGN_OR_RETURN(model.objective, StringField(*objective, "name", "learner.objective"));
  FALAJ_RETURN_IF_ERROR(ReadBooster(*learner, model));
  return model;
}

}  // namespace

Result<XGBoostModel> ReadXGBoostModel(std::string_view artifact) {
  try {
    FALAJ_ASSIGN_OR_RETURN(const json document, ParseDocument(artifact));
    return ReadModel(document);
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kResourceExhausted, "XGBoost model: too large to read");
  } catch (const json::exception& error) {
    return Invalid(error.what());
  }
}

}  // namespace falaj::serving

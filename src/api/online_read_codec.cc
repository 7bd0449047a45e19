#include "api/online_read_codec.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/json_fields.h"
#include "data/value_text.h"

namespace falaj::api {
namespace {

constexpr size_t kMaxReferences = 1000;
constexpr size_t kMaxEntities = 10000;

std::string_view ElementTypeName(const simdjson::dom::element& value) {
  switch (value.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "number";
  }
}

Status ParseEntities(const simdjson::dom::element& entities, OnlineReadRequest& read) {
  simdjson::dom::object object;
  if (entities.get_object().get(object) != simdjson::SUCCESS || object.size() == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'entities' must map each join key to a list of values");
  }
  for (auto [name, values] : object) {
    simdjson::dom::array list;
    if (values.get_array().get(list) != simdjson::SUCCESS || list.size() > kMaxEntities) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "entity key '{}' must be a list of at most {} values", name, kMaxEntities);
    }
    std::vector<features::EntityKey> column;
    column.reserve(list.size());
    for (simdjson::dom::element value : list) {
      features::EntityKey key;
      uint64_t unsigned_value = 0;
      if (value.get_int64().get(key.integer) == simdjson::SUCCESS) {
        column.push_back(key);
      } else if (value.get_string().get(key.text) == simdjson::SUCCESS) {
        key.is_text = true;
        column.push_back(key);
      } else if (value.get_uint64().get(unsigned_value) == simdjson::SUCCESS) {
        return MakeError(ErrorCode::kInvalidArgument, "entity key '{}' value {} is out of range",
                         name, unsigned_value);
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         "entity key '{}' values must be integers or strings", name);
      }
    }
    // A key named twice keeps its last list, as a JSON object read into a map does.
    auto at = std::lower_bound(read.key_names.begin(), read.key_names.end(), name);
    const size_t index = static_cast<size_t>(at - read.key_names.begin());
    if (at != read.key_names.end() && *at == name) {
      read.key_values[index] = std::move(column);
    } else {
      read.key_names.insert(at, name);
      read.key_values.insert(read.key_values.begin() + static_cast<ptrdiff_t>(index),
                             std::move(column));
    }
  }
  return Ok();
}

Status ParseReferences(const simdjson::dom::element& list, OnlineReadRequest& read) {
  simdjson::dom::array items;
  if (list.get_array().get(items) != simdjson::SUCCESS || items.size() > kMaxReferences) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'features' must be a list of \"view:feature\" strings");
  }
  for (simdjson::dom::element item : items) {
    std::string_view text;
    if (item.get_string().get(text) != simdjson::SUCCESS) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'features' must list strings");
    }
    FALAJ_ASSIGN_OR_RETURN(auto reference, features::ParseFeatureReference(std::string(text)));
    read.query.features.push_back(std::move(reference));
  }
  return Ok();
}

}  // namespace

Result<OnlineReadRequest> ParseOnlineRead(const std::string& body, std::string_view project) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body).get_object().get(object) != simdjson::SUCCESS) {
    // nlohmann words the refusal as every other route does (position, or what the body is).
    FALAJ_RETURN_IF_ERROR(json::ParseObject(body));
    return MakeError(ErrorCode::kInvalidArgument, "request body is not valid JSON");
  }
  OnlineReadRequest read;
  read.query.project = std::string(project);
  bool has_entities = false;
  for (auto [field, value] : object) {
    if (field == "feature_service") {
      if (value.is_null()) continue;
      std::string_view service;
      if (value.get_string().get(service) != simdjson::SUCCESS) {
        return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be a string, not {}", field,
                         ElementTypeName(value));
      }
      read.query.feature_service = std::string(service);
    } else if (field == "features") {
      FALAJ_RETURN_IF_ERROR(ParseReferences(value, read));
    } else if (field == "full_feature_names") {
      if (value.is_null()) continue;
      if (value.get_bool().get(read.full_feature_names) != simdjson::SUCCESS) {
        return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be true or false, not {}",
                         field, ElementTypeName(value));
      }
    } else if (field == "entities") {
      FALAJ_RETURN_IF_ERROR(ParseEntities(value, read));
      has_entities = true;
    } else {
      return MakeError(ErrorCode::kInvalidArgument, "unknown field '{}'", field);
    }
  }
  if (!has_entities) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'entities' must map each join key to a list of values");
  }
  return read;
}

// The request's key columns in the plan's join-key order, after checking they fit the views.
Result<std::vector<std::span<const features::EntityKey>>> PlanKeys(
    const features::PreparedRead& plan, const OnlineReadRequest& read) {
  const size_t count = read.key_values.front().size();
  for (size_t k = 0; k < read.key_names.size(); ++k) {
    if (read.key_values[k].size() != count) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "entity key '{}' has {} values; every key needs {}", read.key_names[k],
                       read.key_values[k].size(), count);
    }
  }
  std::vector<std::span<const features::EntityKey>> columns;
  for (const auto& view : plan.views()) {
    for (size_t k = 0; k < view.key_columns.size(); ++k) {
      if (view.key_columns[k] < columns.size()) continue;
      const std::string& key = view.view->join_keys[k];
      auto found = std::find(read.key_names.begin(), read.key_names.end(), key);
      if (found == read.key_names.end()) {
        return MakeError(ErrorCode::kInvalidArgument, "feature view '{}' needs entity key '{}'",
                         view.view->view.name, key);
      }
      columns.emplace_back(read.key_values[static_cast<size_t>(found - read.key_names.begin())]);
    }
  }
  return columns;
}

namespace {

void AppendJsonString(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) {
      // Non-ASCII text: nlohmann's own handling of UTF-8, invalid sequences included.
      out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void AppendJsonDouble(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char digits[64];
  char* end = nlohmann::detail::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

void AppendCell(std::string& out, const features::FeatureCell& cell, data::ColumnType type) {
  if (!cell.present) {
    out += "null";
    return;
  }
  switch (type) {
    case data::ColumnType::kInt64:
      fmt::format_to(std::back_inserter(out), "{}", cell.integer);
      return;
    case data::ColumnType::kTimestamp:
      AppendJsonString(out, data::FormatIsoTimestamp(cell.integer, 1000000));
      return;
    case data::ColumnType::kFloat64:
      AppendJsonDouble(out, cell.real);
      return;
    case data::ColumnType::kBool:
      out += cell.flag ? "true" : "false";
      return;
    case data::ColumnType::kString:
      AppendJsonString(out, cell.text);
      return;
  }
}

// Appends `count` items written by `item(i)`, comma-separated, as a JSON array.
template <typename Item>
void AppendArray(std::string& out, size_t count, Item&& item) {
  out.push_back('[');
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out.push_back(',');
    item(i);
  }
  out.push_back(']');
}

}  // namespace

std::string RenderOnlineRead(const features::PreparedRead& plan, const OnlineReadRequest& read,
                             const features::OnlineReadResult& found) {
  const size_t rows = found.rows();
  std::string out;
  out.reserve(256 + rows * (read.key_names.size() + plan.columns()) * 48);
  out += R"({"metadata":{"feature_names":)";
  std::vector<std::string> names(read.key_names.begin(), read.key_names.end());
  for (const auto& view : plan.views()) {
    for (const auto& feature : view.view->selected) {
      names.push_back(read.full_feature_names ? view.view->view.name + "__" + feature.name
                                              : feature.name);
    }
  }
  AppendArray(out, names.size(), [&](size_t i) { AppendJsonString(out, names[i]); });
  out += R"(},"results":[)";
  const std::string epoch = "\"" + data::FormatIsoTimestamp(0, 1) + "\"";
  for (size_t k = 0; k < read.key_names.size(); ++k) {
    if (k > 0) out.push_back(',');
    out += R"({"event_timestamps":)";
    AppendArray(out, rows, [&](size_t) { out += epoch; });
    out += R"(,"statuses":)";
    AppendArray(out, rows, [&](size_t) { out += "\"PRESENT\""; });
    out += R"(,"values":)";
    AppendArray(out, rows, [&](size_t i) {
      const features::EntityKey& key = read.key_values[k][i];
      if (key.is_text) {
        AppendJsonString(out, key.text);
      } else {
        fmt::format_to(std::back_inserter(out), "{}", key.integer);
      }
    });
    out.push_back('}');
  }
  std::vector<std::string> times(rows);
  for (size_t v = 0; v < plan.views().size(); ++v) {
    const auto& view = plan.views()[v];
    for (size_t i = 0; i < rows; ++i) {
      times[i] = "\"" + data::FormatIsoTimestamp(found.event_micros(v, i), 1000000) + "\"";
    }
    for (size_t s = 0; s < view.columns; ++s) {
      if (!read.key_names.empty() || v > 0 || s > 0) out.push_back(',');
      out += R"({"event_timestamps":)";
      AppendArray(out, rows, [&](size_t i) { out += times[i]; });
      out += R"(,"statuses":)";
      AppendArray(out, rows, [&](size_t i) {
        out.push_back('"');
        out += features::FeatureStatusName(found.status(v, i));
        out.push_back('"');
      });
      out += R"(,"values":)";
      AppendArray(out, rows, [&](size_t i) {
        AppendCell(out, found.cell(i, view.first_column + s), view.view->selected[s].type);
      });
      out.push_back('}');
    }
  }
  out += "]}";
  return out;
}

}  // namespace falaj::api

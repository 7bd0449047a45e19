#include "cli/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

namespace falaj::cli {
namespace {

// Strings are always double-quoted so that "123" or "true" read back as strings.
void EmitYaml(YAML::Emitter& out, const nlohmann::json& value) {
  if (value.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, member] : value.items()) {
      out << YAML::Key << key << YAML::Value;
      EmitYaml(out, member);
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : value) EmitYaml(out, item);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    out << YAML::DoubleQuoted << value.get<std::string>();
  } else if (value.is_null()) {
    out << YAML::Null;
  } else {
    out << value.dump();
  }
}

std::string CellText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  if (value.is_object()) {
    std::string text;
    for (const auto& [key, member] : value.items()) {
      text += (text.empty() ? "" : ",") + key + "=" + CellText(member);
    }
    return text;
  }
  return value.dump();
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& header : headers) widths.push_back(header.size());
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto render_row = [&](const std::vector<std::string>& cells, bool upper) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      if (upper) std::transform(cell.begin(), cell.end(), cell.begin(), ::toupper);
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - cell.size() + 2, ' ');
    }
    return line + "\n";
  };
  std::string out = render_row(headers, true);
  for (const auto& row : rows) out += render_row(row, false);
  return out;
}

std::string RenderYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  EmitYaml(out, value);
  return std::string(out.c_str()) + "\n";
}

std::string RenderItems(const nlohmann::json& items, const std::vector<std::string>& columns,
                        OutputFormat format) {
  if (format == OutputFormat::kJson) return items.dump(2) + "\n";
  if (format == OutputFormat::kYaml) return RenderYaml(items);
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : items) {
    std::vector<std::string> row;
    for (const auto& column : columns)
      row.push_back(CellText(item.value(column, nlohmann::json())));
    rows.push_back(std::move(row));
  }
  return RenderTable(columns, rows);
}

std::string RenderObject(const nlohmann::json& object, const std::vector<std::string>& fields,
                         OutputFormat format) {
  if (format == OutputFormat::kJson) return object.dump(2) + "\n";
  if (format == OutputFormat::kYaml) return RenderYaml(object);
  size_t width = 0;
  for (const auto& field : fields) width = std::max(width, field.size());
  std::string out;
  for (const auto& field : fields) {
    nlohmann::json value = object.is_object() ? object.value(field, nlohmann::json()) : nullptr;
    std::string text = CellText(value);
    out += field + (text.empty() ? "" : std::string(width - field.size() + 2, ' ') + text) + "\n";
  }
  return out;
}

}  // namespace falaj::cli

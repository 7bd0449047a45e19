#include "cli/feature_commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/model_files.h"
#include "cli/url_encoding.h"
#include "data/yaml_json.h"

namespace falaj::cli {
namespace {

const Columns kDefinitionColumns = {"kind", "name", "version", "created_by", "created_at"};
const Columns kChangeColumns = {"kind", "name", "action", "version"};
const Columns kRunColumns = {"feature_view",       "mode",      "from_dataset_version",
                             "to_dataset_version", "rows_read", "entities_written"};

struct FeatureArgs {
  std::string project;
  std::string path;
  bool dry_run = false;
  std::string kind;
  std::string name;
  std::string service;
  std::vector<std::string> features;
  std::string entities;  // dataset name (training sets) or key=v1,v2 (online)
  std::string timestamp_column = "event_timestamp";
  std::vector<std::string> views;
  bool full = false;
};

std::string ProjectPath(const FeatureArgs& args, std::vector<std::string_view> rest) {
  std::vector<std::string_view> segments = {"projects", args.project};
  segments.insert(segments.end(), rest.begin(), rest.end());
  return ApiPath(segments);
}

// The YAML documents of one file, split at "---" lines.
Status AddDocuments(const std::filesystem::path& file, nlohmann::json& objects) {
  FALAJ_ASSIGN_OR_RETURN(auto text, ReadLocalFile(file));
  std::istringstream lines(text);
  std::string line, document;
  auto flush = [&]() -> Status {
    if (document.find_first_not_of(" \t\r\n") == std::string::npos) return Ok();
    auto parsed = data::YamlToJson(document);
    if (!parsed) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: {}", file.string(),
                       parsed.error().message);
    }
    if (parsed->is_array()) {
      for (auto& item : *parsed) objects.push_back(std::move(item));
    } else if (!parsed->is_null()) {
      objects.push_back(std::move(*parsed));
    }
    document.clear();
    return Ok();
  };
  while (std::getline(lines, line)) {
    if (line.starts_with("---")) {
      FALAJ_RETURN_IF_ERROR(flush());
    } else {
      document += line + "\n";
    }
  }
  return flush();
}

// Every definition under `path` (a file, or the .yaml/.yml/.json files of a folder, in name order).
Result<nlohmann::json> ReadDefinitions(const std::string& path) {
  nlohmann::json objects = nlohmann::json::array();
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) {
    FALAJ_RETURN_IF_ERROR(AddDocuments(path, objects));
    return objects;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    const auto extension = entry.path().extension();
    if (entry.is_regular_file() &&
        (extension == ".yaml" || extension == ".yml" || extension == ".json")) {
      files.push_back(entry.path());
    }
  }
  if (error)
    return MakeError(ErrorCode::kInvalidArgument, "cannot read {}: {}", path, error.message());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) FALAJ_RETURN_IF_ERROR(AddDocuments(file, objects));
  if (objects.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no definitions found in {}", path);
  }
  return objects;
}

// "    ttl_seconds: 86400 -> 172800" for every field of the canonical spec that differs.
void PrintSpecDiff(const nlohmann::json& before, const nlohmann::json& after) {
  for (const auto& [key, value] : after.items()) {
    const auto old = before.find(key);
    if (old == before.end() || *old != value) {
      std::printf("    %s: %s -> %s\n", key.c_str(),
                  old == before.end() ? "(absent)" : old->dump().c_str(), value.dump().c_str());
    }
  }
}

int Apply(const ClientContext& context, const FeatureArgs& args) {
  auto objects = ReadDefinitions(args.path);
  if (!objects) return UsageError(objects.error().message);
  const std::string path = ProjectPath(args, {"feature-definitions"});
  auto planned =
      Call(context, "POST", path, nlohmann::json{{"objects", *objects}, {"dry_run", true}}.dump());
  if (!planned) return Report(planned.error());
  const nlohmann::json& changes = (*planned)["changes"];
  if (context.format != OutputFormat::kTable) {
    if (args.dry_run) return PrintItem(context, *planned, {});
  } else {
    int changed = 0;
    for (const auto& change : changes) {
      const std::string action = change.value("action", "");
      if (action == "unchanged") continue;
      ++changed;
      std::printf("%s %s %s (version %lld)\n", action == "created" ? "+" : "~",
                  change.value("kind", "").c_str(), change.value("name", "").c_str(),
                  static_cast<long long>(change.value("version", 0)));
      if (action == "updated") PrintSpecDiff(change["previous"], change["spec"]);
    }
    std::printf("%d to change, %zu unchanged\n", changed, changes.size() - changed);
    if (args.dry_run || changed == 0) return 0;
  }
  auto applied = Call(context, "POST", path, nlohmann::json{{"objects", *objects}}.dump());
  if (!applied) return Report(applied.error());
  if (context.format != OutputFormat::kTable) return PrintItem(context, *applied, {});
  std::printf("applied\n");
  return 0;
}

// "customer_id=1,2,3" (repeatable keys joined with ';') → {"customer_id": [1, 2, 3]}.
Result<nlohmann::json> EntityKeys(const std::string& text) {
  nlohmann::json keys = nlohmann::json::object();
  std::istringstream parts(text);
  std::string part;
  while (std::getline(parts, part, ';')) {
    const size_t equals = part.find('=');
    if (equals == std::string::npos || equals == 0) {
      return MakeError(ErrorCode::kInvalidArgument, "--entities wants key=v1,v2[;key2=…]");
    }
    nlohmann::json values = nlohmann::json::array();
    std::istringstream items(part.substr(equals + 1));
    std::string item;
    while (std::getline(items, item, ',')) {
      auto number = nlohmann::json::parse(item, nullptr, false);
      values.push_back(number.is_number_integer() ? number : nlohmann::json(item));
    }
    keys[part.substr(0, equals)] = values;
  }
  return keys;
}

int Online(const ClientContext& context, const FeatureArgs& args) {
  auto keys = EntityKeys(args.entities);
  if (!keys) return UsageError(keys.error().message);
  nlohmann::json body = {{"entities", *keys}};
  if (!args.service.empty()) body["feature_service"] = args.service;
  if (!args.features.empty()) body["features"] = args.features;
  auto answer = Call(context, "POST", ProjectPath(args, {"features", "online"}), body.dump());
  if (!answer) return Report(answer.error());
  if (context.format != OutputFormat::kTable) return PrintItem(context, *answer, {});
  // One row per entity, one column per feature (value, or the status when not present).
  const auto& names = (*answer)["metadata"]["feature_names"];
  const auto& results = (*answer)["results"];
  nlohmann::json rows = nlohmann::json::array();
  Columns columns;
  for (const auto& name : names) columns.push_back(name.get<std::string>());
  const size_t count = results.empty() ? 0 : results[0]["values"].size();
  for (size_t i = 0; i < count; ++i) {
    nlohmann::json row = nlohmann::json::object();
    for (size_t f = 0; f < names.size(); ++f) {
      const auto& status = results[f]["statuses"][i];
      row[columns[f]] = status == "PRESENT" ? results[f]["values"][i] : status;
    }
    rows.push_back(std::move(row));
  }
  return PrintList(context, rows, columns);
}

int TrainingSet(const ClientContext& context, const FeatureArgs& args) {
  nlohmann::json body = {
      {"name", args.name},
      {"entities", {{"dataset", args.entities}, {"timestamp_column", args.timestamp_column}}},
      {"full_feature_names", args.full}};
  if (!args.service.empty()) body["feature_service"] = args.service;
  if (!args.features.empty()) body["features"] = args.features;
  return CallAndPrintItem(context, "POST", ProjectPath(args, {"training-sets"}), body.dump(),
                          {"dataset", "version", "rows", "sha256"});
}

int Materialize(const ClientContext& context, const FeatureArgs& args) {
  nlohmann::json body = {{"incremental", !args.full}};
  if (!args.views.empty()) body["feature_views"] = args.views;
  auto answer = Call(context, "POST", ProjectPath(args, {"features", "materialize"}), body.dump());
  if (!answer) return Report(answer.error());
  return PrintList(context, (*answer)["runs"], kRunColumns);
}

}  // namespace

void AddFeatureCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<FeatureArgs>();
  CLI::App* apply =
      app.add_subcommand("apply", "Apply feature definitions (YAML) from a folder or file");
  apply->add_option("project", args.project, "Project")->required();
  apply->add_option("-f,--file", args.path, "Folder of .yaml/.yml/.json files, or one file")
      ->required();
  apply->add_flag("--dry-run", args.dry_run, "Show the changes without applying them");
  table.AddClient(apply, [&args](const ClientContext& context) { return Apply(context, args); });

  CLI::App* features =
      app.add_subcommand("features", "Feature store: definitions, training sets, online");
  features->require_subcommand(1);
  CLI::App* list = features->add_subcommand("list", "List the latest feature definitions");
  list->add_option("project", args.project, "Project")->required();
  table.AddClient(list, [&args](const ClientContext& context) {
    return CallAndPrintList(context, ProjectPath(args, {"feature-definitions"}), "definitions",
                            kDefinitionColumns);
  });
  CLI::App* versions = features->add_subcommand("versions", "List a definition's versions");
  versions->add_option("project", args.project, "Project")->required();
  versions->add_option("kind", args.kind, "entity, feature_view or feature_service")->required();
  versions->add_option("name", args.name, "Name")->required();
  table.AddClient(versions, [&args](const ClientContext& context) {
    return CallAndPrintList(
        context, ProjectPath(args, {"feature-definitions", args.kind, args.name, "versions"}),
        "versions", kDefinitionColumns);
  });
  CLI::App* training =
      features->add_subcommand("training-set", "Build a point-in-time-correct training dataset");
  training->add_option("project", args.project, "Project")->required();
  training->add_option("name", args.name, "Training dataset to create")->required();
  training->add_option("--entities", args.entities, "Entity dataset (keys + timestamps)")
      ->required();
  training->add_option("--timestamp-column", args.timestamp_column, "Entity timestamp column");
  training->add_option("--service", args.service, "Feature service");
  training->add_option("--feature", args.features, "view:feature (repeatable)");
  training->add_flag("--full-feature-names", args.full, "Name columns view__feature");
  table.AddClient(training,
                  [&args](const ClientContext& context) { return TrainingSet(context, args); });
  CLI::App* materialize = features->add_subcommand("materialize", "Fill the online store");
  materialize->add_option("project", args.project, "Project")->required();
  materialize->add_option("--view", args.views, "Feature view (repeatable; default: all online)");
  materialize->add_flag("--full", args.full, "Re-read every dataset version");
  table.AddClient(materialize,
                  [&args](const ClientContext& context) { return Materialize(context, args); });
  CLI::App* online = features->add_subcommand("online", "Read online features for entity keys");
  online->add_option("project", args.project, "Project")->required();
  online->add_option("--entities", args.entities, "key=v1,v2[;key2=…]")->required();
  online->add_option("--service", args.service, "Feature service");
  online->add_option("--feature", args.features, "view:feature (repeatable)");
  table.AddClient(online, [&args](const ClientContext& context) { return Online(context, args); });
}

}  // namespace falaj::cli

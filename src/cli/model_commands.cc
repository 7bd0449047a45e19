#include "cli/model_commands.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/model_files.h"
#include "cli/model_transfer.h"
#include "cli/url_encoding.h"
#include "registry/model_registry.h"

namespace falaj::cli {
namespace {

const Columns kModelColumns = {"name", "description", "tags", "created_by", "created_at"};
// In a table, `files` shows how many files a version has.
const Columns kVersionColumns = {"version", "format",         "status",    "files",
                                 "aliases", "signing_key_id", "created_at"};
const Columns kVerifyColumns = {"version", "ok", "reason"};
const Columns kAliasColumns = {"alias", "version"};
const Columns kFileColumns = {"path", "size", "sha256"};

struct ModelArgs {
  std::string project;
  std::string model;
  std::string description;
  std::vector<std::string> tags;  // "key=value"
  std::string version;            // a number or an alias
  std::string status;
  std::string alias;
  int64_t alias_version = 0;
  std::string folder;
  NewVersionArgs upload;
};

// /api/v1/projects/{project}/models/{model} followed by `rest`.
std::string ModelPath(const ModelArgs& args, std::vector<std::string_view> rest = {}) {
  std::vector<std::string_view> segments = {"projects", args.project, "models", args.model};
  segments.insert(segments.end(), rest.begin(), rest.end());
  return ApiPath(segments);
}

// A version as a table shows it: how many files, and its aliases separated by commas.
nlohmann::json VersionRow(const ClientContext& context, nlohmann::json version) {
  if (context.format != OutputFormat::kTable || !version.is_object()) return version;
  if (version.contains("files") && version["files"].is_array()) {
    version["files"] = version["files"].size();
  }
  if (version.contains("aliases") && version["aliases"].is_array()) {
    std::string aliases;
    for (const auto& alias : version["aliases"]) {
      aliases += (aliases.empty() ? "" : ",") + (alias.is_string() ? alias.get<std::string>() : "");
    }
    version["aliases"] = aliases;
  }
  return version;
}

int PrintVersion(const ClientContext& context, const Result<nlohmann::json>& version) {
  if (!version) return Report(version.error());
  return PrintItem(context, VersionRow(context, *version), kVersionColumns);
}

int ListVersions(const ClientContext& context, const ModelArgs& args) {
  auto answer = Call(context, "GET", ModelPath(args, {"versions"}));
  if (!answer) return Report(answer.error());
  nlohmann::json rows = nlohmann::json::array();
  if (answer->is_object() && answer->contains("versions") && (*answer)["versions"].is_array()) {
    for (const auto& version : (*answer)["versions"]) rows.push_back(VersionRow(context, version));
  }
  return PrintList(context, rows, kVersionColumns);
}

int CreateModel(const ClientContext& context, const ModelArgs& args) {
  auto tags = ParseKeyValues("--tag", args.tags);
  if (!tags) return UsageError(tags.error().message);
  nlohmann::json body = {{"name", args.model}, {"tags", *tags}};
  if (!args.description.empty()) body["description"] = args.description;
  return CallAndPrintItem(context, "POST", ApiPath({"projects", args.project, "models"}),
                          body.dump(), kModelColumns);
}

// Exit code 0 when the version verifies, 1 (with the reason on stderr) when it does not.
int Verify(const ClientContext& context, const ModelArgs& args) {
  auto report = Call(context, "GET", ModelPath(args, {"versions", args.version, "verify"}));
  if (!report) return Report(report.error());
  PrintItem(context, *report, kVerifyColumns);
  if (report->is_object() && report->value("ok", false)) return 0;
  std::string reason = report->is_object() ? report->value("reason", "") : "";
  std::fprintf(stderr, "falaj: model %s version %s does not verify: %s\n", args.model.c_str(),
               args.version.c_str(), reason.empty() ? "no report" : reason.c_str());
  return 1;
}

int Download(const ClientContext& context, const ModelArgs& args) {
  auto version = DownloadVersion(context, args.project, args.model, args.version, args.folder);
  if (!version) return Report(version.error());
  return PrintList(context, (*version)["files"], kFileColumns);
}

// A subcommand taking PROJECT and, unless `model` is false, NAME.
CLI::App* AddModelCommand(CLI::App* parent, const char* name, const char* description,
                          ModelArgs& args, bool model = true) {
  CLI::App* command = parent->add_subcommand(name, description);
  command->add_option("project", args.project, "Project name")->required();
  if (model) command->add_option("name", args.model, "Model name")->required();
  return command;
}

void AddVersionArg(CLI::App* command, ModelArgs& args) {
  command->add_option("version", args.version, "Version number or alias (e.g. 3 or champion)")
      ->required();
}

std::string FormatHelp() {
  std::string formats;
  for (std::string_view format : registry::ModelRegistry::SupportedFormats()) {
    formats += (formats.empty() ? "" : ", ") + std::string(format);
  }
  return "Model format: " + formats + " (checked by the server)";
}

void AddRegisterCommand(CLI::App* models, CommandTable& table, ModelArgs& args) {
  CLI::App* command = AddModelCommand(
      models, "register", "Upload a model's files and register them as its next version", args);
  command->footer(
      "PATH is one file, or a folder whose files are all uploaded: recursively, each named by\n"
      "its path inside the folder, symbolic links skipped, at most " +
      std::to_string(kMaxModelFiles) +
      " files. The model is\n"
      "created when it does not exist. Each file's SHA-256 is computed here and must equal the\n"
      "one the server stored. Formats that execute code when loaded (pickle, joblib, torch …)\n"
      "are refused. Each file is held in memory whole, so it may be at most the server's\n"
      "request body limit (server.body_limit_bytes, 64 MiB by default).");
  NewVersionArgs& upload = args.upload;
  command->add_option("path", upload.path, "The model file or folder")->required();
  command->add_option("--format", upload.format, FormatHelp())->required();
  command->add_option("--metric", upload.metrics, "Metric name=number (repeatable)");
  command->add_option("--tag", upload.tags, "Tag key=value (repeatable)");
  command->add_option("--run-id", upload.run_id, "The run that produced the model (lineage)");
  command->add_option("--signature", upload.signature_file,
                      "JSON file with the input/output signature {\"inputs\": […], …}");
  table.AddClient(command, [&args](const ClientContext& context) {
    return PrintVersion(context, UploadAndRegister(context, args.project, args.model, args.upload));
  });
}

void AddDownloadCommand(CLI::App* models, CommandTable& table, ModelArgs& args) {
  CLI::App* command =
      AddModelCommand(models, "download", "Download every file of a version into a folder", args);
  command->footer(
      "Writes each file to DIR/<its path>, creating folders, after checking its SHA-256\n"
      "against the version's (exit code 1 on a mismatch; that file is not written). Paths that\n"
      "would leave DIR are refused, and links inside DIR are never followed. Each file is held\n"
      "in memory whole, so it may be at most the server's body limit\n"
      "(server.body_limit_bytes, 64 MiB by default). Prints the files (path, size, sha256).");
  AddVersionArg(command, args);
  // --output names the folder here, so this command has no -o/--output format flag.
  command->add_option("--output", args.folder, "The folder to write the files into")->required();
  table.AddConnectionFlags(command);
  table.AddLocal(command, [&table, &args] {
    return table.WithClient(
        [&args](const ClientContext& context) { return Download(context, args); });
  });
}

void AddModelCrud(CLI::App* models, CommandTable& table, ModelArgs& args) {
  CLI::App* create = AddModelCommand(models, "create", "Create a model", args);
  create->add_option("--description", args.description, "Free-text description");
  create->add_option("--tag", args.tags, "Tag key=value (repeatable)");
  table.AddClient(create,
                  [&args](const ClientContext& context) { return CreateModel(context, args); });

  table.AddClient(AddModelCommand(models, "list", "List a project's models", args, false),
                  [&args](const ClientContext& context) {
                    return CallAndPrintList(context, ApiPath({"projects", args.project, "models"}),
                                            "models", kModelColumns);
                  });

  table.AddClient(AddModelCommand(models, "get", "Show one model", args),
                  [&args](const ClientContext& context) {
                    return CallAndPrintItem(context, "GET", ModelPath(args), "", kModelColumns);
                  });

  table.AddClient(AddModelCommand(models, "delete", "Delete a model that has no versions", args),
                  [&args](const ClientContext& context) {
                    return CallAndConfirm(context, "DELETE", ModelPath(args),
                                          "deleted model " + args.model);
                  });
}

void AddVersionCommands(CLI::App* models, CommandTable& table, ModelArgs& args) {
  table.AddClient(
      AddModelCommand(models, "versions", "List a model's versions, oldest first", args),
      [&args](const ClientContext& context) { return ListVersions(context, args); });

  CLI::App* get = AddModelCommand(models, "version", "Show one version", args);
  AddVersionArg(get, args);
  table.AddClient(get, [&args](const ClientContext& context) {
    return PrintVersion(context, Call(context, "GET", ModelPath(args, {"versions", args.version})));
  });

  CLI::App* verify = AddModelCommand(
      models, "verify", "Re-read a version's files and check digests and signature", args);
  verify->footer("Exit code 0 when the version verifies, 1 (with the reason) when it does not.");
  AddVersionArg(verify, args);
  table.AddClient(verify, [&args](const ClientContext& context) { return Verify(context, args); });

  CLI::App* status = AddModelCommand(models, "status", "Set a version's status", args);
  AddVersionArg(status, args);
  status->add_option("status", args.status, "registered, deprecated or archived")->required();
  table.AddClient(status, [&args](const ClientContext& context) {
    return PrintVersion(context, Call(context, "PATCH", ModelPath(args, {"versions", args.version}),
                                      nlohmann::json{{"status", args.status}}.dump()));
  });
}

void AddAliasCommands(CLI::App* models, CommandTable& table, ModelArgs& args) {
  CLI::App* aliases =
      models->add_subcommand("alias", "Point names such as champion at versions of a model");
  aliases->require_subcommand(1);
  auto add = [&](const char* name, const char* description) {
    CLI::App* command = AddModelCommand(aliases, name, description, args);
    command->add_option("alias", args.alias, "Alias name (e.g. champion)")->required();
    return command;
  };

  CLI::App* set = add("set", "Point an alias at a version (moving it if it exists)");
  set->add_option("version", args.alias_version, "Version number")
      ->required()
      ->check(CLI::PositiveNumber);
  table.AddClient(set, [&args](const ClientContext& context) {
    return CallAndPrintItem(context, "PUT", ModelPath(args, {"aliases", args.alias}),
                            nlohmann::json{{"version", args.alias_version}}.dump(), kAliasColumns);
  });

  table.AddClient(
      add("get", "Show the version an alias points at"), [&args](const ClientContext& context) {
        return CallAndPrintItem(context, "GET", ModelPath(args, {"aliases", args.alias}), "",
                                kAliasColumns);
      });

  table.AddClient(add("delete", "Remove an alias"), [&args](const ClientContext& context) {
    return CallAndConfirm(context, "DELETE", ModelPath(args, {"aliases", args.alias}),
                          "deleted alias " + args.alias + " of model " + args.model);
  });
}

}  // namespace

void AddModelCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<ModelArgs>();
  CLI::App* models = app.add_subcommand("models", "Manage the model registry of a project");
  models->require_subcommand(1);
  AddModelCrud(models, table, args);
  AddRegisterCommand(models, table, args);
  AddVersionCommands(models, table, args);
  AddDownloadCommand(models, table, args);
  AddAliasCommands(models, table, args);
}

}  // namespace falaj::cli

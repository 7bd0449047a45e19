#include "cli/data_commands.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/model_files.h"
#include "cli/progress_bar.h"
#include "cli/url_encoding.h"
#include "data/yaml_json.h"

namespace falaj::cli {
namespace {

const Columns kSourceColumns = {"name", "kind", "dataset", "revision", "description"};
const Columns kDatasetColumns = {"name", "kind", "latest_version", "rows", "updated_at"};
const Columns kVersionColumns = {"version", "kind",   "rows",      "size_bytes",
                                 "region",  "sha256", "created_at"};
const Columns kOutcomeColumns = {"verdict",          "rows_delivered",  "rows_accepted",
                                 "rows_quarantined", "dataset_version", "quarantine_version"};
const Columns kProfileColumns = {"column", "kind", "count",  "null_count",       "min",
                                 "max",    "mean", "stddev", "distinct_estimate"};
const Columns kCheckColumns = {"rule",   "kind",          "description", "evaluated",
                               "failed", "pass_fraction", "passed"};

struct DataArgs {
  std::string project;
  std::string name;
  std::string file;
  std::string version = "latest";
  std::string format;
  std::string to_region;
  std::string output;
  std::string progress = "auto";
};

std::string SourcePath(const DataArgs& args, std::vector<std::string_view> rest = {}) {
  std::vector<std::string_view> segments = {"projects", args.project, "sources"};
  if (!args.name.empty()) segments.push_back(args.name);
  segments.insert(segments.end(), rest.begin(), rest.end());
  return ApiPath(segments);
}

std::string VersionPath(const DataArgs& args, std::vector<std::string_view> rest = {}) {
  std::vector<std::string_view> segments = {"projects", args.project, "datasets",
                                            args.name,  "versions",   args.version};
  segments.insert(segments.end(), rest.begin(), rest.end());
  return ApiPath(segments);
}

// A source definition file: YAML (JSON is YAML too).
int ApplySource(const ClientContext& context, const DataArgs& args, bool replace) {
  auto text = ReadLocalFile(args.file);
  if (!text) return Report(text.error());
  auto definition = data::YamlToJson(*text);
  if (!definition) return UsageError(args.file + ": " + definition.error().message);
  if (!definition->is_object() || !definition->contains("name")) {
    return UsageError(args.file + ": a source definition is a mapping with a 'name'");
  }
  DataArgs named = args;
  named.name = replace ? (*definition)["name"].get<std::string>() : "";
  return CallAndPrintItem(context, replace ? "PUT" : "POST", SourcePath(named), definition->dump(),
                          kSourceColumns);
}

// The outcome as a table shows it: versions flattened next to the counts.
int PrintOutcome(const ClientContext& context, const Result<nlohmann::json>& answer) {
  if (!answer) return Report(answer.error());
  nlohmann::json row = *answer;
  if (context.format == OutputFormat::kTable && row.is_object()) {
    row["dataset_version"] = row.value("/dataset/version"_json_pointer, nlohmann::json());
    row["quarantine_version"] = row.value("/quarantine/version"_json_pointer, nlohmann::json());
  }
  return PrintItem(context, row, kOutcomeColumns);
}

int Ingest(const ClientContext& context, const DataArgs& args) {
  auto body = ReadLocalFile(args.file);
  if (!body) return Report(body.error());
  std::string format = args.format;
  if (format.empty())
    format = std::filesystem::path(args.file).extension() == ".parquet" ? "parquet" : "csv";
  ProgressMode mode = ProgressMode::kAuto;
  if (!ParseProgressMode(args.progress, mode)) {
    return UsageError("--progress must be auto, always or never, not '" + args.progress + "'");
  }
  std::fprintf(stderr, "falaj: ingesting %s (%zu bytes) through source %s\n", args.file.c_str(),
               body->size(), args.name.c_str());
  ProgressBar bar("uploading", mode);
  ClientContext reporting = context;
  reporting.options.upload_progress = [&bar](uint64_t sent, uint64_t total) {
    bar.Update(sent, total);
    if (sent == total) {
      bar.Finish();
      std::fputs("falaj: uploaded; the server is validating and storing the rows\n", stderr);
    }
  };
  return PrintOutcome(
      reporting, Call(reporting, "POST", SourcePath(args, {"ingest"}) + "?format=" + format, *body,
                      kBinaryContentType));
}

// JSON lines (one row object per line) or a JSON array of rows.
int Push(const ClientContext& context, const DataArgs& args) {
  auto text = ReadLocalFile(args.file);
  if (!text) return Report(text.error());
  nlohmann::json rows = nlohmann::json::array();
  auto whole = nlohmann::json::parse(*text, nullptr, false);
  if (!whole.is_discarded() && whole.is_array()) {
    rows = std::move(whole);
  } else {
    std::istringstream lines(*text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto row = nlohmann::json::parse(line, nullptr, false);
      if (row.is_discarded()) {
        return UsageError(args.file + ":" + std::to_string(number) + ": not a JSON value");
      }
      rows.push_back(std::move(row));
    }
  }
  return PrintOutcome(context, Call(context, "POST", SourcePath(args, {"push"}),
                                    nlohmann::json{{"rows", rows}}.dump()));
}

// The profile as one row per column.
int Profile(const ClientContext& context, const DataArgs& args) {
  auto answer = Call(context, "GET", VersionPath(args));
  if (!answer) return Report(answer.error());
  if (context.format != OutputFormat::kTable) return PrintItem(context, (*answer)["profile"], {});
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& column :
       answer->value("/profile/columns"_json_pointer, nlohmann::json::array())) {
    nlohmann::json row = column;
    row["column"] = column.value("name", "");
    for (const char* stat : {"min", "max", "mean", "stddev"}) {
      if (column.contains("numeric")) row[stat] = column["numeric"][stat];
    }
    if (column.contains("time_range")) {
      row["min"] = column["time_range"]["min"];
      row["max"] = column["time_range"]["max"];
    }
    rows.push_back(std::move(row));
  }
  return PrintList(context, rows, kProfileColumns);
}

int ShowReport(const ClientContext& context, const DataArgs& args) {
  auto answer = Call(context, "GET", VersionPath(args));
  if (!answer) return Report(answer.error());
  const nlohmann::json& report = (*answer)["validation"];
  if (context.format != OutputFormat::kTable) return PrintItem(context, report, {});
  std::printf("verdict: %s\n", report.value("verdict", "-").c_str());
  return PrintList(context, report.value("checks", nlohmann::json::array()), kCheckColumns);
}

int Download(const ClientContext& context, const DataArgs& args) {
  std::string path =
      VersionPath(args, {"data"}) + "?format=" + (args.format.empty() ? "parquet" : args.format);
  if (!args.to_region.empty()) path += "&to_region=" + EncodeQueryComponent(args.to_region);
  auto bytes = CallForBytes(context, "GET", path);
  if (!bytes) return Report(bytes.error());
  std::ofstream out(args.output, std::ios::binary | std::ios::trunc);
  out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
  if (!out.flush()) return UsageError("cannot write " + args.output);
  std::printf("wrote %zu bytes to %s\n", bytes->size(), args.output.c_str());
  return 0;
}

void AddSourceCommands(CLI::App& app, CommandTable& table, DataArgs& args) {
  CLI::App* sources = app.add_subcommand("sources", "Manage data sources and ingest through them");
  sources->require_subcommand(1);
  for (bool replace : {false, true}) {
    CLI::App* apply = sources->add_subcommand(
        replace ? "replace" : "create",
        replace ? "Replace a source's definition" : "Register a source from a YAML/JSON file");
    apply->add_option("project", args.project, "Project")->required();
    apply->add_option("-f,--file", args.file, "Source definition (YAML or JSON)")->required();
    table.AddClient(apply, [&args, replace](const ClientContext& context) {
      return ApplySource(context, args, replace);
    });
  }
  CLI::App* list = sources->add_subcommand("list", "List a project's sources");
  list->add_option("project", args.project, "Project")->required();
  table.AddClient(list, [&args](const ClientContext& context) {
    return CallAndPrintList(context, SourcePath(args), "sources", kSourceColumns);
  });
  CLI::App* get = sources->add_subcommand("get", "Show one source");
  get->add_option("project", args.project, "Project")->required();
  get->add_option("name", args.name, "Source")->required();
  table.AddClient(get, [&args](const ClientContext& context) {
    return CallAndPrintItem(context, "GET", SourcePath(args), "", kSourceColumns);
  });
  CLI::App* remove = sources->add_subcommand("delete", "Delete a source (its datasets stay)");
  remove->add_option("project", args.project, "Project")->required();
  remove->add_option("name", args.name, "Source")->required();
  table.AddClient(remove, [&args](const ClientContext& context) {
    return CallAndConfirm(context, "DELETE", SourcePath(args), "deleted source " + args.name);
  });
  CLI::App* ingest = sources->add_subcommand("ingest", "Ingest a CSV or Parquet file");
  ingest->add_option("project", args.project, "Project")->required();
  ingest->add_option("name", args.name, "Source")->required();
  ingest->add_option("file", args.file, "The file")->required()->check(CLI::ExistingFile);
  ingest->add_option("--format", args.format, "csv or parquet (default: by extension)");
  ingest
      ->add_option("--progress", args.progress,
                   "Upload progress bar on stderr: auto (when a terminal), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  table.AddClient(ingest, [&args](const ClientContext& context) { return Ingest(context, args); });
  CLI::App* push =
      sources->add_subcommand("push", "Push rows from a JSON-lines or JSON-array file");
  push->add_option("project", args.project, "Project")->required();
  push->add_option("name", args.name, "Source")->required();
  push->add_option("file", args.file, "The rows")->required()->check(CLI::ExistingFile);
  table.AddClient(push, [&args](const ClientContext& context) { return Push(context, args); });
}

void AddDatasetCommands(CLI::App& app, CommandTable& table, DataArgs& args) {
  CLI::App* datasets = app.add_subcommand("datasets", "Read datasets, their profiles and reports");
  datasets->require_subcommand(1);
  CLI::App* list = datasets->add_subcommand("list", "List a project's datasets");
  list->add_option("project", args.project, "Project")->required();
  table.AddClient(list, [&args](const ClientContext& context) {
    return CallAndPrintList(context, ApiPath({"projects", args.project, "datasets"}), "datasets",
                            kDatasetColumns);
  });
  CLI::App* versions = datasets->add_subcommand("versions", "List a dataset's versions");
  versions->add_option("project", args.project, "Project")->required();
  versions->add_option("name", args.name, "Dataset")->required();
  table.AddClient(versions, [&args](const ClientContext& context) {
    return CallAndPrintList(context, ApiPath({"projects", args.project, "datasets", args.name}),
                            "versions", kVersionColumns);
  });
  struct Reader {
    const char* name;
    const char* help;
    int (*run)(const ClientContext&, const DataArgs&);
  };
  const Reader readers[] = {
      {"get", "Show one version",
       [](const ClientContext& context, const DataArgs& a) {
         return CallAndPrintItem(context, "GET", VersionPath(a), "", kVersionColumns);
       }},
      {"profile", "Show a version's column statistics", Profile},
      {"report", "Show a version's validation report", ShowReport},
  };
  for (const auto& reader : readers) {
    CLI::App* command = datasets->add_subcommand(reader.name, reader.help);
    command->add_option("project", args.project, "Project")->required();
    command->add_option("name", args.name, "Dataset")->required();
    command->add_option("--version", args.version, "Version number or 'latest'");
    table.AddClient(command, [&args, run = reader.run](const ClientContext& context) {
      return run(context, args);
    });
  }
  CLI::App* download = datasets->add_subcommand("download", "Download a version");
  download->add_option("project", args.project, "Project")->required();
  download->add_option("name", args.name, "Dataset")->required();
  download->add_option("--version", args.version, "Version number or 'latest'");
  download->add_option("--format", args.format, "parquet (default) or csv");
  download->add_option("--to-region", args.to_region,
                       "Region the data goes to (a cross-region transfer needs a policy)");
  download->add_option("--out", args.output, "File to write")->required();
  table.AddClient(download,
                  [&args](const ClientContext& context) { return Download(context, args); });
}

}  // namespace

void AddDataCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<DataArgs>();
  AddSourceCommands(app, table, args);
  AddDatasetCommands(app, table, args);
}

}  // namespace falaj::cli

#include "cli/monitor_commands.h"

#include <cstdio>

#include "cli/output.h"
#include "cli/spec_file.h"
#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kMonitorColumns = {"name",        "endpoint", "model",     "window",
                                 "drift_share", "revision", "created_at"};
const Columns kReportColumns = {"id", "kind", "rows", "drift_share", "dataset_drift", "window_end"};

struct MonitorArgs {
  std::string project;
  std::string name;
  std::string spec_file;
  std::string dataset;
  int64_t version = 0;
  bool close = false;
};

std::string MonitorPath(const MonitorArgs& args, std::vector<std::string_view> rest = {}) {
  std::vector<std::string_view> segments = {"projects", args.project, "monitors"};
  if (!args.name.empty()) segments.push_back(args.name);
  segments.insert(segments.end(), rest.begin(), rest.end());
  return ApiPath(segments);
}

// A report: its summary, then one row per feature (statistic, score, threshold, drifted,
// missing rate) and the prediction's drift, or the whole report in JSON/YAML.
int PrintReport(const ClientContext& context, const nlohmann::json& report) {
  if (context.format != OutputFormat::kTable) return PrintItem(context, report, kReportColumns);
  std::fputs(
      RenderObject(report, {"id", "kind", "rows", "drift_share", "dataset_drift"}, context.format)
          .c_str(),
      stdout);
  nlohmann::json rows = nlohmann::json::array();
  auto add = [&rows](const std::string& name, const nlohmann::json& drift) {
    nlohmann::json row = {{"feature", name}};
    if (drift.contains("error")) {
      row["statistic"] = drift["error"];
    } else {
      for (const char* field : {"statistic", "score", "p_value", "threshold", "drifted"}) {
        row[field] = drift[field];
      }
    }
    if (drift.contains("current")) row["missing_rate"] = drift["current"]["missing_rate"];
    rows.push_back(row);
  };
  for (const auto& [name, drift] : report["features"].items()) add(name, drift);
  if (report["prediction"].is_object()) add("(prediction)", report["prediction"]);
  std::fputs("\n", stdout);
  std::fputs(RenderItems(rows,
                         {"feature", "statistic", "score", "p_value", "threshold", "drifted",
                          "missing_rate"},
                         context.format)
                 .c_str(),
             stdout);
  if (report["labels"].is_object() && !report["labels"].empty()) {
    std::vector<std::string> fields;
    for (const auto& [metric, unused] : report["labels"].items()) fields.push_back(metric);
    std::fputs("\nlabels\n", stdout);
    std::fputs(RenderObject(report["labels"], fields, context.format).c_str(), stdout);
  }
  return 0;
}

int Report(const ClientContext& context, const MonitorArgs& args) {
  Result<nlohmann::json> report;
  if (args.close) {
    report = Call(context, "POST", MonitorPath(args, {"windows", "close"}));
  } else if (!args.dataset.empty()) {
    nlohmann::json body = {{"dataset", args.dataset}, {"version", args.version}};
    report = Call(context, "POST", MonitorPath(args, {"reports"}), body.dump());
  } else {
    auto listed =
        Call(context, "GET", MonitorPath(args, {"reports"}) + QueryString({{"limit", "1"}}));
    if (!listed) return falaj::cli::Report(listed.error());
    const nlohmann::json& reports = (*listed)["reports"];
    if (reports.empty()) {
      std::printf("monitor %s has no report yet\n", args.name.c_str());
      return 0;
    }
    report = Call(context, "GET", MonitorPath(args, {"reports", reports[0].value("id", "")}));
  }
  if (!report) return falaj::cli::Report(report.error());
  return PrintReport(context, *report);
}

CLI::App* AddNamed(CLI::App* parent, const char* name, const char* help, MonitorArgs& args) {
  CLI::App* command = parent->add_subcommand(name, help);
  command->add_option("project", args.project, "Project")->required();
  command->add_option("name", args.name, "Monitor")->required();
  return command;
}

}  // namespace

void AddMonitorCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<MonitorArgs>();
  CLI::App* monitors = app.add_subcommand("monitors", "Drift and data-quality monitors");
  monitors->require_subcommand(1);
  CLI::App* list = monitors->add_subcommand("list", "List a project's monitors");
  list->add_option("project", args.project, "Project")->required();
  table.AddClient(list, [&args](const ClientContext& context) {
    return CallAndPrintList(context, MonitorPath(args), "monitors", kMonitorColumns);
  });
  CLI::App* create = monitors->add_subcommand(
      "create", "Create a monitor from a YAML/JSON spec (name, endpoint or model, window, …)");
  create->add_option("project", args.project, "Project")->required();
  create->add_option("-f,--file", args.spec_file, "Monitor spec (YAML or JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  table.AddClient(create, [&args](const ClientContext& context) {
    auto spec = ReadSpecFile(args.spec_file, "a monitor spec");
    if (!spec) return UsageError(spec.error().message);
    return CallAndPrintItem(context, "POST", MonitorPath(args), spec->dump(), kMonitorColumns);
  });
  table.AddClient(AddNamed(monitors, "get", "Show one monitor", args),
                  [&args](const ClientContext& context) {
                    return CallAndPrintItem(context, "GET", MonitorPath(args), "", kMonitorColumns);
                  });
  CLI::App* report = AddNamed(
      monitors, "report",
      "Show the latest report; --dataset makes a batch report, --close closes the window now",
      args);
  report->add_option("--dataset", args.dataset, "Dataset to compare with the reference");
  report->add_option("--version", args.version, "Dataset version (default: the latest)");
  report->add_flag("--close", args.close, "Close the open window now and show its report");
  table.AddClient(report, [&args](const ClientContext& context) { return Report(context, args); });
  table.AddClient(AddNamed(monitors, "delete", "Delete a monitor and its reports", args),
                  [&args](const ClientContext& context) {
                    return CallAndConfirm(context, "DELETE", MonitorPath(args),
                                          "deleted monitor " + args.name);
                  });
}

}  // namespace falaj::cli

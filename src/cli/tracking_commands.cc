#include "cli/tracking_commands.h"

#include <cstdio>

#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kExperimentColumns = {"id", "name", "lifecycle", "tags", "created_at"};
const Columns kRunColumns = {"id", "name", "status", "start_time", "params", "metrics"};
const Columns kRunFields = {"id",         "name",     "experiment_id", "status", "user",
                            "start_time", "end_time", "params",        "tags",   "metrics"};

struct TrackingArgs {
  std::string project;
  std::string name;  // experiment name (create) or id (get)
  std::vector<std::string> tags;
  std::string view = "active";
  std::string experiment;  // id or name
  std::string filter;
  std::vector<std::string> order_by;
  int64_t limit = 0;  // 0: every matching run
  std::string run;
  std::vector<std::string> runs;
};

// A run as tables show it: the latest metric values as a key=value map, not their step and time.
nlohmann::json RunRow(nlohmann::json run) {
  nlohmann::json metrics = nlohmann::json::object();
  const nlohmann::json logged = run.value("metrics", nlohmann::json::object());
  for (const auto& [key, point] : logged.items()) {
    metrics[key] = point.is_object() ? point.value("value", nlohmann::json()) : point;
  }
  run["metrics"] = metrics;
  return run;
}

// The experiment's id: digits are an id already; anything else is looked up by name.
Result<std::string> ExperimentId(const ClientContext& context, const TrackingArgs& args) {
  if (!args.experiment.empty() &&
      args.experiment.find_first_not_of("0123456789") == std::string::npos) {
    return args.experiment;
  }
  FALAJ_ASSIGN_OR_RETURN(
      auto answer,
      Call(context, "GET", ApiPath({"projects", args.project, "experiments"}) + "?view=all"));
  for (const auto& experiment : answer.value("experiments", nlohmann::json::array())) {
    if (experiment.value("name", "") == args.experiment) return experiment.value("id", "");
  }
  return MakeError(ErrorCode::kFailedPrecondition, "no experiment named '{}' in project {}",
                   args.experiment, args.project);
}

int ListRuns(const ClientContext& context, const TrackingArgs& args) {
  auto experiment = ExperimentId(context, args);
  if (!experiment) return Report(experiment.error());
  nlohmann::json body = {{"experiment_ids", {*experiment}},
                         {"filter", args.filter},
                         {"order_by", args.order_by},
                         {"view", args.view},
                         {"max_results", 1000}};
  nlohmann::json runs = nlohmann::json::array();
  while (args.limit <= 0 || static_cast<int64_t>(runs.size()) < args.limit) {
    auto page =
        Call(context, "POST", ApiPath({"projects", args.project, "runs", "search"}), body.dump());
    if (!page) return Report(page.error());
    for (const auto& run : page->value("runs", nlohmann::json::array())) {
      if (args.limit > 0 && static_cast<int64_t>(runs.size()) >= args.limit) break;
      runs.push_back(context.format == OutputFormat::kTable ? RunRow(run) : run);
    }
    const auto& token = (*page)["next_page_token"];
    if (!token.is_string()) break;
    body["page_token"] = token;
  }
  return PrintList(context, runs, kRunColumns);
}

std::string ValueText(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// Columns are runs; rows are "params.<key>" and "metrics.<key>", a '*' marking values that
// differ between the runs.
int CompareRuns(const ClientContext& context, const TrackingArgs& args) {
  nlohmann::json body = {{"run_ids", args.runs}};
  auto answer =
      Call(context, "POST", ApiPath({"projects", args.project, "runs", "compare"}), body.dump());
  if (!answer) return Report(answer.error());
  if (context.format != OutputFormat::kTable) return PrintItem(context, *answer, {});
  std::vector<std::string> headers = {"", "key"};
  for (const auto& run : (*answer)["runs"]) {
    headers.push_back(run.value("name", "") + " (" + run.value("id", "").substr(0, 8) + ")");
  }
  std::vector<std::vector<std::string>> rows;
  for (const char* kind : {"params", "metrics"}) {
    for (const auto& entry : (*answer)[kind]) {
      std::vector<std::string> row = {entry.value("differs", false) ? "*" : "",
                                      std::string(kind) + "." + entry.value("key", "")};
      for (const auto& value : entry["values"]) row.push_back(ValueText(value));
      rows.push_back(std::move(row));
    }
  }
  std::fputs(RenderTable(headers, rows).c_str(), stdout);
  return 0;
}

void AddExperimentCommands(CLI::App& app, CommandTable& table, TrackingArgs& args) {
  CLI::App* experiments =
      app.add_subcommand("experiments", "Experiment tracking: a project's experiments");
  experiments->require_subcommand(1);

  CLI::App* list = experiments->add_subcommand("list", "List the project's experiments");
  list->add_option("project", args.project, "Project")->required();
  list->add_option("--view", args.view, "active, deleted or all")
      ->check(CLI::IsMember({"active", "deleted", "all"}));
  table.AddClient(list, [&args](const ClientContext& context) {
    return CallAndPrintList(
        context, ApiPath({"projects", args.project, "experiments"}) + "?view=" + args.view,
        "experiments", kExperimentColumns);
  });

  CLI::App* create = experiments->add_subcommand("create", "Create an experiment");
  create->add_option("project", args.project, "Project")->required();
  create->add_option("name", args.name, "Experiment name (unique in the project)")->required();
  create->add_option("--tag", args.tags, "Tag key=value (repeatable)");
  table.AddClient(create, [&args](const ClientContext& context) {
    auto tags = ParseKeyValues("--tag", args.tags);
    if (!tags) return UsageError(tags.error().message);
    nlohmann::json body = {{"name", args.name}, {"tags", *tags}};
    return CallAndPrintItem(context, "POST", ApiPath({"projects", args.project, "experiments"}),
                            body.dump(), kExperimentColumns);
  });

  CLI::App* get = experiments->add_subcommand("get", "Show one experiment");
  get->add_option("project", args.project, "Project")->required();
  get->add_option("id", args.name, "Experiment id")->required();
  table.AddClient(get, [&args](const ClientContext& context) {
    return CallAndPrintItem(context, "GET",
                            ApiPath({"projects", args.project, "experiments", args.name}), "",
                            kExperimentColumns);
  });
}

void AddRunCommands(CLI::App& app, CommandTable& table, TrackingArgs& args) {
  CLI::App* runs = app.add_subcommand("runs", "Experiment tracking: search, show, compare runs");
  runs->require_subcommand(1);

  CLI::App* list = runs->add_subcommand("list", "Search an experiment's runs (every page)");
  list->add_option("project", args.project, "Project")->required();
  list->add_option("--experiment", args.experiment, "Experiment id or name")->required();
  list->add_option("--filter", args.filter,
                   "MLflow filter, e.g. \"metrics.auc > 0.8 and params.depth = '6'\"");
  list->add_option("--order-by", args.order_by,
                   "Order, e.g. \"metrics.auc DESC\" (repeatable; default start time, newest "
                   "first)");
  list->add_option("--view", args.view, "active, deleted or all")
      ->check(CLI::IsMember({"active", "deleted", "all"}));
  list->add_option("--limit", args.limit, "At most this many runs (default: all)")
      ->check(CLI::NonNegativeNumber);
  table.AddClient(list, [&args](const ClientContext& context) { return ListRuns(context, args); });

  CLI::App* get = runs->add_subcommand("get", "Show one run: params, tags, latest metrics");
  get->add_option("project", args.project, "Project")->required();
  get->add_option("run", args.run, "Run id")->required();
  table.AddClient(get, [&args](const ClientContext& context) {
    auto answer = Call(context, "GET", ApiPath({"projects", args.project, "runs", args.run}));
    if (!answer) return Report(answer.error());
    if (context.format != OutputFormat::kTable) return PrintItem(context, *answer, {});
    std::fputs(RenderObject(RunRow(*answer), kRunFields, context.format).c_str(), stdout);
    return 0;
  });

  CLI::App* compare = runs->add_subcommand(
      "compare", "Params and latest metrics of runs side by side ('*': the values differ)");
  compare->add_option("project", args.project, "Project")->required();
  compare->add_option("runs", args.runs, "Run ids (two or more)")->required()->expected(2, 100);
  table.AddClient(compare,
                  [&args](const ClientContext& context) { return CompareRuns(context, args); });
}

}  // namespace

void AddTrackingCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<TrackingArgs>();
  AddExperimentCommands(app, table, args);
  AddRunCommands(app, table, args);
}

}  // namespace falaj::cli

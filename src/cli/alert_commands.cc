#include "cli/alert_commands.h"

#include "cli/spec_file.h"
#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kRuleColumns = {"name", "value", "op", "threshold", "for", "severity", "revision"};
const Columns kAlertColumns = {"rule",     "series",      "state",      "value",
                               "fired_at", "resolved_at", "trigger_job"};

struct AlertArgs {
  std::string project;
  std::string name;
  std::string spec_file;
  std::string state;
};

std::string AlertsPath(const AlertArgs& args, std::vector<std::string_view> rest = {}) {
  std::vector<std::string_view> segments = {"projects", args.project, "alerts"};
  segments.insert(segments.end(), rest.begin(), rest.end());
  return ApiPath(segments);
}

}  // namespace

void AddAlertCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<AlertArgs>();
  CLI::App* alerts = app.add_subcommand("alerts", "Alert rules and current alerts");
  alerts->require_subcommand(1);
  CLI::App* rules = alerts->add_subcommand("rules", "List a project's alert rules");
  rules->add_option("project", args.project, "Project")->required();
  table.AddClient(rules, [&args](const ClientContext& context) {
    return CallAndPrintList(context, AlertsPath(args, {"rules"}), "rules", kRuleColumns);
  });
  CLI::App* list = alerts->add_subcommand("list", "List pending, firing and resolved alerts");
  list->add_option("project", args.project, "Project")->required();
  list->add_option("--state", args.state, "Only alerts in this state")
      ->check(CLI::IsMember({"pending", "firing", "resolved"}));
  table.AddClient(list, [&args](const ClientContext& context) {
    std::optional<std::string> state;
    if (!args.state.empty()) state = args.state;
    return CallAndPrintList(context, AlertsPath(args) + QueryString({{"state", state}}), "alerts",
                            kAlertColumns);
  });
  CLI::App* create = alerts->add_subcommand(
      "create-rule", "Create a rule from a YAML/JSON file (name, value, op, threshold, for, …)");
  create->add_option("project", args.project, "Project")->required();
  create->add_option("-f,--file", args.spec_file, "Rule (YAML or JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  table.AddClient(create, [&args](const ClientContext& context) {
    auto rule = ReadSpecFile(args.spec_file, "an alert rule");
    if (!rule) return UsageError(rule.error().message);
    return CallAndPrintItem(context, "POST", AlertsPath(args, {"rules"}), rule->dump(),
                            kRuleColumns);
  });
  CLI::App* remove = alerts->add_subcommand("delete-rule", "Delete a rule and its alerts");
  remove->add_option("project", args.project, "Project")->required();
  remove->add_option("name", args.name, "Rule")->required();
  table.AddClient(remove, [&args](const ClientContext& context) {
    return CallAndConfirm(context, "DELETE", AlertsPath(args, {"rules", args.name}),
                          "deleted alert rule " + args.name);
  });
}

}  // namespace falaj::cli

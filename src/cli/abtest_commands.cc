#include "cli/abtest_commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kTestColumns = {"name", "endpoint", "control", "treatment", "policy", "status"};
const Columns kDecisionColumns = {"seq", "action", "principal", "automatic", "outcome", "time"};
const Columns kMetricColumns = {"metric", "kind",    "control",       "treatment",     "p_value",
                                "lift",   "lift_ci", "relative_lift", "sequential_ci", "decided"};

struct AbTestArgs {
  std::string project;
  std::string name;
  std::string endpoint;
  std::string control;
  std::string treatment;
  std::vector<std::string> metrics;
  double minimum_detectable_effect = 0.05;
  double alpha = 0.05;
  double power = 0.8;
  std::string policy = "manual";
  std::string promote_alias;
  std::string description;
  std::string action;
  std::string reason;
};

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at = text.find(separator); at != std::string_view::npos;
       at = text.find(separator, start)) {
    parts.emplace_back(text.substr(start, at - start));
    start = at + 1;
  }
  parts.emplace_back(text.substr(start));
  return parts;
}

// NAME:KIND[:ROLE[:HARM]] → the API's metric object; the server checks the values.
Result<nlohmann::json> ParseMetric(std::string_view text) {
  const std::vector<std::string> parts = Split(text, ':');
  if (parts.size() < 2 || parts.size() > 4 || parts[0].empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "metric '{}' must be NAME:KIND[:ROLE[:HARM_THRESHOLD]], e.g. "
                     "clicked:conversion:primary",
                     text);
  }
  nlohmann::json metric = {{"name", parts[0]}, {"kind", parts[1]}};
  if (parts.size() > 2) metric["role"] = parts[2];
  if (parts.size() > 3) {
    try {
      size_t used = 0;
      metric["harm_threshold"] = std::stod(parts[3], &used);
      if (used != parts[3].size()) throw std::invalid_argument(parts[3]);
    } catch (const std::exception&) {
      return MakeError(ErrorCode::kInvalidArgument, "metric '{}': '{}' is not a number", text,
                       parts[3]);
    }
  }
  return metric;
}

Result<std::string> CreateBody(const AbTestArgs& args) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& text : args.metrics) {
    FALAJ_ASSIGN_OR_RETURN(auto metric, ParseMetric(text));
    metrics.push_back(std::move(metric));
  }
  nlohmann::json body = {{"name", args.name},
                         {"endpoint", args.endpoint},
                         {"control", args.control},
                         {"treatment", args.treatment},
                         {"metrics", metrics},
                         {"minimum_detectable_effect", args.minimum_detectable_effect},
                         {"alpha", args.alpha},
                         {"power", args.power},
                         {"policy", args.policy},
                         {"promote_alias", args.promote_alias},
                         {"description", args.description}};
  return body.dump();
}

std::string Number(const nlohmann::json& value) {
  return value.is_number() ? fmt::format("{:.4g}", value.get<double>()) : "-";
}

std::string Range(const nlohmann::json& estimate) {
  if (!estimate.is_object()) return "-";
  return "[" + Number(estimate["ci"]["lower"]) + ", " + Number(estimate["ci"]["upper"]) + "]";
}

// One table row per metric, from the results answer.
nlohmann::json MetricRows(const nlohmann::json& results) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& metric : results["metrics"]) {
    const nlohmann::json& fixed = metric["fixed_horizon"];
    const nlohmann::json& sequential = metric["sequential"];
    std::string decided = "-";
    if (sequential.is_object()) {
      decided = sequential["favours_treatment"].get<bool>()   ? "treatment better"
                : sequential["against_treatment"].get<bool>() ? "treatment worse"
                                                              : "not yet";
    }
    if (metric.value("harmed", false)) decided = "guardrail harmed";
    rows.push_back(
        {{"metric",
          metric["name"].get<std::string>() + " (" + metric["role"].get<std::string>() + ")"},
         {"kind", metric["kind"]},
         {"control", Number(metric["control"]["mean"]) +
                         " (n=" + std::to_string(metric["control"]["n"].get<int64_t>()) + ")"},
         {"treatment", Number(metric["treatment"]["mean"]) +
                           " (n=" + std::to_string(metric["treatment"]["n"].get<int64_t>()) + ")"},
         {"p_value", fixed.is_object() ? Number(fixed["p_value"]) : "-"},
         {"lift", fixed.is_object() ? Number(fixed["absolute"]["value"]) : "-"},
         {"lift_ci", fixed.is_object() ? Range(fixed["absolute"]) : "-"},
         {"relative_lift", fixed.is_object() ? Range(fixed["relative"]) : "-"},
         {"sequential_ci", sequential.is_object() ? Range(sequential["absolute"]) : "-"},
         {"decided", decided}});
  }
  return rows;
}

int PrintResults(const ClientContext& context, const nlohmann::json& results) {
  if (context.format != OutputFormat::kTable) return PrintItem(context, results, {});
  for (const auto& arm : results["arms"]) {
    std::printf("%s %s: %lld units, %lld requests\n", arm["role"].get<std::string>().c_str(),
                arm["arm"].get<std::string>().c_str(),
                static_cast<long long>(arm["units"].get<int64_t>()),
                static_cast<long long>(arm["requests"].get<int64_t>()));
  }
  std::printf("\n");
  PrintList(context, MetricRows(results), kMetricColumns);
  const nlohmann::json& srm = results["srm"];
  std::printf("\nsample ratio: p = %s%s\n", Number(srm["p_value"]).c_str(),
              srm["alert"].get<bool>() ? "  MISMATCH (p < 0.001): do not trust the metrics" : "");
  const nlohmann::json& minimum = results["minimum_sample"];
  std::printf("minimum sample: %s units per arm, %.0f %% reached\n",
              minimum["units_per_arm"].is_number()
                  ? std::to_string(minimum["units_per_arm"].get<int64_t>()).c_str()
                  : "unknown yet",
              100 * minimum["progress"].get<double>());
  std::printf("recommendation: %s (%s)\n",
              results["recommendation"]["action"].get<std::string>().c_str(),
              results["recommendation"]["reason"].get<std::string>().c_str());
  const nlohmann::json& automatic = results["policy"]["automatic_decision"];
  if (automatic.is_object()) {
    std::printf("the automatic policy decided: %s\n",
                automatic["action"].get<std::string>().c_str());
  }
  return 0;
}

CLI::App* AddTestCommand(CLI::App* abtests, const char* name, const char* description,
                         AbTestArgs& args, bool with_name) {
  CLI::App* command = abtests->add_subcommand(name, description);
  command->add_option("project", args.project, "Project name")->required();
  if (with_name) command->add_option("test", args.name, "A/B test name")->required();
  return command;
}

void AddCreateOptions(CLI::App* command, AbTestArgs& args) {
  command->add_option("--endpoint", args.endpoint, "The endpoint whose traffic is tested")
      ->required();
  command->add_option("--control", args.control, "The endpoint arm (target) of the control")
      ->required();
  command->add_option("--treatment", args.treatment, "The endpoint arm (target) of the treatment")
      ->required();
  command
      ->add_option("--metric", args.metrics,
                   "NAME:KIND[:ROLE[:HARM_THRESHOLD]]; KIND conversion or numeric, ROLE primary, "
                   "guardrail or secondary (repeat; exactly one primary)")
      ->required();
  command->add_option(
      "--mde", args.minimum_detectable_effect,
      "Minimum detectable effect: relative lift of the primary metric (0.05 = 5 %)");
  command->add_option("--alpha", args.alpha, "Significance level");
  command->add_option("--power", args.power, "Power the minimum sample is planned for");
  command->add_option("--policy", args.policy, "manual, or auto (promote / roll back / stop)")
      ->check(CLI::IsMember({"manual", "auto"}));
  command->add_option("--promote-alias", args.promote_alias,
                      "On promotion, move this alias of the treatment's model to its version");
  command->add_option("--description", args.description, "What the test is for");
}

}  // namespace

void AddAbTestCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<AbTestArgs>();
  CLI::App* abtests = app.add_subcommand(
      "abtests", "A/B tests on endpoints: results with honest statistics, and decisions");
  abtests->require_subcommand(1);

  table.AddClient(AddTestCommand(abtests, "list", "List A/B tests", args, false),
                  [&args](const ClientContext& context) {
                    return CallAndPrintList(context, ApiPath({"projects", args.project, "abtests"}),
                                            "abtests", kTestColumns);
                  });
  CLI::App* create = AddTestCommand(abtests, "create", "Start an A/B test", args, true);
  AddCreateOptions(create, args);
  table.AddClient(create, [&args](const ClientContext& context) {
    auto body = CreateBody(args);
    if (!body) return UsageError(body.error().message);
    return CallAndPrintItem(context, "POST", ApiPath({"projects", args.project, "abtests"}), *body,
                            kTestColumns);
  });
  table.AddClient(AddTestCommand(abtests, "get", "Show one A/B test", args, true),
                  [&args](const ClientContext& context) {
                    return CallAndPrintItem(
                        context, "GET", ApiPath({"projects", args.project, "abtests", args.name}),
                        "", kTestColumns);
                  });
  table.AddClient(
      AddTestCommand(abtests, "results",
                     "Per-metric tests, always-valid intervals, sample ratio, minimum sample and "
                     "the recommendation",
                     args, true),
      [&args](const ClientContext& context) {
        auto results = Call(context, "GET",
                            ApiPath({"projects", args.project, "abtests", args.name, "results"}));
        if (!results) return Report(results.error());
        return PrintResults(context, *results);
      });
  CLI::App* decide = AddTestCommand(
      abtests, "decide",
      "promote (all traffic to the treatment, move the alias), rollback (all traffic to the "
      "control) or stop (freeze the test)",
      args, true);
  decide->add_option("action", args.action, "promote, rollback or stop")
      ->required()
      ->check(CLI::IsMember({"promote", "rollback", "stop"}));
  decide->add_option("--reason", args.reason, "Why (kept in the decision history)");
  table.AddClient(decide, [&args](const ClientContext& context) {
    nlohmann::json body = {{"action", args.action}, {"reason", args.reason}};
    return CallAndPrintItem(context, "POST",
                            ApiPath({"projects", args.project, "abtests", args.name, "decision"}),
                            body.dump(), kDecisionColumns);
  });
  table.AddClient(AddTestCommand(abtests, "decisions", "The decision history", args, true),
                  [&args](const ClientContext& context) {
                    return CallAndPrintList(
                        context,
                        ApiPath({"projects", args.project, "abtests", args.name, "decisions"}),
                        "decisions", kDecisionColumns);
                  });
  table.AddClient(
      AddTestCommand(abtests, "delete", "Delete an A/B test and its history", args, true),
      [&args](const ClientContext& context) {
        return CallAndConfirm(context, "DELETE",
                              ApiPath({"projects", args.project, "abtests", args.name}),
                              "deleted A/B test " + args.name);
      });
}

}  // namespace falaj::cli

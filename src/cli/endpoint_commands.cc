#include "cli/endpoint_commands.h"

#include <charconv>
#include <string>
#include <vector>

#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kEndpointColumns = {"name", "runtime", "targets", "updated_at"};
const Columns kStatusColumns = {"model", "version", "state", "runtime", "reason"};
const Columns kArmColumns = {"arm",         "model",           "version",
                             "weight",      "requests",        "errors",
                             "step_p99_ms", "shadow_requests", "shadow_dropped"};

struct EndpointArgs {
  std::string project;
  std::string name;
  std::string description;
  std::vector<std::string> targets;
  std::string runtime = "auto";
  int64_t max_batch_size = 0;
  int64_t max_queue_delay_us = 500;
  int64_t max_queue_rows = 4096;
  int64_t idle_unload_seconds = 0;
  int64_t request_timeout_ms = 0;
  std::string feature_service;
  std::string traffic;  // the traffic policy as JSON text
  std::string arm;      // promote / rollback
};

bool ParseInteger(std::string_view text, int64_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// [ARM=]MODEL:VERSION[=WEIGHT] or [ARM=]MODEL@ALIAS[=WEIGHT] → the API's target object. Model
// names hold no ':' or '@', so a first part without them is the arm's name.
Result<nlohmann::json> ParseTarget(std::string_view text) {
  auto invalid = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "target '{}' must be [ARM=]MODEL:VERSION or [ARM=]MODEL@ALIAS, optionally "
                     "=WEIGHT",
                     text);
  };
  nlohmann::json target;
  std::string_view spec = text;
  if (auto equals = spec.find('=');
      equals != std::string_view::npos && spec.substr(0, equals).find_first_of(":@") == spec.npos) {
    if (equals == 0) return invalid();
    target["name"] = std::string(spec.substr(0, equals));
    spec = spec.substr(equals + 1);
  }
  if (auto equals = spec.rfind('='); equals != std::string_view::npos) {
    int64_t weight = 0;
    if (!ParseInteger(spec.substr(equals + 1), weight)) return invalid();
    target["weight"] = weight;
    spec = spec.substr(0, equals);
  }
  if (auto at = spec.find('@'); at != std::string_view::npos) {
    target["model"] = std::string(spec.substr(0, at));
    target["alias"] = std::string(spec.substr(at + 1));
  } else if (auto colon = spec.rfind(':'); colon != std::string_view::npos) {
    int64_t version = 0;
    if (!ParseInteger(spec.substr(colon + 1), version)) return invalid();
    target["model"] = std::string(spec.substr(0, colon));
    target["version"] = version;
  } else {
    return invalid();
  }
  if (target["model"].get<std::string>().empty()) return invalid();
  return target;
}

Result<std::string> EndpointBody(const EndpointArgs& args) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& text : args.targets) {
    FALAJ_ASSIGN_OR_RETURN(auto target, ParseTarget(text));
    targets.push_back(std::move(target));
  }
  nlohmann::json body = {{"name", args.name},
                         {"description", args.description},
                         {"targets", targets},
                         {"runtime", args.runtime},
                         {"batching",
                          {{"max_batch_size", args.max_batch_size},
                           {"max_queue_delay_us", args.max_queue_delay_us},
                           {"max_queue_rows", args.max_queue_rows}}},
                         {"idle_unload_seconds", args.idle_unload_seconds},
                         {"request_timeout_ms", args.request_timeout_ms}};
  if (!args.feature_service.empty()) body["feature_service"] = args.feature_service;
  if (!args.traffic.empty()) {
    auto traffic = nlohmann::json::parse(args.traffic, nullptr, false);
    if (traffic.is_discarded()) {
      return MakeError(ErrorCode::kInvalidArgument, "--traffic is not valid JSON");
    }
    body["traffic"] = std::move(traffic);
  }
  return body.dump();
}

CLI::App* AddEndpointCommand(CLI::App* endpoints, const char* name, const char* description,
                             EndpointArgs& args, bool with_name) {
  CLI::App* command = endpoints->add_subcommand(name, description);
  command->add_option("project", args.project, "Project name")->required();
  if (with_name) command->add_option("endpoint", args.name, "Endpoint name")->required();
  return command;
}

void AddDefinitionOptions(CLI::App* command, EndpointArgs& args) {
  command
      ->add_option("--target", args.targets,
                   "[ARM=]MODEL:VERSION or [ARM=]MODEL@ALIAS, optionally =WEIGHT (repeat for a "
                   "traffic split); ARM names the arm (default MODEL:vVERSION or MODEL@ALIAS)")
      ->required();
  command->add_option(
      "--traffic", args.traffic,
      "The traffic policy as JSON: {\"assignment\": {\"unit_key\": \"user_id\"}, \"shadow\": "
      "[{\"arm\": A, \"percent\": P}], \"canary\": {\"arm\": A, \"baseline\": B, \"steps\": "
      "[5, 25, 100], \"step_seconds\": 600, \"guardrails\": {...}}} (see docs/serving.md)");
  command->add_option("--description", args.description, "What the endpoint is for");
  command->add_option("--runtime", args.runtime, "auto, trees, xgboost or linear")
      ->check(CLI::IsMember({"auto", "trees", "xgboost", "linear"}));
  command->add_option("--max-batch-size", args.max_batch_size,
                      "Dynamic batching: rows per runtime call (0 or 1: off)");
  command->add_option("--max-queue-delay-us", args.max_queue_delay_us,
                      "Dynamic batching: how long a request may wait for others");
  command->add_option("--max-queue-rows", args.max_queue_rows,
                      "Dynamic batching: queued rows beyond this are refused (429)");
  command->add_option("--idle-unload-seconds", args.idle_unload_seconds,
                      "Unload targets idle this long (scale to zero); 0: never");
  command->add_option("--request-timeout-ms", args.request_timeout_ms,
                      "Fail requests still queued after this long; 0: none");
  command->add_option("--feature-service", args.feature_service,
                      "A feature service of the project: requests then carry its entity keys and "
                      "the server fetches the features");
}

// An endpoint's traffic view: its arms as a table, or all of it (policy, canary state) as JSON or
// YAML.
int PrintTraffic(const ClientContext& context, const Result<nlohmann::json>& view) {
  if (!view) return Report(view.error());
  if (context.format != OutputFormat::kTable) return PrintItem(context, *view, {});
  return PrintList(context, (*view)["arms"], kArmColumns);
}

}  // namespace

void AddEndpointCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<EndpointArgs>();
  CLI::App* endpoints = app.add_subcommand("endpoints", "Manage a project's serving endpoints");
  endpoints->require_subcommand(1);

  table.AddClient(AddEndpointCommand(endpoints, "list", "List endpoints", args, false),
                  [&args](const ClientContext& context) {
                    return CallAndPrintList(context,
                                            ApiPath({"projects", args.project, "endpoints"}),
                                            "endpoints", kEndpointColumns);
                  });
  table.AddClient(AddEndpointCommand(endpoints, "get", "Show one endpoint", args, true),
                  [&args](const ClientContext& context) {
                    return CallAndPrintItem(
                        context, "GET", ApiPath({"projects", args.project, "endpoints", args.name}),
                        "", kEndpointColumns);
                  });
  for (bool create : {true, false}) {
    CLI::App* command = AddEndpointCommand(
        endpoints, create ? "create" : "update",
        create ? "Create an endpoint" : "Replace an endpoint's targets and settings", args, true);
    AddDefinitionOptions(command, args);
    table.AddClient(command, [&args, create](const ClientContext& context) {
      auto body = EndpointBody(args);
      if (!body) return UsageError(body.error().message);
      std::vector<std::string_view> path = {"projects", args.project, "endpoints"};
      if (!create) path.push_back(args.name);
      return CallAndPrintItem(context, create ? "POST" : "PUT", ApiPath(path), *body,
                              kEndpointColumns);
    });
  }
  table.AddClient(AddEndpointCommand(endpoints, "delete", "Delete an endpoint", args, true),
                  [&args](const ClientContext& context) {
                    return CallAndConfirm(
                        context, "DELETE",
                        ApiPath({"projects", args.project, "endpoints", args.name}),
                        "deleted endpoint " + args.name);
                  });
  table.AddClient(
      AddEndpointCommand(endpoints, "status", "Each target's load state and reason", args, true),
      [&args](const ClientContext& context) {
        auto status = Call(context, "GET",
                           ApiPath({"projects", args.project, "endpoints", args.name, "status"}));
        if (!status) return Report(status.error());
        return PrintList(context, (*status)["targets"], kStatusColumns);
      });
  table.AddClient(
      AddEndpointCommand(endpoints, "traffic",
                         "Each arm's weight and this server's counters (requests, errors, p99 of "
                         "the canary step, shadow calls); JSON output adds the policy and the "
                         "canary's state",
                         args, true),
      [&args](const ClientContext& context) {
        auto view = Call(context, "GET",
                         ApiPath({"projects", args.project, "endpoints", args.name, "traffic"}));
        return PrintTraffic(context, view);
      });
  for (const bool promote : {true, false}) {
    CLI::App* command = AddEndpointCommand(
        endpoints, promote ? "promote" : "rollback",
        promote ? "Send all of the endpoint's traffic to ARM, ending any canary ramp and shadow"
                : "Send all traffic back to ARM (default: the ramping canary's baseline), ending "
                  "the ramp and any shadow",
        args, true);
    command->add_option("arm", args.arm, "The arm to send all traffic to")->required(promote);
    table.AddClient(command, [&args, promote](const ClientContext& context) {
      nlohmann::json body = nlohmann::json::object();
      if (!args.arm.empty()) body["arm"] = args.arm;
      auto view = Call(context, "POST",
                       ApiPath({"projects", args.project, "endpoints", args.name, "traffic",
                                promote ? "promote" : "rollback"}),
                       body.dump());
      return PrintTraffic(context, view);
    });
  }
}

}  // namespace falaj::cli

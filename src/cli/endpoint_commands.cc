#include "cli/endpoint_commands.h"

#include <charconv>
#include <string>
#include <vector>

#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kEndpointColumns = {"name", "runtime", "targets", "updated_at"};
const Columns kStatusColumns = {"model", "version", "state", "runtime", "reason"};

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
};

bool ParseInteger(std::string_view text, int64_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// MODEL:VERSION[=WEIGHT] or MODEL@ALIAS[=WEIGHT] → the API's target object.
Result<nlohmann::json> ParseTarget(std::string_view text) {
  auto invalid = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "target '{}' must be MODEL:VERSION or MODEL@ALIAS, optionally =WEIGHT", text);
  };
  nlohmann::json target;
  std::string_view spec = text;
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
                   "MODEL:VERSION or MODEL@ALIAS, optionally =WEIGHT (repeat for a traffic split)")
      ->required();
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
}

}  // namespace falaj::cli

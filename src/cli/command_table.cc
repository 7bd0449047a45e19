#include "cli/command_table.h"

#include "security/roles.h"

namespace falaj::cli {

CLI::Validator ProjectRoleCheck() {
  std::vector<std::string> roles;
  for (std::string_view role : security::ProjectRoles()) roles.emplace_back(role);
  return CLI::IsMember(roles);
}

Result<std::map<std::string, std::string>> ParseKeyValues(std::string_view flag,
                                                          const std::vector<std::string>& items) {
  std::map<std::string, std::string> values;
  for (const auto& item : items) {
    auto equals = item.find('=');
    if (equals == std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "{} '{}' must be key=value", flag, item);
    }
    values[item.substr(0, equals)] = item.substr(equals + 1);
  }
  return values;
}

CLI::App* CommandTable::AddOutputFlag(CLI::App* command) {
  command->add_option("-o,--output", output_, "Output format: table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  return command;
}

CLI::App* CommandTable::AddConnectionFlags(CLI::App* command) {
  command->add_option("--url", options_.base_url, "Server URL (or FALAJ_URL)");
  command->add_option("--key", options_.api_key, "API key (or FALAJ_KEY)");
  command->add_option("--ca-file", options_.ca_file, "CA bundle for an https server");
  return command;
}

CLI::App* CommandTable::AddClientFlags(CLI::App* command) {
  return AddOutputFlag(AddConnectionFlags(command));
}

void CommandTable::AddClient(CLI::App* command, ClientAction run) {
  AddClientFlags(command);
  AddLocal(command, [this, run = std::move(run)] { return WithClient(run); });
}

void CommandTable::AddLocal(CLI::App* command, std::function<int()> run) {
  commands_.emplace_back(command, std::move(run));
}

OutputFormat CommandTable::format() const {
  return output_ == "json"   ? OutputFormat::kJson
         : output_ == "yaml" ? OutputFormat::kYaml
                             : OutputFormat::kTable;
}

int CommandTable::WithClient(const ClientAction& run) const {
  ClientContext context{options_, format()};
  if (Status resolved = ResolveClientOptions(context.options); !resolved) {
    return UsageError(resolved.error().message);
  }
  return run(context);
}

int CommandTable::Run() const {
  for (const auto& [command, run] : commands_) {
    if (command->parsed()) return run();
  }
  return UsageError("no command given; see falaj --help");
}

}  // namespace falaj::cli

#include "cli/key_commands.h"

#include <cstdint>
#include <cstdio>
#include <optional>

#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kKeyColumns = {"id",         "name",       "project",      "platform_admin",
                             "created_at", "expires_at", "last_used_at", "revoked_at"};

struct KeyArgs {
  std::string id;
  std::string name;
  std::string project;  // empty: a platform-wide key
  std::string role;
  bool platform_admin = false;
  std::optional<int64_t> expires_in_seconds;
  std::optional<int64_t> overlap_seconds;
};

// …/api-keys[/id[/action]] of the platform or of --project.
std::string KeysPath(const KeyArgs& args, std::string_view id = {}, std::string_view action = {}) {
  std::vector<std::string_view> segments;
  if (!args.project.empty()) segments = {"projects", args.project};
  segments.push_back("api-keys");
  if (!id.empty()) segments.push_back(id);
  if (!action.empty()) segments.push_back(action);
  return ApiPath(segments);
}

// A new key: its row, then the plaintext, which the server never shows again. In JSON and YAML
// the plaintext is the object's `key` member.
int CallAndPrintNewKey(const ClientContext& context, const std::string& path,
                       const std::string& body) {
  auto created = Call(context, "POST", path, body);
  if (!created) return Report(created.error());
  PrintItem(context, *created, kKeyColumns);
  if (context.format == OutputFormat::kTable) {
    std::printf("\nkey: %s\n", created->value("key", "").c_str());
    std::printf("Store this key now: it will not be shown again.\n");
  }
  return 0;
}

int CreateKey(const ClientContext& context, const KeyArgs& args) {
  nlohmann::json body = {{"name", args.name}};
  if (!args.project.empty()) body["role"] = args.role;
  if (args.platform_admin) body["platform_admin"] = true;
  if (args.expires_in_seconds) body["expires_in_seconds"] = *args.expires_in_seconds;
  return CallAndPrintNewKey(context, KeysPath(args), body.dump());
}

int RotateKey(const ClientContext& context, const KeyArgs& args) {
  nlohmann::json body = nlohmann::json::object();
  if (args.overlap_seconds) body["overlap_seconds"] = *args.overlap_seconds;
  return CallAndPrintNewKey(context, KeysPath(args, args.id, "rotate"), body.dump());
}

CLI::Option* AddProjectFlag(CLI::App* command, KeyArgs& args) {
  return command->add_option("--project", args.project,
                             "The project whose keys these are (default: platform-wide keys)");
}

CLI::App* AddKeyCommand(CLI::App* keys, const char* name, const char* description, KeyArgs& args) {
  CLI::App* command = keys->add_subcommand(name, description);
  command->add_option("id", args.id, "Key id (the `id` column of `falaj keys list`)")->required();
  AddProjectFlag(command, args);
  return command;
}

void AddCreateCommand(CLI::App* keys, CommandTable& table, KeyArgs& args) {
  CLI::App* create = keys->add_subcommand("create", "Create an API key and print it once");
  create->footer(
      "Without --project the key is platform-wide (platform administrators only); add\n"
      "--platform-admin to make it one. With --project P --role R it works only in project P,\n"
      "where it holds role R. The plaintext key is printed once: store it then.");
  create->add_option("name", args.name, "A name for the key (who or what uses it)")->required();
  CLI::Option* project = AddProjectFlag(create, args);
  CLI::Option* role = create->add_option("--role", args.role, "The key's role in --project")
                          ->check(ProjectRoleCheck());
  CLI::Option* admin = create->add_flag("--platform-admin", args.platform_admin,
                                        "Make a platform-wide key a platform administrator");
  create
      ->add_option("--expires-in", args.expires_in_seconds,
                   "Seconds until the key expires (default: never)")
      ->check(CLI::PositiveNumber);
  project->needs(role);
  role->needs(project);
  admin->excludes(project);
  table.AddClient(create,
                  [&args](const ClientContext& context) { return CreateKey(context, args); });
}

}  // namespace

void AddKeyCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<KeyArgs>();
  CLI::App* keys = app.add_subcommand("keys", "Manage API keys");
  keys->require_subcommand(1);
  AddCreateCommand(keys, table, args);

  CLI::App* list = keys->add_subcommand("list", "List API keys, newest first");
  AddProjectFlag(list, args);
  table.AddClient(list, [&args](const ClientContext& context) {
    return CallAndPrintList(context, KeysPath(args), "api_keys", kKeyColumns);
  });

  table.AddClient(AddKeyCommand(keys, "get", "Show one API key (never its plaintext)", args),
                  [&args](const ClientContext& context) {
                    return CallAndPrintItem(context, "GET", KeysPath(args, args.id), "",
                                            kKeyColumns);
                  });

  table.AddClient(AddKeyCommand(keys, "revoke", "Revoke an API key at once", args),
                  [&args](const ClientContext& context) {
                    return CallAndConfirm(context, "DELETE", KeysPath(args, args.id),
                                          "revoked key " + args.id);
                  });

  CLI::App* rotate = AddKeyCommand(
      keys, "rotate", "Issue a replacement key; the old one keeps working for a while", args);
  rotate
      ->add_option("--overlap", args.overlap_seconds,
                   "Seconds the old key keeps working (server default: 86400)")
      ->check(CLI::NonNegativeNumber);
  table.AddClient(rotate,
                  [&args](const ClientContext& context) { return RotateKey(context, args); });
}

}  // namespace falaj::cli

#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/client_commands.h"
#include "cli/server_command.h"

namespace falaj::cli {
namespace {

void AddServerFlags(CLI::App& command, ServerFlags& flags) {
  command.add_option("--config", flags.config_file, "YAML configuration file (or FALAJ_CONFIG)");
  command.add_option("--data-dir", flags.data_dir, "Data directory (storage.data_dir)");
  command.add_option("--listen", flags.listen, "Listen address host:port (server.listen)");
  command.add_option("--set", flags.set, "Override any configuration key: --set key=value");
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{
      "Falaj: a self-hosted ML platform.\n"
      "`falaj server` runs it; the other commands talk to a running server over its REST API."};
  app.require_subcommand(1);

  ServerFlags server_flags;
  CLI::App* server = app.add_subcommand("server", "Run the Falaj server");
  AddServerFlags(*server, server_flags);

  CLI::App* config = app.add_subcommand("config", "Inspect configuration");
  config->require_subcommand(1);
  CLI::App* config_print =
      config->add_subcommand("print", "Print the effective configuration, secrets redacted");
  AddServerFlags(*config_print, server_flags);

  ClientContext context;
  std::string output = "table";
  auto add_client_flags = [&](CLI::App& command) {
    command.add_option("--url", context.options.base_url, "Server URL (or FALAJ_URL)");
    command.add_option("--key", context.options.api_key, "API key (or FALAJ_KEY)");
    command.add_option("--ca-file", context.options.ca_file, "CA bundle for an https server");
    command.add_option("-o,--output", output, "Output format: table, json or yaml")
        ->check(CLI::IsMember({"table", "json", "yaml"}));
  };

  CLI::App* projects = app.add_subcommand("projects", "Manage projects");
  projects->require_subcommand(1);
  ProjectCreateArgs create_args;
  std::vector<std::string> labels;
  CLI::App* create = projects->add_subcommand("create", "Create a project");
  create->add_option("name", create_args.name, "Project name (lowercase DNS label)")->required();
  create->add_option("--region", create_args.region, "Region the project is pinned to")->required();
  create->add_option("--description", create_args.description, "Free-text description");
  create->add_option("--label", labels, "Label key=value (repeatable)");
  std::string name;
  CLI::App* list = projects->add_subcommand("list", "List projects");
  CLI::App* get = projects->add_subcommand("get", "Show one project");
  get->add_option("name", name, "Project name")->required();
  CLI::App* remove = projects->add_subcommand("delete", "Delete a project that owns nothing");
  remove->add_option("name", name, "Project name")->required();
  for (CLI::App* command : {create, list, get, remove}) add_client_flags(*command);

  app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help answers 0; every usage error is exit code 2, as documented.
    return app.exit(error) == 0 ? 0 : 2;
  }

  if (server->parsed()) return RunServer(server_flags);
  if (config_print->parsed()) return PrintConfig(server_flags);
  if (app.got_subcommand("version")) {
    std::printf("falaj %s\n", FALAJ_VERSION);
    return 0;
  }

  context.format = output == "json"   ? OutputFormat::kJson
                   : output == "yaml" ? OutputFormat::kYaml
                                      : OutputFormat::kTable;
  if (Status resolved = ResolveClientOptions(context.options); !resolved) {
    std::fprintf(stderr, "falaj: %s\n", resolved.error().message.c_str());
    return 2;
  }
  for (const auto& label : labels) {
    auto equals = label.find('=');
    if (equals == std::string::npos) {
      std::fprintf(stderr, "falaj: --label '%s' must be key=value\n", label.c_str());
      return 2;
    }
    create_args.labels[label.substr(0, equals)] = label.substr(equals + 1);
  }
  if (create->parsed()) return CreateProject(context, create_args);
  if (list->parsed()) return ListProjects(context);
  if (get->parsed()) return GetProject(context, name);
  return DeleteProject(context, name);
}

}  // namespace falaj::cli

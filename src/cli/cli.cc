#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/abtest_commands.h"
#include "cli/alert_commands.h"
#include "cli/audit_commands.h"
#include "cli/command_table.h"
#include "cli/data_commands.h"
#include "cli/endpoint_commands.h"
#include "cli/feature_commands.h"
#include "cli/job_commands.h"
#include "cli/key_commands.h"
#include "cli/member_commands.h"
#include "cli/model_commands.h"
#include "cli/monitor_commands.h"
#include "cli/project_commands.h"
#include "cli/server_command.h"
#include "cli/tracking_commands.h"

namespace falaj::cli {
namespace {

void AddServerFlags(CLI::App& command, ServerFlags& flags) {
  command.add_option("--config", flags.config_file, "YAML configuration file (or FALAJ_CONFIG)");
  command.add_option("--data-dir", flags.data_dir, "Data directory (storage.data_dir)");
  command.add_option("--listen", flags.listen, "Listen address host:port (server.listen)");
  command.add_option("--set", flags.set, "Override any configuration key: --set key=value");
}

void AddServerCommands(CLI::App& app, CommandTable& table) {
  auto& flags = table.Keep<ServerFlags>();
  CLI::App* server = app.add_subcommand("server", "Run the Falaj server");
  AddServerFlags(*server, flags);
  table.AddLocal(server, [&flags] { return RunServer(flags); });

  CLI::App* config = app.add_subcommand("config", "Inspect configuration");
  config->require_subcommand(1);
  CLI::App* print =
      config->add_subcommand("print", "Print the effective configuration, secrets redacted");
  AddServerFlags(*print, flags);
  table.AddLocal(print, [&flags] { return PrintConfig(flags); });
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{
      "Falaj: a self-hosted ML platform.\n"
      "`falaj server` runs it; the other commands talk to a running server over its REST API\n"
      "(--url/--key, FALAJ_URL/FALAJ_KEY or ~/.config/falaj/config.yaml).\n"
      "Exit codes: 0 ok, 1 the server refused, 2 bad usage or no server to talk to."};
  app.require_subcommand(1);

  CommandTable table;
  AddServerCommands(app, table);
  AddProjectCommands(app, table);
  AddKeyCommands(app, table);
  AddMemberCommands(app, table);
  AddModelCommands(app, table);
  AddEndpointCommands(app, table);
  AddDataCommands(app, table);
  AddFeatureCommands(app, table);
  AddTrackingCommands(app, table);
  AddJobCommands(app, table);
  AddAuditCommands(app, table);
  AddAbTestCommands(app, table);
  AddMonitorCommands(app, table);
  AddAlertCommands(app, table);
  table.AddLocal(app.add_subcommand("version", "Print the version"), [] {
    std::printf("falaj %s\n", FALAJ_VERSION);
    return 0;
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help answers 0; every usage error is exit code 2, as documented.
    return app.exit(error) == 0 ? 0 : 2;
  }
  return table.Run();
}

}  // namespace falaj::cli

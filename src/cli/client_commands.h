// Client commands over the REST API: `falaj projects create|list|get|delete`. Each prints a
// table, JSON or YAML and returns an exit code (0 ok, 1 server refused, 2 bad usage or
// unreachable server).
#pragma once

#include <map>
#include <string>

#include "cli/http_client.h"
#include "cli/output.h"

namespace falaj::cli {

struct ClientContext {
  ClientOptions options;
  OutputFormat format = OutputFormat::kTable;
};

// Fills unset url/key from FALAJ_URL / FALAJ_KEY, then ~/.config/falaj/config.yaml, then the
// default http://127.0.0.1:8080. INVALID_ARGUMENT if the config file is malformed.
Status ResolveClientOptions(ClientOptions& options);

struct ProjectCreateArgs {
  std::string name;
  std::string region;
  std::string description;
  std::map<std::string, std::string> labels;
};

int CreateProject(const ClientContext& context, const ProjectCreateArgs& args);
int ListProjects(const ClientContext& context);
int GetProject(const ClientContext& context, const std::string& name);
int DeleteProject(const ClientContext& context, const std::string& name);

}  // namespace falaj::cli

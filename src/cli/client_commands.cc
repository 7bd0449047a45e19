#include "cli/client_commands.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace falaj::cli {
namespace {

const std::vector<std::string> kProjectColumns = {"name", "region", "description", "labels",
                                                  "created_at"};

// Sends the request and prints the server's error (if any) to stderr. Returns the parsed body.
Result<nlohmann::json> Call(const ClientContext& context, std::string_view method,
                            const std::string& path, const std::string& body) {
  auto response = SendRequest(context.options, method, path, body);
  if (!response) return std::unexpected(response.error());
  nlohmann::json parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status >= 400) {
    std::string message =
        parsed.is_discarded() ? response->body : parsed["error"].value("message", response->body);
    std::string code = parsed.is_discarded() ? "" : parsed["error"].value("code", "");
    return MakeError(ErrorCode::kFailedPrecondition, "{} {}: {}", response->status, code, message);
  }
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

int Report(const Error& error) {
  std::fprintf(stderr, "falaj: %s\n", error.message.c_str());
  return error.code == ErrorCode::kFailedPrecondition ? 1 : 2;
}

int PrintItems(const ClientContext& context, const nlohmann::json& items,
               const nlohmann::json& single) {
  std::fputs(RenderItems(context.format == OutputFormat::kTable ? items : single, kProjectColumns,
                         context.format)
                 .c_str(),
             stdout);
  return 0;
}

}  // namespace

Status ResolveClientOptions(ClientOptions& options) {
  if (options.base_url.empty()) {
    if (const char* url = std::getenv("FALAJ_URL")) options.base_url = url;
  }
  if (options.api_key.empty()) {
    if (const char* key = std::getenv("FALAJ_KEY")) options.api_key = key;
  }
  const char* home = std::getenv("HOME");
  std::string path = home != nullptr ? std::string(home) + "/.config/falaj/config.yaml" : "";
  if ((options.base_url.empty() || options.api_key.empty()) && !path.empty() &&
      std::filesystem::exists(path)) {
    try {
      YAML::Node file = YAML::LoadFile(path);
      if (options.base_url.empty() && file["url"]) options.base_url = file["url"].as<std::string>();
      if (options.api_key.empty() && file["key"]) options.api_key = file["key"].as<std::string>();
    } catch (const YAML::Exception& error) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: {}", path, error.what());
    }
  }
  if (options.base_url.empty()) options.base_url = "http://127.0.0.1:8080";
  return Ok();
}

int CreateProject(const ClientContext& context, const ProjectCreateArgs& args) {
  nlohmann::json body = {{"name", args.name}, {"region", args.region}, {"labels", args.labels}};
  if (!args.description.empty()) body["description"] = args.description;
  auto created = Call(context, "POST", "/api/v1/projects", body.dump());
  if (!created) return Report(created.error());
  return PrintItems(context, nlohmann::json::array({*created}), *created);
}

int ListProjects(const ClientContext& context) {
  auto listed = Call(context, "GET", "/api/v1/projects", "");
  if (!listed) return Report(listed.error());
  const nlohmann::json& items = (*listed)["projects"];
  return PrintItems(context, items, items);
}

int GetProject(const ClientContext& context, const std::string& name) {
  auto project = Call(context, "GET", "/api/v1/projects/" + name, "");
  if (!project) return Report(project.error());
  return PrintItems(context, nlohmann::json::array({*project}), *project);
}

int DeleteProject(const ClientContext& context, const std::string& name) {
  auto deleted = Call(context, "DELETE", "/api/v1/projects/" + name, "");
  if (!deleted) return Report(deleted.error());
  std::printf("deleted project %s\n", name.c_str());
  return 0;
}

}  // namespace falaj::cli

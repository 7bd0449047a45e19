#include "cli/client_call.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace falaj::cli {

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

Error RefusalError(const ClientResponse& response) {
  nlohmann::json parsed = nlohmann::json::parse(response.body, nullptr, false);
  bool structured = parsed.is_object() && parsed["error"].is_object();
  std::string message =
      structured ? parsed["error"].value("message", response.body) : response.body;
  std::string code = structured ? parsed["error"].value("code", "") : "";
  return Error{ErrorCode::kFailedPrecondition,
               fmt::format("{} {}: {}", response.status, code, message)};
}

Result<std::string> CallForBytes(const ClientContext& context, std::string_view method,
                                 const std::string& path, std::string_view body,
                                 std::string_view content_type) {
  auto response = SendRequest(context.options, method, path, body, content_type);
  if (!response) return std::unexpected(response.error());
  if (response->status >= 400) return std::unexpected(RefusalError(*response));
  return std::move(response->body);
}

Result<nlohmann::json> Call(const ClientContext& context, std::string_view method,
                            const std::string& path, std::string_view body,
                            std::string_view content_type) {
  FALAJ_ASSIGN_OR_RETURN(auto answer, CallForBytes(context, method, path, body, content_type));
  nlohmann::json parsed = nlohmann::json::parse(answer, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

int Report(const Error& error) {
  std::fprintf(stderr, "falaj: %s\n", error.message.c_str());
  bool refused = error.code == ErrorCode::kFailedPrecondition || error.code == ErrorCode::kDataLoss;
  return refused ? 1 : 2;
}

int UsageError(std::string_view message) {
  std::fprintf(stderr, "falaj: %.*s\n", static_cast<int>(message.size()), message.data());
  return 2;
}

int PrintItem(const ClientContext& context, const nlohmann::json& item, const Columns& columns) {
  const nlohmann::json& shown =
      context.format == OutputFormat::kTable ? nlohmann::json::array({item}) : item;
  std::fputs(RenderItems(shown, columns, context.format).c_str(), stdout);
  return 0;
}

int PrintList(const ClientContext& context, const nlohmann::json& items, const Columns& columns) {
  std::fputs(
      RenderItems(items.is_array() ? items : nlohmann::json::array(), columns, context.format)
          .c_str(),
      stdout);
  return 0;
}

int CallAndPrintItem(const ClientContext& context, std::string_view method, const std::string& path,
                     const std::string& body, const Columns& columns) {
  auto answer = Call(context, method, path, body);
  if (!answer) return Report(answer.error());
  return PrintItem(context, *answer, columns);
}

int CallAndPrintList(const ClientContext& context, const std::string& path,
                     const std::string& member, const Columns& columns) {
  auto answer = Call(context, "GET", path);
  if (!answer) return Report(answer.error());
  nlohmann::json items = answer->is_object() ? answer->value(member, nlohmann::json::array())
                                             : nlohmann::json::array();
  return PrintList(context, items, columns);
}

int CallAndConfirm(const ClientContext& context, std::string_view method, const std::string& path,
                   const std::string& done) {
  auto answer = Call(context, method, path);
  if (!answer) return Report(answer.error());
  std::printf("%s\n", done.c_str());
  return 0;
}

}  // namespace falaj::cli

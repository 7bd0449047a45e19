#include "cli/model_transfer.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <system_error>

#include "cli/command_table.h"
#include "cli/model_files.h"
#include "cli/url_encoding.h"
#include "common/encoding.h"
#include "registry/registry_names.h"

namespace falaj::cli {
namespace {

namespace fs = std::filesystem;

// `member` of `object` when it is a string, else "".
std::string StringMember(const nlohmann::json& object, const char* member) {
  if (!object.is_object()) return "";
  auto found = object.find(member);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

Result<std::map<std::string, double>> ParseMetrics(const std::vector<std::string>& items) {
  FALAJ_ASSIGN_OR_RETURN(auto texts, ParseKeyValues("--metric", items));
  std::map<std::string, double> metrics;
  for (const auto& [name, text] : texts) {
    double value = 0;
    const char* end = text.data() + text.size();
    auto parsed = std::from_chars(text.data(), end, value);
    if (parsed.ec != std::errc() || parsed.ptr != end || !std::isfinite(value)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--metric '{}={}': the value must be a finite number", name, text);
    }
    metrics[name] = value;
  }
  return metrics;
}

Result<nlohmann::json> ReadSignature(const std::string& file) {
  FALAJ_ASSIGN_OR_RETURN(auto text, ReadLocalFile(file));
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--signature {}: must hold a JSON object such as "
                     "{{\"inputs\": [...], \"outputs\": [...]}}",
                     file);
  }
  return parsed;
}

// The body of the version's registration, files still to be added.
Result<nlohmann::json> VersionBody(const NewVersionArgs& args) {
  FALAJ_ASSIGN_OR_RETURN(auto metrics, ParseMetrics(args.metrics));
  FALAJ_ASSIGN_OR_RETURN(auto tags, ParseKeyValues("--tag", args.tags));
  nlohmann::json body = {{"format", args.format},
                         {"files", nlohmann::json::array()},
                         {"metrics", metrics},
                         {"tags", tags}};
  if (!args.run_id.empty()) body["lineage"] = {{"run_id", args.run_id}};
  if (!args.signature_file.empty()) {
    FALAJ_ASSIGN_OR_RETURN(body["signature"], ReadSignature(args.signature_file));
  }
  return body;
}

Status EnsureModel(const ClientContext& context, const std::string& project,
                   const std::string& model) {
  FALAJ_ASSIGN_OR_RETURN(
      auto found,
      SendRequest(context.options, "GET", ApiPath({"projects", project, "models", model}), ""));
  if (found.status < 400) return Ok();
  if (found.status != 404) return std::unexpected(RefusalError(found));
  FALAJ_ASSIGN_OR_RETURN(
      auto created, SendRequest(context.options, "POST", ApiPath({"projects", project, "models"}),
                                nlohmann::json{{"name", model}}.dump()));
  // 409: someone created it in between, which is as good.
  if (created.status < 400 || created.status == 409) return Ok();
  return std::unexpected(RefusalError(created));
}

// Uploads one file; returns its {path, sha256} entry for the registration.
Result<nlohmann::json> UploadFile(const ClientContext& context, const std::string& project,
                                  const LocalFile& file) {
  FALAJ_ASSIGN_OR_RETURN(auto content, ReadLocalFile(file.source));
  std::string digest = Sha256Hex(content);
  FALAJ_ASSIGN_OR_RETURN(auto stored,
                         Call(context, "POST", ApiPath({"projects", project, "artifacts"}), content,
                              kBinaryContentType));
  std::string answered = StringMember(stored, "sha256");
  if (answered != digest) {
    return MakeError(ErrorCode::kDataLoss,
                     "{}: the server stored it with SHA-256 '{}', but the file's SHA-256 is {}; "
                     "no version was registered",
                     file.source.string(), answered.substr(0, 64), digest);
  }
  return nlohmann::json{{"path", file.path}, {"sha256", digest}};
}

struct ListedFile {
  std::string path;
  std::string sha256;
};

// The files `version` lists, each with a path that stays below the download folder.
Result<std::vector<ListedFile>> ListedFiles(const nlohmann::json& version) {
  auto files = version.is_object() ? version.find("files") : version.end();
  if (files == version.end() || !files->is_array()) {
    return MakeError(ErrorCode::kFailedPrecondition, "the server's answer lists no files");
  }
  std::vector<ListedFile> listed;
  for (const auto& item : *files) {
    ListedFile file{StringMember(item, "path"), StringMember(item, "sha256")};
    if (auto valid = registry::ValidateArtifactPath(file.path); !valid) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "the version lists a file path that is not a safe relative path, so "
                       "nothing was downloaded: {}",
                       valid.error().message);
    }
    if (file.sha256.size() != 64) {
      return MakeError(ErrorCode::kFailedPrecondition, "the version lists no SHA-256 for '{}'",
                       file.path);
    }
    listed.push_back(std::move(file));
  }
  return listed;
}

}  // namespace

Result<nlohmann::json> UploadAndRegister(const ClientContext& context, const std::string& project,
                                         const std::string& model, const NewVersionArgs& args) {
  FALAJ_ASSIGN_OR_RETURN(auto body, VersionBody(args));
  FALAJ_ASSIGN_OR_RETURN(auto local, CollectModelFiles(args.path));
  for (const auto& link : local.skipped_links) {
    std::fprintf(stderr, "falaj: skipped symbolic link %s\n", link.c_str());
  }
  FALAJ_RETURN_IF_ERROR(EnsureModel(context, project, model));
  for (const auto& file : local.files) {
    FALAJ_ASSIGN_OR_RETURN(auto entry, UploadFile(context, project, file));
    body["files"].push_back(std::move(entry));
  }
  return Call(context, "POST", ApiPath({"projects", project, "models", model, "versions"}),
              body.dump());
}

Result<nlohmann::json> DownloadVersion(const ClientContext& context, const std::string& project,
                                       const std::string& model,
                                       const std::string& version_or_alias,
                                       const fs::path& folder) {
  FALAJ_ASSIGN_OR_RETURN(
      auto version,
      Call(context, "GET",
           ApiPath({"projects", project, "models", model, "versions", version_or_alias})));
  if (!version.is_object() || !version["version"].is_number_integer()) {
    return MakeError(ErrorCode::kFailedPrecondition, "the server's answer names no version");
  }
  // Files are fetched by number, so an alias that moves meanwhile cannot mix two versions.
  std::string number = std::to_string(version["version"].get<int64_t>());
  FALAJ_ASSIGN_OR_RETURN(auto files, ListedFiles(version));
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot create folder {}: {}", folder.string(),
                     error.message());
  }
  for (const auto& file : files) {
    FALAJ_ASSIGN_OR_RETURN(auto content,
                           CallForBytes(context, "GET",
                                        ApiPath({"projects", project, "models", model, "versions",
                                                 number, "files", file.path})));
    std::string digest = Sha256Hex(content);
    if (digest != file.sha256) {
      return MakeError(ErrorCode::kDataLoss,
                       "{}: the downloaded file's SHA-256 is {}, but the version lists {}; the "
                       "file was not written",
                       file.path, digest, file.sha256);
    }
    FALAJ_RETURN_IF_ERROR(WriteUnder(folder, file.path, content));
  }
  return version;
}

}  // namespace falaj::cli

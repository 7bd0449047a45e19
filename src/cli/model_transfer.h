// The two `falaj models` commands that move files: register (upload every file of a model,
// check the digest the server computed against the local one, then register a version of them)
// and download (fetch every file of a version into a folder, checking each against the digest
// the version lists). Bodies are held in memory whole, so a file may be as large as the
// server's request body limit (server.body_limit_bytes). Single-threaded.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/client_call.h"
#include "common/result.h"

namespace falaj::cli {

struct NewVersionArgs {
  std::string path;  // a file or a folder
  std::string format;
  std::vector<std::string> metrics;  // "name=number"
  std::vector<std::string> tags;     // "key=value"
  std::string run_id;                // empty: no lineage
  std::string signature_file;        // empty: no signature
};

// Creates the model when it does not exist, uploads the files of `args.path`
// (CollectModelFiles) and registers them as the next version; returns the version as the
// server answered. INVALID_ARGUMENT for bad local input, found before anything is sent;
// FAILED_PRECONDITION when the server refuses (e.g. a format that executes code); DATA_LOSS when
// the server's digest of an uploaded file is not the local SHA-256 (nothing is registered).
Result<nlohmann::json> UploadAndRegister(const ClientContext& context, const std::string& project,
                                         const std::string& model, const NewVersionArgs& args);

// Fetches the version `version_or_alias` (an alias is resolved once, so every file comes from
// the same version) and writes each of its files to `folder`/<path>; returns the version.
// FAILED_PRECONDITION when the server refuses or lists a path that is not a safe relative path
// (checked for all files before anything is written); DATA_LOSS when a downloaded file's SHA-256
// differs from the version's (that file is not written); INVALID_ARGUMENT or INTERNAL when the
// local folder cannot be written.
Result<nlohmann::json> DownloadVersion(const ClientContext& context, const std::string& project,
                                       const std::string& model,
                                       const std::string& version_or_alias,
                                       const std::filesystem::path& folder);

}  // namespace falaj::cli

// The local side of a model version's files: collecting what `falaj models register` uploads
// (one file, or a folder walked recursively) and writing what `falaj models download` fetched
// under a folder without ever leaving it. Artifact paths are relative and '/'-separated, as the
// registry stores them. Functions only touch the file system; not thread-safe against other
// writers of the same folders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::cli {

// The most files one version may hold (the registry's own limit).
inline constexpr size_t kMaxModelFiles = 1000;

struct LocalFile {
  std::string path;              // the artifact path, e.g. "weights/part-1.bin"
  std::filesystem::path source;  // where the file is on disk
  uintmax_t size = 0;
};

struct LocalFiles {
  std::vector<LocalFile> files;            // by path
  std::vector<std::string> skipped_links;  // symbolic links found in a folder, not followed
};

// `root` a regular file (a symbolic link to one is followed): that file under its own name.
// `root` a folder: every regular file below it, recursively, named by its path relative to the
// folder with '/' separators; symbolic links inside it (to files or folders) are skipped and
// listed, as is nothing else that is neither file nor folder. INVALID_ARGUMENT, before anything
// is read, when `root` does not exist or holds no file, holds more than kMaxModelFiles files, or
// holds an empty file (the registry stores no empty artifact) or a file whose path the registry
// would refuse (registry::ValidateArtifactPath).
Result<LocalFiles> CollectModelFiles(const std::filesystem::path& root);

// The whole content of `file`. INVALID_ARGUMENT when it cannot be read.
Result<std::string> ReadLocalFile(const std::filesystem::path& file);

// Writes `content` to `folder`/`path`, creating the folders in between, replacing a regular file
// already there. INVALID_ARGUMENT when `path` is not a relative artifact path
// (registry::ValidateArtifactPath: no absolute path, no '.' or '..' segment) or when a part of
// it below `folder` exists as a symbolic link or as something else than expected (links are
// never followed, so nothing is written outside `folder`); INTERNAL when writing fails.
Status WriteUnder(const std::filesystem::path& folder, std::string_view path,
                  std::string_view content);

}  // namespace falaj::cli

#include "cli/model_files.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>

#include "registry/registry_names.h"

namespace falaj::cli {
namespace {

namespace fs = std::filesystem;

Status CheckUploadable(const LocalFile& file) {
  if (auto valid = registry::ValidateArtifactPath(file.path); !valid) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: {}", file.source.string(),
                     valid.error().message);
  }
  if (file.size == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{} is empty, and the registry stores no empty file", file.source.string());
  }
  return Ok();
}

Status WalkFolder(const fs::path& root, LocalFiles& found) {
  std::error_code error;
  fs::recursive_directory_iterator walk(root, error);
  for (; !error && walk != fs::recursive_directory_iterator(); walk.increment(error)) {
    const fs::directory_entry& entry = *walk;
    fs::file_type type = entry.symlink_status(error).type();
    if (type == fs::file_type::symlink) {
      found.skipped_links.push_back(entry.path().string());
    } else if (type == fs::file_type::regular) {
      if (found.files.size() == kMaxModelFiles) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "{} holds more than {} files, the most one version may have",
                         root.string(), kMaxModelFiles);
      }
      LocalFile file{"", entry.path(), entry.file_size(error)};
      if (!error) file.path = fs::relative(entry.path(), root, error).generic_string();
      found.files.push_back(std::move(file));
    }
    if (error) break;
  }
  if (error) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot read folder {}: {}", root.string(),
                     error.message());
  }
  return Ok();
}

Status CheckNotLink(const fs::path& path, fs::file_type expected) {
  std::error_code error;
  fs::file_type type = fs::symlink_status(path, error).type();
  if (type == fs::file_type::not_found || type == expected) return Ok();
  return MakeError(ErrorCode::kInvalidArgument,
                   "{} exists and is not a {} (links are not followed)", path.string(),
                   expected == fs::file_type::directory ? "folder" : "regular file");
}

}  // namespace

Result<LocalFiles> CollectModelFiles(const fs::path& root) {
  std::error_code error;
  fs::file_type type = fs::status(root, error).type();
  LocalFiles found;
  if (type == fs::file_type::regular) {
    found.files.push_back({root.filename().string(), root, fs::file_size(root, error)});
  } else if (type == fs::file_type::directory) {
    FALAJ_RETURN_IF_ERROR(WalkFolder(root, found));
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "{} is neither a file nor a folder",
                     root.string());
  }
  if (found.files.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "{} holds no file", root.string());
  }
  std::sort(found.files.begin(), found.files.end(),
            [](const LocalFile& a, const LocalFile& b) { return a.path < b.path; });
  for (const auto& file : found.files) FALAJ_RETURN_IF_ERROR(CheckUploadable(file));
  return found;
}

Result<std::string> ReadLocalFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kInvalidArgument, "cannot open {}", file.string());
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return MakeError(ErrorCode::kInvalidArgument, "cannot read {}", file.string());
  return content;
}

Status WriteUnder(const fs::path& folder, std::string_view path, std::string_view content) {
  FALAJ_RETURN_IF_ERROR(registry::ValidateArtifactPath(path));
  fs::path target = folder;
  size_t start = 0;
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       start = slash + 1, slash = path.find('/', start)) {
    target /= std::string(path.substr(start, slash - start));
    FALAJ_RETURN_IF_ERROR(CheckNotLink(target, fs::file_type::directory));
    std::error_code error;
    fs::create_directory(target, error);
    if (error) {
      return MakeError(ErrorCode::kInternal, "cannot create folder {}: {}", target.string(),
                       error.message());
    }
  }
  target /= std::string(path.substr(start));
  FALAJ_RETURN_IF_ERROR(CheckNotLink(target, fs::file_type::regular));
  std::ofstream out(target, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return MakeError(ErrorCode::kInternal, "cannot write {}", target.string());
  return Ok();
}

}  // namespace falaj::cli

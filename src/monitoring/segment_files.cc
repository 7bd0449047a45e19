#include "monitoring/segment_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "monitoring/segment_format.h"

namespace falaj::monitoring {
namespace {

namespace fs = std::filesystem;

Status SystemError(std::string_view what, const std::string& path) {
  return MakeError(ErrorCode::kInternal, "cannot {} '{}': {}", what, path, std::strerror(errno));
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return SystemError("write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return Ok();
}

// A new file's name is durable only once its directory is synced.
Status SyncDirectory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return SystemError("open directory", directory);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return SystemError("sync directory", directory);
  return Ok();
}

// The next sequence number of `day` in `directory`: one past the highest existing segment.
int NextSequence(const std::string& directory, std::string_view day) {
  int next = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(day) || !name.ends_with(".seg") || name.size() < day.size() + 6) continue;
    next = std::max(next, std::atoi(name.c_str() + day.size() + 1) + 1);
  }
  return next;
}

}  // namespace

SegmentFiles::SegmentFiles(std::string root, uint64_t max_segment_bytes)
    : root_(std::move(root)), max_segment_bytes_(max_segment_bytes) {}

SegmentFiles::~SegmentFiles() {
  for (auto& [key, open] : open_) {
    if (open.fd >= 0) ::close(open.fd);
  }
}

std::string SegmentFiles::EndpointDirectory(std::string_view endpoint) {
  return endpoint.empty() ? std::string("@models") : std::string(endpoint);
}

std::string SegmentFiles::Day(int64_t timestamp_ms) {
  const auto days = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(timestamp_ms)));
  const std::chrono::year_month_day date(days);
  return fmt::format("{:04}{:02}{:02}", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
}

std::string SegmentFiles::ProjectDirectory(std::string_view project) const {
  return root_ + "/" + std::string(project);
}

std::string SegmentFiles::Path(std::string_view project, std::string_view segment) const {
  return ProjectDirectory(project) + "/" + std::string(segment);
}

Status SegmentFiles::WriteAndSync(Open& open) {
  if (!open.pending.empty()) {
    FALAJ_RETURN_IF_ERROR(WriteAll(open.fd, open.pending, open.segment));
    open.pending.clear();
    open.dirty = true;
  }
  if (open.dirty) {
    if (::fdatasync(open.fd) != 0) return SystemError("sync", open.segment);
    open.dirty = false;
  }
  return Ok();
}

Status SegmentFiles::Roll(std::string_view project, std::string_view endpoint, std::string_view day,
                          Open& open) {
  if (open.fd >= 0) {
    FALAJ_RETURN_IF_ERROR(WriteAndSync(open));
    ::close(open.fd);
    open.fd = -1;
  }
  const std::string endpoint_directory = EndpointDirectory(endpoint);
  const std::string directory = ProjectDirectory(project) + "/" + endpoint_directory;
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    return MakeError(ErrorCode::kInternal, "cannot create '{}': {}", directory, error.message());
  }
  const std::string name = fmt::format("{}-{:06}.seg", day, NextSequence(directory, day));
  const std::string path = directory + "/" + name;
  open.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (open.fd < 0) return SystemError("create", path);
  FALAJ_RETURN_IF_ERROR(WriteAll(open.fd, kSegmentMagic, path));
  if (::fdatasync(open.fd) != 0) return SystemError("sync", path);
  FALAJ_RETURN_IF_ERROR(SyncDirectory(directory));
  open.segment = endpoint_directory + "/" + name;
  open.day = std::string(day);
  open.size = kSegmentMagic.size();
  open.dirty = false;
  return Ok();
}

Result<FrameLocation> SegmentFiles::Append(std::string_view project, std::string_view endpoint,
                                           std::string_view day, std::string_view payload) {
  // Consecutive records mostly share an endpoint: the previous lookup is reused.
  if (last_ == nullptr || last_project_ != project || last_endpoint_ != endpoint) {
    std::string key = fmt::format("{}/{}", project, EndpointDirectory(endpoint));
    auto found = open_.find(key);
    if (found == open_.end()) found = open_.emplace(std::move(key), Open{}).first;
    last_ = &found->second;
    last_project_ = std::string(project);
    last_endpoint_ = std::string(endpoint);
  }
  Open& open = *last_;
  if (open.fd < 0 || open.day != day || open.size >= max_segment_bytes_) {
    FALAJ_RETURN_IF_ERROR(Roll(project, endpoint, day, open));
  }
  FrameLocation location{open.segment, open.size};
  AppendFrame(open.pending, payload);
  open.size += kFrameHeaderBytes + payload.size();
  return location;
}

Status SegmentFiles::Flush() {
  for (auto& [key, open] : open_) FALAJ_RETURN_IF_ERROR(WriteAndSync(open));
  return Ok();
}

Status SegmentFiles::Close(std::string_view project) {
  const std::string prefix = std::string(project) + "/";
  for (auto it = open_.begin(); it != open_.end();) {
    if (!it->first.starts_with(prefix)) {
      ++it;
      continue;
    }
    FALAJ_RETURN_IF_ERROR(WriteAndSync(it->second));
    ::close(it->second.fd);
    if (last_ == &it->second) last_ = nullptr;
    it = open_.erase(it);
  }
  return Ok();
}

Result<std::vector<std::string>> SegmentFiles::List(std::string_view project,
                                                    const std::string* endpoint) const {
  std::vector<std::string> segments;
  const std::string directory = ProjectDirectory(project);
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(directory, error)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".seg") continue;
    std::string relative = fs::relative(entry.path(), directory).string();
    if (endpoint && !relative.starts_with(EndpointDirectory(*endpoint) + "/")) continue;
    segments.push_back(std::move(relative));
  }
  if (error && error != std::errc::no_such_file_or_directory) {
    return MakeError(ErrorCode::kInternal, "cannot list '{}': {}", directory, error.message());
  }
  std::sort(segments.begin(), segments.end());
  return segments;
}

std::vector<std::string> SegmentFiles::Projects() const {
  std::vector<std::string> projects;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root_, error)) {
    if (entry.is_directory()) projects.push_back(entry.path().filename().string());
  }
  return projects;
}

Result<std::vector<uint64_t>> RewriteSegment(const std::string& path,
                                             const std::vector<std::string>& payloads) {
  const std::string temporary = path + ".rewrite";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(SystemError("create", temporary).error());
  std::string bytes(kSegmentMagic);
  std::vector<uint64_t> offsets;
  offsets.reserve(payloads.size());
  for (const auto& payload : payloads) {
    offsets.push_back(bytes.size());
    AppendFrame(bytes, payload);
  }
  Status written = WriteAll(fd, bytes, temporary);
  if (written && ::fsync(fd) != 0) written = SystemError("sync", temporary);
  ::close(fd);
  if (written && std::rename(temporary.c_str(), path.c_str()) != 0) {
    written = SystemError("replace", path);
  }
  if (!written) {
    ::unlink(temporary.c_str());
    return std::unexpected(written.error());
  }
  FALAJ_RETURN_IF_ERROR(SyncDirectory(fs::path(path).parent_path().string()));
  return offsets;
}

}  // namespace falaj::monitoring

#include "jobs/job_log.h"

#include <filesystem>
#include <fstream>

#include "common/logging.h"

namespace falaj::jobs {
namespace {

constexpr std::string_view kTruncationNote = "[falaj: log truncated at its size limit]\n";

}  // namespace

JobLog::JobLog(std::string path, int64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), error);
  auto size = std::filesystem::file_size(path_, error);
  size_ = error ? 0 : static_cast<int64_t>(size);
  truncated_ = size_ >= max_bytes_;
}

void JobLog::Append(std::string_view line) {
  std::lock_guard lock(mu_);
  if (truncated_) {
    ++dropped_lines_;
    return;
  }
  std::string text(line);
  text += '\n';
  // The note always fits: it is written while the line that would leave no room for it is not.
  bool over = size_ + static_cast<int64_t>(text.size() + kTruncationNote.size()) > max_bytes_;
  if (over) {
    truncated_ = true;
    ++dropped_lines_;
    text = kTruncationNote;
  }
  std::ofstream file(path_, std::ios::app | std::ios::binary);
  file.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!file) {
    log::Warn("cannot append to a job log", {{"path", path_}});
    return;
  }
  size_ += static_cast<int64_t>(text.size());
}

int64_t JobLog::dropped_lines() const {
  std::lock_guard lock(mu_);
  return dropped_lines_;
}

Result<LogChunk> JobLog::Read(const std::string& path, int64_t offset, int64_t max_bytes) {
  if (offset < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "offset must be 0 or more, got {}", offset);
  }
  LogChunk chunk;
  chunk.next_offset = offset;
  std::ifstream file(path, std::ios::binary);
  if (!file) return chunk;
  file.seekg(0, std::ios::end);
  int64_t size = file.tellg();
  if (offset >= size) {
    chunk.next_offset = std::max(offset, size);
    return chunk;
  }
  int64_t length = std::min(max_bytes, size - offset);
  chunk.text.resize(static_cast<size_t>(length));
  file.seekg(offset);
  file.read(chunk.text.data(), length);
  chunk.text.resize(static_cast<size_t>(file.gcount()));
  chunk.next_offset = offset + static_cast<int64_t>(chunk.text.size());
  chunk.truncated = chunk.text.find(kTruncationNote) != std::string::npos;
  return chunk;
}

}  // namespace falaj::jobs

// The log of one job: a text file under the data directory that grows by whole lines up to a cap;
// past the cap one truncation note is written and further lines are dropped (and counted), so a
// chatty job cannot fill the disk. Reads take a byte offset and return the text from there and
// the next offset, so a client can tail a running job.
//
// Thread-safe: Append may be called from any thread (a tuner's parallel trials, a command's
// output reader); reads open the file independently.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::jobs {

struct LogChunk {
  std::string text;
  int64_t next_offset = 0;
  bool truncated = false;  // the log hit its cap
};

class JobLog {
 public:
  // Appends to `path` (created when missing, with its directory). `max_bytes` caps the file.
  JobLog(std::string path, int64_t max_bytes);

  // One line; a trailing newline is added, embedded ones are kept.
  void Append(std::string_view line);
  int64_t dropped_lines() const;

  // Up to `max_bytes` of the file at `path` from byte `offset`; an absent file reads as empty.
  // INVALID_ARGUMENT for a negative offset.
  static Result<LogChunk> Read(const std::string& path, int64_t offset, int64_t max_bytes);

 private:
  const std::string path_;
  const int64_t max_bytes_;
  mutable std::mutex mu_;
  int64_t size_ = 0;           // guarded by mu_
  bool truncated_ = false;     // guarded by mu_
  int64_t dropped_lines_ = 0;  // guarded by mu_
};

}  // namespace falaj::jobs

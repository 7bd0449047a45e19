// The prediction log's segment files on disk: one directory per project and endpoint under the
// log's root ("<root>/<project>/<endpoint>/<YYYYMMDD>-<seq>.seg"; predictions of models called
// directly go to "@models", which no endpoint name can be), a new segment per day and whenever one
// reaches its size limit. Appends are buffered in memory and written and fdatasync'ed by Flush(),
// so one batch of records costs one write and one sync per file it touched. A segment is never
// reopened for appending: after a restart the next record starts a new segment, so a torn tail
// left by a crash stays the last thing in its file.
//
// Thread-safety: not thread-safe; the prediction log's writer owns it and serialises rewrites
// (erasure, retention) with its own mutex.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::monitoring {

// Where a frame was written: the segment relative to the project's directory, and the frame's
// offset in it.
struct FrameLocation {
  std::string segment;  // "<endpoint>/<YYYYMMDD>-<seq>.seg"
  uint64_t offset = 0;
};

class SegmentFiles {
 public:
  SegmentFiles(std::string root, uint64_t max_segment_bytes);
  ~SegmentFiles();
  SegmentFiles(const SegmentFiles&) = delete;
  SegmentFiles& operator=(const SegmentFiles&) = delete;

  // The directory name of an endpoint's segments ("@models" for "").
  static std::string EndpointDirectory(std::string_view endpoint);
  // The day a record's wall-clock time falls in, "YYYYMMDD" (UTC).
  static std::string Day(int64_t timestamp_ms);

  // Buffers one frame for the current segment of (project, endpoint, day), opening or rolling
  // segments as needed. The frame is durable only after Flush().
  Result<FrameLocation> Append(std::string_view project, std::string_view endpoint,
                               std::string_view day, std::string_view payload);
  // Writes every buffered frame and fdatasyncs the files written.
  Status Flush();
  // Flushes and closes the project's open segments (before a rewrite or deletion).
  Status Close(std::string_view project);

  std::string ProjectDirectory(std::string_view project) const;
  std::string Path(std::string_view project, std::string_view segment) const;
  // The project's segments, relative, sorted by name (so by endpoint, then day, then sequence);
  // only those of `endpoint` when it is given.
  Result<std::vector<std::string>> List(std::string_view project,
                                        const std::string* endpoint = nullptr) const;
  // Every project that has a directory under the root.
  std::vector<std::string> Projects() const;

 private:
  struct Open {
    int fd = -1;
    std::string segment;
    std::string day;
    uint64_t size = 0;    // written and buffered
    std::string pending;  // framed bytes not yet written
    bool dirty = false;   // written since the last sync
  };
  Status Roll(std::string_view project, std::string_view endpoint, std::string_view day,
              Open& open);
  static Status WriteAndSync(Open& open);

  std::string root_;
  uint64_t max_segment_bytes_;
  // Keyed by "<project>/<endpoint directory>".
  std::map<std::string, Open, std::less<>> open_;
  // The entry of the previous Append (map nodes are stable until erased by Close).
  Open* last_ = nullptr;
  std::string last_project_;
  std::string last_endpoint_;
};

// Replaces `path` with a segment holding `payloads` as frames: written to a temporary file,
// fsynced, renamed over the original, and the directory fsynced, so a crash leaves either the old
// or the new segment. Returns each payload's new offset.
Result<std::vector<uint64_t>> RewriteSegment(const std::string& path,
                                             const std::vector<std::string>& payloads);

}  // namespace falaj::monitoring

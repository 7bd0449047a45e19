// The path index of MLflow-proxied run and model artifacts: per project, artifact path (e.g.
// "3/<run id>/artifacts/model/MLmodel") → the SHA-256 digest and size of its bytes, which live
// in the project's content-addressed, encrypted blob store. The index is what makes a blob store
// (which knows only digests) look like the directory tree MLflow's artifact repository expects.
//
// Writing a path that exists replaces its entry in one statement, so concurrent uploads of one
// path are last-writer-wins and a reader sees either the old or the new file, never a mix.
// Deleting an entry does not delete its blob: the same bytes may back a registered model
// version (the blob store is shared and content-addressed).
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::tracking {

struct ArtifactEntry {
  std::string path;
  std::string sha256;
  uint64_t size = 0;
  int64_t updated_at_ms = 0;
};

// One level of a listing: a file, or a directory that has files below it.
struct ArtifactListing {
  std::string name;  // relative to the listed directory
  bool is_dir = false;
  uint64_t size = 0;  // files only
};

class ArtifactIndex {
 public:
  // The store and clock must outlive this.
  explicit ArtifactIndex(storage::MetadataStore& store,
                         const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();

  // INVALID_ARGUMENT unless `path` is relative, at most 1024 bytes, without empty, "." or ".."
  // segments, backslashes or control characters. Applied to already percent-decoded paths, so
  // "%2e%2e" is refused like "..".
  static Status ValidatePath(std::string_view path);

  Status Put(std::string_view project, std::string_view path, std::string_view sha256,
             uint64_t size);
  // NOT_FOUND when no file has this path.
  Result<ArtifactEntry> Get(std::string_view project, std::string_view path);
  // Every file below directory `directory` ("" for the root), sorted by path.
  Result<std::vector<ArtifactEntry>> FilesUnder(std::string_view project,
                                                std::string_view directory);
  // The direct children of `directory`, by name: files with their sizes and subdirectories.
  Result<std::vector<ArtifactListing>> List(std::string_view project, std::string_view directory);
  // Deletes the file `path`, or every file below it when it is a directory; the count deleted.
  Result<int64_t> Delete(std::string_view project, std::string_view path);

 private:
  storage::MetadataStore& store_;
  const Clock& clock_;
};

}  // namespace falaj::tracking

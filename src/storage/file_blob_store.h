// The file:// BlobStore backend. A store is a directory:
//   <root>/sha256/ab/cdef...   one file per blob, fanned out by the first two digest characters
//   <root>/tmp/                writers' temp files, renamed into place on commit
// Writes are atomic (temp file + rename) and durable (file and directory fsync). The store keeps
// no mutable state besides the filesystem, so any number of threads and processes may share it.
#pragma once

#include <memory>
#include <string_view>

#include "common/result.h"
#include "storage/blob_store.h"

namespace falaj::storage {

// Opens the store at a "file:///abs/path" or "file://relative/path" URI, creating its
// directories if missing. A relative path is resolved against the working directory now, once.
// OpenBlobStore() reaches this through the scheme registry, where "file" is always present.
Result<std::unique_ptr<BlobStore>> OpenFileBlobStore(std::string_view uri);

}  // namespace falaj::storage

// BlobStore: immutable, content-addressed byte objects (model artifacts, datasets). A blob's
// address is the lowercase hex SHA-256 of its content. Backends are chosen by URI scheme
// (file:// now; s3:// later) through OpenBlobStore().
//
// Thread-safety: every BlobStore method may be called concurrently from many threads; readers and
// writers are single-owner objects, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::storage {

// Writes one blob in chunks. Nothing is visible until Commit() succeeds; destroying an
// uncommitted writer discards what was written.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Write(std::string_view chunk) = 0;
  // Makes the blob durable and visible; returns its SHA-256 hex digest. Committing content that
  // already exists succeeds and returns the same digest.
  virtual Result<std::string> Commit() = 0;
};

// Reads one blob in chunks and checks its digest: the Read() that reaches the end of the blob
// returns DATA_LOSS instead of end-of-data if the content does not hash to its address.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Fills up to `capacity` bytes of `buffer`; returns the number read, 0 at the verified end.
  virtual Result<size_t> Read(char* buffer, size_t capacity) = 0;
  virtual uint64_t size() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual Result<std::unique_ptr<BlobWriter>> NewWriter() = 0;
  // NOT_FOUND if absent; INVALID_ARGUMENT if `digest` is not 64 lowercase hex characters.
  virtual Result<std::unique_ptr<BlobReader>> Open(std::string_view digest) = 0;
  virtual Result<bool> Exists(std::string_view digest) = 0;
  // Deleting an absent blob is not an error.
  virtual Status Delete(std::string_view digest) = 0;

  // Convenience wrappers over the streaming interface, for small blobs.
  Result<std::string> Put(std::string_view content);
  Result<std::string> Get(std::string_view digest);
};

// A project's blob store (encrypted under the project's key and bound to its region in a
// server), for model artifacts and datasets alike.
using ProjectBlobStores =
    std::function<Result<std::unique_ptr<BlobStore>>(std::string_view project)>;

using BlobStoreFactory = std::function<Result<std::unique_ptr<BlobStore>>(std::string_view uri)>;

// Registers a backend for a URI scheme ("file"). Registering a scheme twice aborts.
void RegisterBlobStoreScheme(std::string scheme, BlobStoreFactory factory);

// Opens the store named by `uri`, e.g. "file:///var/lib/falaj/blobs". INVALID_ARGUMENT for an
// unknown scheme or malformed URI.
Result<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view uri);

}  // namespace falaj::storage

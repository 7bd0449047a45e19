#include "storage/blob_store.h"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "storage/file_blob_store.h"
#include "storage/scheme_registry.h"
#include "storage/storage_uri.h"

namespace falaj::storage {
namespace {

constexpr size_t kGetChunkSize = 64 * 1024;

// Never destroyed, so stores may still be opened while other statics are torn down at exit.
SchemeRegistry<BlobStoreFactory>& Registry() {
  static auto* registry =
      new SchemeRegistry<BlobStoreFactory>("blob store", {{"file", OpenFileBlobStore}});
  return *registry;
}

}  // namespace

Result<std::string> BlobStore::Put(std::string_view content) {
  auto writer = NewWriter();
  if (!writer) return std::unexpected<Error>(std::move(writer).error());
  FALAJ_RETURN_IF_ERROR((*writer)->Write(content));
  return (*writer)->Commit();
}

Result<std::string> BlobStore::Get(std::string_view digest) {
  auto reader = Open(digest);
  if (!reader) return std::unexpected<Error>(std::move(reader).error());
  std::string content;
  content.reserve((*reader)->size());
  std::string chunk(kGetChunkSize, '\0');
  while (true) {
    auto count = (*reader)->Read(chunk.data(), chunk.size());
    if (!count) return std::unexpected<Error>(std::move(count).error());
    if (*count == 0) return content;
    content.append(chunk.data(), *count);
  }
}

void RegisterBlobStoreScheme(std::string scheme, BlobStoreFactory factory) {
  Registry().Register(std::move(scheme), std::move(factory));
}

Result<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view uri) {
  auto parsed = ParseStorageUri(uri);
  if (!parsed) return std::unexpected<Error>(std::move(parsed).error());
  auto factory = Registry().Find(parsed->scheme);
  if (!factory) return std::unexpected<Error>(std::move(factory).error());
  return (*factory)(uri);
}

}  // namespace falaj::storage

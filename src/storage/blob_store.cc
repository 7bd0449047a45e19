#include "storage/blob_store.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "storage/file_blob_store.h"
#include "storage/storage_uri.h"

namespace falaj::storage {
namespace {

constexpr size_t kGetChunkSize = 64 * 1024;

struct SchemeRegistry {
  std::mutex mutex;
  std::map<std::string, BlobStoreFactory, std::less<>> factories;  // guarded by mutex
};

// Built-in backends are registered here rather than by static initialisers in their own files,
// which the linker drops when nothing else references those objects in a static archive. Never
// destroyed, so stores may still be opened while other statics are torn down at exit.
SchemeRegistry& Registry() {
  static SchemeRegistry& registry = *[] {
    auto* created = new SchemeRegistry;
    created->factories.emplace("file", OpenFileBlobStore);
    return created;
  }();
  return registry;
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
  // ParseStorageUri lowercases schemes, so a mixed-case registration could never be reached.
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  SchemeRegistry& registry = Registry();
  std::lock_guard lock(registry.mutex);
  if (!registry.factories.emplace(scheme, std::move(factory)).second) {
    // Two backends claiming one scheme is a wiring bug that no caller could handle.
    fmt::print(stderr, "blob store scheme '{}' registered twice\n", scheme);
    std::abort();
  }
}

Result<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view uri) {
  auto parsed = ParseStorageUri(uri);
  if (!parsed) return std::unexpected<Error>(std::move(parsed).error());
  BlobStoreFactory factory;
  {
    SchemeRegistry& registry = Registry();
    std::lock_guard lock(registry.mutex);
    auto found = registry.factories.find(parsed->scheme);
    if (found == registry.factories.end()) {
      std::vector<std::string_view> known;
      for (const auto& entry : registry.factories) known.push_back(entry.first);
      return MakeError(ErrorCode::kInvalidArgument,
                       "unknown blob store scheme '{}' in '{}'; known schemes: {}", parsed->scheme,
                       uri, fmt::join(known, ", "));
    }
    factory = found->second;
  }
  // Called unlocked: opening may touch disk or network and must not serialise other opens.
  return factory(uri);
}

}  // namespace falaj::storage

#include "storage/kv_store.h"

#include <string>
#include <utility>
#include <vector>

#include "storage/redis_kv_store.h"
#include "storage/rocksdb_kv_store.h"
#include "storage/scheme_registry.h"
#include "storage/storage_uri.h"

namespace falaj::storage {
namespace {

// Never destroyed, so stores may still be opened while other statics are torn down at exit.
SchemeRegistry<KvStoreFactory>& Registry() {
  static auto* registry =
      new SchemeRegistry<KvStoreFactory>("kv store", {{"rocksdb", OpenRocksDbKvStore},
                                                      {"redis", OpenRedisKvStore},
                                                      {"redis+unix", OpenRedisKvStore}});
  return *registry;
}

}  // namespace

Status KvStore::BulkLoadSorted(const std::function<bool(KvEntry& entry)>& next) {
  // The entries' bytes die at the next call, so each batch keeps copies in one arena.
  std::string arena, previous;
  std::vector<size_t> ends;  // ends[2i]: end of key i in the arena, ends[2i + 1]: of its value
  std::vector<KvEntry> batch;
  KvEntry entry;
  bool more = true;
  for (uint64_t count = 0; more;) {
    arena.clear();
    ends.clear();
    while (ends.size() < 2 * kBulkLoadBatch && (more = next(entry))) {
      if (count++ > 0 && !(previous < entry.key)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "bulk load: key {} is not greater than the key before it", count - 1);
      }
      previous.assign(entry.key);
      arena.append(entry.key);
      ends.push_back(arena.size());
      arena.append(entry.value);
      ends.push_back(arena.size());
    }
    batch.clear();
    for (size_t i = 0, begin = 0; i < ends.size(); begin = ends[i + 1], i += 2) {
      batch.push_back({std::string_view(arena).substr(begin, ends[i] - begin),
                       std::string_view(arena).substr(ends[i], ends[i + 1] - ends[i])});
    }
    FALAJ_RETURN_IF_ERROR(Write(batch, KvWriteMode::kBulk));
  }
  return Ok();
}

Status KvStore::BulkLoadSorted(std::span<const KvEntry> puts) {
  size_t i = 0;
  return BulkLoadSorted([&](KvEntry& entry) {
    if (i == puts.size()) return false;
    entry = puts[i++];
    return true;
  });
}

void RegisterKvStoreScheme(std::string scheme, KvStoreFactory factory) {
  Registry().Register(std::move(scheme), std::move(factory));
}

Result<std::unique_ptr<KvStore>> OpenKvStore(std::string_view uri) {
  auto parsed = ParseStorageUri(uri);
  if (!parsed) {
    // Not ParseStorageUri's message: it quotes the URI, which may carry a Redis password.
    return MakeError(ErrorCode::kInvalidArgument,
                     "kv store URI '{}' is malformed; expected e.g. 'rocksdb:///var/lib/falaj/kv' "
                     "or 'redis://host:6379/0'",
                     RedactUriPassword(uri));
  }
  auto factory = Registry().Find(parsed->scheme);
  if (!factory) return std::unexpected<Error>(std::move(factory).error());
  return (*factory)(uri);
}

}  // namespace falaj::storage

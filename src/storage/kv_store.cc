#include "storage/kv_store.h"

#include <string>
#include <utility>

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

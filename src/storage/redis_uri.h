// Internal to the storage module (the Redis KvStore backend): a redis:// or redis+unix:// URI, in
// the forms kv_store.h lists, parsed into a RedisTarget (where the server is, how to log in,
// which database, pool size and timeouts). RedactUriPassword, declared in redis_kv_store.h, is
// defined next to the parser because both must find the user information the same way.
//
// Thread-safety: pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::storage {

// Defaults are the ones kv_store.h documents.
struct RedisTarget {
  bool unix_socket = false;
  std::string host;
  int64_t port = 6379;
  std::string socket_path;
  std::string user;
  std::string password;
  bool has_password = false;
  int64_t db = 0;
  int64_t pool_size = 8;
  int64_t connect_timeout_ms = 2000;
  int64_t timeout_ms = 5000;
  std::string redacted;  // the URI with its password redacted, for errors
};

// The target of `uri`, or INVALID_ARGUMENT naming the (redacted) URI and what is wrong with it.
Result<RedisTarget> ParseRedisUri(std::string_view uri);

}  // namespace falaj::storage

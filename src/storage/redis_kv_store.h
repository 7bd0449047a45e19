// The redis:// and redis+unix:// KvStore backends: keys and values are Redis strings on one
// server (or a proxy in front of several; Redis Cluster is not supported). URI forms and options
// are listed in kv_store.h. Every batch is one command (MSET, MGET, UNLINK), so each is atomic
// and costs one round trip.
//
// Thread-safe as KvStore promises: hiredis contexts are not, so each call borrows one from a
// bounded pool (a lock-free claim in the common case; callers wait, up to the command timeout,
// only when every connection is busy). A connection that broke is reconnected on its next use,
// and one the server closed while it sat idle is noticed before it is used.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "storage/kv_store.h"

namespace falaj::storage {

// Opens a store at a redis:// or redis+unix:// URI: connects, authenticates, selects the
// database and pings the server, so a wrong address or password fails here rather than on the
// first lookup. OpenKvStore() reaches this through the scheme registry.
Result<std::unique_ptr<KvStore>> OpenRedisKvStore(std::string_view uri);

// `uri` with the password in its user information (scheme://[user]:password@...) replaced by
// "***", for messages and logs. Works on malformed URIs too; returns other URIs unchanged.
std::string RedactUriPassword(std::string_view uri);

}  // namespace falaj::storage

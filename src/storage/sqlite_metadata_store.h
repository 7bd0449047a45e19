// The embedded MetadataStore on SQLite 3: WAL journal, synchronous=FULL (an acknowledged commit
// survives a crash or power loss), foreign keys on, a busy timeout, and a fixed pool of
// connections so readers run concurrently with the single writer WAL allows.
// Thread-safe as MetadataStore promises.
#pragma once

#include <memory>
#include <string_view>

#include "storage/metadata_store.h"

namespace falaj::storage {

// `location` is a file path (":memory:" is refused: each pooled connection would see its own
// database). Creates the file and its parent directory if missing.
Result<std::unique_ptr<MetadataStore>> OpenSqliteMetadataStore(std::string_view location,
                                                               int pool_size);

}  // namespace falaj::storage

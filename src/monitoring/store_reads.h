// The read-only query the monitor and alert stores run in their own transaction. Internal to
// the monitoring module's stores; thread-safe as MetadataStore is.
#pragma once

#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {

inline Result<storage::Rows> ReadRows(storage::MetadataStore& store, std::string_view sql,
                                      const std::vector<storage::SqlValue>& params) {
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(store.RunTransaction(storage::TransactionMode::kReadOnly,
                                             [&](storage::Transaction& tx) -> Status {
                                               FALAJ_ASSIGN_OR_RETURN(rows, tx.Query(sql, params));
                                               return Ok();
                                             }));
  return rows;
}

}  // namespace falaj::monitoring

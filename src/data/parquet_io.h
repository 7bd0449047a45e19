// Arrow tables to and from Parquet and CSV bytes: the storage format of every dataset version
// (Parquet, zstd) and the formats datasets download as. Stateless and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace arrow {
class Table;
}  // namespace arrow

namespace falaj::data {

Result<std::string> WriteParquet(const arrow::Table& table);
// INVALID_ARGUMENT when the bytes are not a readable Parquet file.
Result<std::shared_ptr<arrow::Table>> ReadParquet(std::string_view bytes);
Result<std::string> WriteCsv(const arrow::Table& table);

}  // namespace falaj::data

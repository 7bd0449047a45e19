// Turning a delivered batch — a CSV file, a Parquet file, or JSON rows pushed by an application
// or an MQTT device — into a typed Arrow table of the source's schema. Rows that cannot be
// typed (a cell that does not parse, a malformed CSV line, a JSON row that is not an object or
// names an unknown column) go to the batch's quarantine with the reason; nothing is dropped.
// Whole-batch problems (not CSV at all, a header missing a schema column or carrying an unknown
// one, a Parquet column of an incompatible type) are INVALID_ARGUMENT naming the problem.
//
// Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "data/quarantine.h"
#include "data/table_schema.h"

namespace arrow {
class Table;
}  // namespace arrow

namespace falaj::data {

struct DeliveredBatch {
  std::shared_ptr<arrow::Table> rows;  // typed; the rows that converted
  std::vector<int64_t> batch_rows;     // each typed row's position in the delivered batch
  std::unique_ptr<QuarantineBuilder> quarantine;  // the rows that did not convert
  int64_t delivered = 0;                          // rows delivered, typed or not
};

// RFC 4180 CSV with a header row naming exactly the schema's columns (any order). An empty
// cell is missing (null).
Result<DeliveredBatch> ReadCsvBatch(std::string_view bytes, const TableSchema& schema);
// {"rows": [{"column": value, …}, …]}. Absent and null fields are missing.
Result<DeliveredBatch> ReadJsonRowsBatch(std::string_view body, const TableSchema& schema);
// One JSON object (an MQTT message); quarantined like a pushed row when it does not fit.
Result<DeliveredBatch> ReadJsonObjectsBatch(std::span<const std::string_view> objects,
                                            const TableSchema& schema);
// A Parquet file with exactly the schema's columns; compatible types are cast (int32 → int64,
// float → float64, date → timestamp).
Result<DeliveredBatch> ReadParquetBatch(std::string_view bytes, const TableSchema& schema);

}  // namespace falaj::data

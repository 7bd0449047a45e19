// Quarantined rows: what an ingest could not accept, kept losslessly so nothing is silently
// dropped. A quarantine table has every schema column as text (the value as it arrived, or as
// the typed value prints), then `_falaj_rule` (the rule or conversion the row broke),
// `_falaj_row` (the row's 0-based position in the batch as delivered) and `_falaj_raw` (the
// row's raw text when it could not even be split into columns, else null).
//
// Not thread-safe: one builder per batch.
#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "data/table_schema.h"

namespace falaj::data {

inline constexpr std::string_view kRuleColumn = "_falaj_rule";
inline constexpr std::string_view kRowColumn = "_falaj_row";
inline constexpr std::string_view kRawColumn = "_falaj_raw";

std::shared_ptr<arrow::Schema> QuarantineSchema(const TableSchema& schema);
// The declared schema recorded for a quarantine dataset: the source's columns, all as nullable
// text, keeping their classification tags (the bookkeeping columns are implied).
TableSchema QuarantineTableSchema(const TableSchema& schema);

class QuarantineBuilder {
 public:
  explicit QuarantineBuilder(TableSchema schema);
  ~QuarantineBuilder();
  QuarantineBuilder(const QuarantineBuilder&) = delete;
  QuarantineBuilder& operator=(const QuarantineBuilder&) = delete;

  // One text per schema column (nullopt: missing).
  Status AddRow(int64_t row, std::string_view rule,
                std::span<const std::optional<std::string>> values);
  // A row that could not be split into columns.
  Status AddRaw(int64_t row, std::string_view rule, std::string_view raw);
  // Rows of a typed table with the schema's columns. `rules[i]` is row i's broken rule and
  // `batch_rows[i]` its position in the delivered batch.
  Status AddTyped(const arrow::Table& rows, std::span<const std::string> rules,
                  std::span<const int64_t> batch_rows);

  int64_t rows() const { return rows_; }
  Result<std::shared_ptr<arrow::Table>> Finish();

 private:
  Status AppendBookkeeping(int64_t row, std::string_view rule,
                           const std::optional<std::string_view>& raw);

  TableSchema schema_;
  std::vector<std::unique_ptr<arrow::StringBuilder>> columns_;
  std::unique_ptr<arrow::StringBuilder> rule_;
  std::unique_ptr<arrow::Int64Builder> row_;
  std::unique_ptr<arrow::StringBuilder> raw_;
  int64_t rows_ = 0;
};

}  // namespace falaj::data

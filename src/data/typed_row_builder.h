// Builds an Arrow table of a declared schema one row at a time from loosely typed cells (CSV
// text, JSON values), converting each cell to its column's type. A row with a cell that does not
// convert is refused whole, with a message naming the column and the value, and leaves the table
// unchanged, so the caller can quarantine it.
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
#include <variant>
#include <vector>

#include "common/result.h"
#include "data/table_schema.h"

namespace falaj::data {

// A cell before conversion. Text is parsed by the column's type; numbers and booleans convert
// where the conversion is exact (an integer-valued double into int64, a number into a timestamp
// as Unix seconds).
using Cell = std::variant<std::monostate, std::string_view, int64_t, double, bool>;

class TypedRowBuilder {
 public:
  explicit TypedRowBuilder(TableSchema schema);
  ~TypedRowBuilder();
  TypedRowBuilder(const TypedRowBuilder&) = delete;
  TypedRowBuilder& operator=(const TypedRowBuilder&) = delete;

  // One cell per schema column, in schema order. Returns the reason when a cell does not
  // convert (nothing is appended then), nullopt when the row was appended.
  std::optional<std::string> AppendRow(std::span<const Cell> cells);
  int64_t rows() const { return rows_; }
  Result<std::shared_ptr<arrow::Table>> Finish();

 private:
  using Converted = std::variant<std::monostate, int64_t, double, std::string_view, bool>;
  std::optional<std::string> Convert(const ColumnSchema& column, const Cell& cell,
                                     Converted& out) const;

  TableSchema schema_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;
  std::vector<Converted> scratch_;
  int64_t rows_ = 0;
};

// A cell shown in a quarantine record or an error: text as is, numbers and booleans printed.
std::string CellText(const Cell& cell);

}  // namespace falaj::data

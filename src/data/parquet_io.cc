#include "data/parquet_io.h"

#include <arrow/api.h>
#include <arrow/csv/api.h>
#include <arrow/io/api.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>

namespace falaj::data {
namespace {

constexpr int64_t kRowGroupRows = 128 * 1024;

}  // namespace

Result<std::string> WriteParquet(const arrow::Table& table) {
  auto sink = arrow::io::BufferOutputStream::Create();
  if (!sink.ok()) return MakeError(ErrorCode::kInternal, "parquet: {}", sink.status().ToString());
  auto properties =
      parquet::WriterProperties::Builder().compression(parquet::Compression::ZSTD)->build();
  auto status = parquet::arrow::WriteTable(table, arrow::default_memory_pool(), *sink,
                                           kRowGroupRows, properties);
  if (!status.ok())
    return MakeError(ErrorCode::kInternal, "writing Parquet: {}", status.ToString());
  auto buffer = (*sink)->Finish();
  if (!buffer.ok())
    return MakeError(ErrorCode::kInternal, "parquet: {}", buffer.status().ToString());
  return (*buffer)->ToString();
}

Result<std::shared_ptr<arrow::Table>> ReadParquet(std::string_view bytes) {
  // Copied: decoded columns may share memory with the file's buffer and outlive `bytes`.
  auto input =
      std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(std::string(bytes)));
  auto reader = parquet::arrow::OpenFile(input, arrow::default_memory_pool());
  if (!reader.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "not a readable Parquet file: {}",
                     reader.status().message());
  }
  auto table = (*reader)->ReadTable();
  if (!table.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "reading Parquet: {}", table.status().message());
  }
  return *table;
}

Result<std::string> WriteCsv(const arrow::Table& table) {
  auto sink = arrow::io::BufferOutputStream::Create();
  if (!sink.ok()) return MakeError(ErrorCode::kInternal, "csv: {}", sink.status().ToString());
  auto status = arrow::csv::WriteCSV(table, arrow::csv::WriteOptions::Defaults(), sink->get());
  if (!status.ok()) return MakeError(ErrorCode::kInternal, "writing CSV: {}", status.ToString());
  auto buffer = (*sink)->Finish();
  if (!buffer.ok()) return MakeError(ErrorCode::kInternal, "csv: {}", buffer.status().ToString());
  return (*buffer)->ToString();
}

}  // namespace falaj::data

#include "data/batch_readers.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "data/parquet_io.h"

namespace falaj::data {
namespace {

TableSchema Schema() {
  return *ParseTableSchema(nlohmann::json::parse(R"([
    {"name": "id", "type": "int64", "nullable": false},
    {"name": "amount", "type": "float64"},
    {"name": "city", "type": "string", "tags": ["pii"]},
    {"name": "at", "type": "timestamp"}])"));
}

std::string Rule(const arrow::Table& quarantine, int64_t row) {
  auto rules = quarantine.GetColumnByName(std::string(kRuleColumn))->chunk(0);
  return static_cast<const arrow::StringArray&>(*rules).GetString(row);
}

int64_t Position(const arrow::Table& quarantine, int64_t row) {
  auto rows = quarantine.GetColumnByName(std::string(kRowColumn))->chunk(0);
  return static_cast<const arrow::Int64Array&>(*rows).Value(row);
}

TEST(CsvBatch, TypesGoodRowsAndQuarantinesTheRestWithReasons) {
  auto batch = ReadCsvBatch(
      "city,id,amount,at\n"
      "Dubai,1,10.5,2024-01-01T00:00:00Z\n"
      "Abu Dhabi,two,3,2024-01-01\n"
      "Sharjah,3,,\n"
      "Ajman,4,1,2024-01-01,extra\n"
      "\"Al Ain, East\",5,2.25,2024-02-01 10:00\n",
      Schema());
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->delivered, 5);
  EXPECT_EQ(batch->rows->num_rows(), 3);
  EXPECT_EQ(batch->batch_rows, (std::vector<int64_t>{0, 2, 4}));
  auto quarantine = *batch->quarantine->Finish();
  ASSERT_EQ(quarantine->num_rows(), 2);
  // The malformed line is recorded first, with its raw text; then the conversion failure.
  EXPECT_EQ(Position(*quarantine, 0), 3);
  EXPECT_NE(Rule(*quarantine, 0).find("malformed CSV line"), std::string::npos);
  EXPECT_EQ(Position(*quarantine, 1), 1);
  EXPECT_EQ(Rule(*quarantine, 1), "id: expected int64, got 'two'");
  auto amounts = batch->rows->GetColumnByName("amount")->chunk(0);
  EXPECT_TRUE(amounts->IsNull(1));
  auto cities = batch->rows->GetColumnByName("city")->chunk(0);
  EXPECT_EQ(static_cast<const arrow::StringArray&>(*cities).GetString(2), "Al Ain, East");
}

TEST(CsvBatch, HeaderMustMatchTheSchema) {
  auto missing = ReadCsvBatch("id,amount,city\n1,2,x\n", Schema());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no column 'at'"), std::string::npos);
  auto extra = ReadCsvBatch("id,amount,city,at,ssn\n1,2,x,2024-01-01,123\n", Schema());
  ASSERT_FALSE(extra);
  EXPECT_NE(extra.error().message.find("'ssn'"), std::string::npos);
}

TEST(JsonRowsBatch, QuarantinesRowsThatDoNotFit) {
  auto batch = ReadJsonRowsBatch(R"({"rows": [
      {"id": 1, "amount": 2, "city": "Dubai", "at": "2024-01-01T00:00:00Z"},
      {"id": 2.5, "amount": 1},
      {"id": 3, "nickname": "x"},
      [1, 2],
      {"id": "4", "amount": "7.5", "at": 1700000000}]})",
                                 Schema());
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->rows->num_rows(), 2);
  EXPECT_EQ(batch->batch_rows, (std::vector<int64_t>{0, 4}));
  auto quarantine = *batch->quarantine->Finish();
  ASSERT_EQ(quarantine->num_rows(), 3);
  EXPECT_EQ(Rule(*quarantine, 0), "id: expected int64, got '2.5'");
  EXPECT_EQ(Rule(*quarantine, 1), "unknown column 'nickname'");
  EXPECT_EQ(Rule(*quarantine, 2), "row is not a JSON object");
  auto at = batch->rows->GetColumnByName("at")->chunk(0);
  EXPECT_EQ(static_cast<const arrow::TimestampArray&>(*at).Value(1), 1700000000LL * 1000000);
}

TEST(JsonRowsBatch, RejectsABodyOfTheWrongShape) {
  EXPECT_FALSE(ReadJsonRowsBatch("not json", Schema()));
  EXPECT_FALSE(ReadJsonRowsBatch(R"({"rows": {}})", Schema()));
  EXPECT_FALSE(ReadJsonRowsBatch(R"({"rows": [], "extra": 1})", Schema()));
}

TEST(ParquetBatch, RoundTripsAndCastsCompatibleTypes) {
  auto schema =
      arrow::schema({arrow::field("id", arrow::int32()), arrow::field("amount", arrow::float32()),
                     arrow::field("city", arrow::utf8()),
                     arrow::field("at", arrow::timestamp(arrow::TimeUnit::MILLI))});
  arrow::Int32Builder ids;
  ASSERT_TRUE(ids.AppendValues({7, 8}).ok());
  arrow::FloatBuilder amounts;
  ASSERT_TRUE(amounts.AppendValues({1.5f, 2.5f}).ok());
  arrow::StringBuilder cities;
  ASSERT_TRUE(cities.AppendValues(std::vector<std::string>{"a", "b"}).ok());
  arrow::TimestampBuilder at(arrow::timestamp(arrow::TimeUnit::MILLI),
                             arrow::default_memory_pool());
  ASSERT_TRUE(at.AppendValues({1000, 2000}).ok());
  auto table = arrow::Table::Make(
      schema, {*ids.Finish(), *amounts.Finish(), *cities.Finish(), *at.Finish()});
  auto bytes = WriteParquet(*table);
  ASSERT_TRUE(bytes);
  auto batch = ReadParquetBatch(*bytes, Schema());
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->rows->num_rows(), 2);
  EXPECT_TRUE(batch->rows->schema()->Equals(*ArrowSchema(Schema())));
  auto micros = batch->rows->GetColumnByName("at")->chunk(0);
  EXPECT_EQ(static_cast<const arrow::TimestampArray&>(*micros).Value(1), 2000000);
  EXPECT_FALSE(ReadParquetBatch("PAR1 not really", Schema()));
}

}  // namespace
}  // namespace falaj::data

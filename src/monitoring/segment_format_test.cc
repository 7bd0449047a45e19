// The segment format: a record survives encoding; a torn tail or a flipped byte stops the reader
// at the damaged frame and keeps every frame before it.
#include "monitoring/segment_format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "monitoring/segment_files.h"

namespace falaj::monitoring {
namespace {

serving::PredictionRecord Sample(int i) {
  serving::PredictionRecord record;
  record.project = "p";
  record.endpoint = "e";
  record.model = "m";
  record.version = 3;
  record.arm = "blue";
  record.shadow = i % 2 == 1;
  record.request_id = "req-" + std::to_string(i);
  record.unit_key = "user-" + std::to_string(i);
  record.entity_key_names = {"customer_id"};
  record.entity_key_values = {std::to_string(40 + i)};
  record.timestamp_ms = 1'700'000'000'000 + i;
  record.latency_us = 250;
  record.feature_names = {"f0", "f1"};
  record.rows = 1;
  record.inputs = {1.5f, static_cast<float>(i)};
  record.outputs = {0.25f};
  record.output_width = 1;
  return record;
}

class SegmentFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("falaj_segments_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Writes `count` records to one segment and returns its path.
  std::string WriteSegment(int count) {
    SegmentFiles files(root_.string(), 1 << 20);
    std::string segment;
    for (int i = 0; i < count; ++i) {
      auto location = files.Append("p", "e", "20260101", EncodeRecord(Sample(i)));
      EXPECT_TRUE(location) << location.error().message;
      segment = location->segment;
    }
    EXPECT_TRUE(files.Flush());
    return files.Path("p", segment);
  }

  static std::vector<serving::PredictionRecord> ReadAll(const std::string& path,
                                                        std::string* damaged = nullptr) {
    auto reader = SegmentReader::Open(path);
    EXPECT_TRUE(reader) << reader.error().message;
    std::vector<serving::PredictionRecord> records;
    for (;;) {
      auto frame = reader->Next();
      EXPECT_TRUE(frame);
      if (!*frame) break;
      auto record = DecodeRecord((*frame)->payload);
      EXPECT_TRUE(record) << record.error().message;
      records.push_back(*record);
    }
    if (damaged) *damaged = reader->damaged();
    return records;
  }

  std::filesystem::path root_;
};

TEST_F(SegmentFormatTest, RecordRoundTripsEveryField) {
  const auto original = Sample(7);
  auto decoded = DecodeRecord(EncodeRecord(original));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->project, original.project);
  EXPECT_EQ(decoded->endpoint, original.endpoint);
  EXPECT_EQ(decoded->model, original.model);
  EXPECT_EQ(decoded->version, original.version);
  EXPECT_EQ(decoded->arm, original.arm);
  EXPECT_EQ(decoded->shadow, original.shadow);
  EXPECT_EQ(decoded->request_id, original.request_id);
  EXPECT_EQ(decoded->unit_key, original.unit_key);
  EXPECT_EQ(decoded->entity_key_names, original.entity_key_names);
  EXPECT_EQ(decoded->entity_key_values, original.entity_key_values);
  EXPECT_EQ(decoded->timestamp_ms, original.timestamp_ms);
  EXPECT_EQ(decoded->latency_us, original.latency_us);
  EXPECT_EQ(decoded->feature_names, original.feature_names);
  EXPECT_EQ(decoded->rows, original.rows);
  EXPECT_EQ(decoded->inputs, original.inputs);
  EXPECT_EQ(decoded->outputs, original.outputs);
  EXPECT_EQ(decoded->output_width, original.output_width);
  EXPECT_EQ(decoded->error, original.error);
}

TEST_F(SegmentFormatTest, Crc32cMatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  // Lengths around the 8-byte steps agree with a byte-wise extension of the same prefix.
  EXPECT_NE(Crc32c("12345678"), Crc32c("123456789"));
  EXPECT_EQ(Crc32c(std::string(1000, 'a')), Crc32c(std::string(1000, 'a')));
}

TEST_F(SegmentFormatTest, ChunkRoundTripsItsRecordsInOrder) {
  std::string chunk;
  BeginChunk(chunk);
  const auto first = Sample(0);
  AddToChunk(chunk, first, nullptr);
  for (int i = 1; i < 5; ++i) AddToChunk(chunk, Sample(i), &first);
  FinishChunk(chunk, 5);
  auto records = DecodeChunk(chunk);
  ASSERT_TRUE(records) << records.error().message;
  ASSERT_EQ(records->size(), 5u);
  EXPECT_EQ((*records)[4].request_id, "req-4");
  EXPECT_EQ((*records)[4].inputs, Sample(4).inputs);
  EXPECT_EQ((*records)[4].feature_names, Sample(4).feature_names);  // given by reference
  EXPECT_LT(chunk.size(), 5 * EncodeRecord(first).size());
  for (size_t cut : {size_t{2}, size_t{7}, chunk.size() - 1}) {
    auto torn = DecodeChunk(std::string_view(chunk).substr(0, cut));
    ASSERT_FALSE(torn);
    EXPECT_EQ(torn.error().code, ErrorCode::kDataLoss);
  }
}

TEST_F(SegmentFormatTest, TruncatedOrTrailingPayloadIsDataLoss) {
  const std::string encoded = EncodeRecord(Sample(1));
  for (size_t cut : {size_t{0}, size_t{1}, encoded.size() / 2, encoded.size() - 1}) {
    auto decoded = DecodeRecord(std::string_view(encoded).substr(0, cut));
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error().code, ErrorCode::kDataLoss);
  }
  EXPECT_FALSE(DecodeRecord(encoded + "x"));
}

TEST_F(SegmentFormatTest, SegmentRoundTripsInOrder) {
  const auto records = ReadAll(WriteSegment(50));
  ASSERT_EQ(records.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(records[i].request_id, "req-" + std::to_string(i));
}

TEST_F(SegmentFormatTest, TornTailIsSkippedAndEarlierFramesKept) {
  const std::string path = WriteSegment(10);
  const auto size = std::filesystem::file_size(path);
  // Every cut inside the last frame loses that frame only.
  for (uint64_t cut = 1; cut < 40; cut += 3) {
    std::filesystem::copy_file(path, path + ".torn",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(path + ".torn", size - cut);
    std::string damaged;
    const auto records = ReadAll(path + ".torn", &damaged);
    EXPECT_EQ(records.size(), 9u) << "cut " << cut;
    EXPECT_NE(damaged.find("torn"), std::string::npos) << damaged;
  }
}

TEST_F(SegmentFormatTest, FlippedByteIsDetectedByTheCrc) {
  const std::string path = WriteSegment(10);
  auto reader = SegmentReader::Open(path);
  ASSERT_TRUE(reader);
  uint64_t fifth = 0;
  for (int i = 0; i < 5; ++i) fifth = (*reader->Next())->offset;
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fifth + kFrameHeaderBytes + 5));
    char byte = 0;
    file.read(&byte, 1);
    file.seekp(static_cast<std::streamoff>(fifth + kFrameHeaderBytes + 5));
    byte = static_cast<char>(byte ^ 0x40);
    file.write(&byte, 1);
  }
  std::string damaged;
  EXPECT_EQ(ReadAll(path, &damaged).size(), 4u);
  EXPECT_NE(damaged.find("CRC mismatch"), std::string::npos) << damaged;
}

TEST_F(SegmentFormatTest, NotASegmentIsRefused) {
  std::filesystem::create_directories(root_);
  std::ofstream(root_ / "x.seg") << "hello";
  auto reader = SegmentReader::Open((root_ / "x.seg").string());
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code, ErrorCode::kDataLoss);
}

TEST_F(SegmentFormatTest, RewriteKeepsOnlyTheGivenFramesAtomically) {
  const std::string path = WriteSegment(4);
  auto offsets = RewriteSegment(path, {EncodeRecord(Sample(1)), EncodeRecord(Sample(3))});
  ASSERT_TRUE(offsets) << offsets.error().message;
  const auto records = ReadAll(path);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].request_id, "req-3");
  EXPECT_FALSE(std::filesystem::exists(path + ".rewrite"));
}

TEST_F(SegmentFormatTest, SegmentsRollBySizeAndNeverReopen) {
  {
    SegmentFiles files(root_.string(), 200);
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(files.Append("p", "", "20260101", EncodeRecord(Sample(i))));
    ASSERT_TRUE(files.Flush());
  }
  SegmentFiles files(root_.string(), 1 << 20);
  const auto before = files.List("p");
  ASSERT_TRUE(before);
  EXPECT_GT(before->size(), 1u);
  EXPECT_TRUE(before->front().starts_with("@models/20260101-"));
  auto location = files.Append("p", "", "20260101", EncodeRecord(Sample(11)));
  ASSERT_TRUE(location);
  EXPECT_EQ(std::find(before->begin(), before->end(), location->segment), before->end());
}

}  // namespace
}  // namespace falaj::monitoring

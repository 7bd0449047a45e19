// The prediction log's on-disk format: a segment file is an 8-byte magic ("FALAJPL1") followed
// by frames, each a little-endian u32 payload length, a u32 CRC-32C of the payload, then the
// payload: a chunk of the records one writer batch had for the endpoint (a u32 count, then per
// record a u32 length and the encoded PredictionRecord, whose feature names may refer to the
// previous record's), sealed as a whole when the project's
// records are encrypted. One frame per batch rather than per record keeps checksumming, sealing
// and indexing off the per-record cost of 100 % logging.
// Frames are only ever appended, so a crash can leave at most one torn frame at the end; a
// reader stops at the first frame whose length runs past the end of the file or whose CRC does
// not match, reports where, and keeps every frame before it (docs/prediction-log.md).
//
// Thread-safety: free functions are thread-safe; a SegmentReader is used by one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "serving/prediction_record.h"

namespace falaj::monitoring {

inline constexpr std::string_view kSegmentMagic = "FALAJPL1";
inline constexpr size_t kFrameHeaderBytes = 8;
// A frame larger than this is corruption, not a record (records are a request's rows).
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

uint32_t Crc32c(std::string_view bytes);

// The record as bytes (every field, in a fixed order; see docs/prediction-log.md).
std::string EncodeRecord(const serving::PredictionRecord& record);
// DATA_LOSS when the bytes are truncated or malformed. In a chunk, `previous` is the record
// before (whose feature names a record may repeat by reference).
Result<serving::PredictionRecord> DecodeRecord(std::string_view payload,
                                               const serving::PredictionRecord* previous = nullptr);

// Builds a chunk in place: Begin, Add per record, Finish (which writes the count).
void BeginChunk(std::string& chunk);
// `previous` is the record added before, if any (its feature names are not repeated).
void AddToChunk(std::string& chunk, const serving::PredictionRecord& record,
                const serving::PredictionRecord* previous);
void FinishChunk(std::string& chunk, uint32_t count);
// The chunk's records in order; DATA_LOSS when it is malformed.
Result<std::vector<serving::PredictionRecord>> DecodeChunk(std::string_view chunk);

// Appends one frame (header and payload) to `out`.
void AppendFrame(std::string& out, std::string_view payload);

// Reads the frames of one segment file in order.
class SegmentReader {
 public:
  // NOT_FOUND when the file does not exist, DATA_LOSS when it does not start with the magic.
  static Result<SegmentReader> Open(const std::string& path);
  SegmentReader(SegmentReader&& other) noexcept;
  SegmentReader& operator=(SegmentReader&& other) noexcept;
  ~SegmentReader();

  // Positions the reader at a frame offset taken from Next() (an index entry).
  Status Seek(uint64_t offset);

  struct Frame {
    uint64_t offset;  // of the frame header in the file
    std::string payload;
  };
  // The next intact frame; nullopt at the end of the file or at the first bad frame (then
  // damaged() says why and where).
  Result<std::optional<Frame>> Next();

  // Set once Next() met a torn or corrupt frame: "torn frame at offset 1234 …".
  const std::string& damaged() const { return damaged_; }
  // The offset just past the last intact frame read.
  uint64_t end_of_intact() const { return end_of_intact_; }

 private:
  SegmentReader(std::FILE* file, std::string path, uint64_t size);

  std::FILE* file_ = nullptr;
  std::string path_;
  uint64_t size_ = 0;
  uint64_t position_ = 0;
  uint64_t end_of_intact_ = 0;
  std::string damaged_;
};

}  // namespace falaj::monitoring

// PredictionLog's reads: logged predictions by request id, unit key or time, and its statistics.
#include <charconv>
#include <filesystem>
#include <tuple>

#include "monitoring/prediction_log.h"
#include "monitoring/segment_format.h"

namespace falaj::monitoring {
namespace {

// Blocks fetched per index query while filling a page by time.
constexpr size_t kBlocksPerQuery = 32;

// "<offset>:<item>:<segment>" of the last item of a page.
std::string Cursor(const RecordRef& ref) {
  return fmt::format("{}:{}:{}", ref.offset, ref.item, ref.segment);
}

Result<RecordRef> ParseCursor(std::string_view cursor) {
  const size_t first = cursor.find(':');
  const size_t second = first == std::string_view::npos ? first : cursor.find(':', first + 1);
  RecordRef ref;
  if (second == std::string_view::npos ||
      std::from_chars(cursor.data(), cursor.data() + first, ref.offset).ec != std::errc() ||
      std::from_chars(cursor.data() + first + 1, cursor.data() + second, ref.item).ec !=
          std::errc() ||
      second + 1 == cursor.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed page cursor 'page_token': '{}'",
                     cursor);
  }
  ref.segment = std::string(cursor.substr(second + 1));
  return ref;
}

bool After(const RecordRef& ref, const RecordRef& cursor) {
  return std::tie(ref.segment, ref.offset, ref.item) >
         std::tie(cursor.segment, cursor.offset, cursor.item);
}

}  // namespace

Result<std::vector<LoggedPrediction>> PredictionLog::Load(std::string_view project,
                                                          std::string_view endpoint,
                                                          const std::vector<RecordRef>& refs) {
  std::vector<LoggedPrediction> loaded;
  std::vector<serving::PredictionRecord> frame_records;
  RecordRef frame{"", 0, 0};
  for (const auto& ref : refs) {
    if (frame_records.empty() || ref.segment != frame.segment || ref.offset != frame.offset) {
      FALAJ_ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(files_.Path(project, ref.segment)));
      FALAJ_RETURN_IF_ERROR(reader.Seek(ref.offset));
      FALAJ_ASSIGN_OR_RETURN(auto read, reader.Next());
      if (!read) {
        return MakeError(ErrorCode::kDataLoss, "indexed predictions missing: {}", reader.damaged());
      }
      FALAJ_ASSIGN_OR_RETURN(frame_records, Open(project, endpoint, read->payload));
      frame = ref;
    }
    if (ref.item >= frame_records.size()) {
      return MakeError(ErrorCode::kDataLoss, "frame at {} of '{}' has no record {}", ref.offset,
                       ref.segment, ref.item);
    }
    loaded.push_back({frame_records[ref.item], ref});
  }
  return loaded;
}

Result<std::optional<LoggedPrediction>> PredictionLog::LoadFirst(
    std::string_view project, std::string_view endpoint, const std::vector<RecordRef>& refs) {
  std::shared_lock lock(files_mutex_);
  FALAJ_ASSIGN_OR_RETURN(auto loaded, Load(project, endpoint, refs));
  if (loaded.empty()) return std::optional<LoggedPrediction>();
  return std::optional<LoggedPrediction>(std::move(loaded.front()));
}

Result<PredictionPage> PredictionLog::Read(const PredictionQuery& query) {
  std::optional<RecordRef> after;
  if (!query.after.empty()) {
    FALAJ_ASSIGN_OR_RETURN(after, ParseCursor(query.after));
  }
  const RecordRef* cursor = after ? &*after : nullptr;
  PredictionPage page;
  std::shared_lock lock(files_mutex_);
  if (!query.request_id.empty() || !query.unit_key.empty()) {
    const bool by_request = !query.request_id.empty();
    std::vector<RecordRef> refs;
    FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
        storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
          FALAJ_ASSIGN_OR_RETURN(
              refs,
              FindKeys(tx, query.project, query.endpoint, by_request ? "request_id" : "unit_key",
                       by_request ? query.request_id : query.unit_key, cursor, query.limit + 1));
          return Ok();
        }));
    const bool more = refs.size() > query.limit;
    if (more) refs.pop_back();
    FALAJ_ASSIGN_OR_RETURN(page.items, Load(query.project, query.endpoint, refs));
    if (more) page.next = Cursor(refs.back());
    std::erase_if(page.items,
                  [&](const auto& item) { return item.record.timestamp_ms < query.since_ms; });
    return page;
  }
  // By time: walk the blocks that can hold records since `since_ms`, in log order.
  std::optional<RecordRef> next_block = after;
  for (;;) {
    std::vector<RecordRef> blocks;
    FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
        storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
          FALAJ_ASSIGN_OR_RETURN(blocks,
                                 FindBlocks(tx, query.project, query.endpoint, query.since_ms,
                                            next_block ? &*next_block : nullptr, kBlocksPerQuery));
          return Ok();
        }));
    for (const auto& block : blocks) {
      FALAJ_ASSIGN_OR_RETURN(auto reader,
                             SegmentReader::Open(files_.Path(query.project, block.segment)));
      FALAJ_RETURN_IF_ERROR(reader.Seek(block.offset));
      FALAJ_ASSIGN_OR_RETURN(auto frame, reader.Next());
      if (!frame) {
        return MakeError(ErrorCode::kDataLoss, "indexed predictions missing: {}", reader.damaged());
      }
      FALAJ_ASSIGN_OR_RETURN(auto records, Open(query.project, query.endpoint, frame->payload));
      for (uint32_t item = 0; item < records.size(); ++item) {
        RecordRef ref{block.segment, block.offset, item};
        if ((cursor && !After(ref, *cursor)) || records[item].timestamp_ms < query.since_ms) {
          continue;
        }
        if (page.items.size() == query.limit) {
          page.next = Cursor(page.items.back().ref);
          return page;
        }
        page.items.push_back({std::move(records[item]), std::move(ref)});
      }
    }
    if (blocks.size() < kBlocksPerQuery) return page;
    next_block = RecordRef{blocks.back().segment, blocks.back().offset + 1, 0};
  }
}

Result<std::optional<LoggedPrediction>> PredictionLog::FindRequest(std::string_view project,
                                                                   std::string_view endpoint,
                                                                   std::string_view request_id) {
  std::vector<RecordRef> refs;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(refs,
                               LatestOfRequest(tx, std::string(project), std::string(endpoint),
                                               std::string(request_id)));
        return Ok();
      }));
  return LoadFirst(project, endpoint, refs);
}

Result<std::optional<LoggedPrediction>> PredictionLog::LatestForUnit(std::string_view project,
                                                                     std::string_view endpoint,
                                                                     std::string_view unit_key,
                                                                     int64_t at_ms) {
  std::vector<RecordRef> refs;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(refs, LatestOfUnit(tx, std::string(project), std::string(endpoint),
                                                  std::string(unit_key), at_ms));
        return Ok();
      }));
  return LoadFirst(project, endpoint, refs);
}

Result<PredictionLogStats> PredictionLog::Stats(std::string_view project,
                                                std::string_view endpoint) {
  const uint64_t offered = offered_.load();
  const uint64_t processed = processed_.load();
  PredictionLogStats stats{written_.load(), dropped_.load(), bytes_.load(), failed_.load(),
                           offered - std::min(offered, processed)};
  const std::string name(endpoint);
  std::shared_lock lock(files_mutex_);
  FALAJ_ASSIGN_OR_RETURN(auto segments, files_.List(project, &name));
  for (const auto& segment : segments) {
    std::error_code error;
    stats.segments += 1;
    stats.segment_bytes += std::filesystem::file_size(files_.Path(project, segment), error);
  }
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(int64_t count, CountRecords(tx, std::string(project), name));
        stats.indexed_records = static_cast<uint64_t>(count);
        return Ok();
      }));
  return stats;
}

}  // namespace falaj::monitoring

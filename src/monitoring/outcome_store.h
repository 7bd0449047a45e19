// Outcomes reported through the feedback API (a conversion, a numeric value or a delayed label,
// for a request id or a unit key): validated, joined to the logged prediction they belong to (by
// request id; by unit key, the unit's latest prediction at or before the outcome), stored durably
// in the MetadataStore, and handed to the OutcomeListeners — joined or not. An outcome with the
// same (request id or unit key, metric, client id) as a stored one is a duplicate: it is reported
// as such and neither stored nor published again, however many posts race.
//
// Thread-safety: every method is safe from any thread; state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "monitoring/prediction_log.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {

inline constexpr size_t kMaxOutcomesPerBatch = 1000;
inline constexpr size_t kMaxOutcomeTextLength = 256;

struct OutcomeInput {
  std::string id = {};  // the client's idempotency id; "" when none
  std::string request_id = {};
  std::string unit_key = {};
  std::string metric = {};
  std::string type = {};  // "conversion" (0 or 1), "value" or "label"; "" picks by metric name
  double value = 0;
  int64_t timestamp_ms = 0;  // 0: when received
};

struct StoredOutcome {
  OutcomeRecord record;
  std::string id;  // the client's id, else one the server assigned
  std::string type;
  int64_t received_at_ms = 0;
  bool duplicate = false;  // an earlier post already recorded it
};

struct OutcomeQuery {
  std::string project = {};
  std::string endpoint = {};
  std::string request_id = {};
  std::string unit_key = {};
  std::string metric = {};
  std::string after = {};  // the previous page's cursor
  size_t limit = 100;
};

struct OutcomePage {
  std::vector<StoredOutcome> items;
  std::string next;
};

class OutcomeStore {
 public:
  OutcomeStore(storage::MetadataStore& store, PredictionLog& log,
               const Clock& clock = SystemClock::Instance())
      : store_(store), log_(log), clock_(clock) {}

  static const storage::MigrationSet& Migrations();

  // INVALID_ARGUMENT naming the item ("outcomes[3].metric …") for the first invalid one; then
  // nothing is stored. Also INVALID_ARGUMENT past kMaxOutcomesPerBatch.
  static Status Validate(const std::vector<OutcomeInput>& batch);

  // Validates, joins, stores and publishes the batch; the results are in the batch's order.
  Result<std::vector<StoredOutcome>> Record(std::string_view project, std::string_view endpoint,
                                            std::vector<OutcomeInput> batch);
  Result<OutcomePage> List(const OutcomeQuery& query);
  // Deletes the project's outcomes of these request ids or unit keys; returns how many.
  Result<int64_t> Erase(std::string_view project, const std::vector<std::string>& request_ids,
                        const std::vector<std::string>& unit_keys);
  // Deletes every outcome of the endpoint (with its logged predictions, before the project is
  // deleted); returns how many.
  Result<int64_t> Purge(std::string_view project, std::string_view endpoint);

  // The project's stored outcomes: an ownership check, so that a project is not deleted while
  // they remain.
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

 private:
  Status Join(std::string_view project, std::string_view endpoint, OutcomeRecord& record);

  storage::MetadataStore& store_;
  PredictionLog& log_;
  const Clock& clock_;
};

}  // namespace falaj::monitoring

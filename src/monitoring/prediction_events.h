// The contracts between the prediction log and what consumes it: monitors (drift, data quality,
// label metrics) and A/B tests (exposures and outcomes per arm). The prediction log calls the
// listeners on its own writer thread, after the record is durable, never on the serving path.
//
// Thread-safety: a listener is called from one writer thread at a time, but must not assume
// which one; listeners must not block for long (they delay the log, not inference).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "serving/prediction_record.h"

namespace falaj::monitoring {

// An outcome reported through the feedback API: a conversion (0/1), a numeric value or a delayed
// label, for a request id or a unit key, joined to the prediction it belongs to when the log
// still has it.
struct OutcomeRecord {
  std::string project;
  std::string endpoint;
  std::string request_id;  // one of request_id and unit_key is set
  std::string unit_key;
  std::string metric;  // the outcome's name, e.g. "conversion", "revenue", "label"
  double value = 0;
  int64_t timestamp_ms = 0;
  // The joined prediction (joined == false when none was found: the outcome is still kept).
  bool joined = false;
  std::string arm;
  std::string model;
  int64_t version = 0;
  int64_t prediction_timestamp_ms = 0;
  std::vector<float> prediction;  // the prediction's first output row(s)
};

class PredictionListener {
 public:
  virtual ~PredictionListener() = default;
  virtual void OnPrediction(const serving::PredictionRecord& record) = 0;
};

class OutcomeListener {
 public:
  virtual ~OutcomeListener() = default;
  virtual void OnOutcome(const OutcomeRecord& outcome) = 0;
};

// Where listeners subscribe: the prediction log. Listeners are added before serving starts and
// must outlive the source.
class PredictionEventSource {
 public:
  virtual ~PredictionEventSource() = default;
  virtual void AddPredictionListener(PredictionListener* listener) = 0;
  virtual void AddOutcomeListener(OutcomeListener* listener) = 0;
};

}  // namespace falaj::monitoring

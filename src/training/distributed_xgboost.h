// Distributed XGBoost training on XGBoost's own collective (docs/decisions/0006): Falaj writes
// each worker's row shard of the training split and the validation split to a work directory
// as .npy files, runs ONE launcher process (python/falaj_training/xgboost_collective.py, under
// jobs::RunProcess in its own process group) that starts xgboost.tracker.RabitTracker and N
// worker processes, and follows the launcher's JSON lines: one per boosting round from rank 0
// (the iteration callback, progress, and stopping), each rank's shard size, and failures. Rank 0
// writes the model JSON, cut to the best iteration; Falaj then predicts the test split with its
// own "trees" runtime, so the result is the same FitResult FitXGBoost returns.
//
// Thread-safety: FitXGBoostDistributed is reentrant; each call owns its work directory and
// processes. Its callback runs on the calling thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/task_context.h"
#include "training/trainer.h"

namespace falaj::training {

inline constexpr int kMinDistributedWorkers = 2;
inline constexpr int kMaxDistributedWorkers = 64;

struct DistributedOptions {
  std::string python = "python3";      // interpreter with xgboost (≥ 2.0) and numpy
  std::string script;                  // the launcher; empty: DefaultCollectiveScript()
  std::string work_dir;                // empty: a fresh temporary directory, removed afterwards
  IterationCallback callback;          // as for FitXGBoost; returning false stops after that round
  std::vector<std::string> extra_env;  // "NAME=value" added to the launcher's environment
};

struct DistributedFit {
  FitResult fit;
  std::string engine;                // "xgboost 3.2.0 collective"
  std::vector<int64_t> worker_rows;  // training rows each rank loaded, by rank
};

// Trains `workers` (2–64) workers on shards of data.train. Training shards are contiguous row
// ranges; ranking shards end on query-group boundaries, so no group is split. INVALID_ARGUMENT
// for a bad worker count or fewer training rows (groups) than workers; FAILED_PRECONDITION when
// the interpreter or launcher cannot run; INTERNAL naming the rank when a worker fails;
// CANCELLED when `context` asks (every worker process is killed). A callback returning false
// stops training cleanly (FitResult::stopped_by_callback, best model so far) — unlike
// FitXGBoost not at that round but at the next one rank 0 starts after seeing the request, as
// the workers do not wait for the callback; every rank stops at the same round.
Result<DistributedFit> FitXGBoostDistributed(const PreparedData& data, const XGBoostConfig& config,
                                             int workers, const DistributedOptions& options,
                                             TaskContext& context);

// Where the launcher is looked for: python/falaj_training/xgboost_collective.py next to the
// running binary, then in the source tree this was built from. Empty when neither exists.
std::string DefaultCollectiveScript();

// Writes a .npy (format 1.0) file of little-endian float32 (`rows` × `columns`, or a vector when
// `columns` is 0) or uint32 values. Exposed for tests.
Status WriteNpyFloat32(const std::string& path, const float* values, size_t rows, size_t columns);
Status WriteNpyUint32(const std::string& path, const unsigned* values, size_t count);

}  // namespace falaj::training

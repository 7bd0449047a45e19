// FitXGBoostDistributed: shards to .npy, one launcher process under jobs::RunProcess, its JSON
// lines followed, the model read back and the test split predicted with the "trees" runtime.
#include "training/distributed_xgboost.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "jobs/process_runner.h"
#include "serving/model_runtime.h"

namespace falaj::training {
namespace {

namespace fs = std::filesystem;

constexpr char kScriptPath[] = "python/falaj_training/xgboost_collective.py";
constexpr size_t kKeptErrorLines = 20;
constexpr std::string_view kMarker = "@falaj ";

Status WriteNpy(const std::string& path, std::string_view descr, const std::string& shape,
                const void* values, size_t bytes) {
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint16_t length = static_cast<uint16_t>(header.size());
  const char prefix[10] = {'\x93',
                           'N',
                           'U',
                           'M',
                           'P',
                           'Y',
                           1,
                           0,
                           static_cast<char>(length & 0xff),
                           static_cast<char>(length >> 8)};
  out.write(prefix, sizeof(prefix));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(values), static_cast<std::streamsize>(bytes));
  out.close();
  if (!out) return MakeError(ErrorCode::kInternal, "cannot write {}", path);
  return Ok();
}

// Rows [begin, end) of `split` and the query groups they hold.
struct Shard {
  size_t begin = 0;
  size_t end = 0;
  std::vector<unsigned> groups;
};

Result<std::vector<Shard>> MakeShards(const DataSplit& train, int workers) {
  std::vector<Shard> shards(workers);
  const size_t n = static_cast<size_t>(workers);
  if (train.group_sizes.empty()) {
    if (train.rows < n) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "distributed.workers: {} workers need at least as many training rows, "
                       "there are {}",
                       workers, train.rows);
    }
    for (size_t r = 0; r < n; ++r) {
      shards[r].begin = train.rows * r / n;
      shards[r].end = train.rows * (r + 1) / n;
    }
    return shards;
  }
  // Ranking: whole query groups per shard, consecutive groups to each rank.
  const size_t groups = train.group_sizes.size();
  if (groups < n) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "distributed.workers: {} workers need at least as many training query "
                     "groups, there are {}",
                     workers, groups);
  }
  size_t row = 0;
  for (size_t r = 0; r < n; ++r) {
    shards[r].begin = row;
    for (size_t g = groups * r / n; g < groups * (r + 1) / n; ++g) {
      shards[r].groups.push_back(train.group_sizes[g]);
      row += train.group_sizes[g];
    }
    shards[r].end = row;
  }
  return shards;
}

Status WriteSplit(const fs::path& dir, const std::string& prefix, const DataSplit& split,
                  size_t begin, size_t end, const std::vector<unsigned>& groups) {
  const size_t rows = end - begin;
  FALAJ_RETURN_IF_ERROR(WriteNpyFloat32((dir / (prefix + "_x.npy")).string(),
                                        split.features.data() + begin * split.columns, rows,
                                        split.columns));
  FALAJ_RETURN_IF_ERROR(
      WriteNpyFloat32((dir / (prefix + "_y.npy")).string(), split.labels.data() + begin, rows, 0));
  if (!groups.empty()) {
    FALAJ_RETURN_IF_ERROR(
        WriteNpyUint32((dir / (prefix + "_group.npy")).string(), groups.data(), groups.size()));
  }
  return Ok();
}

// Removes a temporary work directory when the fit ends.
class TempDir {
 public:
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  Result<std::string> Create() {
    std::string pattern = (fs::temp_directory_path() / "falaj-distributed-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return MakeError(ErrorCode::kInternal, "cannot create a work directory: {}",
                       std::strerror(errno));
    }
    path_ = pattern;
    return path_;
  }

 private:
  std::string path_;
};

std::vector<std::string> LauncherEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (const char* name : {"PATH", "HOME", "TMPDIR", "LANG", "LD_LIBRARY_PATH"}) {
    if (const char* value = std::getenv(name)) env.push_back(fmt::format("{}={}", name, value));
  }
  if (std::getenv("PATH") == nullptr) env.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin");
  env.emplace_back("PYTHONUNBUFFERED=1");
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

Status WriteNpyFloat32(const std::string& path, const float* values, size_t rows, size_t columns) {
  const std::string shape =
      columns == 0 ? fmt::format("({},)", rows) : fmt::format("({}, {})", rows, columns);
  return WriteNpy(path, "<f4", shape, values, rows * std::max<size_t>(columns, 1) * sizeof(float));
}

Status WriteNpyUint32(const std::string& path, const unsigned* values, size_t count) {
  static_assert(sizeof(unsigned) == 4);
  return WriteNpy(path, "<u4", fmt::format("({},)", count), values, count * sizeof(unsigned));
}

std::string DefaultCollectiveScript() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    for (const fs::path& dir :
         {exe.parent_path(), exe.parent_path().parent_path() / "share/falaj"}) {
      if (fs::exists(dir / kScriptPath, error)) return (dir / kScriptPath).string();
    }
  }
#ifdef FALAJ_SOURCE_DIR
  if (const fs::path source = fs::path(FALAJ_SOURCE_DIR) / kScriptPath; fs::exists(source, error)) {
    return source.string();
  }
#endif
  return "";
}

Result<DistributedFit> FitXGBoostDistributed(const PreparedData& data, const XGBoostConfig& config,
                                             int workers, const DistributedOptions& options,
                                             TaskContext& context) {
  if (workers < kMinDistributedWorkers || workers > kMaxDistributedWorkers) {
    return MakeError(ErrorCode::kInvalidArgument, "distributed.workers must be {}–{}, got {}",
                     kMinDistributedWorkers, kMaxDistributedWorkers, workers);
  }
  if (config.num_boost_round < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "num_boost_round must be at least 1");
  }
  const bool has_validation = data.validation.rows > 0;
  if (config.early_stopping_rounds > 0 && !has_validation) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "early_stopping_rounds needs a validation split (validation_fraction > 0)");
  }
  const std::string script = options.script.empty() ? DefaultCollectiveScript() : options.script;
  if (script.empty() || !fs::exists(script)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the distributed training launcher {} was not found; set "
                     "training.collective_script",
                     script.empty() ? std::string(kScriptPath) : script);
  }
  FALAJ_ASSIGN_OR_RETURN(auto shards, MakeShards(data.train, workers));

  TempDir temp;
  std::string work_dir = options.work_dir;
  if (work_dir.empty()) {
    FALAJ_ASSIGN_OR_RETURN(work_dir, temp.Create());
  } else {
    std::error_code error;
    fs::create_directories(work_dir, error);
    if (error) {
      return MakeError(ErrorCode::kInternal, "cannot create {}: {}", work_dir, error.message());
    }
  }
  const fs::path dir(work_dir);
  for (int r = 0; r < workers; ++r) {
    FALAJ_RETURN_IF_ERROR(WriteSplit(dir, fmt::format("train_{}", r), data.train, shards[r].begin,
                                     shards[r].end, shards[r].groups));
  }
  if (has_validation) {
    FALAJ_RETURN_IF_ERROR(WriteSplit(dir, "valid", data.validation, 0, data.validation.rows,
                                     data.validation.group_sizes));
  }

  DistributedFit out;
  FitResult& result = out.fit;
  auto metric = config.params.find("eval_metric");
  result.metric_name =
      metric != config.params.end() ? metric->second : DefaultEvalMetric(config.objective);
  result.higher_is_better = HigherIsBetter(result.metric_name);
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int nthread = config.nthread > 0 ? config.nthread : std::max(1, hardware / workers);
  nlohmann::json params(config.params);
  params["objective"] = config.objective;
  params["eval_metric"] = result.metric_name;
  params["nthread"] = std::to_string(nthread);
  if (config.num_class > 0) params["num_class"] = std::to_string(config.num_class);
  const nlohmann::json launch_config = {{"workers", workers},
                                        {"params", params},
                                        {"num_boost_round", config.num_boost_round},
                                        {"early_stopping_rounds", config.early_stopping_rounds},
                                        {"has_validation", has_validation},
                                        {"higher_is_better", result.higher_is_better}};
  {
    std::ofstream file(dir / "config.json", std::ios::trunc);
    file << launch_config.dump();
    if (!file) return MakeError(ErrorCode::kInternal, "cannot write {}/config.json", work_dir);
  }

  jobs::ProcessSpec spec;
  spec.argv = {options.python, script, "launch", work_dir};
  spec.env = LauncherEnv(options.extra_env);
  spec.work_dir = work_dir;
  spec.timeout = std::chrono::hours(24 * 7);
  out.worker_rows.assign(workers, -1);
  std::string error_line;
  std::vector<std::string> other_lines;  // the last few, for a failure message
  bool done = false;
  bool stop_requested = false;
  auto on_line = [&](std::string_view line) {
    // Protocol lines carry a marker; text before it is another process's unterminated output.
    nlohmann::json message;
    if (const auto marker = line.find(kMarker); marker != std::string_view::npos) {
      message = nlohmann::json::parse(line.substr(marker + kMarker.size()), nullptr,
                                      /*allow_exceptions=*/false);
      if (message.is_object()) line = line.substr(0, marker);
      if (message.is_object() && !line.empty()) context.Log(line);
    }
    if (!message.is_object()) {
      context.Log(line);
      other_lines.emplace_back(line);
      if (other_lines.size() > kKeptErrorLines) other_lines.erase(other_lines.begin());
      return;
    }
    if (message.contains("iteration")) {
      const int iteration = message.value("iteration", 0);
      const double value = message["value"].is_number() ? message["value"].get<double>()
                                                        : std::numeric_limits<double>::quiet_NaN();
      result.validation_history.push_back(value);
      result.iterations_run = iteration + 1;
      if (options.callback && !stop_requested && !options.callback(iteration, value)) {
        // Rank 0 sees the file before the next round and every rank stops together.
        stop_requested = true;
        std::ofstream(dir / "stop") << "stop\n";
      }
    } else if (message.contains("rank") && message.contains("rows")) {
      const int rank = message.value("rank", -1);
      if (rank >= 0 && rank < workers) out.worker_rows[rank] = message.value("rows", int64_t{-1});
      context.Log(message.dump());  // the job log shows each rank's shard size and process id
    } else if (message.contains("xgboost_version")) {
      out.engine = fmt::format("xgboost {} collective", message.value("xgboost_version", "?"));
      context.Log(fmt::format("distributed training: {} workers on {}", workers, out.engine));
    } else if (message.contains("error")) {
      error_line = message.value("error", "");
      context.Log(error_line);
    } else if (message.value("done", false)) {
      done = true;
      result.iterations_run = message.value("iterations_run", result.iterations_run);
      result.best_iteration = message.value("best_iteration", -1);
      if (message["best_value"].is_number()) {
        result.best_validation_metric = message["best_value"].get<double>();
      }
      result.stopped_early = message.value("stopped_early", false);
      result.stopped_by_callback = message.value("stopped_by_request", false);
    }
  };
  auto outcome = jobs::RunProcess(spec, on_line, [&context] { return context.CancelRequested(); });
  if (!outcome) {
    return MakeError(outcome.error().code == ErrorCode::kInvalidArgument
                         ? ErrorCode::kFailedPrecondition
                         : outcome.error().code,
                     "cannot run the distributed training launcher (training.python '{}'): {}",
                     options.python, outcome.error().message);
  }
  using End = jobs::ProcessOutcome::End;
  if (outcome->end == End::kCancelled) {
    return MakeError(ErrorCode::kCancelled, "distributed training was cancelled");
  }
  if (!error_line.empty()) {
    return MakeError(ErrorCode::kInternal, "distributed training failed: {}", error_line);
  }
  if (outcome->end != End::kExited || outcome->exit_code != 0 || !done) {
    std::string tail;
    for (const auto& line : other_lines) tail += "\n" + line;
    return MakeError(
        ErrorCode::kInternal, "the distributed training launcher {} before finishing{}",
        outcome->end == End::kExited     ? fmt::format("exited with code {}", outcome->exit_code)
        : outcome->end == End::kSignaled ? fmt::format("was killed by signal {}", outcome->signal)
                                         : std::string("timed out"),
        tail);
  }
  {
    std::ifstream file(dir / "model.json", std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    result.model_json = text.str();
  }
  if (result.model_json.empty()) {
    return MakeError(ErrorCode::kInternal, "rank 0 wrote no model to {}/model.json", work_dir);
  }
  if (config.predict_test && data.test.rows > 0) {
    FALAJ_ASSIGN_OR_RETURN(auto model, serving::LoadTreesModel(result.model_json));
    result.test_predictions.resize(data.test.rows * model->num_outputs());
    FALAJ_RETURN_IF_ERROR(
        model->Predict(data.test.features, data.test.rows, result.test_predictions));
  }
  return out;
}

}  // namespace falaj::training

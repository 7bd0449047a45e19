// Times falaj::features::PointInTimeJoin on Parquet files: reads an entity file and feature-view
// files, runs the join (alone, best of --repeat), writes the result as Snappy Parquet, and prints
// one JSON line with the times and the peak RSS. bench/pit_join_peers.py runs it beside DuckDB.
//
//   pit_join --entities E.parquet --entity-ts event_timestamp --out OUT.parquet [--threads N]
//            [--repeat R] [--full-names] --view
//            NAME=PATH,keys=k1+k2,ts=COL[,created=COL][,ttl_us=N]...
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/io/interfaces.h>
#include <arrow/util/thread_pool.h>
#include <fmt/format.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "features/point_in_time_join.h"

namespace {

using falaj::features::FeatureViewData;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "pit_join: %s\n", message.c_str());
  std::exit(1);
}

template <typename T>
T Check(arrow::Result<T> result, std::string_view what) {
  if (!result.ok()) Fail(fmt::format("{}: {}", what, result.status().ToString()));
  return std::move(result).ValueOrDie();
}
void Check(const arrow::Status& status, std::string_view what) {
  if (!status.ok()) Fail(fmt::format("{}: {}", what, status.ToString()));
}

std::shared_ptr<arrow::Table> ReadParquet(const std::string& path) {
  parquet::ArrowReaderProperties properties;
  properties.set_use_threads(true);
  properties.set_pre_buffer(true);
  parquet::arrow::FileReaderBuilder builder;
  Check(builder.OpenFile(path, /*memory_map=*/true), path);
  builder.properties(properties);
  auto reader = Check(builder.Build(), path);
  return Check(reader->ReadTable(), path);
}

void WriteParquet(const arrow::Table& table, const std::string& path) {
  auto sink = Check(arrow::io::FileOutputStream::Open(path), path);
  auto properties =
      parquet::WriterProperties::Builder().compression(arrow::Compression::SNAPPY)->build();
  auto arrow_properties = parquet::ArrowWriterProperties::Builder().set_use_threads(true)->build();
  Check(parquet::arrow::WriteTable(table, arrow::default_memory_pool(), sink, 1 << 20, properties,
                                   arrow_properties),
        path);
  Check(sink->Close(), path);
}

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// NAME=PATH,keys=a+b,ts=COL,created=COL,ttl_us=N; returns the view and its path.
std::pair<FeatureViewData, std::string> ParseView(std::string_view spec) {
  FeatureViewData view;
  std::string path;
  for (const auto& part : Split(spec, ',')) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos) Fail(fmt::format("bad --view part '{}'", part));
    const std::string key = part.substr(0, eq), value = part.substr(eq + 1);
    if (view.name.empty()) {
      view.name = key;
      path = value;
    } else if (key == "keys") {
      view.join_keys = Split(value, '+');
    } else if (key == "ts") {
      view.event_timestamp_column = value;
    } else if (key == "created") {
      view.created_timestamp_column = value;
    } else if (key == "ttl_us") {
      view.ttl = std::chrono::microseconds(std::stoll(value));
    } else {
      Fail(fmt::format("unknown --view key '{}'", key));
    }
  }
  return {view, path};
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// User + system CPU seconds of the whole process so far: on a shared machine wall time also
// counts other people's work, CPU time does not.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string entities_path, out_path;
  std::vector<std::pair<FeatureViewData, std::string>> specs;
  falaj::features::PointInTimeJoinOptions options;
  options.threads = 2;
  int repeat = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Fail(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--entities")
      entities_path = next();
    else if (arg == "--entity-ts")
      options.entity_timestamp_column = next();
    else if (arg == "--out")
      out_path = next();
    else if (arg == "--threads")
      options.threads = std::stoi(next());
    else if (arg == "--repeat")
      repeat = std::stoi(next());
    else if (arg == "--full-names")
      options.full_feature_names = true;
    else if (arg == "--view")
      specs.push_back(ParseView(next()));
    else
      Fail(fmt::format("unknown argument '{}'", arg));
  }
  if (entities_path.empty() || out_path.empty() || specs.empty())
    Fail("see the usage in pit_join.cc");
  Check(arrow::SetCpuThreadPoolCapacity(options.threads), "thread pool");
  Check(arrow::io::SetIOThreadPoolCapacity(options.threads), "io thread pool");

  const auto start = Clock::now();
  auto entities = ReadParquet(entities_path);
  std::vector<FeatureViewData> views;
  int64_t feature_rows = 0;
  for (auto& [view, path] : specs) {
    view.table = ReadParquet(path);
    feature_rows += view.table->num_rows();
    views.push_back(view);
  }
  const double read_s = Seconds(start);

  std::shared_ptr<arrow::Table> joined;
  double join_s = 1e300, first_join_s = 0, join_cpu_s = 1e300;
  for (int r = 0; r < repeat; ++r) {
    joined.reset();
    const auto join_start = Clock::now();
    const double cpu_start = CpuSeconds();
    auto result = falaj::features::PointInTimeJoin(entities, views, options);
    if (!result) Fail(result.error().message);
    const double took = Seconds(join_start);
    if (r == 0) first_join_s = took;
    join_s = std::min(join_s, took);
    join_cpu_s = std::min(join_cpu_s, CpuSeconds() - cpu_start);
    joined = *std::move(result);
  }

  const auto write_start = Clock::now();
  WriteParquet(*joined, out_path);
  const double write_s = Seconds(write_start);

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"entity_rows\": %lld, \"feature_rows\": %lld, \"views\": %zu, \"threads\": %d, "
      "\"read_s\": %.4f, \"join_s\": %.4f, \"first_join_s\": %.4f, \"write_s\": %.4f, "
      "\"read_join_write_s\": %.4f, \"join_cpu_s\": %.4f, \"total_cpu_s\": %.4f, "
      "\"peak_rss_mb\": %.1f}\n",
      static_cast<long long>(entities->num_rows()), static_cast<long long>(feature_rows),
      views.size(), options.threads, read_s, join_s, first_join_s, write_s,
      read_s + first_join_s + write_s, join_cpu_s, CpuSeconds(), usage.ru_maxrss / 1024.0);
  return 0;
}

// The process_* metrics of the Prometheus client libraries, read from procfs at scrape time. A
// value whose source cannot be read or parsed is left out of the scrape: a missing sample is
// better than a wrong one, and a scrape must never fail because of it.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"

namespace falaj::metrics {
namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(text).str();
}

std::optional<double> ParseNumber(std::string_view text) {
  unsigned long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return static_cast<double>(value);
}

// The fields of /proc/self/stat that follow the command name, so that fields[0] is field 3
// (state) in proc(5) numbering. The command name is skipped up to its last ')' because it may
// itself contain spaces and parentheses.
std::vector<std::string_view> StatFields(std::string_view stat) {
  std::vector<std::string_view> fields;
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return fields;
  stat.remove_prefix(close + 1);
  while (true) {
    size_t start = stat.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    size_t end = std::min(stat.find_first_of(" \n", start), stat.size());
    fields.push_back(stat.substr(start, end - start));
    stat.remove_prefix(end);
  }
  return fields;
}

// Field `number` in proc(5) numbering (utime is 14, rss is 24).
std::optional<double> StatField(const std::vector<std::string_view>& fields, size_t number) {
  if (number < 3 || number - 3 >= fields.size()) return std::nullopt;
  return ParseNumber(fields[number - 3]);
}

std::optional<double> BootTimeSeconds() {
  std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  std::istringstream lines(*stat);
  for (std::string line; std::getline(lines, line);) {
    constexpr std::string_view kPrefix = "btime ";
    if (line.starts_with(kPrefix)) {
      return ParseNumber(std::string_view(line).substr(kPrefix.size()));
    }
  }
  return std::nullopt;
}

std::optional<double> OpenFds() {
  std::error_code error;
  std::filesystem::directory_iterator it("/proc/self/fd", error);
  if (error) return std::nullopt;
  double count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return std::nullopt;
    ++count;
  }
  return error ? std::nullopt : std::optional<double>(count);
}

std::optional<double> MaxFds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  return static_cast<double>(limit.rlim_cur);
}

// Every value here is finite, so fmt's shortest form is already valid exposition text.
void AppendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, std::optional<double> value) {
  if (!value) return;
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help,
                 type, *value);
}

void AppendProcessMetrics(std::string& out) {
  std::optional<std::string> stat = ReadFile("/proc/self/stat");
  std::vector<std::string_view> fields = stat ? StatFields(*stat) : std::vector<std::string_view>();
  long ticks_per_second = sysconf(_SC_CLK_TCK);
  long page_size = sysconf(_SC_PAGESIZE);

  std::optional<double> utime = StatField(fields, 14);
  std::optional<double> stime = StatField(fields, 15);
  std::optional<double> cpu_seconds;
  if (utime && stime && ticks_per_second > 0) cpu_seconds = (*utime + *stime) / ticks_per_second;

  std::optional<double> rss_pages = StatField(fields, 24);
  std::optional<double> resident_bytes;
  if (rss_pages && page_size > 0) resident_bytes = *rss_pages * page_size;

  std::optional<double> start_ticks = StatField(fields, 22);
  std::optional<double> boot_time = start_ticks ? BootTimeSeconds() : std::nullopt;
  std::optional<double> start_time;
  if (boot_time && ticks_per_second > 0) start_time = *boot_time + *start_ticks / ticks_per_second;

  AppendMetric(out, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.", cpu_seconds);
  AppendMetric(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               resident_bytes);
  AppendMetric(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
               StatField(fields, 23));
  AppendMetric(out, "process_open_fds", "gauge", "Number of open file descriptors.", OpenFds());
  AppendMetric(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
               MaxFds());
  AppendMetric(out, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.", start_time);
}

}  // namespace

void AddProcessCollector(Registry& registry) { registry.AddCollector(AppendProcessMetrics); }

}  // namespace falaj::metrics

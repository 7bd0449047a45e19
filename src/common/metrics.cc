#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <type_traits>
#include <utility>
#include <variant>

namespace falaj::metrics {
namespace {

// Misuse of this module is a bug in the caller, found on the first run, so it aborts loudly
// instead of producing a scrape that Prometheus would reject.
[[noreturn]] void Die(std::string_view message) {
  fmt::print(stderr, "falaj::metrics: {}\n", message);
  std::abort();
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsMetricName(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!IsAsciiLetter(c) && c != '_' && c != ':' && !(i > 0 && IsDigit(c))) return false;
  }
  return !name.empty();
}

// [a-zA-Z_][a-zA-Z0-9_]*, and names starting with __ are reserved for Prometheus itself.
bool IsLabelName(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!IsAsciiLetter(c) && c != '_' && !(i > 0 && IsDigit(c))) return false;
  }
  return !name.empty() && !name.starts_with("__");
}

void CheckNames(std::string_view name, const std::vector<std::string>& label_names,
                bool is_histogram) {
  if (!IsMetricName(name)) Die(fmt::format("invalid metric name \"{}\"", name));
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!IsLabelName(label)) Die(fmt::format("{}: invalid label name \"{}\"", name, label));
    if (is_histogram && label == "le") Die(fmt::format("{}: histograms reserve label le", name));
    if (std::find(label_names.begin(), label_names.begin() + i, label) != label_names.begin() + i) {
      Die(fmt::format("{}: duplicate label name \"{}\"", name, label));
    }
  }
}

void CheckBounds(const std::vector<double>& upper_bounds) {
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i - 1] >= upper_bounds[i])) {
      Die("histogram bounds must be finite and strictly increasing");
    }
  }
}

// Help text escapes backslash and newline; label values also escape the double quote.
void AppendEscaped(std::string& out, std::string_view text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// fmt's shortest round-trip form keeps integers below 1e16 free of exponents ("800000", not
// "8e+05"); the non-finite values need the spellings that Prometheus parses.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

void AppendSample(std::string& out, std::string_view name, std::string_view labels,
                  std::string_view value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Counter& counter) {
  AppendSample(out, name, labels, FormatValue(counter.Value()));
}

void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Gauge& gauge) {
  AppendSample(out, name, labels, FormatValue(gauge.Value()));
}

void AppendSeries(std::string& out, std::string_view name, std::string_view labels,
                  const Histogram& histogram) {
  Histogram::Snapshot snapshot = histogram.Read();
  std::string bucket_name = fmt::format("{}_bucket", name);
  std::string_view separator = labels.empty() ? "" : ",";
  for (size_t i = 0; i < snapshot.bucket_counts.size(); ++i) {
    std::string le =
        i < snapshot.upper_bounds.size() ? FormatValue(snapshot.upper_bounds[i]) : "+Inf";
    AppendSample(out, bucket_name, fmt::format("{}{}le=\"{}\"", labels, separator, le),
                 fmt::format("{}", snapshot.bucket_counts[i]));
  }
  AppendSample(out, fmt::format("{}_sum", name), labels, FormatValue(snapshot.sum));
  AppendSample(out, fmt::format("{}_count", name), labels, fmt::format("{}", snapshot.count));
}

// Orders label value tuples lexicographically, and lets WithLabels() look a tuple up without
// copying its values into strings.
struct LabelValuesLess {
  using is_transparent = void;
  template <typename Left, typename Right>
  bool operator()(const Left& left, const Right& right) const {
    return std::lexicographical_compare(
        left.begin(), left.end(), right.begin(), right.end(),
        [](std::string_view a, std::string_view b) { return a < b; });
  }
};

using Collector = std::function<void(std::string& out)>;

}  // namespace

void Counter::Increment(double amount) {
  if (!(amount >= 0)) Die(fmt::format("counter incremented by {}", amount));
  value_.fetch_add(amount, std::memory_order_relaxed);
}

double Counter::Value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::Set(double value) { value_.store(value, std::memory_order_relaxed); }

void Gauge::Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }

double Gauge::Value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : upper_bounds_(upper_bounds),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds.size() + 1)) {
  CheckBounds(upper_bounds_);
}

void Histogram::Observe(double value) {
  // The first bound that is >= value; NaN compares false with every bound and so, as in the Go
  // client, lands in +Inf.
  auto bound = std::partition_point(upper_bounds_.begin(), upper_bounds_.end(),
                                    [value](double upper) { return !(value <= upper); });
  counts_[bound - upper_bounds_.begin()].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  snapshot.bucket_counts.reserve(upper_bounds_.size() + 1);
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    snapshot.count += counts_[i].load(std::memory_order_relaxed);
    snapshot.bucket_counts.push_back(snapshot.count);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

template <typename Series>
struct Family<Series>::State {
  struct Entry {
    std::string labels;  // `name="value",...`, escaped once at creation rather than per scrape
    std::unique_ptr<Series> series;
  };

  State(std::string name, std::string help, std::string_view type,
        std::vector<std::string> label_names, std::vector<double> upper_bounds)
      : name(std::move(name)),
        help(std::move(help)),
        type(type),
        label_names(std::move(label_names)),
        upper_bounds(std::move(upper_bounds)) {}

  std::unique_ptr<Series> NewSeries() const {
    if constexpr (std::is_same_v<Series, Histogram>) {
      return std::make_unique<Histogram>(upper_bounds);
    } else {
      return std::make_unique<Series>();
    }
  }

  std::string RenderLabels(std::initializer_list<std::string_view> label_values) const {
    std::string labels;
    auto value = label_values.begin();
    for (const std::string& label : label_names) {
      if (!labels.empty()) labels += ',';
      labels += label;
      labels += "=\"";
      AppendEscaped(labels, *value++, /*escape_quote=*/true);
      labels += '"';
    }
    return labels;
  }

  void Render(std::string& out) const {
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(out, help, /*escape_quote=*/false);
    fmt::format_to(std::back_inserter(out), "\n# TYPE {} {}\n", name, type);
    std::lock_guard lock(mutex);
    for (const auto& [label_values, entry] : series) {
      AppendSeries(out, name, entry.labels, *entry.series);
    }
  }

  const std::string name;
  const std::string help;
  const std::string_view type;
  const std::vector<std::string> label_names;
  const std::vector<double> upper_bounds;  // empty unless Series is Histogram

  mutable std::mutex mutex;
  // Guarded by mutex. Ordered by label values so that scrapes are stable; a series is never
  // removed, which is what keeps WithLabels() references valid.
  std::map<std::vector<std::string>, Entry, LabelValuesLess> series;
};

template <typename Series>
Family<Series>::Family(std::unique_ptr<State> state) : state_(std::move(state)) {}

template <typename Series>
Family<Series>::~Family() = default;

template <typename Series>
Series& Family<Series>::WithLabels(std::initializer_list<std::string_view> label_values) {
  State& state = *state_;
  if (label_values.size() != state.label_names.size()) {
    Die(fmt::format("{} has {} label names but got {} values", state.name, state.label_names.size(),
                    label_values.size()));
  }
  std::lock_guard lock(state.mutex);
  auto it = state.series.lower_bound(label_values);
  if (it == state.series.end() || LabelValuesLess()(label_values, it->first)) {
    typename State::Entry entry{state.RenderLabels(label_values), state.NewSeries()};
    it = state.series.emplace_hint(
        it, std::vector<std::string>(label_values.begin(), label_values.end()), std::move(entry));
  }
  return *it->second.series;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::State {
  using Entry = std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
                             std::unique_ptr<Family<Histogram>>, Collector>;

  template <typename Series>
  Family<Series>& Add(std::unique_ptr<Family<Series>> family, const std::string& name,
                      bool has_labels) {
    std::vector<std::string> taken = {name};
    if constexpr (std::is_same_v<Series, Histogram>) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) taken.push_back(name + suffix);
    }
    // A family without labels has exactly one series, which is scraped (as 0) before its first
    // update so that rate() and increase() see the start.
    if (!has_labels) family->WithLabels({});
    Family<Series>& result = *family;
    std::lock_guard lock(mutex);
    for (const std::string& taken_name : taken) {
      if (!names.insert(taken_name).second) Die(fmt::format("metric {} registered twice", name));
    }
    entries.emplace_back(std::move(family));
    return result;
  }

  mutable std::mutex mutex;
  std::vector<Entry> entries;  // guarded by mutex; in registration order, which is render order
  // Guarded by mutex. Family names plus the sample names they render (a histogram "x" renders
  // x_count, so a counter "x_count" would make the scrape ambiguous).
  std::set<std::string, std::less<>> names;
};

Registry::Registry() : state_(std::make_unique<State>()) {}

Registry::~Registry() = default;

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  CheckNames(name, label_names, /*is_histogram=*/false);
  bool has_labels = !label_names.empty();
  std::unique_ptr<Family<Counter>> family(
      new Family<Counter>(std::make_unique<Family<Counter>::State>(
          name, std::move(help), "counter", std::move(label_names), std::vector<double>{})));
  return state_->Add(std::move(family), name, has_labels);
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  CheckNames(name, label_names, /*is_histogram=*/false);
  bool has_labels = !label_names.empty();
  std::unique_ptr<Family<Gauge>> family(new Family<Gauge>(std::make_unique<Family<Gauge>::State>(
      name, std::move(help), "gauge", std::move(label_names), std::vector<double>{})));
  return state_->Add(std::move(family), name, has_labels);
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> upper_bounds) {
  CheckNames(name, label_names, /*is_histogram=*/true);
  CheckBounds(upper_bounds);
  bool has_labels = !label_names.empty();
  std::unique_ptr<Family<Histogram>> family(
      new Family<Histogram>(std::make_unique<Family<Histogram>::State>(
          name, std::move(help), "histogram", std::move(label_names), std::move(upper_bounds))));
  return state_->Add(std::move(family), name, has_labels);
}

void Registry::AddCollector(std::function<void(std::string& out)> collector) {
  std::lock_guard lock(state_->mutex);
  state_->entries.emplace_back(std::move(collector));
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(state_->mutex);
  for (const State::Entry& entry : state_->entries) {
    std::visit(
        [&out](const auto& item) {
          if constexpr (std::is_same_v<std::decay_t<decltype(item)>, Collector>) {
            item(out);
          } else {
            item->state_->Render(out);
          }
        },
        entry);
  }
  return out;
}

}  // namespace falaj::metrics

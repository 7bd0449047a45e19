// PrepareData: Arrow columns → dense float matrices, and the train/validation/test splits.
#include <arrow/api.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include "data/arrow_columns.h"
#include "training/trainer.h"

namespace falaj::training {
namespace {

// Rows gathered per block: the block's slice of the row-major target (512 rows × 4 bytes × the
// columns) stays in cache while every column writes into it.
constexpr size_t kGatherBlock = 512;

// A column as T (float for features, double for labels, groups and times), NaN where null.
// Numeric, bool and timestamp columns (timestamps in their own unit: only their order matters to
// the time split).
template <typename T>
Result<std::vector<T>> ColumnValues(const arrow::Table& table, const std::string& name,
                                    bool allow_timestamp) {
  auto column = table.GetColumnByName(name);
  if (!column) return MakeError(ErrorCode::kInvalidArgument, "column '{}' does not exist", name);
  std::vector<T> values(static_cast<size_t>(table.num_rows()), std::numeric_limits<T>::quiet_NaN());
  const arrow::DataType& type = *column->type();
  const auto family = data::FamilyOf(type);
  if (data::IsNumeric(family)) {
    data::VisitNumericType(type, [&](auto tag) {
      using ArrayT = typename arrow::TypeTraits<decltype(tag)>::ArrayType;
      data::ForEachChunk<ArrayT>(*column, [&](const ArrayT& chunk, int64_t first) {
        data::ForEachValid(
            chunk, [&](int64_t i) { values[first + i] = static_cast<double>(chunk.Value(i)); });
      });
    });
  } else if (family == data::ColumnFamily::kBool) {
    data::ForEachChunk<arrow::BooleanArray>(
        *column, [&](const arrow::BooleanArray& chunk, int64_t first) {
          data::ForEachValid(chunk, [&](int64_t i) { values[first + i] = chunk.Value(i) ? 1 : 0; });
        });
  } else if (allow_timestamp && family == data::ColumnFamily::kTimestamp) {
    data::ForEachChunk<arrow::TimestampArray>(
        *column, [&](const arrow::TimestampArray& chunk, int64_t first) {
          data::ForEachValid(
              chunk, [&](int64_t i) { values[first + i] = static_cast<double>(chunk.Value(i)); });
        });
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "column '{}' is {}, not numeric", name,
                     type.ToString());
  }
  return values;
}

Status CheckLabels(const std::vector<double>& labels, const std::vector<int64_t>& rows,
                   const PrepareOptions& options) {
  for (int64_t row : rows) {
    const double y = labels[row];
    const bool whole = std::floor(y) == y;
    if (options.task == Task::kBinary && y != 0 && y != 1) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "label '{}' must be 0 or 1 for binary classification; row {} has {}",
                       options.label, row, y);
    }
    if (options.task == Task::kMulticlass && (!whole || y < 0 || y >= options.num_class)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "label '{}' must be a class in [0, {}); row {} has {}", options.label,
                       options.num_class, row, y);
    }
    if (!std::isfinite(y)) {
      return MakeError(ErrorCode::kInvalidArgument, "label '{}' row {} is not finite",
                       options.label, row);
    }
  }
  return Ok();
}

size_t CountOf(double fraction, size_t n) {
  return static_cast<size_t>(std::llround(fraction * static_cast<double>(n)));
}

struct Assignment {
  std::vector<int64_t> train, validation, test;
};

// Takes test, then validation, from the front of `rows` (already in split order).
void Cut(const std::vector<int64_t>& rows, const SplitOptions& split, Assignment& out) {
  const size_t n_test = CountOf(split.test_fraction, rows.size());
  const size_t n_valid =
      std::min(CountOf(split.validation_fraction, rows.size()), rows.size() - n_test);
  out.test.insert(out.test.end(), rows.begin(), rows.begin() + n_test);
  out.validation.insert(out.validation.end(), rows.begin() + n_test,
                        rows.begin() + n_test + n_valid);
  out.train.insert(out.train.end(), rows.begin() + n_test + n_valid, rows.end());
}

Assignment RandomSplit(std::vector<int64_t> rows, const SplitOptions& split) {
  std::mt19937_64 random(split.seed);
  std::shuffle(rows.begin(), rows.end(), random);
  Assignment out;
  Cut(rows, split, out);
  return out;
}

Assignment StratifiedSplit(const std::vector<int64_t>& rows, const std::vector<double>& labels,
                           const SplitOptions& split) {
  std::map<double, std::vector<int64_t>> classes;
  for (int64_t row : rows) classes[labels[row]].push_back(row);
  std::mt19937_64 random(split.seed);
  Assignment out;
  for (auto& [label, members] : classes) {
    std::shuffle(members.begin(), members.end(), random);
    Cut(members, split, out);
  }
  return out;
}

// Latest rows to test, the next latest to validation; a boundary moves earlier until it no longer
// separates equal times, so no later split holds a time also present in an earlier one.
Assignment TimeSplit(std::vector<int64_t> rows, const std::vector<double>& times,
                     const SplitOptions& split) {
  std::stable_sort(rows.begin(), rows.end(),
                   [&](int64_t a, int64_t b) { return times[a] < times[b]; });
  const size_t n = rows.size();
  auto boundary = [&](size_t index) {
    while (index > 0 && index < n && times[rows[index - 1]] == times[rows[index]]) --index;
    return index;
  };
  const size_t test_start = boundary(n - std::min(n, CountOf(split.test_fraction, n)));
  const size_t valid_start =
      boundary(test_start - std::min(test_start, CountOf(split.validation_fraction, n)));
  Assignment out;
  out.train.assign(rows.begin(), rows.begin() + valid_start);
  out.validation.assign(rows.begin() + valid_start, rows.begin() + test_start);
  out.test.assign(rows.begin() + test_start, rows.end());
  return out;
}

// Ranking: whole groups at random, each split ordered by group so groups are contiguous.
Assignment GroupSplit(const std::vector<int64_t>& rows, const std::vector<double>& groups,
                      const SplitOptions& split) {
  std::map<double, std::vector<int64_t>> by_group;
  for (int64_t row : rows) by_group[groups[row]].push_back(row);
  std::vector<double> ids;
  for (const auto& [id, members] : by_group) ids.push_back(id);
  std::mt19937_64 random(split.seed);
  std::shuffle(ids.begin(), ids.end(), random);
  const size_t n_test = CountOf(split.test_fraction, ids.size());
  const size_t n_valid =
      std::min(CountOf(split.validation_fraction, ids.size()), ids.size() - n_test);
  Assignment out;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto& target = i < n_test ? out.test : i < n_test + n_valid ? out.validation : out.train;
    const auto& members = by_group[ids[i]];
    target.insert(target.end(), members.begin(), members.end());
  }
  return out;
}

// Copies `rows` of the columns into a row-major split. Without groups the rows are put in table
// order first (a split's row order does not matter to training), so every column is read
// sequentially; ranking keeps its group order.
DataSplit Gather(std::vector<int64_t> rows, const std::vector<std::vector<float>>& columns,
                 const std::vector<double>& labels, const std::vector<double>* groups) {
  if (groups == nullptr) std::sort(rows.begin(), rows.end());
  DataSplit split;
  split.rows = rows.size();
  split.columns = columns.size();
  split.features.resize(split.rows * split.columns);
  split.labels.reserve(split.rows);
  for (size_t begin = 0; begin < rows.size(); begin += kGatherBlock) {
    const size_t end = std::min(rows.size(), begin + kGatherBlock);
    for (size_t c = 0; c < columns.size(); ++c) {
      const float* source = columns[c].data();
      float* target = split.features.data() + c;
      for (size_t r = begin; r < end; ++r) target[r * split.columns] = source[rows[r]];
    }
  }
  for (int64_t row : rows) split.labels.push_back(static_cast<float>(labels[row]));
  split.source_rows = std::move(rows);
  if (groups != nullptr) {
    const auto& order = split.source_rows;
    for (size_t r = 0; r < order.size(); ++r) {
      if (r == 0 || (*groups)[order[r]] != (*groups)[order[r - 1]]) split.group_sizes.push_back(0);
      ++split.group_sizes.back();
    }
  }
  return split;
}

}  // namespace

std::string_view TaskName(Task task) {
  switch (task) {
    case Task::kBinary:
      return "binary";
    case Task::kMulticlass:
      return "multiclass";
    case Task::kRegression:
      return "regression";
    case Task::kRanking:
      return "ranking";
  }
  return "regression";
}

std::string_view SplitMethodName(SplitMethod method) {
  switch (method) {
    case SplitMethod::kRandom:
      return "random";
    case SplitMethod::kStratified:
      return "stratified";
    case SplitMethod::kTime:
      return "time";
  }
  return "random";
}

Result<PreparedData> PrepareData(const arrow::Table& table, const PrepareOptions& options) {
  const SplitOptions& split = options.split;
  if (!(split.validation_fraction >= 0 && split.test_fraction >= 0 &&
        split.validation_fraction + split.test_fraction < 1)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "split fractions must be >= 0 and add up to less than 1");
  }
  if (options.features.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "features: no feature columns");
  }
  FALAJ_ASSIGN_OR_RETURN(auto labels, ColumnValues<double>(table, options.label, false));
  std::vector<std::vector<float>> columns;
  for (const auto& name : options.features) {
    if (name == options.label) {
      return MakeError(ErrorCode::kInvalidArgument, "features: the label '{}' is not a feature",
                       name);
    }
    FALAJ_ASSIGN_OR_RETURN(auto values, ColumnValues<float>(table, name, false));
    columns.push_back(std::move(values));
  }
  std::vector<double> groups;
  if (options.task == Task::kRanking) {
    FALAJ_ASSIGN_OR_RETURN(groups, ColumnValues<double>(table, options.group_column, false));
  }
  std::vector<double> times;
  if (split.method == SplitMethod::kTime) {
    FALAJ_ASSIGN_OR_RETURN(times, ColumnValues<double>(table, split.time_column, true));
  }
  PreparedData prepared;
  prepared.task = options.task;
  prepared.num_class = options.num_class;
  prepared.feature_names = options.features;
  std::vector<int64_t> rows;
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    const bool usable = !std::isnan(labels[row]) && (groups.empty() || !std::isnan(groups[row])) &&
                        (times.empty() || !std::isnan(times[row]));
    if (usable) {
      rows.push_back(row);
    } else {
      ++prepared.dropped_rows;
    }
  }
  FALAJ_RETURN_IF_ERROR(CheckLabels(labels, rows, options));
  Assignment assignment;
  if (options.task == Task::kRanking) {
    assignment = GroupSplit(rows, groups, split);
  } else if (split.method == SplitMethod::kTime) {
    assignment = TimeSplit(std::move(rows), times, split);
  } else if (split.method == SplitMethod::kStratified) {
    assignment = StratifiedSplit(rows, labels, split);
  } else {
    assignment = RandomSplit(std::move(rows), split);
  }
  if (assignment.train.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the training split is empty ({} usable rows)",
                     table.num_rows());
  }
  const std::vector<double>* group_column = groups.empty() ? nullptr : &groups;
  prepared.train = Gather(assignment.train, columns, labels, group_column);
  prepared.validation = Gather(assignment.validation, columns, labels, group_column);
  prepared.test = Gather(assignment.test, columns, labels, group_column);
  return prepared;
}

}  // namespace falaj::training

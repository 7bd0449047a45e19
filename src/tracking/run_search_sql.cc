#include "tracking/run_search_sql.h"

#include <cmath>

namespace falaj::tracking {
namespace {

std::string LowerAscii(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

std::string_view AttributeColumn(std::string_view name) {
  if (name == "start_time") return "r.start_time_ms";
  if (name == "end_time") return "r.end_time_ms";
  if (name == "status") return "r.status";
  if (name == "run_name") return "r.name";
  if (name == "run_id") return "r.run_id";
  if (name == "user_id") return "r.user_id";
  if (name == "artifact_uri") return "r.artifact_uri";
  return "r.lifecycle";  // lifecycle_stage; the parser admits no other name
}

std::string_view KeyedTable(EntityKind kind) {
  if (kind == EntityKind::kMetric) return "tracking_latest_metrics";
  if (kind == EntityKind::kParam) return "tracking_params";
  return "tracking_tags";
}

std::string_view ComparatorSql(Comparator comparator) {
  switch (comparator) {
    case Comparator::kEqual:
      return "=";
    case Comparator::kNotEqual:
      return "<>";
    case Comparator::kLess:
      return "<";
    case Comparator::kLessEqual:
      return "<=";
    case Comparator::kGreater:
      return ">";
    default:
      return ">=";
  }
}

class Builder {
 public:
  explicit Builder(std::string_view backend) : postgres_(backend == "postgresql") {}

  // The SQL truth of `condition` for the run aliased r.
  std::string Condition(const tracking::Condition& condition) {
    const Identifier& identifier = condition.identifier;
    if (identifier.kind == EntityKind::kAttribute) {
      return Compare(AttributeColumn(identifier.key), condition, false);
    }
    params_.emplace_back(identifier.key);
    if (identifier.kind == EntityKind::kMetric) {
      // The (key, value, run_id) index answers a metric condition for every run at once: the
      // set of matching runs is read once instead of probing each run of the experiment.
      return "r.run_id IN (SELECT k.run_id FROM tracking_latest_metrics k WHERE k.key = ? AND " +
             Compare("k.value", condition, true) + ")";
    }
    // Params and tags are probed per run on their (run_id, key) key: their values can be too
    // long to index on PostgreSQL.
    std::string compared = Compare("k.value", condition, false);
    return fmt::format("EXISTS (SELECT 1 FROM {} k WHERE k.run_id = r.run_id AND k.key = ? AND {})",
                       KeyedTable(identifier.kind), compared);
  }

  // The value a run has for an order key, NULL when missing (or NaN, stored as NULL).
  std::string OrderValue(const Identifier& identifier) {
    if (identifier.kind == EntityKind::kAttribute) {
      return std::string(AttributeColumn(identifier.key));
    }
    params_.emplace_back(identifier.key);
    return fmt::format("(SELECT k.value FROM {} k WHERE k.run_id = r.run_id AND k.key = ?)",
                       KeyedTable(identifier.kind));
  }

  // Byte order for strings: SQLite's default BINARY collation already is; PostgreSQL's default
  // collation follows the locale.
  std::string_view ByteOrder() const { return postgres_ ? " COLLATE \"C\"" : ""; }

  std::vector<storage::SqlValue>& params() { return params_; }

 private:
  // `nan_is_null`: the column holds a metric value, where NULL is a logged NaN (which compares
  // unequal to everything) rather than a missing value.
  std::string Compare(std::string_view column, const tracking::Condition& condition,
                      bool nan_is_null) {
    Comparator comparator = condition.comparator;
    if (const double* number = std::get_if<double>(&condition.value)) {
      if (std::isnan(*number)) {
        // NaN equals nothing and differs from everything present.
        if (comparator != Comparator::kNotEqual) return "1 = 0";
        return nan_is_null ? "1 = 1" : fmt::format("{} IS NOT NULL", column);
      }
      params_.emplace_back(*number);
      if (nan_is_null && comparator == Comparator::kNotEqual) {
        return fmt::format("({0} IS NULL OR {0} <> ?)", column);
      }
      return fmt::format("{} {} ?", column, ComparatorSql(comparator));
    }
    const std::string& text = std::get<std::string>(condition.value);
    if (comparator == Comparator::kLike || comparator == Comparator::kILike) {
      bool fold = comparator == Comparator::kILike;
      std::string pattern = fold ? LowerAscii(text) : text;
      std::string subject = fold ? fmt::format("lower({})", column) : std::string(column);
      if (postgres_) {
        params_.emplace_back(std::move(pattern));
        return subject + " LIKE ? ESCAPE ''";
      }
      // SQLite's LIKE ignores ASCII case; GLOB is the case-sensitive equivalent.
      params_.emplace_back(LikeToGlob(pattern));
      return subject + " GLOB ?";
    }
    params_.emplace_back(text);
    return fmt::format("{} {} ?", column, ComparatorSql(comparator));
  }

  bool postgres_;
  std::vector<storage::SqlValue> params_;
};

}  // namespace

std::string LikeToGlob(std::string_view pattern) {
  std::string glob;
  glob.reserve(pattern.size());
  for (char c : pattern) {
    switch (c) {
      case '%':
        glob += '*';
        break;
      case '_':
        glob += '?';
        break;
      case '*':
        glob += "[*]";
        break;
      case '?':
        glob += "[?]";
        break;
      case '[':
        glob += "[[]";
        break;
      default:
        glob += c;
    }
  }
  return glob;
}

RunQuery BuildRunQuery(std::string_view backend, const RunScope& scope, const RunFilter& filter,
                       const RunOrder& order, size_t limit, size_t offset) {
  Builder builder(backend);
  // Parameters are bound in the order their placeholders appear: the ordered values come first
  // in the inner SELECT list, then the scope and the conditions of its WHERE.
  std::string values;
  for (size_t i = 0; i < order.keys().size(); ++i) {
    values += fmt::format(", {} AS o{}", builder.OrderValue(order.keys()[i].identifier), i);
  }
  std::string where = "r.project = ? AND r.experiment_id IN (";
  builder.params().emplace_back(std::string(scope.project));
  for (size_t i = 0; i < scope.experiment_ids.size(); ++i) {
    where += i == 0 ? "?" : ", ?";
    builder.params().emplace_back(scope.experiment_ids[i]);
  }
  where += ")";
  if (scope.view == ViewType::kActiveOnly) where += " AND r.lifecycle = 'active'";
  if (scope.view == ViewType::kDeletedOnly) where += " AND r.lifecycle = 'deleted'";
  for (const auto& condition : filter.conditions()) {
    where += " AND " + builder.Condition(condition);
  }

  std::string order_by;
  for (size_t i = 0; i < order.keys().size(); ++i) {
    const OrderKey& key = order.keys()[i];
    std::string_view collate = IsNumeric(key.identifier) ? "" : builder.ByteOrder();
    // Missing values last in either direction, as RunOrder::Before.
    order_by += fmt::format("CASE WHEN o{0} IS NULL THEN 1 ELSE 0 END, o{0}{1} {2}, ", i, collate,
                            key.ascending ? "ASC" : "DESC");
  }
  order_by += fmt::format("start_time_ms DESC, run_id{}", builder.ByteOrder());

  RunQuery query;
  query.sql = fmt::format(
      "SELECT run_id, experiment_id, name, user_id, status, start_time_ms, end_time_ms, "
      "lifecycle, parent_run_id, artifact_uri FROM (SELECT r.run_id, r.experiment_id, r.name, "
      "r.user_id, r.status, r.start_time_ms, r.end_time_ms, r.lifecycle, r.parent_run_id, "
      "r.artifact_uri{} FROM tracking_runs r WHERE {}) s ORDER BY {} LIMIT ? OFFSET ?",
      values, where, order_by);
  query.params = std::move(builder.params());
  query.params.emplace_back(static_cast<int64_t>(limit));
  query.params.emplace_back(static_cast<int64_t>(offset));
  return query;
}

}  // namespace falaj::tracking

// The MLflow search language, for runs and for experiments. Run filters such as
//   metrics.auc > 0.8 and params.depth = '6' and tags.team ILIKE 'risk%'
//     and attributes.status = 'FINISHED'
// (conditions joined by AND; comparators = != < <= > >= for numbers, = != LIKE ILIKE for
// strings) and order_by clauses such as "metrics.auc DESC". Experiment filters name tags and the
// attributes name, experiment_id, creation_time and last_update_time, with or without the
// "attributes." prefix (name LIKE 'fraud%' and tags.team = 'risk'), as MLflow's
// search_experiments does. Parsing is strict: anything else is
// INVALID_ARGUMENT naming the position (0-based) of the offending text. Search runs the parsed
// filter and order as SQL (run_search_sql.h); Matches and Before evaluate them on a loaded Run and
// are the reference semantics the SQL translation is tested against. Immutable after parsing;
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "tracking/tracking_types.h"

namespace falaj::tracking {

enum class EntityKind { kMetric, kParam, kTag, kAttribute };
// What a filter or order searches, which decides the identifiers it may name.
enum class SearchSubject { kRuns, kExperiments };
enum class Comparator {
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kLike,
  kILike
};

struct Identifier {
  EntityKind kind = EntityKind::kAttribute;
  std::string key;  // metric/param/tag key, or attribute name (status, start_time …)
};

struct Condition {
  Identifier identifier;
  Comparator comparator = Comparator::kEqual;
  std::variant<double, std::string> value;
};

// Whether the identifier compares as a number (metrics, start_time, end_time) or as a string.
bool IsNumeric(const Identifier& identifier);

class RunFilter {
 public:
  // "" (or only spaces) yields a filter that matches everything.
  static Result<RunFilter> Parse(std::string_view text,
                                 SearchSubject subject = SearchSubject::kRuns);
  bool Matches(const Run& run) const;
  bool Matches(const Experiment& experiment) const;  // for a filter parsed for experiments
  const std::vector<Condition>& conditions() const { return conditions_; }

 private:
  std::vector<Condition> conditions_;
};

struct OrderKey {
  Identifier identifier;
  bool ascending = true;
};

// Orders runs by the given clauses, then start_time DESC, then run_id: MLflow's tie-breakers,
// which also make pages stable. Runs lacking an ordered value sort after those that have one.
// Experiments: by the clauses (creation_time DESC when there are none), then experiment_id
// ascending, as MLflow does.
class RunOrder {
 public:
  static Result<RunOrder> Parse(const std::vector<std::string>& clauses,
                                SearchSubject subject = SearchSubject::kRuns);
  // True when `a` comes strictly before `b`.
  bool Before(const Run& a, const Run& b) const;
  bool Before(const Experiment& a, const Experiment& b) const;
  const std::vector<OrderKey>& keys() const { return keys_; }

 private:
  std::vector<OrderKey> keys_;
};

}  // namespace falaj::tracking

#include "tracking/run_filter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

namespace falaj::tracking {
namespace {

constexpr size_t kMaxFilterLength = 10000;

enum class AttributeType { kString, kNumber };

// Run and experiment attributes have distinct names, so one table types both.
std::optional<AttributeType> AttributeTypeOf(std::string_view name) {
  if (name == "start_time" || name == "end_time" || name == "creation_time" ||
      name == "last_update_time") {
    return AttributeType::kNumber;
  }
  if (name == "status" || name == "run_name" || name == "run_id" || name == "user_id" ||
      name == "artifact_uri" || name == "lifecycle_stage" || name == "name" ||
      name == "experiment_id") {
    return AttributeType::kString;
  }
  return std::nullopt;
}

bool IsExperimentAttribute(std::string_view name) {
  return name == "name" || name == "experiment_id" || name == "creation_time" ||
         name == "last_update_time";
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::optional<EntityKind> EntityKindOf(std::string_view prefix) {
  std::string lower = Lower(prefix);
  if (lower == "metrics" || lower == "metric") return EntityKind::kMetric;
  if (lower == "params" || lower == "param" || lower == "parameters") return EntityKind::kParam;
  if (lower == "tags" || lower == "tag") return EntityKind::kTag;
  if (lower == "attributes" || lower == "attribute" || lower == "attr" || lower == "run") {
    return EntityKind::kAttribute;
  }
  return std::nullopt;
}

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
         c == '/' || c == ':';
}

// A hand-written scanner over the filter text; every error names the position it stopped at.
class Parser {
 public:
  Parser(std::string_view text, SearchSubject subject) : text_(text), subject_(subject) {}

  bool AtEnd() {
    SkipSpaces();
    return pos_ >= text_.size();
  }
  size_t pos() const { return pos_; }

  template <typename... Args>
  std::unexpected<Error> Fail(fmt::format_string<Args...> format, Args&&... args) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid filter at position {}: {}", pos_,
                     fmt::format(format, std::forward<Args>(args)...));
  }

  Result<Identifier> ParseIdentifier() {
    SkipSpaces();
    size_t start = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    auto kind = EntityKindOf(text_.substr(start, pos_ - start));
    if (!kind || pos_ >= text_.size() || text_[pos_] != '.') {
      pos_ = start;
      if (subject_ == SearchSubject::kExperiments) return ParseBareAttribute();
      return Fail(
          "expected an identifier such as metrics.<key>, params.<key>, tags.<key> or "
          "attributes.<name>");
    }
    ++pos_;
    Identifier identifier{*kind, ""};
    if (pos_ < text_.size() && (text_[pos_] == '`' || text_[pos_] == '"')) {
      FALAJ_ASSIGN_OR_RETURN(identifier.key, ParseQuoted(text_[pos_]));
    } else {
      size_t key_start = pos_;
      while (pos_ < text_.size() && IsWordChar(text_[pos_])) ++pos_;
      identifier.key = std::string(text_.substr(key_start, pos_ - key_start));
    }
    if (identifier.key.empty()) return Fail("expected a key after '.'");
    if (identifier.key.size() > kMaxKeyLength) return Fail("key is longer than {}", kMaxKeyLength);
    if (*kind == EntityKind::kAttribute) {
      if (identifier.key == "run_uuid") identifier.key = "run_id";
      if (identifier.key == "lifecycle") identifier.key = "lifecycle_stage";
    }
    FALAJ_RETURN_IF_ERROR(CheckSubject(identifier));
    return identifier;
  }

  Result<Comparator> ParseComparator() {
    SkipSpaces();
    static constexpr std::pair<std::string_view, Comparator> kSymbols[] = {
        {"!=", Comparator::kNotEqual},     {"<=", Comparator::kLessEqual},
        {">=", Comparator::kGreaterEqual}, {"=", Comparator::kEqual},
        {"<", Comparator::kLess},          {">", Comparator::kGreater}};
    for (const auto& [symbol, comparator] : kSymbols) {
      if (text_.substr(pos_, symbol.size()) == symbol) {
        pos_ += symbol.size();
        return comparator;
      }
    }
    std::string word = Lower(PeekWord());
    if (word == "like" || word == "ilike") {
      pos_ += word.size();
      return word == "like" ? Comparator::kLike : Comparator::kILike;
    }
    return Fail("expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE)");
  }

  Result<std::variant<double, std::string>> ParseValue() {
    SkipSpaces();
    if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
      FALAJ_ASSIGN_OR_RETURN(auto text, ParseQuoted(text_[pos_]));
      return text;
    }
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
            text_[pos_] == '-' || text_[pos_] == '+')) {
      ++pos_;
    }
    std::string_view number = text_.substr(start, pos_ - start);
    double value = 0;
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || error != std::errc() || end != number.data() + number.size()) {
      pos_ = start;
      return Fail("expected a number or a quoted string");
    }
    return value;
  }

  // AND, case-insensitive, between conditions.
  Status ParseAnd() {
    SkipSpaces();
    if (Lower(PeekWord()) != "and") return Fail("expected AND between conditions");
    pos_ += 3;
    return Ok();
  }

 private:
  void SkipSpaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::string_view PeekWord() const {
    size_t end = pos_;
    while (end < text_.size() && std::isalpha(static_cast<unsigned char>(text_[end]))) ++end;
    return text_.substr(pos_, end - pos_);
  }
  // A string in `quote`; the quote doubled or backslash-escaped stands for itself.
  Result<std::string> ParseQuoted(char quote) {
    size_t start = pos_++;
    std::string value;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '\\' && pos_ < text_.size()) {
        value += text_[pos_++];
      } else if (c == quote && pos_ < text_.size() && text_[pos_] == quote) {
        value += quote;
        ++pos_;
      } else if (c == quote) {
        return value;
      } else {
        value += c;
      }
    }
    pos_ = start;
    return Fail("unterminated string starting with {}", quote);
  }

  // Experiment filters may name attributes without a prefix: "name LIKE 'a%'".
  Result<Identifier> ParseBareAttribute() {
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      ++pos_;
    }
    Identifier identifier{EntityKind::kAttribute, std::string(text_.substr(start, pos_ - start))};
    if (identifier.key.empty()) {
      return Fail("expected an identifier such as name, creation_time or tags.<key>");
    }
    pos_ = start;
    FALAJ_RETURN_IF_ERROR(CheckSubject(identifier));
    pos_ += identifier.key.size();
    return identifier;
  }

  Status CheckSubject(const Identifier& identifier) {
    bool experiments = subject_ == SearchSubject::kExperiments;
    if (experiments &&
        (identifier.kind == EntityKind::kMetric || identifier.kind == EntityKind::kParam)) {
      return Fail("experiments have no metrics or params; filter on tags.<key> or attributes");
    }
    if (identifier.kind != EntityKind::kAttribute) return Ok();
    bool known = experiments
                     ? IsExperimentAttribute(identifier.key)
                     : AttributeTypeOf(identifier.key) && !IsExperimentAttribute(identifier.key);
    if (!known) {
      return Fail("unknown {} attribute '{}'", experiments ? "experiment" : "run",
                  identifier.key.substr(0, 80));
    }
    return Ok();
  }

  std::string_view text_;
  SearchSubject subject_;
  size_t pos_ = 0;
};

// SQL LIKE: '%' any run, '_' one character; iterative with backtracking on the last '%'.
bool LikeMatch(std::string_view text, std::string_view pattern) {
  size_t t = 0, p = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    // '%' first: it is a wildcard even where the text holds a literal '%'.
    if (p < pattern.size() && pattern[p] == '%') {
      star = p++, mark = t;
    } else if (p < pattern.size() && (pattern[p] == '_' || pattern[p] == text[t])) {
      ++t, ++p;
    } else if (star != std::string_view::npos) {
      p = star + 1, t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

template <typename T>
bool Compare(const T& left, Comparator comparator, const T& right) {
  switch (comparator) {
    case Comparator::kEqual:
      return left == right;
    case Comparator::kNotEqual:
      return left != right;
    case Comparator::kLess:
      return left < right;
    case Comparator::kLessEqual:
      return left <= right;
    case Comparator::kGreater:
      return left > right;
    case Comparator::kGreaterEqual:
      return left >= right;
    default:
      return false;
  }
}

bool CompareText(const std::string& left, Comparator comparator, const std::string& right) {
  if (comparator == Comparator::kLike) return LikeMatch(left, right);
  if (comparator == Comparator::kILike) return LikeMatch(Lower(left), Lower(right));
  return Compare(left, comparator, right);
}

// The value a run has for an identifier, or nullopt when it has none.
std::optional<std::variant<double, std::string>> ValueOf(const Run& run,
                                                         const Identifier& identifier) {
  switch (identifier.kind) {
    case EntityKind::kMetric:
      for (const auto& metric : run.latest_metrics) {
        if (metric.key == identifier.key) return metric.value;
      }
      return std::nullopt;
    case EntityKind::kParam:
    case EntityKind::kTag: {
      const auto& values = identifier.kind == EntityKind::kParam ? run.params : run.tags;
      auto found = values.find(identifier.key);
      if (found == values.end()) return std::nullopt;
      return found->second;
    }
    case EntityKind::kAttribute:
      break;
  }
  const RunInfo& info = run.info;
  const std::string& key = identifier.key;
  if (key == "start_time") return static_cast<double>(info.start_time_ms);
  if (key == "end_time") {
    if (!info.end_time_ms) return std::nullopt;
    return static_cast<double>(*info.end_time_ms);
  }
  if (key == "status") return info.status;
  if (key == "run_name") return info.run_name;
  if (key == "run_id") return info.run_id;
  if (key == "user_id") return info.user_id;
  if (key == "artifact_uri") return info.artifact_uri;
  return std::string(LifecycleName(info.lifecycle));
}

std::optional<std::variant<double, std::string>> ValueOf(const Experiment& experiment,
                                                         const Identifier& identifier) {
  if (identifier.kind == EntityKind::kTag) {
    auto found = experiment.tags.find(identifier.key);
    if (found == experiment.tags.end()) return std::nullopt;
    return found->second;
  }
  if (identifier.key == "name") return experiment.name;
  if (identifier.key == "experiment_id") return experiment.experiment_id;
  if (identifier.key == "creation_time") return static_cast<double>(experiment.creation_time_ms);
  return static_cast<double>(experiment.last_update_time_ms);
}

template <typename Entity>
bool MatchesAll(const std::vector<Condition>& conditions, const Entity& entity) {
  for (const auto& condition : conditions) {
    auto value = ValueOf(entity, condition.identifier);
    if (!value) return false;
    bool match = std::holds_alternative<double>(condition.value)
                     ? Compare(std::get<double>(*value), condition.comparator,
                               std::get<double>(condition.value))
                     : CompareText(std::get<std::string>(*value), condition.comparator,
                                   std::get<std::string>(condition.value));
    if (!match) return false;
  }
  return true;
}

// -1, 0 or 1 as `a` comes before, ties with or comes after `b` by the order keys; entities lacking
// a value (or holding NaN) come after those that have one.
template <typename Entity>
int CompareByKeys(const std::vector<OrderKey>& keys, const Entity& a, const Entity& b) {
  for (const auto& key : keys) {
    auto left = ValueOf(a, key.identifier);
    auto right = ValueOf(b, key.identifier);
    // NaN counts as missing so the order stays a strict weak order.
    auto missing = [](const auto& value) {
      return !value ||
             (std::holds_alternative<double>(*value) && std::isnan(std::get<double>(*value)));
    };
    if (missing(left) || missing(right)) {
      if (missing(left) != missing(right)) return missing(right) ? -1 : 1;
      continue;
    }
    if (key.identifier.key == "experiment_id") {
      // Ids are decimal strings; MLflow orders them as numbers.
      auto as_number = [](const auto& value) { return std::stod(std::get<std::string>(*value)); };
      left = as_number(left);
      right = as_number(right);
    }
    if (*left == *right) continue;
    return (key.ascending ? *left < *right : *right < *left) ? -1 : 1;
  }
  return 0;
}

}  // namespace

bool IsNumeric(const Identifier& identifier) {
  return identifier.kind == EntityKind::kMetric ||
         (identifier.kind == EntityKind::kAttribute &&
          AttributeTypeOf(identifier.key) == AttributeType::kNumber);
}

Result<RunFilter> RunFilter::Parse(std::string_view text, SearchSubject subject) {
  if (text.size() > kMaxFilterLength) {
    return MakeError(ErrorCode::kInvalidArgument, "filter is longer than {} characters",
                     kMaxFilterLength);
  }
  RunFilter filter;
  Parser parser(text, subject);
  while (!parser.AtEnd()) {
    if (!filter.conditions_.empty()) FALAJ_RETURN_IF_ERROR(parser.ParseAnd());
    Condition condition;
    FALAJ_ASSIGN_OR_RETURN(condition.identifier, parser.ParseIdentifier());
    FALAJ_ASSIGN_OR_RETURN(condition.comparator, parser.ParseComparator());
    size_t value_pos = parser.pos();
    FALAJ_ASSIGN_OR_RETURN(condition.value, parser.ParseValue());
    bool numeric = IsNumeric(condition.identifier);
    bool is_number = std::holds_alternative<double>(condition.value);
    bool like =
        condition.comparator == Comparator::kLike || condition.comparator == Comparator::kILike;
    auto fail = [&](std::string_view why) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid filter at position {}: {}", value_pos,
                       why);
    };
    if (numeric && !is_number) return fail("expected a number to compare with");
    if (numeric && like) return fail("LIKE and ILIKE compare strings, not numbers");
    if (!numeric && is_number) return fail("expected a quoted string to compare with");
    if (!numeric && !like && condition.comparator != Comparator::kEqual &&
        condition.comparator != Comparator::kNotEqual) {
      return fail("strings support only =, !=, LIKE and ILIKE");
    }
    filter.conditions_.push_back(std::move(condition));
  }
  return filter;
}

bool RunFilter::Matches(const Run& run) const { return MatchesAll(conditions_, run); }

bool RunFilter::Matches(const Experiment& experiment) const {
  return MatchesAll(conditions_, experiment);
}

Result<RunOrder> RunOrder::Parse(const std::vector<std::string>& clauses, SearchSubject subject) {
  RunOrder order;
  for (const auto& clause : clauses) {
    Parser parser(clause, subject);
    OrderKey key;
    FALAJ_ASSIGN_OR_RETURN(key.identifier, parser.ParseIdentifier());
    if (!parser.AtEnd()) {
      std::string rest = Lower(clause.substr(parser.pos()));
      rest.erase(rest.find_last_not_of(" \t") + 1);
      if (rest != "asc" && rest != "desc") {
        return MakeError(ErrorCode::kInvalidArgument,
                         "invalid order_by '{}' at position {}: expected ASC or DESC",
                         clause.substr(0, 120), parser.pos());
      }
      key.ascending = rest == "asc";
    }
    order.keys_.push_back(std::move(key));
  }
  return order;
}

bool RunOrder::Before(const Run& a, const Run& b) const {
  if (int by_keys = CompareByKeys(keys_, a, b); by_keys != 0) return by_keys < 0;
  if (a.info.start_time_ms != b.info.start_time_ms) {
    return a.info.start_time_ms > b.info.start_time_ms;
  }
  return a.info.run_id < b.info.run_id;
}

bool RunOrder::Before(const Experiment& a, const Experiment& b) const {
  static const std::vector<OrderKey> kDefault = {
      {{EntityKind::kAttribute, "creation_time"}, false}};
  const auto& keys = keys_.empty() ? kDefault : keys_;
  if (int by_keys = CompareByKeys(keys, a, b); by_keys != 0) return by_keys < 0;
  static const std::vector<OrderKey> kById = {{{EntityKind::kAttribute, "experiment_id"}, true}};
  return CompareByKeys(kById, a, b) < 0;
}

}  // namespace falaj::tracking

// The parsing half of row_expression.h: a hand-written lexer and recursive-descent parser.
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>

#include "features/row_expression.h"

namespace falaj::features {
namespace {

// Each function's argument count.
const std::map<std::string, size_t, std::less<>>& Functions() {
  static const std::map<std::string, size_t, std::less<>> kFunctions = {
      {"abs", 1},   {"sqrt", 1},  {"log", 1},    {"log1p", 1}, {"exp", 1},        {"floor", 1},
      {"ceil", 1},  {"round", 1}, {"min", 2},    {"max", 2},   {"coalesce", 2},   {"if", 3},
      {"lower", 1}, {"upper", 1}, {"length", 1}, {"hour", 1},  {"day_of_week", 1}};
  return kFunctions;
}

ExprNode Node(ExprNode::Kind kind, size_t position, std::string name = {}) {
  ExprNode node;
  node.kind = kind;
  node.position = position;
  node.name = std::move(name);
  return node;
}

bool IdentifierStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IdentifierPart(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool Keyword(std::string_view word, std::string_view keyword) {
  if (word.size() != keyword.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(word[i])) != keyword[i]) return false;
  }
  return true;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<ExprNode> ParseAll() {
    FALAJ_ASSIGN_OR_RETURN(auto node, ParseOr());
    SkipSpace();
    if (at_ < text_.size()) return Fail(at_, fmt::format("unexpected '{}'", text_[at_]));
    return node;
  }

 private:
  std::unexpected<Error> Fail(size_t offset, std::string_view problem) const {
    return ExpressionError(text_, offset + 1, problem);
  }

  void SkipSpace() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }

  // Consumes `token` (an operator) when it comes next.
  bool Accept(std::string_view token) {
    SkipSpace();
    if (text_.substr(at_, token.size()) != token) return false;
    at_ += token.size();
    return true;
  }

  // Consumes the keyword `word` (and, or, not) when it comes next as a whole word.
  bool AcceptWord(std::string_view word) {
    SkipSpace();
    size_t end = at_;
    while (end < text_.size() && IdentifierPart(text_[end])) ++end;
    if (!Keyword(text_.substr(at_, end - at_), word)) return false;
    at_ = end;
    return true;
  }

  // Guards every production that can recurse, so nesting is bounded.
  struct Depth {
    explicit Depth(int& depth) : depth_(depth) { ++depth_; }
    ~Depth() { --depth_; }
    int& depth_;
  };

  Status CheckDepth() const {
    if (depth_ > RowExpression::kMaxDepth) {
      return Fail(at_, fmt::format("nesting deeper than {}", RowExpression::kMaxDepth));
    }
    return Ok();
  }

  static ExprNode Binary(std::string op, size_t position, ExprNode left, ExprNode right) {
    ExprNode node = Node(ExprNode::Kind::kBinary, position, std::move(op));
    node.args.push_back(std::move(left));
    node.args.push_back(std::move(right));
    return node;
  }

  // One left-associative level: operand (operator operand)*; `match` consumes an operator and
  // names it, or returns "" when none comes next.
  template <typename Match>
  Result<ExprNode> LeftAssociative(Result<ExprNode> (Parser::*operand)(), Match match) {
    FALAJ_ASSIGN_OR_RETURN(auto left, (this->*operand)());
    for (;;) {
      const size_t position = (SkipSpace(), at_ + 1);
      std::string op = match();
      if (op.empty()) return left;
      FALAJ_ASSIGN_OR_RETURN(auto right, (this->*operand)());
      left = Binary(std::move(op), position, std::move(left), std::move(right));
    }
  }

  Result<ExprNode> ParseOr() {
    Depth depth(depth_);
    FALAJ_RETURN_IF_ERROR(CheckDepth());
    return LeftAssociative(&Parser::ParseAnd,
                           [&]() -> std::string { return AcceptWord("or") ? "or" : ""; });
  }

  Result<ExprNode> ParseAnd() {
    return LeftAssociative(&Parser::ParseNot,
                           [&]() -> std::string { return AcceptWord("and") ? "and" : ""; });
  }

  Result<ExprNode> ParseNot() {
    Depth depth(depth_);
    FALAJ_RETURN_IF_ERROR(CheckDepth());
    const size_t position = (SkipSpace(), at_ + 1);
    if (!AcceptWord("not")) return ParseComparison();
    FALAJ_ASSIGN_OR_RETURN(auto operand, ParseNot());
    ExprNode node = Node(ExprNode::Kind::kUnary, position, "not");
    node.args.push_back(std::move(operand));
    return node;
  }

  Result<ExprNode> ParseComparison() {
    FALAJ_ASSIGN_OR_RETURN(auto left, ParseSum());
    // Longest operators first, so "<=" is not read as "<".
    for (std::string_view op : {"==", "!=", "<=", ">=", "<", ">"}) {
      const size_t position = (SkipSpace(), at_ + 1);
      if (!Accept(op)) continue;
      FALAJ_ASSIGN_OR_RETURN(auto right, ParseSum());
      return Binary(std::string(op), position, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprNode> ParseSum() {
    return LeftAssociative(&Parser::ParseProduct, [&]() -> std::string {
      return Accept("+") ? "+" : Accept("-") ? "-" : "";
    });
  }

  Result<ExprNode> ParseProduct() {
    return LeftAssociative(&Parser::ParseUnary, [&]() -> std::string {
      return Accept("*") ? "*" : Accept("/") ? "/" : Accept("%") ? "%" : "";
    });
  }

  Result<ExprNode> ParseUnary() {
    Depth depth(depth_);
    FALAJ_RETURN_IF_ERROR(CheckDepth());
    const size_t position = (SkipSpace(), at_ + 1);
    if (!Accept("-")) return ParsePrimary();
    FALAJ_ASSIGN_OR_RETURN(auto operand, ParseUnary());
    ExprNode node = Node(ExprNode::Kind::kUnary, position, "-");
    node.args.push_back(std::move(operand));
    return node;
  }

  Result<ExprNode> ParsePrimary() {
    SkipSpace();
    const size_t start = at_;
    if (at_ >= text_.size()) return Fail(at_, "unexpected end of expression");
    const char c = text_[at_];
    if (c == '(') {
      ++at_;
      FALAJ_ASSIGN_OR_RETURN(auto inner, ParseOr());
      if (!Accept(")")) return Fail(at_, "missing ')'");
      return inner;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return ParseNumber();
    if (c == '\'' || c == '"') return ParseString();
    if (c == '`') {
      const size_t close = text_.find('`', at_ + 1);
      if (close == std::string_view::npos) return Fail(start, "unterminated `quoted name`");
      if (close == at_ + 1) return Fail(start, "empty `quoted name`");
      at_ = close + 1;
      return Node(ExprNode::Kind::kColumn, start + 1,
                  std::string(text_.substr(start + 1, close - start - 1)));
    }
    if (!IdentifierStart(c)) return Fail(at_, fmt::format("unexpected '{}'", c));
    while (at_ < text_.size() && IdentifierPart(text_[at_])) ++at_;
    std::string word(text_.substr(start, at_ - start));
    if (Keyword(word, "true") || Keyword(word, "false")) {
      ExprNode node = Node(ExprNode::Kind::kBool, start + 1);
      node.bool_value = Keyword(word, "true");
      return node;
    }
    for (std::string_view reserved : {"and", "or", "not"}) {
      if (Keyword(word, reserved)) {
        return Fail(start, fmt::format("'{}' needs an operand before it", word));
      }
    }
    SkipSpace();
    if (at_ >= text_.size() || text_[at_] != '(') {
      return Node(ExprNode::Kind::kColumn, start + 1, word);
    }
    return ParseCall(std::move(word), start);
  }

  Result<ExprNode> ParseCall(std::string name, size_t start) {
    auto function = Functions().find(name);
    if (function == Functions().end()) {
      return Fail(start, fmt::format("unknown function '{}'", name));
    }
    ++at_;  // '('
    ExprNode node = Node(ExprNode::Kind::kCall, start + 1, name);
    if (!Accept(")")) {
      do {
        FALAJ_ASSIGN_OR_RETURN(auto argument, ParseOr());
        node.args.push_back(std::move(argument));
      } while (Accept(","));
      if (!Accept(")"))
        return Fail(at_, fmt::format("missing ')' after the arguments of {}", name));
    }
    if (node.args.size() != function->second) {
      return Fail(start, fmt::format("{} takes {} argument{}, not {}", name, function->second,
                                     function->second == 1 ? "" : "s", node.args.size()));
    }
    return node;
  }

  Result<ExprNode> ParseNumber() {
    const size_t start = at_;
    bool is_float = false;
    while (at_ < text_.size()) {
      const char c = text_[at_];
      const bool exponent_sign =
          (c == '+' || c == '-') && (text_[at_ - 1] == 'e' || text_[at_ - 1] == 'E');
      if (c == '.' || c == 'e' || c == 'E' || exponent_sign) {
        is_float = true;
      } else if (!std::isdigit(static_cast<unsigned char>(c))) {
        break;
      }
      ++at_;
    }
    const std::string_view digits = text_.substr(start, at_ - start);
    if (at_ < text_.size() && IdentifierPart(text_[at_])) {
      return Fail(at_, fmt::format("unexpected '{}' after a number", text_[at_]));
    }
    ExprNode node = Node(ExprNode::Kind::kInt, start + 1);
    std::from_chars_result parsed{};
    if (is_float) {
      node.kind = ExprNode::Kind::kFloat;
      parsed = std::from_chars(digits.data(), digits.data() + digits.size(), node.float_value);
      if (parsed.ec == std::errc() && !std::isfinite(node.float_value)) {
        parsed.ec = std::errc::result_out_of_range;
      }
    } else {
      node.kind = ExprNode::Kind::kInt;
      parsed = std::from_chars(digits.data(), digits.data() + digits.size(), node.int_value);
    }
    if (parsed.ec == std::errc::result_out_of_range) {
      return Fail(start, fmt::format("number '{}' is out of range", digits.substr(0, 40)));
    }
    if (parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size()) {
      return Fail(start, fmt::format("malformed number '{}'", digits.substr(0, 40)));
    }
    return node;
  }

  // 'text' or "text"; a doubled quote stands for one quote character.
  Result<ExprNode> ParseString() {
    const size_t start = at_;
    const char quote = text_[at_++];
    ExprNode node = Node(ExprNode::Kind::kString, start + 1);
    for (;;) {
      if (at_ >= text_.size()) return Fail(start, "unterminated string");
      const char c = text_[at_++];
      if (c != quote) {
        node.string_value.push_back(c);
      } else if (at_ < text_.size() && text_[at_] == quote) {
        node.string_value.push_back(quote);
        ++at_;
      } else {
        return node;
      }
    }
  }

  std::string_view text_;
  size_t at_ = 0;
  int depth_ = 0;
};

}  // namespace

std::unexpected<Error> ExpressionError(std::string_view text, size_t position,
                                       std::string_view problem) {
  const std::string shown =
      text.size() > 80 ? std::string(text.substr(0, 77)) + "..." : std::string(text);
  return MakeError(ErrorCode::kInvalidArgument, "expression '{}': {} at position {}", shown,
                   problem, position);
}

Result<RowExpression> RowExpression::Parse(std::string_view text) {
  if (text.size() > kMaxLength) {
    return ExpressionError(text, kMaxLength + 1,
                           fmt::format("longer than {} characters", kMaxLength));
  }
  Parser parser(text);
  FALAJ_ASSIGN_OR_RETURN(auto root, parser.ParseAll());
  return RowExpression(std::string(text), std::make_shared<const ExprNode>(std::move(root)));
}

}  // namespace falaj::features

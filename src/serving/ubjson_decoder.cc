#include "serving/ubjson_decoder.h"

#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <new>
#include <string>

namespace falaj::serving {
namespace {

using nlohmann::json;

auto Invalid(std::string_view what) { return MakeError(ErrorCode::kInvalidArgument, "{}", what); }

class UbjsonDecoder {
 public:
  UbjsonDecoder(std::string_view bytes, int max_depth) : bytes_(bytes), max_depth_(max_depth) {}

  Result<json> Decode() {
    FALAJ_ASSIGN_OR_RETURN(const char marker, Marker());
    FALAJ_ASSIGN_OR_RETURN(json document, Value(marker, 0));
    if (position_ != bytes_.size()) return Invalid("unexpected bytes after the UBJSON document");
    return document;
  }

 private:
  size_t Remaining() const { return bytes_.size() - position_; }
  static auto Truncated() { return Invalid("the UBJSON document is truncated"); }

  Result<char> Byte() {
    if (position_ >= bytes_.size()) return Truncated();
    return bytes_[position_++];
  }

  // The next marker, past any no-op markers.
  Result<char> Marker() {
    while (true) {
      FALAJ_ASSIGN_OR_RETURN(const char marker, Byte());
      if (marker != 'N') return marker;
    }
  }

  Result<uint64_t> BigEndian(size_t size) {
    if (Remaining() < size) return Truncated();
    uint64_t bits = 0;
    for (size_t i = 0; i < size; ++i) {
      bits = (bits << 8) | static_cast<uint8_t>(bytes_[position_ + i]);
    }
    position_ += size;
    return bits;
  }

  // Payload size of a numeric type; 0 for markers that cannot be a typed container's element.
  static size_t NumericSize(char marker) {
    switch (marker) {
      case 'i':
      case 'U':
        return 1;
      case 'I':
        return 2;
      case 'l':
      case 'd':
        return 4;
      case 'L':
      case 'D':
        return 8;
      default:
        return 0;
    }
  }

  Result<int64_t> Integer(char marker) {
    const size_t size = NumericSize(marker);
    if (size == 0 || marker == 'd' || marker == 'D') {
      return Invalid(fmt::format("expected a UBJSON integer, found marker {:#04x}",
                                 static_cast<uint8_t>(marker)));
    }
    FALAJ_ASSIGN_OR_RETURN(const uint64_t bits, BigEndian(size));
    switch (marker) {
      case 'i':
        return static_cast<int8_t>(bits);
      case 'U':
        return static_cast<uint8_t>(bits);
      case 'I':
        return static_cast<int16_t>(bits);
      case 'l':
        return static_cast<int32_t>(bits);
      default:
        return static_cast<int64_t>(bits);
    }
  }

  Result<json> Number(char marker) {
    if (marker == 'd') {
      FALAJ_ASSIGN_OR_RETURN(const uint64_t bits, BigEndian(4));
      return json(static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(bits))));
    }
    if (marker == 'D') {
      FALAJ_ASSIGN_OR_RETURN(const uint64_t bits, BigEndian(8));
      return json(std::bit_cast<double>(bits));
    }
    FALAJ_ASSIGN_OR_RETURN(const int64_t value, Integer(marker));
    return json(value);
  }

  // A count (of elements or bytes), which can never exceed the bytes left to hold them.
  Result<size_t> Count(size_t bytes_per_item) {
    FALAJ_ASSIGN_OR_RETURN(const char marker, Byte());
    FALAJ_ASSIGN_OR_RETURN(const int64_t count, Integer(marker));
    if (count < 0) return Invalid("a UBJSON count is negative");
    if (static_cast<uint64_t>(count) > Remaining() / bytes_per_item) return Truncated();
    return static_cast<size_t>(count);
  }

  Result<std::string> String() {
    FALAJ_ASSIGN_OR_RETURN(const size_t length, Count(1));
    std::string text(bytes_.substr(position_, length));
    position_ += length;
    return text;
  }

  Result<json> Value(char marker, int depth) {
    switch (marker) {
      case '[':
      case '{':
        if (depth >= max_depth_) {
          return Invalid(fmt::format("the document nests deeper than {} levels", max_depth_));
        }
        return marker == '[' ? Array(depth + 1) : Object(depth + 1);
      case 'Z':
        return json(nullptr);
      case 'T':
        return json(true);
      case 'F':
        return json(false);
      case 'C': {
        FALAJ_ASSIGN_OR_RETURN(const char c, Byte());
        return json(std::string(1, c));
      }
      case 'S': {
        FALAJ_ASSIGN_OR_RETURN(std::string text, String());
        return json(std::move(text));
      }
      default:
        if (NumericSize(marker) != 0) return Number(marker);
        return Invalid(fmt::format("unsupported UBJSON marker {:#04x} at byte {}",
                                   static_cast<uint8_t>(marker), position_ - 1));
    }
  }

  // A container's optional `$type` and `#count`: the element type (0 if each element carries
  // its own marker) and the count (npos if the container ends with its closing marker).
  struct Header {
    char type = 0;
    size_t count = std::string_view::npos;
  };

  Result<Header> ContainerHeader() {
    Header header;
    if (Remaining() > 0 && bytes_[position_] == '$') {
      ++position_;
      FALAJ_ASSIGN_OR_RETURN(header.type, Byte());
      if (NumericSize(header.type) == 0) {
        return Invalid("UBJSON typed containers are read for numeric types only");
      }
      if (Remaining() == 0 || bytes_[position_] != '#') {
        return Invalid("a UBJSON typed container has no count");
      }
    }
    if (Remaining() > 0 && bytes_[position_] == '#') {
      ++position_;
      FALAJ_ASSIGN_OR_RETURN(header.count, Count(header.type ? NumericSize(header.type) : 1));
    }
    return header;
  }

  Result<json> Element(const Header& header, int depth) {
    if (header.type) return Number(header.type);
    FALAJ_ASSIGN_OR_RETURN(const char marker, Marker());
    return Value(marker, depth);
  }

  Result<json> Array(int depth) {
    FALAJ_ASSIGN_OR_RETURN(const Header header, ContainerHeader());
    json array = json::array();
    auto& items = array.get_ref<json::array_t&>();
    if (header.count != std::string_view::npos) {
      if (header.type) items.reserve(header.count);
      for (size_t i = 0; i < header.count; ++i) {
        FALAJ_ASSIGN_OR_RETURN(json item, Element(header, depth));
        items.push_back(std::move(item));
      }
      return array;
    }
    while (true) {
      FALAJ_ASSIGN_OR_RETURN(const char marker, Marker());
      if (marker == ']') return array;
      FALAJ_ASSIGN_OR_RETURN(json item, Value(marker, depth));
      items.push_back(std::move(item));
    }
  }

  Result<json> Object(int depth) {
    FALAJ_ASSIGN_OR_RETURN(const Header header, ContainerHeader());
    json object = json::object();
    for (size_t i = 0; i < header.count; ++i) {
      if (header.count == std::string_view::npos) {
        while (Remaining() > 0 && bytes_[position_] == 'N') ++position_;
        if (Remaining() > 0 && bytes_[position_] == '}') {
          ++position_;
          return object;
        }
      }
      FALAJ_ASSIGN_OR_RETURN(std::string key, String());
      FALAJ_ASSIGN_OR_RETURN(json value, Element(header, depth));
      object[std::move(key)] = std::move(value);
    }
    return object;
  }

  std::string_view bytes_;
  const int max_depth_;
  size_t position_ = 0;
};

}  // namespace

Result<nlohmann::json> DecodeUbjson(std::string_view bytes, int max_depth) {
  return UbjsonDecoder(bytes, max_depth).Decode();
}

}  // namespace falaj::serving

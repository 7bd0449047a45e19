#include "features/online_arrow_codec.h"

#include <arrow/api.h>

#include "features/online_codec.h"

namespace falaj::features {

IntegerColumn::IntegerColumn(const arrow::Array& array) : array_(array) {
  const arrow::ArrayData& data = *array.data();
  switch (array.type_id()) {
    case arrow::Type::INT64:
      kind_ = Kind::kInt64;
      break;
    case arrow::Type::INT32:
      kind_ = Kind::kInt32;
      break;
    case arrow::Type::TIMESTAMP:
      kind_ = Kind::kInt64;
      switch (static_cast<const arrow::TimestampType&>(*array.type()).unit()) {
        case arrow::TimeUnit::SECOND:
          multiply_ = 1'000'000;
          break;
        case arrow::TimeUnit::MILLI:
          multiply_ = 1'000;
          break;
        case arrow::TimeUnit::MICRO:
          break;
        case arrow::TimeUnit::NANO:
          divide_ = 1'000;
          break;
      }
      break;
    default:
      return;
  }
  validity_ = array.null_count() > 0 ? data.GetValues<uint8_t>(0, 0) : nullptr;
  values_ = data.buffers[1] ? data.buffers[1]->data() : nullptr;
  offset_ = data.offset;
}

bool IntegerColumn::At(int64_t row, int64_t& value) const {
  if (kind_ == Kind::kOther) return false;
  const int64_t at = offset_ + row;
  if (validity_ && !arrow::bit_util::GetBit(validity_, at)) return false;
  value = kind_ == Kind::kInt64 ? static_cast<const int64_t*>(values_)[at]
                                : static_cast<const int32_t*>(values_)[at];
  value = divide_ > 1 ? value / divide_ : value * multiply_;
  return true;
}

KeyColumn::KeyColumn(const arrow::Array& array) : array_(array), integers_(array) {}

bool KeyColumn::Append(std::string& key, int64_t row) const {
  if (int64_t value = 0; integers_.At(row, value)) {
    AppendIntKey(key, value);
    return true;
  }
  if (array_.IsNull(row)) return false;
  switch (array_.type_id()) {
    case arrow::Type::STRING:
      AppendTextKey(key, static_cast<const arrow::StringArray&>(array_).GetView(row));
      return true;
    case arrow::Type::LARGE_STRING:
      AppendTextKey(key, static_cast<const arrow::LargeStringArray&>(array_).GetView(row));
      return true;
    default:
      return false;
  }
}

FeatureColumn::FeatureColumn(const arrow::Array& array, data::ColumnType type)
    : array_(array), integers_(array) {
  const arrow::Type::type id = array.type_id();
  switch (type) {
    case data::ColumnType::kInt64:
    case data::ColumnType::kTimestamp:
      if (integers_.supported()) kind_ = Kind::kInteger;
      break;
    case data::ColumnType::kFloat64:
      if (id == arrow::Type::DOUBLE) kind_ = Kind::kFloat64;
      break;
    case data::ColumnType::kBool:
      if (id == arrow::Type::BOOL) kind_ = Kind::kBool;
      break;
    case data::ColumnType::kString:
      if (id == arrow::Type::STRING) kind_ = Kind::kString;
      if (id == arrow::Type::LARGE_STRING) kind_ = Kind::kLargeString;
      break;
  }
  const arrow::ArrayData& data = *array.data();
  validity_ = array.null_count() > 0 ? data.GetValues<uint8_t>(0, 0) : nullptr;
  offset_ = data.offset;
  if (kind_ == Kind::kFloat64) doubles_ = data.GetValues<double>(1);
}

void FeatureColumn::Append(std::string& out, int64_t row) const {
  switch (kind_) {
    case Kind::kFloat64:
      if (!IsNull(row)) return AppendFloat64(out, doubles_[row]);
      break;
    case Kind::kInteger:
      if (int64_t value = 0; integers_.At(row, value)) return AppendInt64(out, value);
      break;
    case Kind::kBool:
      if (!IsNull(row)) {
        return AppendBool(out, static_cast<const arrow::BooleanArray&>(array_).Value(row));
      }
      break;
    case Kind::kString:
      if (!IsNull(row)) {
        return AppendString(out, static_cast<const arrow::StringArray&>(array_).GetView(row));
      }
      break;
    case Kind::kLargeString:
      if (!IsNull(row)) {
        return AppendString(out, static_cast<const arrow::LargeStringArray&>(array_).GetView(row));
      }
      break;
    case Kind::kMissing:
      break;
  }
  AppendMissing(out);
}

}  // namespace falaj::features

// Tensors as the Open Inference Protocol (KServe v2) carries them: datatype names, element
// sizes, and decoding of numeric tensors into the float32 rows every runtime takes. Shared by
// the HTTP (JSON and binary extension) and gRPC transports so both accept exactly the same
// inputs. Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::serving {

enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBytes,
};

// "BOOL", "UINT8", … "FP64", "BYTES"; nullopt for anything else (names are case-sensitive).
std::optional<DataType> ParseDataType(std::string_view name);
std::string_view DataTypeName(DataType type);
// Bytes per element in the binary and raw encodings; 0 for BYTES (length-prefixed elements).
size_t ElementSize(DataType type);

// Elements a shape holds; INVALID_ARGUMENT for a negative dimension or a product over `limit`.
Result<size_t> ElementCount(std::span<const int64_t> shape, size_t limit);

// Decodes `count` little-endian elements of a numeric `type` from `bytes` into float32 and
// appends them to `out`. INVALID_ARGUMENT when the byte length is not count × element size or
// the type is BYTES. Integers beyond float's exact range are rounded, as every runtime would.
Status DecodeToFloat(DataType type, std::span<const std::byte> bytes, size_t count,
                     std::vector<float>& out);

// Converts one IEEE 754 half-precision value to float.
float HalfToFloat(uint16_t half);

// Whether a datatype carries integers (INT8–INT64, UINT8–UINT64): the entity-key datatypes.
bool IsIntegerType(DataType type);

// Decodes `count` little-endian elements of an integer `type` into exact int64 values appended
// to `out`. False (nothing appended) when the type is not an integer type, the byte length is
// not count × element size, or a UINT64 value exceeds the int64 range.
bool DecodeExactIntegers(DataType type, std::span<const std::byte> bytes, size_t count,
                         std::vector<int64_t>& out);

}  // namespace falaj::serving

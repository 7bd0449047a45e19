#include "data/arrow_columns.h"

#include <arrow/compute/initialize.h>

#include "data/arrow_status.h"

namespace falaj::data {

Status EnsureArrowCompute() {
  static const arrow::Status status = arrow::compute::Initialize();
  return FromArrow(status, "initialising Arrow compute");
}

}  // namespace falaj::data

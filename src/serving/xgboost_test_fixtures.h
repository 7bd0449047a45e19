// Test support for the XGBoost runtimes' tests: reads a file of tests/fixtures/xgboost/ (made
// by tests/fixtures/xgboost/make_fixtures.py) from the source tree. Test-only; thread-safe.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace falaj::serving {

// The fixture's bytes; empty when it is missing (the tests then fail on their own checks).
inline std::string ReadXGBoostFixture(const std::string& file) {
  std::ifstream in(std::string(FALAJ_SOURCE_DIR) + "/tests/fixtures/xgboost/" + file,
                   std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace falaj::serving

// Checks shared by the libFuzzer harnesses in this folder. A failed check prints what failed and
// aborts, which libFuzzer reports as a crash and saves the input under build-fuzz/artifacts/.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "common/error.h"

namespace falaj::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* what, std::string_view why) {
  std::fprintf(stderr, "\n==fuzz== %s:%d: check failed: %s %.*s\n", file, line, what,
               static_cast<int>(why.size()), why.data());
  std::abort();
}

// An error the contract allows: the expected code and a message to show the caller.
inline void CheckError(const Error& error, ErrorCode expected, const char* file, int line) {
  if (error.code != expected) {
    Fail(file, line, "unexpected error code", ErrorCodeName(error.code));
  }
  if (error.message.empty()) Fail(file, line, "error without a message", "");
}

// Runs `body` (a harness's checks for one input). An escaping exception breaks "errors are
// values" (ARCHITECTURE.md, principle 3), so it aborts naming the exception.
template <typename Body>
int RunWithoutExceptions(Body&& body) {
  try {
    body();
  } catch (const std::exception& exception) {
    Fail(__FILE__, __LINE__, "exception escaped:", exception.what());
  } catch (...) {
    Fail(__FILE__, __LINE__, "non-standard exception escaped", "");
  }
  return 0;
}

}  // namespace falaj::fuzz

#define FUZZ_REQUIRE(condition) \
  ((condition) ? void() : ::falaj::fuzz::Fail(__FILE__, __LINE__, #condition, ""))

#define FUZZ_REQUIRE_ERROR(error, expected) \
  ::falaj::fuzz::CheckError((error), (expected), __FILE__, __LINE__)

// Runs one program as a child process in its own process group, with resource limits, streaming
// its stdout and stderr line by line to a callback, and stopping it on cancellation or timeout:
// SIGTERM to the whole group, SIGKILL after a grace period. When the program exits, whatever
// else is left in its group is killed too, so a job leaves no stray processes. The child also
// gets SIGKILL if the server dies (PR_SET_PDEATHSIG).
//
// The child is created with fork/exec and runs only async-signal-safe calls before exec, so it is
// safe from a multithreaded server. Thread-safe: each call is independent.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::jobs {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH from `env` unless it has a '/'
  std::vector<std::string> env;   // "NAME=value"
  std::string work_dir;
  int64_t cpu_seconds = 0;   // RLIMIT_CPU; 0: none
  int64_t memory_bytes = 0;  // RLIMIT_AS; 0: none
  std::chrono::seconds timeout{3600};
  std::chrono::milliseconds kill_grace{5000};
};

struct ProcessOutcome {
  enum class End { kExited, kSignaled, kTimedOut, kCancelled };
  End end = End::kExited;
  int exit_code = 0;  // for kExited
  int signal = 0;     // for kSignaled
};

// INVALID_ARGUMENT when the program cannot be found; INTERNAL when the process cannot start.
// `on_line` gets each output line (without its newline; very long lines in pieces) on the
// calling thread; `cancelled` is polled a few times a second.
Result<ProcessOutcome> RunProcess(const ProcessSpec& spec,
                                  const std::function<void(std::string_view)>& on_line,
                                  const std::function<bool()>& cancelled);

}  // namespace falaj::jobs

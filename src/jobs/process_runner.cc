#include "jobs/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace falaj::jobs {
namespace {

constexpr size_t kMaxLineBytes = 64 * 1024;
constexpr int kPollMillis = 100;
// After the program exits, its output pipe may still be held by processes it left behind (they
// are killed at once); reading what they already wrote is bounded by this.
constexpr std::chrono::seconds kDrainDeadline{2};

using SteadyClock = std::chrono::steady_clock;

std::string EnvValue(const std::vector<std::string>& env, std::string_view name) {
  for (const auto& entry : env) {
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
        entry[name.size()] == '=') {
      return entry.substr(name.size() + 1);
    }
  }
  return "";
}

Result<std::string> ResolveProgram(const ProcessSpec& spec) {
  const std::string& program = spec.argv[0];
  if (program.find('/') != std::string::npos) {
    std::string path = program[0] == '/' ? program : spec.work_dir + "/" + program;
    if (::access(path.c_str(), X_OK) == 0) return path;
    return MakeError(ErrorCode::kInvalidArgument, "program '{}' is not an executable file",
                     program);
  }
  std::string search = EnvValue(spec.env, "PATH");
  size_t start = 0;
  while (start <= search.size()) {
    size_t end = search.find(':', start);
    if (end == std::string::npos) end = search.size();
    std::string dir = search.substr(start, end - start);
    std::string path = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(path.c_str(), X_OK) == 0) return path;
    start = end + 1;
  }
  return MakeError(ErrorCode::kInvalidArgument, "program '{}' was not found in PATH '{}'", program,
                   search);
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const auto& text : strings) pointers.push_back(const_cast<char*>(text.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const ProcessSpec& spec, const char* path, char* const argv[],
                            char* const envp[], int null_fd, int out_fd) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int signal_number : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    ::signal(signal_number, SIG_DFL);
  }
  if (::chdir(spec.work_dir.c_str()) != 0) ::_exit(126);
  if (spec.cpu_seconds > 0) {
    rlimit limit{static_cast<rlim_t>(spec.cpu_seconds), static_cast<rlim_t>(spec.cpu_seconds)};
    ::setrlimit(RLIMIT_CPU, &limit);
  }
  if (spec.memory_bytes > 0) {
    rlimit limit{static_cast<rlim_t>(spec.memory_bytes), static_cast<rlim_t>(spec.memory_bytes)};
    ::setrlimit(RLIMIT_AS, &limit);
  }
  ::dup2(null_fd, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  ::execve(path, argv, envp);
  ::_exit(127);
}

// Splits output into lines for `on_line`.
class LineSplitter {
 public:
  explicit LineSplitter(const std::function<void(std::string_view)>& on_line) : on_line_(on_line) {}
  void Add(std::string_view data) {
    pending_.append(data);
    size_t start = 0;
    for (size_t newline; (newline = pending_.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      on_line_(std::string_view(pending_).substr(start, newline - start));
    }
    pending_.erase(0, start);
    while (pending_.size() >= kMaxLineBytes) {
      on_line_(std::string_view(pending_).substr(0, kMaxLineBytes));
      pending_.erase(0, kMaxLineBytes);
    }
  }
  void Flush() {
    if (!pending_.empty()) on_line_(pending_);
    pending_.clear();
  }

 private:
  const std::function<void(std::string_view)>& on_line_;
  std::string pending_;
};

// Reads what is available; false at end of file.
bool ReadSome(int fd, LineSplitter& lines) {
  char buffer[16384];
  ssize_t got = ::read(fd, buffer, sizeof buffer);
  if (got > 0) {
    lines.Add(std::string_view(buffer, static_cast<size_t>(got)));
    return true;
  }
  return got < 0 && (errno == EINTR || errno == EAGAIN);
}

}  // namespace

Result<ProcessOutcome> RunProcess(const ProcessSpec& spec,
                                  const std::function<void(std::string_view)>& on_line,
                                  const std::function<bool()>& cancelled) {
  if (spec.argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "no program to run");
  FALAJ_ASSIGN_OR_RETURN(std::string path, ResolveProgram(spec));
  auto argv = CStrings(spec.argv);
  auto envp = CStrings(spec.env);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, "cannot create a pipe: {}", std::strerror(errno));
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid == 0) ExecChild(spec, path.c_str(), argv.data(), envp.data(), null_fd, pipe_fds[1]);
  int fork_errno = errno;
  ::close(pipe_fds[1]);
  if (null_fd >= 0) ::close(null_fd);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return MakeError(ErrorCode::kInternal, "cannot start a process: {}", std::strerror(fork_errno));
  }
  ::setpgid(pid, pid);  // also in the parent, so the group exists before any kill below

  LineSplitter lines(on_line);
  ProcessOutcome outcome;
  const auto started = SteadyClock::now();
  SteadyClock::time_point kill_at = SteadyClock::time_point::max();
  bool stopping = false;
  bool exited = false;
  bool open = true;
  int status = 0;
  SteadyClock::time_point drain_until = SteadyClock::time_point::max();
  while (open || !exited) {
    if (open) {
      pollfd poll_fd{pipe_fds[0], POLLIN, 0};
      int ready = ::poll(&poll_fd, 1, kPollMillis);
      if (ready > 0) open = ReadSome(pipe_fds[0], lines);
    } else {
      ::usleep(kPollMillis * 1000);
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      ::kill(-pid, SIGKILL);  // what the program left behind in its group
      drain_until = SteadyClock::now() + kDrainDeadline;
    }
    auto now = SteadyClock::now();
    if (exited && now > drain_until) break;
    if (exited) continue;
    if (!stopping && (cancelled() || now - started > spec.timeout)) {
      stopping = true;
      outcome.end = cancelled() ? ProcessOutcome::End::kCancelled : ProcessOutcome::End::kTimedOut;
      ::kill(-pid, SIGTERM);
      kill_at = now + spec.kill_grace;
    }
    if (stopping && now > kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = SteadyClock::time_point::max();
    }
  }
  ::close(pipe_fds[0]);
  lines.Flush();
  if (!stopping) {
    if (WIFEXITED(status)) {
      outcome.end = ProcessOutcome::End::kExited;
      outcome.exit_code = WEXITSTATUS(status);
    } else {
      outcome.end = ProcessOutcome::End::kSignaled;
      outcome.signal = WTERMSIG(status);
    }
  }
  return outcome;
}

}  // namespace falaj::jobs

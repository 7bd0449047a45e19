// libFuzzer harness for LoadConfig (common/config.h) reading a YAML file. The input is written to
// one temporary file per process (reused for every input) and loaded with no environment and no
// overrides. A configuration file is operator input: LoadConfig must never crash or throw, and
// must refuse a bad file with INVALID_ARGUMENT. An accepted configuration must pass
// ValidateConfig, and what RenderConfigYaml prints for it (`falaj config print`) must load back
// to a configuration that prints the same (secrets print as "<redacted>" both times).
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/config.h"
#include "fuzz_support.h"

namespace {

using falaj::ErrorCode;

// One scratch file per process, rewritten for every input: an in-memory file (memfd) read back
// through /proc/self/fd. It costs no disk I/O, vanishes however the process ends (a crash,
// libFuzzer's -timeout, SIGKILL), and parallel fuzzers never share one.
class ScratchFile {
 public:
  ScratchFile() {
    fd_ = memfd_create("falaj_config_fuzz.yaml", MFD_CLOEXEC);
    if (fd_ < 0) falaj::fuzz::Fail(__FILE__, __LINE__, "memfd_create failed", "");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }

  const std::string& Write(std::string_view contents) {
    if (ftruncate(fd_, 0) != 0) falaj::fuzz::Fail(__FILE__, __LINE__, "cannot truncate", path_);
    for (size_t done = 0; done < contents.size();) {
      ssize_t written = pwrite(fd_, contents.data() + done, contents.size() - done, done);
      if (written <= 0) falaj::fuzz::Fail(__FILE__, __LINE__, "cannot write", path_);
      done += static_cast<size_t>(written);
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

ScratchFile& Scratch(int slot) {
  static auto* files = new std::array<ScratchFile, 2>();  // never destroyed, like the process
  return (*files)[slot];
}

// FALAJ_FUZZ_CONFIG_ROUNDTRIP=0 leaves out the print-and-reload check, to keep fuzzing the
// loader while a known round-trip bug is open.
bool CheckRoundTrip() {
  static const bool check = [] {
    const char* value = std::getenv("FALAJ_FUZZ_CONFIG_ROUNDTRIP");
    return value == nullptr || std::string_view(value) != "0";
  }();
  return check;
}

// The file alone: no environment, no overrides.
falaj::Result<falaj::Config> LoadFile(const std::string& path) {
  falaj::ConfigSources sources;
  sources.file = path;
  return falaj::LoadConfig(sources);
}

void Run(std::string_view yaml) {
  auto config = LoadFile(Scratch(0).Write(yaml));
  if (!config) {
    FUZZ_REQUIRE_ERROR(config.error(), ErrorCode::kInvalidArgument);
    return;
  }
  FUZZ_REQUIRE(falaj::ValidateConfig(*config));
  if (!CheckRoundTrip()) return;
  std::string printed = falaj::RenderConfigYaml(*config);
  auto reloaded = LoadFile(Scratch(1).Write(printed));
  if (!reloaded) {
    falaj::fuzz::Fail(__FILE__, __LINE__, "printed configuration does not load:",
                      reloaded.error().message + "\n--- printed:\n" + printed);
  }
  // Compared as printed, so the check follows the key table without listing fields here.
  FUZZ_REQUIRE(falaj::RenderConfigYaml(*reloaded) == printed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  return falaj::fuzz::RunWithoutExceptions([&] { Run(yaml); });
}

// `falaj server` and `falaj config print`: configuration assembly from file, environment and
// flags, then the server's lifetime with SIGTERM/SIGINT handled as a graceful stop.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/config.h"

namespace falaj::cli {

struct ServerFlags {
  std::string config_file;
  std::string data_dir;
  std::string listen;
  std::vector<std::string> set;  // "key=value"
};

// Defaults → file (flag or FALAJ_CONFIG) → environment → flags.
Result<Config> AssembleConfig(const ServerFlags& flags);

int RunServer(const ServerFlags& flags);
int PrintConfig(const ServerFlags& flags);

}  // namespace falaj::cli

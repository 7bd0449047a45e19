// The `falaj` command line: `falaj server` runs the platform; every other command is a client of
// the REST API (server URL and key from flags, FALAJ_URL / FALAJ_KEY, or
// ~/.config/falaj/config.yaml). Single-threaded apart from the server it may run.
#pragma once

namespace falaj::cli {

// Parses the command line and runs the command; returns the process exit code.
int Main(int argc, char** argv);

}  // namespace falaj::cli

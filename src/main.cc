// The falaj executable: `falaj server` and the client commands, all in src/cli.
#include "cli/cli.h"

int main(int argc, char** argv) { return falaj::cli::Main(argc, argv); }

#pragma once
// ernctl denoise without --local: the coordinator's Denoise RPC, for one image or a folder.

#include "client/arguments.h"

namespace ern::cli {

// INPUT -o OUTPUT, or INPUT_DIR -o OUTPUT_DIR (every image in it, several in flight, with a
// progress bar and a summary: images/s, p50/p95 latency).
int denoise_on_server(const Arguments& args);

}  // namespace ern::cli

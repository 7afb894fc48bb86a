#pragma once
// ernctl denoise without --local: the coordinator's Denoise RPC.

#include "client/arguments.h"

namespace ern::cli {

int denoise_on_server(const Arguments& args);

}  // namespace ern::cli

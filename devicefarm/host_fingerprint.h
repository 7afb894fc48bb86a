#pragma once
// What a `local-cpu` measurement depends on, as one line: the CPU (model name, family, model,
// stepping, cache), the instruction sets LibTorch's and oneDNN's kernels choose between, and the
// logical CPU count. Two hosts that differ in any of these rank blocks differently (a level-1
// NAFNet block costs 2.7x a level-4 one on one 2-core Xeon VM and 4.5x on another), so the
// farm's persistent table serves a row only on the host that measured it.

#include <string>

namespace ern::farm {

// From /proc/cpuinfo; "unknown" parts where it is missing (another OS).
std::string host_fingerprint();

}  // namespace ern::farm

#pragma once
// Reads released NAFNet checkpoints. A `.safetensors` file is read directly; anything else is
// taken as a torch.save'd pickle, which LibTorch's C++ unpickler cannot read (it holds a Python
// OrderedDict), so it goes through scripts/convert-nafnet-checkpoint.py (Debian's python3 with
// python3-torch) into a temporary safetensors file first.

#include <filesystem>

#include "model/safetensors.h"

namespace ern {

// Throws std::runtime_error with the converter's one-line reason when conversion fails.
NamedTensors read_reference_checkpoint(const std::filesystem::path& checkpoint);

}  // namespace ern

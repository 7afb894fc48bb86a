#include "inference/precision.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <stdexcept>

namespace ern::inference {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "int8") return Precision::kInt8;
  throw std::invalid_argument("precision: '" + name + "' is not one of fp32, bf16, int8");
}

const char* name_of(Precision precision) {
  switch (precision) {
    case Precision::kBf16:
      return "bf16";
    case Precision::kInt8:
      return "int8";
    default:
      return "fp32";
  }
}

namespace {

bool cpu_has(dnnl::cpu_isa level) {
  // oneDNN's ISA levels are nested bit sets: a level includes every bit of the ones below it.
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto wanted = static_cast<unsigned>(level);
  return (isa & wanted) == wanted;
}

}  // namespace

bool cpu_has_native_bf16() { return cpu_has(dnnl::cpu_isa::avx512_core_bf16); }

bool cpu_has_avx2() { return cpu_has(dnnl::cpu_isa::avx2); }

Precision serving_precision_of(const nlohmann::json& metadata) {
  const auto field = metadata.find("serving_precision");
  if (field == metadata.end()) return Precision::kFp32;
  if (!field->is_string()) {
    throw std::invalid_argument("metadata.serving_precision: must be a string, fp32, bf16 or int8");
  }
  try {
    return parse_precision(field->get<std::string>());
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string("metadata.serving_") + error.what());
  }
}

Precision effective_precision(Precision requested) {
  if (requested == Precision::kBf16 && !cpu_has_native_bf16()) return Precision::kFp32;
  if (requested == Precision::kInt8 && !cpu_has_avx2()) return Precision::kFp32;
  return requested;
}

}  // namespace ern::inference

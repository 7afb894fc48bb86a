// ernctl model init | import-nafnet | info

#include <cstdio>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "client/arguments.h"
#include "client/commands.h"
#include "inference/precision_cost.h"
#include "inference/serving_engine.h"
#include "model/checkpoint_import.h"
#include "model/dataset.h"
#include "model/model_dir.h"
#include "model/supernet.h"

namespace ern::cli {
namespace {

const std::set<std::string> kArchitectureFlags = {"width",    "enc", "middle", "dec",
                                                  "channels", "o",   "seed"};

NafnetArchitecture architecture_from_flags(const Arguments& args) {
  NafnetArchitecture architecture;
  architecture.width = static_cast<int>(args.integer_or("width", architecture.width, 2, 1024));
  architecture.image_channels = static_cast<int>(args.integer_or("channels", 3, 1, 3));
  architecture.middle_blocks =
      static_cast<int>(args.integer_or("middle", architecture.middle_blocks, 0, 64));
  try {
    if (args.has("enc"))
      architecture.encoder_blocks = parse_block_list(args.required("enc"), "--enc");
    if (args.has("dec"))
      architecture.decoder_blocks = parse_block_list(args.required("dec"), "--dec");
    architecture.validate();
  } catch (const std::invalid_argument& error) {
    throw UsageError(std::string("architecture: ") + error.what());
  }
  return architecture;
}

void print_saved(const std::filesystem::path& directory) {
  const auto json = read_model_json(directory);
  std::printf("saved %s: %s, %lld parameters, %.2f G MACs at 256x256\n", directory.c_str(),
              NafnetArchitecture::from_json(json["architecture"]).describe().c_str(),
              json["metadata"]["params"].get<long long>(),
              json["metadata"]["gmacs_256"].get<double>());
}

}  // namespace

int model_init(const Args& raw) {
  const std::string usage =
      "ernctl model init --width W --enc 2,2,4,8 --middle 12 --dec 2,2,2,2 -o DIR";
  Arguments args(raw, kArchitectureFlags);
  args.expect_positionals(0, usage);
  const auto architecture = architecture_from_flags(args);
  const std::filesystem::path output = args.required("o");
  const auto seed = args.integer_or("seed", 0, 0, std::numeric_limits<long long>::max());
  torch::manual_seed(seed);
  Nafnet network(architecture);
  save_model_dir(output, network, {{"source", "init"}, {"seed", seed}});
  print_saved(output);
  return 0;
}

int model_import_nafnet(const Args& raw) {
  const std::string usage =
      "ernctl model import-nafnet CHECKPOINT --width 32 --enc 2,2,4,8 --middle 12 --dec 2,2,2,2 -o "
      "DIR";
  Arguments args(raw, kArchitectureFlags);
  args.expect_positionals(1, usage);
  const std::filesystem::path checkpoint = args.positional(0, "CHECKPOINT");
  const auto architecture = architecture_from_flags(args);
  const std::filesystem::path output = args.required("o");
  Nafnet network(architecture);
  load_named_tensors(*network, read_reference_checkpoint(checkpoint),
                     checkpoint.string() + " (for " + architecture.describe() + ")");
  save_model_dir(output, network,
                 {{"source", "import-nafnet"},
                  {"checkpoint", std::filesystem::absolute(checkpoint).string()}});
  print_saved(output);
  return 0;
}

// Network surgery without a search: the child of `genotype` with the base NAFNet's weights (every
// alternative of a block shares the full block's weights), e.g. the simple genotypes a searched
// ERN-Net is compared with, fine-tuned afterwards with `ernctl train`.
int model_derive(const Args& raw) {
  Arguments args(raw, {"genotype", "o"});
  args.expect_positionals(1, "ernctl model derive DIR --genotype naf,skip,... -o DIR2");
  const std::filesystem::path base = args.positional(0, "DIR");
  auto pretrained = load_model_dir(base);
  if (!pretrained.architecture.genotype.empty()) {
    throw UsageError(base.string() + ": already derived (has a genotype); give a plain NAFNet");
  }
  std::vector<BlockAlternative> genotype;
  std::stringstream ids(args.required("genotype"));
  for (std::string id; std::getline(ids, id, ',');) {
    try {
      genotype.push_back(parse_alternative(id));
    } catch (const std::invalid_argument& error) {
      throw UsageError(std::string("--genotype: ") + error.what());
    }
  }
  const size_t blocks = pretrained.architecture.searchable_blocks().size();
  if (genotype.size() != blocks) {
    throw UsageError("--genotype: " + std::to_string(genotype.size()) + " alternatives given, " +
                     base.string() + " has " + std::to_string(blocks) + " searchable blocks");
  }
  Supernet supernet(pretrained.architecture, all_alternatives());
  load_named_tensors(*supernet->network(), named_tensors_of(*pretrained.network), base.string());
  auto child = derive_child(supernet, genotype);
  const std::filesystem::path output = args.required("o");
  save_model_dir(output, child,
                 {{"source", "derive"},
                  {"base_model", std::filesystem::absolute(base).string()},
                  {"genotype", args.required("genotype")}});
  print_saved(output);
  return 0;
}

namespace {

std::vector<std::filesystem::path> images_of(const Arguments& args, const std::string& flag,
                                             const std::string& default_folder) {
  try {
    return list_images(args.value_or(flag, default_folder));
  } catch (const std::runtime_error& error) {
    throw UsageError("--" + flag + ": " + error.what());
  }
}

// --precision bf16|int8: offered only where its PSNR cost, measured here on --images (holdout),
// is within kMaxPrecisionLossDb and it runs at least --min-speedup times as fast as the fp32
// LibTorch path (the stand-in for the best fp32 peer) on this CPU. int8 is calibrated first on
// --calibration-images (val). Returns the serving metadata.
nlohmann::json checked_serving_precision(const Arguments& args, LoadedModel& model) {
  const auto name = args.value_or("precision", "fp32");
  inference::Precision precision;
  try {
    precision = inference::parse_precision(name);
  } catch (const std::invalid_argument& error) {
    throw UsageError(std::string("--") + error.what());
  }
  nlohmann::json serving = {{"serving_precision", name}};
  if (precision == inference::Precision::kFp32) return serving;
  inference::Int8Calibration calibration;
  if (precision == inference::Precision::kInt8) {
    calibration =
        inference::calibrate_int8(model, images_of(args, "calibration-images", "data/images/val"));
    serving["int8_calibration"] = inference::to_json(calibration);
  }
  const std::string folder = args.value_or("images", "data/images/holdout");
  inference::PrecisionCost cost;
  try {
    cost = inference::measure_precision_cost(model, precision, calibration,
                                             images_of(args, "images", folder));
  } catch (const std::invalid_argument& error) {
    throw UsageError(std::string("--") + error.what());
  }
  const double min_speedup = args.number_or("min-speedup", inference::kMinPrecisionSpeedup, 0, 100);
  char measured[400];
  std::snprintf(measured, sizeof(measured),
                "%s changes PSNR by %+.3f dB at sigma 25 on %d images of %s (fp32: %.3f dB; at "
                "most %.2f dB lost allowed) and runs %.2fx as fast as the fp32 LibTorch path at "
                "256x256 (%.1f vs %.1f ms; at least %.2fx wanted; the fp32 engine: %.1f ms)",
                name.c_str(), cost.change_db(), cost.images, folder.c_str(), cost.fp32_psnr,
                inference::kMaxPrecisionLossDb, cost.speedup(), cost.reduced_ms, cost.libtorch_ms,
                min_speedup, cost.fp32_ms);
  if (cost.change_db() < -inference::kMaxPrecisionLossDb || cost.speedup() < min_speedup) {
    throw UsageError(std::string("--precision: ") + measured + "; keep fp32");
  }
  std::fprintf(stderr, "%s\n", measured);
  return serving;
}

}  // namespace

int model_export(const Args& raw) {
  Arguments args(raw, {"o", "precision", "images", "calibration-images", "min-speedup"}, {"fp16"});
  args.expect_positionals(1,
                          "ernctl model export DIR -o DIR2 [--fp16] [--precision fp32|bf16|int8 "
                          "[--images DIR] [--calibration-images DIR] [--min-speedup X]]");
  const std::filesystem::path source = args.positional(0, "DIR");
  const std::filesystem::path output = args.required("o");
  auto model = load_model_dir(source);
  auto json = read_model_json(source);
  auto provenance = json["metadata"].value("provenance", nlohmann::json::object());
  const auto serving = checked_serving_precision(args, model);
  save_model_dir(output, model.network, provenance,
                 args.has("fp16") ? WeightStorage::kFloat16 : WeightStorage::kFloat32, serving);
  print_saved(output);
  return 0;
}

int model_info(const Args& raw) {
  Arguments args(raw, {}, {"json"});
  args.expect_positionals(1, "ernctl model info DIR [--json]");
  const auto json = read_model_json(args.positional(0, "DIR"));
  if (args.has("json")) {
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  const auto architecture = NafnetArchitecture::from_json(json["architecture"]);
  const auto& metadata = json["metadata"];
  std::printf("architecture  NAFNet, %s, %d image channels\n", architecture.describe().c_str(),
              architecture.image_channels);
  std::printf("parameters    %lld\n", metadata["params"].get<long long>());
  std::printf("G MACs        %.2f at 256x256\n", metadata["gmacs_256"].get<double>());
  std::printf("created       %s\n", metadata.value("created_at", "").c_str());
  std::printf("serving       %s\n", metadata.value("serving_precision", "fp32").c_str());
  std::printf("provenance    %s\n",
              metadata.value("provenance", nlohmann::json::object()).dump().c_str());
  return 0;
}

}  // namespace ern::cli

#pragma once
// The network a benchmark measures, from its flags: --width (32), --enc, --middle (12), --dec and
// --genotype (a derived network), as ernctl model init takes them.

#include <sstream>
#include <string>

#include "client/arguments.h"
#include "model/architecture.h"

namespace ern::bench {

inline NafnetArchitecture architecture_from(const cli::Arguments& args) {
  NafnetArchitecture arch;
  arch.width = static_cast<int>(args.integer_or("width", 32, 2, 1024));
  arch.middle_blocks = static_cast<int>(args.integer_or("middle", 12, 0, 64));
  if (args.has("enc")) arch.encoder_blocks = parse_block_list(args.required("enc"), "--enc");
  if (args.has("dec")) arch.decoder_blocks = parse_block_list(args.required("dec"), "--dec");
  if (args.has("genotype")) {
    std::stringstream ids(args.required("genotype"));
    for (std::string id; std::getline(ids, id, ',');)
      arch.genotype.push_back(parse_alternative(id));
  }
  arch.validate();
  return arch;
}

}  // namespace ern::bench

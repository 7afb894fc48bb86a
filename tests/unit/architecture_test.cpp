#include "model/architecture.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ern {
namespace {

TEST(Architecture, SiddWidth32HasThePublishedParameterCount) {
  NafnetArchitecture sidd;  // defaults: width 32, (2-2-4-8)-12-(2-2-2-2)
  EXPECT_EQ(sidd.expected_parameter_count(), 29'159'715);
  EXPECT_EQ(sidd.size_multiple(), 16);
  EXPECT_EQ(sidd.describe(), "width 32, (2-2-4-8)-12-(2-2-2-2)");
}

// H5: an architecture's size is known, and bounded, before a tensor is allocated.
TEST(Architecture, NetworksTooLargeToAllocateAreRefusedByTheirParameterCount) {
  NafnetArchitecture huge;  // width 1024 (2-2-4-8)-12: billions of parameters
  huge.width = 1024;
  try {
    huge.validate();
    FAIL() << "width 1024 accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("parameters; at most"), std::string::npos)
        << error.what();
  }
  NafnetArchitecture width64;  // the largest released NAFNet stays allowed
  width64.width = 64;
  EXPECT_NO_THROW(width64.validate());
  // The activation estimate grows with width, depth and the paths a supernet computes.
  NafnetArchitecture small;
  small.width = 16;
  EXPECT_GT(width64.activation_floats_per_pixel(), small.activation_floats_per_pixel());
  EXPECT_DOUBLE_EQ(small.activation_floats_per_pixel(4), 4 * small.activation_floats_per_pixel());
}

TEST(Architecture, JsonRoundTrip) {
  NafnetArchitecture tiny;
  tiny.width = 16;
  tiny.encoder_blocks = {1, 1};
  tiny.middle_blocks = 1;
  tiny.decoder_blocks = {1, 2};
  EXPECT_EQ(NafnetArchitecture::from_json(tiny.to_json()), tiny);
}

// Found by fuzz/fuzz_model_json: numbers that are not ints were converted without a check.
TEST(Architecture, JsonNumbersThatAreNotIntsAreRefusedNamingTheField) {
  // image channels, width, encoder blocks, middle blocks, decoder blocks
  const NafnetArchitecture tiny{3, 16, {1, 1}, 1, {1, 1}, {}};
  for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"width", 2.2e48},
           {"width", 16.5},
           {"middle_blocks", 4294967297ull},
           {"decoder_blocks", nlohmann::json::array({1, -2.5e40})},
           {"image_channels", "3"}}) {
    auto json = tiny.to_json();
    json[field] = value;
    try {
      NafnetArchitecture::from_json(json);
      ADD_FAILURE() << field << " = " << value.dump() << " accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(field), std::string::npos) << error.what();
    }
  }
}

TEST(Architecture, ValidationNamesTheField) {
  NafnetArchitecture arch;
  arch.width = 15;
  try {
    arch.validate();
    FAIL() << "odd width accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("width"), std::string::npos) << error.what();
  }
  arch = NafnetArchitecture();
  arch.decoder_blocks = {1, 1};
  try {
    arch.validate();
    FAIL() << "mismatched stage counts accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("decoder_blocks"), std::string::npos) << error.what();
  }
  auto json = NafnetArchitecture().to_json();
  json.erase("width");
  EXPECT_THROW(NafnetArchitecture::from_json(json), std::invalid_argument);
}

TEST(Architecture, ParsesBlockLists) {
  EXPECT_EQ(parse_block_list("2,2,4,8", "--enc"), (std::vector<int>{2, 2, 4, 8}));
  EXPECT_THROW(parse_block_list("2,x", "--enc"), std::invalid_argument);
  EXPECT_THROW(parse_block_list("2,,4", "--enc"), std::invalid_argument);
  EXPECT_THROW(parse_block_list("", "--enc"), std::invalid_argument);
}

}  // namespace
}  // namespace ern

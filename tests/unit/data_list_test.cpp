// scripts/data-split.tsv: every listed photograph is present as listed, the splits are disjoint,
// the reserved evaluation package is never used, and the training set is large enough.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/image_header.h"
#include "common/image_io.h"
#include "common/sha256.h"
#include "tests/test_support.h"

namespace ern {
namespace {

struct Entry {
  std::string split, package, source, name, sha256, why;
};

std::vector<Entry> read_data_list() {
  std::ifstream in(test::source_dir() / "scripts" / "data-split.tsv");
  EXPECT_TRUE(in.good());
  std::vector<Entry> entries;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream stream(line);
    for (std::string field; std::getline(stream, field, '\t');) fields.push_back(field);
    EXPECT_EQ(fields.size(), 6u) << line;
    if (fields.size() != 6) continue;
    entries.push_back({fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]});
  }
  return entries;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(DataList, SplitsAreKnownDisjointAndNonEmpty) {
  const auto entries = read_data_list();
  std::map<std::string, int> per_split;
  std::set<std::string> sources, names;
  for (const auto& entry : entries) {
    EXPECT_TRUE(entry.split == "train" || entry.split == "val" || entry.split == "holdout")
        << entry.split;
    ++per_split[entry.split];
    // A source in two rows would put one photograph in two splits (or twice in one).
    EXPECT_TRUE(sources.insert(entry.source).second) << entry.source << " is listed twice";
    EXPECT_TRUE(names.insert(entry.name).second) << entry.name << " is listed twice";
    EXPECT_FALSE(entry.why.empty()) << entry.name << ": no reason given";
    EXPECT_EQ(entry.sha256.size(), 64u) << entry.name;
  }
  EXPECT_GE(per_split["train"], 30);
  EXPECT_GE(per_split["val"], 5);
  EXPECT_GE(per_split["holdout"], 5);
}

TEST(DataList, ReservedEvaluationPackageIsNeverUsed) {
  for (const auto& entry : read_data_list()) {
    EXPECT_EQ(entry.package.find("mate-backgrounds"), std::string::npos) << entry.name;
    EXPECT_EQ(entry.source.find("/backgrounds/mate/"), std::string::npos) << entry.source;
  }
}

TEST(DataList, EverySourceExistsWithItsListedContent) {
  double megapixels = 0;
  for (const auto& entry : read_data_list()) {
    ASSERT_TRUE(std::filesystem::is_regular_file(entry.source))
        << entry.source << " (package " << entry.package << ")";
    const std::string bytes = read_bytes(entry.source);
    EXPECT_EQ(sha256_hex(bytes), entry.sha256) << entry.source;
    const auto size = peek_image_dimensions(bytes, image_format(bytes));
    EXPECT_GE(std::min(size.width, size.height), 256) << entry.source;
    megapixels += static_cast<double>(size.width * size.height) / 1e6;
  }
  // Sources before downscaling; the issue asks for 50 MP or more of photographs.
  EXPECT_GE(megapixels, 50.0);
}

}  // namespace
}  // namespace ern

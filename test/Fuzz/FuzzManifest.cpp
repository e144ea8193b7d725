//===- FuzzManifest.cpp - libFuzzer target: the artifact manifest ---------===//
//
// The bytes are a manifest. The target wraps them in a well-formed artifact
// (header, section table and checksums right, empty code and weights), so
// every input reaches the manifest reader, and opens it for inspection.
//
//===----------------------------------------------------------------------===//

#include "InspectBytes.h"

#include "qnext/ArtifactFormat.h"

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace qnext::artifact;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint64_t manifestAt = kSectionAlignment;
  const uint64_t end = (manifestAt + size + kSectionAlignment - 1) /
                       kSectionAlignment * kSectionAlignment;
  std::vector<uint8_t> file(end, 0);
  std::memcpy(file.data() + manifestAt, data, size);
  Section table[3] = {};
  std::strcpy(table[0].name, "manifest");
  table[0].offset = manifestAt;
  table[0].size = size;
  table[0].checksum = XXH3_64bits(data, size);
  std::strcpy(table[1].name, "code");
  std::strcpy(table[2].name, "weights");
  for (int i = 1; i < 3; ++i) {
    table[i].offset = end;
    table[i].checksum = XXH3_64bits(nullptr, 0);
  }
  Header header = {};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kVersion;
  header.sectionCount = 3;
  header.fileSize = end;
  header.tableChecksum = XXH3_64bits(table, sizeof table);
  std::memcpy(file.data(), &header, sizeof header);
  std::memcpy(file.data() + sizeof header, table, sizeof table);

  inspectBytes(file.data(), file.size());
  return 0;
}

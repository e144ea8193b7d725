//===- qnext-reseal.cpp - recompute the checksums of a .qnx file ----------===//
//
// A test utility: `qnext-reseal FILE` rewrites, in place, the header's file
// size, every section's checksum and the section table's checksum, so that a
// test can change an artifact's bytes (a manifest that lies, a code section
// that is not qnext's) and still reach the checks behind the checksums, as
// someone writing a hostile file would. The bad-input table and the artifact
// fuzzer's seeds use it.
//
//===----------------------------------------------------------------------===//

#include "qnext/ArtifactFormat.h"

#include <xxhash.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

using namespace qnext::artifact;

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: qnext-reseal FILE.qnx\n");
    return 2;
  }
  std::vector<char> file;
  {
    std::ifstream in(argv[1], std::ios::binary);
    file.assign(std::istreambuf_iterator<char>(in), {});
  }
  Header header;
  if (file.size() < sizeof header) {
    std::fprintf(stderr, "qnext-reseal: %s: shorter than a header\n", argv[1]);
    return 1;
  }
  std::memcpy(&header, file.data(), sizeof header);
  if (header.sectionCount > kMaxSections ||
      sizeof header + header.sectionCount * sizeof(Section) > file.size()) {
    std::fprintf(stderr, "qnext-reseal: %s: bad section count\n", argv[1]);
    return 1;
  }
  std::vector<Section> table(header.sectionCount);
  std::memcpy(table.data(), file.data() + sizeof header, table.size() * sizeof(Section));
  for (Section &s : table) {
    if (s.offset > file.size() || s.size > file.size() - s.offset) {
      std::fprintf(stderr, "qnext-reseal: %s: a section lies outside the file\n", argv[1]);
      return 1;
    }
    s.checksum = XXH3_64bits(file.data() + s.offset, s.size);
  }
  header.fileSize = file.size();
  header.tableChecksum = XXH3_64bits(table.data(), table.size() * sizeof(Section));
  std::memcpy(file.data(), &header, sizeof header);
  std::memcpy(file.data() + sizeof header, table.data(), table.size() * sizeof(Section));
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  out.write(file.data(), std::streamsize(file.size()));
  return out ? 0 : 1;
}

//===- FuzzManifest.cpp - libFuzzer target: the artifact manifest ---------===//
//
// The bytes are a manifest. The target wraps them in a well-formed artifact
// (header, section table and checksums right, empty code and weights), so
// every input reaches the manifest reader, and opens it for inspection.
//
//===----------------------------------------------------------------------===//

#include "qnext/ArtifactFormat.h"
#include "qnext/Runtime.h"

#include <sys/mman.h>
#include <unistd.h>
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

  int fd = memfd_create("qnext-fuzz", MFD_CLOEXEC);
  if (fd < 0)
    return 0;
  if (write(fd, file.data(), file.size()) != ssize_t(file.size())) {
    close(fd);
    return 0;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  char *error = nullptr;
  if (qnext_model *model = qnext_model_inspect(path.c_str(), &error))
    qnext_model_close(model);
  else
    qnext_free_error(error);
  close(fd);
  return 0;
}

/*===- ArtifactFormat.h - the .qnx file layout ------------------*- C++ -*-===*
 *
 * Shared by the compiler's writer and the runtime's reader (plain C++, no
 * LLVM). docs/artifact.md describes the format in prose.
 *
 *   [header, 64 bytes][section table][sections, each 4096-byte aligned]
 *
 * All integers are little-endian. Sections: "manifest" (JSON), "code" (an
 * ELF shared object), "weights" (the packed weights, mmap'd in place).
 *===----------------------------------------------------------------------===*/

#ifndef QNEXT_RUNTIME_ARTIFACTFORMAT_H
#define QNEXT_RUNTIME_ARTIFACTFORMAT_H

#include <cstdint>
#include <cstring>

namespace qnext::artifact {

constexpr char kMagic[8] = {'Q', 'N', 'E', 'X', 'T', 'A', 'R', 'T'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kSectionAlignment = 4096;
constexpr uint32_t kMaxSections = 16;

struct Header {
  char magic[8];          ///< kMagic
  uint32_t version;       ///< kVersion
  uint32_t sectionCount;  ///< entries in the section table
  uint64_t fileSize;      ///< the whole file, for truncation checks
  uint64_t tableChecksum; ///< XXH3-64 of the section table
  uint8_t reserved[32];
};
static_assert(sizeof(Header) == 64, "header is 64 bytes");

struct Section {
  char name[16];     ///< NUL-padded: "manifest", "code", "weights"
  uint64_t offset;   ///< from the start of the file, kSectionAlignment-aligned
  uint64_t size;     ///< bytes
  uint64_t checksum; ///< XXH3-64 of the section's bytes
  uint64_t reserved;
};
static_assert(sizeof(Section) == 48, "section entries are 48 bytes");

inline bool sectionNamed(const Section &s, const char *name) {
  return std::strncmp(s.name, name, sizeof(s.name)) == 0;
}

} // namespace qnext::artifact

#endif // QNEXT_RUNTIME_ARTIFACTFORMAT_H

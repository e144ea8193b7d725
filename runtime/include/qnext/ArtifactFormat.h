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
#include <string>
#include <vector>

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

/// What the code assumes of the buffers its caller passes: the sizes it was
/// compiled for. The code exports it as the NUL-terminated string
/// `qnext_abi` (kABISymbol); before it loads the code the runtime makes the
/// same record from the manifest and refuses the artifact when they differ.
/// A manifest that lies about a size (the vocabulary, a state's shape, the
/// weights) is then refused instead of sizing a buffer the code overruns.
struct ABI {
  std::string kind;    ///< "cpu" (host buffers) or "cuda" (device buffers)
  int64_t vocab = 0;   ///< columns of the logits
  uint64_t weights = 0; ///< bytes of the packed weights
  std::vector<std::vector<int64_t>> states; ///< f32 elements; -1: the capacity
  int64_t tapRows = 0, tapHidden = 0;       ///< the taps entry point, or 0
  /// With the MTP head: the width of the hidden rows prefill, decode and
  /// decode_batch return and the `mtp` entry takes; 0 without one.
  int64_t mtpHidden = 0;
};

constexpr const char *kABISymbol = "qnext_abi";

/// "qnext-abi 1 cpu vocab=512 weights=2809920 states=3x256,2x-1x64 taps=0x0".
inline std::string abiRecord(const ABI &abi) {
  std::string r = "qnext-abi 1 " + abi.kind + " vocab=" + std::to_string(abi.vocab) +
                  " weights=" + std::to_string(abi.weights) + " states=";
  for (size_t i = 0; i < abi.states.size(); ++i) {
    if (i)
      r += ',';
    for (size_t d = 0; d < abi.states[i].size(); ++d)
      r += (d ? "x" : "") + std::to_string(abi.states[i][d]);
  }
  r += " taps=" + std::to_string(abi.tapRows) + "x" + std::to_string(abi.tapHidden);
  if (abi.mtpHidden)
    r += " mtp=" + std::to_string(abi.mtpHidden);
  return r;
}

} // namespace qnext::artifact

#endif // QNEXT_RUNTIME_ARTIFACTFORMAT_H

//===- CPUFeatures.h - which x86-64 instruction sets this CPU runs -*- C++ -*-===//
//
// An artifact's manifest records every instruction-set feature its code may
// use, spelled as LLVM spells them ("avx512f", "amx-tile", "sse4.1"). Before
// the runtime loads the code it asks CPUID (and XGETBV, for the register
// state the OS saves) about exactly those features: no /proc/cpuinfo and no
// table of spellings. A feature the table below does not know cannot be
// checked, and so refuses the artifact.
//
// The compiler uses the same table: it records a feature only if it is an
// instruction set here, skips LLVM's tuning and code-generation preferences
// (isCodeGenPreference), and refuses any other feature; a unit test walks
// every feature LLVM's X86 target has, so a newer LLVM cannot add one that
// slips through unchecked.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_CPUFEATURES_H
#define QNEXT_CPUFEATURES_H

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace qnext::cpu {

/// Register state an instruction set needs the OS to save (XCR0 bits).
enum class State : uint8_t {
  None,   ///< general-purpose registers only
  AVX,    ///< XMM and YMM (XCR0 bits 1-2)
  AVX512, ///< AVX plus opmask and ZMM (bits 5-7)
  AMX,    ///< tile configuration and data (bits 17-18)
  APX,    ///< the extended general-purpose registers (bit 19)
};

/// Where CPUID reports one instruction-set feature.
struct Feature {
  const char *name;      ///< LLVM's spelling
  uint32_t leaf;         ///< CPUID leaf (EAX)
  uint32_t subleaf;      ///< CPUID subleaf (ECX)
  uint8_t reg;           ///< 0 EAX, 1 EBX, 2 ECX, 3 EDX
  uint8_t bit;           ///< bit in that register
  State state;           ///< register state the OS must save
  uint8_t avx10Version;  ///< AVX10: the version leaf 0x24 must report (else 0)
};

/// Every x86-64 instruction-set feature qnext can check, in LLVM's spelling.
const std::vector<Feature> &instructionSetFeatures();
/// The entry for `name`, or null.
const Feature *findFeature(std::string_view name);
/// LLVM features that change how code is generated but not which instructions
/// the CPU needs: processor modes, security hardening, code-generation
/// preferences. (Tuning features, which LLVM lists per processor, are
/// recognised by the compiler from LLVM's own tables.)
bool isCodeGenPreference(std::string_view name);

/// The registers CPUID returns for (leaf, subleaf): EAX, EBX, ECX, EDX.
using Registers = std::array<uint32_t, 4>;
/// A CPUID: the real instruction, or a simulated CPU in tests.
struct CPUID {
  std::function<Registers(uint32_t leaf, uint32_t subleaf)> query;
  uint64_t xcr0 = 0; ///< XGETBV(0); 0 where OSXSAVE is off
};

/// This CPU (the CPUID instruction and XGETBV).
CPUID hostCPUID();

/// The features of one CPU, as a set of LLVM names.
class FeatureSet {
public:
  /// Every feature of instructionSetFeatures() that `cpuid` reports, with its
  /// register state enabled by the OS.
  static FeatureSet detect(const CPUID &cpuid);
  /// This CPU, less the comma-separated names in QNEXT_HIDE_CPU_FEATURES (a
  /// test's way to simulate an older CPU: it can only hide, never add).
  static const FeatureSet &host();

  bool has(std::string_view name) const;
  void remove(std::string_view name);
  const std::vector<std::string> &names() const { return present; }

private:
  std::vector<std::string> present;
};

/// What stops code that needs `required` (LLVM's "+a,+b,-c" or "a,b"; the
/// "-" entries are ignored) from running on a CPU with `cpu`.
struct Verdict {
  std::vector<std::string> missing; ///< known features this CPU lacks
  std::vector<std::string> unknown; ///< features qnext cannot check
  bool usesAMX = false;             ///< needs AMX tiles (see requestAMXPermission)
  bool ok() const { return missing.empty() && unknown.empty(); }
  /// "lacks avx512f, avx512bw" / "needs features qnext cannot check: x".
  std::string describe() const;
};
Verdict check(std::string_view required, const FeatureSet &cpu);

/// Code using AMX tiles needs the kernel's permission (Linux
/// ARCH_REQ_XCOMP_PERM) before its first tile instruction. True where granted
/// or not needed; false with `error` set otherwise.
bool requestAMXPermission(std::string *error);

} // namespace qnext::cpu

#endif // QNEXT_CPUFEATURES_H

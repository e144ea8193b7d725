//===- CPUVariants.h - the CPUs one artifact carries code for ---*- C++ -*-===//
//
// qnext-compile --cpu names the code's target: "host", an LLVM CPU name
// ("x86-64-v4", "znver4"), a name with instruction sets added
// ("x86-64-v4+avx512bf16", or the shorthand "+amx"), a comma-separated list
// of those, or "portable" (x86-64-v3, x86-64-v4 and x86-64-v4+amx). A list
// makes a fat artifact: one code section a CPU, sharing the weights; the
// runtime runs the first variant the CPU can (docs/artifact.md), so the list
// is ordered by how many instruction sets each variant uses, most first.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TARGET_CPUVARIANTS_H
#define QNEXT_TARGET_CPUVARIANTS_H

#include "qnext/Target/CPUObject.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::qnext {

/// One CPU of --cpu.
struct CPUVariant {
  /// As written ("x86-64-v4+amx"); the runtime says it when it picks it.
  std::string name;
  /// The CPU and the instruction sets added to it.
  CPUTargetOptions target;
  /// What code for it may use (describeTarget).
  CPUTargetInfo info;
};

/// The instruction sets "+amx" adds: AMX tiles with bf16 products and the
/// AVX-512 dot products (bf16 and bytes) that every AMX CPU has.
constexpr const char *kAMXShorthand = "+avx512bf16,+avx512vnni,+amx-tile,+amx-bf16";

/// --cpu=portable.
constexpr const char *kPortableCPUs = "x86-64-v4+amx,x86-64-v4,x86-64-v3";

/// Parses --cpu: each entry's CPU name and added features checked (one
/// error naming the entry), the entries ordered by how many instruction sets
/// they use, most first (a stable order among equals). Two entries that use
/// the same instruction sets are an error: the second could never run.
llvm::Expected<std::vector<CPUVariant>> parseCPUVariants(llvm::StringRef spec);

} // namespace mlir::qnext

#endif // QNEXT_TARGET_CPUVARIANTS_H

//===- CodeCache.h - generated code kept between compiles -------*- C++ -*-===//
//
// Optimizing and compiling a model's LLVM module is most of a compile
// (tiny-f32's artifact on an AVX2 VM: 10.3 s compiled, 1.8 s with its code
// from the cache; docs/benchmarks.md), and the module depends only on the
// model's structure and the options, not on its weights: a checkpoint
// compiled again, a fine-tune of the same model, the same model with other
// weights all make the same module. With QNEXT_CODE_CACHE naming a folder,
// qnext-compile keeps each shared object it links there, under a hash
// (XXH3, 128 bits) of everything its bytes depend on, and takes it from
// there when a later compile would make the same one:
//   - the compiler that makes it: a hash of the sources it was built from
//     (cmake/SourceIdentity.cmake; so a build with the sanitizers shares
//     the plain build's entries, and a change to any source makes new
//     ones); the path, size and modification time of the shared libraries
//     its code generation runs in (LLVM's, MLIR's), of the linker it calls
//     (cc, ld) and of the OpenMP runtime it links; so an upgraded toolchain
//     never reads what an earlier one wrote;
//   - the target: the CPU and instruction sets asked for, and the triple,
//     CPU and instruction sets they came to;
//   - the LLVM module as translated from the LLVM dialect (its bitcode),
//     before optimization.
// LLVM's own options on qnext-compile's command line (--help-hidden) can
// change the code without changing the module: a compile given any of them
// does not use the cache (a note says so).
// An entry names its key and carries a hash of its header and code; one
// that does not match (cut short, edited, renamed) is compiled again and
// replaced, with a warning. Entries are written to a temporary name and
// renamed, so compiles running at once share a folder safely. Nothing
// removes entries: the folder is the user's, and its code is run by what
// qnext compiles: it must be no more writable than the compiler itself.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TARGET_CODECACHE_H
#define QNEXT_TARGET_CODECACHE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace llvm {
class Module;
}

namespace mlir::qnext {

struct CPUTargetInfo;
struct CPUTargetOptions;

class CodeCache {
public:
  /// The environment variable that names the folder.
  static constexpr const char *kVariable = "QNEXT_CODE_CACHE";

  /// The cache of $QNEXT_CODE_CACHE, or none when it is unset or empty.
  static std::optional<CodeCache> fromEnvironment();

  explicit CodeCache(std::string folder) : folder(std::move(folder)) {}

  /// The key of `module` (translated, not yet optimized) compiled for the
  /// target of `options` (`info`: what that target came to): 32 hexadecimal
  /// digits (XXH3, 128 bits).
  static std::string key(const llvm::Module &module,
                         const CPUTargetOptions &options,
                         const CPUTargetInfo &info);

  struct Entry {
    std::vector<char> object;             ///< the linked shared object
    std::vector<std::string> libraries;   ///< CPUTargetInfo::libraries
  };

  /// The entry under `key`, or none. An entry that is there but does not
  /// hold what it says is an error (the caller warns, compiles and stores).
  llvm::Expected<std::optional<Entry>> lookup(llvm::StringRef key) const;

  /// Writes `entry` under `key` (temporary name, then rename); creates the
  /// folder when missing.
  llvm::Error store(llvm::StringRef key, const Entry &entry) const;

  const std::string &path() const { return folder; }

private:
  std::string entryPath(llvm::StringRef key) const;
  std::string folder;
};

} // namespace mlir::qnext

#endif // QNEXT_TARGET_CODECACHE_H

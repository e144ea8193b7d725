//===- CodeLoader.h - an artifact's code, loaded -----------------*- C++ -*-===//
//
// The code section is a shared object; dlopen takes it from an anonymous
// memory file (nothing is written to disk), or with QNEXT_CODE_DIR set from
// a file in that folder that stays, named by the code's hash, for perf, gdb
// and llvm-nm, which cannot read a memory file after the run.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_CODELOADER_H
#define QNEXT_RUNTIME_CODELOADER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace qnext::runtime {

class LoadedCode {
public:
  LoadedCode() = default;
  LoadedCode(const LoadedCode &) = delete;
  LoadedCode &operator=(const LoadedCode &) = delete;
  ~LoadedCode();

  /// Loads `size` bytes of shared object; false with `why` set (no file name
  /// in it: the caller's).
  bool load(const uint8_t *code, size_t size, std::string &why);
  /// A symbol of the loaded code, or null.
  void *symbol(const char *name) const;

private:
  void *library = nullptr;
  /// The memory file the code was loaded from, open while the code is:
  /// dlopen knows a library by its path, and "/proc/self/fd/N" names another
  /// model's code once N is reused (a second model in the process would run
  /// the first one's code).
  int fd = -1;
};

} // namespace qnext::runtime

#endif // QNEXT_RUNTIME_CODELOADER_H

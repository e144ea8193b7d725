//===- KernelProfile.h - time per kernel, from instrumented code -*- C++ -*-===//
//
// Code compiled with qnext-compile --profile-kernels calls the pointer
// `qnext_kernel_hook(id, 0)` before each kernel and each layer and
// `(id, 1)` after it, and carries the table of their names and the bytes of
// weights each kernel reads (qnext-outline-kernels). While a profile is
// enabled the pointer is this file's hook, which adds up, per entry, the
// calls, the time in it and the time in it but not in the entries it calls
// (a layer's own time is its serial code between kernels).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_KERNELPROFILE_H
#define QNEXT_RUNTIME_KERNELPROFILE_H

#include <cstdint>
#include <string>
#include <vector>

namespace qnext::runtime {

class LoadedCode;

class KernelProfile {
public:
  struct Entry {
    std::string name;
    int64_t weightBytes = 0;   ///< per call, read whole
    int64_t gatheredBytes = 0; ///< per call, the size of those it gathers from
    uint64_t calls = 0;
    double seconds = 0;     ///< in it, the entries it calls included
    double selfSeconds = 0; ///< in it, not in the entries it calls
  };

  ~KernelProfile();

  /// Reads the code's table; false (and no profile) when the code has none
  /// or it is malformed.
  bool attach(const LoadedCode &code);
  bool available() const { return hook != nullptr; }
  /// Starts or stops timing. One profile at a time in a process: enabling
  /// fails while another is.
  bool enable(bool on);
  void reset();
  const std::vector<Entry> &entries() const { return table; }

private:
  static void onHook(int32_t id, int32_t end);

  void **hook = nullptr; ///< the code's qnext_kernel_hook
  std::vector<Entry> table;
  struct Open {
    int32_t id;
    int64_t start; ///< steady clock, ns
    int64_t inner; ///< ns spent in the entries it called
  };
  std::vector<Open> open;
};

} // namespace qnext::runtime

#endif // QNEXT_RUNTIME_KERNELPROFILE_H

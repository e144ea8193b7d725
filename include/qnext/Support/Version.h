//===- Version.h - what --version prints for the compiler tools -*- C++ -*-===//
//
// qnext-compile, qnext-opt and qnext-synth print qnext's version, the git
// revision built (qnext/VersionInfo.h, generated at every build by
// cmake/VersionInfo.cmake), the LLVM/MLIR they were built with and the
// targets qnext generates code for; LLVM's own --version text is replaced.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_SUPPORT_VERSION_H
#define QNEXT_SUPPORT_VERSION_H

#include "qnext/ArtifactFormat.h"
#include "qnext/VersionInfo.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <string>

namespace qnext {

/// Makes --version print qnext's version for `tool`.
inline void setVersionPrinter(const char *tool) {
  static std::string name;
  name = tool;
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << name << " " << QNEXT_VERSION << " (git " << QNEXT_GIT_REVISION << ")\n"
       << "  built with LLVM/MLIR " << LLVM_VERSION_STRING << "\n"
       << "  targets: cpu (x86-64, --cpu=host or an LLVM CPU name; this machine: "
       << llvm::sys::getHostCPUName() << "), cuda (NVIDIA GPUs through NVPTX, "
       << "--gpu-arch=sm_XX)\n"
       << "  artifact format: " << ::qnext::artifact::kVersion << "\n";
  });
}

} // namespace qnext

#endif // QNEXT_SUPPORT_VERSION_H

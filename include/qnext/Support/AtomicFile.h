//===- AtomicFile.h - outputs that appear whole or not at all ---*- C++ -*-===//
//
// Files the model tools write (checkpoints, exported weights) go through a
// temporary file beside the destination, renamed into place only when every
// byte is written: a failure (full disk, bad input found midway) leaves
// whatever was there before.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_SUPPORT_ATOMICFILE_H
#define QNEXT_SUPPORT_ATOMICFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace qnext {

/// Writes `contents(os)` to `path` through a temporary file in the same
/// folder, renamed into place only when complete; an error from `contents`
/// or from writing names `path` and leaves no file behind.
llvm::Error writeAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> contents);

} // namespace qnext

#endif // QNEXT_SUPPORT_ATOMICFILE_H

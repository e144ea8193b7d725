//===- AtomicFile.cpp - outputs that appear whole or not at all -----------===//

#include "qnext/Support/AtomicFile.h"

#include "llvm/Support/FileSystem.h"

namespace qnext {

llvm::Error writeAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> contents) {
  auto temp = llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return llvm::createStringError(path.str() + ": " +
                                   llvm::toString(temp.takeError()));
  {
    llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    llvm::Error e = contents(os);
    os.flush();
    if (!e && os.has_error())
      e = llvm::createStringError(path.str() + ": " + os.error().message());
    os.clear_error(); // reported above; kept, the destructor would abort
    if (e) {
      llvm::consumeError(temp->discard());
      return e;
    }
  }
  if (llvm::Error e = temp->keep(path))
    return llvm::createStringError(path.str() + ": " +
                                   llvm::toString(std::move(e)));
  return llvm::Error::success();
}

} // namespace qnext

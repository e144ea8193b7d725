//===- ProgressLine.h - a percentage line on a terminal ---------*- C++ -*-===//
//
// "\rqnext-synth: writing out: 42% of 4799 MiB" on stderr, redrawn when the
// percentage changes, only when stderr is a terminal (logs stay clean).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_SUPPORT_PROGRESSLINE_H
#define QNEXT_SUPPORT_PROGRESSLINE_H

#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>

namespace qnext {

class ProgressLine {
public:
  /// `what` starts the line, e.g. "qnext-synth: writing DIR".
  explicit ProgressLine(std::string what, bool enabled = true)
      : what(std::move(what)),
        shown(enabled && llvm::sys::Process::StandardErrIsDisplayed()) {}

  void operator()(uint64_t done, uint64_t total) {
    int percent = total ? int(done * 100 / total) : 100;
    if (!shown || percent == last)
      return;
    last = percent;
    llvm::errs() << "\r" << what << ": " << percent << "% of " << (total >> 20)
                 << " MiB" << (done == total ? "\n" : "");
  }

private:
  std::string what;
  bool shown;
  int last = -1;
};

} // namespace qnext

#endif // QNEXT_SUPPORT_PROGRESSLINE_H

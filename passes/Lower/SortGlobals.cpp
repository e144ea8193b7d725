//===- SortGlobals.cpp - memref.global ops in a reproducible order --------===//
//
// The contract is in passes/Lower/LowerPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>

namespace mlir::qnext {
#define GEN_PASS_DEF_SORTGLOBALS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {
/// What a global is ordered by: its type, its initial value, its name.
std::string keyOf(memref::GlobalOp global) {
  std::string key;
  llvm::raw_string_ostream os(key);
  os << global.getType() << '\x1f';
  if (std::optional<Attribute> value = global.getInitialValue())
    os << *value;
  os << '\x1f' << global.getSymName();
  return key;
}

struct SortGlobalsPass : mlir::qnext::impl::SortGlobalsBase<SortGlobalsPass> {
  using SortGlobalsBase::SortGlobalsBase;

  void runOnOperation() override {
    Block &body = getOperation().getBodyRegion().front();
    SmallVector<std::pair<std::string, memref::GlobalOp>> globals;
    for (auto global : body.getOps<memref::GlobalOp>())
      globals.emplace_back(keyOf(global), global);
    std::stable_sort(globals.begin(), globals.end(),
                     [](const auto &a, const auto &b) { return a.first < b.first; });
    // Last first, each moved to the start: the module then begins with them
    // in order.
    for (auto &entry : llvm::reverse(globals))
      entry.second->moveBefore(&body, body.begin());
  }
};
} // namespace

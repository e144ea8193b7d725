//===- EntryABI.cpp - tensors in and out -> buffers the caller owns ----===//
//
// The contract is in passes/Lower/LowerPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_ENTRYABI
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

MemRefType bufferType(RankedTensorType type) {
  return MemRefType::get(type.getShape(), type.getElementType());
}

struct EntryABIPass
    : mlir::qnext::impl::EntryABIBase<EntryABIPass> {
  using EntryABIBase::EntryABIBase;

  void runOnOperation() override {
    for (auto func : llvm::to_vector(getOperation().getOps<func::FuncOp>()))
      if (func.isPublic() && !func.isExternal() && failed(convert(func)))
        return signalPassFailure();
  }

  LogicalResult convert(func::FuncOp func) {
    OpBuilder b(func.getContext());
    Block &entry = func.getBody().front();
    auto ret = cast<func::ReturnOp>(entry.getTerminator());
    const unsigned numArgs = func.getNumArguments();

    // Which argument each result writes back into (by qnext.state name).
    SmallVector<int> writesInto(func.getNumResults(), -1);
    SmallVector<bool> written(numArgs, false);
    for (unsigned r = 0; r < func.getNumResults(); ++r) {
      auto name = func.getResultAttrOfType<StringAttr>(r, kStateAttrName);
      if (!name)
        continue;
      for (unsigned a = 0; a < numArgs; ++a)
        if (func.getArgAttrOfType<StringAttr>(a, kStateAttrName) == name &&
            !written[a]) {
          writesInto[r] = a;
          written[a] = true;
          break;
        }
    }

    // Tensor arguments -> memrefs, read through to_tensor.
    b.setInsertionPointToStart(&entry);
    for (unsigned a = 0; a < numArgs; ++a) {
      BlockArgument arg = entry.getArgument(a);
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      if (!type)
        continue;
      arg.setType(bufferType(type));
      Value tensor = bufferization::ToTensorOp::create(
          b, func.getLoc(), type, arg, b.getUnitAttr(),
          written[a] ? b.getUnitAttr() : nullptr);
      arg.replaceAllUsesExcept(tensor, tensor.getDefiningOp());
    }

    // Results -> in-place writes or trailing out-parameters.
    b.setInsertionPoint(ret);
    SmallVector<Type> outTypes;
    SmallVector<DictionaryAttr> outAttrs;
    for (unsigned r = 0; r < func.getNumResults(); ++r) {
      Value value = ret.getOperand(r);
      Value dest;
      if (writesInto[r] >= 0) {
        dest = entry.getArgument(writesInto[r]);
      } else {
        auto type = dyn_cast<RankedTensorType>(value.getType());
        if (!type)
          return func.emitError("qnext-entry-abi: result #")
                 << r << " is not a ranked tensor";
        dest = entry.addArgument(bufferType(type), func.getLoc());
        outTypes.push_back(dest.getType());
        outAttrs.push_back(func.getResultAttrDict(r));
      }
      auto materialize = bufferization::MaterializeInDestinationOp::create(
          b, func.getLoc(), TypeRange{}, value, dest);
      materialize.setRestrict(true);
      materialize.setWritable(true);
    }
    func::ReturnOp::create(b, ret.getLoc());
    ret->erase();

    // The new signature: arguments (now buffers) plus out-parameters.
    SmallVector<Type> inputs(entry.getArgumentTypes());
    SmallVector<DictionaryAttr> argAttrs;
    for (unsigned a = 0; a < numArgs; ++a)
      argAttrs.push_back(func.getArgAttrDict(a));
    argAttrs.append(outAttrs.begin(), outAttrs.end());
    func.setType(FunctionType::get(func.getContext(), inputs, {}));
    func.setAllArgAttrs(argAttrs);
    func.setAllResultAttrs(ArrayRef<DictionaryAttr>{});
    func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    return success();
  }
};

} // namespace

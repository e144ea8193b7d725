//===- OutlineLayers.cpp - each distinct layer compiled once ---------------===//
//
// The contract is in passes/Lower/LowerPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "WeightNames.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_OUTLINELAYERS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

/// A constant is cloned into each function that uses it, so that the
/// functions of equal layers are equal and their shapes stay static.
bool isConstant(Operation *op) { return op && op->hasTrait<OpTrait::ConstantLike>(); }

/// One layer's ops in block order, and the layer.
struct Run {
  LayerAttr layer;
  SmallVector<Operation *> ops;
};

struct OutlineLayersPass
    : mlir::qnext::impl::OutlineLayersBase<OutlineLayersPass> {
  using OutlineLayersBase::OutlineLayersBase;

  /// The functions made so far, to reuse one whose body is the same.
  SmallVector<func::FuncOp> made;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>()))
      if (func.isPublic() && !func.isExternal())
        for (Run &run : runsOf(func))
          outline(symbols, func, run);
  }

  /// The maximal runs of one layer's ops at the top of `func`; a constant
  /// between them does not end a run.
  SmallVector<Run> runsOf(func::FuncOp func) {
    SmallVector<Run> runs;
    for (Operation &op : func.getBody().front()) {
      LayerAttr layer = getLayer(&op);
      if (!layer) {
        if (!isConstant(&op) && !runs.empty() && !runs.back().ops.empty())
          runs.push_back(Run{}); // closes the open run
        continue;
      }
      if (runs.empty() || runs.back().layer != layer)
        runs.push_back(Run{layer, {}});
      runs.back().ops.push_back(&op);
    }
    llvm::erase_if(runs, [](const Run &r) { return r.ops.empty(); });
    return runs;
  }

  void outline(SymbolTable &symbols, func::FuncOp func, const Run &run) {
    // The layer's weights, and what is computed from weights alone (splits,
    // concatenations, reshapes), stay with the caller, which binds them. A
    // qnext.dequantize goes into the function: its kernels read the values
    // and scales.
    llvm::SmallPtrSet<Operation *, 16> weights;
    auto isWeight = [&](Value v) {
      Operation *def = v.getDefiningOp();
      return def && weights.contains(def);
    };
    for (Operation *op : run.ops) {
      bool fromWeights =
          !isa<DequantizeOp>(op) && op->getNumOperands() > 0 &&
          op->getNumRegions() == 0 &&
          isMemoryEffectFree(op) &&
          llvm::any_of(op->getOperands(), isWeight) &&
          llvm::all_of(op->getOperands(), [&](Value v) {
            return isWeight(v) || isConstant(v.getDefiningOp());
          });
      if (isa<ParamOp>(op) || fromWeights)
        weights.insert(op);
    }
    SmallVector<Operation *> body;
    llvm::SmallPtrSet<Operation *, 32> inBody;
    for (Operation *op : run.ops)
      if (!weights.contains(op)) {
        body.push_back(op);
        inBody.insert(op);
      }
    if (body.empty())
      return;

    // Arguments: what the body reads from outside it, in order of first use
    // (constants excepted: cloned). Results: what is read after it.
    llvm::SetVector<Value> reads;
    for (Operation *op : body) {
      reads.insert(op->getOperands().begin(), op->getOperands().end());
      getUsedValuesDefinedAbove(op->getRegions(), reads);
    }
    SmallVector<Value> args;
    SmallVector<Operation *> constants;
    for (Value v : reads) {
      Operation *def = v.getDefiningOp();
      if (def && inBody.contains(def))
        continue;
      if (isConstant(def))
        constants.push_back(def);
      else
        args.push_back(v);
    }
    SmallVector<Value> results;
    for (Operation *op : body)
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *user) {
              return !inBody.contains(
                  func.getBody().front().findAncestorOpInBlock(*user));
            }))
          results.push_back(r);

    // The function, with the layer's ops cloned into it.
    OpBuilder b(func.getContext());
    auto type = b.getFunctionType(ValueRange(args).getTypes(),
                                  ValueRange(results).getTypes());
    Location loc = body.front()->getLoc();
    auto callee = func::FuncOp::create(
        b, loc,
        (func.getName() + ".layers." + Twine(run.layer.getIndex())).str(),
        type);
    callee.setPrivate();
    // The weights it is passed say what they are (kernels are named by
    // them).
    for (auto [i, arg] : llvm::enumerate(args))
      if (isWeight(arg))
        if (std::string name = weightNameOf(arg); !name.empty())
          callee.setArgAttr(i, kWeightAttrName, b.getStringAttr(name));
    Block *entry = callee.addEntryBlock();
    b.setInsertionPointToStart(entry);
    IRMapping mapping;
    mapping.map(args, entry->getArguments());
    for (Operation *c : constants)
      b.clone(*c, mapping);
    for (Operation *op : body)
      b.clone(*op, mapping);
    SmallVector<Value> returned;
    for (Value r : results)
      returned.push_back(mapping.lookup(r));
    func::ReturnOp::create(b, loc, returned);
    // The function, not each op in it, belongs to the layer (and to the
    // equal layers that call it too).
    callee.walk([](Operation *op) { op->removeAttr(kLayerAttrName); });
    callee->setAttr(kLayerAttrName, run.layer);

    // An earlier layer's function with the same body serves this one too.
    func::FuncOp target;
    for (func::FuncOp f : made)
      if (f.getFunctionType() == type &&
          OperationEquivalence::isRegionEquivalentTo(
              &f.getBody(), &callee.getBody(),
              OperationEquivalence::IgnoreLocations)) {
        target = f;
        break;
      }
    if (target) {
      callee.erase();
      ++layersShared;
    } else {
      symbols.insert(callee, Block::iterator(func));
      made.push_back(callee);
      target = callee;
      ++functionsMade;
    }

    // The call, where the layer's last op was; the weights it reads are
    // defined before it.
    b.setInsertionPointAfter(run.ops.back());
    auto call = func::CallOp::create(b, loc, target, args);
    for (auto [r, c] : llvm::zip(results, call.getResults()))
      r.replaceAllUsesWith(c);
    for (Operation *op : llvm::reverse(body))
      op->erase();
    ++layersOutlined;
  }
};

} // namespace

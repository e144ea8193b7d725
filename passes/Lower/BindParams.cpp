//===- BindParams.cpp - parameters -> views of the packed weights ---------===//
//
// The contract is in passes/Passes.td. The plan written to `qnext.weights`
// is what the weight packer executes, so the code and the packed bytes agree
// by construction.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <map>

namespace mlir::qnext {
#define GEN_PASS_DEF_BINDPARAMS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

constexpr int64_t kAlignment = 64;

struct BindParamsPass : mlir::qnext::impl::BindParamsBase<BindParamsPass> {
  using BindParamsBase::BindParamsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(&getContext());
    std::map<std::string, int64_t> offsets; // plan key -> offset
    SmallVector<Attribute> plan;
    int64_t size = 0;

    // The offset of one packed tensor, adding it to the plan when new.
    auto offsetOf = [&](StringRef name, StringRef transform,
                        DictionaryAttr geometry, RankedTensorType type) {
      std::string key = (name + "|" + transform).str();
      auto [it, inserted] = offsets.try_emplace(key, size);
      if (inserted) {
        int64_t bytes = type.getNumElements() *
                        (type.getElementType().getIntOrFloatBitWidth() / 8);
        SmallVector<NamedAttribute> entry = {
            b.getNamedAttr("name", b.getStringAttr(name)),
            b.getNamedAttr("transform", b.getStringAttr(transform)),
            b.getNamedAttr("dtype", TypeAttr::get(type.getElementType())),
            b.getNamedAttr("shape", b.getDenseI64ArrayAttr(type.getShape())),
            b.getNamedAttr("offset", b.getI64IntegerAttr(size)),
            b.getNamedAttr("bytes", b.getI64IntegerAttr(bytes))};
        if (geometry)
          entry.push_back(b.getNamedAttr("geometry", geometry));
        plan.push_back(b.getDictionaryAttr(entry));
        size = (size + bytes + kAlignment - 1) / kAlignment * kAlignment;
      }
      return it->second;
    };
    // bufferization.to_tensor(memref.view %weights[offset]) in place of `old`.
    auto bind = [&](Value old, Value weights, int64_t offset) {
      auto type = cast<RankedTensorType>(old.getType());
      Location loc = old.getLoc();
      Value shift = arith::ConstantIndexOp::create(b, loc, offset);
      auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
      Value view = memref::ViewOp::create(b, loc, memrefType, weights, shift,
                                          ValueRange{});
      Value tensor = bufferization::ToTensorOp::create(
          b, loc, type, view, b.getUnitAttr(), /*writable=*/nullptr);
      old.replaceAllUsesWith(tensor);
    };

    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
      SmallVector<ParamOp> params;
      func.walk([&](ParamOp p) { params.push_back(p); });
      if (params.empty())
        continue;
      auto weightsType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
      if (failed(func.insertArgument(
              0, weightsType,
              b.getDictionaryAttr(
                  b.getNamedAttr("qnext.name", b.getStringAttr("weights"))),
              func.getLoc())))
        return signalPassFailure();
      Value weights = func.getArgument(0);

      for (ParamOp p : params) {
        StringRef name = p.getName();
        // Layout ops on the parameter: the packer applies them once.
        for (Operation *user : llvm::make_early_inc_range(p->getUsers())) {
          b.setInsertionPoint(user);
          if (auto split = dyn_cast<SplitQKVZOp>(user)) {
            DictionaryAttr geometry = b.getDictionaryAttr(
                {b.getNamedAttr("num_key_heads", split.getNumKeyHeadsAttr()),
                 b.getNamedAttr("num_value_heads", split.getNumValueHeadsAttr()),
                 b.getNamedAttr("key_head_dim", split.getKeyHeadDimAttr()),
                 b.getNamedAttr("value_head_dim", split.getValueHeadDimAttr())});
            bind(split.getQkv(), weights,
                 offsetOf(name, "qkvz.qkv", geometry, split.getQkv().getType()));
            bind(split.getZ(), weights,
                 offsetOf(name, "qkvz.z", geometry, split.getZ().getType()));
            split->erase();
          } else if (auto split = dyn_cast<SplitBAOp>(user)) {
            DictionaryAttr geometry = b.getDictionaryAttr(
                {b.getNamedAttr("num_key_heads", split.getNumKeyHeadsAttr()),
                 b.getNamedAttr("num_value_heads", split.getNumValueHeadsAttr())});
            bind(split.getB(), weights,
                 offsetOf(name, "ba.b", geometry, split.getB().getType()));
            bind(split.getA(), weights,
                 offsetOf(name, "ba.a", geometry, split.getA().getType()));
            split->erase();
          }
        }
        if (!p->use_empty()) {
          b.setInsertionPoint(p);
          bind(p.getResult(), weights,
               offsetOf(name, "none", nullptr, p.getType()));
        }
        p->erase();
      }
    }
    module->setAttr("qnext.weights", b.getArrayAttr(plan));
    module->setAttr("qnext.weights_size", b.getI64IntegerAttr(size));
  }
};

} // namespace

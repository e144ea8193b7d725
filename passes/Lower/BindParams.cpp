//===- BindParams.cpp - parameters -> views of the packed weights ---------===//
//
// The contract is in passes/Lower/LowerPasses.td. The plan written to
// `qnext.weights` is what the weight packer executes, so the code and the
// packed bytes agree by construction.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringExtras.h"

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

    // What the packer does to produce `value`, a parameter or one result of
    // a split of one, as a plan entry without its place.
    auto sourceOf = [&](Value value) -> WeightAttr {
      Operation *def = value.getDefiningOp();
      auto type = cast<RankedTensorType>(value.getType());
      // A block scale's rows, from its parameter (through a split).
      int64_t blockRows = 0;
      QuantizeAttr quantize;
      ParamOp root = dyn_cast_or_null<ParamOp>(def);
      if (isa_and_nonnull<SplitQKVZOp, SplitBAOp>(def))
        root = def->getOperand(0).getDefiningOp<ParamOp>();
      if (root) {
        blockRows = root.getBlockRows().value_or(0);
        quantize = root.getQuantizeAttr();
      }
      auto entry = [&](StringRef name, WeightTransform transform,
                       int64_t numKeyHeads = 0, int64_t numValueHeads = 0,
                       int64_t keyHeadDim = 0, int64_t valueHeadDim = 0) {
        return WeightAttr::get(b.getContext(), name, type, transform,
                               numKeyHeads, numValueHeads, keyHeadDim,
                               valueHeadDim, /*dim=*/0, /*parts=*/nullptr,
                               /*offset=*/-1, /*bytes=*/-1, blockRows, quantize);
      };
      if (auto p = dyn_cast_or_null<ParamOp>(def))
        return entry(p.getName(), WeightTransform::None);
      auto param = [](Value w) { return w.getDefiningOp<ParamOp>(); };
      if (auto split = dyn_cast_or_null<SplitQKVZOp>(def)) {
        if (!param(split.getWeight()))
          return nullptr;
        return entry(param(split.getWeight()).getName(),
                     value == split.getQkv() ? WeightTransform::QKVZToQKV
                                             : WeightTransform::QKVZToZ,
                     split.getNumKeyHeads(), split.getNumValueHeads(),
                     split.getKeyHeadDim(), split.getValueHeadDim());
      }
      if (auto split = dyn_cast_or_null<SplitBAOp>(def)) {
        if (!param(split.getWeight()))
          return nullptr;
        return entry(param(split.getWeight()).getName(),
                     value == split.getB() ? WeightTransform::BAToB
                                           : WeightTransform::BAToA,
                     split.getNumKeyHeads(), split.getNumValueHeads());
      }
      return nullptr;
    };
    // The offset of one packed tensor (`key` identifies it), adding `entry`,
    // placed, to the plan when new.
    auto offsetOf = [&](const std::string &key, WeightAttr entry) {
      auto [it, inserted] = offsets.try_emplace(key, size);
      if (inserted) {
        RankedTensorType type = entry.getType();
        int64_t bytes =
            type.getNumElements() * (type.getElementTypeBitWidth() / 8);
        plan.push_back(WeightAttr::get(
            b.getContext(), entry.getName(), type, entry.getTransform(),
            entry.getNumKeyHeads(), entry.getNumValueHeads(),
            entry.getKeyHeadDim(), entry.getValueHeadDim(), entry.getDim(),
            entry.getParts(), size, bytes, entry.getBlockRows(),
            entry.getQuantize()));
        size = (size + bytes + kAlignment - 1) / kAlignment * kAlignment;
      }
      return it->second;
    };
    // (A quantized weight's values and scales come from one tensor.)
    auto keyOf = [](WeightAttr entry) {
      std::string part;
      if (QuantizeAttr q = entry.getQuantize())
        part = "|" + stringifyQuantPart(q.getPart()).str();
      return (entry.getName() + "|" +
              stringifyWeightTransform(entry.getTransform()) + part)
          .str();
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
      SmallVector<ConcatWeightsOp> concats;
      func.walk([&](ParamOp p) { params.push_back(p); });
      func.walk([&](ConcatWeightsOp c) { concats.push_back(c); });
      if (params.empty())
        continue;
      auto weightsType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
      if (failed(func.insertArgument(
              0, weightsType,
              b.getDictionaryAttr(
                  b.getNamedAttr(kNameAttrName, b.getStringAttr("weights"))),
              func.getLoc())))
        return signalPassFailure();
      Value weights = func.getArgument(0);

      // Concatenations first: one packed tensor each, made of its parts.
      for (ConcatWeightsOp concat : concats) {
        SmallVector<Attribute> parts;
        SmallVector<std::string> names, keys;
        for (Value part : concat.getParts()) {
          WeightAttr source = sourceOf(part);
          if (!source) {
            concat.emitOpError("part is not a qnext.param or a split of one; "
                               "the weight packer cannot produce it");
            return signalPassFailure();
          }
          parts.push_back(source);
          names.push_back(source.getName().str());
          keys.push_back(keyOf(source));
        }
        // Block scales side by side are block scales (the packer expands
        // each part by its own block_rows).
        // So are a quantized weight's parts (each quantized by its own).
        int64_t blockRows = cast<WeightAttr>(parts.front()).getBlockRows();
        QuantizeAttr quantize = cast<WeightAttr>(parts.front()).getQuantize();
        for (Attribute part : parts) {
          if (cast<WeightAttr>(part).getBlockRows() != blockRows)
            blockRows = 0;
          if (cast<WeightAttr>(part).getQuantize() != quantize)
            quantize = nullptr;
        }
        auto entry = WeightAttr::get(
            b.getContext(), llvm::join(names, "+"),
            cast<RankedTensorType>(concat.getType()), WeightTransform::Concat,
            0, 0, 0, 0, concat.getDim(), b.getArrayAttr(parts), -1, -1, blockRows,
            quantize);
        b.setInsertionPoint(concat);
        bind(concat.getResult(), weights,
             offsetOf(llvm::join(keys, "+") + "|concat" +
                          std::to_string(concat.getDim()),
                      entry));
        concat->erase();
      }

      for (ParamOp p : params) {
        // Layout ops on the parameter: the packer applies them once. A
        // result nothing reads any more (its projection was fused) is not
        // packed.
        for (Operation *user : llvm::make_early_inc_range(p->getUsers())) {
          if (!isa<SplitQKVZOp, SplitBAOp>(user))
            continue;
          b.setInsertionPoint(user);
          for (Value result : user->getResults())
            if (!result.use_empty()) {
              WeightAttr source = sourceOf(result);
              bind(result, weights, offsetOf(keyOf(source), source));
            }
          user->erase();
        }
        if (!p->use_empty()) {
          b.setInsertionPoint(p);
          WeightAttr source = sourceOf(p.getResult());
          bind(p.getResult(), weights, offsetOf(keyOf(source), source));
        }
        p->erase();
      }
    }
    module->setAttr(kWeightsAttrName, b.getArrayAttr(plan));
    module->setAttr(kWeightsSizeAttrName, b.getI64IntegerAttr(size));
  }
};

} // namespace

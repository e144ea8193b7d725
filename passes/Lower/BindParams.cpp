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
    // a split of one: its checkpoint name, transform and geometry.
    struct Source {
      std::string name, transform;
      DictionaryAttr geometry;
    };
    auto sourceOf = [&](Value value) -> std::optional<Source> {
      Operation *def = value.getDefiningOp();
      if (auto p = dyn_cast_or_null<ParamOp>(def))
        return Source{p.getName().str(), "none", nullptr};
      auto param = [](Value w) { return w.getDefiningOp<ParamOp>(); };
      if (auto split = dyn_cast_or_null<SplitQKVZOp>(def)) {
        if (!param(split.getWeight()))
          return std::nullopt;
        return Source{
            param(split.getWeight()).getName().str(),
            value == split.getQkv() ? "qkvz.qkv" : "qkvz.z",
            b.getDictionaryAttr(
                {b.getNamedAttr("num_key_heads", split.getNumKeyHeadsAttr()),
                 b.getNamedAttr("num_value_heads", split.getNumValueHeadsAttr()),
                 b.getNamedAttr("key_head_dim", split.getKeyHeadDimAttr()),
                 b.getNamedAttr("value_head_dim", split.getValueHeadDimAttr())})};
      }
      if (auto split = dyn_cast_or_null<SplitBAOp>(def)) {
        if (!param(split.getWeight()))
          return std::nullopt;
        return Source{
            param(split.getWeight()).getName().str(),
            value == split.getB() ? "ba.b" : "ba.a",
            b.getDictionaryAttr(
                {b.getNamedAttr("num_key_heads", split.getNumKeyHeadsAttr()),
                 b.getNamedAttr("num_value_heads", split.getNumValueHeadsAttr())})};
      }
      return std::nullopt;
    };
    // The plan entry of one tensor, without its place.
    auto entryOf = [&](StringRef name, StringRef transform,
                       DictionaryAttr geometry, RankedTensorType type) {
      SmallVector<NamedAttribute> entry = {
          b.getNamedAttr("name", b.getStringAttr(name)),
          b.getNamedAttr("transform", b.getStringAttr(transform)),
          b.getNamedAttr("dtype", TypeAttr::get(type.getElementType())),
          b.getNamedAttr("shape", b.getDenseI64ArrayAttr(type.getShape()))};
      if (geometry)
        entry.push_back(b.getNamedAttr("geometry", geometry));
      return entry;
    };
    // The offset of one packed tensor (`key` identifies it), adding `entry`
    // to the plan when new.
    auto offsetOf = [&](const std::string &key,
                        SmallVector<NamedAttribute> entry,
                        RankedTensorType type) {
      auto [it, inserted] = offsets.try_emplace(key, size);
      if (inserted) {
        int64_t bytes = type.getNumElements() *
                        (type.getElementType().getIntOrFloatBitWidth() / 8);
        entry.push_back(b.getNamedAttr("offset", b.getI64IntegerAttr(size)));
        entry.push_back(b.getNamedAttr("bytes", b.getI64IntegerAttr(bytes)));
        plan.push_back(b.getDictionaryAttr(entry));
        size = (size + bytes + kAlignment - 1) / kAlignment * kAlignment;
      }
      return it->second;
    };
    auto sourceOffset = [&](const Source &s, RankedTensorType type) {
      return offsetOf(s.name + "|" + s.transform,
                      entryOf(s.name, s.transform, s.geometry, type), type);
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
                  b.getNamedAttr("qnext.name", b.getStringAttr("weights"))),
              func.getLoc())))
        return signalPassFailure();
      Value weights = func.getArgument(0);

      // Concatenations first: one packed tensor each, made of its parts.
      for (ConcatWeightsOp concat : concats) {
        SmallVector<Attribute> parts;
        SmallVector<std::string> names, keys;
        for (Value part : concat.getParts()) {
          std::optional<Source> s = sourceOf(part);
          if (!s) {
            concat.emitOpError("part is not a qnext.param or a split of one; "
                               "the weight packer cannot produce it");
            return signalPassFailure();
          }
          parts.push_back(b.getDictionaryAttr(entryOf(
              s->name, s->transform, s->geometry,
              cast<RankedTensorType>(part.getType()))));
          names.push_back(s->name);
          keys.push_back(s->name + "|" + s->transform);
        }
        auto type = cast<RankedTensorType>(concat.getType());
        SmallVector<NamedAttribute> entry =
            entryOf(llvm::join(names, "+"), "concat", nullptr, type);
        entry.push_back(b.getNamedAttr("parts", b.getArrayAttr(parts)));
        entry.push_back(b.getNamedAttr("dim", concat.getDimAttr()));
        b.setInsertionPoint(concat);
        bind(concat.getResult(), weights,
             offsetOf(llvm::join(keys, "+") + "|concat" +
                          std::to_string(concat.getDim()),
                      entry, type));
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
            if (!result.use_empty())
              bind(result, weights,
                   sourceOffset(*sourceOf(result),
                                cast<RankedTensorType>(result.getType())));
          user->erase();
        }
        if (!p->use_empty()) {
          b.setInsertionPoint(p);
          bind(p.getResult(), weights,
               sourceOffset(*sourceOf(p.getResult()), p.getType()));
        }
        p->erase();
      }
    }
    module->setAttr("qnext.weights", b.getArrayAttr(plan));
    module->setAttr("qnext.weights_size", b.getI64IntegerAttr(size));
  }
};

} // namespace

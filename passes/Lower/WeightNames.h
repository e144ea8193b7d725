//===- WeightNames.h - what a weight is called in a kernel's name -*- C++ -*-===//
//
// Internal to passes/Lower: the short name of the weight a value is (its
// checkpoint name without the layer prefix: "in_proj_qkvz",
// "experts.gate_proj", "o_proj"), which qnext-outline-layers records on the
// layer functions' arguments (`qnext.weight`) and qnext-lower-to-linalg puts
// in the locations of what it lowers, so that the kernels can be named by
// what they compute (qnext-outline-kernels).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_LOWER_WEIGHTNAMES_H
#define QNEXT_PASSES_LOWER_WEIGHTNAMES_H

#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include "llvm/ADT/StringExtras.h"

namespace mlir::qnext {

/// "model.layers.3.linear_attn.in_proj_qkvz.weight" -> "in_proj_qkvz";
/// "model.language_model.layers.0.mlp.experts.{e}.gate_proj.weight" ->
/// "experts.gate_proj"; "lm_head.weight" -> "lm_head".
inline std::string shortWeightName(StringRef name) {
  // An FP8 weight's block scales are named by their weight.
  if (!name.consume_back(".weight_scale_inv"))
    name.consume_back(".weight");
  size_t layers = name.find("layers.");
  if (layers != StringRef::npos) {
    StringRef rest = name.drop_front(layers + 7).drop_while(llvm::isDigit);
    rest.consume_front(".");
    name = rest;
    for (StringRef module : {"linear_attn.", "self_attn.", "mlp."})
      if (name.consume_front(module))
        break;
  } else {
    name.consume_front("model.language_model.");
    name.consume_front("model.");
  }
  std::string result = name.str();
  for (size_t at; (at = result.find(".{e}")) != std::string::npos;)
    result.erase(at, 4);
  return result;
}

/// The short name of the weight `value` is: a qnext.param, a split or
/// concatenation of them, a reshape of one, or an argument of a layer
/// function that records it; empty when it is none of these.
inline std::string weightNameOf(Value value) {
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    auto func = dyn_cast<FunctionOpInterface>(arg.getOwner()->getParentOp());
    if (!func || !arg.getOwner()->isEntryBlock())
      return "";
    auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                  kWeightAttrName);
    return name ? name.str() : "";
  }
  Operation *def = value.getDefiningOp();
  if (auto param = dyn_cast_or_null<ParamOp>(def))
    return shortWeightName(param.getName());
  if (auto dq = dyn_cast_or_null<DequantizeOp>(def))
    return weightNameOf(dq.getValues());
  if (isa_and_nonnull<SplitQKVZOp, SplitBAOp, tensor::CollapseShapeOp,
                      tensor::ExpandShapeOp, tensor::ExtractSliceOp>(def))
    return weightNameOf(def->getOperand(0));
  if (auto concat = dyn_cast_or_null<ConcatWeightsOp>(def)) {
    SmallVector<std::string> parts;
    for (Value part : concat.getParts()) {
      std::string name = weightNameOf(part);
      if (name.empty())
        return "";
      if (!llvm::is_contained(parts, name))
        parts.push_back(name);
    }
    return llvm::join(parts, "+");
  }
  return "";
}

} // namespace mlir::qnext

#endif // QNEXT_PASSES_LOWER_WEIGHTNAMES_H

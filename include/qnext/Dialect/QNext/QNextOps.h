//===- QNextOps.h - qnext attributes and operations -------------*- C++ -*-===//

#ifndef QNEXT_DIALECT_QNEXT_QNEXTOPS_H
#define QNEXT_DIALECT_QNEXT_QNEXTOPS_H

#include "qnext/Dialect/QNext/QNextDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/QNext/QNextEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/QNext/QNextAttrs.h.inc"

namespace mlir::qnext {
/// The discardable attribute that tags the structured ops a qnext.fused
/// group was lowered to with its #qnext.fusion kind.
inline constexpr llvm::StringLiteral kFusionAttrName = "qnext.fusion";

/// The discardable attribute that says which decoder layer an op (or, after
/// qnext-outline-layers, a function) belongs to: a #qnext.layer.
inline constexpr llvm::StringLiteral kLayerAttrName = "qnext.layer";

/// The module's weight plan (an array of #qnext.weight, each placed) and
/// the size of the packed buffer it describes, set by qnext-bind-params.
inline constexpr llvm::StringLiteral kWeightsAttrName = "qnext.weights";
inline constexpr llvm::StringLiteral kWeightsSizeAttrName = "qnext.weights_size";

/// The names the entry functions give their arguments and results
/// (`qnext.name`: ids, positions, past, logits, weights, ...) and the state
/// an argument and a result carry (`qnext.state`: "layers.3.k_cache").
inline constexpr llvm::StringLiteral kNameAttrName = "qnext.name";
inline constexpr llvm::StringLiteral kStateAttrName = "qnext.state";

/// The short name of the weight a layer function's argument is
/// ("in_proj_qkvz"), set by qnext-outline-layers: kernels are named by it.
inline constexpr llvm::StringLiteral kWeightAttrName = "qnext.weight";

/// The layer `op` belongs to, or null.
LayerAttr getLayer(Operation *op);

/// The layer every op of `ops` belongs to; null where they belong to
/// different layers or one belongs to none.
LayerAttr getCommonLayer(ArrayRef<Operation *> ops);

/// Gives `op` the common layer of `from` (none where there is none).
void setLayerOf(Operation *op, ArrayRef<Operation *> from);
} // namespace mlir::qnext

#define GET_OP_CLASSES
#include "dialects/QNext/QNextOps.h.inc"

#endif // QNEXT_DIALECT_QNEXT_QNEXTOPS_H

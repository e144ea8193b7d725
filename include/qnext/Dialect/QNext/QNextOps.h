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
} // namespace mlir::qnext

#define GET_OP_CLASSES
#include "dialects/QNext/QNextOps.h.inc"

#endif // QNEXT_DIALECT_QNEXT_QNEXTOPS_H

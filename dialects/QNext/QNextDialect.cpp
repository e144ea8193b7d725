//===- QNextDialect.cpp - qnext dialect registration ----------------------===//

#include "qnext/Dialect/QNext/QNextDialect.h"
#include "qnext/Dialect/QNext/QNextOps.h"
#include "qnext/Support/Geometry.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qnext;

#include "dialects/QNext/QNextOpsDialect.cpp.inc"

#include "dialects/QNext/QNextEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/QNext/QNextAttrs.cpp.inc"

void QNextDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/QNext/QNextAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/QNext/QNextOps.cpp.inc"
      >();
}

LogicalResult YarnAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               APFloat factor,
                               int64_t originalMaxPositionEmbeddings,
                               APFloat betaFast, APFloat betaSlow) {
  ::qnext::YarnParams params{factor.convertToDouble(),
                             originalMaxPositionEmbeddings,
                             betaFast.convertToDouble(),
                             betaSlow.convertToDouble()};
  if (std::string error = params.validate(); !error.empty())
    return emitError() << "#qnext.yarn: " << error;
  return success();
}

/// `qnext.fusion` on an op (the structured ops a qnext.fused group was
/// lowered to, until qnext-vectorize-contractions consumes them) must be a
/// #qnext.fusion. (The module's and functions' string attributes, qnext.name,
/// qnext.state, qnext.weights, ..., are not verified yet.)
LogicalResult QNextDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attribute) {
  if (attribute.getName() == kFusionAttrName) {
    if (!isa<FusionKindAttr>(attribute.getValue()))
      return op->emitError() << "'" << kFusionAttrName
                             << "' must be a #qnext.fusion attribute";
  }
  return success();
}

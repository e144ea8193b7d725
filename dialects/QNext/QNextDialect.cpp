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

LayerAttr mlir::qnext::getLayer(Operation *op) {
  return op->getAttrOfType<LayerAttr>(kLayerAttrName);
}

LayerAttr mlir::qnext::getCommonLayer(ArrayRef<Operation *> ops) {
  LayerAttr layer = ops.empty() ? nullptr : getLayer(ops.front());
  for (Operation *op : ops)
    if (getLayer(op) != layer)
      return nullptr;
  return layer;
}

void mlir::qnext::setLayerOf(Operation *op, ArrayRef<Operation *> from) {
  if (LayerAttr layer = getCommonLayer(from))
    op->setAttr(kLayerAttrName, layer);
  else
    op->removeAttr(kLayerAttrName);
}

LogicalResult QuantizeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   QuantFormat format, int64_t group, QuantPart) {
  if (group <= 0)
    return emitError() << "#qnext.quantize: group " << group << " is not positive";
  if (format == QuantFormat::Int4 && group % 32 != 0)
    return emitError() << "#qnext.quantize: an int4 group is a multiple of 32 "
                          "(the tile of its layout), got "
                       << group;
  return success();
}

LogicalResult LayerAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t index, LayerKind) {
  if (index < 0)
    return emitError() << "#qnext.layer: index " << index << " is negative";
  return success();
}

namespace {
bool isWeightElementType(Type type) {
  return type.isF32() || type.isBF16() || type.isF16() ||
         isa<Float8E4M3FNType>(type) || type.isSignlessInteger(8);
}
} // namespace

LogicalResult WeightAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef name, RankedTensorType type,
                                 WeightTransform transform, int64_t numKeyHeads,
                                 int64_t numValueHeads, int64_t keyHeadDim,
                                 int64_t valueHeadDim, int64_t dim,
                                 ArrayAttr parts, int64_t offset,
                                 int64_t bytes, int64_t blockRows,
                                 QuantizeAttr quantize) {
  auto error = [&]() {
    return emitError() << "#qnext.weight '" << name << "': ";
  };
  if (name.empty())
    return emitError() << "#qnext.weight: empty name";
  if (!type.hasStaticShape() || !isWeightElementType(type.getElementType()))
    return error() << "type " << type
                   << " is not a static tensor of f32, bf16, f16, f8E4M3FN or i8";
  switch (transform) {
  case WeightTransform::QKVZToQKV:
  case WeightTransform::QKVZToZ:
    if (keyHeadDim <= 0 || valueHeadDim <= 0)
      return error() << "the qkvz transforms need key_head_dim and "
                        "value_head_dim";
    [[fallthrough]];
  case WeightTransform::BAToB:
  case WeightTransform::BAToA:
    if (numKeyHeads <= 0 || numValueHeads <= 0 ||
        numValueHeads % numKeyHeads != 0)
      return error() << "transform " << stringifyWeightTransform(transform)
                     << " needs num_key_heads and num_value_heads, the "
                        "second a multiple of the first";
    break;
  case WeightTransform::None:
  case WeightTransform::Concat:
    break;
  }
  if ((transform == WeightTransform::Concat) != (parts && !parts.empty()))
    return error() << "parts go with transform concat, and only with it";
  if (parts) {
    if (dim < 0 || dim >= type.getRank())
      return error() << "dim " << dim << " is not an axis of " << type;
    int64_t extent = 0;
    for (Attribute a : parts) {
      auto part = dyn_cast<WeightAttr>(a);
      if (!part || part.isPlaced() ||
          part.getTransform() == WeightTransform::Concat)
        return error() << "a part must be a #qnext.weight without offset "
                          "and not itself a concatenation";
      RankedTensorType p = part.getType();
      if (p.getRank() != type.getRank() ||
          p.getElementType() != type.getElementType())
        return error() << "part '" << part.getName() << "' (" << p
                       << ") does not fit " << type;
      for (int64_t axis = 0; axis < type.getRank(); ++axis)
        if (axis != dim && p.getDimSize(axis) != type.getDimSize(axis))
          return error() << "part '" << part.getName() << "' (" << p
                         << ") does not fit " << type;
      extent += p.getDimSize(dim);
    }
    if (extent != type.getDimSize(dim))
      return error() << "the parts add up to " << extent << " along dim "
                     << dim << ", not " << type.getDimSize(dim);
  }
  if (blockRows < 0 || (blockRows > 0 && !type.getElementType().isF32()))
    return error() << "block_rows " << blockRows
                   << " (a block scale's rows) must be positive, on f32";
  if (quantize) {
    Type expected = quantize.getPart() == QuantPart::Values
                        ? Type(IntegerType::get(type.getContext(), 8))
                        : Type(Float32Type::get(type.getContext()));
    if (type.getElementType() != expected || blockRows)
      return error() << "a quantized weight's "
                     << stringifyQuantPart(quantize.getPart()) << " are "
                     << expected << ", without block_rows";
  }
  if ((offset < 0) != (bytes < 0))
    return error() << "offset and bytes go together";
  if (bytes >= 0) {
    int64_t expected =
        type.getNumElements() * (type.getElementTypeBitWidth() / 8);
    if (bytes != expected)
      return error() << "bytes " << bytes << " for " << type << " (expected "
                     << expected << ")";
  }
  return success();
}

namespace {
/// `qnext.weights` and `qnext.weights_size` on a module: every entry placed,
/// in the buffer, and no two overlapping.
LogicalResult verifyWeightPlan(Operation *op) {
  auto plan = op->getAttrOfType<ArrayAttr>(kWeightsAttrName);
  auto size = op->getAttrOfType<IntegerAttr>(kWeightsSizeAttrName);
  if (!isa<ModuleOp>(op) || !plan || !size || size.getInt() < 0)
    return op->emitError() << "'" << kWeightsAttrName << "' and '"
                           << kWeightsSizeAttrName
                           << "' go together on a module: an array of "
                              "#qnext.weight and a non-negative integer";
  SmallVector<WeightAttr> entries;
  for (Attribute a : plan) {
    auto entry = dyn_cast<WeightAttr>(a);
    if (!entry || !entry.isPlaced())
      return op->emitError() << "'" << kWeightsAttrName
                             << "': every entry is a #qnext.weight with an "
                                "offset";
    entries.push_back(entry);
  }
  llvm::sort(entries, [](WeightAttr a, WeightAttr b) {
    return a.getOffset() < b.getOffset();
  });
  int64_t end = 0;
  for (WeightAttr entry : entries) {
    if (entry.getOffset() < end ||
        entry.getOffset() + entry.getBytes() > size.getInt())
      return op->emitError()
             << "'" << kWeightsAttrName << "': '" << entry.getName()
             << "' at " << entry.getOffset() << " (" << entry.getBytes()
             << " bytes) overlaps another entry or passes the buffer's end ("
             << size.getInt() << ")";
    end = entry.getOffset() + entry.getBytes();
  }
  return success();
}

/// `qnext.name` / `qnext.state` / `qnext.weight` on a function's argument or
/// result.
LogicalResult verifyNameAttribute(Operation *op, NamedAttribute attribute) {
  StringRef name = attribute.getName().strref();
  if (name != kNameAttrName && name != kStateAttrName &&
      name != kWeightAttrName)
    return success();
  auto value = dyn_cast<StringAttr>(attribute.getValue());
  if (!value || value.empty())
    return op->emitError() << "'" << name << "' must be a non-empty string";
  return success();
}
} // namespace

/// The discardable attributes the dialect defines: `qnext.fusion` (the
/// structured ops a qnext.fused group was lowered to, until
/// qnext-vectorize-contractions consumes them) is a #qnext.fusion;
/// `qnext.layer` is a #qnext.layer and never on a constant; the weight plan
/// is well formed.
LogicalResult QNextDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attribute) {
  StringRef name = attribute.getName().strref();
  if (name == kFusionAttrName && !isa<FusionKindAttr>(attribute.getValue()))
    return op->emitError() << "'" << kFusionAttrName
                           << "' must be a #qnext.fusion attribute";
  if (name == kLayerAttrName) {
    if (!isa<LayerAttr>(attribute.getValue()))
      return op->emitError() << "'" << kLayerAttrName
                             << "' must be a #qnext.layer attribute";
    if (op->hasTrait<OpTrait::ConstantLike>())
      return op->emitError() << "a constant belongs to no layer ('"
                             << kLayerAttrName << "')";
  }
  if (name == kWeightsAttrName || name == kWeightsSizeAttrName)
    return verifyWeightPlan(op);
  if (name == kNameAttrName || name == kStateAttrName ||
      name == kWeightAttrName)
    return op->emitError() << "'" << name
                           << "' names a function's argument or result, not "
                              "an operation";
  return success();
}

LogicalResult QNextDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                     unsigned,
                                                     NamedAttribute attribute) {
  return verifyNameAttribute(op, attribute);
}

LogicalResult QNextDialect::verifyRegionResultAttribute(
    Operation *op, unsigned, unsigned, NamedAttribute attribute) {
  return verifyNameAttribute(op, attribute);
}

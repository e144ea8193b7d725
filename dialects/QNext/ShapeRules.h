//===- ShapeRules.h - the verifiers' shared rules ---------------*- C++ -*-===//
//
// Internal to dialects/QNext: every op verifier states its shape contract as
// a list of rules over named dimensions; the first rule that fails is
// reported as
//   'qnext.linear' op weight has shape [64, 96], expected [out, in=128]
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_DIALECTS_QNEXT_SHAPERULES_H
#define QNEXT_DIALECTS_QNEXT_SHAPERULES_H

#include "qnext/Dialect/QNext/QNextOps.h"
#include "qnext/Support/Geometry.h"

#include "mlir/IR/OpImplementation.h"

namespace mlir::qnext::rules {

constexpr int64_t kAny = ShapedType::kDynamic;

/// One expected dimension: its size (kAny: any size) and its name.
struct Dim {
  int64_t size;
  const char *name;
};

/// Size of dimension `i` of a ranked tensor, or kAny when it has no such
/// dimension (the rank rule on that value reports the problem).
inline int64_t dim(Value value, unsigned i) {
  auto type = cast<RankedTensorType>(value.getType());
  return i < type.getRank() ? type.getDimSize(i) : kAny;
}
inline int64_t lastDim(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return type.getRank() ? type.getDimSize(type.getRank() - 1) : kAny;
}
inline Type elementType(Value value) {
  return cast<RankedTensorType>(value.getType()).getElementType();
}

/// Checks shape rules in order and reports the first that fails.
class ShapeRules {
public:
  explicit ShapeRules(Operation *op) : op(op) {}

  /// `value` has exactly the dims `expected` (a dynamic size on either side
  /// matches any size).
  ShapeRules &shape(StringRef what, Value value, ArrayRef<Dim> expected) {
    if (failed)
      return *this;
    ArrayRef<int64_t> actual =
        cast<RankedTensorType>(value.getType()).getShape();
    bool ok = actual.size() == expected.size();
    for (size_t i = 0; ok && i < actual.size(); ++i)
      ok = expected[i].size == kAny || ShapedType::isDynamic(actual[i]) ||
           expected[i].size == actual[i];
    if (ok)
      return *this;
    InFlightDiagnostic diag = op->emitOpError()
                              << what << " has shape [";
    llvm::interleaveComma(actual, diag, [&](int64_t d) {
      if (ShapedType::isDynamic(d))
        diag << "?";
      else
        diag << d;
    });
    diag << "], expected [";
    llvm::interleaveComma(expected, diag, [&](const Dim &d) {
      diag << d.name;
      if (d.size != kAny)
        diag << "=" << d.size;
    });
    diag << "]";
    failed = true;
    return *this;
  }

  /// `value` has at least `rank` dimensions.
  ShapeRules &minRank(StringRef what, Value value, int64_t rank) {
    if (!failed && cast<RankedTensorType>(value.getType()).getRank() < rank) {
      op->emitOpError() << what << " must have rank >= " << rank;
      failed = true;
    }
    return *this;
  }

  /// `value` has element type `expected`, described as `whose`.
  ShapeRules &elementType(StringRef what, Value value, Type expected,
                          StringRef whose) {
    if (!failed && rules::elementType(value) != expected) {
      op->emitOpError() << what << " has element type " << rules::elementType(value)
                        << ", expected " << expected << " (" << whose << ")";
      failed = true;
    }
    return *this;
  }

  /// `value` has the type of `other`, described as `whose`.
  ShapeRules &sameType(StringRef what, Value value, Value other,
                       StringRef whose) {
    if (!failed && value.getType() != other.getType()) {
      op->emitOpError() << what << " has type " << value.getType()
                        << ", expected " << other.getType() << " (" << whose
                        << ")";
      failed = true;
    }
    return *this;
  }

  /// A general rule with its own message.
  ShapeRules &check(bool ok, const Twine &message) {
    if (!failed && !ok) {
      op->emitOpError() << message;
      failed = true;
    }
    return *this;
  }

  LogicalResult verify() const { return failure(failed); }

private:
  Operation *op;
  bool failed = false;
};

inline bool isPositiveFinite(const APFloat &value) {
  return value.isFiniteNonZero() && !value.isNegative();
}

inline LogicalResult checkGeometry(Operation *op, const std::string &error) {
  if (!error.empty())
    return op->emitOpError() << error;
  return success();
}

inline ::qnext::DeltaNetGeometry deltaNetGeometry(int64_t nk, int64_t nv, int64_t dk,
                                           int64_t dv) {
  return {nk, nv, dk, dv};
}

} // namespace mlir::qnext::rules

#endif // QNEXT_DIALECTS_QNEXT_SHAPERULES_H

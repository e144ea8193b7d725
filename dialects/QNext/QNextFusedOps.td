//===- QNextFusedOps.td - fusion groups --------------------*- tablegen -*-===//
//
// The region a fusion pass groups its ops into (qnext.fused) and its
// terminator.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_FUSED_OPS_TD
#define QNEXT_FUSED_OPS_TD

include "QNextBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

//===----------------------------------------------------------------------===//
// Fusion groups
//===----------------------------------------------------------------------===//

def QNext_FusedOp : QNext_Op<"fused", [
    RecursiveMemoryEffects,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "ops that are lowered together, as one kernel";
  let description = [{
    The result of a fusion pass that groups existing ops rather than
    replacing them with one new op: the ops in the region are lowered as the
    kernel `kind` names (`#qnext.fusion`). The region may read any value
    defined above it; its one block ends with `qnext.yield` of the values the
    rest of the function reads. `qnext-lower-to-linalg` lowers a group by
    lowering its ops in its place, tagged with its kind.

    Example (qnext-fuse-swiglu on a dense MLP):

    ```mlir
    %h = qnext.fused <swiglu> : tensor<?x64xf32> {
      %g = qnext.linear %x, %wg : tensor<?x32xf32>, tensor<64x32xbf16> -> tensor<?x64xf32>
      %u = qnext.linear %x, %wu : tensor<?x32xf32>, tensor<64x32xbf16> -> tensor<?x64xf32>
      %s = qnext.silu_mul %g, %u : tensor<?x64xf32>
      qnext.yield %s : tensor<?x64xf32>
    }
    ```
  }];
  let arguments = (ins QNext_FusionKindAttr:$kind);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$kind (`:` type($results)^)? $body attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The group `op` is a member of (directly, not through other regions),
    /// or null.
    static FusedOp groupOf(::mlir::Operation *op) {
      return ::llvm::dyn_cast_or_null<FusedOp>(op->getParentOp());
    }
  }];
}

def QNext_YieldOp : QNext_Op<"yield", [Pure, Terminator, ReturnLike,
                                      HasParent<"FusedOp">]> {
  let summary = "the values a qnext.fused group gives the rest of the function";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange()); }]>];
}

#endif // QNEXT_FUSED_OPS_TD

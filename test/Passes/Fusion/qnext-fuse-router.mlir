// RUN: qnext-opt %s --qnext-fuse-router | FileCheck %s --check-prefix=MARK
// RUN: qnext-opt %s --qnext-fuse-router --qnext-lower-to-linalg --canonicalize | FileCheck %s --check-prefix=FUSED
// RUN: qnext-opt %s --qnext-lower-to-linalg --canonicalize | FileCheck %s --check-prefix=APART

// The pass puts the router into a group of its own; the lowering then keeps
// the softmax, the top-k and the renormalisation inside one loop over tokens.
// MARK-LABEL: func.func @router
// MARK: %[[R:.+]]:2 = qnext.fused <router> : tensor<?x2xf32>, tensor<?x2xi32> {
// MARK-NEXT: %[[W:.+]], %[[I:.+]] = qnext.router %arg0 {top_k = 2 : i64}
// MARK-NEXT: qnext.yield %[[W]], %[[I]] : tensor<?x2xf32>, tensor<?x2xi32>
// MARK: return %[[R]]#0, %[[R]]#1

// FUSED-LABEL: func.func @router
// FUSED-NOT: linalg.generic
// FUSED: %[[R:.+]]:2 = scf.for %{{.+}} = %c0 to %{{.+}} step %c1 iter_args
// FUSED: math.exp
// FUSED: scf.for %{{.+}} = %c0 to %c2 step %c1
// FUSED: arith.divf
// FUSED: tensor.insert_slice
// FUSED: scf.yield
// FUSED-NEXT: }
// FUSED-NEXT: return %[[R]]#0, %[[R]]#1

// Ungrouped: softmax passes over all tokens before the loop, the
// renormalisation after it.
// APART-LABEL: func.func @router
// APART: linalg.generic
// APART: math.exp
// APART: scf.for
// APART: linalg.generic
// APART: arith.divf
// APART: return
func.func @router(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = qnext.router %l {top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// RUN: qnext-opt %s --qnext-lower-to-linalg="gather-experts" | FileCheck %s
// RUN: qnext-opt %s --qnext-lower-to-linalg | FileCheck %s --check-prefix=GROUPED

// gather-experts: three gather contractions over (token, slot, row, k) that
// read the routed expert's weights in their bodies, the SwiGLU between, and
// the weighted sum over the slots: no loop, no branch on the routing.
// CHECK-LABEL: func.func @experts
// CHECK-NOT: scf.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: %[[E:.+]] = arith.index_cast %{{.*}} : i32 to index
// CHECK: %[[N:.+]] = linalg.index 2 : index
// CHECK: %[[K:.+]] = linalg.index 3 : index
// CHECK: tensor.extract %{{.*}}[%[[E]], %[[N]], %[[K]]] : tensor<8x64x128xbf16>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: math.exp
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: tensor.extract %{{.*}} : tensor<8x128x64xbf16>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: scf.
// CHECK: return
// The default groups tokens by expert: loops over experts.
// GROUPED-LABEL: func.func @experts
// GROUPED: scf.for
func.func @experts(%x: tensor<?x128xf32>, %w: tensor<?x2xf32>, %idx: tensor<?x2xi32>,
                   %gate: tensor<8x64x128xbf16>, %up: tensor<8x64x128xbf16>,
                   %down: tensor<8x128x64xbf16>) -> tensor<?x128xf32> {
  %y = qnext.expert_swiglu %x, %w, %idx, %gate, %up, %down : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

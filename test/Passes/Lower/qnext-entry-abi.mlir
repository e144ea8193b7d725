// RUN: qnext-opt %s --qnext-entry-abi | FileCheck %s

// Tensor arguments become buffers; a result named like an argument's state is
// written back into that argument (writable); other results become trailing
// out-parameters; the function gets a C interface.

// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %[[IDS:[^:]+]]: memref<1xi32> {qnext.name = "ids"},
// CHECK-SAME: %[[PAST:[^:]+]]: index,
// CHECK-SAME: %[[STATE:[^:]+]]: memref<4x8xf32> {qnext.state = "layers.0.recurrent_state"},
// CHECK-SAME: %[[LOGITS:[^:]+]]: memref<1x16xf32> {qnext.name = "logits"})
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK: %[[IDST:.+]] = bufferization.to_tensor %[[IDS]] restrict : memref<1xi32> to tensor<1xi32>
// CHECK: %[[ST:.+]] = bufferization.to_tensor %[[STATE]] restrict writable : memref<4x8xf32> to tensor<4x8xf32>
// CHECK: %[[NEW:.+]] = arith.addf %[[ST]], %[[ST]]
// CHECK: bufferization.materialize_in_destination %{{.+}} in restrict writable %[[LOGITS]] : (tensor<1x16xf32>, memref<1x16xf32>) -> ()
// CHECK: bufferization.materialize_in_destination %[[NEW]] in restrict writable %[[STATE]] : (tensor<4x8xf32>, memref<4x8xf32>) -> ()
// CHECK-NEXT: return{{$}}
func.func @decode(%ids: tensor<1xi32> {qnext.name = "ids"}, %past: index,
                  %s: tensor<4x8xf32> {qnext.state = "layers.0.recurrent_state"})
    -> (tensor<1x16xf32> {qnext.name = "logits"},
        tensor<4x8xf32> {qnext.state = "layers.0.recurrent_state"}) {
  %new = arith.addf %s, %s : tensor<4x8xf32>
  %l = tensor.empty() : tensor<1x16xf32>
  return %l, %new : tensor<1x16xf32>, tensor<4x8xf32>
}

// Private functions are left alone.
// CHECK-LABEL: func.func private @helper(%{{.+}}: tensor<4xf32>) -> tensor<4xf32>
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

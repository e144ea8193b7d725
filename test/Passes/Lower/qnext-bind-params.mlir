// RUN: qnext-opt %s --qnext-bind-params | FileCheck %s

// Parameters become read-only views of one weights buffer, passed as the
// first argument; the layout ops become packed tensors of their own; the plan
// (one #qnext.weight each: name, type, transform, 64-byte aligned offset and
// size) is on the module.

// CHECK: module attributes {qnext.weights = [
// CHECK-SAME: #qnext.weight<name = "model.norm.weight", type = tensor<128xbf16>, transform = none, offset = 0, bytes = 256>
// CHECK-SAME: #qnext.weight<name = "ba", type = tensor<4x128xbf16>, transform = ba.b, num_key_heads = 2, num_value_heads = 4, offset = 256, bytes = 1024>
// CHECK-SAME: #qnext.weight<name = "ba", type = tensor<4x128xbf16>, transform = ba.a, num_key_heads = 2, num_value_heads = 4, offset = 1280, bytes = 1024>
// CHECK-SAME: #qnext.weight<name = "odd", type = tensor<2xf32>, transform = none, offset = 2304, bytes = 8>
// CHECK-SAME: #qnext.weight<name = "after", type = tensor<1xf32>, transform = none, offset = 2368, bytes = 4>
// CHECK-SAME: ], qnext.weights_size = 2432 : i64}

// CHECK-LABEL: func.func @f(
// CHECK-SAME: %[[W:.+]]: memref<?xi8> {qnext.name = "weights"}, %{{.+}}: tensor<?x128xf32>)
// CHECK: %[[C0:.+]] = arith.constant 0 : index
// CHECK: %[[V0:.+]] = memref.view %[[W]][%[[C0]]][] : memref<?xi8> to memref<128xbf16>
// CHECK: %[[N:.+]] = bufferization.to_tensor %[[V0]] restrict : memref<128xbf16> to tensor<128xbf16>
// CHECK: qnext.rms_norm %{{.+}}, %[[N]]
// CHECK: memref.view %[[W]][%{{.+}}][] : memref<?xi8> to memref<4x128xbf16>
// CHECK: memref.view %[[W]][%{{.+}}][] : memref<?xi8> to memref<4x128xbf16>
// CHECK-NOT: qnext.param
// CHECK-NOT: qnext.split_ba
func.func @f(%x: tensor<?x128xf32>) -> (tensor<?x128xf32>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<2xf32>, tensor<1xf32>) {
  %n = qnext.param "model.norm.weight" : tensor<128xbf16>
  %y = qnext.rms_norm %x, %n : tensor<?x128xf32>, tensor<128xbf16>
  %ba = qnext.param "ba" : tensor<8x128xbf16>
  %b, %a = qnext.split_ba %ba {num_key_heads = 2 : i64, num_value_heads = 4 : i64}
      : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
  // The same parameter twice is one packed tensor.
  %n2 = qnext.param "model.norm.weight" : tensor<128xbf16>
  %odd = qnext.param "odd" : tensor<2xf32>
  %after = qnext.param "after" : tensor<1xf32>
  return %y, %b, %a, %odd, %after : tensor<?x128xf32>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<2xf32>, tensor<1xf32>
}

// Functions without parameters keep their signature.
// CHECK-LABEL: func.func @no_params(%{{.+}}: tensor<4xf32>)
func.func @no_params(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

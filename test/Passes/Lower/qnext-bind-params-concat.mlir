// RUN: qnext-opt %s --qnext-bind-params --split-input-file --verify-diagnostics | FileCheck %s

// A qnext.concat_weights is one packed tensor: a "concat" entry whose parts
// (each with its own transform) the packer lays side by side along dim. The
// parts are not packed on their own when nothing else reads them; a part
// another op still reads is packed beside it (here: "r").

// CHECK: module attributes {qnext.weights = [
// CHECK-SAME: #qnext.weight<name = "r+ba+ba", type = tensor<12x128xbf16>, transform = concat, parts = [
// CHECK-SAME: #qnext.weight<name = "r", type = tensor<4x128xbf16>, transform = none>,
// CHECK-SAME: #qnext.weight<name = "ba", type = tensor<4x128xbf16>, transform = ba.b, num_key_heads = 2, num_value_heads = 4>,
// CHECK-SAME: #qnext.weight<name = "ba", type = tensor<4x128xbf16>, transform = ba.a, num_key_heads = 2, num_value_heads = 4>
// CHECK-SAME: ], offset = 0, bytes = 3072>
// CHECK-SAME: #qnext.weight<name = "r", type = tensor<4x128xbf16>, transform = none, offset = 3072, bytes = 1024>
// CHECK-SAME: ], qnext.weights_size = 4096 : i64}
// CHECK-LABEL: func.func @f(
// CHECK-DAG: memref.view %{{.+}}[%{{.+}}][] : memref<?xi8> to memref<12x128xbf16>
// CHECK-DAG: memref.view %{{.+}}[%{{.+}}][] : memref<?xi8> to memref<4x128xbf16>
// CHECK-NOT: qnext.concat_weights
// CHECK-NOT: qnext.split_ba
// CHECK-NOT: qnext.param
// CHECK: return
func.func @f(%x: tensor<1x128xf32>) -> (tensor<1x12xf32>, tensor<1x4xf32>) {
  %r = qnext.param "r" : tensor<4x128xbf16>
  %ba = qnext.param "ba" : tensor<8x128xbf16>
  %b, %a = qnext.split_ba %ba {num_key_heads = 2 : i64, num_value_heads = 4 : i64}
      : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
  %w = qnext.concat_weights %r, %b, %a {dim = 0 : i64}
      : tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16> -> tensor<12x128xbf16>
  %y = qnext.linear %x, %w : tensor<1x128xf32>, tensor<12x128xbf16> -> tensor<1x12xf32>
  %z = qnext.linear %x, %r : tensor<1x128xf32>, tensor<4x128xbf16> -> tensor<1x4xf32>
  return %y, %z : tensor<1x12xf32>, tensor<1x4xf32>
}

// -----

// A part the packer cannot produce (not a parameter) is an error.
func.func @g(%x: tensor<4x128xbf16>) -> tensor<8x128xbf16> {
  %r = qnext.param "r" : tensor<4x128xbf16>
  // expected-error @+1 {{part is not a qnext.param or a split of one; the weight packer cannot produce it}}
  %w = qnext.concat_weights %r, %x {dim = 0 : i64}
      : tensor<4x128xbf16>, tensor<4x128xbf16> -> tensor<8x128xbf16>
  return %w : tensor<8x128xbf16>
}

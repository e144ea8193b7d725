// RUN: qnext-opt %s --qnext-fuse-add-norm --split-input-file | FileCheck %s

// The residual add and the norm of its sum: one op; the sum's later reader
// (the next residual add) reads the fused op's sum.
// CHECK-LABEL: func.func @layer
// CHECK: %[[W:.+]] = qnext.param "post_attention_layernorm"
// CHECK: %[[S:.+]], %[[Y:.+]] = qnext.add_rms_norm %arg0, %arg1, %[[W]] : tensor<?x128xf32>, tensor<128xbf16>
// CHECK-NOT: arith.addf %arg0
// CHECK-NOT: qnext.rms_norm
// CHECK: %[[OUT:.+]] = arith.addf %[[S]], %[[Y]]
// CHECK: return %[[OUT]]
func.func @layer(%h: tensor<?x128xf32>, %mixed: tensor<?x128xf32>) -> tensor<?x128xf32> {
  %sum = arith.addf %h, %mixed : tensor<?x128xf32>
  %w = qnext.param "post_attention_layernorm" : tensor<128xbf16>
  %x = qnext.rms_norm %sum, %w : tensor<?x128xf32>, tensor<128xbf16>
  %out = arith.addf %sum, %x : tensor<?x128xf32>
  return %out : tensor<?x128xf32>
}

// -----

// Left alone: a sum normalised twice; a sum read before its norm; a norm of
// something else.
// CHECK-LABEL: func.func @negative
// CHECK-NOT: qnext.add_rms_norm
// CHECK: return
func.func @negative(%a: tensor<?x128xf32>, %b: tensor<?x128xf32>, %w: tensor<128xbf16>)
    -> (tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>) {
  %twice = arith.addf %a, %b : tensor<?x128xf32>
  %n1 = qnext.rms_norm %twice, %w : tensor<?x128xf32>, tensor<128xbf16>
  %n2 = qnext.rms_norm %twice, %w {epsilon = 1.0e-05 : f32} : tensor<?x128xf32>, tensor<128xbf16>
  %early = arith.addf %a, %a : tensor<?x128xf32>
  %use = arith.mulf %early, %b : tensor<?x128xf32>
  %n3 = qnext.rms_norm %early, %w : tensor<?x128xf32>, tensor<128xbf16>
  %n4 = qnext.rms_norm %a, %w : tensor<?x128xf32>, tensor<128xbf16>
  return %n1, %n2, %use, %n3, %n4 : tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>
}

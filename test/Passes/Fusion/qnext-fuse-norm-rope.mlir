// RUN: qnext-opt %s --qnext-fuse-norm-rope --split-input-file | FileCheck %s

// QK-norm then RoPE of the queries and of the keys: two fused ops carrying
// the norm's weight and epsilon and the rotation's attributes.
// CHECK-LABEL: func.func @qk
// CHECK: %[[Q:.+]] = qnext.norm_rope %arg0, %arg2, %arg4 {epsilon = 9.99999974E-6 : f32, rotary_dim = 16 : i64, theta = 1.000000e+07 : f64} : tensor<?x4x64xf32>, tensor<64xbf16>, tensor<?xi32>
// CHECK: %[[K:.+]] = qnext.norm_rope %arg1, %arg3, %arg4 {rotary_dim = 16 : i64, theta = 1.000000e+07 : f64, yarn = #qnext.yarn<factor = 4.000000e+00, original_max_position_embeddings = 1024, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<?x2x64xf32>, tensor<64xbf16>, tensor<?xi32>
// CHECK-NOT: qnext.rms_norm
// CHECK-NOT: qnext.rope
// CHECK: return %[[Q]], %[[K]]
func.func @qk(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %qw: tensor<64xbf16>, %kw: tensor<64xbf16>, %pos: tensor<?xi32>)
    -> (tensor<?x4x64xf32>, tensor<?x2x64xf32>) {
  %qn = qnext.rms_norm %q, %qw {epsilon = 1.0e-05 : f32} : tensor<?x4x64xf32>, tensor<64xbf16>
  %kn = qnext.rms_norm %k, %kw : tensor<?x2x64xf32>, tensor<64xbf16>
  %qr = qnext.rope %qn, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi32>
  %kr = qnext.rope %kn, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64,
      yarn = #qnext.yarn<factor = 4.0, original_max_position_embeddings = 1024, beta_fast = 32.0, beta_slow = 1.0>}
      : tensor<?x2x64xf32>, tensor<?xi32>
  return %qr, %kr : tensor<?x4x64xf32>, tensor<?x2x64xf32>
}

// -----

// Left alone: normalised heads read elsewhere too; a rope of something else.
// CHECK-LABEL: func.func @negative
// CHECK-NOT: qnext.norm_rope
// CHECK: return
func.func @negative(%q: tensor<?x4x64xf32>, %w: tensor<64xbf16>, %pos: tensor<?xi32>)
    -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>) {
  %qn = qnext.rms_norm %q, %w : tensor<?x4x64xf32>, tensor<64xbf16>
  %qr = qnext.rope %qn, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi32>
  %r = qnext.rope %q, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64} : tensor<?x4x64xf32>, tensor<?xi32>
  return %qn, %qr, %r : tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>
}

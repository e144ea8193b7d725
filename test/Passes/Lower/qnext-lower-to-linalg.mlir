// RUN: qnext-opt %s --qnext-lower-to-linalg --split-input-file --verify-diagnostics | FileCheck %s

// x * W^T: one generic, the bf16 weight widened in the body, fp32 accumulation.
// CHECK-DAG: #[[X:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[Y:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[XA:.+]]: tensor<?x8xf32>, %[[WA:.+]]: tensor<5x8xbf16>)
// CHECK: %[[ZERO:.+]] = linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[Y]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[XA]], %[[WA]] : tensor<?x8xf32>, tensor<5x8xbf16>) outs(%[[ZERO]] : tensor<?x5xf32>)
// CHECK: ^bb0(%[[A:.+]]: f32, %[[B:.+]]: bf16, %[[ACC:.+]]: f32):
// CHECK: %[[BW:.+]] = arith.extf %[[B]] : bf16 to f32
// CHECK: %[[M:.+]] = arith.mulf %[[A]], %[[BW]]
// CHECK: %[[S:.+]] = arith.addf %[[ACC]], %[[M]]
// CHECK: linalg.yield %[[S]]
// CHECK-NOT: qnext.linear
func.func @linear(%x: tensor<?x8xf32>, %w: tensor<5x8xbf16>) -> tensor<?x5xf32> {
  %y = qnext.linear %x, %w : tensor<?x8xf32>, tensor<5x8xbf16> -> tensor<?x5xf32>
  return %y : tensor<?x5xf32>
}

// -----

// RMSNorm: a sum-of-squares reduction, then the scaled product with (1 + w).
// CHECK-LABEL: func.func @rms_norm
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: math.rsqrt
// CHECK-NOT: qnext.rms_norm
func.func @rms_norm(%x: tensor<?x4x16xf32>, %w: tensor<16xbf16>) -> tensor<?x4x16xf32> {
  %y = qnext.rms_norm %x, %w : tensor<?x4x16xf32>, tensor<16xbf16>
  return %y : tensor<?x4x16xf32>
}

// -----

// The residual add and its norm: a sum-of-squares reduction of a + b, then
// one generic writing both the sum and the normalised sum.
// CHECK-LABEL: func.func @add_rms_norm
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%arg0, %arg1 : tensor<?x16xf32>, tensor<?x16xf32>) outs(%{{.+}} : tensor<?xf32>)
// CHECK: arith.addf
// CHECK: %[[BOTH:.+]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins(%arg0, %arg1, %{{.+}}, %arg2 : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xf32>, tensor<16xbf16>) outs(%{{.+}}, %{{.+}} : tensor<?x16xf32>, tensor<?x16xf32>)
// CHECK: math.rsqrt
// CHECK: linalg.yield %{{.+}}, %{{.+}} : f32, f32
// CHECK: return %[[BOTH]]#0, %[[BOTH]]#1
func.func @add_rms_norm(%a: tensor<?x16xf32>, %b: tensor<?x16xf32>, %w: tensor<16xbf16>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %s, %y = qnext.add_rms_norm %a, %b, %w : tensor<?x16xf32>, tensor<16xbf16>
  return %s, %y : tensor<?x16xf32>, tensor<?x16xf32>
}

// -----

// QK-norm + RoPE: the sum of squares per head, then one generic that reads
// the element's partner and its weight (tensor.extract) and normalises both
// before rotating; no normalised tensor in between.
// CHECK-LABEL: func.func @norm_rope
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} outs(%{{.+}} : tensor<?x4xf32>)
// CHECK: %[[Y:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]{{.*}} ins(%arg0, %{{.+}}, %arg2, %arg1 : tensor<?x4x16xf32>, tensor<?x4xf32>, tensor<?xi32>, tensor<16xbf16>)
// CHECK: math.rsqrt
// CHECK: math.cos
// CHECK: tensor.extract %arg0
// CHECK: tensor.extract %arg1
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @norm_rope(%x: tensor<?x4x16xf32>, %w: tensor<16xbf16>, %pos: tensor<?xi32>) -> tensor<?x4x16xf32> {
  %y = qnext.norm_rope %x, %w, %pos {rotary_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x4x16xf32>, tensor<16xbf16>, tensor<?xi32>
  return %y : tensor<?x4x16xf32>
}

// -----

// One token: the recurrence, a loop over tokens carrying the fp32 state,
// updated in place. The decay exp(g) is taken once per head, not per state
// element, and S^T k runs as loops (h, i, j): j, contiguous, innermost.
// CHECK-LABEL: func.func @delta_rule_step
// CHECK-SAME: %[[STATE:[^:]+]]: tensor<4x8x6xf32>
// CHECK: %[[LOOP:.+]]:2 = scf.for %[[T:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[S:.+]] = %[[STATE]], %[[O:.+]] = %{{.+}}) -> (tensor<4x8x6xf32>, tensor<1x4x6xf32>)
// CHECK: linalg.generic {{.+}} outs(%{{.+}} : tensor<4xf32>)
// CHECK: math.exp
// CHECK: %[[DECAYED:.+]] = linalg.generic {{.+}} outs(%[[S]] : tensor<4x8x6xf32>)
// CHECK-NOT: math.exp
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]{{.*}} ins(%[[DECAYED]]
// CHECK-NOT: math.exp
// CHECK: %[[WRITTEN:.+]] = linalg.generic {{.+}} outs(%[[DECAYED]] : tensor<4x8x6xf32>)
// CHECK: %[[NEWO:.+]] = tensor.insert_slice %{{.+}} into %[[O]][%[[T]], 0, 0]
// CHECK: scf.yield %[[WRITTEN]], %[[NEWO]]
// CHECK: return %[[LOOP]]#1, %[[LOOP]]#0
func.func @delta_rule_step(%q: tensor<1x2x8xf32>, %k: tensor<1x2x8xf32>, %v: tensor<1x4x6xf32>,
                           %g: tensor<1x4xf32>, %beta: tensor<1x4xf32>, %s: tensor<4x8x6xf32>)
    -> (tensor<1x4x6xf32>, tensor<4x8x6xf32>) {
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<1x2x8xf32>, tensor<1x2x8xf32>, tensor<1x4x6xf32>, tensor<1x4xf32>,
         tensor<1x4xf32>, tensor<4x8x6xf32>) -> (tensor<1x4x6xf32>, tensor<4x8x6xf32>)
  return %o, %s1 : tensor<1x4x6xf32>, tensor<4x8x6xf32>
}

// -----

// A fused DeltaNet decode step (Nk = 2, Nv = 4): one parallel loop over the
// key heads whose shared outputs are the output heads and both states (in
// place). Iteration j reads its channels of the conv state from the shared
// output, convolves its q, k and v channels (32, 32 and 2 x 32), and writes
// back three conv-state slices, its two value heads' state and their output.
// CHECK-LABEL: func.func @deltanet_step
// CHECK: %[[STEP:.+]]:3 = scf.forall (%[[J:.+]]) in (2) shared_outs(%[[Y:.+]] = %{{.+}}, %[[CS:.+]] = %arg2, %[[ST:.+]] = %arg7) -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
// CHECK: tensor.extract_slice %[[CS]][0, %{{.+}}] [3, 32] [1, 1]
// CHECK: tensor.extract_slice %[[CS]][0, %{{.+}}] [3, 32] [1, 1]
// CHECK: tensor.extract_slice %[[CS]][0, %{{.+}}] [3, 64] [1, 1]
// CHECK: math.rsqrt
// CHECK: math.log1p
// CHECK: tensor.extract_slice %[[ST]][%{{.+}}, 0, 0] [2, 32, 32] [1, 1, 1]
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %{{.+}} into %[[CS]][0, %{{.+}}] [3, 32] [1, 1]
// CHECK-NEXT: tensor.parallel_insert_slice %{{.+}} into %[[CS]][0, %{{.+}}] [3, 32] [1, 1]
// CHECK-NEXT: tensor.parallel_insert_slice %{{.+}} into %[[CS]][0, %{{.+}}] [3, 64] [1, 1]
// CHECK-NEXT: tensor.parallel_insert_slice %{{.+}} into %[[ST]][%{{.+}}, 0, 0] [2, 32, 32] [1, 1, 1]
// CHECK-NEXT: tensor.parallel_insert_slice %{{.+}} into %[[Y]][0, %{{.+}}, 0] [1, 2, 32] [1, 1, 1]
// CHECK-NOT: qnext.
// CHECK: return %[[STEP]]#0, %[[STEP]]#1, %[[STEP]]#2
func.func @deltanet_step(%qkv: tensor<1x256xf32>, %taps: tensor<256x4xbf16>, %cs: tensor<3x256xf32>,
    %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>,
    %st: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>)
    -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  %y, %cs1, %st1 = qnext.deltanet_step %qkv, %taps, %cs, %a, %b, %alog, %dt, %st, %z, %nw
      {num_key_heads = 2 : i64, query_scale = 0.176776692 : f32}
      : (tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>, tensor<1x4xf32>,
         tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x32xf32>,
         tensor<1x4x32xf32>, tensor<32xbf16>)
      -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return %y, %cs1, %st1 : tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// -----

// Several tokens: the chunked algorithm, a loop over chunks of 64 carrying
// the state, with (I + A)^-1 by forward substitution inside each chunk.
// KK and QK are per key head (2 of them), read by the 4 value heads at h / 2.
// CHECK-DAG: #[[KEYT:.+]] = affine_map<(d0, d1, d2) -> (d2, d0, d1)>
// CHECK-DAG: #[[GRS:.+]] = affine_map<(d0, d1, d2) -> (d0 floordiv 2, d1, d2)>
// CHECK-DAG: #[[LEFT:.+]] = affine_map<(d0, d1, d2, d3) -> (d1, d0, d2)>
// CHECK-DAG: #[[RIGHT:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG: #[[DOT:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-LABEL: func.func @delta_rule_chunked
// CHECK-SAME: %[[STATE:[^:]+]]: tensor<4x8x6xf32>
// CHECK: %[[C64:.+]] = arith.constant 64 : index
// CHECK: %[[LOOP:.+]]:2 = scf.for %[[START:.+]] = %{{.+}} to %{{.+}} step %[[C64]] iter_args(%[[S:.+]] = %[[STATE]], %[[O:.+]] = %{{.+}}) -> (tensor<4x8x6xf32>, tensor<?x4x6xf32>)
// CHECK: arith.minui
// The chunk's keys transposed, kT[g, d, s] = k[s, g, d]; then KK and QK as
// loops (g, r, d, s), the innermost walking the contiguous s.
// CHECK: %[[KT:.+]] = linalg.generic {indexing_maps = [#[[KEYT]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.+}} : tensor<?x2x8xf32>) outs(%{{.+}} : tensor<2x8x?xf32>)
// CHECK: %[[KK:.+]] = linalg.generic {indexing_maps = [#[[LEFT]], #[[RIGHT]], #[[DOT]]], iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%{{.+}}, %[[KT]] : tensor<?x2x8xf32>, tensor<2x8x?xf32>) outs(%{{.+}} : tensor<2x?x?xf32>)
// CHECK: %[[QK:.+]] = linalg.generic {indexing_maps = [#[[LEFT]], #[[RIGHT]], #[[DOT]]], iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%{{.+}}, %[[KT]] : tensor<?x2x8xf32>, tensor<2x8x?xf32>) outs(%{{.+}} : tensor<2x?x?xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[GRS]], {{.+}} ins(%[[KK]], {{.+}} outs(%{{.+}} : tensor<4x?x?xf32>)
// Forward substitution, a row at a time as loops (h, s, j): the reduction
// over s outside the contiguous j.
// CHECK: scf.for
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.+}}, %{{.+}} : tensor<4x?xf32>, tensor<4x?x?xf32>) outs(%{{.+}} : tensor<4x?xf32>)
// CHECK: scf.yield
// The contractions after the solve run as loops (h, r, s, j): the reduction
// outside the contiguous j.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction", "parallel"]
// CHECK: linalg.generic {indexing_maps = [#[[GRS]], {{.+}} ins(%[[QK]], {{.+}} outs(%{{.+}} : tensor<4x?x?xf32>)
// CHECK: linalg.generic {{.+}} outs(%[[S]] : tensor<4x8x6xf32>)
// CHECK: tensor.insert_slice %{{.+}} into %[[O]][%[[START]], 0, 0]
// CHECK: return %[[LOOP]]#1, %[[LOOP]]#0
func.func @delta_rule_chunked(%q: tensor<?x2x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x4x6xf32>,
                              %g: tensor<?x4xf32>, %beta: tensor<?x4xf32>, %s: tensor<4x8x6xf32>)
    -> (tensor<?x4x6xf32>, tensor<4x8x6xf32>) {
  %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s
      : (tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<?x4x6xf32>, tensor<?x4xf32>,
         tensor<?x4xf32>, tensor<4x8x6xf32>) -> (tensor<?x4x6xf32>, tensor<4x8x6xf32>)
  return %o, %s1 : tensor<?x4x6xf32>, tensor<4x8x6xf32>
}

// -----

// Attention: K and V written into the caches at `past`, then a loop over tokens.
// CHECK-LABEL: func.func @attention
// CHECK-SAME: %[[KC:[^:]+]]: tensor<2x16x8xf32>, %[[VC:[^:]+]]: tensor<2x16x8xf32>, %[[PAST:[^:]+]]: index
// CHECK: %[[KW:.+]] = tensor.extract_slice %[[KC]][0, %[[PAST]], 0]
// CHECK: %[[KT:.+]] = linalg.generic {{.+}} outs(%[[KW]] : tensor<2x?x8xf32>)
// CHECK: %[[K1:.+]] = tensor.insert_slice %[[KT]] into %[[KC]][0, %[[PAST]], 0]
// CHECK: %[[VW:.+]] = tensor.extract_slice %[[VC]][0, %[[PAST]], 0]
// CHECK: %[[VT:.+]] = linalg.generic {{.+}} outs(%[[VW]] : tensor<2x?x8xf32>)
// CHECK: %[[V1:.+]] = tensor.insert_slice %[[VT]] into %[[VC]][0, %[[PAST]], 0]
// CHECK: scf.for
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: return %{{.+}}, %[[K1]], %[[V1]]
func.func @attention(%q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>,
                     %kc: tensor<2x16x8xf32>, %vc: tensor<2x16x8xf32>, %past: index)
    -> (tensor<?x4x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>) {
  %o, %k1, %v1 = qnext.attention %q, %k, %v, %kc, %vc, %past
      : (tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<2x16x8xf32>,
         tensor<2x16x8xf32>, index) -> (tensor<?x4x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>)
  return %o, %k1, %v1 : tensor<?x4x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>
}

// -----

// The router: softmax reductions, then per token a loop of k argmax picks.
// CHECK-LABEL: func.func @router
// CHECK: arith.maximumf
// CHECK: scf.for
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}}
// CHECK: linalg.generic {{.+}} iterator_types = ["reduction"]
// CHECK: tensor.insert
// CHECK-NOT: qnext.router
func.func @router(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = qnext.router %l {top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// Parameters and the weight-layout ops are left for weight packing.
// CHECK-LABEL: func.func @params
// CHECK: qnext.param "w"
// CHECK: qnext.split_ba
func.func @params() -> (tensor<4x8xbf16>, tensor<4x8xbf16>) {
  %w = qnext.param "w" : tensor<8x8xbf16>
  %b, %a = qnext.split_ba %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64}
      : tensor<8x8xbf16> -> tensor<4x8xbf16>, tensor<4x8xbf16>
  return %b, %a : tensor<4x8xbf16>, tensor<4x8xbf16>
}

// -----

// Activations must be f32 on the CPU: a bf16 activation is not lowered.
func.func @bf16_activation(%x: tensor<?x8xbf16>, %g: tensor<?x8xbf16>) -> tensor<?x8xbf16> {
  // expected-error @+1 {{failed to legalize operation 'qnext.silu_mul'}}
  %y = qnext.silu_mul %x, %g : tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}

// -----

// Layer ops must be decomposed first.
func.func @layer_op(%x: tensor<?x8xf32>, %g: tensor<16x8xbf16>, %d: tensor<8x16xbf16>) -> tensor<?x8xf32> {
  // expected-error @+1 {{failed to legalize operation 'qnext.mlp'}}
  %y = qnext.mlp %x, %g, %g, %d : tensor<?x8xf32>, tensor<16x8xbf16>, tensor<16x8xbf16>, tensor<8x16xbf16>
  return %y : tensor<?x8xf32>
}

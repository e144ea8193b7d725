// RUN: qnext-opt %s --qnext-fuse-deltanet-step --split-input-file | FileCheck %s

// One token of a DeltaNet layer between its projections, as
// qnext-decompose-layers makes it (Nk = 2, Nv = 4, Dk = Dv = 32): the conv,
// the q | k | v split, the L2 norms, the gates, the delta rule and the gated
// norm become one op. It carries the key head count, the query's scale and
// the output norm's epsilon, and returns the norm's result and both states.
// CHECK-LABEL: func.func @step
// CHECK: %[[Y:.+]], %[[CS:.+]], %[[ST:.+]] = qnext.deltanet_step %arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6, %arg7, %arg8, %arg9 {epsilon = 9.99999974E-6 : f32, num_key_heads = 2 : i64, query_scale = 0.176776692 : f32}
// CHECK-SAME: -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
// CHECK-NOT: qnext.causal_conv1d
// CHECK-NOT: tensor.extract_slice
// CHECK-NOT: qnext.l2_norm
// CHECK-NOT: qnext.gdn_gates
// CHECK-NOT: qnext.gated_delta_rule
// CHECK-NOT: qnext.gated_rms_norm
// CHECK: return %[[Y]], %[[CS]], %[[ST]]
func.func @step(%qkv: tensor<1x256xf32>, %taps: tensor<256x4xbf16>, %cs: tensor<3x256xf32>,
    %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>,
    %st: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>)
    -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  %c, %cs1 = qnext.causal_conv1d %qkv, %taps, %cs {silu} : tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %qs = tensor.extract_slice %c[0, 0] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %qh = tensor.expand_shape %qs [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %ks = tensor.extract_slice %c[0, 64] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %kh = tensor.expand_shape %ks [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %vs = tensor.extract_slice %c[0, 128] [1, 128] [1, 1] : tensor<1x256xf32> to tensor<1x128xf32>
  %vh = tensor.expand_shape %vs [[0], [1, 2]] output_shape [1, 4, 32] : tensor<1x128xf32> into tensor<1x4x32xf32>
  %qn = qnext.l2_norm %qh {scale = 0.176776692 : f32} : tensor<1x2x32xf32>
  %kn = qnext.l2_norm %kh : tensor<1x2x32xf32>
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x4xf32>, tensor<1x4xf32>
  %o, %st1 = qnext.gated_delta_rule %qn, %kn, %vh, %g, %beta, %st
      : (tensor<1x2x32xf32>, tensor<1x2x32xf32>, tensor<1x4x32xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4x32x32xf32>) -> (tensor<1x4x32xf32>, tensor<4x32x32xf32>)
  %y = qnext.gated_rms_norm %o, %z, %nw {epsilon = 1.0e-05 : f32} : tensor<1x4x32xf32>, tensor<32xbf16>
  return %y, %cs1, %st1 : tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// -----

// A prompt (a dynamic token count) keeps the chunked delta rule.
// CHECK-LABEL: func.func @prompt
// CHECK-NOT: qnext.deltanet_step
// CHECK: qnext.gated_delta_rule
func.func @prompt(%qkv: tensor<?x256xf32>, %taps: tensor<256x4xbf16>, %cs: tensor<3x256xf32>,
    %a: tensor<?x4xf32>, %b: tensor<?x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>,
    %st: tensor<4x32x32xf32>, %z: tensor<?x4x32xf32>, %nw: tensor<32xbf16>)
    -> (tensor<?x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  %c, %cs1 = qnext.causal_conv1d %qkv, %taps, %cs {silu} : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %c0 = arith.constant 0 : index
  %d0 = tensor.dim %qkv, %c0 : tensor<?x256xf32>
  %qs = tensor.extract_slice %c[0, 0] [%d0, 64] [1, 1] : tensor<?x256xf32> to tensor<?x64xf32>
  %qh = tensor.expand_shape %qs [[0], [1, 2]] output_shape [%d0, 2, 32] : tensor<?x64xf32> into tensor<?x2x32xf32>
  %ks = tensor.extract_slice %c[0, 64] [%d0, 64] [1, 1] : tensor<?x256xf32> to tensor<?x64xf32>
  %kh = tensor.expand_shape %ks [[0], [1, 2]] output_shape [%d0, 2, 32] : tensor<?x64xf32> into tensor<?x2x32xf32>
  %vs = tensor.extract_slice %c[0, 128] [%d0, 128] [1, 1] : tensor<?x256xf32> to tensor<?x128xf32>
  %vh = tensor.expand_shape %vs [[0], [1, 2]] output_shape [%d0, 4, 32] : tensor<?x128xf32> into tensor<?x4x32xf32>
  %qn = qnext.l2_norm %qh {scale = 0.176776692 : f32} : tensor<?x2x32xf32>
  %kn = qnext.l2_norm %kh : tensor<?x2x32xf32>
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
  %o, %st1 = qnext.gated_delta_rule %qn, %kn, %vh, %g, %beta, %st
      : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x32xf32>)
  %y = qnext.gated_rms_norm %o, %z, %nw {epsilon = 1.0e-05 : f32} : tensor<?x4x32xf32>, tensor<32xbf16>
  return %y, %cs1, %st1 : tensor<?x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// -----

// A conv without SiLU is not the layer's.
// CHECK-LABEL: func.func @no_silu
// CHECK-NOT: qnext.deltanet_step
// CHECK: qnext.gated_delta_rule
func.func @no_silu(%qkv: tensor<1x256xf32>, %taps: tensor<256x4xbf16>, %cs: tensor<3x256xf32>,
    %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>,
    %st: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>)
    -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  %c, %cs1 = qnext.causal_conv1d %qkv, %taps, %cs : tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %qs = tensor.extract_slice %c[0, 0] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %qh = tensor.expand_shape %qs [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %ks = tensor.extract_slice %c[0, 64] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %kh = tensor.expand_shape %ks [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %vs = tensor.extract_slice %c[0, 128] [1, 128] [1, 1] : tensor<1x256xf32> to tensor<1x128xf32>
  %vh = tensor.expand_shape %vs [[0], [1, 2]] output_shape [1, 4, 32] : tensor<1x128xf32> into tensor<1x4x32xf32>
  %qn = qnext.l2_norm %qh {scale = 0.176776692 : f32} : tensor<1x2x32xf32>
  %kn = qnext.l2_norm %kh : tensor<1x2x32xf32>
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x4xf32>, tensor<1x4xf32>
  %o, %st1 = qnext.gated_delta_rule %qn, %kn, %vh, %g, %beta, %st
      : (tensor<1x2x32xf32>, tensor<1x2x32xf32>, tensor<1x4x32xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4x32x32xf32>) -> (tensor<1x4x32xf32>, tensor<4x32x32xf32>)
  %y = qnext.gated_rms_norm %o, %z, %nw {epsilon = 1.0e-05 : f32} : tensor<1x4x32xf32>, tensor<32xbf16>
  return %y, %cs1, %st1 : tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// -----

// A scaled key norm: the fused op has one scale, the query's.
// CHECK-LABEL: func.func @scaled_key
// CHECK-NOT: qnext.deltanet_step
// CHECK: qnext.gated_delta_rule
func.func @scaled_key(%qkv: tensor<1x256xf32>, %taps: tensor<256x4xbf16>, %cs: tensor<3x256xf32>,
    %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>,
    %st: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>)
    -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  %c, %cs1 = qnext.causal_conv1d %qkv, %taps, %cs {silu} : tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %qs = tensor.extract_slice %c[0, 0] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %qh = tensor.expand_shape %qs [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %ks = tensor.extract_slice %c[0, 64] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %kh = tensor.expand_shape %ks [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %vs = tensor.extract_slice %c[0, 128] [1, 128] [1, 1] : tensor<1x256xf32> to tensor<1x128xf32>
  %vh = tensor.expand_shape %vs [[0], [1, 2]] output_shape [1, 4, 32] : tensor<1x128xf32> into tensor<1x4x32xf32>
  %qn = qnext.l2_norm %qh {scale = 0.176776692 : f32} : tensor<1x2x32xf32>
  %kn = qnext.l2_norm %kh {scale = 2.0 : f32} : tensor<1x2x32xf32>
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x4xf32>, tensor<1x4xf32>
  %o, %st1 = qnext.gated_delta_rule %qn, %kn, %vh, %g, %beta, %st
      : (tensor<1x2x32xf32>, tensor<1x2x32xf32>, tensor<1x4x32xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4x32x32xf32>) -> (tensor<1x4x32xf32>, tensor<4x32x32xf32>)
  %y = qnext.gated_rms_norm %o, %z, %nw {epsilon = 1.0e-05 : f32} : tensor<1x4x32xf32>, tensor<32xbf16>
  return %y, %cs1, %st1 : tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// -----

// The normalised queries read elsewhere too: they would be written anyway.
// CHECK-LABEL: func.func @query_used
// CHECK-NOT: qnext.deltanet_step
// CHECK: qnext.gated_delta_rule
func.func @query_used(%qkv: tensor<1x256xf32>, %taps: tensor<256x4xbf16>, %cs: tensor<3x256xf32>,
    %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>,
    %st: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>)
    -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<1x2x32xf32>) {
  %c, %cs1 = qnext.causal_conv1d %qkv, %taps, %cs {silu} : tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %qs = tensor.extract_slice %c[0, 0] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %qh = tensor.expand_shape %qs [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %ks = tensor.extract_slice %c[0, 64] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %kh = tensor.expand_shape %ks [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %vs = tensor.extract_slice %c[0, 128] [1, 128] [1, 1] : tensor<1x256xf32> to tensor<1x128xf32>
  %vh = tensor.expand_shape %vs [[0], [1, 2]] output_shape [1, 4, 32] : tensor<1x128xf32> into tensor<1x4x32xf32>
  %qn = qnext.l2_norm %qh {scale = 0.176776692 : f32} : tensor<1x2x32xf32>
  %kn = qnext.l2_norm %kh : tensor<1x2x32xf32>
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x4xf32>, tensor<1x4xf32>
  %o, %st1 = qnext.gated_delta_rule %qn, %kn, %vh, %g, %beta, %st
      : (tensor<1x2x32xf32>, tensor<1x2x32xf32>, tensor<1x4x32xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4x32x32xf32>) -> (tensor<1x4x32xf32>, tensor<4x32x32xf32>)
  %y = qnext.gated_rms_norm %o, %z, %nw {epsilon = 1.0e-05 : f32} : tensor<1x4x32xf32>, tensor<32xbf16>
  return %y, %cs1, %st1, %qn : tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<1x2x32xf32>
}

// -----

// q and k taken from each other's channels: not the layer's split.
// CHECK-LABEL: func.func @swapped
// CHECK-NOT: qnext.deltanet_step
// CHECK: qnext.gated_delta_rule
func.func @swapped(%qkv: tensor<1x256xf32>, %taps: tensor<256x4xbf16>, %cs: tensor<3x256xf32>,
    %a: tensor<1x4xf32>, %b: tensor<1x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>,
    %st: tensor<4x32x32xf32>, %z: tensor<1x4x32xf32>, %nw: tensor<32xbf16>)
    -> (tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  %c, %cs1 = qnext.causal_conv1d %qkv, %taps, %cs {silu} : tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
  %qs = tensor.extract_slice %c[0, 64] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %qh = tensor.expand_shape %qs [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %ks = tensor.extract_slice %c[0, 0] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
  %kh = tensor.expand_shape %ks [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
  %vs = tensor.extract_slice %c[0, 128] [1, 128] [1, 1] : tensor<1x256xf32> to tensor<1x128xf32>
  %vh = tensor.expand_shape %vs [[0], [1, 2]] output_shape [1, 4, 32] : tensor<1x128xf32> into tensor<1x4x32xf32>
  %qn = qnext.l2_norm %qh {scale = 0.176776692 : f32} : tensor<1x2x32xf32>
  %kn = qnext.l2_norm %kh : tensor<1x2x32xf32>
  %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt : tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x4xf32>, tensor<1x4xf32>
  %o, %st1 = qnext.gated_delta_rule %qn, %kn, %vh, %g, %beta, %st
      : (tensor<1x2x32xf32>, tensor<1x2x32xf32>, tensor<1x4x32xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4x32x32xf32>) -> (tensor<1x4x32xf32>, tensor<4x32x32xf32>)
  %y = qnext.gated_rms_norm %o, %z, %nw {epsilon = 1.0e-05 : f32} : tensor<1x4x32xf32>, tensor<32xbf16>
  return %y, %cs1, %st1 : tensor<1x4x32xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// -----

// The step of one row of a batch (the rows form qnext-decompose-layers makes):
// the chain inside the scf.forall over rows fuses, the new states read by
// the loop's parallel_insert_slice, which follows the step.
// CHECK-LABEL: func.func @batch_row
// CHECK: scf.forall
// CHECK: %[[Y:.+]], %[[CS:.+]], %[[ST:.+]] = qnext.deltanet_step
// CHECK-NOT: qnext.gated_delta_rule
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[Y]]
// CHECK-NEXT: tensor.parallel_insert_slice %[[CS]]
// CHECK-NEXT: tensor.parallel_insert_slice %[[ST]]
func.func @batch_row(%qkv: tensor<?x256xf32>, %taps: tensor<256x4xbf16>, %cs: tensor<?x3x256xf32>,
    %a: tensor<?x4xf32>, %b: tensor<?x4xf32>, %alog: tensor<4xbf16>, %dt: tensor<4xbf16>,
    %st: tensor<?x4x32x32xf32>, %z: tensor<?x4x32xf32>, %nw: tensor<32xbf16>, %slots: tensor<?xi32>)
    -> (tensor<?x4x32xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>) {
  %c0 = arith.constant 0 : index
  %rows = tensor.dim %slots, %c0 : tensor<?xi32>
  %y0 = tensor.empty(%rows) : tensor<?x4x32xf32>
  %r:3 = scf.forall (%i) in (%rows) shared_outs(%yo = %y0, %cso = %cs, %sto = %st)
      -> (tensor<?x4x32xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>) {
    %s32 = tensor.extract %slots[%i] : tensor<?xi32>
    %s = arith.index_cast %s32 : i32 to index
    %row = tensor.extract_slice %qkv[%i, 0] [1, 256] [1, 1] : tensor<?x256xf32> to tensor<1x256xf32>
    %ar = tensor.extract_slice %a[%i, 0] [1, 4] [1, 1] : tensor<?x4xf32> to tensor<1x4xf32>
    %br = tensor.extract_slice %b[%i, 0] [1, 4] [1, 1] : tensor<?x4xf32> to tensor<1x4xf32>
    %zr = tensor.extract_slice %z[%i, 0, 0] [1, 4, 32] [1, 1, 1] : tensor<?x4x32xf32> to tensor<1x4x32xf32>
    %mycs = tensor.extract_slice %cso[%s, 0, 0] [1, 3, 256] [1, 1, 1] : tensor<?x3x256xf32> to tensor<3x256xf32>
    %myst = tensor.extract_slice %sto[%s, 0, 0, 0] [1, 4, 32, 32] [1, 1, 1, 1] : tensor<?x4x32x32xf32> to tensor<4x32x32xf32>
    %c, %cs1 = qnext.causal_conv1d %row, %taps, %mycs {silu} : tensor<1x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
    %qs = tensor.extract_slice %c[0, 0] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
    %qh = tensor.expand_shape %qs [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
    %ks = tensor.extract_slice %c[0, 64] [1, 64] [1, 1] : tensor<1x256xf32> to tensor<1x64xf32>
    %kh = tensor.expand_shape %ks [[0], [1, 2]] output_shape [1, 2, 32] : tensor<1x64xf32> into tensor<1x2x32xf32>
    %vs = tensor.extract_slice %c[0, 128] [1, 128] [1, 1] : tensor<1x256xf32> to tensor<1x128xf32>
    %vh = tensor.expand_shape %vs [[0], [1, 2]] output_shape [1, 4, 32] : tensor<1x128xf32> into tensor<1x4x32xf32>
    %qn = qnext.l2_norm %qh {scale = 0.176776692 : f32} : tensor<1x2x32xf32>
    %kn = qnext.l2_norm %kh : tensor<1x2x32xf32>
    %g, %beta = qnext.gdn_gates %ar, %br, %alog, %dt : tensor<1x4xf32>, tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x4xf32>, tensor<1x4xf32>
    %o, %st1 = qnext.gated_delta_rule %qn, %kn, %vh, %g, %beta, %myst
        : (tensor<1x2x32xf32>, tensor<1x2x32xf32>, tensor<1x4x32xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<4x32x32xf32>) -> (tensor<1x4x32xf32>, tensor<4x32x32xf32>)
    %y = qnext.gated_rms_norm %o, %zr, %nw : tensor<1x4x32xf32>, tensor<32xbf16>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %y into %yo[%i, 0, 0] [1, 4, 32] [1, 1, 1] : tensor<1x4x32xf32> into tensor<?x4x32xf32>
      tensor.parallel_insert_slice %cs1 into %cso[%s, 0, 0] [1, 3, 256] [1, 1, 1] : tensor<3x256xf32> into tensor<?x3x256xf32>
      tensor.parallel_insert_slice %st1 into %sto[%s, 0, 0, 0] [1, 4, 32, 32] [1, 1, 1, 1] : tensor<4x32x32xf32> into tensor<?x4x32x32xf32>
    }
  }
  return %r#0, %r#1, %r#2 : tensor<?x4x32xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>
}

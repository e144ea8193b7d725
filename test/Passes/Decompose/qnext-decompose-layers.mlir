// RUN: qnext-opt %s --qnext-decompose-layers --split-input-file | FileCheck %s
// RUN: qnext-opt %s --qnext-decompose-layers="ops=moe" --split-input-file | FileCheck %s --check-prefix=ONLY-MOE
// RUN: not qnext-opt %s --qnext-decompose-layers="ops=moe,conv" 2>&1 | FileCheck %s --check-prefix=BAD-OPS

// BAD-OPS: qnext-decompose-layers: unknown op kind 'conv' in ops= (expected gated_deltanet, gated_attention, moe, mlp or lm_head)

// CHECK-LABEL: func.func @deltanet
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x128xf32>, %[[CONV:[^:]+]]: tensor<3x256xf32>, %[[REC:[^:]+]]: tensor<4x32x32xf32>, %[[WQKV:[^:]+]]: tensor<256x128xbf16>, %[[WZ:[^:]+]]: tensor<128x128xbf16>, %[[WB:[^:]+]]: tensor<4x128xbf16>, %[[WA:[^:]+]]: tensor<4x128xbf16>, %[[CW:[^:]+]]: tensor<256x1x4xbf16>, %[[DT:[^:]+]]: tensor<4xbf16>, %[[ALOG:[^:]+]]: tensor<4xbf16>, %[[NW:[^:]+]]: tensor<32xbf16>, %[[WO:[^:]+]]: tensor<128x128xbf16>)
// CHECK-DAG: %[[QKV:.+]] = qnext.linear %[[X]], %[[WQKV]] : tensor<?x128xf32>, tensor<256x128xbf16> -> tensor<?x256xf32>
// CHECK-DAG: %[[Z:.+]] = qnext.linear %[[X]], %[[WZ]] : tensor<?x128xf32>, tensor<128x128xbf16> -> tensor<?x128xf32>
// CHECK-DAG: %[[B:.+]] = qnext.linear %[[X]], %[[WB]] : tensor<?x128xf32>, tensor<4x128xbf16> -> tensor<?x4xf32>
// CHECK-DAG: %[[A:.+]] = qnext.linear %[[X]], %[[WA]] : tensor<?x128xf32>, tensor<4x128xbf16> -> tensor<?x4xf32>
// CHECK: %[[TAPS:.+]] = tensor.collapse_shape %[[CW]] {{\[}}[0], [1, 2]] : tensor<256x1x4xbf16> into tensor<256x4xbf16>
// CHECK: %[[Y:.+]], %[[CS:.+]] = qnext.causal_conv1d %[[QKV]], %[[TAPS]], %[[CONV]] {silu}
// CHECK: %[[QS:.+]] = tensor.extract_slice %[[Y]][0, 0] [%{{.+}}, 64] [1, 1]
// CHECK: %[[Q:.+]] = tensor.expand_shape %[[QS]] {{\[}}[0], [1, 2]] output_shape [%{{.+}}, 2, 32] : tensor<?x64xf32> into tensor<?x2x32xf32>
// CHECK: %[[KS:.+]] = tensor.extract_slice %[[Y]][0, 64] [%{{.+}}, 64] [1, 1]
// CHECK: %[[K:.+]] = tensor.expand_shape %[[KS]]
// CHECK: %[[VS:.+]] = tensor.extract_slice %[[Y]][0, 128] [%{{.+}}, 128] [1, 1]
// CHECK: %[[V:.+]] = tensor.expand_shape %[[VS]] {{\[}}[0], [1, 2]] output_shape [%{{.+}}, 4, 32] : tensor<?x128xf32> into tensor<?x4x32xf32>
// CHECK: %[[QN:.+]] = qnext.l2_norm %[[Q]] {scale = 0.176776692 : f32} : tensor<?x2x32xf32>
// CHECK: %[[KN:.+]] = qnext.l2_norm %[[K]] : tensor<?x2x32xf32>
// CHECK: %[[G:.+]], %[[BETA:.+]] = qnext.gdn_gates %[[A]], %[[B]], %[[ALOG]], %[[DT]] : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16> -> tensor<?x4xf32>, tensor<?x4xf32>
// CHECK: %[[O:.+]], %[[RS:.+]] = qnext.gated_delta_rule %[[QN]], %[[KN]], %[[V]], %[[G]], %[[BETA]], %[[REC]]
// CHECK: %[[Z3:.+]] = tensor.expand_shape %[[Z]] {{\[}}[0], [1, 2]] output_shape [%{{.+}}, 4, 32]
// CHECK: %[[NORMED:.+]] = qnext.gated_rms_norm %[[O]], %[[Z3]], %[[NW]] {epsilon = 9.99999974E-6 : f32} : tensor<?x4x32xf32>, tensor<32xbf16>
// CHECK: %[[FLAT:.+]] = tensor.collapse_shape %[[NORMED]] {{\[}}[0], [1, 2]] : tensor<?x4x32xf32> into tensor<?x128xf32>
// CHECK: %[[OUT:.+]] = qnext.linear %[[FLAT]], %[[WO]]
// CHECK: return %[[OUT]], %[[CS]], %[[RS]]
// CHECK-NOT: qnext.gated_deltanet
func.func @deltanet(%x: tensor<?x128xf32>, %conv: tensor<3x256xf32>, %rec: tensor<4x32x32xf32>,
                    %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>,
                    %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>,
                    %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>)
    -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>) {
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64,
       value_head_dim = 32 : i64, epsilon = 1.0e-05 : f32}
      : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>,
         tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>,
         tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>)
      -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
  return %y, %cs, %rs : tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>
}

// -----

// CHECK-LABEL: func.func @attention
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x128xf32>, %[[POS:[^:]+]]: tensor<?xi32>, %[[KC:[^:]+]]: tensor<2x256x64xf32>, %[[VC:[^:]+]]: tensor<2x256x64xf32>, %[[PAST:[^:]+]]: index, %[[WQ:[^:]+]]: tensor<512x128xbf16>, %[[WK:[^:]+]]: tensor<128x128xbf16>, %[[WV:[^:]+]]: tensor<128x128xbf16>, %[[WO:[^:]+]]: tensor<128x256xbf16>, %[[QN:[^:]+]]: tensor<64xbf16>, %[[KN:[^:]+]]: tensor<64xbf16>)
// CHECK: %[[QG:.+]] = qnext.linear %[[X]], %[[WQ]] : tensor<?x128xf32>, tensor<512x128xbf16> -> tensor<?x512xf32>
// CHECK: %[[QG3:.+]] = tensor.expand_shape %[[QG]] {{\[}}[0], [1, 2]] output_shape [%{{.+}}, 4, 128] : tensor<?x512xf32> into tensor<?x4x128xf32>
// CHECK: %[[Q:.+]] = tensor.extract_slice %[[QG3]][0, 0, 0] [%{{.+}}, 4, 64] [1, 1, 1] : tensor<?x4x128xf32> to tensor<?x4x64xf32>
// CHECK: %[[GATE:.+]] = tensor.extract_slice %[[QG3]][0, 0, 64] [%{{.+}}, 4, 64] [1, 1, 1] : tensor<?x4x128xf32> to tensor<?x4x64xf32>
// CHECK: %[[KL:.+]] = qnext.linear %[[X]], %[[WK]]
// CHECK: %[[K:.+]] = tensor.expand_shape %[[KL]] {{\[}}[0], [1, 2]] output_shape [%{{.+}}, 2, 64]
// CHECK: %[[VL:.+]] = qnext.linear %[[X]], %[[WV]]
// CHECK: %[[V:.+]] = tensor.expand_shape %[[VL]]
// CHECK: %[[QNORM:.+]] = qnext.rms_norm %[[Q]], %[[QN]] : tensor<?x4x64xf32>, tensor<64xbf16>
// CHECK: %[[KNORM:.+]] = qnext.rms_norm %[[K]], %[[KN]] : tensor<?x2x64xf32>, tensor<64xbf16>
// CHECK: %[[QR:.+]] = qnext.rope %[[QNORM]], %[[POS]] {rotary_dim = 16 : i64, theta = 1.000000e+07 : f64, yarn = #qnext.yarn<factor = 4.000000e+00, original_max_position_embeddings = 262144, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>}
// CHECK: %[[KR:.+]] = qnext.rope %[[KNORM]], %[[POS]] {rotary_dim = 16 : i64, theta = 1.000000e+07 : f64, yarn = #qnext.yarn
// CHECK: %[[O:.+]], %[[KC1:.+]], %[[VC1:.+]] = qnext.attention %[[QR]], %[[KR]], %[[V]], %[[KC]], %[[VC]], %[[PAST]]
// CHECK-NOT: scale
// CHECK: %[[GATED:.+]] = qnext.sigmoid_gate %[[O]], %[[GATE]] : tensor<?x4x64xf32>, tensor<?x4x64xf32>
// CHECK: %[[FLAT:.+]] = tensor.collapse_shape %[[GATED]] {{\[}}[0], [1, 2]] : tensor<?x4x64xf32> into tensor<?x256xf32>
// CHECK: %[[OUT:.+]] = qnext.linear %[[FLAT]], %[[WO]] : tensor<?x256xf32>, tensor<128x256xbf16> -> tensor<?x128xf32>
// CHECK: return %[[OUT]], %[[KC1]], %[[VC1]]
func.func @attention(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<2x256x64xf32>,
                     %vc: tensor<2x256x64xf32>, %past: index, %wq: tensor<512x128xbf16>,
                     %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>,
                     %qn: tensor<64xbf16>, %kn: tensor<64xbf16>)
    -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>) {
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc past(%past), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64,
       rope_theta = 1.0e+07 : f64,
       yarn = #qnext.yarn<factor = 4.0, original_max_position_embeddings = 262144,
                          beta_fast = 32.0, beta_slow = 1.0>}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index,
         tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>,
         tensor<64xbf16>, tensor<64xbf16>)
      -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
  return %y, %kc1, %vc1 : tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>
}

// -----

// CHECK-LABEL: func.func @moe
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x128xf32>, %[[R:[^:]+]]: tensor<8x128xbf16>, %[[EG:[^:]+]]: tensor<8x64x128xbf16>, %[[EU:[^:]+]]: tensor<8x64x128xbf16>, %[[ED:[^:]+]]: tensor<8x128x64xbf16>, %[[SG:[^:]+]]: tensor<96x128xbf16>, %[[SU:[^:]+]]: tensor<96x128xbf16>, %[[SD:[^:]+]]: tensor<128x96xbf16>, %[[SGATE:[^:]+]]: tensor<1x128xbf16>)
// CHECK: %[[LOGITS:.+]] = qnext.linear %[[X]], %[[R]] : tensor<?x128xf32>, tensor<8x128xbf16> -> tensor<?x8xf32>
// CHECK: %[[W:.+]], %[[IDX:.+]] = qnext.router %[[LOGITS]] {normalize = false, top_k = 2 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
// CHECK: %[[ROUTED:.+]] = qnext.expert_swiglu %[[X]], %[[W]], %[[IDX]], %[[EG]], %[[EU]], %[[ED]]
// CHECK: %[[G:.+]] = qnext.linear %[[X]], %[[SG]]
// CHECK: %[[U:.+]] = qnext.linear %[[X]], %[[SU]]
// CHECK: %[[H:.+]] = qnext.silu_mul %[[G]], %[[U]] : tensor<?x96xf32>
// CHECK: %[[D:.+]] = qnext.linear %[[H]], %[[SD]] : tensor<?x96xf32>, tensor<128x96xbf16> -> tensor<?x128xf32>
// CHECK: %[[GL:.+]] = qnext.linear %[[X]], %[[SGATE]] : tensor<?x128xf32>, tensor<1x128xbf16> -> tensor<?x1xf32>
// CHECK: %[[SHARED:.+]] = qnext.sigmoid_gate %[[D]], %[[GL]] : tensor<?x128xf32>, tensor<?x1xf32>
// CHECK: %[[SUM:.+]] = arith.addf %[[ROUTED]], %[[SHARED]] : tensor<?x128xf32>
// CHECK: return %[[SUM]]
// ONLY-MOE-LABEL: func.func @moe
// ONLY-MOE: qnext.router
// ONLY-MOE-NOT: qnext.moe
func.func @moe(%x: tensor<?x128xf32>, %router: tensor<8x128xbf16>, %eg: tensor<8x64x128xbf16>,
               %eu: tensor<8x64x128xbf16>, %ed: tensor<8x128x64xbf16>, %sg: tensor<96x128xbf16>,
               %su: tensor<96x128xbf16>, %sd: tensor<128x96xbf16>, %sgate: tensor<1x128xbf16>)
    -> tensor<?x128xf32> {
  %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64, norm_topk_prob = false}
      : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>,
         tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>,
         tensor<1x128xbf16>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// CHECK-LABEL: func.func @mlp
// CHECK-SAME: (%[[X:[^:]+]]: tensor<1x128xf32>, %[[G:[^:]+]]: tensor<256x128xbf16>, %[[U:[^:]+]]: tensor<256x128xbf16>, %[[D:[^:]+]]: tensor<128x256xbf16>)
// CHECK: %[[GP:.+]] = qnext.linear %[[X]], %[[G]] : tensor<1x128xf32>, tensor<256x128xbf16> -> tensor<1x256xf32>
// CHECK: %[[UP:.+]] = qnext.linear %[[X]], %[[U]]
// CHECK: %[[H:.+]] = qnext.silu_mul %[[GP]], %[[UP]] : tensor<1x256xf32>
// CHECK: %[[Y:.+]] = qnext.linear %[[H]], %[[D]] : tensor<1x256xf32>, tensor<128x256xbf16> -> tensor<1x128xf32>
// CHECK: return %[[Y]]
// ONLY-MOE-LABEL: func.func @mlp
// ONLY-MOE: qnext.mlp
func.func @mlp(%x: tensor<1x128xf32>, %g: tensor<256x128xbf16>, %u: tensor<256x128xbf16>,
               %d: tensor<128x256xbf16>) -> tensor<1x128xf32> {
  %y = qnext.mlp %x, %g, %u, %d : tensor<1x128xf32>, tensor<256x128xbf16>, tensor<256x128xbf16>, tensor<128x256xbf16>
  return %y : tensor<1x128xf32>
}

// -----

// CHECK-LABEL: func.func @lm_head
// CHECK-SAME: (%[[H:[^:]+]]: tensor<?x128xf32>, %[[N:[^:]+]]: tensor<128xbf16>, %[[W:[^:]+]]: tensor<512x128xbf16>)
// CHECK: %[[NORMED:.+]] = qnext.rms_norm %[[H]], %[[N]] : tensor<?x128xf32>, tensor<128xbf16>
// CHECK: %[[L:.+]] = qnext.linear %[[NORMED]], %[[W]] : tensor<?x128xf32>, tensor<512x128xbf16> -> tensor<?x512xf32>
// CHECK: return %[[L]]
func.func @lm_head(%h: tensor<?x128xf32>, %n: tensor<128xbf16>, %w: tensor<512x128xbf16>) -> tensor<?x512xf32> {
  %l = qnext.lm_head %h, %n, %w {epsilon = 1.0e-06 : f32} : tensor<?x128xf32>, tensor<128xbf16>, tensor<512x128xbf16> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// -----

// Primitive ops are left alone.
// CHECK-LABEL: func.func @primitives
// CHECK: qnext.embedding
// CHECK: qnext.rms_norm
func.func @primitives(%ids: tensor<?xi32>, %t: tensor<512x128xbf16>, %w: tensor<128xbf16>) -> tensor<?x128xf32> {
  %h = qnext.embedding %ids, %t : tensor<?xi32>, tensor<512x128xbf16> -> tensor<?x128xf32>
  %n = qnext.rms_norm %h, %w : tensor<?x128xf32>, tensor<128xbf16>
  return %n : tensor<?x128xf32>
}

// -----

// The rows form (a batched decode step): the projections over all rows, the
// conv .. gated norm of each row in one scf.forall over the rows, on its
// slot's part of each state, written back in place; out_proj over all rows.
// CHECK-LABEL: func.func @deltanet_rows
// CHECK-SAME: %[[CONV:[^:]+]]: tensor<?x3x256xf32>, %[[REC:[^:]+]]: tensor<?x4x32x32xf32>
// CHECK-SAME: %[[SLOTS:[^:]+]]: tensor<?xi32>)
// CHECK: %[[QKV:.+]] = qnext.linear %{{.+}} -> tensor<?x256xf32>
// CHECK: %[[ROWS:.+]] = tensor.dim %[[SLOTS]]
// CHECK: %[[Y0:.+]] = tensor.empty(%[[ROWS]]) : tensor<?x4x32xf32>
// CHECK: %[[LOOP:.+]]:3 = scf.forall (%[[R:.+]]) in (%[[ROWS]]) shared_outs(%[[Y:.+]] = %[[Y0]], %[[CS:.+]] = %[[CONV]], %[[RS:.+]] = %[[REC]])
// CHECK: %[[S32:.+]] = tensor.extract %[[SLOTS]][%[[R]]]
// CHECK: %[[S:.+]] = arith.index_cast %[[S32]] : i32 to index
// CHECK: %[[ROW:.+]] = tensor.extract_slice %[[QKV]][%[[R]], 0] [1, 256] [1, 1] : tensor<?x256xf32> to tensor<1x256xf32>
// CHECK: %[[MYCS:.+]] = tensor.extract_slice %[[CS]][%[[S]], 0, 0] [1, 3, 256] [1, 1, 1] : tensor<?x3x256xf32> to tensor<3x256xf32>
// CHECK: %[[MYRS:.+]] = tensor.extract_slice %[[RS]][%[[S]], 0, 0, 0] [1, 4, 32, 32] [1, 1, 1, 1] : tensor<?x4x32x32xf32> to tensor<4x32x32xf32>
// CHECK: %[[C:.+]], %[[NEWCS:.+]] = qnext.causal_conv1d %[[ROW]], %{{.+}}, %[[MYCS]] {silu} : tensor<1x256xf32>
// CHECK: %[[O:.+]], %[[NEWRS:.+]] = qnext.gated_delta_rule {{.+}}, %[[MYRS]] :
// CHECK: %[[N:.+]] = qnext.gated_rms_norm %[[O]]
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[N]] into %[[Y]][%[[R]], 0, 0] [1, 4, 32]
// CHECK-NEXT: tensor.parallel_insert_slice %[[NEWCS]] into %[[CS]][%[[S]], 0, 0] [1, 3, 256]
// CHECK-NEXT: tensor.parallel_insert_slice %[[NEWRS]] into %[[RS]][%[[S]], 0, 0, 0] [1, 4, 32, 32]
// CHECK: %[[FLAT:.+]] = tensor.collapse_shape %[[LOOP]]#0
// CHECK: %[[OUT:.+]] = qnext.linear %[[FLAT]]
// CHECK: return %[[OUT]], %[[LOOP]]#1, %[[LOOP]]#2
func.func @deltanet_rows(%x: tensor<?x128xf32>, %conv: tensor<?x3x256xf32>, %rec: tensor<?x4x32x32xf32>,
                         %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>,
                         %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>,
                         %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>,
                         %slots: tensor<?xi32>)
    -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>) {
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo, %slots
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<?xi32>) -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  return %y, %cs, %rs : tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>
}

// -----

// Attention's rows form: row r at its position, which is also its past.
// CHECK-LABEL: func.func @attention_rows
// CHECK-SAME: %[[POS:[^:]+]]: tensor<?xi32>, %[[KC:[^:]+]]: tensor<?x2x256x64xf32>, %[[VC:[^:]+]]: tensor<?x2x256x64xf32>, %[[SLOTS:[^:]+]]: tensor<?xi32>
// CHECK: scf.forall (%[[R:.+]]) in (%{{.+}}) shared_outs(%[[O:.+]] = %{{.+}}, %[[K:.+]] = %[[KC]], %[[V:.+]] = %[[VC]])
// CHECK: %[[S:.+]] = arith.index_cast
// CHECK: %[[MYPOS:.+]] = tensor.extract_slice %[[POS]][%[[R]]] [1] [1] : tensor<?xi32> to tensor<1xi32>
// CHECK: %[[MYK:.+]] = tensor.extract_slice %[[K]][%[[S]], 0, 0, 0] [1, 2, 256, 64]
// CHECK: %[[MYV:.+]] = tensor.extract_slice %[[V]][%[[S]], 0, 0, 0] [1, 2, 256, 64]
// CHECK: %[[P32:.+]] = tensor.extract %[[MYPOS]]
// CHECK: %[[PAST:.+]] = arith.index_cast %[[P32]] : i32 to index
// CHECK: qnext.rope %{{.+}}, %[[MYPOS]]
// CHECK: %[[A:.+]], %[[NK:.+]], %[[NV:.+]] = qnext.attention %{{.+}}, %{{.+}}, %{{.+}}, %[[MYK]], %[[MYV]], %[[PAST]] : (tensor<1x4x64xf32>
// CHECK: %[[G:.+]] = qnext.sigmoid_gate %[[A]]
// CHECK: tensor.parallel_insert_slice %[[G]] into %[[O]][%[[R]], 0, 0]
// CHECK-NEXT: tensor.parallel_insert_slice %[[NK]] into %[[K]][%[[S]], 0, 0, 0]
// CHECK-NEXT: tensor.parallel_insert_slice %[[NV]] into %[[V]][%[[S]], 0, 0, 0]

func.func @attention_rows(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<?x2x256x64xf32>,
                          %vc: tensor<?x2x256x64xf32>, %slots: tensor<?xi32>, %wq: tensor<512x128xbf16>,
                          %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>, %wo: tensor<128x256xbf16>,
                          %qn: tensor<64xbf16>, %kn: tensor<64xbf16>)
    -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>) {
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc slots(%slots), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>, tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
  return %y, %kc1, %vc1 : tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>
}

// -----

// The sequences form (a batched prefill): sequence i is rows
// [ends[i-1], ends[i]) of slot slots[i]; the conv .. gated norm of each run
// (the one-sequence form, its rows dynamic) in one scf.forall over the
// sequences, on its slot's states, its rows written back at its start.
// CHECK-LABEL: func.func @deltanet_sequences
// CHECK-SAME: %[[CONV:[^:]+]]: tensor<?x3x256xf32>, %[[REC:[^:]+]]: tensor<?x4x32x32xf32>
// CHECK-SAME: %[[SLOTS:[^:]+]]: tensor<?xi32>, %[[ENDS:[^:]+]]: tensor<?xi32>)
// CHECK-DAG: %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK: %[[QKV:.+]] = qnext.linear %{{.+}} -> tensor<?x256xf32>
// CHECK: %[[N:.+]] = tensor.dim %[[SLOTS]]
// CHECK: %[[T:.+]] = tensor.dim %[[QKV]]
// CHECK: %[[Y0:.+]] = tensor.empty(%[[T]]) : tensor<?x4x32xf32>
// CHECK: %[[LOOP:.+]]:3 = scf.forall (%[[I:.+]]) in (%[[N]]) shared_outs(%[[Y:.+]] = %[[Y0]], %[[CS:.+]] = %[[CONV]], %[[RS:.+]] = %[[REC]])
// CHECK: %[[FIRST:.+]] = arith.cmpi eq, %[[I]], %[[C0]] : index
// CHECK: %[[ATLEAST1:.+]] = arith.maxui %[[I]], %[[C1]] : index
// CHECK: %[[IPREV:.+]] = arith.subi %[[ATLEAST1]], %[[C1]] : index
// CHECK: %[[PREV32:.+]] = tensor.extract %[[ENDS]][%[[IPREV]]]
// CHECK: %[[PREV:.+]] = arith.index_cast %[[PREV32]] : i32 to index
// CHECK: %[[START:.+]] = arith.select %[[FIRST]], %[[C0]], %[[PREV]] : index
// CHECK: %[[END32:.+]] = tensor.extract %[[ENDS]][%[[I]]]
// CHECK: %[[END:.+]] = arith.index_cast %[[END32]]
// CHECK: %[[LEN:.+]] = arith.subi %[[END]], %[[START]]
// CHECK: %[[S32:.+]] = tensor.extract %[[SLOTS]][%[[I]]]
// CHECK: %[[S:.+]] = arith.index_cast %[[S32]] : i32 to index
// CHECK: %[[MYROWS:.+]] = tensor.extract_slice %[[QKV]][%[[START]], 0] [%[[LEN]], 256] [1, 1] : tensor<?x256xf32> to tensor<?x256xf32>
// CHECK: %[[MYCS:.+]] = tensor.extract_slice %[[CS]][%[[S]], 0, 0] [1, 3, 256] [1, 1, 1] : tensor<?x3x256xf32> to tensor<3x256xf32>
// CHECK: %[[MYRS:.+]] = tensor.extract_slice %[[RS]][%[[S]], 0, 0, 0] [1, 4, 32, 32]
// CHECK: %[[C:.+]], %[[NEWCS:.+]] = qnext.causal_conv1d %[[MYROWS]], %{{.+}}, %[[MYCS]] {silu} : tensor<?x256xf32>
// CHECK: %[[O:.+]], %[[NEWRS:.+]] = qnext.gated_delta_rule {{.+}}, %[[MYRS]] :
// CHECK: %[[NORM:.+]] = qnext.gated_rms_norm %[[O]]
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[NORM]] into %[[Y]][%[[START]], 0, 0] [%[[LEN]], 4, 32]
// CHECK-NEXT: tensor.parallel_insert_slice %[[NEWCS]] into %[[CS]][%[[S]], 0, 0] [1, 3, 256]
// CHECK-NEXT: tensor.parallel_insert_slice %[[NEWRS]] into %[[RS]][%[[S]], 0, 0, 0] [1, 4, 32, 32]
// CHECK: %[[FLAT:.+]] = tensor.collapse_shape %[[LOOP]]#0
// CHECK: %[[OUT:.+]] = qnext.linear %[[FLAT]]
// CHECK: return %[[OUT]], %[[LOOP]]#1, %[[LOOP]]#2
func.func @deltanet_sequences(%x: tensor<?x128xf32>, %conv: tensor<?x3x256xf32>, %rec: tensor<?x4x32x32xf32>,
                              %wqkv: tensor<256x128xbf16>, %wz: tensor<128x128xbf16>, %wb: tensor<4x128xbf16>,
                              %wa: tensor<4x128xbf16>, %cw: tensor<256x1x4xbf16>, %dt: tensor<4xbf16>,
                              %alog: tensor<4xbf16>, %nw: tensor<32xbf16>, %wo: tensor<128x128xbf16>,
                              %slots: tensor<?xi32>, %ends: tensor<?xi32>)
    -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>) {
  %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo, %slots, %ends
      {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64, value_head_dim = 32 : i64}
      : (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>, tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>)
  return %y, %cs, %rs : tensor<?x128xf32>, tensor<?x3x256xf32>, tensor<?x4x32x32xf32>
}

// -----

// Attention's sequences form: a run's past is its first row's position.
// CHECK-LABEL: func.func @attention_sequences
// CHECK-SAME: %[[POS:[^:]+]]: tensor<?xi32>, %[[KC:[^:]+]]: tensor<?x2x256x64xf32>, %[[VC:[^:]+]]: tensor<?x2x256x64xf32>, %[[SLOTS:[^:]+]]: tensor<?xi32>, %[[ENDS:[^:]+]]: tensor<?xi32>
// CHECK: scf.forall (%[[I:.+]]) in (%{{.+}}) shared_outs(%[[O:.+]] = %{{.+}}, %[[K:.+]] = %[[KC]], %[[V:.+]] = %[[VC]])
// CHECK: %[[START:.+]] = arith.select
// CHECK: %[[LEN:.+]] = arith.subi
// CHECK: %[[S:.+]] = arith.index_cast
// CHECK: %[[MYPOS:.+]] = tensor.extract_slice %[[POS]][%[[START]]] [%[[LEN]]] [1] : tensor<?xi32> to tensor<?xi32>
// CHECK: %[[MYK:.+]] = tensor.extract_slice %[[K]][%[[S]], 0, 0, 0] [1, 2, 256, 64]
// CHECK: %[[MYV:.+]] = tensor.extract_slice %[[V]][%[[S]], 0, 0, 0] [1, 2, 256, 64]
// CHECK: %[[P32:.+]] = tensor.extract %[[MYPOS]]
// CHECK: %[[PAST:.+]] = arith.index_cast %[[P32]] : i32 to index
// CHECK: qnext.rope %{{.+}}, %[[MYPOS]]
// CHECK: %[[A:.+]], %[[NK:.+]], %[[NV:.+]] = qnext.attention %{{.+}}, %{{.+}}, %{{.+}}, %[[MYK]], %[[MYV]], %[[PAST]] : (tensor<?x4x64xf32>
// CHECK: %[[G:.+]] = qnext.sigmoid_gate %[[A]]
// CHECK: tensor.parallel_insert_slice %[[G]] into %[[O]][%[[START]], 0, 0] [%[[LEN]], 4, 64]
// CHECK-NEXT: tensor.parallel_insert_slice %[[NK]] into %[[K]][%[[S]], 0, 0, 0]
// CHECK-NEXT: tensor.parallel_insert_slice %[[NV]] into %[[V]][%[[S]], 0, 0, 0]
func.func @attention_sequences(%x: tensor<?x128xf32>, %pos: tensor<?xi32>, %kc: tensor<?x2x256x64xf32>,
                               %vc: tensor<?x2x256x64xf32>, %slots: tensor<?xi32>, %ends: tensor<?xi32>,
                               %wq: tensor<512x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<128x128xbf16>,
                               %wo: tensor<128x256xbf16>, %qn: tensor<64xbf16>, %kn: tensor<64xbf16>)
    -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>) {
  %y, %kc1, %vc1 = qnext.gated_attention %x, %pos, %kc, %vc slots(%slots) ends(%ends), %wq, %wk, %wv, %wo, %qn, %kn
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64, rope_theta = 1.0e+07 : f64}
      : (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>, tensor<?xi32>, tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>) -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
  return %y, %kc1, %vc1 : tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>
}

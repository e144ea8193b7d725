// RUN: qnext-opt %s --qnext-fuse-moe --split-input-file | FileCheck %s
// RUN: qnext-opt %s --qnext-fuse-swiglu --qnext-fuse-moe --split-input-file | FileCheck %s --check-prefix=TAKEN
// RUN: qnext-opt %s --qnext-fuse-moe --qnext-lower-to-linalg --split-input-file | FileCheck %s --check-prefix=LINALG
// RUN: qnext-opt %s --qnext-fuse-moe --qnext-lower-to-linalg --convert-elementwise-to-linalg --canonicalize --qnext-vectorize-contractions="vector-width=8 rows=4" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=KERNEL
// RUN: qnext-opt %s --qnext-fuse-moe --qnext-lower-to-linalg --convert-elementwise-to-linalg --canonicalize --qnext-vectorize-contractions="vector-width=8 rows=4 activations=int8" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=BYTES

// One decode step's routed experts (top 2 of 4): a group of their own.
// CHECK-LABEL: func.func @decode_step
// CHECK: %[[Y:.+]] = qnext.fused <moe> : tensor<1x64xf32> {
// CHECK-NEXT: %[[E:.+]] = qnext.expert_swiglu
// CHECK-NEXT: qnext.yield %[[E]] : tensor<1x64xf32>
// CHECK: return %[[Y]]
// An op another fusion grouped first is left alone.
// TAKEN-LABEL: func.func @decode_step
// TAKEN: qnext.fused <swiglu>
// TAKEN-NEXT: qnext.expert_swiglu
// TAKEN-NOT: qnext.fused
// TAKEN: return

// The lowering: the gather form, no loop over the selected experts; gate,
// up and silu * mul tagged, then the down gather and the combine.
// LINALG-LABEL: func.func @decode_step
// LINALG-NOT: scf.for
// LINALG: linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.+}}qnext.fusion = #qnext.fusion<moe>
// LINALG: tensor.extract %{{.+}} : tensor<4x32x64xbf16>
// LINALG: linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.+}}qnext.fusion = #qnext.fusion<moe>
// LINALG: linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]{{.+}}qnext.fusion = #qnext.fusion<moe>
// LINALG: math.exp
// LINALG: linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// LINALG: tensor.extract %{{.+}} : tensor<4x64x32xbf16>
// LINALG: linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]

// Two kernels for both experts. The first: a block per 4 rows of one
// expert's gate and up (2 experts x 32 / 4 = 16), the expert read from the
// selector, x read once per step, silu * mul in registers, written to
// h[0, e, rows]. The second: a block per 4 output rows (64 / 4 = 16), going
// through the 2 experts in order: each expert's 4 down rows against its h
// row, w * rows added in registers, y written once.
// KERNEL-LABEL: func.func @decode_step
// KERNEL-SAME: (%[[X:.+]]: tensor<1x64xf32>, %[[W:.+]]: tensor<1x2xf32>, %[[I:.+]]: tensor<1x2xi32>)
// KERNEL: %[[H:.+]] = scf.forall (%[[B:.+]]) in (16) shared_outs(%[[HO:.+]] = %{{.+}}) -> (tensor<1x2x32xf32>)
// KERNEL: %[[S:.+]] = arith.divui %[[B]], %{{.+}}
// KERNEL: %[[ID:.+]] = tensor.extract %[[I]][%{{.+}}, %[[S]]] : tensor<1x2xi32>
// KERNEL: %[[EX:.+]] = arith.index_cast %[[ID]] : i32 to index
// KERNEL: %[[GW:.+]] = tensor.extract_slice %{{.+}}[%[[EX]], 0, 0] [1, 32, 64] [1, 1, 1] : tensor<4x32x64xbf16> to tensor<32x64xbf16>
// KERNEL: %[[UW:.+]] = tensor.extract_slice %{{.+}}[%[[EX]], 0, 0] [1, 32, 64] [1, 1, 1] : tensor<4x32x64xbf16> to tensor<32x64xbf16>
// KERNEL: %[[XR:.+]] = tensor.extract_slice %[[X]][0, 0] [1, 64] [1, 1] : tensor<1x64xf32> to tensor<64xf32>
// KERNEL: scf.for {{.+}} -> (vector<2xf32>, vector<2xf32>, vector<2xf32>, vector<2xf32>)
// KERNEL: scf.for {{.+}} -> (vector<8xf32>)
// KERNEL: vector.transfer_read %[[GW]]
// KERNEL: vector.transfer_read %[[XR]]
// KERNEL: scf.for {{.+}} -> (vector<8xf32>)
// KERNEL: vector.transfer_read %[[UW]]
// KERNEL: vector.transfer_read %[[XR]]
// KERNEL: math.exp {{.+}} : vector<4xf32>
// KERNEL: tensor.parallel_insert_slice %{{.+}} into %[[HO]][0, %[[S]], %{{.+}}] [1, 1, 4] [1, 1, 1] : tensor<1x1x4xf32> into tensor<1x2x32xf32>
// The down projection's rows are short (32 < 1024 values): blocks of twice
// `rows`, 8 rows, each reading 8 rows of every slot's expert.
// KERNEL: %[[Y:.+]] = scf.forall (%{{.+}}) in (8) shared_outs(%[[YO:.+]] = %{{.+}}) -> (tensor<1x64xf32>)
// KERNEL: %[[ACC:.+]] = scf.for %[[SL:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[A:.+]] = %{{.+}}) -> (vector<8xf32>)
// KERNEL: tensor.extract %[[I]][%{{.+}}, %[[SL]]]
// KERNEL: tensor.extract_slice %{{.+}}[%{{.+}}, 0, 0] [1, 64, 32] [1, 1, 1] : tensor<4x64x32xbf16> to tensor<64x32xbf16>
// KERNEL: tensor.extract_slice %[[H]][0, %[[SL]], 0] [1, 1, 32] [1, 1, 1] : tensor<1x2x32xf32> to tensor<32xf32>
// KERNEL: %[[STEPS:.+]]:2 = scf.for {{.+}} -> (vector<4xf32>, vector<4xf32>)
// KERNEL: scf.for {{.+}} -> (vector<8xf32>)
// KERNEL: vector.fma
// KERNEL: vector.from_elements {{.+}} : vector<4xf32>
// KERNEL: %[[LOW:.+]] = vector.insert_strided_slice %[[STEPS]]#0, %{{.+}} {offsets = [0], strides = [1]} : vector<4xf32> into vector<8xf32>
// KERNEL: %[[ROW:.+]] = vector.insert_strided_slice %[[STEPS]]#1, %[[LOW]] {offsets = [4], strides = [1]} : vector<4xf32> into vector<8xf32>
// KERNEL: %[[WT:.+]] = tensor.extract %[[W]][%{{.+}}, %[[SL]]] : tensor<1x2xf32>
// KERNEL: %[[WS:.+]] = vector.broadcast %[[WT]] : f32 to vector<8xf32>
// KERNEL: %[[P:.+]] = arith.mulf %[[WS]], %[[ROW]] : vector<8xf32>
// KERNEL: %[[SUM:.+]] = arith.addf %[[A]], %[[P]] : vector<8xf32>
// KERNEL: scf.yield %[[SUM]]
// KERNEL: vector.transfer_write %[[ACC]]
// KERNEL: tensor.parallel_insert_slice {{.+}} into %[[YO]]
// KERNEL-NOT: linalg.generic
// KERNEL: return %[[Y]]
func.func @decode_step(%x: tensor<1x64xf32>, %w: tensor<1x2xf32>, %i: tensor<1x2xi32>) -> tensor<1x64xf32> {
  %g = qnext.param "experts_gate" : tensor<4x32x64xbf16>
  %u = qnext.param "experts_up" : tensor<4x32x64xbf16>
  %d = qnext.param "experts_down" : tensor<4x64x32xbf16>
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<1x64xf32>, tensor<1x2xf32>, tensor<1x2xi32>, tensor<4x32x64xbf16>,
         tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// A prompt: still grouped by expert (a loop over the experts, gathering the
// tokens routed to each), with each expert's gate, up and silu * mul tagged
// so that they are one kernel as under qnext-fuse-swiglu.
// CHECK-LABEL: func.func @prompt
// CHECK: qnext.fused <moe>
// CHECK-NEXT: qnext.expert_swiglu
// LINALG-LABEL: func.func @prompt
// LINALG: scf.for
// LINALG: linalg.generic {{.+}}qnext.fusion = #qnext.fusion<moe>
// LINALG: linalg.generic {{.+}}qnext.fusion = #qnext.fusion<moe>
// LINALG: linalg.generic {{.+}}qnext.fusion = #qnext.fusion<moe>
// KERNEL-LABEL: func.func @prompt
// KERNEL: scf.for
// KERNEL: scf.forall
// KERNEL: math.exp {{.+}} : vector<1xf32>
// KERNEL: return
func.func @prompt(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) -> tensor<?x64xf32> {
  %g = qnext.param "experts_gate" : tensor<4x32x64xbf16>
  %u = qnext.param "experts_up" : tensor<4x32x64xbf16>
  %d = qnext.param "experts_down" : tensor<4x64x32xbf16>
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x32x64xbf16>,
         tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// With the shared expert (as qnext-decompose-layers writes the MoE): its
// down projection, its sigmoid gate and the sum with the routed experts are
// the combine kernel's epilogue. After the slots, each block of 4 output
// rows runs its 4 rows of the shared down projection against the shared
// hidden row (K = 16), gates them (sigmoid of the one logit, splat) and adds
// them to the combine's registers: the MoE's output is written once, and no
// kernel of its own computes the shared down projection, the gate or the
// sum. Its gate and up projections stay kernels of their own.
// KERNEL-LABEL: func.func @decode_step_shared
// KERNEL: scf.forall (%{{.+}}) in (16) shared_outs(%{{.+}}) -> (tensor<1x2x32xf32>)
// KERNEL: %[[HS:.+]] = linalg.generic
// KERNEL: %[[LOGIT:.+]] = vector.transfer_write {{.+}} : vector<1xf32>, tensor<1x1xf32>
// KERNEL: %[[Y:.+]] = scf.forall (%{{.+}}) in (8) shared_outs(%[[YO:.+]] = %{{.+}}) -> (tensor<1x64xf32>)
// KERNEL: %[[ACC:.+]] = scf.for {{.+}} -> (vector<8xf32>)
// KERNEL: scf.yield
// KERNEL: %[[DSTEPS:.+]]:2 = scf.for {{.+}} -> (vector<4xf32>, vector<4xf32>)
// KERNEL: scf.for %{{.+}} = %c0 to %c16 step %c8 {{.+}} -> (vector<8xf32>)
// KERNEL: vector.transfer_read %[[HS]]
// KERNEL: vector.fma
// KERNEL: vector.from_elements {{.+}} : vector<4xf32>
// KERNEL: %[[DLOW:.+]] = vector.insert_strided_slice %[[DSTEPS]]#0
// KERNEL: %[[DOWN:.+]] = vector.insert_strided_slice %[[DSTEPS]]#1, %[[DLOW]] {offsets = [4], strides = [1]} : vector<4xf32> into vector<8xf32>
// KERNEL: %[[L:.+]] = tensor.extract %[[LOGIT]][%c0, %c0] : tensor<1x1xf32>
// KERNEL: %[[LS:.+]] = vector.broadcast %[[L]] : f32 to vector<8xf32>
// KERNEL: math.exp {{.+}} : vector<8xf32>
// KERNEL: %[[GATED:.+]] = arith.mulf %[[DOWN]], %{{.+}} : vector<8xf32>
// KERNEL: %[[SUM:.+]] = arith.addf %[[ACC]], %[[GATED]] : vector<8xf32>
// KERNEL: vector.transfer_write %[[SUM]]
// KERNEL: tensor.parallel_insert_slice {{.+}} into %[[YO]]
// KERNEL-NOT: linalg.generic
// KERNEL-NOT: scf.forall
// KERNEL: return %[[Y]]
func.func @decode_step_shared(%x: tensor<1x64xf32>, %w: tensor<1x2xf32>, %i: tensor<1x2xi32>) -> tensor<1x64xf32> {
  %g = qnext.param "experts_gate" : tensor<4x32x64xbf16>
  %u = qnext.param "experts_up" : tensor<4x32x64xbf16>
  %d = qnext.param "experts_down" : tensor<4x64x32xbf16>
  %sg = qnext.param "shared_gate" : tensor<16x64xbf16>
  %su = qnext.param "shared_up" : tensor<16x64xbf16>
  %sd = qnext.param "shared_down" : tensor<64x16xbf16>
  %sl = qnext.param "shared_expert_gate" : tensor<1x64xbf16>
  %routed = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<1x64xf32>, tensor<1x2xf32>, tensor<1x2xi32>, tensor<4x32x64xbf16>,
         tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) -> tensor<1x64xf32>
  %gs = qnext.linear %x, %sg : tensor<1x64xf32>, tensor<16x64xbf16> -> tensor<1x16xf32>
  %us = qnext.linear %x, %su : tensor<1x64xf32>, tensor<16x64xbf16> -> tensor<1x16xf32>
  %hs = qnext.silu_mul %gs, %us : tensor<1x16xf32>
  %ds = qnext.linear %hs, %sd : tensor<1x16xf32>, tensor<64x16xbf16> -> tensor<1x64xf32>
  %logit = qnext.linear %x, %sl : tensor<1x64xf32>, tensor<1x64xbf16> -> tensor<1x1xf32>
  %shared = qnext.sigmoid_gate %ds, %logit : tensor<1x64xf32>, tensor<1x1xf32>
  %y = arith.addf %routed, %shared : tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// The shared expert's down projection read elsewhere too: it stays a kernel
// of its own, and the combine kernel writes the routed sum alone.
// KERNEL-LABEL: func.func @shared_down_used
// KERNEL: scf.forall (%{{.+}}) in (16) shared_outs(%{{.+}}) -> (tensor<1x2x32xf32>)
// KERNEL: scf.forall (%{{.+}}) in (8) shared_outs(%{{.+}}) -> (tensor<1x64xf32>)
// KERNEL-NOT: math.exp
// KERNEL: scf.forall.in_parallel
// KERNEL: scf.forall (%{{.+}}) in (16) shared_outs(%{{.+}}) -> (tensor<1x64xf32>)
// KERNEL: linalg.generic
// KERNEL: math.exp
// KERNEL: return
func.func @shared_down_used(%x: tensor<1x64xf32>, %w: tensor<1x2xf32>, %i: tensor<1x2xi32>) -> (tensor<1x64xf32>, tensor<1x64xf32>) {
  %g = qnext.param "experts_gate" : tensor<4x32x64xbf16>
  %u = qnext.param "experts_up" : tensor<4x32x64xbf16>
  %d = qnext.param "experts_down" : tensor<4x64x32xbf16>
  %sd = qnext.param "shared_down" : tensor<64x16xbf16>
  %sl = qnext.param "shared_expert_gate" : tensor<1x64xbf16>
  %routed = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<1x64xf32>, tensor<1x2xf32>, tensor<1x2xi32>, tensor<4x32x64xbf16>,
         tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) -> tensor<1x64xf32>
  %hs = tensor.extract_slice %x[0, 0] [1, 16] [1, 1] : tensor<1x64xf32> to tensor<1x16xf32>
  %ds = qnext.linear %hs, %sd : tensor<1x16xf32>, tensor<64x16xbf16> -> tensor<1x64xf32>
  %logit = qnext.linear %x, %sl : tensor<1x64xf32>, tensor<1x64xbf16> -> tensor<1x1xf32>
  %shared = qnext.sigmoid_gate %ds, %logit : tensor<1x64xf32>, tensor<1x1xf32>
  %y = arith.addf %routed, %shared : tensor<1x64xf32>
  return %y, %ds : tensor<1x64xf32>, tensor<1x64xf32>
}

// -----

// Quantized experts with byte dots (activations=int8): the combine's blocks
// take the rows that read as many bytes of each slot as bf16 rows would,
// int8 twice the rows (1024 rows in 64 blocks of 16: rows=4, twice for
// rows shorter than 1024, twice again for 8-bit weights) and int4 four
// times (32 blocks of 32, the fewest blocks allowed); f32 inputs keep
// blocks of 8 rows.
// KERNEL-LABEL: func.func @decode_step_int8
// KERNEL: scf.forall (%{{.+}}) in (32) shared_outs(%{{.+}}) -> (tensor<1x2x64xf32>)
// KERNEL: scf.forall (%{{.+}}) in (128) shared_outs(%{{.+}}) -> (tensor<1x1024xf32>)
// KERNEL-LABEL: func.func @decode_step_int4
// KERNEL: scf.forall (%{{.+}}) in (128) shared_outs(%{{.+}}) -> (tensor<1x1024xf32>)
// BYTES-LABEL: func.func @decode_step_int8
// BYTES: scf.forall (%{{.+}}) in (32) shared_outs(%{{.+}}) -> (tensor<1x2x64xf32>)
// BYTES: qnext.byte_dot
// BYTES: scf.forall (%{{.+}}) in (64) shared_outs(%{{.+}}) -> (tensor<1x1024xf32>)
// BYTES: qnext.byte_dot
// BYTES-LABEL: func.func @decode_step_int4
// BYTES: scf.forall (%{{.+}}) in (32) shared_outs(%{{.+}}) -> (tensor<1x1024xf32>)
// BYTES: qnext.byte_dot {{.+}} narrow
func.func @decode_step_int8(%x: tensor<1x1024xf32>, %w: tensor<1x2xf32>, %i: tensor<1x2xi32>) -> tensor<1x1024xf32> {
  %gq = qnext.param "experts_gate" : tensor<4x64x1024xi8>
  %gs = qnext.param "experts_gate_scales" : tensor<4x64x8xf32>
  %uq = qnext.param "experts_up" : tensor<4x64x1024xi8>
  %us = qnext.param "experts_up_scales" : tensor<4x64x8xf32>
  %dq = qnext.param "experts_down" : tensor<4x1024x64xi8>
  %ds = qnext.param "experts_down_scales" : tensor<4x1024x1xf32>
  %g = qnext.dequantize %gq, %gs {group = 128 : i64} : tensor<4x64x1024xi8>, tensor<4x64x8xf32> -> tensor<4x64x1024xf32>
  %u = qnext.dequantize %uq, %us {group = 128 : i64} : tensor<4x64x1024xi8>, tensor<4x64x8xf32> -> tensor<4x64x1024xf32>
  %d = qnext.dequantize %dq, %ds {group = 64 : i64} : tensor<4x1024x64xi8>, tensor<4x1024x1xf32> -> tensor<4x1024x64xf32>
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<1x1024xf32>, tensor<1x2xf32>, tensor<1x2xi32>, tensor<4x64x1024xf32>,
         tensor<4x64x1024xf32>, tensor<4x1024x64xf32>) -> tensor<1x1024xf32>
  return %y : tensor<1x1024xf32>
}
func.func @decode_step_int4(%x: tensor<1x1024xf32>, %w: tensor<1x2xf32>, %i: tensor<1x2xi32>) -> tensor<1x1024xf32> {
  %gq = qnext.param "experts_gate" : tensor<4x64x512xi8>
  %gs = qnext.param "experts_gate_scales" : tensor<4x64x8xf32>
  %uq = qnext.param "experts_up" : tensor<4x64x512xi8>
  %us = qnext.param "experts_up_scales" : tensor<4x64x8xf32>
  %dq = qnext.param "experts_down" : tensor<4x1024x32xi8>
  %ds = qnext.param "experts_down_scales" : tensor<4x1024x1xf32>
  %g = qnext.dequantize %gq, %gs {group = 128 : i64, int4} : tensor<4x64x512xi8>, tensor<4x64x8xf32> -> tensor<4x64x1024xf32>
  %u = qnext.dequantize %uq, %us {group = 128 : i64, int4} : tensor<4x64x512xi8>, tensor<4x64x8xf32> -> tensor<4x64x1024xf32>
  %d = qnext.dequantize %dq, %ds {group = 64 : i64, int4} : tensor<4x1024x32xi8>, tensor<4x1024x1xf32> -> tensor<4x1024x64xf32>
  %y = qnext.expert_swiglu %x, %w, %i, %g, %u, %d
      : (tensor<1x1024xf32>, tensor<1x2xf32>, tensor<1x2xi32>, tensor<4x64x1024xf32>,
         tensor<4x64x1024xf32>, tensor<4x1024x64xf32>) -> tensor<1x1024xf32>
  return %y : tensor<1x1024xf32>
}

// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions --canonicalize --cse | FileCheck %s
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=16 rows=3" --canonicalize | FileCheck %s --check-prefix=W16
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="token-tile=8" --canonicalize --cse | FileCheck %s --check-prefix=TILED
// RUN: not qnext-opt %s --split-input-file --qnext-vectorize-contractions="rows=0" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not qnext-opt %s --split-input-file --qnext-vectorize-contractions="token-tile=-1" 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: vector-width, rows, token-rows, token-block-rows and prologue-tasks must be positive, token-tile not negative

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// One token, bf16 weights: a forall over blocks of 4 rows (12 / 4 = 3);
// a block runs its rows one after the other, each with its own K loop in
// steps of 8 and one accumulator, so the block's weights are read in memory
// order; each weight vector widened by a 16-bit shift; one horizontal sum
// per row. The rows go in steps of 2 (an scf.for carrying each step's
// vector of sums, replaced by a select where the step is its own), the
// step's sums gathered by static inserts, the steps joined after the loop.
// The zero fill is not re-added: the kernel writes into the fill's
// destination.
// CHECK-LABEL: func.func @matvec_bf16
// CHECK-SAME: (%[[W:.+]]: tensor<12x32xbf16>, %[[X:.+]]: tensor<32xf32>)
// CHECK-DAG: %[[C32:.+]] = arith.constant 32 : index
// CHECK-DAG: %[[C8:.+]] = arith.constant 8 : index
// CHECK-DAG: %[[C4:.+]] = arith.constant 4 : index
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[SIXTEEN:.+]] = arith.constant dense<16> : vector<8xi32>
// CHECK: %[[E:.+]] = tensor.empty() : tensor<12xf32>
// CHECK-NOT: linalg.fill
// CHECK: scf.forall (%[[I:.+]]) in (3) shared_outs(%[[O:.+]] = %[[E]])
// CHECK: %[[N0:.+]] = arith.muli %[[I]], %{{.+}} : index
// CHECK: %[[TILE:.+]] = tensor.extract_slice %[[O]][%[[N0]]] [4] [1]
// CHECK: %[[STEPS:.+]]:2 = scf.for %[[R:.+]] = %[[C0]] to %[[C4]] step %[[C2]] iter_args(%[[IN0:.+]] = %{{.+}}, %[[IN1:.+]] = %{{.+}}) -> (vector<2xf32>, vector<2xf32>)
// CHECK: %[[N:.+]] = arith.addi %[[N0]], %[[R]]
// CHECK: %[[ACC:.+]] = scf.for %[[K:.+]] = %{{.+}} to %[[C32]] step %[[C8]] iter_args(%[[A:.+]] = %{{.+}}) -> (vector<8xf32>)
// CHECK: %[[WV:.+]] = vector.transfer_read %[[W]][%[[N]], %[[K]]]{{.*}} : tensor<12x32xbf16>, vector<8xbf16>
// CHECK: %[[BITS:.+]] = arith.bitcast %[[WV]] : vector<8xbf16> to vector<8xi16>
// CHECK: %[[WIDE:.+]] = arith.extui %[[BITS]] : vector<8xi16> to vector<8xi32>
// CHECK: %[[SH:.+]] = arith.shli %[[WIDE]], %[[SIXTEEN]] : vector<8xi32>
// CHECK: %[[WF:.+]] = arith.bitcast %[[SH]] : vector<8xi32> to vector<8xf32>
// CHECK: %[[XV:.+]] = vector.transfer_read %[[X]][%[[K]]]{{.*}}{in_bounds = [true]} : tensor<32xf32>, vector<8xf32>
// CHECK: %[[F:.+]] = vector.fma %[[WF]], %[[XV]], %[[A]] : vector<8xf32>
// CHECK-NOT: vector.fma
// CHECK: scf.yield %[[F]]
// CHECK: %[[S:.+]] = vector.reduction <add>, %[[ACC]] fastmath<reassoc> : vector<8xf32> into f32
// CHECK: %[[R1:.+]] = arith.addi %[[R]], %[[C1]]
// CHECK: %[[N1:.+]] = arith.addi %[[N0]], %[[R1]]
// CHECK: %[[ACC1:.+]] = scf.for {{.+}} -> (vector<8xf32>)
// CHECK: vector.transfer_read %[[W]][%[[N1]], %{{.+}}]
// CHECK: %[[S1:.+]] = vector.reduction <add>, %[[ACC1]] fastmath<reassoc> : vector<8xf32> into f32
// CHECK: %[[STEP:.+]] = vector.from_elements %[[S]], %[[S1]] : vector<2xf32>
// CHECK: %[[AT0:.+]] = arith.cmpi eq, %[[R]], %[[C0]]
// CHECK: %[[OUT0:.+]] = arith.select %[[AT0]], %[[STEP]], %[[IN0]] : vector<2xf32>
// CHECK: %[[AT1:.+]] = arith.cmpi eq, %[[R]], %[[C2]]
// CHECK: %[[OUT1:.+]] = arith.select %[[AT1]], %[[STEP]], %[[IN1]] : vector<2xf32>
// CHECK: scf.yield %[[OUT0]], %[[OUT1]]
// CHECK: %[[LOW:.+]] = vector.insert_strided_slice %[[STEPS]]#0, %{{.+}} {offsets = [0], strides = [1]} : vector<2xf32> into vector<4xf32>
// CHECK: %[[ROWS:.+]] = vector.insert_strided_slice %[[STEPS]]#1, %[[LOW]] {offsets = [2], strides = [1]} : vector<2xf32> into vector<4xf32>
// CHECK: %[[NEW:.+]] = vector.transfer_write %[[ROWS]], %[[TILE]]
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[NEW]] into %[[O]][%[[N0]]] [4] [1]
// CHECK-NOT: linalg.generic

// W16: func.func @matvec_bf16
// W16: scf.forall (%{{.+}}) in (4)
// W16: scf.for {{.+}} -> (vector<3xf32>)
// W16: scf.for {{.+}} -> (vector<16xf32>)
func.func @matvec_bf16(%w: tensor<12x32xbf16>, %x: tensor<32xf32>) -> tensor<12xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<12xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<12xf32>) -> tensor<12xf32>
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<12x32xbf16>, tensor<32xf32>) outs(%init : tensor<12xf32>) {
  ^bb0(%wi: bf16, %xi: f32, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %0, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<12xf32>
  return %y : tensor<12xf32>
}

// -----

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// Several tokens, f16 weights, a live init (added, read from the window the
// kernel writes): blocks of 2 rows (6 / 2 = 3), tokens 4 at a time with 2x4
// accumulators, then the 1 to 3 tokens left as one block of their count
// (each reads a weight vector once for all its tokens).
// CHECK-LABEL: func.func @matmul_f16
// CHECK-SAME: (%[[X:.+]]: tensor<?x16xf32>, %[[W:.+]]: tensor<6x16xf16>, %[[INIT:.+]]: tensor<?x6xf32>)
// CHECK: %[[T:.+]] = tensor.dim %[[INIT]], %{{.+}} : tensor<?x6xf32>
// CHECK: scf.forall (%{{.+}}) in (3) shared_outs(%[[O:.+]] = %[[INIT]])
// CHECK: %[[TILE:.+]] = tensor.extract_slice %[[O]][0, %{{.+}}] [%[[T]], 2] [1, 1]
// CHECK: %[[FULL:.+]] = arith.muli
// CHECK: %[[MAIN:.+]] = scf.for %{{.+}} = %{{.+}} to %[[FULL]] step %{{.+}} iter_args(%[[IT:.+]] = %[[TILE]])
// CHECK: scf.for {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: arith.extf %{{.+}} : vector<8xf16> to vector<8xf32>
// CHECK-COUNT-4: vector.fma
// CHECK: vector.from_elements {{.+}} : vector<2xf32>
// CHECK: %[[PRIOR:.+]] = vector.transfer_read %[[IT]]
// CHECK: arith.addf %{{.+}}, %[[PRIOR]] : vector<2xf32>
// CHECK: %[[LEFT:.+]] = arith.subi %[[T]], %[[FULL]]
// CHECK: %[[REST:.+]] = scf.index_switch %[[LEFT]] -> tensor<?x2xf32>
// CHECK-NEXT: case 1 {
// CHECK: scf.for {{.+}} -> (vector<2xf32>) {
// CHECK: scf.for {{.+}} -> (vector<8xf32>) {
// CHECK: vector.fma
// CHECK-NOT: vector.fma
// CHECK: case 2 {
// CHECK: scf.for {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK-COUNT-4: vector.fma
// CHECK-NOT: vector.fma
// CHECK: case 3 {
// CHECK: scf.for {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK-COUNT-6: vector.fma
// CHECK-NOT: vector.fma
// CHECK: default {
// CHECK-NEXT: scf.yield %[[MAIN]]
// CHECK: tensor.parallel_insert_slice %[[REST]] into %[[O]][0, %{{.+}}] [%[[T]], 2] [1, 1]
// CHECK-NOT: linalg.generic
// With token-tile=8: the same kernel once per tile of 8 tokens, each
// forall's token loops running over its tile only.
// TILED-LABEL: func.func @matmul_f16
// TILED: %[[T:.+]] = tensor.dim %{{.+}}, %{{.+}} : tensor<?x6xf32>
// TILED: %[[R:.+]] = scf.for %[[T0:.+]] = %{{.+}} to %[[T]] step %[[C8:.+]] iter_args(%[[D:.+]] = %{{.+}})
// TILED: %[[E:.+]] = arith.addi %[[T0]], %[[C8]]
// TILED: %[[T1:.+]] = arith.minui %[[E]], %[[T]]
// TILED: %[[F:.+]] = scf.forall (%{{.+}}) in (3) shared_outs(%{{.+}} = %[[D]])
// TILED: %[[SPAN:.+]] = arith.subi %[[T1]], %[[T0]]
// TILED: %[[FULL:.+]] = arith.addi %[[T0]], %{{.+}}
// TILED: scf.for %{{.+}} = %[[T0]] to %[[FULL]] step
// TILED: %[[LEFT:.+]] = arith.subi %[[T1]], %[[FULL]]
// TILED: scf.index_switch %[[LEFT]]
// TILED: scf.yield %[[F]]
// TILED: return %[[R]]
func.func @matmul_f16(%x: tensor<?x16xf32>, %w: tensor<6x16xf16>, %init: tensor<?x6xf32>) -> tensor<?x6xf32> {
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x16xf32>, tensor<6x16xf16>) outs(%init : tensor<?x6xf32>) {
  ^bb0(%xi: f32, %wi: f16, %acc: f32):
    %0 = arith.extf %wi : f16 to f32
    %1 = arith.mulf %xi, %0 : f32
    %2 = arith.addf %1, %acc : f32
    linalg.yield %2 : f32
  } -> tensor<?x6xf32>
  return %y : tensor<?x6xf32>
}

// -----

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// A decode step, x: [1, K]: the one-token kernel (blocks of 4 rows, 8 / 4 =
// 2, a K loop per row, rows in steps of 2), no token loop.
// CHECK-LABEL: func.func @one_token_rows
// CHECK: scf.forall (%{{.+}}) in (2)
// CHECK-NOT: scf.for {{.+}} -> (tensor
// CHECK: scf.for {{.+}} -> (vector<2xf32>, vector<2xf32>)
// CHECK-COUNT-2: scf.for {{.+}} -> (vector<8xf32>)
// CHECK: vector.from_elements {{.+}} : vector<2xf32>
// CHECK: vector.insert_strided_slice {{.+}} {offsets = [2], strides = [1]} : vector<2xf32> into vector<4xf32>
func.func @one_token_rows(%x: tensor<1x16xf32>, %w: tensor<8x16xbf16>) -> tensor<1x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<1x16xf32>, tensor<8x16xbf16>) outs(%init : tensor<1x8xf32>) {
  ^bb0(%xi: f32, %wi: bf16, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %xi, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// Left alone: K = 12 is not a multiple of the vector width.
// CHECK-LABEL: func.func @k_not_multiple
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
func.func @k_not_multiple(%w: tensor<4x12xf32>, %x: tensor<12xf32>, %init: tensor<4xf32>) -> tensor<4xf32> {
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<4x12xf32>, tensor<12xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// Left alone: the body is not a sum of products (a max).
// CHECK-LABEL: func.func @not_a_sum
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
// CHECK: arith.maximumf
func.func @not_a_sum(%w: tensor<4x16xf32>, %x: tensor<16xf32>, %init: tensor<4xf32>) -> tensor<4xf32> {
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.maximumf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// A dynamic row count (attention scores over the cached positions): blocks
// of one row, as many as W has rows.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK-SAME: (%[[W:.+]]: tensor<?x16xf32>
// CHECK: %[[N:.+]] = tensor.dim %[[W]], %{{.+}} : tensor<?x16xf32>
// CHECK: scf.forall (%{{.+}}) in (%[[N]])
// CHECK: scf.for {{.+}} -> (vector<8xf32>) {
// CHECK: %[[SUM:.+]] = vector.reduction <add>
// CHECK: vector.broadcast %[[SUM]] : f32 to vector<1xf32>
// CHECK: tensor.parallel_insert_slice %{{.+}} [1] [1] : tensor<1xf32> into tensor<?xf32>
func.func @dynamic_rows(%w: tensor<?x16xf32>, %x: tensor<16xf32>, %init: tensor<?xf32>) -> tensor<?xf32> {
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<?x16xf32>, tensor<16xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?xf32>
  return %y : tensor<?xf32>
}

// -----

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// Left alone: K is dynamic.
// CHECK-LABEL: func.func @dynamic_k
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
func.func @dynamic_k(%w: tensor<4x?xf32>, %x: tensor<?xf32>, %init: tensor<4xf32>) -> tensor<4xf32> {
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<4x?xf32>, tensor<?xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

#transposed = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d1)>,
               affine_map<(d0, d1) -> (d0)>]

// Left alone: W is read transposed (W[k, n]), not the x * W^T form.
// CHECK-LABEL: func.func @other_maps
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
func.func @other_maps(%w: tensor<16x4xf32>, %x: tensor<16xf32>, %init: tensor<4xf32>) -> tensor<4xf32> {
  %y = linalg.generic {indexing_maps = #transposed, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<16x4xf32>, tensor<16xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]
#id = affine_map<(d0) -> (d0)>

// A marked epilogue over two marked contractions of one input: one kernel
// with both weights' rows (for each row, a K loop per weight), the body
// applied to the rows (a value from outside the body becomes a splat). Unmarked, or when a contraction
// is read elsewhere too, each contraction is its own kernel and the generic
// stays.
// CHECK-LABEL: func.func @epilogue
// CHECK-SAME: (%[[A:.+]]: tensor<8x16xf32>, %[[B:.+]]: tensor<8x16xf32>, %[[X:.+]]: tensor<16xf32>, %[[S:.+]]: f32)
// CHECK: scf.forall (%{{.+}}) in (2)
// CHECK: %[[RS:.+]]:4 = scf.for {{.+}} -> (vector<2xf32>, vector<2xf32>, vector<2xf32>, vector<2xf32>)
// CHECK: vector.transfer_read %[[A]]
// CHECK: vector.transfer_read %[[B]]
// CHECK: %[[A0:.+]] = vector.insert_strided_slice %[[RS]]#0, %{{.+}} {offsets = [0], strides = [1]}
// CHECK: %[[AR:.+]] = vector.insert_strided_slice %[[RS]]#1, %[[A0]] {offsets = [2], strides = [1]}
// CHECK: %[[B0:.+]] = vector.insert_strided_slice %[[RS]]#2, %{{.+}} {offsets = [0], strides = [1]}
// CHECK: %[[BR:.+]] = vector.insert_strided_slice %[[RS]]#3, %[[B0]] {offsets = [2], strides = [1]}
// CHECK: %[[P:.+]] = arith.mulf %[[AR]], %[[BR]] : vector<4xf32>
// CHECK: %[[SPLAT:.+]] = vector.broadcast %[[S]] : f32 to vector<4xf32>
// CHECK: %[[Q:.+]] = arith.addf %[[P]], %[[SPLAT]] : vector<4xf32>
// CHECK: vector.transfer_write %[[Q]]
// CHECK-NOT: linalg.generic
// CHECK: return
// CHECK-LABEL: func.func @epilogue_shared
// CHECK: scf.forall (%{{.+}}) in (2)
// CHECK: scf.for {{.+}} -> (vector<2xf32>, vector<2xf32>)
// CHECK: scf.forall (%{{.+}}) in (2)
// The generic left unfused loses its tag: the pass consumes them all.
// CHECK: linalg.generic
// CHECK-NOT: qnext.fusion
// CHECK: return
func.func @epilogue(%a: tensor<8x16xf32>, %b: tensor<8x16xf32>, %x: tensor<16xf32>, %s: f32) -> tensor<8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %ya = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%a, %x : tensor<8x16xf32>, tensor<16xf32>) outs(%init : tensor<8xf32>) attrs = {qnext.fusion = #qnext.fusion<swiglu>} {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  %yb = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%b, %x : tensor<8x16xf32>, tensor<16xf32>) outs(%init : tensor<8xf32>) attrs = {qnext.fusion = #qnext.fusion<swiglu>} {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  %out = tensor.empty() : tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%ya, %yb : tensor<8xf32>, tensor<8xf32>) outs(%out : tensor<8xf32>) attrs = {qnext.fusion = #qnext.fusion<swiglu>} {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %1 = arith.mulf %p, %q : f32
    %2 = arith.addf %1, %s : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  return %y : tensor<8xf32>
}
func.func @epilogue_shared(%a: tensor<8x16xf32>, %b: tensor<8x16xf32>, %x: tensor<16xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %ya = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%a, %x : tensor<8x16xf32>, tensor<16xf32>) outs(%init : tensor<8xf32>) attrs = {qnext.fusion = #qnext.fusion<swiglu>} {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  %yb = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%b, %x : tensor<8x16xf32>, tensor<16xf32>) outs(%init : tensor<8xf32>) attrs = {qnext.fusion = #qnext.fusion<swiglu>} {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<8xf32>
  %out = tensor.empty() : tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%ya, %yb : tensor<8xf32>, tensor<8xf32>) outs(%out : tensor<8xf32>) attrs = {qnext.fusion = #qnext.fusion<swiglu>} {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %1 = arith.mulf %p, %q : f32
    linalg.yield %1 : f32
  } -> tensor<8xf32>
  return %y, %ya : tensor<8xf32>, tensor<8xf32>
}

// -----

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#tr2 = affine_map<(d0, d1) -> (d1, d0)>

// A prologue-marked generic reading an input transposed: a vector along K
// would gather, so the contraction reads the generic's result as usual.
// CHECK-LABEL: func.func @prologue_transposed
// CHECK: linalg.generic
// CHECK: scf.forall (%{{.+}}) in (2)
// CHECK-NOT: -> (tensor<1x16xf32>)
// CHECK: return
func.func @prologue_transposed(%a: tensor<16x1xf32>, %w: tensor<8x16xbf16>) -> tensor<1x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x16xf32>
  %x = linalg.generic {indexing_maps = [#tr2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<16x1xf32>) outs(%e : tensor<1x16xf32>) attrs = {qnext.fusion = #qnext.fusion<norm_linear>} {
  ^bb0(%ai: f32, %o: f32):
    %1 = arith.mulf %ai, %ai : f32
    linalg.yield %1 : f32
  } -> tensor<1x16xf32>
  %ye = tensor.empty() : tensor<1x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%ye : tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<1x16xf32>, tensor<8x16xbf16>) outs(%init : tensor<1x8xf32>) {
  ^bb0(%xi: f32, %wi: bf16, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %xi, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

#gx = affine_map<(t, s, n, k) -> (t, k)>
#gs = affine_map<(t, s, n, k) -> (t, s)>
#gy = affine_map<(t, s, n, k) -> (t, s, n)>

// A gather contraction of one token (two slots, experts picked by %sel):
// one forall over both slots' blocks of 4 rows (2 x 8 / 4 = 4), each slicing
// its slot's expert out of the stacked weights. With a token count other
// than one (a prompt) it is left to the scalar path.
// CHECK-LABEL: func.func @gather_one_token
// CHECK-SAME: (%[[X:.+]]: tensor<1x16xf32>, %[[SEL:.+]]: tensor<1x2xi32>, %[[W:.+]]: tensor<4x8x16xbf16>)
// CHECK: scf.forall (%[[B:.+]]) in (4)
// CHECK: %[[S:.+]] = arith.divui %[[B]]
// CHECK: %[[ID:.+]] = tensor.extract %[[SEL]][%{{.+}}, %[[S]]]
// CHECK: %[[EX:.+]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[EW:.+]] = tensor.extract_slice %[[W]][%[[EX]], 0, 0] [1, 8, 16] [1, 1, 1] : tensor<4x8x16xbf16> to tensor<8x16xbf16>
// CHECK: scf.for {{.+}} -> (vector<2xf32>, vector<2xf32>)
// CHECK: scf.for {{.+}} -> (vector<8xf32>)
// CHECK: vector.transfer_read %[[EW]]
// CHECK: vector.fma
// CHECK: tensor.parallel_insert_slice {{.+}}[0, %[[S]], %{{.+}}] [1, 1, 4] [1, 1, 1] : tensor<1x1x4xf32> into tensor<1x2x8xf32>
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func @gather_prompt
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
func.func @gather_one_token(%x: tensor<1x16xf32>, %sel: tensor<1x2xi32>, %w: tensor<4x8x16xbf16>) -> tensor<1x2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x8xf32>) -> tensor<1x2x8xf32>
  %y = linalg.generic {indexing_maps = [#gx, #gs, #gy], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %sel : tensor<1x16xf32>, tensor<1x2xi32>) outs(%init : tensor<1x2x8xf32>) {
  ^bb0(%a: f32, %id: i32, %o: f32):
    %ex = arith.index_cast %id : i32 to index
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %wv = tensor.extract %w[%ex, %n, %k] : tensor<4x8x16xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %m = arith.mulf %a, %wf : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x8xf32>
  return %y : tensor<1x2x8xf32>
}
func.func @gather_prompt(%x: tensor<?x16xf32>, %sel: tensor<?x2xi32>, %w: tensor<4x8x16xbf16>, %init: tensor<?x2x8xf32>) -> tensor<?x2x8xf32> {
  %y = linalg.generic {indexing_maps = [#gx, #gs, #gy], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %sel : tensor<?x16xf32>, tensor<?x2xi32>) outs(%init : tensor<?x2x8xf32>) {
  ^bb0(%a: f32, %id: i32, %o: f32):
    %ex = arith.index_cast %id : i32 to index
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %wv = tensor.extract %w[%ex, %n, %k] : tensor<4x8x16xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %m = arith.mulf %a, %wf : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x2x8xf32>
  return %y : tensor<?x2x8xf32>
}

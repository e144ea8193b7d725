// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=16 token-tile=64 activations=bf16 amx=true" --canonicalize --cse | FileCheck %s

// activations=bf16 with amx: a kernel of several tokens and bf16 weights
// multiplies on AMX tiles. Per token tile, the input is rounded to bf16 and
// packed once as pairs of columns, token after token ([K / 2, 2 x tokens],
// tokens rounded up to 32); the weights are the left-hand tiles as stored.

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// CHECK-LABEL: func.func @prompt_amx
// CHECK-SAME: (%[[W:.+]]: tensor<64x64xbf16>, %[[X:.+]]: tensor<?x64xf32>)
// Token tiles of 256 (token-tile's 64 is the other kernels'): each weight
// read once per 256 tokens.
// CHECK: scf.for %[[T0:[^ ]+]] = %{{.+}} to %{{.+}} step %c256
// The packing: 16 tokens' 32 columns read, rounded, seen as 16 pairs ...
// CHECK: %[[XF:.+]] = vector.transfer_read %[[X]][%{{.+}}, %{{.+}}]{{.*}} : tensor<?x64xf32>, vector<32xf32>
// CHECK: %[[XB:.+]] = arith.truncf %[[XF]] : vector<32xf32> to vector<32xbf16>
// CHECK: vector.bitcast %[[XB]] : vector<32xbf16> to vector<16xi32>
// ... transposed by shuffles, and written a pair of columns a row.
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] : vector<16xi32>, vector<16xi32>
// CHECK: vector.transfer_write %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}] {in_bounds = [true]} : vector<32xbf16>, tensor<32x?xbf16>
// Tiles read buffers: the packed input and the weights, read only.
// CHECK: %[[XP:.+]] = bufferization.to_buffer %{{.+}} read_only : tensor<32x?xbf16> to memref<32x?xbf16, strided<[?, 1], offset: ?>>
// CHECK: %[[WB:.+]] = bufferization.to_buffer %[[W]] read_only : tensor<64x64xbf16> to memref<64x64xbf16, strided<[?, 1], offset: ?>>
// Blocks of 32 weight rows; in each, blocks of 32 tokens.
// CHECK: scf.forall (%[[B:.+]]) in (2)
// CHECK: %[[N0:.+]] = arith.muli %[[B]], %c32 : index
// CHECK: %[[N1:.+]] = arith.addi %[[N0]], %c16 : index
// CHECK: scf.for %[[TB:[^ ]+]] = %c0 to %{{.+}} step %c32
// CHECK: %[[Z:.+]] = amx.tile_zero : !amx.tile<16x16xf32>
// The block's two input tiles: tokens TB.. and TB + 16.. (columns 2 TB and
// 2 TB + 32 of the packed pairs).
// CHECK: %[[C0:.+]] = arith.muli %[[TB]], %c2 : index
// CHECK: %[[C1:.+]] = arith.addi %[[C0]], %c32 : index
// The K loop: two weight tiles, two input tiles, four products.
// CHECK: scf.for %[[K:[^ ]+]] = %c0 to %c64 step %c32 iter_args(%[[A0:.+]] = %[[Z]], %[[A1:.+]] = %[[Z]], %[[A2:.+]] = %[[Z]], %[[A3:.+]] = %[[Z]])
// CHECK: %[[KR:.+]] = arith.divui %[[K]], %c2 : index
// CHECK: %[[W0:.+]] = amx.tile_load %[[WB]][%[[N0]], %[[K]]] : {{.+}} into !amx.tile<16x32xbf16>
// CHECK: %[[W1:.+]] = amx.tile_load %[[WB]][%[[N1]], %[[K]]]
// CHECK: %[[X0:.+]] = amx.tile_load %[[XP]][%[[KR]], %[[C0]]]
// CHECK: %[[X1:.+]] = amx.tile_load %[[XP]][%[[KR]], %[[C1]]]
// CHECK: amx.tile_mulf %[[W0]], %[[X0]], %[[A0]]
// CHECK: amx.tile_mulf %[[W0]], %[[X1]], %[[A1]]
// CHECK: amx.tile_mulf %[[W1]], %[[X0]], %[[A2]]
// CHECK: amx.tile_mulf %[[W1]], %[[X1]], %[[A3]]
// The accumulators stored ([weight row, token]), transposed by shuffles,
// then written a token's row of 32 results at a time.
// CHECK: amx.tile_store %{{.+}}[%c0, %c0], %{{.+}}#0 : memref<32x32xf32>, !amx.tile<16x16xf32>
// CHECK: amx.tile_store %{{.+}}[%c0, %c16], %{{.+}}#1
// CHECK: amx.tile_store %{{.+}}[%c16, %c0], %{{.+}}#2
// CHECK: amx.tile_store %{{.+}}[%c16, %c16], %{{.+}}#3
// CHECK: scf.for
// CHECK: vector.transfer_write %{{.+}} : vector<32xf32>, tensor<?x32xf32>
// CHECK-NOT: x86vector.avx512.dot
func.func @prompt_amx(%w: tensor<64x64xbf16>, %x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x64xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x64xf32>) -> tensor<?x64xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x64xf32>, tensor<64x64xbf16>) outs(%init : tensor<?x64xf32>) {
  ^bb0(%xi: f32, %wi: bf16, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %xi, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Weight rows not a whole number of blocks of 32: the vdpbf16ps blocks.

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// CHECK-LABEL: func.func @rows_not_tiles
// CHECK-NOT: amx.
// CHECK: x86vector.avx512.dot
func.func @rows_not_tiles(%w: tensor<40x64xbf16>, %x: tensor<?x64xf32>) -> tensor<?x40xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x40xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x40xf32>) -> tensor<?x40xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x64xf32>, tensor<40x64xbf16>) outs(%init : tensor<?x40xf32>) {
  ^bb0(%xi: f32, %wi: bf16, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %xi, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}

// -----

// One token (a decode step): streaming weights, the vdpbf16ps row blocks.

#matvec = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// CHECK-LABEL: func.func @decode_not_tiles
// CHECK-NOT: amx.
// CHECK: x86vector.avx512.dot
func.func @decode_not_tiles(%w: tensor<64x64xbf16>, %x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x64xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x64xf32>) -> tensor<1x64xf32>
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<1x64xf32>, tensor<64x64xbf16>) outs(%init : tensor<1x64xf32>) {
  ^bb0(%xi: f32, %wi: bf16, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %xi, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=16 token-tile=64 activations=bf16 bf16-terms=2" --canonicalize --cse | FileCheck %s
// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions="vector-width=16 token-tile=64 activations=bf16 bf16-terms=2 amx=true" --canonicalize --cse | FileCheck %s --check-prefix=AMX

// activations=bf16 with bf16-terms=2: an input is the sum of two bf16
// values, its rounding (hi) and the rounding of what that left (x - hi),
// and each is multiplied: the rounded rows hold both, side by side
// ([tokens, 2 K]), a weight vector is read once for both dots; on AMX
// tiles the token tile is packed once a term and every K step multiplies
// both terms' tiles into the same accumulators.

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// CHECK-LABEL: func.func @prompt_terms
// CHECK-SAME: (%[[W:.+]]: tensor<8x64xbf16>, %[[X:.+]]: tensor<?x64xf32>)
// The rounding: hi at column c, the remainder's rounding at c + 64.
// CHECK: scf.for %[[T0:[^ ]+]] =
// CHECK: %[[ROUND:.+]] = scf.for %[[T:[^ ]+]] = %[[T0]] to
// CHECK: %[[R:.+]] = arith.subi %[[T]], %[[T0]] : index
// CHECK: scf.for %[[C:[^ ]+]] =
// CHECK: %[[XF:.+]] = vector.transfer_read %[[X]][%[[T]], %[[C]]]{{.*}} : tensor<?x64xf32>, vector<32xf32>
// CHECK: %[[HI:.+]] = arith.truncf %[[XF]] : vector<32xf32> to vector<32xbf16>
// CHECK: %[[WIDE:.+]] = arith.extf %[[HI]] : vector<32xbf16> to vector<32xf32>
// CHECK: %[[REST:.+]] = arith.subf %[[XF]], %[[WIDE]] : vector<32xf32>
// CHECK: %[[LO:.+]] = arith.truncf %[[REST]] : vector<32xf32> to vector<32xbf16>
// CHECK: %[[P:.+]] = vector.transfer_write %[[HI]], %{{.+}}[%[[R]], %[[C]]] {{.+}} : vector<32xbf16>, tensor<?x128xbf16>
// CHECK: %[[C64:.+]] = arith.addi %[[C]], %c64 : index
// CHECK: vector.transfer_write %[[LO]], %[[P]][%[[R]], %[[C64]]] {{.+}} : vector<32xbf16>, tensor<?x128xbf16>
// CHECK: scf.forall
// A block's K step: both terms of each token read, a weight vector once,
// two dots into one accumulator.
// CHECK: scf.for %[[K:[^ ]+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[A0:[^ ]+]] =
// CHECK: %[[XH:.+]] = vector.transfer_read %[[ROUND]][%[[RB:.+]], %[[K]]]{{.*}} : tensor<?x128xbf16>, vector<32xbf16>
// CHECK: %[[KL:.+]] = arith.addi %[[K]], %c64 : index
// CHECK: %[[XL:.+]] = vector.transfer_read %[[ROUND]][%[[RB]], %[[KL]]]{{.*}} : tensor<?x128xbf16>, vector<32xbf16>
// CHECK: %[[WV:.+]] = vector.transfer_read %[[W]][%{{.+}}, %[[K]]]{{.*}} : tensor<8x64xbf16>, vector<32xbf16>
// CHECK: %[[D:.+]] = x86vector.avx512.dot %[[A0]], %[[WV]], %[[XH]] : vector<32xbf16> -> vector<16xf32>
// CHECK-NEXT: x86vector.avx512.dot %[[D]], %[[WV]], %[[XL]] : vector<32xbf16> -> vector<16xf32>
// (Weight rows not whole blocks of 32: no tiles.)
// AMX-LABEL: func.func @prompt_terms
// AMX-NOT: amx.
// AMX: x86vector.avx512.dot
func.func @prompt_terms(%w: tensor<8x64xbf16>, %x: tensor<?x64xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x64xf32>, tensor<8x64xbf16>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%xi: f32, %wi: bf16, %acc: f32):
    %0 = arith.extf %wi : bf16 to f32
    %1 = arith.mulf %xi, %0 : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// On AMX tiles: the token tile packed once a term (the second packing
// rounds what the first left), both read only.
// AMX-LABEL: func.func @prompt_amx_terms
// AMX: arith.truncf %{{.+}} : vector<32xf32> to vector<32xbf16>
// AMX-NOT: arith.subf
// AMX: vector.transfer_write %{{.+}} : vector<32xbf16>, tensor<32x?xbf16>
// AMX: %[[HI2:.+]] = arith.truncf %[[XF2:.+]] : vector<32xf32> to vector<32xbf16>
// AMX-NEXT: %[[WIDE:.+]] = arith.extf %[[HI2]] : vector<32xbf16> to vector<32xf32>
// AMX-NEXT: %[[REST:.+]] = arith.subf %[[XF2]], %[[WIDE]] : vector<32xf32>
// AMX-NEXT: %[[LO:.+]] = arith.truncf %[[REST]] : vector<32xf32> to vector<32xbf16>
// AMX-NEXT: vector.bitcast %[[LO]] : vector<32xbf16> to vector<16xi32>
// AMX: %[[XH:.+]] = bufferization.to_buffer %{{.+}} read_only : tensor<32x?xbf16>
// AMX: %[[XL:.+]] = bufferization.to_buffer %{{.+}} read_only : tensor<32x?xbf16>
// The K loop: two weight tiles, then for each term two input tiles and
// four products, the second term's into the first's results.
// AMX: scf.for %[[K:[^ ]+]] = %c0 to %c64 step %c32 iter_args(%[[A0:.+]] = %[[Z:.+]], %[[A1:.+]] = %[[Z]], %[[A2:.+]] = %[[Z]], %[[A3:.+]] = %[[Z]])
// AMX: %[[W0:.+]] = amx.tile_load
// AMX: %[[W1:.+]] = amx.tile_load
// AMX: %[[H0:.+]] = amx.tile_load %[[XH]]
// AMX: %[[H1:.+]] = amx.tile_load %[[XH]]
// AMX: %[[B0:.+]] = amx.tile_mulf %[[W0]], %[[H0]], %[[A0]]
// AMX: %[[B1:.+]] = amx.tile_mulf %[[W0]], %[[H1]], %[[A1]]
// AMX: %[[B2:.+]] = amx.tile_mulf %[[W1]], %[[H0]], %[[A2]]
// AMX: %[[B3:.+]] = amx.tile_mulf %[[W1]], %[[H1]], %[[A3]]
// AMX: %[[L0:.+]] = amx.tile_load %[[XL]]
// AMX: %[[L1:.+]] = amx.tile_load %[[XL]]
// AMX: amx.tile_mulf %[[W0]], %[[L0]], %[[B0]]
// AMX: amx.tile_mulf %[[W0]], %[[L1]], %[[B1]]
// AMX: amx.tile_mulf %[[W1]], %[[L0]], %[[B2]]
// AMX: amx.tile_mulf %[[W1]], %[[L1]], %[[B3]]
// AMX-NOT: x86vector.avx512.dot
func.func @prompt_amx_terms(%w: tensor<64x64xbf16>, %x: tensor<?x64xf32>) -> tensor<?x64xf32> {
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

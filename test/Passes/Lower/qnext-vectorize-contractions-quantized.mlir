// RUN: qnext-opt %s --split-input-file --qnext-vectorize-contractions --canonicalize --cse | FileCheck %s

// Contractions whose weight is a qnext.dequantize (FP8 values, one f32 scale
// per group of a row's columns): the kernel reads the values and the scales
// and decodes in registers; no dequantized weight is left.

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// One token, K = 320 in groups of 128: per row, a loop over the two whole
// groups (the row's scale read once per group, times 2^8, splat), each
// with a K loop over its 16 vectors of 8; then the partial group of 64
// columns the same way. A vector of e4m3 is sign-extended to i16, shifted
// left by 7 and masked (sign bit, 4 exponent and 3 mantissa bits), read as
// f16 and widened to f32 (the value times 2^-8); a group's products sum
// from zero, and the sum is multiplied by the splat once and added to the
// row's accumulator.
// CHECK-LABEL: func.func @matvec_fp8
// CHECK-SAME: (%[[Q:.+]]: tensor<12x320xf8E4M3FN>, %[[S:.+]]: tensor<12x3xf32>, %[[X:.+]]: tensor<320xf32>)
// CHECK-DAG: %[[C128:.+]] = arith.constant 128 : index
// CHECK-DAG: %[[C256:.+]] = arith.constant 256 : index
// CHECK-DAG: %[[C320:.+]] = arith.constant 320 : index
// CHECK-DAG: %[[P8:.+]] = arith.constant 2.560000e+02 : f32
// CHECK-DAG: %[[SEVEN:.+]] = arith.constant dense<7> : vector<8xi16>
// CHECK-DAG: %[[MASK:.+]] = arith.constant dense<-16512> : vector<8xi16>
// CHECK-DAG: %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK-NOT: qnext.dequantize
// CHECK: scf.forall
// CHECK: scf.for %[[R:[^ ]+]] =
// CHECK: %[[N:.+]] = arith.addi %{{.+}}, %[[R]]
// CHECK: %[[WHOLE:.+]] = scf.for %[[K0:[^ ]+]] = %{{.+}} to %[[C256]] step %[[C128]] iter_args(%[[ACC:[^ ]+]] = %[[ZERO]])
// CHECK: %[[G:.+]] = arith.divui %[[K0]], %[[C128]]
// CHECK: %[[SC:.+]] = tensor.extract %[[S]][%[[N]], %[[G]]] : tensor<12x3xf32>
// CHECK: %[[SC2:.+]] = arith.mulf %[[SC]], %[[P8]] : f32
// CHECK: %[[SPLAT:.+]] = vector.broadcast %[[SC2]] : f32 to vector<8xf32>
// CHECK: %[[END:.+]] = arith.addi %[[K0]], %[[C128]]
// CHECK: %[[SUM:.+]] = scf.for %[[K:[^ ]+]] = %[[K0]] to %[[END]] step %{{[^ ]+}} iter_args(%[[A:[^ ]+]] = %[[ZERO]]) -> (vector<8xf32>)
// CHECK: %[[QV:.+]] = vector.transfer_read %[[Q]][%[[N]], %[[K]]]{{.*}} : tensor<12x320xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK: %[[I8:.+]] = arith.bitcast %[[QV]] : vector<8xf8E4M3FN> to vector<8xi8>
// CHECK: %[[I16:.+]] = arith.extsi %[[I8]] : vector<8xi8> to vector<8xi16>
// CHECK: %[[SH:.+]] = arith.shli %[[I16]], %[[SEVEN]] : vector<8xi16>
// CHECK: %[[M:.+]] = arith.andi %[[SH]], %[[MASK]] : vector<8xi16>
// CHECK: %[[H:.+]] = arith.bitcast %[[M]] : vector<8xi16> to vector<8xf16>
// CHECK: %[[F:.+]] = arith.extf %[[H]] : vector<8xf16> to vector<8xf32>
// CHECK-NOT: arith.mulf
// CHECK: %[[XV:.+]] = vector.transfer_read %[[X]][%[[K]]]
// CHECK: %[[NEXT:.+]] = vector.fma %[[F]], %[[XV]], %[[A]] : vector<8xf32>
// CHECK-NEXT: scf.yield %[[NEXT]]
// CHECK: %[[SCALED:.+]] = vector.fma %[[SUM]], %[[SPLAT]], %[[ACC]] : vector<8xf32>
// CHECK-NEXT: scf.yield %[[SCALED]]
// The partial group: columns 256..320, scale column 2.
// CHECK: tensor.extract %[[S]][%[[N]], %{{.+}}] : tensor<12x3xf32>
// CHECK: scf.for %{{.+}} = %[[C256]] to %[[C320]] step
// CHECK: vector.reduction <add>
// CHECK-NOT: linalg.generic
func.func @matvec_fp8(%q: tensor<12x320xf8E4M3FN>, %s: tensor<12x3xf32>, %x: tensor<320xf32>) -> tensor<12xf32> {
  %w = qnext.dequantize %q, %s {group = 128 : i64} : tensor<12x320xf8E4M3FN>, tensor<12x3xf32> -> tensor<12x320xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<12xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<12xf32>) -> tensor<12xf32>
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<12x320xf32>, tensor<320xf32>) outs(%init : tensor<12xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<12xf32>
  return %y : tensor<12xf32>
}

// -----

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// Several tokens, one expert's slice of a stack (as the prompt's routed
// experts read it): the slice moves onto the values and the scales, and
// the register block reads one scale splat per row per group, each weight
// vector decoded once for all the block's tokens (2 rows x 4 tokens, as
// unquantized); each token's and row's sum of the group (from zero,
// unscaled) is multiplied by the splat once, as a one-token block does.
// CHECK-LABEL: func.func @expert_slice_fp8
// CHECK-SAME: (%[[X:.+]]: tensor<?x128xf32>, %[[Q:.+]]: tensor<4x8x128xf8E4M3FN>, %[[S:.+]]: tensor<4x8x1xf32>, %[[E:.+]]: index)
// CHECK-DAG: %[[QE:.+]] = tensor.extract_slice %[[Q]][%[[E]], 0, 0] [1, 8, 128] [1, 1, 1] : tensor<4x8x128xf8E4M3FN> to tensor<8x128xf8E4M3FN>
// CHECK-DAG: %[[SE:.+]] = tensor.extract_slice %[[S]][%[[E]], 0, 0] [1, 8, 1] [1, 1, 1] : tensor<4x8x1xf32> to tensor<8x1xf32>
// CHECK-NOT: qnext.dequantize
// CHECK: scf.forall
// CHECK: tensor.extract %[[SE]]
// CHECK: %[[SPLAT:.+]] = vector.broadcast %{{.+}} : f32 to vector<8xf32>
// CHECK: %[[SUMS:.+]]:8 = scf.for {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.transfer_read %[[QE]]
// CHECK: arith.extsi
// CHECK-NOT: arith.mulf
// CHECK: scf.yield
// CHECK: vector.fma %[[SUMS]]#0, %[[SPLAT]], %{{.+}} : vector<8xf32>
// CHECK-NOT: linalg.generic
func.func @expert_slice_fp8(%x: tensor<?x128xf32>, %q: tensor<4x8x128xf8E4M3FN>, %s: tensor<4x8x1xf32>, %e: index) -> tensor<?x8xf32> {
  %stack = qnext.dequantize %q, %s {group = 128 : i64} : tensor<4x8x128xf8E4M3FN>, tensor<4x8x1xf32> -> tensor<4x8x128xf32>
  %w = tensor.extract_slice %stack[%e, 0, 0] [1, 8, 128] [1, 1, 1] : tensor<4x8x128xf32> to tensor<8x128xf32>
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x128xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x128xf32>, tensor<8x128xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%xi: f32, %wi: f32, %acc: f32):
    %1 = arith.mulf %xi, %wi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// int8 values in groups of 32: a vector is sign-extended and converted to
// f32 (exact); the group's sum is multiplied by the row's scale of the
// group, splat as it is (no decoding factor).
// CHECK-LABEL: func.func @matvec_int8
// CHECK-SAME: (%[[Q:.+]]: tensor<4x64xi8>, %[[S:.+]]: tensor<4x2xf32>, %[[X:.+]]: tensor<64xf32>)
// CHECK-NOT: qnext.dequantize
// CHECK: %[[SC:.+]] = tensor.extract %[[S]]
// CHECK-NEXT: %[[SPLAT:.+]] = vector.broadcast %[[SC]] : f32 to vector<8xf32>
// CHECK: %[[QV:.+]] = vector.transfer_read %[[Q]]{{.*}} : tensor<4x64xi8>, vector<8xi8>
// CHECK: %[[I32:.+]] = arith.extsi %[[QV]] : vector<8xi8> to vector<8xi32>
// CHECK: %[[F:.+]] = arith.sitofp %[[I32]] : vector<8xi32> to vector<8xf32>
// CHECK-NOT: arith.mulf
// CHECK: vector.fma %[[F]]
// CHECK: vector.fma %{{.+}}, %[[SPLAT]], %{{.+}} : vector<8xf32>
func.func @matvec_int8(%q: tensor<4x64xi8>, %s: tensor<4x2xf32>, %x: tensor<64xf32>) -> tensor<4xf32> {
  %w = qnext.dequantize %q, %s {group = 32 : i64} : tensor<4x64xi8>, tensor<4x2xf32> -> tensor<4x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<4x64xf32>, tensor<64xf32>) outs(%init : tensor<4xf32>) {
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

// int4, two values a byte in tiles of 32 columns (byte j: column j low,
// j + 16 high): the K loop runs a tile at a time and, with vectors of 8,
// reads the tile's 16 bytes as two vectors of 8, each decoded twice: the
// low nibbles (sign-extended to i32, shifted left then right by 28) are
// columns j.., the high ones (shifted right by 4) columns j + 16..; each
// against the input at its own columns, the group's sum times its scale.
// CHECK-LABEL: func.func @matvec_int4
// CHECK-SAME: (%[[Q:.+]]: tensor<4x32xi8>, %[[S:.+]]: tensor<4x2xf32>, %[[X:.+]]: tensor<64xf32>)
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[C8:.+]] = arith.constant 8 : index
// CHECK-DAG: %[[C16:.+]] = arith.constant 16 : index
// CHECK-DAG: %[[C24:.+]] = arith.constant 24 : index
// CHECK-DAG: %[[C32:.+]] = arith.constant 32 : index
// CHECK-DAG: %[[S28:.+]] = arith.constant dense<28> : vector<8xi32>
// CHECK-DAG: %[[S4:.+]] = arith.constant dense<4> : vector<8xi32>
// CHECK-DAG: %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK-NOT: qnext.dequantize
// CHECK: scf.for %{{.+}} iter_args(%[[ACC:[^ ]+]] = %[[ZERO]])
// CHECK: %[[SC:.+]] = tensor.extract %[[S]]
// CHECK-NEXT: %[[SPLAT:.+]] = vector.broadcast %[[SC]] : f32 to vector<8xf32>
// CHECK: %[[SUM:.+]] = scf.for %[[K:[^ ]+]] = %{{.+}} to %{{.+}} step %[[C32]] iter_args(%[[A:[^ ]+]] = %[[ZERO]]) -> (vector<8xf32>)
// CHECK: %[[B0:.+]] = arith.divui %[[K]], %[[C2]] : index
// CHECK: %[[V0:.+]] = vector.transfer_read %[[Q]][%{{.+}}, %[[B0]]]{{.*}} : tensor<4x32xi8>, vector<8xi8>
// CHECK: %[[W0:.+]] = arith.extsi %[[V0]] : vector<8xi8> to vector<8xi32>
// CHECK: %[[L0:.+]] = arith.shli %[[W0]], %[[S28]] : vector<8xi32>
// CHECK: %[[Q0:.+]] = arith.shrsi %[[L0]], %[[S28]] : vector<8xi32>
// CHECK: %[[F0:.+]] = arith.sitofp %[[Q0]] : vector<8xi32> to vector<8xf32>
// CHECK: %[[X0:.+]] = vector.transfer_read %[[X]][%[[K]]]
// CHECK: %[[A0:.+]] = vector.fma %[[F0]], %[[X0]], %[[A]] : vector<8xf32>
// CHECK: %[[K8:.+]] = arith.addi %[[K]], %[[C8]] : index
// CHECK: %[[B8:.+]] = arith.addi %[[B0]], %[[C8]] : index
// CHECK: %[[V8:.+]] = vector.transfer_read %[[Q]][%{{.+}}, %[[B8]]]{{.*}} : tensor<4x32xi8>, vector<8xi8>
// CHECK: %[[W8:.+]] = arith.extsi %[[V8]] : vector<8xi8> to vector<8xi32>
// CHECK: vector.transfer_read %[[X]][%[[K8]]]
// CHECK: %[[A8:.+]] = vector.fma %{{.+}}, %{{.+}}, %[[A0]] : vector<8xf32>
// The high nibbles of the same two reads: columns 16.. and 24...
// CHECK: %[[K16:.+]] = arith.addi %[[K]], %[[C16]] : index
// CHECK: %[[H0:.+]] = arith.shrsi %[[W0]], %[[S4]] : vector<8xi32>
// CHECK: %[[FH0:.+]] = arith.sitofp %[[H0]] : vector<8xi32> to vector<8xf32>
// CHECK: %[[X16:.+]] = vector.transfer_read %[[X]][%[[K16]]]
// CHECK: %[[A16:.+]] = vector.fma %[[FH0]], %[[X16]], %[[A8]] : vector<8xf32>
// CHECK: %[[K24:.+]] = arith.addi %[[K]], %[[C24]] : index
// CHECK: %[[H8:.+]] = arith.shrsi %[[W8]], %[[S4]] : vector<8xi32>
// CHECK: vector.transfer_read %[[X]][%[[K24]]]
// CHECK: %[[A24:.+]] = vector.fma %{{.+}}, %{{.+}}, %[[A16]] : vector<8xf32>
// CHECK-NEXT: scf.yield %[[A24]]
// The group's sum, scaled once.
// CHECK: %[[SCALED:.+]] = vector.fma %[[SUM]], %[[SPLAT]], %[[ACC]] : vector<8xf32>
// CHECK-NEXT: scf.yield %[[SCALED]]
// CHECK: vector.reduction <add>
// CHECK-NOT: linalg.generic
func.func @matvec_int4(%q: tensor<4x32xi8>, %s: tensor<4x2xf32>, %x: tensor<64xf32>) -> tensor<4xf32> {
  %w = qnext.dequantize %q, %s {group = 32 : i64, int4} : tensor<4x32xi8>, tensor<4x2xf32> -> tensor<4x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %y = linalg.generic {indexing_maps = #matvec, iterator_types = ["parallel", "reduction"]}
      ins(%w, %x : tensor<4x64xf32>, tensor<64xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%wi: f32, %xi: f32, %acc: f32):
    %1 = arith.mulf %wi, %xi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

#matmul = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
           affine_map<(d0, d1, d2) -> (d0, d1)>]

// An int4 expert's slice of a stack: the values' slice keeps their own
// columns (half the weight's), the scales theirs.
// CHECK-LABEL: func.func @expert_slice_int4
// CHECK-SAME: (%[[X:.+]]: tensor<?x64xf32>, %[[Q:.+]]: tensor<4x8x32xi8>, %[[S:.+]]: tensor<4x8x2xf32>, %[[E:.+]]: index)
// CHECK-DAG: %[[QE:.+]] = tensor.extract_slice %[[Q]][%[[E]], 0, 0] [1, 8, 32] [1, 1, 1] : tensor<4x8x32xi8> to tensor<8x32xi8>
// CHECK-DAG: %[[SE:.+]] = tensor.extract_slice %[[S]][%[[E]], 0, 0] [1, 8, 2] [1, 1, 1] : tensor<4x8x2xf32> to tensor<8x2xf32>
// CHECK-NOT: qnext.dequantize
// CHECK: scf.forall
// CHECK: tensor.extract %[[SE]]
// CHECK: vector.transfer_read %[[QE]]
// CHECK: arith.shrsi
// CHECK: vector.fma
// CHECK-NOT: linalg.generic
func.func @expert_slice_int4(%x: tensor<?x64xf32>, %q: tensor<4x8x32xi8>, %s: tensor<4x8x2xf32>, %e: index) -> tensor<?x8xf32> {
  %stack = qnext.dequantize %q, %s {group = 32 : i64, int4} : tensor<4x8x32xi8>, tensor<4x8x2xf32> -> tensor<4x8x64xf32>
  %w = tensor.extract_slice %stack[%e, 0, 0] [1, 8, 64] [1, 1, 1] : tensor<4x8x64xf32> to tensor<8x64xf32>
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.generic {indexing_maps = #matmul, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x64xf32>, tensor<8x64xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%xi: f32, %wi: f32, %acc: f32):
    %1 = arith.mulf %xi, %wi : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// RUN: qnext-opt %s --qnext-vectorize-contractions="vector-width=16" --canonicalize --cse | FileCheck %s

// int4 at AVX-512's width: a tile of 32 columns is 16 bytes, one vector of
// them. One read per tile, sign-extended once: the low nibbles ((b << 28)
// >> 28) are the tile's columns 0..15, the high ones (b >> 4) of the same
// register its columns 16..31.

#matvec = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
           affine_map<(d0, d1) -> (d0)>]

// CHECK-LABEL: func.func @matvec_int4_wide
// CHECK-SAME: (%[[Q:.+]]: tensor<4x32xi8>, %[[S:.+]]: tensor<4x1xf32>, %[[X:.+]]: tensor<64xf32>)
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[C16:.+]] = arith.constant 16 : index
// CHECK-DAG: %[[C32:.+]] = arith.constant 32 : index
// CHECK-DAG: %[[S28:.+]] = arith.constant dense<28> : vector<16xi32>
// CHECK-DAG: %[[S4:.+]] = arith.constant dense<4> : vector<16xi32>
// CHECK: scf.for %[[K:[^ ]+]] = %{{.+}} to %{{.+}} step %[[C32]] iter_args(%[[A:[^ ]+]] = %{{.+}}) -> (vector<16xf32>)
// CHECK: %[[B:.+]] = arith.divui %[[K]], %[[C2]] : index
// CHECK: %[[V:.+]] = vector.transfer_read %[[Q]][%{{.+}}, %[[B]]]{{.*}} : tensor<4x32xi8>, vector<16xi8>
// CHECK: %[[W:.+]] = arith.extsi %[[V]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[L:.+]] = arith.shli %[[W]], %[[S28]] : vector<16xi32>
// CHECK: %[[LO:.+]] = arith.shrsi %[[L]], %[[S28]] : vector<16xi32>
// CHECK: %[[FLO:.+]] = arith.sitofp %[[LO]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[X0:.+]] = vector.transfer_read %[[X]][%[[K]]]
// CHECK: %[[A0:.+]] = vector.fma %[[FLO]], %[[X0]], %[[A]] : vector<16xf32>
// CHECK: %[[K16:.+]] = arith.addi %[[K]], %[[C16]] : index
// CHECK-NOT: vector.transfer_read %[[Q]]
// CHECK: %[[HI:.+]] = arith.shrsi %[[W]], %[[S4]] : vector<16xi32>
// CHECK: %[[FHI:.+]] = arith.sitofp %[[HI]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[X16:.+]] = vector.transfer_read %[[X]][%[[K16]]]
// CHECK: %[[A16:.+]] = vector.fma %[[FHI]], %[[X16]], %[[A0]] : vector<16xf32>
// CHECK-NEXT: scf.yield %[[A16]]
func.func @matvec_int4_wide(%q: tensor<4x32xi8>, %s: tensor<4x1xf32>, %x: tensor<64xf32>) -> tensor<4xf32> {
  %w = qnext.dequantize %q, %s {group = 64 : i64, int4} : tensor<4x32xi8>, tensor<4x1xf32> -> tensor<4x64xf32>
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

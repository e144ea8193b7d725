// RUN: qnext-opt %s --split-input-file --qnext-lower-byte-dots | FileCheck %s
// RUN: qnext-opt %s --split-input-file --qnext-lower-byte-dots=vnni=false --verify-diagnostics | FileCheck %s --check-prefix=PAIRS

// With vnni (the default) each qnext.byte_dot becomes x86's vpdpbusd
// intrinsic, the same operands: 16 lanes the 512-bit form, 8 the 256-bit
// one, narrow or not. Without, a narrow one becomes vpmaddubsw (bytes into
// i16 pairs), vpmaddwd by ones (pairs into the i32 lanes) and an add of the
// accumulator; one that is not narrow is refused.

// CHECK-LABEL: func.func @wide
// CHECK-SAME: (%[[A:.+]]: vector<16xi32>, %[[U:.+]]: vector<64xi8>, %[[S:.+]]: vector<64xi8>)
// CHECK-NEXT: %[[R:.+]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%[[A]], %[[U]], %[[S]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// CHECK-NEXT: return %[[R]]
// PAIRS-LABEL: func.func @wide
// PAIRS-SAME: (%[[A:.+]]: vector<16xi32>, %[[U:.+]]: vector<64xi8>, %[[S:.+]]: vector<64xi8>)
// PAIRS-NEXT: %[[H:.+]] = llvm.call_intrinsic "llvm.x86.avx512.pmaddubs.w.512"(%[[U]], %[[S]]) : (vector<64xi8>, vector<64xi8>) -> vector<32xi16>
// PAIRS-NEXT: %[[ONES:.+]] = llvm.mlir.constant(dense<1> : vector<32xi16>) : vector<32xi16>
// PAIRS-NEXT: %[[P:.+]] = llvm.call_intrinsic "llvm.x86.avx512.pmaddw.d.512"(%[[H]], %[[ONES]]) : (vector<32xi16>, vector<32xi16>) -> vector<16xi32>
// PAIRS-NEXT: %[[R:.+]] = llvm.add %[[A]], %[[P]] : vector<16xi32>
// PAIRS-NEXT: return %[[R]]
func.func @wide(%a: vector<16xi32>, %u: vector<64xi8>, %s: vector<64xi8>) -> vector<16xi32> {
  %r = qnext.byte_dot %a, %u, %s narrow : vector<64xi8> into vector<16xi32>
  return %r : vector<16xi32>
}

// -----

// CHECK-LABEL: func.func @avx2
// CHECK-NEXT: %[[R:.+]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%{{.+}}, %{{.+}}, %{{.+}}) : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
// CHECK-NOT: qnext.byte_dot
// CHECK: return %[[R]]
// PAIRS-LABEL: func.func @avx2
// PAIRS-NEXT: %[[H:.+]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%{{.+}}, %{{.+}}) : (vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// PAIRS-NEXT: %[[ONES:.+]] = llvm.mlir.constant(dense<1> : vector<16xi16>) : vector<16xi16>
// PAIRS-NEXT: %[[P:.+]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%[[H]], %[[ONES]]) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// PAIRS-NEXT: %[[R:.+]] = llvm.add %{{.+}}, %[[P]] : vector<8xi32>
// PAIRS-NOT: qnext.byte_dot
// PAIRS: return %[[R]]
func.func @avx2(%a: vector<8xi32>, %u: vector<32xi8>, %s: vector<32xi8>) -> vector<8xi32> {
  %r = qnext.byte_dot %a, %u, %s narrow : vector<32xi8> into vector<8xi32>
  return %r : vector<8xi32>
}

// -----

// Unsigned bytes up to 255 (int8 weights offset by 128): vpdpbusd only.
// CHECK-LABEL: func.func @offset
// CHECK-NEXT: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"
// PAIRS-NOT: func.func @offset
func.func @offset(%a: vector<8xi32>, %u: vector<32xi8>, %s: vector<32xi8>) -> vector<8xi32> {
  // expected-error @+1 {{'qnext.byte_dot' op has unsigned bytes that may reach 128: without vpdpbusd (vnni=false) only a narrow byte dot has a lowering (vpmaddubsw saturates)}}
  %r = qnext.byte_dot %a, %u, %s : vector<32xi8> into vector<8xi32>
  return %r : vector<8xi32>
}

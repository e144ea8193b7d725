// RUN: qnext-opt %s --qnext-lower-byte-dots | FileCheck %s

// Each qnext.byte_dot becomes x86's vpdpbusd intrinsic, the same operands:
// 16 lanes the 512-bit form, 8 the 256-bit one.

// CHECK-LABEL: func.func @wide
// CHECK-SAME: (%[[A:.+]]: vector<16xi32>, %[[U:.+]]: vector<64xi8>, %[[S:.+]]: vector<64xi8>)
// CHECK-NEXT: %[[R:.+]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%[[A]], %[[U]], %[[S]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// CHECK-NEXT: return %[[R]]
func.func @wide(%a: vector<16xi32>, %u: vector<64xi8>, %s: vector<64xi8>) -> vector<16xi32> {
  %r = qnext.byte_dot %a, %u, %s : vector<64xi8> into vector<16xi32>
  return %r : vector<16xi32>
}

// CHECK-LABEL: func.func @narrow
// CHECK-NEXT: %[[R:.+]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%{{.+}}, %{{.+}}, %{{.+}}) : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
// CHECK-NOT: qnext.byte_dot
// CHECK: return %[[R]]
func.func @narrow(%a: vector<8xi32>, %u: vector<32xi8>, %s: vector<32xi8>) -> vector<8xi32> {
  %r = qnext.byte_dot %a, %u, %s : vector<32xi8> into vector<8xi32>
  return %r : vector<8xi32>
}

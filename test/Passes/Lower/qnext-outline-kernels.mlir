// RUN: qnext-opt %s --qnext-outline-kernels | FileCheck %s
// RUN: qnext-opt %s --qnext-outline-kernels="profile=true" | FileCheck %s --check-prefix=PROFILE

// Each top-level op holding an scf.parallel becomes a never-inlined private
// function named <layer>.<what>.<entry>: the layer kind from the function's
// qnext.layer, what from the names in its ops' locations (layer names
// skipped), the entry from the function's name. A second kernel of the same
// name is ".2"; constants are cloned in; the serial loop stays.
// CHECK-LABEL: func.func private @"deltanet.rms_norm+in_proj.decode"(
// CHECK-SAME: %{{.+}}: memref<4xf32>, %{{.+}}: memref<4x8xbf16>)
// CHECK-SAME: attributes {passthrough = ["noinline"]}
// CHECK: arith.constant 0 : index
// CHECK: scf.parallel
// Kernels with the same body and types (locations aside) share one
// function, named by the values of each part its kernels have, joined by
// ',': the second kernel, the fourth (another name, the same loads) and the
// attention layer's in prefill are one function; the third, storing, is not.
// CHECK-LABEL: func.func private @"deltanet,attention.in_proj,rms_norm.decode,prefill"(
// CHECK-SAME: %{{.+}}: memref<4x8xbf16>)
// CHECK: memref.load
// CHECK-NOT: memref.store
// CHECK-LABEL: func.func private @deltanet.in_proj.decode.2(
// CHECK-SAME: %{{.+}}: memref<4xf32>)
// CHECK: memref.store
// CHECK-LABEL: func.func private @decode.layers.0(
// CHECK-SAME: attributes {qnext.layer = #qnext.layer<0, linear_attention>}
// CHECK: call @"deltanet.rms_norm+in_proj.decode"(%{{.+}}, %{{.+}}) : (memref<4xf32>, memref<4x8xbf16>) -> ()
// CHECK: call @"deltanet,attention.in_proj,rms_norm.decode,prefill"(%{{.+}}) : (memref<4x8xbf16>) -> ()
// CHECK: call @deltanet.in_proj.decode.2(
// CHECK: call @"deltanet,attention.in_proj,rms_norm.decode,prefill"(%{{.+}}) : (memref<4x8xbf16>) -> ()
// CHECK: scf.for
// CHECK-NOT: scf.parallel
// CHECK: return
// CHECK-LABEL: func.func private @deltanet.out_proj.decode(
// CHECK-SAME: memref<4xf32>)
// CHECK-LABEL: func.func private @deltanet.out_proj.decode.3(
// CHECK-SAME: memref<4x8xbf16>)
// CHECK-LABEL: func.func private @decode.layers.5(
// CHECK-COUNT-2: call @deltanet.out_proj.decode(%{{.+}}) : (memref<4xf32>) -> ()
// CHECK-COUNT-2: call @deltanet.out_proj.decode.3(%{{.+}}) : (memref<4x8xbf16>) -> ()
// CHECK-NEXT: return
// CHECK-LABEL: func.func private @prefill.layers.3(
// CHECK: call @"deltanet,attention.in_proj,rms_norm.decode,prefill"(%{{.+}}) : (memref<4x8xbf16>) -> ()
// CHECK-NEXT: return
// CHECK-LABEL: func.func private @model.lm_head.prefill(
// CHECK-LABEL: func.func private @model.embed_tokens.prefill(
// CHECK-LABEL: func.func @prefill(

// With profile, every kernel and layer call is bracketed by the hook (called
// only while set), and the table lists them with the bytes of weights each
// kernel reads: 4x8 bf16 (64 bytes) for a weight argument, 16x4 f32 (256) for a
// view of the packed weights, and apart from those the size of a buffer it
// gathers rows from (chosen by loaded ids: it reads part of it), nothing for
// a layer.
// PROFILE: llvm.mlir.global external @qnext_kernel_hook() {addr_space = 0 : i32} : !llvm.ptr {
// A shared function's calls keep their own names (and ids) in the table.
// PROFILE: llvm.mlir.global external constant @qnext_kernel_count(14 : i32)
// PROFILE: llvm.mlir.global external constant @qnext_kernel_names("deltanet.rms_norm+in_proj.decode\00deltanet.in_proj.decode\00deltanet.in_proj.decode.2\00deltanet.rms_norm.decode\00deltanet.out_proj.decode\00deltanet.out_proj.decode.2\00deltanet.out_proj.decode.3\00deltanet.out_proj.decode.4\00attention.in_proj.prefill\00model.lm_head.prefill\00model.embed_tokens.prefill\00model.loop.prefill\00decode.layers.0\00prefill.layers.3\00")
// PROFILE: llvm.mlir.global external constant @qnext_kernel_bytes(dense<[64, 64, 0, 64, 0, 0, 64, 64, 64, 256, 0, 0, 0, 0]> : tensor<14xi64>)
// PROFILE: llvm.mlir.global external constant @qnext_kernel_gathered_bytes(dense<[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 256, 0, 0, 0]> : tensor<14xi64>)
// PROFILE-LABEL: func.func private @decode.layers.0(
// PROFILE: %[[A:.+]] = llvm.mlir.addressof @qnext_kernel_hook : !llvm.ptr
// PROFILE: %[[H:.+]] = llvm.load %[[A]] : !llvm.ptr -> !llvm.ptr
// PROFILE: %[[Z:.+]] = llvm.mlir.zero : !llvm.ptr
// PROFILE: %[[SET:.+]] = llvm.icmp "ne" %[[H]], %[[Z]] : !llvm.ptr
// PROFILE: scf.if %[[SET]] {
// PROFILE: %[[ID:.+]] = arith.constant 0 : i32
// PROFILE: %[[BEGIN:.+]] = arith.constant 0 : i32
// PROFILE: llvm.call %[[H]](%[[ID]], %[[BEGIN]]) : !llvm.ptr, (i32, i32) -> ()
// PROFILE: call @"deltanet.rms_norm+in_proj.decode"(
// PROFILE: arith.constant 1 : i32
// PROFILE: llvm.call
// The shared function's two calls in this layer, each with its own id.
// PROFILE: arith.constant 1 : i32
// PROFILE-NEXT: arith.constant 0 : i32
// PROFILE-NEXT: llvm.call
// PROFILE: call @"deltanet,attention.in_proj,rms_norm.decode,prefill"(
// PROFILE: arith.constant 3 : i32
// PROFILE-NEXT: arith.constant 0 : i32
// PROFILE-NEXT: llvm.call
// PROFILE: call @"deltanet,attention.in_proj,rms_norm.decode,prefill"(
// PROFILE-LABEL: func.func private @decode.layers.5(
// PROFILE: arith.constant 6 : i32
// PROFILE-NEXT: arith.constant 0 : i32
// PROFILE-NEXT: llvm.call
// PROFILE-NEXT: }
// PROFILE-NEXT: call @deltanet.out_proj.decode.3(
// PROFILE: arith.constant 7 : i32
// PROFILE-NEXT: arith.constant 0 : i32
// PROFILE-NEXT: llvm.call
// PROFILE-NEXT: }
// PROFILE-NEXT: call @deltanet.out_proj.decode.3(
// PROFILE-LABEL: func.func private @prefill.layers.3(
// PROFILE: arith.constant 8 : i32
// PROFILE-NEXT: arith.constant 0 : i32
// PROFILE-NEXT: llvm.call
// PROFILE-NEXT: }
// PROFILE-NEXT: call @"deltanet,attention.in_proj,rms_norm.decode,prefill"(
// PROFILE-LABEL: func.func @prefill(
// PROFILE: arith.constant 12 : i32
// PROFILE: call @decode.layers.0(

#in_proj = loc("in_proj"("layers.0"))
#norm = loc("rms_norm"("layers.0"))
func.func private @decode.layers.0(%w: memref<4x8xbf16> {qnext.weight = "in_proj"}, %y: memref<4xf32>)
    attributes {qnext.layer = #qnext.layer<0, linear_attention>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %f = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %f, %y[%i] : memref<4xf32> loc(#norm)
    %v = memref.load %w[%i, %c0] : memref<4x8xbf16> loc(#in_proj)
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %w[%i, %c0] : memref<4x8xbf16> loc(#in_proj)
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %f, %y[%i] : memref<4xf32> loc(#in_proj)
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %w[%i, %c0] : memref<4x8xbf16> loc(#norm)
    scf.reduce
  }
  scf.for %i = %c0 to %c4 step %c1 {
    memref.store %f, %y[%i] : memref<4xf32>
  }
  return
}

// Two bodies under one name, each twice (sites ".", ".2" of the first,
// ".3", ".4" of the second): the second's function takes the name of one of
// its own sites, not of the first's.
#out = loc("out_proj"("layers.5"))
func.func private @decode.layers.5(%w: memref<4x8xbf16> {qnext.weight = "out_proj"}, %y: memref<4xf32>)
    attributes {qnext.layer = #qnext.layer<5, linear_attention>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %g = arith.constant 2.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %g, %y[%i] : memref<4xf32> loc(#out)
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %g, %y[%i] : memref<4xf32> loc(#out)
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %w[%i, %c1] : memref<4x8xbf16> loc(#out)
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %w[%i, %c1] : memref<4x8xbf16> loc(#out)
    scf.reduce
  }
  return
}

#q = loc("in_proj"("layers.3"))
func.func private @prefill.layers.3(%w: memref<4x8xbf16> {qnext.weight = "in_proj"})
    attributes {qnext.layer = #qnext.layer<3, full_attention>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %w[%i, %c0] : memref<4x8xbf16> loc(#q)
    scf.reduce
  }
  return
}

func.func @prefill(%weights: memref<?xi8> {qnext.name = "weights"}, %y: memref<16xf32>, %ids: memref<16xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %head = memref.view %weights[%c0][] : memref<?xi8> to memref<16x4xf32>
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    %v = memref.load %head[%i, %c0] : memref<16x4xf32> loc("lm_head")
    memref.store %v, %y[%i] : memref<16xf32>
    scf.reduce
  }
  // A gather: the rows read depend on loaded ids.
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    %id = memref.load %ids[%i] : memref<16xi32>
    %row = arith.index_cast %id : i32 to index
    %v = memref.load %head[%row, %c0] : memref<16x4xf32> loc("embed_tokens")
    memref.store %v, %y[%i] : memref<16xf32>
    scf.reduce
  }
  scf.for %t = %c0 to %c1 step %c1 {
    scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
      scf.reduce
    }
  }
  %w = memref.alloc() : memref<4x8xbf16>
  %s = memref.subview %y[0] [4] [1] : memref<16xf32> to memref<4xf32, strided<[1]>>
  %s2 = memref.alloc() : memref<4xf32>
  call @decode.layers.0(%w, %s2) : (memref<4x8xbf16>, memref<4xf32>) -> ()
  call @prefill.layers.3(%w) : (memref<4x8xbf16>) -> ()
  return
}

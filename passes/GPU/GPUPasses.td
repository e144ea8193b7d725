//===- GPUPasses.td - the CUDA target's passes -------------*- tablegen -*-===//
//
// The passes of --target=cuda (passes/GPU): reductions split, weights
// decoded in the kernels, threads mapped, and the kernels offloaded (or
// emulated on the host for testing without a GPU).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_GPU_PASSES_TD
#define QNEXT_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def SplitReductions : Pass<"qnext-gpu-split-reductions"> {
  let summary = "Split reductions into partial sums: coalesced weight reads, enough threads";
  let description = [{
    On linalg on tensors, for the GPU, where one thread computes one output
    element. A decode step's projection, one thread per output, has each
    thread walk its own weight row: the 32 threads of a warp read 32 rows
    at once (uncoalesced), and a few thousand outputs leave a GPU of over a
    hundred multiprocessors idle. For every `linalg.generic` with one
    reduction dimension and static loop ranges (a decode step; a prompt's
    token count is dynamic), the reduction is split (upstream
    `linalg::splitReduction`) into partial sums, and a second op sums them:

    * when the reduction walks the innermost dimension of the largest input
      (a projection's weights, `W[n, k]`): `lanes` interleaved partial sums,
      the partial's dimension innermost, so that neighbouring threads read
      neighbouring weights (a warp reads 32 consecutive elements of one row):

          part[m, n, s] = sum_j x[m, j*lanes + s] W[n, j*lanes + s]
          out[m, n]     = sum_s part[m, n, s]

    * otherwise, with fewer than `threads` parallel iterations: contiguous
      chunks of K, the smallest power of two of them that brings the
      parallel iterations to `threads`, each at least `min-chunk` long and
      dividing K, the chunk dimension outermost.

    The partial op's loops are interchanged so that its parallel dimensions
    come first (one parallel nest, the reduction inside each iteration).
    So is every reduction the pass does not split, static or dynamic:
    lowered to loops, only the parallel dimensions before the first
    reduction become the parallel nest that the GPU mapping takes. The
    delta rule's decode products `S^T k` and `S^T q` (`[h, k, v]`, the key
    head shared: `h floordiv R`) ran on 32 threads, one per head, and took
    79 % of a bench-preset decode step on an H200; interchanged to
    `[h, v, k]` they run one thread per `(h, v)`.
    Ops with index semantics, indexing maps that are not projected
    permutations (a key head shared by value heads: `d0 floordiv R`), several
    outputs, or a combiner upstream cannot split are not split. The sum's
    order changes (fp32 partials), not its terms.
  }];
  let options = [
    Option<"lanes", "lanes", "int64_t", /*default=*/"32",
           "Interleaved partial sums where the reduction is innermost (a warp)">,
    Option<"threads", "threads", "int64_t", /*default=*/"32768",
           "Parallel iterations to aim for with contiguous chunks">,
    Option<"minChunk", "min-chunk", "int64_t", /*default=*/"32",
           "Smallest contiguous chunk per partial sum">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
  let statistics = [
    Statistic<"splits", "splits", "Reductions split into partial sums">,
    Statistic<"interchanged", "interchanged",
              "Unsplit reductions given their parallel dimensions first">,
  ];
}

def DecodeInKernels : Pass<"qnext-gpu-decode-in-kernels"> {
  let summary = "Decode quantized weights where the GPU's linalg ops read them";
  let description = [{
    On linalg on tensors, for the GPU (after `qnext-gpu-split-reductions`).
    The CPU's contraction kernels read a `qnext.dequantize`'s values and
    scales and decode them in registers; on the GPU every linalg op becomes
    threads, so each element of the weight is decoded by the thread that
    reads it, in the op that reads it. Every read of a dequantize is
    rewritten, and the dequantize erased:

    * an input of a `linalg.generic`: the operand is dropped and, at the
      top of the body, the element's coordinates are computed from
      `linalg.index` and the operand's indexing map, its value and its
      scale read with `tensor.extract`, decoded and scaled;

          ins(%x, %w : ...) {^bb0(%a, %b, %acc):          ins(%x : ...) {^bb0(%a, %acc):
            ... %b ...                              ->      %n = linalg.index 1 ... %k = linalg.index 2
                                                            %q = tensor.extract %values[%n, %k]
                                                            %s = tensor.extract %scales[%n, %k / 128]
                                                            %b = decode(%q) * %s  ... %b ...

    * a `tensor.extract` of it (the routed experts' gathers): the same
      decoding at its indices;

    * either of those through views: a `tensor.expand_shape` (the split
      reductions' `[n, k/32, 32]`: each group of indices linearized back)
      or a `tensor.extract_slice` (an expert of a stack, Qwen3.5's fused
      gate and up halves: offset plus index times stride).

    Decoding is the CPU kernels' (passes/Lower/DecodeWeights.cpp), one
    element at a time: int8 and int4 (column `k` of a tile of 32 in the low
    nibble of byte `k % 16` when `k % 32 < 16`, else the high one) converted
    exactly and times the scale; e4m3fn through an f16 of the value times
    2^-8 and a scale times 2^8. No dequantized weight is ever materialised.
    Any other read of a dequantize is an error naming the op.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect"];
  let statistics = [
    Statistic<"decodedReads", "decoded-reads", "Reads of quantized weights decoded in place">,
  ];
}

def MapToThreads : Pass<"qnext-gpu-map-threads"> {
  let summary = "Map each parallel loop nest to blocks of threads over its flattened iterations";
  let description = [{
    Runs after `convert-linalg-to-parallel-loops`, before
    `convert-parallel-loops-to-gpu`. Each outermost `scf.parallel` (every
    parallel dimension of a linalg op) becomes two loops over its iterations
    flattened into one index, innermost dimension fastest:

        scf.parallel (%b) = (0) to (max(ceildiv(N, block-size), 1))  // blocks x
          scf.parallel (%t) = (0) to (block-size)              // threads x
            %i = %b * block-size + %t
            scf.if %i < N { ...the body at the delinearized %i... }

    so that a launch has `block-size` threads per block, consecutive threads
    take consecutive elements of the innermost dimension (coalesced stores),
    and only grid dimension x is used: its limit is 2^31 - 1 blocks, where
    y and z stop at 65,535 (upstream `gpu-map-parallel-loops` maps a loop
    nest's dimensions to grid x, y, z with one thread per block; a vocabulary
    of 151,936 does not fit grid y). There is always one block at least: an
    empty iteration space (a cache with nothing in it yet) is valid, a
    launch of zero blocks is not. Parallel loops nested in a mapped one
    become sequential loops in its threads. A loop with reductions is left
    alone.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"mapped", "mapped", "Parallel loop nests mapped to blocks and threads">,
  ];
}

def PromoteAccumulators : Pass<"qnext-gpu-promote-accumulators"> {
  let summary = "Keep a reduction loop's accumulator in a register, not in memory";
  let description = [{
    Lowered to loops, a linalg reduction loads its output element, adds one
    term and stores it back on every iteration. On a GPU each of those
    stores goes to L2: a projection would store four bytes for every two it
    reads. For each `scf.for` whose body (at its top level) loads and then
    stores one element of one buffer at loop-invariant indices, the element
    is loaded once before the loop, carried as an iteration argument, and
    stored once after it:

        scf.for %k {                      %a0 = memref.load %out[%i]
          %a = memref.load %out[%i]       %a = scf.for %k iter_args(%acc = %a0) {
          %s = arith.addf %a, %t     ->     %s = arith.addf %acc, %t
          memref.store %s, %out[%i]         scf.yield %s
        }                                 }
                                          memref.store %a, %out[%i]

    Only where nothing else in the loop can touch that element: the loop's
    other memory operations are loads (or stores to a loop-private
    `memref.alloca`) from buffers that cannot alias it (their allocations
    differ, traced through view-like ops, and one of the two is a
    `memref.alloc` / `gpu.alloc` / `memref.alloca`); no calls. Innermost
    loops first, so an outer loop sees the promoted inner one's accesses.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::memref::MemRefDialect"];
  let statistics = [
    Statistic<"promoted", "promoted", "Accumulators carried in registers">,
  ];
}

def EmulateOnHost : Pass<"qnext-gpu-emulate-on-host", "::mlir::ModuleOp"> {
  let summary = "Run the GPU kernels as loops on the host (testing the GPU mapping without a GPU)";
  let description = [{
    Runs where `gpu-kernel-outlining` would (after `qnext-gpu-offload`) and
    undoes the device, not the mapping: every `gpu.launch` becomes loops over
    its blocks and threads (z, y, x; one thread after another) around its
    body, in a `memref.alloca_scope` so that a thread's scratch is freed
    when it ends; `gpu.alloc` / `gpu.dealloc` become `memref.alloc` /
    `memref.dealloc`, `gpu.memcpy` `memref.copy`, `gpu.memset` `linalg.fill`,
    and `gpu.wait` goes. The result is host code the CPU pipeline's tail
    compiles: the kernels' index arithmetic, bounds guards and one-thread
    wrappers then run against the golden logits on a machine with no GPU
    (`qnext-compile --target=cuda --emulate-gpu`).

    Sequential emulation is exact for kernels whose threads do not
    communicate, which is every kernel this pipeline makes; a launch that
    uses shared memory, barriers or other cross-thread operations, or an
    asynchronous GPU op, is an error.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::linalg::LinalgDialect", "::mlir::arith::ArithDialect"];
  let statistics = [
    Statistic<"emulated", "emulated", "Kernels turned into host loops">,
  ];
}

def OffloadToDevice : Pass<"qnext-gpu-offload", "::mlir::ModuleOp"> {
  let summary = "Keep every buffer and every memory access of a function on the GPU";
  let description = [{
    Runs after `convert-parallel-loops-to-gpu`, on functions whose parallel
    loops became `gpu.launch`es. For the host code that is left, the buffers
    must live on the device and the host must never read or write them:

    * every op of the host code that reads or writes memory and holds no
      launch (a sequential loop: a top-k selection, a scan, a recurrence) is
      wrapped in a one-thread `gpu.launch`; an op that holds launches is
      entered instead. An op whose results the host needs (a value read from
      memory that steers the host) is an error: the GPU target cannot run it;
    * `memref.alloc` / `memref.dealloc` in host code become `gpu.alloc` /
      `gpu.dealloc` (device memory; `gpu-async-region` then orders them);
    * inside kernels, statically shaped `memref.alloc`s become `memref.alloca`
      (thread-private scratch) and their deallocs go; a dynamically sized
      one is an error;
    * `memref.get_global` (a constant table) is copied to a device buffer
      where it is used, freed at the function's returns.

    Marks the module `gpu.container_module`.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
  let statistics = [
    Statistic<"wrapped", "wrapped", "Host ops wrapped in one-thread kernels">,
    Statistic<"moved", "moved", "Host buffers allocated on the device">,
  ];
}

def MergeKernelModules : Pass<"qnext-gpu-merge-modules", "::mlir::ModuleOp"> {
  let summary = "Move every outlined kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` gives each kernel a `gpu.module` of its own; a
    model has over a thousand. This pass moves them all (and their helper
    functions) into one `gpu.module` named by `name`, each kernel renamed
    after the module it came from, and points every `gpu.launch_func` at its
    new home: one PTX module, one `ptxas` run, one module load at run time.
  }];
  let options = [
    Option<"moduleName", "name", "std::string", /*default=*/"\"qnext_kernels\"",
           "The merged gpu.module's name">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"kernels", "kernels", "Functions moved into the merged module">,
  ];
}

#endif // QNEXT_GPU_PASSES_TD

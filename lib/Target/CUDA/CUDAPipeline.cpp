//===- CUDAPipeline.cpp - qnext -> NVVM kernels + host launches -----------===//
//
// The CUDA pipeline as numbered steps. It shares the CPU pipeline's front
// (decomposition, linalg on tensors, the weights and entry ABI,
// bufferization) and then maps every parallel loop nest to a GPU kernel:
// the host code that is left only allocates device buffers and launches.
//
// What this GPU pipeline is: correct code for every op, one thread per
// iteration of each parallel loop nest (qnext-gpu-map-threads: blocks of
// `blockSize` threads over the flattened iterations), sequential loops in
// one-thread kernels. What it is not yet: fast. No tiling for shared
// memory, no tensor cores, no fusion beyond what linalg's elementwise
// fusion already did.
//
//===----------------------------------------------------------------------===//

#include "qnext/Target/CUDAPipeline.h"
#include "qnext/Passes/Passes.h"
#include "qnext/Target/CPUPipeline.h" // the CPU tail, for --emulate-gpu
#include "qnext/Target/FrontEnd.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::qnext;

namespace {
/// Step 2 (the linalg phase): as on the CPU, except the routed experts:
/// gather contractions, so that no host control flow depends on the routing
/// (the host never reads device memory).
void addLinalg(OpPassManager &pm) {
  LowerToLinalgOptions lowering;
  lowering.gatherExperts = true;
  pm.addPass(createLowerToLinalg(lowering));
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // 2b. One thread per output element would leave a decode step's
  //     projections a few thousand threads, each walking a weight row of its
  //     own (a warp reading 32 rows at once): their reductions become 32
  //     interleaved partial sums (a warp reads 32 neighbouring weights), or
  //     contiguous chunks where the reduction is not the innermost
  //     dimension, summed by a second op.
  pm.addNestedPass<func::FuncOp>(createSplitReductions());
  // 2c. Quantized weights (int8, int4, FP8) decoded by the threads that
  //     read them, inside the ops that read them: no dequantized copy.
  pm.addNestedPass<func::FuncOp>(createDecodeInKernels());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// Steps 3-5 (the GPU phase).
void addGPU(OpPassManager &pm, const CUDAPipelineOptions &o) {
  // 3. Weights, entry ABI and bufferization exactly as on the CPU: the
  //    runtime passes device buffers through the same descriptors.
  addBufferization(pm, /*dropEquivalentResults=*/false);
  // 4. Every linalg op -> a parallel loop nest -> its iterations flattened
  //    into blocks of `blockSize` threads (grid x only, whose limit is
  //    2^31 - 1) -> a gpu.launch; what is left on the host touching memory
  //    goes into one-thread kernels, and host buffers into device memory
  //    (qnext-gpu-offload). A reduction's accumulator then lives in a
  //    register, not in memory.
  OpPassManager &functions = pm.nest<func::FuncOp>();
  functions.addPass(createConvertLinalgToParallelLoopsPass());
  MapToThreadsOptions threads;
  threads.blockSize = o.blockSize;
  functions.addPass(createMapToThreads(threads));
  functions.addPass(createConvertParallelLoopToGpuPass());
  pm.addPass(createOffloadToDevice());
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createPromoteAccumulators());
  if (o.emulate) {
    // 5'. Testing without a GPU: every launch becomes loops over its blocks
    //     and threads on the host, device buffers host buffers.
    pm.addPass(createEmulateOnHost());
    pm.addPass(createCopyToLinalg());
    pm.addPass(createCanonicalizerPass());
    return;
  }
  // 5. Kernels outlined and merged into one gpu.module (one PTX module);
  //    host GPU ops made asynchronous on one stream.
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createMergeKernelModules());
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
}

/// Steps 6-8 (the LLVM dialect phase).
void addLLVMDialect(OpPassManager &pm, const CUDAPipelineOptions &o) {
  if (o.emulate) {
    // 6'-7'. The CPU pipeline's tail (no OpenMP) lowers the emulation.
    CPUPipelineOptions host;
    host.threads = false;
    addLoopsToLLVM(pm, host);
    return;
  }
  // 6. Kernels -> NVVM for the chip (libdevice for exp, log, ...).
  GpuNVVMAttachTargetOptions target;
  target.chip = o.chip;
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  addLowerToControlFlow(kernels);
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  // 7. Host -> LLVM: launches become calls of the mgpu* runtime ABI (the
  //    qnext runtime implements it over the CUDA driver).
  addLowerToControlFlow(pm.nest<func::FuncOp>());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  // 8. The gpu.module -> PTX -> ptxas (cubin) / fatbinary, embedded in the
  //    host module.
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = o.format;
  binary.toolkitPath = o.toolkit;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}
} // namespace

LogicalResult mlir::qnext::buildCUDAPipeline(OpPassManager &pm, CUDAPhase until,
                                             const CUDAPipelineOptions &options,
                                             CUDAPhase from,
                                             PipelineErrorHandler onError) {
  auto wanted = [&](CUDAPhase phase) { return phase >= from && phase <= until; };
  // 1. As on the CPU (FrontEnd.h): layer ops -> primitive ops, then the
  //    chosen fusions.
  if (wanted(CUDAPhase::Primitive))
    addDecomposition(pm);
  if (wanted(CUDAPhase::Fused) &&
      failed(addFusionPasses(pm, options.fusions,
                             onError ? onError : printPipelineError)))
    return failure();
  if (wanted(CUDAPhase::Linalg))
    addLinalg(pm);
  if (wanted(CUDAPhase::GPU))
    addGPU(pm, options);
  if (wanted(CUDAPhase::LLVMDialect))
    addLLVMDialect(pm, options);
  return success();
}

llvm::Expected<std::string> mlir::qnext::kernelBinary(ModuleOp module) {
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute object : binary.getObjects())
      if (auto o = dyn_cast<gpu::ObjectAttr>(object))
        return o.getObject().getValue().str();
  return llvm::createStringError("the module holds no gpu.binary");
}

namespace {
struct PipelineCLOptions : public PassPipelineOptions<PipelineCLOptions> {
  Option<std::string> chip{*this, "chip", llvm::cl::desc("GPU architecture"),
                           llvm::cl::init("sm_90a")};
  Option<std::string> toolkit{*this, "toolkit",
                              llvm::cl::desc("CUDA toolkit folder"),
                              llvm::cl::init("/usr/local/cuda")};
  Option<std::string> format{*this, "format",
                             llvm::cl::desc("isa (PTX), bin (cubin) or fatbin"),
                             llvm::cl::init("fatbin")};
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("Threads per block"),
                            llvm::cl::init(128)};
  ListOption<std::string> fusions{
      *this, "fusions",
      llvm::cl::desc("Fusions to run after qnext-decompose-layers, by the "
                     "names of qnext-compile --fuse (those it can run on a GPU)")};
  Option<bool> emulate{*this, "emulate",
                       llvm::cl::desc("Testing without a GPU: the kernels as "
                                      "loops on the host, lowered for the CPU"),
                       llvm::cl::init(false)};
};
} // namespace

void mlir::qnext::registerCUDAPipeline() {
  registerCheckedPipeline<PipelineCLOptions>(
      "qnext-cuda-pipeline",
      "The qnext CUDA pipeline: layer ops down to NVVM kernels in a "
      "gpu.binary and host code in the LLVM dialect",
      [](OpPassManager &pm, const PipelineCLOptions &cl, PipelineErrorHandler onError) {
        CUDAPipelineOptions options;
        options.chip = cl.chip;
        options.toolkit = cl.toolkit;
        options.format = cl.format;
        options.blockSize = cl.blockSize;
        options.emulate = cl.emulate;
        options.fusions.assign(cl.fusions.begin(), cl.fusions.end());
        return buildCUDAPipeline(pm, CUDAPhase::LLVMDialect, options,
                                 CUDAPhase::Primitive, onError);
      });
}

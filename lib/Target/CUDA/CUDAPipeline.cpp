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
#include "qnext/Target/CPUPipeline.h" // the CPU tail, for --emulate-gpu
#include "qnext/Target/Fusions.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace {
struct Step {
  qnext::CUDAPhase phase;
  std::string pipeline;
};

std::vector<Step> steps(const qnext::CUDAPipelineOptions &o) {
  using qnext::CUDAPhase;
  std::vector<Step> steps = {
      // 1-2. As on the CPU: layer ops -> primitive ops -> linalg on tensors,
      //      except the routed experts: gather contractions, so that no host
      //      control flow depends on the routing (the host never reads
      //      device memory).
      {CUDAPhase::Primitive, "qnext-decompose-layers"},
      {CUDAPhase::Fused, qnext::fusionPipeline(o.fusions)},
      {CUDAPhase::Linalg, "qnext-lower-to-linalg{gather-experts}"},
      {CUDAPhase::Linalg,
       "func.func(convert-elementwise-to-linalg),canonicalize,cse"},
      // 2b. One thread per output element would leave a decode step's
      //     projections a few thousand threads, each walking a weight row of
      //     its own (a warp reading 32 rows at once): their reductions
      //     become 32 interleaved partial sums (a warp reads 32 neighbouring
      //     weights), or contiguous chunks where the reduction is not the
      //     innermost dimension, summed by a second op.
      {CUDAPhase::Linalg,
       "func.func(qnext-gpu-split-reductions),canonicalize,cse"},
      // 3. Weights, entry ABI and bufferization exactly as on the CPU: the
      //    runtime passes device buffers through the same descriptors.
      {CUDAPhase::GPU,
       "qnext-bind-params,qnext-cpu-entry-abi,eliminate-empty-tensors,"
       "one-shot-bufferize{bufferize-function-boundaries "
       "function-boundary-type-conversion=identity-layout-map},"
       "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
       "qnext-copy-to-linalg"},
      // 4. Every linalg op -> a parallel loop nest -> its iterations
      //    flattened into blocks of `blockSize` threads (grid x only, whose
      //    limit is 2^31 - 1) -> a gpu.launch; what is left on the host
      //    touching memory goes into one-thread kernels, and host buffers
      //    into device memory (qnext-gpu-offload). A reduction's
      //    accumulator then lives in a register, not in memory.
      {CUDAPhase::GPU,
       "func.func(convert-linalg-to-parallel-loops,qnext-gpu-map-threads{"
       "block-size=" + std::to_string(o.blockSize) + "},"
       "convert-parallel-loops-to-gpu),qnext-gpu-offload,canonicalize,"
       "func.func(qnext-gpu-promote-accumulators)"},
  };
  if (o.emulate) {
    // 5'-7'. Testing without a GPU: every launch becomes loops over its
    //        blocks and threads on the host, device buffers host buffers,
    //        and the CPU pipeline's tail (no OpenMP) lowers the rest.
    steps.push_back({CUDAPhase::GPU, "qnext-gpu-emulate-on-host,"
                                     "qnext-copy-to-linalg,canonicalize"});
    qnext::CPUPipelineOptions host;
    host.threads = false;
    steps.push_back({CUDAPhase::LLVMDialect, qnext::loopsToLLVMPipeline(host)});
    return steps;
  }
  llvm::append_range(steps, std::vector<Step>{
      // 5. Kernels outlined and merged into one gpu.module (one PTX module);
      //    host GPU ops made asynchronous on one stream.
      {CUDAPhase::GPU,
       "gpu-kernel-outlining,qnext-gpu-merge-modules,func.func(gpu-async-region)"},
      // 6. Kernels -> NVVM for the chip (libdevice for exp, log, ...).
      {CUDAPhase::LLVMDialect,
       "nvvm-attach-target{chip=" + o.chip +
           " O=3},gpu.module(expand-strided-metadata,lower-affine,"
           "convert-scf-to-cf,convert-gpu-to-nvvm,canonicalize,cse,"
           "reconcile-unrealized-casts)"},
      // 7. Host -> LLVM: launches become calls of the mgpu* runtime ABI
      //    (the qnext runtime implements it over the CUDA driver).
      {CUDAPhase::LLVMDialect,
       "func.func(expand-strided-metadata,lower-affine,convert-scf-to-cf),"
       "gpu-to-llvm,convert-math-to-llvm,finalize-memref-to-llvm,"
       "convert-to-llvm,reconcile-unrealized-casts"},
      // 8. The gpu.module -> PTX -> ptxas (cubin) / fatbinary, embedded in
      //    the host module.
      {CUDAPhase::LLVMDialect, "gpu-module-to-binary{format=" + o.format +
                                   " toolkit=" + o.toolkit + "}"},
  });
  return steps;
}
} // namespace

LogicalResult mlir::qnext::buildCUDAPipeline(OpPassManager &pm, CUDAPhase until,
                                             const CUDAPipelineOptions &options,
                                             CUDAPhase from) {
  SmallVector<std::string> selected;
  for (const Step &step : steps(options))
    if (step.phase >= from && step.phase <= until && !step.pipeline.empty())
      selected.push_back(step.pipeline);
  return parsePassPipeline(llvm::join(selected, ","), pm, llvm::errs());
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
  Option<bool> emulate{*this, "emulate",
                       llvm::cl::desc("Testing without a GPU: the kernels as "
                                      "loops on the host, lowered for the CPU"),
                       llvm::cl::init(false)};
};
} // namespace

void mlir::qnext::registerCUDAPipeline() {
  PassPipelineRegistration<PipelineCLOptions>(
      "qnext-cuda-pipeline",
      "The qnext CUDA pipeline: layer ops down to NVVM kernels in a "
      "gpu.binary and host code in the LLVM dialect",
      [](OpPassManager &pm, const PipelineCLOptions &cl) {
        CUDAPipelineOptions options;
        options.chip = cl.chip;
        options.toolkit = cl.toolkit;
        options.format = cl.format;
        options.blockSize = cl.blockSize;
        options.emulate = cl.emulate;
        (void)buildCUDAPipeline(pm, CUDAPhase::LLVMDialect, options);
      });
}

//===- CPUPipeline.cpp - qnext -> LLVM dialect for the host CPU -----------===//
//
// The CPU pipeline as numbered steps, each a C++ builder that appends its
// passes to a pass manager; each says why it sits where it does. Steps 1
// and 5-6 are shared with the CUDA pipeline (FrontEnd.h).
//
//===----------------------------------------------------------------------===//

#include "qnext/Target/CPUPipeline.h"
#include "qnext/Passes/Passes.h"
#include "qnext/Target/FrontEnd.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::qnext;

namespace {

/// qnext-vectorize-contractions' options for the target's registers. With
/// several tokens a register block is token-rows x token-block-rows
/// accumulators plus token-rows inputs and a weight row: 6 x 4 + 6 + 1 = 31
/// of AVX-512's 32 registers, 4 x 2 + 4 + 1 = 13 of AVX2's 16. One token
/// takes `rows` weight rows per block: 8 on AVX-512 (16 accumulators with a
/// fused gate and up), which streams twice the weights per block as 4 and
/// measured 5-8 % faster decode on the bench preset; 4 on AVX2. Prompts run
/// in tiles of 64 tokens (a tile's activations, 64 x 8 KB for a hidden size
/// of 2048, stay in L2 while every row block reads them).
VectorizeContractionsOptions kernelOptions(const CPUPipelineOptions &options) {
  VectorizeContractionsOptions kernels;
  kernels.vectorWidth = options.vectorWidth;
  kernels.activations = options.activations;
  kernels.amx = options.amx;
  kernels.bf16Terms = options.bf16Terms;
  kernels.vnni = options.vnni;
  kernels.tokenTile = 64;
  if (options.vectorWidth >= 16) {
    kernels.rows = 8;
    kernels.tokenRows = 6;
    kernels.tokenBlockRows = 4;
  }
  return kernels;
}

/// Steps 2-3 (the linalg phase).
void addLinalg(OpPassManager &pm, const CPUPipelineOptions &options) {
  // 2a. Each layer becomes a call of a function shared by the layers that
  //     equal it: everything below, LLVM included, then compiles each kind
  //     of layer once rather than once per layer.
  if (options.outlineLayers)
    pm.addPass(createOutlineLayers());
  // 2b. Primitive ops -> linalg/tensor/scf/arith/math on tensors, fp32 math
  //     with weights widened inside the loop bodies.
  LowerToLinalgOptions lowering;
  lowering.gatherExperts = options.gatherExperts;
  pm.addPass(createLowerToLinalg(lowering));
  // 3. The residual adds (arith on tensors) become linalg too; sizes taken
  //    of reshapes and generics' results are taken of their sources and
  //    inits instead (so a kernel may absorb the op that computes its
  //    input); then fold the reshapes, slices and constants the lowering
  //    left, before bufferization decides what can be done in place.
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(memref::createResolveRankedShapeTypeResultDimsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// Step 4 (the kernels phase). Projections (x * W^T, the bulk of the work)
/// -> scf.forall over blocks of weight rows, each a register-blocked vector
/// kernel; still on tensors, so bufferization places the results. The
/// other generics with independent heads (the delta rule's contractions and
/// recurrence, attention's weighted sums) become scf.forall over their
/// heads, run on all cores like the kernels; a prompt's row-wise generics
/// (norms, conv, adds) over tiles of 16 tokens.
void addKernels(OpPassManager &pm, const CPUPipelineOptions &options) {
  OpPassManager &functions = pm.nest<func::FuncOp>();
  functions.addPass(createVectorizeContractions(kernelOptions(options)));
  ParallelizeHeadsOptions heads;
  heads.tokenTile = 16;
  functions.addPass(createParallelizeHeads(heads));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}
} // namespace

void mlir::qnext::addLoopsToLLVM(OpPassManager &pm, const CPUPipelineOptions &options) {
  // 7. Structured ops -> loops. The kernels' scf.forall becomes
  //    scf.parallel, and with threads an OpenMP worksharing loop (guided
  //    schedule by default: shrinking chunks of row blocks to whichever
  //    thread is free, so that a thread slowed by the VM does not keep the
  //    others waiting at the loop's end); the canonicalizer then inlines the
  //    memref.alloca_scope that wraps each body, which must go before
  //    scf-to-cf makes it multi-block. expand-strided-metadata produces
  //    affine.apply, so it must precede lower-affine.
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(createForallToParallelLoopPass());
  //    Each kernel (a top-level op holding an scf.parallel) becomes a function
  //    named by what it computes, so that profiles say where the time goes;
  //    with profileKernels, its calls and the layers' report to the runtime.
  OutlineKernelsOptions kernels;
  kernels.profile = options.profileKernels;
  pm.addPass(createOutlineKernels(kernels));
  if (options.threads) {
    pm.addPass(createConvertSCFToOpenMPPass());
    OMPScheduleOptions schedule;
    schedule.schedule = options.ompSchedule;
    pm.addPass(createOMPSchedule(schedule));
    pm.addPass(createCanonicalizerPass());
  }
  addLowerToControlFlow(pm);
  // 8. -> LLVM dialect: byte dots (their intrinsic), vector ops (transfers
  //    become plain loads and stores; x86vector's bf16 dots their
  //    intrinsic) and math first (exp, sin, cos, rsqrt, log1p become
  //    intrinsics), then memrefs, OpenMP, and everything else; the casts
  //    left between the conversions are reconciled last.
  LowerByteDotsOptions byteDots;
  byteDots.vnni = options.vnni;
  pm.addPass(createLowerByteDots(byteDots));
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.x86Vector = true;
  //    AMX tiles become their intrinsics (LLVM configures the tiles).
  vectorToLLVM.amx = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  //    An AMX kernel's K loop carries its accumulator tiles in block
  //    arguments: the branches become LLVM's (tiles as x86_amx) before the
  //    OpenMP conversion, whose type converter knows no tile type.
  ConvertToLLVMPassOptions branches;
  branches.filterDialects = {"cf", "amx"};
  pm.addPass(createConvertToLLVMPass(branches));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

LogicalResult mlir::qnext::buildCPUPipeline(OpPassManager &pm, CPUPhase until,
                                            const CPUPipelineOptions &options,
                                            CPUPhase from,
                                            PipelineErrorHandler onError) {
  auto wanted = [&](CPUPhase phase) { return phase >= from && phase <= until; };
  // 1. Layer ops -> primitive ops: every later step sees one op per kernel.
  if (wanted(CPUPhase::Primitive))
    addDecomposition(pm);
  // 1b. The chosen fusions, on primitive ops (Fusions.h).
  if (wanted(CPUPhase::Fused) &&
      failed(addFusionPasses(pm, options.fusions,
                             onError ? onError : printPipelineError)))
    return failure();
  if (wanted(CPUPhase::Linalg))
    addLinalg(pm, options);
  if (wanted(CPUPhase::Kernels))
    addKernels(pm, options);
  if (wanted(CPUPhase::LLVMDialect)) {
    // 5-6. Weights and the entry ABI, still on tensors: every parameter
    //      becomes a read-only view of the packed weights buffer (the plan
    //      goes into the module for the packer), and public functions take
    //      buffers the caller owns, writing states back in place and logits
    //      into an out-parameter; then tensors -> buffers, results written
    //      straight into the caller's buffers.
    addBufferization(pm, /*dropEquivalentResults=*/true);
    // 7-8. Structured ops -> loops -> LLVM dialect.
    addLoopsToLLVM(pm, options);
  }
  return success();
}

namespace {
struct PipelineCLOptions : public PassPipelineOptions<PipelineCLOptions> {
  Option<int64_t> vectorWidth{*this, "vector-width",
                              llvm::cl::desc("f32 lanes of the projection "
                                             "kernels (8: AVX2, 16: AVX-512)"),
                              llvm::cl::init(8)};
  ListOption<std::string> fusions{
      *this, "fusions",
      llvm::cl::desc("Fusions to run after qnext-decompose-layers, by the "
                     "names of qnext-compile --fuse (deltanet-step, moe, swiglu, "
                     "projections, norm-linear, gate-linear, add-norm, "
                     "norm-rope, router)")};
  Option<bool> outlineLayers{
      *this, "outline-layers",
      llvm::cl::desc("Compile each distinct layer once, as a function its "
                     "layers call (otherwise: every layer inline)"),
      llvm::cl::init(true)};
  Option<bool> threads{*this, "threads",
                       llvm::cl::desc("Lower the kernels' parallel loops to "
                                      "OpenMP (otherwise: sequential loops)"),
                       llvm::cl::init(true)};
  Option<std::string> ompSchedule{
      *this, "omp-schedule",
      llvm::cl::desc("With threads: the worksharing loops' schedule (static, "
                     "dynamic, guided, runtime)"),
      llvm::cl::init("guided")};
  Option<std::string> activations{
      *this, "activations",
      llvm::cl::desc("What the kernels multiply weights by: f32 inputs, int8 "
                     "(kernels of int8/int4 weights: quantized on the fly, "
                     "bytes multiplied) or bf16 (kernels of bf16 "
                     "weights: rounded to bf16, vdpbf16ps)"),
      llvm::cl::init("f32")};
  Option<bool> vnni{*this, "vnni",
                    llvm::cl::desc("With activations=int8: bytes multiplied "
                                   "with vpdpbusd (AVX512-VNNI, AVX-VNNI); "
                                   "false: vpmaddubsw + vpmaddwd (AVX2)"),
                    llvm::cl::init(true)};
  Option<bool> amx{*this, "amx",
                   llvm::cl::desc("With activations=bf16: kernels of several "
                                  "tokens on AMX tiles (tdpbf16ps)"),
                   llvm::cl::init(false)};
  Option<int64_t> bf16Terms{
      *this, "bf16-terms",
      llvm::cl::desc("With activations=bf16: bf16 values each input is the "
                     "sum of (2: the rounding and its remainder; 1: rounded once)"),
      llvm::cl::init(2)};
};
} // namespace

void mlir::qnext::registerCPUPipeline() {
  registerCheckedPipeline<PipelineCLOptions>(
      "qnext-cpu-pipeline", "The qnext CPU pipeline: layer ops down to the LLVM dialect",
      [](OpPassManager &pm, const PipelineCLOptions &cl, PipelineErrorHandler onError) {
        CPUPipelineOptions options;
        options.vectorWidth = cl.vectorWidth;
        options.threads = cl.threads;
        options.ompSchedule = cl.ompSchedule;
        options.activations = cl.activations;
        options.amx = cl.amx;
        options.bf16Terms = cl.bf16Terms;
        options.vnni = cl.vnni;
        options.outlineLayers = cl.outlineLayers;
        options.fusions.assign(cl.fusions.begin(), cl.fusions.end());
        return buildCPUPipeline(pm, CPUPhase::LLVMDialect, options,
                                CPUPhase::Primitive, onError);
      });
}

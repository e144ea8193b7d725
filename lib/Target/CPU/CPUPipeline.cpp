//===- CPUPipeline.cpp - qnext -> LLVM dialect for the host CPU -----------===//
//
// The CPU pipeline as numbered steps; each says why it sits where it does.
// The steps are upstream textual pass pipelines (the forms measured in
// ../shared/toolchain.md) plus qnext's own passes.
//
//===----------------------------------------------------------------------===//

#include "qnext/Target/CPUPipeline.h"
#include "qnext/Target/Fusions.h"

#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace {
struct Step {
  qnext::CPUPhase phase; ///< the phase this step belongs to
  std::string pipeline;
};

/// qnext-vectorize-contractions' options for the target's registers. With
/// several tokens a register block is token-rows x token-block-rows
/// accumulators plus token-rows inputs and a weight row: 6 x 4 + 6 + 1 = 31
/// of AVX-512's 32 registers, 4 x 2 + 4 + 1 = 13 of AVX2's 16. One token
/// takes `rows` weight rows per block: 8 on AVX-512 (16 accumulators with a
/// fused gate and up), which streams twice the weights per block as 4 and
/// measured 5-8 % faster decode on the bench preset; 4 on AVX2. Prompts run
/// in tiles of 64 tokens (a tile's activations, 64 x 8 KB for a hidden size
/// of 2048, stay in L2 while every row block reads them).
std::string kernelOptions(const qnext::CPUPipelineOptions &options) {
  std::string text = "vector-width=" + std::to_string(options.vectorWidth) +
                     " token-tile=64";
  if (options.vectorWidth >= 16)
    text += " rows=8 token-rows=6 token-block-rows=4";
  return text;
}

std::vector<Step> steps(const qnext::CPUPipelineOptions &options) {
  using qnext::CPUPhase;
  return {
      // 1. Layer ops -> primitive ops: every later step sees one op per kernel.
      {CPUPhase::Primitive, "qnext-decompose-layers"},
      // 1b. The chosen fusions, on primitive ops (Fusions.h): what they
      //     produce is still primitive ops, so everything below applies.
      {CPUPhase::Fused, qnext::fusionPipeline(options.fusions)},
      // 2a. Each layer becomes a call of a function shared by the layers
      //     that equal it: everything below, LLVM included, then compiles
      //     each kind of layer once rather than once per layer.
      {CPUPhase::Linalg, options.outlineLayers ? "qnext-outline-layers" : ""},
      // 2b. Primitive ops -> linalg/tensor/scf/arith/math on tensors, fp32
      //    math with weights widened inside the loop bodies.
      {CPUPhase::Linalg, options.gatherExperts
                             ? "qnext-lower-to-linalg{gather-experts}"
                             : "qnext-lower-to-linalg"},
      // 3. The residual adds (arith on tensors) become linalg too; sizes
      //    taken of reshapes and generics' results are taken of their
      //    sources and inits instead (so a kernel may absorb the op that
      //    computes its input); then fold the reshapes, slices and constants
      //    the lowering left, before bufferization decides what can be done
      //    in place.
      {CPUPhase::Linalg,
       "func.func(convert-elementwise-to-linalg),"
       "resolve-ranked-shaped-type-result-dims,canonicalize,cse"},
      // 4. Projections (x * W^T, the bulk of the work) -> scf.forall over
      //    blocks of weight rows, each a register-blocked vector kernel;
      //    still on tensors, so bufferization places the results.
      //    The other generics with independent heads (the delta rule's
      //    contractions and recurrence, attention's weighted sums) become
      //    scf.forall over their heads, run on all cores like the kernels;
      //    a prompt's row-wise generics (norms, conv, adds) over tiles of 16
      //    tokens.
      {CPUPhase::Kernels,
       "func.func(qnext-vectorize-contractions{" + kernelOptions(options) +
           "},qnext-parallelize-heads{token-tile=16}),canonicalize,cse"},
      // 5. Weights and the entry ABI, still on tensors: every parameter
      //    becomes a read-only view of the packed weights buffer (the plan
      //    goes into the module for the packer), and public functions take
      //    buffers the caller owns, writing states back in place and logits
      //    into an out-parameter.
      {CPUPhase::LLVMDialect, "qnext-bind-params,qnext-cpu-entry-abi"},
      // 6. Tensors -> buffers. Empty-tensor elimination first, so results are
      //    written straight into the caller's buffers
      //    (bufferization.materialize_in_destination) without copies;
      //    identity layouts at function boundaries give plain C descriptors.
      {CPUPhase::LLVMDialect,
       "eliminate-empty-tensors,"
       "one-shot-bufferize{bufferize-function-boundaries "
       "function-boundary-type-conversion=identity-layout-map},"
       // A layer function updates its states and caches in place: it no
       // longer returns them (or the deallocation pipeline would return a
       // copy of each), and the copy back into the caller's buffer, now
       // from that buffer to itself, folds away.
       "drop-equivalent-buffer-results,canonicalize,"
       "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
       // Copies become loops (a memref.copy between strided views would call
       // the memrefCopy runtime helper, which the artifact must not need).
       "qnext-copy-to-linalg"},
      // 7-8. Structured ops -> loops -> LLVM dialect (loopsToLLVMPipeline).
      {CPUPhase::LLVMDialect, qnext::loopsToLLVMPipeline(options)},
  };
}
} // namespace

std::string mlir::qnext::loopsToLLVMPipeline(const CPUPipelineOptions &options) {
  // 7. Structured ops -> loops. The kernels' scf.forall becomes
  //    scf.parallel, and with threads an OpenMP worksharing loop (guided
  //    schedule by default: shrinking chunks of row blocks to whichever
  //    thread is free, so that a thread slowed by the VM does not keep the
  //    others waiting at the loop's end); the canonicalizer then inlines the
  //    memref.alloca_scope that wraps each body, which must go before
  //    scf-to-cf makes it multi-block. expand-strided-metadata produces
  //    affine.apply, so it must precede lower-affine.
  std::string loops =
      std::string("convert-linalg-to-loops,scf-forall-to-parallel,") +
      (options.threads ? "convert-scf-to-openmp,qnext-omp-schedule{schedule=" +
                             options.ompSchedule + "},canonicalize,"
                       : std::string()) +
      "expand-strided-metadata,lower-affine,convert-scf-to-cf";
  // 8. -> LLVM dialect: vector ops (transfers become plain loads and stores)
  //    and math first (exp, sin, cos, rsqrt, log1p become intrinsics), then
  //    memrefs, OpenMP, and everything else; the casts left between the
  //    conversions are reconciled last.
  std::string llvm =
      "convert-vector-to-llvm,convert-math-to-llvm,finalize-memref-to-llvm,"
      "convert-openmp-to-llvm,convert-to-llvm,reconcile-unrealized-casts";
  return loops + "," + llvm;
}

LogicalResult mlir::qnext::buildCPUPipeline(OpPassManager &pm, CPUPhase until,
                                            const CPUPipelineOptions &options,
                                            CPUPhase from) {
  SmallVector<std::string> selected;
  for (const Step &step : steps(options))
    if (step.phase >= from && step.phase <= until && !step.pipeline.empty())
      selected.push_back(step.pipeline);
  // A module pass manager: the steps, without a builtin.module(...) wrapper
  // (with one, parsePassPipeline would nest it and run nothing).
  return parsePassPipeline(llvm::join(selected, ","), pm, llvm::errs());
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
};
} // namespace

void mlir::qnext::registerCPUPipeline() {
  PassPipelineRegistration<PipelineCLOptions>(
      "qnext-cpu-pipeline",
      "The qnext CPU pipeline: layer ops down to the LLVM dialect",
      [](OpPassManager &pm, const PipelineCLOptions &cl) {
        CPUPipelineOptions options;
        options.vectorWidth = cl.vectorWidth;
        options.threads = cl.threads;
        options.ompSchedule = cl.ompSchedule;
        options.outlineLayers = cl.outlineLayers;
        options.fusions.assign(cl.fusions.begin(), cl.fusions.end());
        (void)buildCPUPipeline(pm, CPUPhase::LLVMDialect, options);
      });
}

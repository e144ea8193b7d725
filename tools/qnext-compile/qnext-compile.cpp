//===- qnext-compile.cpp - Hugging Face checkpoint -> qnext ---------------===//
//
// The compiler's command line: its options parsed into a
// qnext::CompileOptions for qnext::compile() (include/qnext/Driver/Compile.h,
// lib/Driver/), which reads a checkpoint folder exactly as it ships
// (config.json + safetensors, sharded or not) or a bare config.json,
// validates it, builds the model's IR without reading weight data, then
// lowers it for the CPU or a GPU, phase by phase (--compile-to stops after
// one and prints it; --dump-phases-to writes each one it passes).
// MLIR's pass-manager flags (--mlir-print-ir-after-all, --mlir-timing,
// --mlir-pass-pipeline-crash-reproducer, ...) apply to the passes it runs.
//
//===----------------------------------------------------------------------===//

#include "qnext/Driver/Compile.h"
#include "qnext/InitAll.h"
#include "qnext/Support/Version.h"
#include "qnext/Target/Fusions.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

#include <csignal>

using namespace llvm;
using qnext::CompilePhase;
using qnext::CompileTarget;
using qnext::FusionLevel;

namespace {
// Listed before LLVM's "Generic Options" (categories print in name order).
cl::OptionCategory category("Compile options");

cl::opt<std::string> input(cl::Positional, cl::Required,
                           cl::desc("<checkpoint folder or config.json>"),
                           cl::cat(category));
cl::opt<std::string> output("o", cl::desc("Output file ('-' for stdout)"),
                            cl::value_desc("file"), cl::init("-"),
                            cl::cat(category));

cl::opt<CompilePhase> compileTo(
    "compile-to", cl::desc("Stop after this phase and print its IR"),
    cl::values(clEnumValN(CompilePhase::QNext, "qnext",
                          "the model as qnext layer ops"),
               clEnumValN(CompilePhase::Primitive, "primitive",
                          "after qnext-decompose-layers: primitive ops"),
               clEnumValN(CompilePhase::Fused, "fused",
                          "after the chosen fusion passes (--fusion)"),
               clEnumValN(CompilePhase::Linalg, "linalg",
                          "after qnext-lower-to-linalg: linalg, tensor, scf, "
                          "arith, math (weights still qnext.param)"),
               clEnumValN(CompilePhase::Kernels, "kernels",
                          "--target=cpu: projections and heads as parallel "
                          "vector kernels, still on tensors"),
               clEnumValN(CompilePhase::GPU, "gpu",
                          "--target=cuda: kernels outlined into one "
                          "gpu.module, the host launching them"),
               clEnumValN(CompilePhase::LLVMDialect, "llvm-dialect",
                          "the whole pipeline: the LLVM dialect (CUDA: the "
                          "kernels in a gpu.binary)"),
               clEnumValN(CompilePhase::PTX, "ptx",
                          "--target=cuda: the kernels' PTX"),
               clEnumValN(CompilePhase::LLVMIR, "llvm-ir",
                          "LLVM IR, optimized (O2) for the target CPU"),
               clEnumValN(CompilePhase::Object, "object",
                          "the code section: an x86-64 shared object"),
               clEnumValN(CompilePhase::Artifact, "artifact",
                          "the .qnx model artifact (default; needs weights)")),
    cl::init(CompilePhase::Artifact), cl::cat(category));

cl::opt<std::string> dumpPhasesTo(
    "dump-phases-to",
    cl::desc("Write the IR after each phase it passes to DIR, one numbered "
             "file per phase (00-qnext.mlir, 01-primitive.mlir, ...)"),
    cl::value_desc("DIR"), cl::cat(category));

cl::opt<FusionLevel> fusionLevel(
    "fusion", cl::desc("Which fusion passes run (then --fuse / --no-fuse)"),
    cl::values(clEnumValN(FusionLevel::None, "none", "no fusion"),
               clEnumValN(FusionLevel::Default, "default",
                          "the fusions on by default (default)"),
               clEnumValN(FusionLevel::All, "all", "every fusion")),
    cl::init(FusionLevel::Default), cl::cat(category));
cl::list<std::string> fuse("fuse", cl::CommaSeparated,
                           cl::desc("Also run these fusions"),
                           cl::value_desc("name,..."), cl::cat(category));
cl::list<std::string> noFuse("no-fuse", cl::CommaSeparated,
                             cl::desc("Do not run these fusions"),
                             cl::value_desc("name,..."), cl::cat(category));
cl::opt<bool> fusionReport(
    "fusion-report",
    cl::desc("Print, per entry point, the kernels and activation bytes per "
             "token without fusion and with the chosen fusions (stderr)"),
    cl::cat(category));
cl::opt<int64_t> fusionTestMisslice(
    "fusion-test-misslice", cl::Hidden, cl::init(-1),
    cl::desc("Test only: qnext-fuse-projections breaks its Nth fused group "
             "of each function (qnext-run --bisect-against's test)"),
    cl::cat(category));
cl::opt<bool> outlineLayers(
    "outline-layers",
    cl::desc("--target=cpu: compile each distinct layer once, as a function "
             "its layers call (default; =false: every layer inline in its "
             "entry point)"),
    cl::init(true), cl::cat(category));
cl::opt<std::string> ompSchedule(
    "omp-schedule",
    cl::desc("--target=cpu: how the threads share a kernel's row blocks "
             "(OpenMP schedule): guided (default: shrinking chunks to "
             "whichever thread is free), static (one contiguous range each), "
             "dynamic (one block at a time), runtime (OMP_SCHEDULE decides)"),
    cl::init("guided"), cl::cat(category));
cl::opt<bool> profileKernels(
    "profile-kernels",
    cl::desc("--target=cpu: time every kernel and layer when the runtime "
             "asks (qnext-bench --profile); off, nothing is added"),
    cl::init(false), cl::cat(category));
enum class MTPMode { Auto, Off };
cl::opt<MTPMode> mtp(
    "mtp",
    cl::desc("The checkpoint's multi-token-prediction head (mtp.*), for "
             "speculative decoding: auto (default: compiled, as the 'mtp' entry "
             "point, when the checkpoint has one; --target=cpu) or off"),
    cl::values(clEnumValN(MTPMode::Auto, "auto", "compile the head when present"),
               clEnumValN(MTPMode::Off, "off", "leave mtp.* tensors aside")),
    cl::init(MTPMode::Auto), cl::cat(category));
cl::opt<bool> taps("taps",
                   cl::desc("Also export a 'taps' entry point: prefill that "
                            "returns every layer's hidden states, for "
                            "qnext-run --bisect-against"),
                   cl::cat(category));

cl::opt<bool> decodeBatch(
    "decode-batch",
    cl::desc("--target=cpu: also export 'decode_batch', one decode step of "
             "many sequences at once (default on; "
             "--decode-batch=false leaves it out)"),
    cl::init(true), cl::cat(category));

cl::opt<bool> prefillBatch(
    "prefill-batch",
    cl::desc("--target=cpu: also export 'prefill_batch', runs of tokens of "
             "many sequences (prompt chunks, decode steps) in one call, what "
             "qnext-serve prefills joining prompts with (default on; "
             "--prefill-batch=false leaves it out)"),
    cl::init(true), cl::cat(category));

cl::opt<CompileTarget> target(
    "target", cl::desc("What to generate code for"),
    cl::values(clEnumValN(CompileTarget::CPU, "cpu", "x86-64 CPU (default)"),
               clEnumValN(CompileTarget::CUDA, "cuda",
                          "NVIDIA GPU (kernels for --gpu-arch; the host code "
                          "for x86-64)")),
    cl::init(CompileTarget::CPU), cl::cat(category));
cl::opt<std::string> gpuArch("gpu-arch",
                             cl::desc("--target=cuda: the GPU architecture, "
                                      "sm_80, sm_90a, ... (default sm_90a)"),
                             cl::init("sm_90a"), cl::cat(category));
cl::opt<std::string> cudaToolkit(
    "cuda-toolkit",
    cl::desc("--target=cuda: the CUDA toolkit folder (ptxas, fatbinary, "
             "libdevice; default $CUDA_HOME, else /usr/local/cuda)"),
    cl::cat(category));
cl::opt<bool> emulateGPU(
    "emulate-gpu",
    cl::desc("--target=cuda, for testing without a GPU: the GPU kernels as "
             "loops on the host, one thread after another; the artifact runs "
             "on the CPU (slowly) and checks the GPU mapping against the "
             "golden logits. No PTX"),
    cl::cat(category));
cl::opt<std::string> cpu(
    "cpu",
    cl::desc("CPU to compile for: 'host' (default; this machine's CPU and the "
             "features it reports) or an LLVM CPU name, e.g. x86-64-v3 (AVX2), "
             "x86-64-v4 (AVX-512), znver4, optionally with instruction sets "
             "added: x86-64-v4+avx512bf16, or x86-64-v4+amx (AVX512-BF16, "
             "AVX512-VNNI, AMX-TILE, AMX-BF16). The artifact records the "
             "instruction sets its code may use and refuses to run on a CPU "
             "without them. A comma-separated list, or 'portable' "
             "(x86-64-v4+amx,x86-64-v4,x86-64-v3), makes one artifact with "
             "code for each CPU and the weights once: the runtime runs the "
             "variant with the most instruction sets this CPU has and says "
             "which ('code variant: ...'); a variant whose CPU lacks what "
             "--activations multiplies with keeps f32 (a note says so)"),
    cl::value_desc("cpu[,cpu...]|portable"), cl::init("host"), cl::cat(category));
cl::opt<bool> allowNonfinite(
    "allow-nonfinite",
    cl::desc("Compile weights that hold NaN or infinity (by default an error "
             "naming the tensor and the first such index)"),
    cl::cat(category));
cl::opt<std::string> weights(
    "weights",
    cl::desc("How the decoder layers' projections are stored: 'stored' "
             "(default: as in the checkpoint, FP8 included), 'int8' or "
             "'int8:GROUP' (symmetric int8 with one f32 scale per GROUP "
             "columns of a row, default 128, made while packing from F32, "
             "BF16, F16 or FP8 weights; lm_head (untied) becomes int8 too, "
             "see --lm-head; "
             "embeddings, norms, the router, the shared-expert gate and "
             "DeltaNet's small tensors stay as stored), 'int4' or 'int4:GROUP' "
             "(the same in 4 bits, two a byte, GROUP a multiple of 32, default "
             "128; lm_head int8 unless --lm-head says otherwise). CPU target only"),
    cl::value_desc("format"), cl::init("stored"), cl::cat(category));
cl::opt<std::string> lmHead(
    "lm-head",
    cl::desc("With --weights=int8 or int4: how lm_head (untied) is stored, in "
             "the projections' group: 'int8' (default: decode reads all of it "
             "every token and the logits rest on it), 'int4' (half its bytes, "
             "its own rounding error on every logit: docs/quantization.md has "
             "the quality report) or 'stored' (as in the checkpoint)"),
    cl::value_desc("format"), cl::cat(category));
cl::opt<std::string> activations(
    "activations",
    cl::desc("What the projections multiply the weights by: 'f32' "
             "(default: the weight-exact contract); 'int8' (with --weights=int8 "
             "or int4: the inputs quantized on the fly, per row and per group "
             "of the weights' columns, and multiplied as bytes (vpdpbusd with "
             "AVX512-VNNI or AVX-VNNI, else vpmaddubsw + vpmaddwd): faster "
             "decode, prompts and batched decode, not weight-exact); 'bf16' (with bf16 "
             "weights: every input rounded to bf16 and multiplied in pairs "
             "with vdpbf16ps: faster prompts and batched decode, held to the "
             "lower-precision contract; needs AVX512-BF16)"),
    cl::value_desc("f32|int8|bf16"), cl::init("f32"), cl::cat(category));
cl::opt<std::string> amx(
    "amx",
    cl::desc("With --activations=bf16: whether the kernels of several tokens "
             "(prompts, batched decode steps) multiply on AMX tiles "
             "(tdpbf16ps): 'auto' (default: when the target CPU has AMX-BF16, "
             "e.g. --cpu=host on a Sapphire Rapids, --cpu=sapphirerapids), "
             "'on' (an error if it has not) or 'off' (vdpbf16ps). The "
             "artifact then runs only where AMX is, and asks the kernel for "
             "the tile state"),
    cl::value_desc("auto|on|off"), cl::init("auto"), cl::cat(category));
cl::opt<int64_t> bf16Terms(
    "bf16-terms",
    cl::desc("With --activations=bf16: each input as the sum of this many "
             "bf16 values, each multiplied: 2 (default: the rounding and what "
             "it left, rounded; about 2^-17 relative error, within the "
             "golden contracts) or 1 (rounded once: 2^-9, half the products)"),
    cl::value_desc("1|2"), cl::init(2), cl::cat(category));
cl::opt<std::string> exportDequantized(
    "export-dequantized",
    cl::desc("Instead of compiling: write the checkpoint to DIR with its FP8 "
             "weights dequantized exactly to F32 (scales applied, config.json "
             "without quantization_config) and, with --weights=int8 or int4, the "
             "weights it quantizes as the artifact computes with them: the "
             "reference a quantized model is held to"),
    cl::value_desc("dir"), cl::cat(category));
cl::opt<bool> quiet("q",
                    cl::desc("Quiet: no progress line and no summary line "
                             "(errors and warnings still print)"),
                    cl::cat(category));
cl::alias quietLong("quiet", cl::desc("Alias for -q"), cl::aliasopt(quiet),
                    cl::cat(category));
cl::opt<bool> parallel(
    "parallel",
    cl::desc("Run the projection kernels on all cores (OpenMP; the artifact "
             "then needs libomp.so.5). --parallel=false: one thread"),
    cl::init(true), cl::cat(category));
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // A file-size limit (ulimit -f) makes a write fail with EFBIG, reported
  // like a full disk, instead of killing the compiler mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  // Passes first: --mlir-print-ir-after=<pass> and friends take pass names.
  mlir::qnext::registerAllPasses();
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  // --help lists this tool's options; MLIR's --mlir-* flags and LLVM's
  // backend flags are listed by --help-hidden.
  for (auto &[name, option] : cl::getRegisteredOptions())
    if (name != "help" && name != "version" && name != "help-hidden" &&
        !llvm::is_contained(option->Categories, &category))
      option->setHiddenFlag(cl::Hidden);
  qnext::setVersionPrinter("qnext-compile");
  // The fusion flags name the passes there are (Fusions.h).
  static const std::string fuseHelp =
      "Also run these fusions (" + mlir::qnext::fusionNames() + ")";
  static const std::string noFuseHelp =
      "Do not run these fusions (" + mlir::qnext::fusionNames() + ")";
  fuse.setDescription(fuseHelp);
  noFuse.setDescription(noFuseHelp);
  cl::ParseCommandLineOptions(
      argc, argv,
      "qnext-compile: compile a Qwen3-Next / Qwen3.5 checkpoint\n\n"
      "  qnext-compile CHECKPOINT_DIR --target=cpu -o model.qnx\n"
      "  qnext-compile CHECKPOINT_DIR --compile-to=PHASE [-o FILE]\n"
      "  qnext-compile path/to/config.json ...   (structure only, no weights)\n\n"
      "A checkpoint folder holds config.json and model.safetensors or the\n"
      "shards of model.safetensors.index.json; its tensors are checked against\n"
      "what the config implies (names, shapes, dtypes) before anything is built.\n"
      "Its tokenizer.json, tokenizer_config.json (chat template) and\n"
      "generation_config.json, when present, are checked and copied into the\n"
      "artifact (qnext-run --prompt / --chat and qnext-tokenize use them).\n"
      "Fusion passes run after qnext-decompose-layers (--fusion, --fuse,\n"
      "--no-fuse; --fusion-report counts what they save); every phase can be\n"
      "printed (--compile-to) or dumped (--dump-phases-to).\n"
      "MLIR's --mlir-* flags (listed by --help-hidden) apply to the passes it\n"
      "runs. Progress shows on a terminal; a line says what was written.\n"
      "QNEXT_CODE_CACHE=DIR keeps the generated code of each artifact in DIR\n"
      "and reuses it when a later compile makes the same LLVM module (same\n"
      "model structure and options, any weights, a qnext-compile built from\n"
      "the same sources).\n");

  qnext::CompileOptions options;
  // LLVM's options change code generation behind the module's back: the
  // code cache is not used with them. (MLIR's --mlir-* act on the passes
  // before the module is made, so the module reflects them.)
  for (auto &[name, option] : cl::getRegisteredOptions())
    if (option->getNumOccurrences() > 0 && !name.starts_with("mlir-") &&
        !llvm::is_contained(option->Categories, &category))
      options.llvmOptions.push_back(name.str());
  options.input = input;
  options.output = output;
  options.compileTo = compileTo;
  options.dumpPhasesTo = dumpPhasesTo;
  options.fusion = fusionLevel;
  options.fuse.assign(fuse.begin(), fuse.end());
  options.noFuse.assign(noFuse.begin(), noFuse.end());
  options.fusionReport = fusionReport;
  options.fusionTestMisslice = fusionTestMisslice;
  options.outlineLayers = outlineLayers;
  options.ompSchedule = ompSchedule;
  options.profileKernels = profileKernels;
  options.taps = taps;
  options.mtp = mtp == MTPMode::Auto;
  options.decodeBatch = decodeBatch;
  options.prefillBatch = prefillBatch;
  options.parallel = parallel;
  options.target = target;
  options.gpuArch = gpuArch;
  options.cudaToolkit = cudaToolkit;
  options.emulateGPU = emulateGPU;
  options.allowNonfinite = allowNonfinite;
  options.exportDequantized = exportDequantized;
  options.weights = weights;
  options.lmHead = lmHead;
  options.activations = activations;
  options.amx = amx;
  options.bf16Terms = bf16Terms;
  options.quiet = quiet;
  // Unset: --target=cuda compiles its host code for baseline x86-64.
  if (cpu.getNumOccurrences())
    options.cpu = std::string(cpu);
  options.configurePassManager = [](mlir::PassManager &pm) {
    return mlir::applyPassManagerCLOptions(pm);
  };
  return mlir::failed(qnext::compile(options)) ? 1 : 0;
}

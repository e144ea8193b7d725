//===- CPUObject.cpp - LLVM dialect -> a shared object for the host -------===//

#include "qnext/Target/CPUObject.h"
#include "qnext/Target/CodeCache.h"

#include "qnext/ArtifactFormat.h"
#include "qnext/CPUFeatures.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

#include <atomic>
#include <thread>

using namespace mlir;
using namespace mlir::qnext;

namespace {

/// `void qnext_<name>(void **args)` calling `_mlir_ciface_<name>` with
/// *args[i] as argument i.
void addPackedEntry(llvm::Module &module, llvm::Function &ciface,
                    llvm::StringRef name) {
  llvm::LLVMContext &ctx = module.getContext();
  auto *ptr = llvm::PointerType::getUnqual(ctx);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false);
  auto *entry = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage,
                                       "qnext_" + name, module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", entry));
  llvm::SmallVector<llvm::Value *> args;
  for (unsigned i = 0; i < ciface.arg_size(); ++i) {
    llvm::Value *slot = b.CreateConstGEP1_64(ptr, entry->getArg(0), i);
    llvm::Value *address = b.CreateLoad(ptr, slot);
    args.push_back(b.CreateLoad(ciface.getArg(i)->getType(), address));
  }
  b.CreateCall(&ciface, args);
  b.CreateRetVoid();
}

/// `void qnext_set_num_threads(int32_t)` and `int32_t qnext_max_threads()`:
/// the runtime's handle on the code's parallel loops. With OpenMP they wrap
/// omp_set_num_threads / omp_get_max_threads; without, the code runs on the
/// caller's thread and they say so (set ignores its argument, max is 1).
void addThreadControl(llvm::Module &module, bool openmp) {
  llvm::LLVMContext &ctx = module.getContext();
  auto *i32 = llvm::Type::getInt32Ty(ctx);
  auto *voidTy = llvm::Type::getVoidTy(ctx);
  auto *setType = llvm::FunctionType::get(voidTy, {i32}, false);
  auto *getType = llvm::FunctionType::get(i32, {}, false);
  auto *set = llvm::Function::Create(setType, llvm::GlobalValue::ExternalLinkage,
                                     "qnext_set_num_threads", module);
  auto *get = llvm::Function::Create(getType, llvm::GlobalValue::ExternalLinkage,
                                     "qnext_max_threads", module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", set));
  if (openmp)
    b.CreateCall(module.getOrInsertFunction("omp_set_num_threads", setType),
                 {set->getArg(0)});
  b.CreateRetVoid();
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", get));
  b.CreateRet(openmp ? static_cast<llvm::Value *>(b.CreateCall(
                           module.getOrInsertFunction("omp_get_max_threads",
                                                      getType)))
                     : b.getInt32(1));
}

/// "host": this CPU's name and hostFeatures(). Otherwise the name, whose
/// features LLVM implies, and the ones added to them.
std::pair<std::string, std::string> cpuAndFeatures(const CPUTargetOptions &options) {
  if (options.cpu != "host")
    return {options.cpu, options.features};
  return {llvm::sys::getHostCPUName().str(), mlir::qnext::hostFeatures()};
}

/// The LLVM target of this machine's triple (initialised once).
llvm::Expected<const llvm::Target *> nativeTarget(const llvm::Triple &triple) {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return llvm::createStringError("no LLVM target for " + triple.str() + ": " +
                                   error);
  return target;
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const CPUTargetOptions &options, CPUTargetInfo *info) {
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  auto target = nativeTarget(triple);
  if (!target)
    return target.takeError();
  if (llvm::Error e = checkCPUName(options.cpu))
    return std::move(e);
  auto [cpu, features] = cpuAndFeatures(options);
  std::unique_ptr<llvm::TargetMachine> tm((*target)->createTargetMachine(
      triple, cpu, features, llvm::TargetOptions(), llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return llvm::createStringError("cannot create a target machine for CPU '" +
                                   cpu + "'");
  if (info) {
    auto used = instructionSetFeatures(*tm->getMCSubtargetInfo());
    if (!used)
      return used.takeError();
    info->triple = triple.str();
    info->cpu = cpu;
    info->features = *used;
  }
  return tm;
}

} // namespace

/// Whether the module forks OpenMP threads (and so needs libomp).
static bool usesOpenMP(const llvm::Module &module) {
  const llvm::Function *fork = module.getFunction("__kmpc_fork_call");
  return fork && !fork->use_empty();
}

/// CPUTargetOptions::hoistStaticAllocas.
static void hoistStaticAllocas(llvm::Module &module) {
  for (llvm::Function &f : module) {
    if (f.isDeclaration())
      continue;
    llvm::SmallVector<llvm::AllocaInst *> later;
    for (llvm::BasicBlock &block : llvm::drop_begin(f))
      for (llvm::Instruction &inst : block)
        if (auto *alloca = llvm::dyn_cast<llvm::AllocaInst>(&inst))
          if (llvm::isa<llvm::ConstantInt>(alloca->getArraySize()))
            later.push_back(alloca);
    llvm::BasicBlock &entry = f.getEntryBlock();
    for (llvm::AllocaInst *alloca : later)
      alloca->moveBefore(entry.getFirstInsertionPt());
  }
}

static llvm::Expected<std::unique_ptr<llvm::Module>>
translate(ModuleOp module, llvm::LLVMContext &ctx, llvm::TargetMachine &tm,
          const CPUTargetOptions &options) {
  registerBuiltinDialectTranslation(*module->getContext());
  registerLLVMDialectTranslation(*module->getContext());
  registerOpenMPDialectTranslation(*module->getContext());
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, ctx, "qnext");
  if (!llvmModule)
    return llvm::createStringError("translation to LLVM IR failed");
  if (options.hoistStaticAllocas)
    hoistStaticAllocas(*llvmModule);
  llvmModule->setTargetTriple(tm.getTargetTriple());
  llvmModule->setDataLayout(tm.createDataLayout());
  llvm::SmallVector<llvm::Function *> cifaces;
  for (llvm::Function &f : *llvmModule)
    if (f.getName().starts_with("_mlir_ciface_") && !f.isDeclaration())
      cifaces.push_back(&f);
  for (llvm::Function *f : cifaces)
    addPackedEntry(*llvmModule, *f,
                   f->getName().drop_front(strlen("_mlir_ciface_")));
  addThreadControl(*llvmModule, usesOpenMP(*llvmModule));
  if (!options.abiRecord.empty()) {
    auto *record = llvm::ConstantDataArray::getString(ctx, options.abiRecord);
    new llvm::GlobalVariable(*llvmModule, record->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, record,
                             ::qnext::artifact::kABISymbol);
  }
  return llvmModule;
}

namespace {
/// The target machine and the optimized LLVM module, which refers to it.
struct Lowered {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::TargetMachine> machine;
  std::unique_ptr<llvm::Module> module;
};

/// The module translated to LLVM IR for its target machine, not yet
/// optimized (optimize() does that, on any thread: it touches only
/// `lowered`'s own LLVM context).
llvm::Expected<Lowered> translateOnly(ModuleOp module, const CPUTargetOptions &options,
                                      CPUTargetInfo *info) {
  Lowered out;
  auto tm = createTargetMachine(options, info);
  if (!tm)
    return tm.takeError();
  out.machine = std::move(*tm);
  out.context = std::make_unique<llvm::LLVMContext>();
  auto llvmModule = translate(module, *out.context, *out.machine, options);
  if (!llvmModule)
    return llvmModule.takeError();
  out.module = std::move(*llvmModule);
  return out;
}
llvm::Error optimize(Lowered &lowered) {
  return makeOptimizingTransformer(2, 0, lowered.machine.get())(lowered.module.get());
}

llvm::Expected<Lowered> lower(ModuleOp module, const CPUTargetOptions &options,
                              CPUTargetInfo *info) {
  auto lowered = translateOnly(module, options, info);
  if (!lowered)
    return lowered.takeError();
  if (llvm::Error e = optimize(*lowered))
    return std::move(e);
  return lowered;
}
} // namespace

llvm::Expected<std::string>
mlir::qnext::translateToLLVMIR(ModuleOp module, const CPUTargetOptions &options,
                               CPUTargetInfo *info) {
  auto lowered = lower(module, options, info);
  if (!lowered)
    return lowered.takeError();
  std::unique_ptr<llvm::Module> &llvmModule = lowered->module;
  std::string text;
  llvm::raw_string_ostream os(text);
  llvmModule->print(os, nullptr);
  return text;
}

/// The optimized module compiled to an object and linked into a shared
/// object (bytes); `info`'s libraries set. Safe on any thread.
static llvm::Expected<std::vector<char>> emitAndLink(Lowered &lowered,
                                                     CPUTargetInfo *info) {
  llvm::TargetMachine &tm = *lowered.machine;

  // Object file, in memory.
  llvm::SmallVector<char, 0> object;
  {
    llvm::raw_svector_ostream os(object);
    llvm::legacy::PassManager pm;
    if (tm.addPassesToEmitFile(pm, os, nullptr,
                               llvm::CodeGenFileType::ObjectFile))
      return llvm::createStringError("the target cannot emit object files");
    pm.run(*lowered.module);
  }

  // Link: cc -shared (libm for the math calls the intrinsics become).
  llvm::SmallString<128> objectPath, soPath;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("qnext-code", "o", objectPath))
    return llvm::createStringError("temporary object file: " + ec.message());
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("qnext-code", "so", soPath))
    return llvm::createStringError("temporary shared object: " + ec.message());
  llvm::scope_exit cleanup([&] {
    llvm::sys::fs::remove(objectPath);
    llvm::sys::fs::remove(soPath);
  });
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objectPath, ec);
    if (ec)
      return llvm::createStringError(objectPath.str().str() + ": " + ec.message());
    os.write(object.data(), object.size());
    os.close();
    if (os.has_error()) { // a full temporary folder: an error, not LLVM's abort
      std::error_code error = os.error();
      os.clear_error();
      return llvm::createStringError(objectPath.str().str() + ": " + error.message());
    }
  }
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc)
    return llvm::createStringError(
        "no C compiler driver ('cc') on PATH to link the shared object");
  std::string message;
  bool openmp = usesOpenMP(*lowered.module);
  if (info && openmp)
    info->libraries = {"libomp.so.5"};
  std::string ompDir = "-L" QNEXT_LLVM_LIBRARY_DIR;
  llvm::SmallVector<llvm::StringRef> argv = {
      *cc, "-shared", "-o", soPath, objectPath, "-Wl,--build-id=none", "-lm"};
  if (openmp) {
    argv.push_back(ompDir);
    argv.push_back("-lomp");
  }
  if (llvm::sys::ExecuteAndWait(*cc, argv, std::nullopt, {}, 0, 0, &message) != 0)
    return llvm::createStringError("linking the shared object failed: " +
                                   (message.empty() ? *cc : message));
  auto buffer = llvm::MemoryBuffer::getFile(soPath, /*IsText=*/false);
  if (!buffer)
    return llvm::createStringError(soPath.str().str() + ": " +
                                   buffer.getError().message());
  return std::vector<char>((*buffer)->getBufferStart(),
                           (*buffer)->getBufferEnd());
}

llvm::Expected<std::vector<char>>
mlir::qnext::emitSharedObject(ModuleOp module, const CPUTargetOptions &options,
                              CPUTargetInfo *info) {
  auto lowered = lower(module, options, info);
  if (!lowered)
    return lowered.takeError();
  return emitAndLink(*lowered, info);
}

llvm::Expected<std::vector<std::vector<char>>>
mlir::qnext::emitSharedObjects(llvm::ArrayRef<ModuleOp> modules,
                               llvm::ArrayRef<CPUTargetOptions> options,
                               llvm::MutableArrayRef<CPUTargetInfo> infos,
                               const CodeCache *cache,
                               llvm::function_ref<void(const llvm::Twine &)> warn,
                               size_t *fromCache) {
  // Translation reads the MLIR context: one module after another. LLVM's
  // optimization and code generation then run on as many threads as there
  // are cores, each module in its own LLVM context; a module whose code the
  // cache holds skips both.
  std::vector<Lowered> lowered;
  std::vector<std::vector<char>> objects(modules.size());
  std::vector<std::string> keys(modules.size());
  std::vector<size_t> toCompile;
  if (fromCache)
    *fromCache = 0;
  for (size_t i = 0; i < modules.size(); ++i) {
    auto one = translateOnly(modules[i], options[i], &infos[i]);
    if (!one)
      return one.takeError();
    lowered.push_back(std::move(*one));
    if (cache && warn) {
      keys[i] = CodeCache::key(*lowered.back().module, options[i], infos[i]);
      auto entry = cache->lookup(keys[i]);
      if (!entry) {
        warn(llvm::toString(entry.takeError()) + "; compiling it again");
      } else if (*entry) {
        objects[i] = std::move((*entry)->object);
        infos[i].libraries = std::move((*entry)->libraries);
        if (fromCache)
          ++*fromCache;
        continue;
      }
    }
    toCompile.push_back(i);
  }
  std::vector<std::string> errors(modules.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t n; (n = next++) < toCompile.size();) {
      size_t i = toCompile[n];
      llvm::Error e = optimize(lowered[i]);
      if (!e) {
        auto object = emitAndLink(lowered[i], &infos[i]);
        if (object)
          objects[i] = std::move(*object);
        else
          e = object.takeError();
      }
      if (e)
        errors[i] = llvm::toString(std::move(e));
    }
  };
  size_t threads = std::min<size_t>(toCompile.size(),
                                    std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &t : pool)
    t.join();
  for (const std::string &error : errors)
    if (!error.empty())
      return llvm::createStringError(error);
  if (cache && warn)
    for (size_t i : toCompile)
      if (llvm::Error e = cache->store(keys[i], {objects[i], infos[i].libraries})) {
        warn(llvm::toString(std::move(e)) + "; the code cache keeps nothing of this compile");
        break;
      }
  return objects;
}

llvm::Expected<CPUTargetInfo>
mlir::qnext::describeTarget(const CPUTargetOptions &options) {
  CPUTargetInfo info;
  auto tm = createTargetMachine(options, &info);
  if (!tm)
    return tm.takeError();
  return info;
}

/// Whether the target CPU of `options` has every feature of one of
/// `alternatives` (LLVM's feature strings, e.g. "+avx512vnni,+avx512bw");
/// false when its target machine cannot be made.
static bool targetHasAny(const CPUTargetOptions &options,
                         llvm::ArrayRef<llvm::StringRef> alternatives) {
  auto tm = createTargetMachine(options, nullptr);
  if (!tm) {
    llvm::consumeError(tm.takeError());
    return false;
  }
  const llvm::MCSubtargetInfo *sti = (*tm)->getMCSubtargetInfo();
  return sti && llvm::any_of(alternatives, [&](llvm::StringRef features) {
           return sti->checkFeatures(features);
         });
}

int64_t mlir::qnext::preferredVectorWidth(const CPUTargetOptions &options) {
  return targetHasAny(options, {"+avx512f"}) ? 16 : 8;
}

mlir::qnext::ByteDot mlir::qnext::byteDotOf(const CPUTargetOptions &options,
                                            int64_t vectorWidth) {
  if (vectorWidth == 16) {
    if (targetHasAny(options, {"+avx512vnni,+avx512bw"}))
      return ByteDot::VNNI;
    return targetHasAny(options, {"+avx512bw"}) ? ByteDot::Pairs : ByteDot::None;
  }
  if (vectorWidth != 8)
    return ByteDot::None;
  if (targetHasAny(options, {"+avxvnni", "+avx512vnni,+avx512vl"}))
    return ByteDot::VNNI;
  return targetHasAny(options, {"+avx2"}) ? ByteDot::Pairs : ByteDot::None;
}

bool mlir::qnext::hasBF16Dot(const CPUTargetOptions &options, int64_t vectorWidth) {
  if (vectorWidth == 16)
    return targetHasAny(options, {"+avx512bf16"});
  return vectorWidth == 8 && targetHasAny(options, {"+avx512bf16,+avx512vl"});
}

bool mlir::qnext::hasAMXBF16(const CPUTargetOptions &options) {
  return targetHasAny(options, {"+amx-tile,+amx-bf16,+avx512f"});
}

llvm::Error mlir::qnext::checkCPUName(llvm::StringRef cpu) {
  if (cpu == "host")
    return llvm::Error::success();
  // Every CPU name LLVM knows for this machine's triple.
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  auto target = nativeTarget(triple);
  if (!target)
    return target.takeError();
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      (*target)->createMCSubtargetInfo(triple, "", ""));
  if (!sti || sti->isCPUStringValid(cpu))
    return llvm::Error::success();
  llvm::StringRef best;
  unsigned bestDistance = ~0u;
  for (const llvm::SubtargetSubTypeKV &p : sti->getAllProcessorDescriptions()) {
    unsigned d = cpu.edit_distance(p.Key, /*AllowReplacements=*/true);
    if (d < bestDistance) {
      bestDistance = d;
      best = p.Key;
    }
  }
  std::string hint = bestDistance <= std::max<size_t>(2, cpu.size() / 3)
                         ? "; did you mean '" + best.str() + "'?"
                         : "";
  return llvm::createStringError(
      "unknown --cpu '" + cpu.str() + "'" + hint +
      " (host, x86-64-v2/v3/v4, or a CPU name LLVM knows, e.g. znver4, "
      "sapphirerapids)");
}

llvm::Expected<std::string>
mlir::qnext::instructionSetFeatures(const llvm::MCSubtargetInfo &sti) {
  // Tuning features: what LLVM's processors list as theirs to tune for.
  llvm::ArrayRef<llvm::SubtargetFeatureKV> all = sti.getAllProcessorFeatures();
  llvm::FeatureBitset tuning;
  for (const llvm::SubtargetSubTypeKV &p : sti.getAllProcessorDescriptions())
    tuning |= p.TuneImplies.getAsBitset();
  std::string features;
  const llvm::FeatureBitset &enabled = sti.getFeatureBits();
  for (const llvm::SubtargetFeatureKV &f : all) {
    if (!enabled.test(f.Value))
      continue;
    llvm::StringRef name = f.Key;
    if (::qnext::cpu::findFeature(name)) {
      features += (features.empty() ? "+" : ",+") + name.str();
      continue;
    }
    if (::qnext::cpu::isCodeGenPreference(name) || tuning.test(f.Value))
      continue;
    return llvm::createStringError(
        "LLVM enables CPU feature '" + name.str() + "' for '" +
        sti.getCPU().str() +
        "', which qnext's runtime cannot check before running the code "
        "(runtime/lib/CPUFeatures.cpp lists the ones it can)");
  }
  return features;
}

std::string mlir::qnext::hostFeatures() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  // What the runtime checks, decided from CPUID exactly as it decides it:
  // a feature LLVM does not detect but the CPU name implies (ermsb, fsrm,
  // ...) is turned off where this CPU, or the VM, does not report it. The
  // features QNEXT_HIDE_CPU_FEATURES names are off too, so that one variable
  // makes compiler and runtime behave as on an older CPU.
  const ::qnext::cpu::FeatureSet &cpuid = ::qnext::cpu::FeatureSet::host();
  for (const ::qnext::cpu::Feature &f : ::qnext::cpu::instructionSetFeatures())
    features[f.name] = cpuid.has(f.name);
  std::string text;
  for (const auto &[feature, enabled] : features)
    text += (text.empty() ? "" : ",") + std::string(enabled ? "+" : "-") +
            feature.str();
  return text;
}

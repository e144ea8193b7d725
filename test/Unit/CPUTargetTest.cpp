//===- CPUTargetTest.cpp - what the compiler records for the CPU check ----===//
//
// The artifact's manifest lists the instruction sets its code may use
// (mlir::qnext::instructionSetFeatures) and the runtime checks each against
// CPUID (qnext/CPUFeatures.h). These tests hold the two sides to LLVM's own
// tables: every feature LLVM's x86-64 target knows is either one the runtime
// checks or one that selects no instructions, every CPU LLVM knows yields a
// list the runtime can check, and on this machine the runtime's reading of
// CPUID agrees with LLVM's.
//
//===----------------------------------------------------------------------===//

#include "qnext/CPUFeatures.h"
#include "qnext/Target/CPUObject.h"

#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <gtest/gtest.h>

#include <set>

namespace {

std::unique_ptr<llvm::MCSubtargetInfo> subtarget(llvm::StringRef cpu,
                                                 llvm::StringRef features = "") {
  llvm::InitializeNativeTarget();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  EXPECT_NE(target, nullptr) << error;
  if (!target)
    return nullptr;
  return std::unique_ptr<llvm::MCSubtargetInfo>(
      target->createMCSubtargetInfo(triple, cpu, features));
}

std::set<std::string> split(llvm::StringRef list) {
  llvm::SmallVector<llvm::StringRef> items;
  list.split(items, ',', -1, false);
  std::set<std::string> out;
  for (llvm::StringRef item : items)
    out.insert(item.drop_front(item.starts_with("+")).str());
  return out;
}

TEST(CPUTarget, EveryLLVMFeatureIsClassified) {
  auto sti = subtarget("x86-64");
  ASSERT_TRUE(sti);
  llvm::FeatureBitset tuning;
  for (const llvm::SubtargetSubTypeKV &p : sti->getAllProcessorDescriptions())
    tuning |= p.TuneImplies.getAsBitset();
  std::set<std::string> llvmNames;
  for (const llvm::SubtargetFeatureKV &f : sti->getAllProcessorFeatures()) {
    llvmNames.insert(f.Key);
    int classes = (qnext::cpu::findFeature(f.Key) != nullptr) +
                  qnext::cpu::isCodeGenPreference(f.Key) + tuning.test(f.Value);
    EXPECT_EQ(classes, 1)
        << "LLVM feature '" << f.Key << "' (" << f.Desc << ") is "
        << (classes ? "in more than one class" : "unclassified")
        << ": an instruction set goes in runtime/lib/CPUFeatures.cpp's "
           "CPUID table, anything else in its preferences";
  }
  // And no name in the table is stale (the runtime would check a feature
  // the compiler can never record).
  for (const qnext::cpu::Feature &f : qnext::cpu::instructionSetFeatures())
    EXPECT_TRUE(llvmNames.count(f.name)) << f.name << " is no LLVM feature";
}

TEST(CPUTarget, EveryLLVMCPUGivesCheckableFeatures) {
  auto generic = subtarget("x86-64");
  ASSERT_TRUE(generic);
  int cpus = 0;
  for (const llvm::SubtargetSubTypeKV &p : generic->getAllProcessorDescriptions()) {
    auto sti = subtarget(p.Key);
    ASSERT_TRUE(sti);
    auto features = mlir::qnext::instructionSetFeatures(*sti);
    ASSERT_TRUE(bool(features)) << p.Key << ": " << toString(features.takeError());
    qnext::cpu::FeatureSet none;
    qnext::cpu::Verdict v = qnext::cpu::check(*features, none);
    EXPECT_TRUE(v.unknown.empty()) << p.Key << ": " << v.describe();
    ++cpus;
  }
  EXPECT_GT(cpus, 50);
}

TEST(CPUTarget, NamedLevelsRecordWhatTheyImply) {
  auto v3 = subtarget("x86-64-v3");
  auto v4 = subtarget("x86-64-v4");
  auto spr = subtarget("sapphirerapids");
  std::set<std::string> f3 = split(*mlir::qnext::instructionSetFeatures(*v3));
  std::set<std::string> f4 = split(*mlir::qnext::instructionSetFeatures(*v4));
  std::set<std::string> fs = split(*mlir::qnext::instructionSetFeatures(*spr));
  for (const char *name : {"avx2", "fma", "bmi2", "f16c", "sse4.2", "movbe"}) {
    EXPECT_TRUE(f3.count(name)) << name;
    EXPECT_TRUE(f4.count(name)) << name;
  }
  EXPECT_FALSE(f3.count("avx512f"));
  for (const char *name : {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"})
    EXPECT_TRUE(f4.count(name)) << name;
  EXPECT_FALSE(f4.count("avx512bf16"));
  for (const char *name : {"avx512bf16", "amx-tile", "amx-bf16", "avx512fp16"})
    EXPECT_TRUE(fs.count(name)) << name;
  // No tuning feature is recorded.
  for (const std::set<std::string> *set : {&f3, &f4, &fs})
    for (const std::string &name : *set)
      EXPECT_NE(qnext::cpu::findFeature(name), nullptr) << name;
  // A feature turned off explicitly is not recorded either.
  auto less = subtarget("x86-64-v4", "-avx512bw");
  EXPECT_FALSE(split(*mlir::qnext::instructionSetFeatures(*less)).count("avx512bw"));
}

TEST(CPUTarget, RuntimeReadsCPUIDAsLLVMDoes) {
  // On whatever machine runs this: each feature LLVM detects on the host,
  // the runtime detects the same way (same leaf, bit and OS state).
  const qnext::cpu::FeatureSet host =
      qnext::cpu::FeatureSet::detect(qnext::cpu::hostCPUID());
  int compared = 0;
  for (const auto &[name, enabled] : llvm::sys::getHostCPUFeatures()) {
    if (!qnext::cpu::findFeature(name.str()))
      continue; // features older LLVMs knew (avx512er, ...) and tuning
    EXPECT_EQ(host.has(name.str()), enabled) << name.str();
    ++compared;
  }
  EXPECT_GT(compared, 60);
}

TEST(CPUTarget, HostArtifactRunsHere) {
  // --cpu=host records exactly what this machine has: the runtime's check
  // accepts it (a CPU name's implied features the VM hides are turned off).
  auto host = subtarget(llvm::sys::getHostCPUName(), mlir::qnext::hostFeatures());
  ASSERT_TRUE(host);
  auto recorded = mlir::qnext::instructionSetFeatures(*host);
  ASSERT_TRUE(bool(recorded)) << toString(recorded.takeError());
  const qnext::cpu::FeatureSet &cpuid = qnext::cpu::FeatureSet::host();
  qnext::cpu::Verdict v = qnext::cpu::check(*recorded, cpuid);
  EXPECT_TRUE(v.ok()) << llvm::sys::getHostCPUName().str() << ": " << v.describe();
  // And nothing this CPU has is left out: the record is exactly CPUID's set.
  std::set<std::string> has(cpuid.names().begin(), cpuid.names().end());
  EXPECT_EQ(split(*recorded), has) << llvm::sys::getHostCPUName().str();
}

TEST(CPUTarget, CPUNamesAreChecked) {
  EXPECT_FALSE(bool(mlir::qnext::checkCPUName("host")));
  EXPECT_FALSE(bool(mlir::qnext::checkCPUName("x86-64-v3")));
  EXPECT_FALSE(bool(mlir::qnext::checkCPUName("znver4")));
  llvm::Error e = mlir::qnext::checkCPUName("sapphirerapid");
  ASSERT_TRUE(bool(e));
  EXPECT_NE(toString(std::move(e)).find("did you mean 'sapphirerapids'"),
            std::string::npos);
  llvm::Error far = mlir::qnext::checkCPUName("nonsense");
  ASSERT_TRUE(bool(far));
  EXPECT_NE(toString(std::move(far)).find("unknown --cpu 'nonsense'"), std::string::npos);
}

} // namespace

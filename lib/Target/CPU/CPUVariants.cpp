//===- CPUVariants.cpp - the CPUs one artifact carries code for -----------===//

#include "qnext/Target/CPUVariants.h"

#include "qnext/CPUFeatures.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qnext;

namespace {
/// Whether LLVM's X86 target has a feature named `name`.
bool isLLVMFeature(llvm::StringRef name) {
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return false;
  std::unique_ptr<llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, "", ""));
  return sti && llvm::any_of(sti->getAllProcessorFeatures(),
                             [&](const llvm::SubtargetFeatureKV &f) { return f.Key == name; });
}

/// One entry of --cpu: "NAME" or "NAME+FEATURE+...".
llvm::Expected<CPUVariant> parseEntry(llvm::StringRef entry) {
  CPUVariant variant;
  variant.name = entry.str();
  llvm::SmallVector<llvm::StringRef> parts;
  entry.split(parts, '+');
  llvm::StringRef cpu = parts.front();
  if (cpu.empty())
    return llvm::createStringError("--cpu '" + entry.str() + "': no CPU name before '+'");
  if (llvm::Error e = checkCPUName(cpu))
    return std::move(e);
  if (cpu == "host" && parts.size() > 1)
    return llvm::createStringError("--cpu '" + entry.str() +
                                   "': host has what this machine has; add "
                                   "features to a CPU name (x86-64-v4+amx)");
  variant.target.cpu = cpu.str();
  std::vector<std::string> added;
  for (llvm::StringRef feature : llvm::drop_begin(parts)) {
    if (feature == "amx") {
      llvm::SmallVector<llvm::StringRef> amx;
      llvm::StringRef(kAMXShorthand).split(amx, ',');
      for (llvm::StringRef f : amx)
        added.push_back(f.str());
      continue;
    }
    if (feature.empty() || !isLLVMFeature(feature) || !::qnext::cpu::findFeature(feature))
      return llvm::createStringError(
          "--cpu '" + entry.str() + "': '" + feature.str() +
          "' is not an instruction set qnext checks (LLVM's spelling: avx512bf16, "
          "amx-tile, ...; or amx for " + kAMXShorthand + ")");
    added.push_back("+" + feature.str());
  }
  variant.target.features = llvm::join(added, ",");
  auto info = describeTarget(variant.target);
  if (!info)
    return info.takeError();
  variant.info = *info;
  return variant;
}

size_t featureCount(const CPUVariant &v) {
  return llvm::count(v.info.features, ',') + !v.info.features.empty();
}
} // namespace

llvm::Expected<std::vector<CPUVariant>>
mlir::qnext::parseCPUVariants(llvm::StringRef spec) {
  if (spec == "portable")
    spec = kPortableCPUs;
  llvm::SmallVector<llvm::StringRef> entries;
  spec.split(entries, ',');
  std::vector<CPUVariant> variants;
  for (llvm::StringRef entry : entries) {
    if (entry.empty())
      return llvm::createStringError("--cpu '" + spec.str() + "': an empty entry in the list");
    if (entry == "portable" && entries.size() > 1)
      return llvm::createStringError("--cpu '" + spec.str() +
                                     "': portable is a list of its own (" +
                                     kPortableCPUs + ")");
    auto variant = parseEntry(entry);
    if (!variant)
      return variant.takeError();
    for (const CPUVariant &other : variants)
      if (other.info.features == variant->info.features)
        return llvm::createStringError("--cpu '" + spec.str() + "': " + other.name + " and " +
                                       variant->name +
                                       " use the same instruction sets (one code "
                                       "would never run)");
    variants.push_back(std::move(*variant));
  }
  if (variants.size() > 8)
    return llvm::createStringError("--cpu '" + spec.str() + "': at most 8 CPUs");
  std::stable_sort(variants.begin(), variants.end(),
                   [](const CPUVariant &a, const CPUVariant &b) {
                     return featureCount(a) > featureCount(b);
                   });
  return variants;
}

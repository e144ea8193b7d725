//===- CPUFeatures.cpp - x86-64 features from CPUID -----------------------===//

#include "qnext/CPUFeatures.h"

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <sstream>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

using namespace qnext::cpu;

namespace {

constexpr uint8_t EAX = 0, EBX = 1, ECX = 2, EDX = 3;
/// `reg` of a feature every x86-64 CPU has and no CPUID bit reports.
constexpr uint8_t Baseline = 4;
constexpr uint32_t Ext1 = 0x80000001, Ext8 = 0x80000008;

// The bits as the Intel SDM (vol. 2A, CPUID) and AMD's APM (vol. 3, E.3)
// document them; LLVM's own host detection (llvm::sys::getHostCPUFeatures)
// reads the same ones, and a unit test compares the two on whatever machine
// runs it.
const std::vector<Feature> table = {
    // Leaf 1.
    {"x87", 1, 0, EDX, 0, State::None, 0},
    {"cx8", 1, 0, EDX, 8, State::None, 0},
    {"cmov", 1, 0, EDX, 15, State::None, 0},
    {"mmx", 1, 0, EDX, 23, State::None, 0},
    {"fxsr", 1, 0, EDX, 24, State::None, 0},
    {"sse", 1, 0, EDX, 25, State::None, 0},
    {"sse2", 1, 0, EDX, 26, State::None, 0},
    {"sse3", 1, 0, ECX, 0, State::None, 0},
    {"pclmul", 1, 0, ECX, 1, State::None, 0},
    {"ssse3", 1, 0, ECX, 9, State::None, 0},
    {"fma", 1, 0, ECX, 12, State::AVX, 0},
    {"cx16", 1, 0, ECX, 13, State::None, 0},
    {"sse4.1", 1, 0, ECX, 19, State::None, 0},
    {"sse4.2", 1, 0, ECX, 20, State::None, 0},
    {"crc32", 1, 0, ECX, 20, State::None, 0},
    {"movbe", 1, 0, ECX, 22, State::None, 0},
    {"popcnt", 1, 0, ECX, 23, State::None, 0},
    {"aes", 1, 0, ECX, 25, State::None, 0},
    {"xsave", 1, 0, ECX, 26, State::AVX, 0},
    {"avx", 1, 0, ECX, 28, State::AVX, 0},
    {"f16c", 1, 0, ECX, 29, State::AVX, 0},
    {"rdrnd", 1, 0, ECX, 30, State::None, 0},
    // Leaf 7, subleaf 0.
    {"fsgsbase", 7, 0, EBX, 0, State::None, 0},
    {"sgx", 7, 0, EBX, 2, State::None, 0},
    {"bmi", 7, 0, EBX, 3, State::None, 0},
    {"avx2", 7, 0, EBX, 5, State::AVX, 0},
    {"bmi2", 7, 0, EBX, 8, State::None, 0},
    {"ermsb", 7, 0, EBX, 9, State::None, 0},
    {"invpcid", 7, 0, EBX, 10, State::None, 0},
    {"rtm", 7, 0, EBX, 11, State::None, 0},
    {"avx512f", 7, 0, EBX, 16, State::AVX512, 0},
    {"evex512", 7, 0, EBX, 16, State::AVX512, 0},
    {"avx512dq", 7, 0, EBX, 17, State::AVX512, 0},
    {"rdseed", 7, 0, EBX, 18, State::None, 0},
    {"adx", 7, 0, EBX, 19, State::None, 0},
    {"avx512ifma", 7, 0, EBX, 21, State::AVX512, 0},
    {"clflushopt", 7, 0, EBX, 23, State::None, 0},
    {"clwb", 7, 0, EBX, 24, State::None, 0},
    {"avx512cd", 7, 0, EBX, 28, State::AVX512, 0},
    {"sha", 7, 0, EBX, 29, State::None, 0},
    {"avx512bw", 7, 0, EBX, 30, State::AVX512, 0},
    {"avx512vl", 7, 0, EBX, 31, State::AVX512, 0},
    {"avx512vbmi", 7, 0, ECX, 1, State::AVX512, 0},
    {"pku", 7, 0, ECX, 4, State::None, 0},
    {"waitpkg", 7, 0, ECX, 5, State::None, 0},
    {"avx512vbmi2", 7, 0, ECX, 6, State::AVX512, 0},
    {"shstk", 7, 0, ECX, 7, State::None, 0},
    {"gfni", 7, 0, ECX, 8, State::None, 0},
    {"vaes", 7, 0, ECX, 9, State::AVX, 0},
    {"vpclmulqdq", 7, 0, ECX, 10, State::AVX, 0},
    {"avx512vnni", 7, 0, ECX, 11, State::AVX512, 0},
    {"avx512bitalg", 7, 0, ECX, 12, State::AVX512, 0},
    {"avx512vpopcntdq", 7, 0, ECX, 14, State::AVX512, 0},
    {"rdpid", 7, 0, ECX, 22, State::None, 0},
    {"kl", 7, 0, ECX, 23, State::None, 0},
    {"cldemote", 7, 0, ECX, 25, State::None, 0},
    {"movdiri", 7, 0, ECX, 27, State::None, 0},
    {"movdir64b", 7, 0, ECX, 28, State::None, 0},
    {"enqcmd", 7, 0, ECX, 29, State::None, 0},
    {"fsrm", 7, 0, EDX, 4, State::None, 0},
    {"uintr", 7, 0, EDX, 5, State::None, 0},
    {"avx512vp2intersect", 7, 0, EDX, 8, State::AVX512, 0},
    {"serialize", 7, 0, EDX, 14, State::None, 0},
    {"tsxldtrk", 7, 0, EDX, 16, State::None, 0},
    {"pconfig", 7, 0, EDX, 18, State::None, 0},
    {"amx-bf16", 7, 0, EDX, 22, State::AMX, 0},
    {"avx512fp16", 7, 0, EDX, 23, State::AVX512, 0},
    {"amx-tile", 7, 0, EDX, 24, State::AMX, 0},
    {"amx-int8", 7, 0, EDX, 25, State::AMX, 0},
    // Leaf 7, subleaf 1.
    {"sha512", 7, 1, EAX, 0, State::AVX, 0},
    {"sm3", 7, 1, EAX, 1, State::AVX, 0},
    {"sm4", 7, 1, EAX, 2, State::AVX, 0},
    {"raoint", 7, 1, EAX, 3, State::None, 0},
    {"avxvnni", 7, 1, EAX, 4, State::AVX, 0},
    {"avx512bf16", 7, 1, EAX, 5, State::AVX512, 0},
    {"cmpccxadd", 7, 1, EAX, 7, State::None, 0},
    {"amx-fp16", 7, 1, EAX, 21, State::AMX, 0},
    {"hreset", 7, 1, EAX, 22, State::None, 0},
    {"avxifma", 7, 1, EAX, 23, State::AVX, 0},
    {"movrs", 7, 1, EAX, 31, State::None, 0},
    {"avxvnniint8", 7, 1, EDX, 4, State::AVX, 0},
    {"avxneconvert", 7, 1, EDX, 5, State::AVX, 0},
    {"amx-complex", 7, 1, EDX, 8, State::AMX, 0},
    {"avxvnniint16", 7, 1, EDX, 10, State::AVX, 0},
    {"prefetchi", 7, 1, EDX, 14, State::None, 0},
    {"usermsr", 7, 1, EDX, 15, State::None, 0},
    {"avx10.1", 7, 1, EDX, 19, State::AVX512, 1},
    {"avx10.1-512", 7, 1, EDX, 19, State::AVX512, 1},
    {"avx10.2", 7, 1, EDX, 19, State::AVX512, 2},
    {"avx10.2-512", 7, 1, EDX, 19, State::AVX512, 2},
    // APX: one CPUID bit, several LLVM features.
    {"egpr", 7, 1, EDX, 21, State::APX, 0},
    {"push2pop2", 7, 1, EDX, 21, State::APX, 0},
    {"ppx", 7, 1, EDX, 21, State::APX, 0},
    {"ndd", 7, 1, EDX, 21, State::APX, 0},
    {"ccmp", 7, 1, EDX, 21, State::APX, 0},
    {"nf", 7, 1, EDX, 21, State::APX, 0},
    {"cf", 7, 1, EDX, 21, State::APX, 0},
    {"zu", 7, 1, EDX, 21, State::APX, 0},
    // XSAVE variants (leaf 0xD, subleaf 1).
    {"xsaveopt", 0xd, 1, EAX, 0, State::AVX, 0},
    {"xsavec", 0xd, 1, EAX, 1, State::AVX, 0},
    {"xsaves", 0xd, 1, EAX, 3, State::AVX, 0},
    {"ptwrite", 0x14, 0, EBX, 4, State::None, 0},
    {"widekl", 0x19, 0, EBX, 2, State::None, 0},
    // AMX extensions (leaf 0x1E, subleaf 1).
    {"amx-fp8", 0x1e, 1, EAX, 4, State::AMX, 0},
    {"amx-tf32", 0x1e, 1, EAX, 6, State::AMX, 0},
    {"amx-avx512", 0x1e, 1, EAX, 7, State::AMX, 0},
    {"amx-movrs", 0x1e, 1, EAX, 8, State::AMX, 0},
    // Extended leaves.
    {"sahf", Ext1, 0, ECX, 0, State::None, 0},
    {"lzcnt", Ext1, 0, ECX, 5, State::None, 0},
    {"sse4a", Ext1, 0, ECX, 6, State::None, 0},
    {"sse-unaligned-mem", Ext1, 0, ECX, 7, State::None, 0},
    {"prfchw", Ext1, 0, ECX, 8, State::None, 0},
    {"xop", Ext1, 0, ECX, 11, State::AVX, 0},
    {"lwp", Ext1, 0, ECX, 15, State::None, 0},
    {"fma4", Ext1, 0, ECX, 16, State::AVX, 0},
    {"tbm", Ext1, 0, ECX, 21, State::None, 0},
    {"mwaitx", Ext1, 0, ECX, 29, State::None, 0},
    {"64bit", Ext1, 0, EDX, 29, State::None, 0},
    {"clzero", Ext8, 0, EBX, 0, State::None, 0},
    {"rdpru", Ext8, 0, EBX, 4, State::None, 0},
    {"wbnoinvd", Ext8, 0, EBX, 9, State::None, 0},
    // Multi-byte NOPs (0F 1F): every x86-64 CPU; CPUID has no bit for them.
    {"nopl", 0, 0, Baseline, 0, State::None, 0},
};

/// LLVM features that are no instruction set (see isCodeGenPreference).
const char *const preferences[] = {
    // Processor modes: the triple's, not the CPU's.
    "16bit-mode", "32bit-mode", "64bit-mode", "x32",
    // Security hardening: which instruction sequences to emit.
    "harden-sls-ijmp", "harden-sls-ret", "lvi-cfi", "lvi-load-hardening",
    "retpoline", "retpoline-external-thunk", "retpoline-indirect-branches",
    "retpoline-indirect-calls", "seses",
    // ABI and code-generation choices.
    "soft-float", "tagged-globals", "inline-asm-use-gpr32", "prefer-128-bit",
    "prefer-legacy-setcc", "prefer-no-gather", "prefer-no-scatter"};

bool stateEnabled(State state, uint64_t xcr0) {
  auto all = [&](uint64_t bits) { return (xcr0 & bits) == bits; };
  switch (state) {
  case State::None:
    return true;
  case State::AVX:
    return all(0x6);
  case State::AVX512:
    return all(0x6 | 0xe0);
  case State::AMX:
    return all((1u << 17) | (1u << 18));
  case State::APX:
    return all(1u << 19);
  }
  return false;
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> items;
  std::string item;
  std::stringstream in{std::string(text)};
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty())
      items.push_back(item);
  }
  return items;
}

} // namespace

const std::vector<Feature> &qnext::cpu::instructionSetFeatures() { return table; }

const Feature *qnext::cpu::findFeature(std::string_view name) {
  for (const Feature &f : table)
    if (name == f.name)
      return &f;
  return nullptr;
}

bool qnext::cpu::isCodeGenPreference(std::string_view name) {
  for (const char *p : preferences)
    if (name == p)
      return true;
  return false;
}

CPUID qnext::cpu::hostCPUID() {
  CPUID id;
#if defined(__x86_64__)
  id.query = [](uint32_t leaf, uint32_t subleaf) {
    Registers r{};
    __cpuid_count(leaf, subleaf, r[0], r[1], r[2], r[3]);
    return r;
  };
  Registers one = id.query(1, 0);
  if ((one[ECX] >> 27) & 1) { // OSXSAVE: XGETBV is allowed
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    id.xcr0 = (uint64_t(hi) << 32) | lo;
  }
#else
  id.query = [](uint32_t, uint32_t) { return Registers{}; };
#endif
  return id;
}

FeatureSet FeatureSet::detect(const CPUID &cpuid) {
  FeatureSet set;
  const uint32_t maxBasic = cpuid.query(0, 0)[EAX];
  const uint32_t maxExtended = cpuid.query(0x80000000, 0)[EAX];
  const uint32_t maxLeaf7Subleaf = maxBasic >= 7 ? cpuid.query(7, 0)[EAX] : 0;
  const uint32_t avx10Version =
      maxBasic >= 0x24 ? (cpuid.query(0x24, 0)[EBX] & 0xff) : 0;
  for (const Feature &f : table) {
    bool present;
    if (f.reg == Baseline) {
      present = true;
    } else {
      bool extended = f.leaf >= 0x80000000;
      if (extended ? f.leaf > maxExtended : f.leaf > maxBasic)
        continue;
      if (f.leaf == 7 && f.subleaf > maxLeaf7Subleaf)
        continue;
      present = (cpuid.query(f.leaf, f.subleaf)[f.reg] >> f.bit) & 1;
    }
    if (present && stateEnabled(f.state, cpuid.xcr0) &&
        avx10Version >= f.avx10Version)
      set.present.push_back(f.name);
  }
  return set;
}

const FeatureSet &FeatureSet::host() {
  static const FeatureSet host = [] {
    FeatureSet set = detect(hostCPUID());
    if (const char *hidden = std::getenv("QNEXT_HIDE_CPU_FEATURES"))
      for (const std::string &name : splitList(hidden))
        set.remove(name);
    return set;
  }();
  return host;
}

bool FeatureSet::has(std::string_view name) const {
  return std::find(present.begin(), present.end(), name) != present.end();
}

void FeatureSet::remove(std::string_view name) {
  present.erase(std::remove(present.begin(), present.end(), name), present.end());
}

std::string Verdict::describe() const {
  auto join = [](const std::vector<std::string> &names) {
    std::string out;
    for (const std::string &n : names)
      out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  std::string out;
  if (!missing.empty())
    out = "lacks " + join(missing);
  if (!unknown.empty())
    out += (out.empty() ? "" : "; ") +
           std::string("needs features qnext cannot check: ") + join(unknown);
  return out;
}

Verdict qnext::cpu::check(std::string_view required, const FeatureSet &cpu) {
  Verdict verdict;
  for (std::string name : splitList(required)) {
    if (name[0] == '-')
      continue;
    if (name[0] == '+')
      name.erase(0, 1);
    if (name.empty() || isCodeGenPreference(name))
      continue;
    if (name.rfind("amx-", 0) == 0)
      verdict.usesAMX = true;
    if (!findFeature(name))
      verdict.unknown.push_back(name);
    else if (!cpu.has(name))
      verdict.missing.push_back(name);
  }
  return verdict;
}

bool qnext::cpu::requestAMXPermission(std::string *error) {
#if defined(__linux__) && defined(__x86_64__)
  constexpr int archReqXcompPerm = 0x1023; // ARCH_REQ_XCOMP_PERM
  constexpr int xfeatureXtiledata = 18;    // XFEATURE_XTILEDATA
  if (syscall(SYS_arch_prctl, archReqXcompPerm, xfeatureXtiledata) != 0) {
    if (error)
      *error = std::string("the kernel refused AMX tile state "
                           "(arch_prctl ARCH_REQ_XCOMP_PERM): ") +
               std::strerror(errno);
    return false;
  }
#endif
  return true;
}

//===- CPUFeaturesTest.cpp - the runtime's CPU check on simulated CPUs ----===//
//
// qnext/CPUFeatures.h decides from CPUID registers and XCR0. These tests feed
// it the registers of CPUs this machine is not (AVX2 only, AVX-512 whose OS
// saves no ZMM state, AMX without tile state, AVX10) and check what it
// concludes, and that an artifact's features are refused as they should be.
//
//===----------------------------------------------------------------------===//

#include "qnext/CPUFeatures.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace qnext::cpu;

namespace {

/// A CPU as CPUID would describe it: (leaf, subleaf) -> registers.
class SimulatedCPU {
public:
  SimulatedCPU() {
    set(0, 0, 0, 0x24); // max basic leaf
    set(0x80000000, 0, 0, 0x80000008);
  }
  /// Sets bit `bit` of register `reg` (0 EAX .. 3 EDX) of (leaf, subleaf).
  SimulatedCPU &bit(uint32_t leaf, uint32_t subleaf, int reg, int bit) {
    leaves[{leaf, subleaf}][reg] |= 1u << bit;
    return *this;
  }
  SimulatedCPU &set(uint32_t leaf, uint32_t subleaf, int reg, uint32_t value) {
    leaves[{leaf, subleaf}][reg] = value;
    return *this;
  }
  /// The bit of the named feature from the table (the table is what is
  /// tested elsewhere; here it just names bits).
  SimulatedCPU &with(const char *name) {
    const Feature *f = findFeature(name);
    EXPECT_NE(f, nullptr) << name;
    if (f && f->reg < 4)
      bit(f->leaf, f->subleaf, f->reg, f->bit);
    return *this;
  }
  CPUID cpuid(uint64_t xcr0) const {
    CPUID id;
    auto copy = leaves;
    id.query = [copy](uint32_t leaf, uint32_t subleaf) {
      auto it = copy.find({leaf, subleaf});
      return it == copy.end() ? Registers{} : it->second;
    };
    id.xcr0 = xcr0;
    return id;
  }

private:
  std::map<std::pair<uint32_t, uint32_t>, Registers> leaves;
};

constexpr uint64_t xcr0AVX = 0x7, xcr0AVX512 = 0xe7,
                   xcr0AMX = 0xe7 | (1u << 17) | (1u << 18);

/// An x86-64-v3 (Haswell-class) CPU.
SimulatedCPU avx2CPU() {
  SimulatedCPU cpu;
  for (const char *name :
       {"x87", "cx8", "cmov", "mmx", "fxsr", "sse", "sse2", "sse3", "ssse3",
        "fma", "cx16", "sse4.1", "sse4.2", "movbe", "popcnt", "xsave", "avx",
        "f16c", "bmi", "avx2", "bmi2", "sahf", "lzcnt", "64bit"})
    cpu.with(name);
  return cpu;
}

/// avx2CPU plus AVX-512 F/CD/BW/DQ/VL (x86-64-v4), as a Skylake-X has.
SimulatedCPU avx512CPU() {
  SimulatedCPU cpu = avx2CPU();
  for (const char *name : {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
    cpu.with(name);
  return cpu;
}

const char *v4 = "+64bit,+avx,+avx2,+avx512bw,+avx512cd,+avx512dq,+avx512f,"
                 "+avx512vl,+bmi,+bmi2,+cmov,+crc32,+cx16,+cx8,+f16c,+fma,"
                 "+fxsr,+lzcnt,+mmx,+movbe,+nopl,+popcnt,+sahf,+sse,+sse2,"
                 "+sse3,+sse4.1,+sse4.2,+ssse3,+x87,+xsave";

TEST(CPUFeatures, TableNamesAreUniqueAndBitsInRange) {
  std::set<std::string> names;
  for (const Feature &f : instructionSetFeatures()) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name << " twice";
    EXPECT_LE(f.reg, 4) << f.name;
    EXPECT_LT(f.bit, 32) << f.name;
    EXPECT_FALSE(isCodeGenPreference(f.name)) << f.name;
  }
}

TEST(CPUFeatures, AVX2OnlyCPURefusesAVX512Code) {
  FeatureSet cpu = FeatureSet::detect(avx2CPU().cpuid(xcr0AVX));
  EXPECT_TRUE(cpu.has("avx2"));
  EXPECT_TRUE(cpu.has("fma"));
  EXPECT_TRUE(cpu.has("nopl")); // every x86-64 CPU
  EXPECT_FALSE(cpu.has("avx512f"));
  Verdict v = check(v4, cpu);
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.missing, (std::vector<std::string>{"avx512bw", "avx512cd", "avx512dq",
                                                 "avx512f", "avx512vl"}));
  EXPECT_TRUE(v.unknown.empty());
  EXPECT_EQ(v.describe(), "lacks avx512bw, avx512cd, avx512dq, avx512f, avx512vl");
}

TEST(CPUFeatures, AVX512CPURunsV4Code) {
  FeatureSet cpu = FeatureSet::detect(avx512CPU().cpuid(xcr0AVX512));
  EXPECT_TRUE(check(v4, cpu).ok()) << check(v4, cpu).describe();
  // A named CPU's extras are still checked one by one.
  Verdict v = check(std::string(v4) + ",+avx512bf16,+avx512vnni", cpu);
  EXPECT_EQ(v.missing, (std::vector<std::string>{"avx512bf16", "avx512vnni"}));
}

TEST(CPUFeatures, OSWithoutZMMStateHasNoAVX512) {
  // The CPU has AVX-512, but XCR0 says the OS saves only XMM/YMM (a VM or
  // kernel that turned it off): no AVX-512, AVX2 still there.
  FeatureSet cpu = FeatureSet::detect(avx512CPU().cpuid(xcr0AVX));
  EXPECT_FALSE(cpu.has("avx512f"));
  EXPECT_FALSE(cpu.has("evex512"));
  EXPECT_TRUE(cpu.has("avx2"));
  // And without OSXSAVE at all (XCR0 reads 0), no AVX of any width.
  FeatureSet bare = FeatureSet::detect(avx512CPU().cpuid(0));
  EXPECT_FALSE(bare.has("avx"));
  EXPECT_FALSE(bare.has("fma"));
  EXPECT_TRUE(bare.has("sse4.2"));
}

TEST(CPUFeatures, AMXNeedsTileState) {
  SimulatedCPU cpu = avx512CPU();
  cpu.with("amx-tile").with("amx-bf16").with("amx-int8");
  cpu.set(7, 0, 0, 1); // leaf 7 has subleaf 1
  EXPECT_FALSE(FeatureSet::detect(cpu.cpuid(xcr0AVX512)).has("amx-tile"));
  FeatureSet amx = FeatureSet::detect(cpu.cpuid(xcr0AMX));
  EXPECT_TRUE(amx.has("amx-tile"));
  EXPECT_TRUE(amx.has("amx-bf16"));
  Verdict v = check("+amx-tile,+amx-bf16", amx);
  EXPECT_TRUE(v.ok());
  EXPECT_TRUE(v.usesAMX);
  EXPECT_FALSE(check(v4, amx).usesAMX);
}

TEST(CPUFeatures, Leaf7Subleaf1OnlyWhereReported) {
  // avx512bf16 is in leaf 7 subleaf 1; a CPU whose leaf 7 reports no
  // subleaf 1 (EAX = 0) does not have it, whatever that subleaf reads.
  SimulatedCPU cpu = avx512CPU();
  cpu.with("avx512bf16");
  EXPECT_FALSE(FeatureSet::detect(cpu.cpuid(xcr0AVX512)).has("avx512bf16"));
  cpu.set(7, 0, 0, 1);
  EXPECT_TRUE(FeatureSet::detect(cpu.cpuid(xcr0AVX512)).has("avx512bf16"));
  // A leaf past the CPU's maximum is not read.
  SimulatedCPU old = avx2CPU();
  old.set(0, 0, 0, 6); // no leaf 7: no AVX2, BMI
  FeatureSet oldSet = FeatureSet::detect(old.cpuid(xcr0AVX));
  EXPECT_FALSE(oldSet.has("avx2"));
  EXPECT_FALSE(oldSet.has("bmi2"));
  EXPECT_TRUE(oldSet.has("avx"));
}

TEST(CPUFeatures, AVX10ByVersion) {
  SimulatedCPU cpu = avx512CPU();
  cpu.set(7, 0, 0, 1).with("avx10.1");
  cpu.set(0x24, 0, 1, 1); // version 1
  FeatureSet one = FeatureSet::detect(cpu.cpuid(xcr0AVX512));
  EXPECT_TRUE(one.has("avx10.1"));
  EXPECT_FALSE(one.has("avx10.2"));
  cpu.set(0x24, 0, 1, 2);
  EXPECT_TRUE(FeatureSet::detect(cpu.cpuid(xcr0AVX512)).has("avx10.2"));
}

TEST(CPUFeatures, UnknownFeaturesAreRefusedAndPreferencesIgnored) {
  FeatureSet cpu = FeatureSet::detect(avx512CPU().cpuid(xcr0AVX512));
  Verdict v = check("+avx2,+warp-drive,-avx512f,+retpoline,prefer-no-gather", cpu);
  EXPECT_TRUE(v.missing.empty());
  EXPECT_EQ(v.unknown, std::vector<std::string>{"warp-drive"});
  EXPECT_EQ(v.describe(), "needs features qnext cannot check: warp-drive");
  EXPECT_TRUE(check("", cpu).ok());
}

TEST(CPUFeatures, HideOnlyRemoves) {
  FeatureSet cpu = FeatureSet::detect(avx512CPU().cpuid(xcr0AVX512));
  cpu.remove("avx512f");
  cpu.remove("not-a-feature");
  EXPECT_FALSE(cpu.has("avx512f"));
  EXPECT_TRUE(cpu.has("avx512bw"));
  EXPECT_EQ(check(v4, cpu).describe(), "lacks avx512f");
}

TEST(CPUFeatures, ThisMachineRunsItsBaseline) {
  // Whatever the machine, it is x86-64: the v1 baseline is there.
  const FeatureSet &host = FeatureSet::host();
  for (const char *name : {"64bit", "cmov", "cx8", "fxsr", "mmx", "sse", "sse2", "x87"})
    EXPECT_TRUE(host.has(name)) << name;
}

} // namespace

//===- qnext-synth.cpp - write random-weight test checkpoints -------------===//
//
// qnext-synth --preset NAME --dtype bf16|f32 --seed N -o DIR: a deterministic
// checkpoint in exact Hugging Face layout (config.json, model.safetensors or
// shards with model.safetensors.index.json). See lib/Model/Synth.cpp.
//
//===----------------------------------------------------------------------===//

#include "qnext/Model/Synth.h"
#include "qnext/Support/ProgressLine.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::OptionCategory category("qnext-synth options");

cl::opt<std::string> preset("preset", cl::desc("Model preset (see below)"),
                            cl::init("tiny"), cl::cat(category));
cl::opt<qnext::DType> dtype(
    "dtype", cl::desc("Weight dtype"),
    cl::values(clEnumValN(qnext::DType::BF16, "bf16", "bfloat16 (default)"),
               clEnumValN(qnext::DType::F32, "f32", "float32")),
    cl::init(qnext::DType::BF16), cl::cat(category));
cl::opt<uint64_t> seed("seed", cl::desc("Random seed (default 0)"),
                       cl::init(0), cl::cat(category));
cl::opt<std::string> output("o", cl::desc("Output checkpoint folder"),
                            cl::value_desc("dir"), cl::Required,
                            cl::cat(category));
cl::opt<unsigned> shards("shards",
                         cl::desc("Number of safetensors files; > 1 also "
                                  "writes model.safetensors.index.json"),
                         cl::init(1), cl::cat(category));
cl::list<std::string> overrides(
    "set", cl::desc("Override a config.json field (text_config's for Qwen3.5 "
                    "presets); VALUE is JSON or a plain string. Repeatable."),
    cl::value_desc("field=value"), cl::cat(category));
cl::opt<bool> mtp("mtp", cl::desc("Also write the mtp.* tensors"),
                  cl::cat(category));
cl::opt<bool> configOnly("config-only",
                         cl::desc("Write config.json alone (no weights)"),
                         cl::cat(category));
cl::opt<bool> force("force",
                    cl::desc("Overwrite an existing checkpoint in the folder"),
                    cl::cat(category));
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  std::string overview =
      "qnext-synth: write a deterministic random-weight Qwen3-Next / Qwen3.5 "
      "checkpoint\n\nPresets:\n";
  for (const qnext::SynthPreset &p : qnext::synthPresets())
    overview += "  " + std::string(p.name) + ": " + p.description + "\n";
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, overview);

  SmallString<256> existing(output);
  sys::path::append(existing, "config.json");
  if (sys::fs::exists(existing) && !force) {
    WithColor::error(errs(), "qnext-synth")
        << existing << " exists; pass --force to overwrite the checkpoint\n";
    return 1;
  }

  qnext::SynthOptions options;
  options.preset = preset;
  options.dtype = dtype;
  options.seed = seed;
  options.shards = shards;
  options.mtp = mtp;
  options.configOnly = configOnly;
  options.overrides.assign(overrides.begin(), overrides.end());

  // A progress line on a terminal, for the multi-GB presets.
  qnext::ProgressLine progress("qnext-synth: writing " + output);
  if (Error e = qnext::writeSynthCheckpoint(output, options, progress)) {
    WithColor::error(errs(), "qnext-synth") << toString(std::move(e)) << "\n";
    return 1;
  }
  return 0;
}

//===- ArtifactWriter.h - write a .qnx model artifact -----------*- C++ -*-===//
//
// One file: a header, a section table, the manifest (JSON), the code (a
// shared object) and the packed weights, each section 4096-byte aligned and
// checksummed (XXH3-64). Format: runtime/include/qnext/ArtifactFormat.h and
// docs/artifact.md. Written under a temporary name and renamed into place;
// the same inputs give the same bytes.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_ARTIFACT_ARTIFACTWRITER_H
#define QNEXT_ARTIFACT_ARTIFACTWRITER_H

#include "qnext/ArtifactFormat.h"
#include "qnext/Model/Config.h"
#include "qnext/Model/WeightPacker.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace qnext {

/// A state buffer the runtime allocates (KV caches: dim -1 is the capacity).
struct StateInfo {
  std::string name;
  std::vector<int64_t> shape;
};

/// One code of the artifact: what it was compiled for and how. A fat
/// artifact (qnext-compile --cpu=portable or a list) has one a CPU, each
/// with its name and section.
struct ManifestCode {
  std::string name;    ///< a fat artifact's: --cpu's entry, "x86-64-v4+amx"
  std::string section; ///< a fat artifact's: codeSectionName(i)
  std::string cpu, features;          ///< what the (host) code was compiled for
  std::vector<std::string> libraries; ///< shared libraries the code needs
  std::string pipeline;               ///< the pass pipeline that produced it
  /// What the kernels multiply weights by: "f32", "int8" (one token's
  /// inputs of int8/int4 weights quantized on the fly) or "bf16" (inputs of
  /// bf16 weights as bf16 terms); --activations.
  std::string activations = "f32";
  /// With activations "bf16": bf16 values an input is the sum of
  /// (--bf16-terms); the manifest says `"bf16_terms": N`.
  int64_t bf16Terms = 0;
  /// With activations "bf16": the kernels of several tokens multiply on
  /// AMX tiles (--amx); the manifest then says `"amx": true`.
  bool amx = false;
};

/// The section of code variant `i`: "code", "code.1", "code.2", ...
std::string codeSectionName(size_t i);

struct ManifestInputs {
  const ModelConfig *config = nullptr;
  std::vector<StateInfo> states;
  std::string kind = "cpu";          ///< "cpu" or "cuda"
  std::string gpuArch;               ///< cuda: the kernels' sm_XX
  std::string triple;                ///< the code's target triple
  std::vector<std::string> fusions;  ///< the fusion passes it ran (Fusions.h)
  bool taps = false;                 ///< it exports the `taps` entry point
  bool decodeBatch = false;          ///< it exports `decode_batch`
  bool prefillBatch = false;         ///< it exports `prefill_batch`
  bool mtp = false;                  ///< it has the MTP head (`mtp`)
  /// The artifact's one code (its name and section unused).
  ManifestCode code;
  /// A fat artifact: the code of each CPU, in the order the runtime tries
  /// them; `code` is then not written. Empty: one code, `code`.
  std::vector<ManifestCode> variants;
  const WeightPlan *plan = nullptr;
};

/// A section beside manifest, code and weights: the checkpoint's
/// "tokenizer", "tokenizer_config" and "generation" files, copied verbatim.
struct ExtraSection {
  std::string name; ///< at most 16 bytes
  std::string bytes;
};

/// The checkpoint folder's tokenizer.json, tokenizer_config.json and
/// generation_config.json, those present, as sections; each is checked first
/// (it parses, its token ids fit `config`'s vocabulary), failing with one
/// line naming the file and the field.
llvm::Expected<std::vector<ExtraSection>>
readCheckpointTextFiles(llvm::StringRef folder, const ModelConfig &config);

/// What the code assumes of its caller's buffers, from the same inputs as
/// the manifest: the compiler exports it in the code, the runtime checks the
/// manifest against it (qnext/ArtifactFormat.h).
artifact::ABI abiOf(const ManifestInputs &inputs);

/// The manifest JSON (deterministic: no times, no paths).
std::string buildManifest(const ManifestInputs &inputs);

/// Writes the artifact, with `codes[i]` in section codeSectionName(i);
/// weights stream from `checkpoint` through the plan,
/// checked for NaN and infinity unless `allowNonfinite` (packWeights).
/// `progress(done, total)` reports weight bytes written.
llvm::Error
writeArtifact(llvm::StringRef path, llvm::StringRef manifest,
              llvm::ArrayRef<std::vector<char>> codes, const WeightPlan &plan,
              const Checkpoint &checkpoint,
              llvm::ArrayRef<ExtraSection> extras = {},
              llvm::function_ref<void(uint64_t, uint64_t)> progress = {},
              bool allowNonfinite = false);

} // namespace qnext

#endif // QNEXT_ARTIFACT_ARTIFACTWRITER_H

//===- ArtifactReader.h - a mapped, validated .qnx file ---------*- C++ -*-===//
//
// The first of the runtime's three parts (the others: the code, CodeLoader.h,
// and the executors that run it, Executor.h). The reader maps the file and
// checks, before anything is used, the header, the section table and every
// section's checksum but the weights' (qnext_model_verify does those), and
// reads the manifest: the target, the model's sizes, the states. Every
// failure is one line naming the file and what is wrong.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_ARTIFACTREADER_H
#define QNEXT_RUNTIME_ARTIFACTREADER_H

#include "qnext/ArtifactFormat.h"
#include "qnext/CPUFeatures.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qnext::runtime {

class ArtifactReader {
public:
  ArtifactReader() = default;
  ArtifactReader(const ArtifactReader &) = delete;
  ArtifactReader &operator=(const ArtifactReader &) = delete;
  ~ArtifactReader();

  /// Maps `path` and validates it; false with `error` set ("PATH: ...").
  bool open(const std::string &path, std::string &error);

  const std::string &path() const { return filePath; }
  const uint8_t *bytes(const artifact::Section &s) const { return base + s.offset; }
  const artifact::Section &code() const { return codeSection; }
  const artifact::Section &weights() const { return weightsSection; }
  /// An optional section (tokenizer, ...), or null.
  const artifact::Section *section(const char *name) const;
  /// The weights' checksum (not checked at open: it reads every byte).
  bool verifyWeights(std::string &error) const;

  // What the manifest says.
  const std::string &manifestText() const { return text; }
  const nlohmann::json &manifest() const { return parsed; }
  bool onDevice = false; ///< target.kind is cuda
  std::string gpuArch;   ///< target.gpu_arch of a CUDA artifact
  int64_t vocab = 0, maxPositions = 0, hiddenSize = 0;
  std::vector<std::vector<int64_t>> stateShapes; ///< -1: the capacity
  /// The code variant chosen from a fat artifact (target.variants: the
  /// first this CPU runs), e.g. "x86-64-v4+amx"; empty for an artifact with
  /// one code. code() is its section.
  std::string variantName;
  /// What the chosen code's projections multiply weights by: "f32", "int8"
  /// or "bf16" (qnext-compile --activations), and whether its kernels of
  /// several tokens run on AMX tiles.
  std::string activations = "f32";
  bool amx = false;
  bool hasTaps = false;  ///< entry_points.taps: rows x hidden per token
  bool hasDecodeBatch = false; ///< entry_points.decode_batch
  bool hasPrefillBatch = false; ///< entry_points.prefill_batch
  int64_t tapRows = 0, tapHidden = 0;
  /// entry_points.mtp: the MTP head, and the width of the hidden rows the
  /// other entries return for it (0 without one).
  int64_t mtpHidden = 0;
  /// What the manifest says the code assumes: compared with the record the
  /// code carries before the code is loaded.
  artifact::ABI abi() const;

private:
  bool fail(std::string &error, const std::string &message) const;
  bool readManifest(std::string &error);
  bool readManifestFields(std::string &error);
  /// A fat artifact: the first of target.variants this CPU runs becomes the
  /// code; every variant's fields are checked.
  bool chooseVariant(const nlohmann::json &target, std::string &error,
                     qnext::cpu::Verdict &chosen);
  bool knownActivations(std::string &error, const std::string &field) const;

  std::string filePath;
  const uint8_t *base = nullptr;
  size_t size = 0;
  artifact::Section manifestSection{}, codeSection{}, weightsSection{};
  std::vector<artifact::Section> otherSections; ///< optional: tokenizer, ...
  std::string text;
  nlohmann::json parsed;
};

} // namespace qnext::runtime

#endif // QNEXT_RUNTIME_ARTIFACTREADER_H

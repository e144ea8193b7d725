//===- ArtifactWriter.cpp - write a .qnx model artifact -------------------===//

#include "qnext/Artifact/ArtifactWriter.h"
#include "qnext/ArtifactFormat.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>
#include <xxhash.h>

#include <memory>

using llvm::Error;
using ordered_json = nlohmann::ordered_json;

namespace qnext {

namespace {
constexpr const char *kCompilerVersion = "0.1.0";

uint64_t alignUp(uint64_t v) {
  return (v + artifact::kSectionAlignment - 1) / artifact::kSectionAlignment *
         artifact::kSectionAlignment;
}
} // namespace

std::string buildManifest(const ManifestInputs &in) {
  const ModelConfig &c = *in.config;
  ordered_json m;
  m["format"] = "qnext-artifact";
  m["version"] = artifact::kVersion;
  m["compiler"] = {{"name", "qnext-compile"}, {"version", kCompilerVersion}};
  m["target"] = {{"kind", "cpu"},
                 {"triple", in.triple},
                 {"cpu", in.cpu},
                 {"features", in.features},
                 {"libraries", in.libraries}};
  m["pipeline"] = in.pipeline;
  m["model"] = {{"model_type", c.modelType},
                {"vocab_size", c.vocabSize},
                {"hidden_size", c.hiddenSize},
                {"num_layers", c.numLayers},
                {"layer_types", c.layerPattern()},
                {"num_experts", c.numExperts},
                {"num_experts_per_tok", c.numExpertsPerTok},
                {"tie_word_embeddings", c.tieWordEmbeddings},
                {"max_position_embeddings", c.maxPositionEmbeddings}};
  // Entry points: void qnext_<name>(void **args), args[i] pointing at
  // argument i: weights, ids, positions (memref descriptors), past (int64),
  // [prefill: logits_from (int64)], one descriptor per state, then the
  // logits descriptor (docs/artifact.md).
  m["entry_points"] = {
      {"prefill", {{"symbol", "qnext_prefill"}, {"tokens", "any"}}},
      {"decode", {{"symbol", "qnext_decode"}, {"tokens", 1}}}};
  ordered_json states = ordered_json::array();
  for (const StateInfo &s : in.states)
    states.push_back({{"name", s.name}, {"shape", s.shape}, {"dtype", "f32"}});
  m["states"] = states;
  ordered_json tensors = ordered_json::array();
  for (const PackedTensor &t : in.plan->tensors)
    tensors.push_back({{"name", t.name},
                       {"transform", t.transform},
                       {"dtype", dtypeName(t.dtype).str()},
                       {"shape", t.shape},
                       {"offset", t.offset},
                       {"bytes", t.bytes}});
  m["weights"] = {{"size", in.plan->size}, {"tensors", tensors}};
  return m.dump(2) + "\n";
}

Error writeArtifact(llvm::StringRef path, llvm::StringRef manifest,
                    llvm::ArrayRef<char> code, const WeightPlan &plan,
                    const Checkpoint &checkpoint,
                    llvm::function_ref<void(uint64_t, uint64_t)> progress) {
  using namespace artifact;
  // Layout: header, table, then the sections at aligned offsets.
  Section sections[3] = {};
  const char *names[3] = {"manifest", "code", "weights"};
  uint64_t sizes[3] = {manifest.size(), code.size(), plan.size};
  uint64_t at = alignUp(sizeof(Header) + 3 * sizeof(Section));
  for (int i = 0; i < 3; ++i) {
    std::strncpy(sections[i].name, names[i], sizeof(sections[i].name));
    sections[i].offset = at;
    sections[i].size = sizes[i];
    at = alignUp(at + sizes[i]);
  }
  const uint64_t fileSize = sections[2].offset + sections[2].size;
  sections[0].checksum = XXH3_64bits(manifest.data(), manifest.size());
  sections[1].checksum = XXH3_64bits(code.data(), code.size());

  auto temp = llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return temp.takeError();
  auto discard = [&](Error e) {
    llvm::consumeError(temp->discard());
    return e;
  };
  llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
  auto zeros = [&](uint64_t n) {
    static const char kZeros[4096] = {};
    for (; n; n -= std::min<uint64_t>(n, sizeof kZeros))
      os.write(kZeros, std::min<uint64_t>(n, sizeof kZeros));
  };
  // Header and table last (they hold the weights checksum); reserve them.
  zeros(sections[0].offset);
  os << manifest;
  zeros(sections[1].offset - sections[0].offset - manifest.size());
  os.write(code.data(), code.size());
  zeros(sections[2].offset - sections[1].offset - code.size());

  // Weights, streamed in offset order, hashed as they go.
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(
      XXH3_createState(), XXH3_freeState);
  XXH3_64bits_reset(hash.get());
  uint64_t written = 0;
  static const char kPad[64] = {};
  Error e = packWeights(plan, checkpoint,
                        [&](uint64_t offset, llvm::ArrayRef<uint8_t> bytes) {
                          while (written < offset) { // alignment padding
                            uint64_t n = std::min<uint64_t>(offset - written, 64);
                            os.write(kPad, n);
                            XXH3_64bits_update(hash.get(), kPad, n);
                            written += n;
                          }
                          os.write(reinterpret_cast<const char *>(bytes.data()),
                                   bytes.size());
                          XXH3_64bits_update(hash.get(), bytes.data(), bytes.size());
                          written += bytes.size();
                          if (progress)
                            progress(written, plan.size);
                          return Error::success();
                        });
  if (e)
    return discard(std::move(e));
  while (written < plan.size) {
    uint64_t n = std::min<uint64_t>(plan.size - written, 64);
    os.write(kPad, n);
    XXH3_64bits_update(hash.get(), kPad, n);
    written += n;
  }
  sections[2].checksum = XXH3_64bits_digest(hash.get());

  Header header = {};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kVersion;
  header.sectionCount = 3;
  header.fileSize = fileSize;
  header.tableChecksum = XXH3_64bits(sections, sizeof sections);
  os.seek(0);
  os.write(reinterpret_cast<const char *>(&header), sizeof header);
  os.write(reinterpret_cast<const char *>(sections), sizeof sections);
  os.flush();
  if (os.has_error())
    return discard(llvm::createStringError(path.str() + ": " +
                                           os.error().message()));
  os.clear_error();
  return temp->keep(path);
}

} // namespace qnext

//===- ArtifactWriter.cpp - write a .qnx model artifact -------------------===//

#include "qnext/Artifact/ArtifactWriter.h"
#include "qnext/ArtifactFormat.h"
#include "qnext/FileChecks.h"
#include "qnext/VersionInfo.h"
#include "qnext/Chat.h"
#include "qnext/Sampler.h"
#include "qnext/Tokenizer.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>
#include <xxhash.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

using llvm::Error;
using ordered_json = nlohmann::ordered_json;

namespace qnext {

namespace {
constexpr const char *kCompilerVersion = QNEXT_VERSION;

uint64_t alignUp(uint64_t v) {
  return (v + artifact::kSectionAlignment - 1) / artifact::kSectionAlignment *
         artifact::kSectionAlignment;
}
} // namespace

llvm::Expected<std::vector<ExtraSection>>
readCheckpointTextFiles(llvm::StringRef folder, const ModelConfig &config) {
  std::vector<ExtraSection> out;
  auto read = [&](const char *file, std::string &path,
                  std::string &text) -> llvm::Expected<bool> {
    llvm::SmallString<256> p(folder);
    llvm::sys::path::append(p, file);
    path = std::string(p);
    if (!llvm::sys::fs::exists(path))
      return false;
    if (std::string error; !checkRegularFile(path, error))
      return llvm::createStringError(error);
    auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer)
      return llvm::createStringError(path + ": " + buffer.getError().message());
    text = (*buffer)->getBuffer().str();
    return true;
  };
  std::string path, text, error;
  auto found = read("tokenizer.json", path, text);
  if (!found)
    return found.takeError();
  if (*found) {
    auto tokenizer = Tokenizer::fromJson(text, path, error);
    if (!tokenizer)
      return llvm::createStringError(error);
    if (tokenizer->size() > config.vocabSize)
      return llvm::createStringError(
          path + ": token ids reach " + std::to_string(tokenizer->size() - 1) +
          ", beyond config.json vocab_size " + std::to_string(config.vocabSize));
    out.push_back({"tokenizer", text});
  }
  found = read("tokenizer_config.json", path, text);
  if (!found)
    return found.takeError();
  if (*found) {
    if (!ChatTemplate::fromConfig(text, path, error))
      return llvm::createStringError(error);
    out.push_back({"tokenizer_config", text});
  }
  found = read("generation_config.json", path, text);
  if (!found)
    return found.takeError();
  if (*found) {
    SamplingParams params;
    std::vector<int32_t> eos;
    if (!readGenerationConfig(text, path, params, eos, error))
      return llvm::createStringError(error);
    for (int32_t id : eos)
      if (id >= config.vocabSize)
        return llvm::createStringError(
            path + ": eos_token_id " + std::to_string(id) +
            " is beyond config.json vocab_size " + std::to_string(config.vocabSize));
    out.push_back({"generation", text});
  }
  return out;
}

artifact::ABI abiOf(const ManifestInputs &in) {
  artifact::ABI abi;
  abi.kind = in.kind;
  abi.vocab = in.config->vocabSize;
  abi.weights = in.plan->size;
  for (const StateInfo &s : in.states)
    abi.states.push_back(s.shape);
  if (in.taps) {
    abi.tapRows = 2 * in.config->numLayers;
    abi.tapHidden = in.config->hiddenSize;
  }
  if (in.mtp)
    abi.mtpHidden = in.config->hiddenSize;
  return abi;
}

std::string codeSectionName(size_t i) {
  return i == 0 ? "code" : "code." + std::to_string(i);
}

std::string buildManifest(const ManifestInputs &in) {
  const ModelConfig &c = *in.config;
  ordered_json m;
  m["format"] = "qnext-artifact";
  m["version"] = artifact::kVersion;
  m["compiler"] = {{"name", "qnext-compile"}, {"version", kCompilerVersion}};
  if (in.variants.empty()) {
    m["target"] = {{"kind", in.kind},
                   {"triple", in.triple},
                   {"cpu", in.code.cpu},
                   {"features", in.code.features},
                   {"libraries", in.code.libraries}};
    if (in.kind == "cuda")
      m["target"]["gpu_arch"] = in.gpuArch;
    m["pipeline"] = in.code.pipeline;
    m["fusions"] = in.fusions;
    m["activations"] = in.code.activations;
    if (in.code.activations == "bf16")
      m["bf16_terms"] = in.code.bf16Terms;
    if (in.code.amx)
      m["amx"] = true;
  } else {
    // A fat artifact: what each code was compiled for, and how.
    ordered_json variants = ordered_json::array();
    for (const ManifestCode &v : in.variants) {
      ordered_json entry = {{"name", v.name},       {"section", v.section},
                            {"cpu", v.cpu},         {"features", v.features},
                            {"libraries", v.libraries}, {"pipeline", v.pipeline},
                            {"activations", v.activations}};
      if (v.activations == "bf16")
        entry["bf16_terms"] = v.bf16Terms;
      if (v.amx)
        entry["amx"] = true;
      variants.push_back(entry);
    }
    m["target"] = {{"kind", in.kind}, {"triple", in.triple}, {"variants", variants}};
    m["fusions"] = in.fusions;
  }
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
  // logits descriptor (docs/artifact.md). decode_batch takes the rows'
  // slots (a descriptor) where the others take past, and every slot's
  // states ([S, ...shape]); prefill_batch takes the sequences' slots and
  // their ends (two descriptors) there.
  m["entry_points"] = {
      {"prefill", {{"symbol", "qnext_prefill"}, {"tokens", "any"}}},
      {"decode", {{"symbol", "qnext_decode"}, {"tokens", 1}}}};
  if (in.taps)
    m["entry_points"]["taps"] = {{"symbol", "qnext_taps"},
                                 {"tokens", "any"},
                                 {"rows", 2 * c.numLayers},
                                 {"hidden_size", c.hiddenSize}};
  if (in.decodeBatch)
    m["entry_points"]["decode_batch"] = {{"symbol", "qnext_decode_batch"},
                                         {"tokens", "any"}};
  if (in.prefillBatch)
    m["entry_points"]["prefill_batch"] = {{"symbol", "qnext_prefill_batch"},
                                          {"tokens", "any"}};
  // The MTP head: prefill's arguments with the main model's hidden rows
  // after past and logits_from; prefill, decode and the batched entries
  // then return those rows after the logits.
  if (in.mtp)
    m["entry_points"]["mtp"] = {{"symbol", "qnext_mtp"},
                                {"tokens", "any"},
                                {"hidden_size", c.hiddenSize}};
  ordered_json states = ordered_json::array();
  for (const StateInfo &s : in.states)
    states.push_back({{"name", s.name}, {"shape", s.shape}, {"dtype", "f32"}});
  m["states"] = states;
  ordered_json tensors = ordered_json::array();
  for (const PackedTensor &t : in.plan->tensors) {
    ordered_json entry = {{"name", t.name},
                          {"transform", t.transform},
                          {"dtype", dtypeName(t.dtype).str()},
                          {"shape", t.shape},
                          {"offset", t.offset},
                          {"bytes", t.bytes}};
    if (t.blockRows > 0) // a quantized weight's scales, not weights
      entry["block_rows"] = t.blockRows;
    if (t.quant.quantizes()) // quantized while packing (--weights)
      entry["quantized"] = {{"format", t.quant.kind == WeightFormat::Int4 ? "int4" : "int8"},
                            {"group", t.quant.group},
                            {"part", t.quantScales ? "scales" : "values"}};
    if (t.transform == "concat") {
      ordered_json parts = ordered_json::array();
      for (const PackedTensor &p : t.parts)
        parts.push_back({{"name", p.name},
                         {"transform", p.transform},
                         {"shape", p.shape}});
      entry["dim"] = t.dim;
      entry["parts"] = parts;
    }
    tensors.push_back(entry);
  }
  m["weights"] = {{"size", in.plan->size}, {"tensors", tensors}};
  return m.dump(2) + "\n";
}

Error writeArtifact(llvm::StringRef path, llvm::StringRef manifest,
                    llvm::ArrayRef<std::vector<char>> codes, const WeightPlan &plan,
                    const Checkpoint &checkpoint,
                    llvm::ArrayRef<ExtraSection> extras,
                    llvm::function_ref<void(uint64_t, uint64_t)> progress,
                    bool allowNonfinite) {
  using namespace artifact;
  // Layout: header, table, then the sections at aligned offsets: manifest,
  // code, the extras, weights last.
  std::vector<std::pair<std::string, llvm::StringRef>> leading = {{"manifest", manifest}};
  for (size_t i = 0; i < codes.size(); ++i)
    leading.emplace_back(codeSectionName(i),
                         llvm::StringRef(codes[i].data(), codes[i].size()));
  for (const ExtraSection &e : extras)
    leading.emplace_back(e.name, e.bytes);
  const size_t count = leading.size() + 1;
  if (count > kMaxSections)
    return llvm::createStringError("too many sections");
  std::vector<Section> sections(count);
  uint64_t at = alignUp(sizeof(Header) + count * sizeof(Section));
  for (size_t i = 0; i < count; ++i) {
    const std::string &name = i < leading.size() ? leading[i].first : "weights";
    if (name.size() > sizeof(sections[i].name))
      return llvm::createStringError("section name '" + name + "' is too long");
    std::strncpy(sections[i].name, name.c_str(), sizeof(sections[i].name));
    sections[i].offset = at;
    sections[i].size = i < leading.size() ? leading[i].second.size() : plan.size;
    if (i < leading.size())
      sections[i].checksum =
          XXH3_64bits(leading[i].second.data(), leading[i].second.size());
    at = alignUp(at + sections[i].size);
  }
  Section &weights = sections.back();
  const uint64_t fileSize = weights.offset + weights.size;

  auto temp = llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return llvm::createStringError(path.str() + ": " + llvm::toString(temp.takeError()));
  llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
  // A write error (a full disk) is reported as an Error; the stream must
  // not keep it, or its destructor aborts the process.
  llvm::scope_exit clearStream([&] { os.clear_error(); });
  auto discard = [&](Error e) {
    os.flush(); // into the file about to go, not into its closed descriptor
    os.clear_error();
    llvm::consumeError(temp->discard());
    return e;
  };
  auto zeros = [&](uint64_t n) {
    static const char kZeros[4096] = {};
    for (; n; n -= std::min<uint64_t>(n, sizeof kZeros))
      os.write(kZeros, std::min<uint64_t>(n, sizeof kZeros));
  };
  // Header and table last (they hold the weights checksum); reserve them.
  uint64_t written = 0;
  for (size_t i = 0; i < leading.size(); ++i) {
    zeros(sections[i].offset - written);
    os << leading[i].second;
    written = sections[i].offset + leading[i].second.size();
  }
  zeros(weights.offset - written);

  // Weights, streamed in offset order, hashed as they go.
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(
      XXH3_createState(), XXH3_freeState);
  XXH3_64bits_reset(hash.get());
  written = 0;
  static const char kPad[64] = {};
  Error e = packWeights(plan, checkpoint,
                        [&](uint64_t offset, llvm::ArrayRef<uint8_t> bytes) -> Error {
                          while (written < offset) { // alignment padding
                            uint64_t n = std::min<uint64_t>(offset - written, 64);
                            os.write(kPad, n);
                            XXH3_64bits_update(hash.get(), kPad, n);
                            written += n;
                          }
                          os.write(reinterpret_cast<const char *>(bytes.data()),
                                   bytes.size());
                          if (os.has_error()) // a full disk: stop now, not after the rest
                            return llvm::createStringError(path.str() + ": " +
                                                           os.error().message());
                          XXH3_64bits_update(hash.get(), bytes.data(), bytes.size());
                          written += bytes.size();
                          if (progress)
                            progress(written, plan.size);
                          return Error::success();
                        },
                        allowNonfinite);
  if (e)
    return discard(std::move(e));
  while (written < plan.size) {
    uint64_t n = std::min<uint64_t>(plan.size - written, 64);
    os.write(kPad, n);
    XXH3_64bits_update(hash.get(), kPad, n);
    written += n;
  }
  weights.checksum = XXH3_64bits_digest(hash.get());

  Header header = {};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kVersion;
  header.sectionCount = uint32_t(count);
  header.fileSize = fileSize;
  header.tableChecksum = XXH3_64bits(sections.data(), count * sizeof(Section));
  os.seek(0);
  os.write(reinterpret_cast<const char *>(&header), sizeof header);
  os.write(reinterpret_cast<const char *>(sections.data()),
           count * sizeof(Section));
  os.flush();
  if (os.has_error())
    return discard(llvm::createStringError(path.str() + ": " + os.error().message()));
  // On the disk before it replaces anything (a quota or NFS error can show
  // only here).
  if (::fsync(temp->FD) != 0)
    return discard(llvm::createStringError(path.str() + ": " + std::strerror(errno)));
  if (Error e = temp->keep(path))
    return llvm::createStringError(path.str() + ": " + llvm::toString(std::move(e)));
  return Error::success();
}

} // namespace qnext

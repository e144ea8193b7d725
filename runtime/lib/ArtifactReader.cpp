//===- ArtifactReader.cpp - a mapped, validated .qnx file -----------------===//

#include "ArtifactReader.h"

#include "qnext/CPUFeatures.h"
#include "qnext/Messages.h"

#include <xxhash.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

using json = nlohmann::json;
using namespace qnext::artifact;

namespace qnext::runtime {

ArtifactReader::~ArtifactReader() {
  if (base)
    munmap(const_cast<uint8_t *>(base), size);
}

bool ArtifactReader::fail(std::string &error, const std::string &message) const {
  error = filePath + ": " + message;
  return false;
}

const Section *ArtifactReader::section(const char *name) const {
  for (const Section &s : otherSections)
    if (sectionNamed(s, name))
      return &s;
  return nullptr;
}

bool ArtifactReader::verifyWeights(std::string &error) const {
  if (XXH3_64bits(bytes(weightsSection), weightsSection.size) != weightsSection.checksum)
    return fail(error, "weights section checksum mismatch (corrupt file)");
  return true;
}

/// Maps and validates the artifact.
bool ArtifactReader::open(const std::string &path, std::string &error) {
filePath = path;
  // O_NONBLOCK: a FIFO opens at once (and is then refused below) rather
  // than waiting for a writer; it changes nothing for a regular file.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return fail(error, std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(error, "not a regular file");
  }
  size = size_t(st.st_size);
  if (size < sizeof(Header)) {
    ::close(fd);
    return fail(error, "truncated: " + std::to_string(size) +
                           " bytes, shorter than the 64-byte header");
  }
  void *mapped = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapped == MAP_FAILED)
    return fail(error, std::string("mmap: ") + std::strerror(errno));
  base = static_cast<const uint8_t *>(mapped);

  Header header;
  std::memcpy(&header, base, sizeof header);
  if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0)
    return fail(error, "not a qnext artifact (bad magic)");
  if (header.version != kVersion)
    return fail(error, "artifact format version " +
                           std::to_string(header.version) +
                           ", this runtime reads version " +
                           std::to_string(kVersion) + "; recompile it");
  if (header.fileSize != size)
    return fail(error, "truncated or extended: the header says " +
                           std::to_string(header.fileSize) +
                           " bytes, the file has " + std::to_string(size));
  if (header.sectionCount == 0 || header.sectionCount > kMaxSections ||
      sizeof(Header) + header.sectionCount * sizeof(Section) > size)
    return fail(error, "bad section count " +
                           std::to_string(header.sectionCount));
  std::vector<Section> table(header.sectionCount);
  std::memcpy(table.data(), base + sizeof(Header),
              table.size() * sizeof(Section));
  if (XXH3_64bits(table.data(), table.size() * sizeof(Section)) !=
      header.tableChecksum)
    return fail(error, "section table checksum mismatch (corrupt file)");
  bool haveManifest = false, haveCode = false, haveWeights = false;
  for (const Section &s : table) {
    std::string name(s.name, strnlen(s.name, sizeof s.name));
    if (s.offset % kSectionAlignment || s.offset > size ||
        s.size > size - s.offset)
      return fail(error, "section '" + name + "' lies outside the file");
    if (sectionNamed(s, "manifest"))
      manifestSection = s, haveManifest = true;
    else if (sectionNamed(s, "code"))
      codeSection = s, haveCode = true;
    else if (sectionNamed(s, "weights"))
      weightsSection = s, haveWeights = true;
    else
      otherSections.push_back(s);
  }
  if (!haveManifest || !haveCode || !haveWeights)
    return fail(error, "missing section (manifest, code and weights are "
                       "required)");
  std::vector<const Section *> checked = {&manifestSection, &codeSection};
  for (const Section &s : otherSections)
    checked.push_back(&s);
  for (const Section *s : checked)
    if (XXH3_64bits(base + s->offset, s->size) != s->checksum)
      return fail(error, std::string(s->name, strnlen(s->name, sizeof s->name)) +
                             " section checksum mismatch (corrupt file)");

  text.assign(reinterpret_cast<const char *>(base) +
                          manifestSection.offset,
                      manifestSection.size);
  parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    return fail(error, "manifest: not valid JSON");
  return readManifest(error);
}

artifact::ABI ArtifactReader::abi() const {
  artifact::ABI a;
  a.kind = onDevice ? "cuda" : "cpu";
  a.vocab = vocab;
  a.weights = weightsSection.size;
  a.states = stateShapes;
  a.tapRows = tapRows;
  a.tapHidden = tapHidden;
  a.mtpHidden = mtpHidden;
  return a;
}

bool ArtifactReader::readManifest(std::string &error) {
  // Every value is type-checked where it is read; a JSON exception here is
  // a check missed, reported as one line rather than thrown at the caller.
  try {
    return readManifestFields(error);
  } catch (const json::exception &e) {
    return fail(error, std::string("manifest: ") + e.what());
  }
}

bool ArtifactReader::knownActivations(std::string &error, const std::string &field) const {
  if (activations == "f32" || activations == "int8" || activations == "bf16")
    return true;
  return fail(error, "manifest: " + field + " '" + excerpt(activations, 40) +
                         "' is none of f32, int8, bf16");
}

bool ArtifactReader::chooseVariant(const json &target, std::string &error,
                                   qnext::cpu::Verdict &chosen) {
  const json &variants = target["variants"];
  if (onDevice)
    return fail(error, "manifest: target.variants: a CUDA artifact has one host code");
  if (!variants.is_array() || variants.empty() || variants.size() > kMaxSections)
    return fail(error, "manifest: target.variants is not a list of 1 to " +
                           std::to_string(kMaxSections) + " codes");
  std::string refused;
  for (size_t i = 0; i < variants.size(); ++i) {
    const json &v = variants[i];
    const std::string where = "target.variants[" + std::to_string(i) + "]";
    auto text = [&](const char *key, std::string &out) {
      if (v.is_object() && v.contains(key) && v[key].is_string()) {
        out = v[key].get<std::string>();
        return true;
      }
      return fail(error, "manifest: " + where + "." + key + " missing or not a string");
    };
    std::string name, sectionName, features, mode;
    if (!text("name", name) || !text("section", sectionName) ||
        !text("features", features) || !text("activations", mode))
      return false;
    if (v.contains("amx") && !v["amx"].is_boolean())
      return fail(error, "manifest: " + where + ".amx is not true or false");
    const Section *code = sectionName == "code" ? &codeSection : section(sectionName.c_str());
    if (sectionName.rfind("code", 0) != 0 || !code)
      return fail(error, "manifest: " + where + ".section '" + excerpt(sectionName, 40) +
                             "' is not a code section of the file");
    qnext::cpu::Verdict verdict = qnext::cpu::check(features, qnext::cpu::FeatureSet::host());
    if (!verdict.ok()) {
      refused += (refused.empty() ? "" : "; ") + excerpt(name, 40) + " " + verdict.describe();
      continue;
    }
    if (!variantName.empty())
      continue; // an earlier one runs
    variantName = name.empty() ? "?" : name;
    activations = mode;
    if (!knownActivations(error, where + ".activations"))
      return false;
    amx = v.contains("amx") && v["amx"].get<bool>();
    codeSection = *code;
    chosen = verdict;
  }
  if (variantName.empty())
    return fail(error, "no code variant runs on this CPU: " + refused +
                           " (recompile with --cpu=host on this machine, or with "
                           "a --cpu it matches)");
  return true;
}

bool ArtifactReader::readManifestFields(std::string &error) {
  const json &m = parsed;
  // A size the runtime allocates from: positive and bounded (token ids and
  // positions are 32-bit).
  auto integer = [&](const json &o, const char *object, const char *key, int64_t &out,
                     int64_t most) {
    if (!o.is_object() || !o.contains(key) || !o[key].is_number_integer())
      return fail(error, std::string("manifest: ") + object + "." + key +
                             " missing or not an integer");
    out = o[key].get<int64_t>();
    if (out <= 0 || out > most)
      return fail(error, std::string("manifest: ") + object + "." + key + " " +
                             std::to_string(out) + " is outside [1, " +
                             std::to_string(most) + "]");
    return true;
  };
  auto string = [&](const json &o, const char *object, const char *key, std::string &out,
                    bool required) {
    if (!o.contains(key)) {
      if (required)
        return fail(error, std::string("manifest: ") + object + "." + key + " missing");
      return true;
    }
    if (!o[key].is_string())
      return fail(error, std::string("manifest: ") + object + "." + key +
                             " is not a string");
    out = o[key].get<std::string>();
    return true;
  };
  // `m` is const: operator[] on it must only name keys that are there.
  if (!m.contains("target") || !m["target"].is_object())
    return fail(error, "manifest: target missing or not an object");
  const json &target = m["target"];
  std::string kind, triple, cpu, features;
  if (!string(target, "target", "kind", kind, true) ||
      !string(target, "target", "triple", triple, false) ||
      !string(target, "target", "cpu", cpu, false) ||
      !string(target, "target", "features", features, false) ||
      !string(target, "target", "gpu_arch", gpuArch, false))
    return false;
  if (kind != "cpu" && kind != "cuda")
    return fail(error, "manifest: target.kind '" + excerpt(kind, 40) +
                           "' is neither cpu nor cuda");
  onDevice = kind == "cuda";
  if (triple.rfind("x86_64", 0) != 0)
    return fail(error, "compiled for '" + excerpt(triple, 40) + "', this is x86_64");
  // The instruction sets the code may use, from CPUID: refused before a
  // single instruction of it runs (an unchecked artifact dies on SIGILL).
  // A fat artifact's variants are tried in order, the first that fits runs.
  qnext::cpu::Verdict verdict;
  if (target.contains("variants")) {
    if (!chooseVariant(target, error, verdict))
      return false;
  } else {
    verdict = qnext::cpu::check(features, qnext::cpu::FeatureSet::host());
    if (!verdict.ok())
      return fail(error, "compiled for CPU '" + excerpt(cpu, 40) + "'; this CPU " +
                             verdict.describe() +
                             " (recompile with --cpu=host on this machine, "
                             "or with a --cpu it matches)");
    if (m.contains("activations") && !m["activations"].is_string())
      return fail(error, "manifest: activations is not a string");
    if (m.contains("activations"))
      activations = m["activations"].get<std::string>();
    if (!knownActivations(error, "activations"))
      return false;
    if (m.contains("amx") && !m["amx"].is_boolean())
      return fail(error, "manifest: amx is not true or false");
    amx = m.contains("amx") && m["amx"].get<bool>();
  }
  if (verdict.usesAMX) {
    std::string why;
    if (!qnext::cpu::requestAMXPermission(&why))
      return fail(error, why);
  }
  constexpr int64_t kMost32 = int64_t(INT32_MAX);
  if (!m.contains("model"))
    return fail(error, "manifest: model missing");
  if (!integer(m["model"], "model", "vocab_size", vocab, kMost32) ||
      !integer(m["model"], "model", "max_position_embeddings", maxPositions, kMost32) ||
      !integer(m["model"], "model", "hidden_size", hiddenSize, kMost32))
    return false;
  if (!m.contains("states") || !m["states"].is_array())
    return fail(error, "manifest: states missing");
  for (const json &s : m["states"]) {
    if (!s.is_object() || !s.contains("shape") || !s["shape"].is_array() ||
        s["shape"].empty() || s["shape"].size() > 8)
      return fail(error, "manifest: a state's shape is not a list of 1 to 8 dimensions");
    std::vector<int64_t> shape;
    for (const json &d : s["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < -1 || d.get<int64_t>() == 0 ||
          d.get<int64_t>() > (int64_t(1) << 32))
        return fail(error, "manifest: bad state dimension " + quoteJSON(d));
      shape.push_back(d.get<int64_t>());
    }
    stateShapes.push_back(shape);
  }
  if (m.contains("entry_points") && m["entry_points"].is_object() &&
      m["entry_points"].contains("taps")) {
    hasTaps = true;
    if (!integer(m["entry_points"]["taps"], "entry_points.taps", "rows", tapRows, kMost32) ||
        !integer(m["entry_points"]["taps"], "entry_points.taps", "hidden_size", tapHidden,
                 kMost32))
      return false;
  }
  hasDecodeBatch = m.contains("entry_points") && m["entry_points"].is_object() &&
                   m["entry_points"].contains("decode_batch");
  hasPrefillBatch = m.contains("entry_points") && m["entry_points"].is_object() &&
                    m["entry_points"].contains("prefill_batch");
  if (m.contains("entry_points") && m["entry_points"].is_object() &&
      m["entry_points"].contains("mtp")) {
    if (!integer(m["entry_points"]["mtp"], "entry_points.mtp", "hidden_size", mtpHidden,
                 kMost32))
      return false;
    if (mtpHidden != hiddenSize)
      return fail(error, "manifest: entry_points.mtp.hidden_size " +
                             std::to_string(mtpHidden) + " is not model.hidden_size " +
                             std::to_string(hiddenSize));
  }
  int64_t weightsSize = 0;
  if (!m.contains("weights") ||
      !integer(m["weights"], "weights", "size", weightsSize, INT64_MAX))
    return false;
  if (uint64_t(weightsSize) != weightsSection.size)
    return fail(error, "manifest: weights.size disagrees with the weights "
                       "section");
  return true;
}

} // namespace qnext::runtime

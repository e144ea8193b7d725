//===- Runtime.cpp - load a .qnx artifact and run its model ---------------===//
//
// Everything read from the file is validated before it is used; every
// failure is one line naming the file and what is wrong.
//
//===----------------------------------------------------------------------===//

#include "qnext/Runtime.h"
#include "qnext/ArtifactFormat.h"
#include "qnext/CPUFeatures.h"
#include "qnext/FileChecks.h"
#include "qnext/MemRefDescriptor.h"

#include "CUDA.h"

#include <nlohmann/json.hpp>
#include <xxhash.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using json = nlohmann::json;
using namespace qnext::artifact;

namespace {

using Entry = void (*)(void **);

void setError(char **error, const std::string &message) {
  if (error)
    *error = strdup(message.c_str());
}

} // namespace

struct qnext_model {
  std::string path;
  const uint8_t *base = nullptr;
  size_t size = 0;
  Section manifestSection{}, codeSection{}, weightsSection{};
  std::vector<Section> otherSections; ///< optional: tokenizer, ...
  std::string manifestText;
  json manifest;
  void *library = nullptr;
  Entry prefill = nullptr, decode = nullptr;
  /// Built with qnext-compile --taps: prefill that also returns the hidden
  /// state after every layer's mixer and MLP ([tapRows, T, hidden]).
  Entry taps = nullptr;
  int64_t tapRows = 0, hiddenSize = 0;
  void (*setThreads)(int32_t) = nullptr; ///< absent in single-threaded code
  int32_t (*maxThreads)() = nullptr;
  int64_t vocab = 0, maxPositions = 0;
  std::vector<std::vector<int64_t>> stateShapes; ///< -1: the capacity
  /// A CUDA artifact: weights, states and every buffer the code touches are
  /// in GPU memory (the weights uploaded once, at open).
  bool onDevice = false;
  void *deviceWeights = nullptr;

  /// The memory file the code was loaded from, open while the code is:
  /// dlopen knows a library by its path, and "/proc/self/fd/N" names
  /// another model's code once N is reused (a second model in the process
  /// would run the first one's code).
  int codeFd = -1;

  ~qnext_model() {
    if (library)
      dlclose(library);
    if (codeFd >= 0)
      ::close(codeFd);
    qnext::cuda::release(deviceWeights);
    if (base)
      munmap(const_cast<uint8_t *>(base), size);
  }

  bool fail(char **error, const std::string &message) {
    setError(error, path + ": " + message);
    return false;
  }

  /// Maps and validates the artifact; loads its code unless only inspecting.
  bool open(char **error, bool withCode) {
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

    manifestText.assign(reinterpret_cast<const char *>(base) +
                            manifestSection.offset,
                        manifestSection.size);
    manifest = json::parse(manifestText, nullptr, /*allow_exceptions=*/false);
    if (manifest.is_discarded() || !manifest.is_object())
      return fail(error, "manifest: not valid JSON");
    return readManifest(error) && (!withCode || loadCode(error));
  }

  bool readManifest(char **error) {
    const json &m = manifest;
    auto integer = [&](const json &o, const char *key, int64_t &out) {
      if (!o.is_object() || !o.contains(key) || !o[key].is_number_integer())
        return fail(error, std::string("manifest: ") + key +
                               " missing or not an integer");
      out = o[key].get<int64_t>();
      return true;
    };
    // `m` is const: operator[] on it must only name keys that are there.
    if (!m.contains("target") || !m["target"].is_object() ||
        !m["target"].contains("kind") || !m["target"]["kind"].is_string())
      return fail(error, "manifest: target.kind missing");
    std::string kind = m["target"]["kind"];
    if (kind != "cpu" && kind != "cuda")
      return fail(error, "manifest: target.kind '" + kind +
                             "' is neither cpu nor cuda");
    onDevice = kind == "cuda";
    std::string triple = m["target"].value("triple", "");
    if (triple.rfind("x86_64", 0) != 0)
      return fail(error, "compiled for " + triple + ", this is x86_64");
    // The instruction sets the code may use, from CPUID: refused before a
    // single instruction of it runs (an unchecked artifact dies on SIGILL).
    for (const char *key : {"cpu", "features"})
      if (m["target"].contains(key) && !m["target"][key].is_string())
        return fail(error, std::string("manifest: target.") + key +
                               " is not a string");
    std::string features = m["target"].value("features", "");
    qnext::cpu::Verdict verdict =
        qnext::cpu::check(features, qnext::cpu::FeatureSet::host());
    if (!verdict.ok())
      return fail(error, "compiled for CPU '" + m["target"].value("cpu", "") +
                             "'; this CPU " + verdict.describe() +
                             " (recompile with --cpu=host on this machine, "
                             "or with a --cpu it matches)");
    if (verdict.usesAMX) {
      std::string why;
      if (!qnext::cpu::requestAMXPermission(&why))
        return fail(error, why);
    }
    if (!m.contains("model") || !integer(m["model"], "vocab_size", vocab) ||
        !integer(m["model"], "max_position_embeddings", maxPositions))
      return false;
    if (vocab <= 0)
      return fail(error, "manifest: vocab_size must be positive");
    if (m["model"].contains("hidden_size") && m["model"]["hidden_size"].is_number_integer())
      hiddenSize = m["model"]["hidden_size"].get<int64_t>();
    if (!m.contains("states") || !m["states"].is_array())
      return fail(error, "manifest: states missing");
    for (const json &s : m["states"]) {
      if (!s.is_object() || !s.contains("shape") || !s["shape"].is_array())
        return fail(error, "manifest: a state has no shape");
      std::vector<int64_t> shape;
      for (const json &d : s["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < -1 ||
            d.get<int64_t>() > (int64_t(1) << 32))
          return fail(error, "manifest: bad state dimension " + d.dump());
        shape.push_back(d.get<int64_t>());
      }
      stateShapes.push_back(shape);
    }
    int64_t weightsSize = 0;
    if (!m.contains("weights") || !integer(m["weights"], "size", weightsSize))
      return false;
    if (uint64_t(weightsSize) != weightsSection.size)
      return fail(error, "manifest: weights.size disagrees with the weights "
                         "section");
    return true;
  }

  /// The code section is handed to dlopen through an anonymous memory file:
  /// nothing is written to disk. With QNEXT_CODE_DIR set, through a file in
  /// that folder instead, kept for profilers and debuggers.
  bool loadCode(char **error) {
    if (onDevice) {
      // The driver first: loading the code loads its kernels onto the GPU.
      std::string why;
      if (!qnext::cuda::initialize(why))
        return fail(error, "a CUDA artifact (" +
                               manifest["target"].value("gpu_arch", "") +
                               "): " + why);
      deviceWeights = qnext::cuda::allocate(weightsSection.size, why);
      if (!deviceWeights ||
          !qnext::cuda::upload(deviceWeights, base + weightsSection.offset,
                               weightsSection.size, why))
        return fail(error, "uploading the weights: " + why);
    }
    const uint8_t *code = base + codeSection.offset;
    if (const char *dir = std::getenv("QNEXT_CODE_DIR"); dir && *dir) {
      // A file that stays on disk, named by the code's hash: perf, gdb and
      // objdump read its symbols (the kernels' names) after the run, which
      // they cannot from a memory file that is gone.
      char name[48];
      std::snprintf(name, sizeof name, "/qnext-code-%016llx.so",
                    (unsigned long long)XXH3_64bits(code, codeSection.size));
      std::string path = dir + std::string(name), why;
      if (!qnext::writeReplacing(
              path, std::string_view(reinterpret_cast<const char *>(code), codeSection.size),
              why))
        return fail(error, "QNEXT_CODE_DIR: " + why);
      library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (library)
        std::fprintf(stderr, "qnext: code loaded from %s (QNEXT_CODE_DIR)\n", path.c_str());
    } else {
      int fd = memfd_create("qnext-code", MFD_CLOEXEC);
      if (fd < 0)
        return fail(error, std::string("memfd_create: ") + std::strerror(errno));
      for (uint64_t done = 0; done < codeSection.size;) {
        ssize_t n = write(fd, code + done, codeSection.size - done);
        if (n <= 0) {
          ::close(fd);
          return fail(error, "writing the code to memory failed");
        }
        done += uint64_t(n);
      }
      std::string procPath = "/proc/self/fd/" + std::to_string(fd);
      library = dlopen(procPath.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (library)
        codeFd = fd;
      else
        ::close(fd);
    }
    // Opening the code loaded its kernels (a constructor of the code).
    if (std::string why = onDevice ? qnext::cuda::takeFailure() : "";
        library && !why.empty()) {
      std::string capability = qnext::cuda::computeCapability();
      return fail(error, "a CUDA artifact (" +
                             manifest["target"].value("gpu_arch", "") +
                             ") on a GPU of compute capability " +
                             (capability.empty() ? "unknown" : capability) +
                             ": loading its kernels: " + why);
    }
    if (!library) {
      std::string why = dlerror();
      if (why.find("libomp") != std::string::npos)
        why += " (the code runs parallel loops with LLVM's OpenMP runtime: "
               "install libomp5, or compile with --parallel=false)";
      return fail(error, "loading the code: " + why);
    }
    prefill = reinterpret_cast<Entry>(dlsym(library, "qnext_prefill"));
    decode = reinterpret_cast<Entry>(dlsym(library, "qnext_decode"));
    if (!prefill || !decode)
      return fail(error, "the code has no qnext_prefill / qnext_decode entry");
    if (manifest["entry_points"].contains("taps")) {
      const json &t = manifest["entry_points"]["taps"];
      taps = reinterpret_cast<Entry>(dlsym(library, "qnext_taps"));
      if (!taps || !t.is_object() || !t.value("rows", json()).is_number_integer() ||
          !t.value("hidden_size", json()).is_number_integer() ||
          t["rows"].get<int64_t>() <= 0 || t["hidden_size"].get<int64_t>() <= 0)
        return fail(error, "manifest: entry_points.taps names no valid entry");
      tapRows = t["rows"].get<int64_t>();
      hiddenSize = t["hidden_size"].get<int64_t>();
    }
    setThreads = reinterpret_cast<void (*)(int32_t)>(
        dlsym(library, "qnext_set_num_threads"));
    maxThreads = reinterpret_cast<int32_t (*)()>(dlsym(library, "qnext_max_threads"));
    return true;
  }
};

/// QNEXT_CUDA_GRAPH=0 launches the decode step kernel by kernel.
static bool graphsWanted() {
  static const bool wanted = [] {
    const char *value = std::getenv("QNEXT_CUDA_GRAPH");
    return !value || std::string(value) != "0";
  }();
  return wanted;
}

struct qnext_session {
  qnext_model *model = nullptr;
  int64_t capacity = 0;
  int64_t position = 0;
  uint64_t stateBytes = 0; ///< caches and states, allocated at creation
  std::vector<std::vector<float>> states;   ///< CPU
  std::vector<void *> deviceStates;         ///< CUDA
  std::vector<std::vector<int64_t>> shapes;

  /// GPU buffers for a call's ids, positions and logits, kept between calls
  /// (a decode step allocates nothing) and grown when a call needs more.
  struct DeviceBuffer {
    void *p = nullptr;
    size_t bytes = 0;
    bool reserve(size_t need, std::string &why) {
      if (need <= bytes)
        return true;
      qnext::cuda::release(p);
      bytes = 0;
      if (!(p = qnext::cuda::allocate(need, why)))
        return false;
      bytes = need;
      return true;
    }
  } dIds, dPositions, dLogits;

  /// The one stream of a call's kernels (qnext::cuda::Stream).
  qnext::cuda::Stream stream;
  /// The decode step as a CUDA graph, captured anew each step and updated
  /// in place (QNEXT_CUDA_GRAPH=0: launched kernel by kernel). Off for the
  /// session once a capture fails.
  qnext::cuda::Graph decodeGraph;
  bool decodeAsGraph = true;
  /// A call failed on the GPU part-way: the caches and states are whatever
  /// the kernels that ran left, until qnext_session_reset.
  bool lost = false;

  ~qnext_session() {
    for (void *p : deviceStates)
      qnext::cuda::release(p);
    for (DeviceBuffer *b : {&dIds, &dPositions, &dLogits})
      qnext::cuda::release(b->p);
  }

  /// Runs the code on device buffers: ids and positions uploaded, logits
  /// downloaded, states in place on the GPU.
  int runOnDevice(Entry entry, const int32_t *ids, const int32_t *positions,
                  int64_t n, int64_t rows, float *logits, char **error) {
    const int64_t vocab = model->vocab;
    std::string why;
    if (lost) {
      setError(error, "an earlier GPU failure left this session's caches "
                      "undefined: reset it (qnext_session_reset) first");
      return 1;
    }
    const size_t logitBytes = size_t(rows * vocab) * sizeof(float);
    if (!dIds.reserve(n * sizeof(int32_t), why) ||
        !dPositions.reserve(n * sizeof(int32_t), why) ||
        !dLogits.reserve(logitBytes, why) ||
        !qnext::cuda::upload(dIds.p, ids, n * sizeof(int32_t), why) ||
        !qnext::cuda::upload(dPositions.p, positions, n * sizeof(int32_t), why)) {
      setError(error, why);
      return 1;
    }
    std::vector<qnext::MemRefDescriptor> d;
    d.reserve(4 + deviceStates.size());
    d.emplace_back(model->deviceWeights,
                   std::vector<int64_t>{int64_t(model->weightsSection.size)});
    d.emplace_back(dIds.p, std::vector<int64_t>{n});
    d.emplace_back(dPositions.p, std::vector<int64_t>{n});
    for (size_t i = 0; i < deviceStates.size(); ++i)
      d.emplace_back(deviceStates[i], shapes[i]);
    d.emplace_back(dLogits.p, std::vector<int64_t>{rows, vocab});
    int64_t past = position, from = n - rows;
    std::vector<void *> args = {d[0].argument(), d[1].argument(),
                                d[2].argument(), &past};
    if (entry == model->prefill)
      args.push_back(&from);
    for (size_t i = 3; i < d.size(); ++i)
      args.push_back(d[i].argument());
    bool launched = false;
    if (entry == model->decode && decodeAsGraph && graphsWanted()) {
      launched = decodeGraph.run([&] { entry(args.data()); }, why);
      if (!launched) {
        decodeAsGraph = false;
        std::fprintf(stderr,
                     "qnext runtime: the decode step is launched kernel by "
                     "kernel, not as a CUDA graph: %s\n",
                     why.c_str());
      }
    }
    if (!launched && !stream.run([&] { entry(args.data()); }, why)) {
      setError(error, why);
      return 1;
    }
    if (std::string failure = qnext::cuda::takeFailure(); !failure.empty()) {
      lost = true;
      qnext::cuda::synchronize(why);
      setError(error, "the GPU code failed: " + failure);
      return 1;
    }
    if (!qnext::cuda::synchronize(why) ||
        (logits && !qnext::cuda::download(logits, dLogits.p, logitBytes, why))) {
      lost = true; // the states moved on, the position did not
      setError(error, why);
      return 1;
    }
    position += n;
    return 0;
  }

  /// Runs prefill or decode on n tokens. Prefill writes the logits of rows
  /// [n - rows, n) (rows is n or 1); decode's one row.
  int run(Entry entry, const int32_t *ids, int64_t n, int64_t rows,
          float *logits, char **error, float *taps = nullptr) {
    const int64_t vocab = model->vocab;
    if (n <= 0) {
      setError(error, "no tokens to process");
      return 1;
    }
    if (n > capacity - position) {
      setError(error, "context full: " + std::to_string(position) + " + " +
                          std::to_string(n) + " tokens exceed the session's " +
                          std::to_string(capacity) + " (--max-context)");
      return 1;
    }
    for (int64_t i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= vocab) {
        setError(error, "token id " + std::to_string(ids[i]) + " (index " +
                            std::to_string(i) + ") is outside the vocabulary [0, " +
                            std::to_string(vocab) + ")");
        return 1;
      }
    std::vector<int32_t> positions(n);
    for (int64_t i = 0; i < n; ++i)
      positions[i] = int32_t(position + i);
    if (model->onDevice) {
      if (taps) {
        setError(error, "taps are not available on the CUDA target");
        return 1;
      }
      return runOnDevice(entry, ids, positions.data(), n, rows, logits, error);
    }
    std::vector<float> scratch;
    if (!logits) {
      scratch.resize(rows * vocab);
      logits = scratch.data();
    }
    const bool isPrefill = entry == model->prefill || entry == model->taps;
    const uint8_t *weights = model->base + model->weightsSection.offset;
    std::vector<qnext::MemRefDescriptor> d;
    d.reserve(5 + states.size());
    d.emplace_back(weights, std::vector<int64_t>{int64_t(model->weightsSection.size)});
    d.emplace_back(ids, std::vector<int64_t>{n});
    d.emplace_back(positions.data(), std::vector<int64_t>{n});
    for (size_t i = 0; i < states.size(); ++i)
      d.emplace_back(states[i].data(), shapes[i]);
    d.emplace_back(logits, std::vector<int64_t>{rows, vocab});
    if (taps)
      d.emplace_back(taps, std::vector<int64_t>{model->tapRows, n, model->hiddenSize});
    int64_t past = position, from = n - rows;
    // weights, ids, positions, past (by value), [prefill: logits_from (by
    // value)], states..., logits
    std::vector<void *> args = {d[0].argument(), d[1].argument(),
                                d[2].argument(), &past};
    if (isPrefill)
      args.push_back(&from);
    for (size_t i = 3; i < d.size(); ++i)
      args.push_back(d[i].argument());
    entry(args.data());
    position += n;
    return 0;
  }
};

extern "C" {

static qnext_model *openModel(const char *path, bool withCode, char **error) {
  auto *model = new qnext_model();
  model->path = path;
  if (!model->open(error, withCode)) {
    delete model;
    return nullptr;
  }
  return model;
}

qnext_model *qnext_model_open(const char *path, char **error) {
  return openModel(path, /*withCode=*/true, error);
}

qnext_model *qnext_model_inspect(const char *path, char **error) {
  return openModel(path, /*withCode=*/false, error);
}

void qnext_model_close(qnext_model *model) { delete model; }

int64_t qnext_model_vocab_size(const qnext_model *model) { return model->vocab; }

int64_t qnext_model_max_position_embeddings(const qnext_model *model) {
  return model->maxPositions;
}

int qnext_model_threads(const qnext_model *model) {
  return model->maxThreads ? int(model->maxThreads()) : 1;
}

int qnext_model_set_threads(qnext_model *model, int threads) {
  if (threads >= 1 && model->setThreads)
    model->setThreads(int32_t(threads));
  return qnext_model_threads(model);
}

int qnext_model_gpu_bandwidth(qnext_model *model, int repeats, double *gb_per_s,
                              char **error) {
  if (!model->onDevice) {
    setError(error, "not a CUDA artifact: its model runs on the CPU");
    return 1;
  }
  std::string why;
  *gb_per_s = qnext::cuda::copyBandwidth(size_t(256) << 20, std::max(repeats, 1), why);
  if (*gb_per_s <= 0) {
    setError(error, why.empty() ? "the GPU copy took no measurable time" : why);
    return 1;
  }
  return 0;
}

const char *qnext_model_manifest(const qnext_model *model) {
  return model->manifestText.c_str();
}

const char *qnext_model_section(const qnext_model *model, const char *name,
                                int64_t *size) {
  for (const Section &s : model->otherSections)
    if (sectionNamed(s, name)) {
      if (size)
        *size = int64_t(s.size);
      return reinterpret_cast<const char *>(model->base + s.offset);
    }
  if (size)
    *size = 0;
  return nullptr;
}

int qnext_model_verify(const qnext_model *model, char **error) {
  const Section &w = model->weightsSection;
  if (XXH3_64bits(model->base + w.offset, w.size) != w.checksum) {
    setError(error, model->path + ": weights section checksum mismatch "
                                  "(corrupt file)");
    return 1;
  }
  return 0;
}

qnext_session *qnext_session_create(qnext_model *model, int64_t maxContext,
                                    char **error) {
  if (maxContext <= 0) {
    setError(error, "max context must be positive, got " +
                        std::to_string(maxContext));
    return nullptr;
  }
  if (!model->prefill) {
    setError(error, model->path + ": opened for inspection only (its code is "
                                  "not loaded)");
    return nullptr;
  }
  auto *session = new qnext_session();
  session->model = model;
  session->capacity = maxContext;
  // Sizes saturate instead of wrapping, so an absurd max context is refused
  // below rather than allocated short.
  auto mul = [](uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
  };
  uint64_t bytes = 0;
  for (std::vector<int64_t> shape : model->stateShapes) {
    uint64_t n = 1;
    for (int64_t &d : shape) {
      if (d == -1)
        d = maxContext;
      n = mul(n, uint64_t(d));
    }
    bytes = std::min<uint64_t>(UINT64_MAX - 1, bytes + std::min(mul(n, 4), UINT64_MAX / 2));
    session->shapes.push_back(shape);
  }
  session->stateBytes = bytes;
  // Refuse what cannot fit instead of being killed for it.
  uint64_t physical = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
  if (bytes > physical / 2) {
    setError(error, "max context " + std::to_string(maxContext) + " needs " +
                        std::to_string(bytes >> 20) +
                        " MiB of caches, more than half of this machine's memory");
    delete session;
    return nullptr;
  }
  for (const std::vector<int64_t> &shape : session->shapes) {
    uint64_t n = 1;
    for (int64_t d : shape)
      n *= uint64_t(d);
    if (!model->onDevice) {
      session->states.emplace_back(n, 0.0f);
      continue;
    }
    std::string why;
    void *p = qnext::cuda::allocate(n * sizeof(float), why);
    if (p)
      session->deviceStates.push_back(p);
    if (!p || !qnext::cuda::zero(p, n * sizeof(float), why)) {
      setError(error, "GPU caches and states: " + why);
      delete session;
      return nullptr;
    }
  }
  return session;
}

void qnext_session_destroy(qnext_session *session) { delete session; }

qnext_model *qnext_session_model(const qnext_session *session) {
  return session->model;
}

void qnext_session_reset(qnext_session *session) {
  for (std::vector<float> &s : session->states)
    std::fill(s.begin(), s.end(), 0.0f);
  for (size_t i = 0; i < session->deviceStates.size(); ++i) {
    uint64_t n = 1;
    for (int64_t d : session->shapes[i])
      n *= uint64_t(d);
    std::string why;
    qnext::cuda::zero(session->deviceStates[i], n * sizeof(float), why);
  }
  session->position = 0;
  session->lost = false;
}

int64_t qnext_session_position(const qnext_session *session) {
  return session->position;
}

int64_t qnext_session_state_bytes(const qnext_session *session) {
  return int64_t(session->stateBytes);
}

int qnext_session_prefill(qnext_session *session, const int32_t *ids, int64_t n,
                          float *logits, char **error) {
  // No logits wanted: the vocabulary projection runs for one row, not n.
  return session->run(session->model->prefill, ids, n, logits ? n : 1, logits,
                      error);
}

int qnext_session_prefill_last(qnext_session *session, const int32_t *ids,
                               int64_t n, float *logits, char **error) {
  return session->run(session->model->prefill, ids, n, 1, logits, error);
}

int64_t qnext_model_tap_rows(const qnext_model *model) { return model->tapRows; }

int64_t qnext_model_hidden_size(const qnext_model *model) {
  return model->hiddenSize;
}

int qnext_session_prefill_taps(qnext_session *session, const int32_t *ids,
                               int64_t n, float *logits, float *taps,
                               char **error) {
  if (!session->model->taps) {
    setError(error, "the artifact has no taps entry point (compile it with "
                    "qnext-compile --taps)");
    return 1;
  }
  if (!taps) {
    setError(error, "taps: no output buffer");
    return 1;
  }
  return session->run(session->model->taps, ids, n, logits ? n : 1, logits,
                      error, taps);
}

int qnext_session_decode(qnext_session *session, int32_t id, float *logits,
                         char **error) {
  return session->run(session->model->decode, &id, 1, 1, logits, error);
}

void qnext_free_error(char *error) { free(error); }

} // extern "C"

//===- CodeCache.cpp - generated code kept between compiles ---------------===//

#include "qnext/Target/CodeCache.h"
#include "qnext/Support/AtomicFile.h"
#include "qnext/Target/CPUObject.h"
#include "qnext/SourceIdentity.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include "mlir/ExecutionEngine/OptUtils.h"

#include <xxhash.h>

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <tuple>

using namespace mlir::qnext;

namespace {

constexpr llvm::StringLiteral kMagic = "qnext code cache 2\n";

/// A stream that hashes what is written to it (XXH3, 128 bits).
class HashStream : public llvm::raw_ostream {
public:
  HashStream() : llvm::raw_ostream(/*unbuffered=*/false) { XXH3_128bits_reset(state); }
  ~HashStream() override {
    flush();
    XXH3_freeState(state);
  }
  /// The hash so far, as 32 hexadecimal digits.
  std::string hex() {
    flush();
    XXH128_hash_t h = XXH3_128bits_digest(state);
    return llvm::utohexstr(h.high64, /*LowerCase=*/true, /*Width=*/16) +
           llvm::utohexstr(h.low64, /*LowerCase=*/true, /*Width=*/16);
  }
  /// Hashes `text` and its length (so "ab"+"c" differs from "a"+"bc").
  void field(llvm::StringRef text) {
    uint64_t size = text.size();
    write(reinterpret_cast<const char *>(&size), sizeof size);
    write(text.data(), text.size());
  }

private:
  void write_impl(const char *data, size_t size) override {
    XXH3_128bits_update(state, data, size);
    written += size;
  }
  uint64_t current_pos() const override { return written; }

  XXH3_state_t *state = XXH3_createState();
  uint64_t written = 0;
};

/// An entry's check: the hash of its header lines and its code.
std::string entryCheck(llvm::StringRef header, llvm::ArrayRef<char> object) {
  HashStream hash;
  hash.field(header);
  hash.field(llvm::StringRef(object.data(), object.size()));
  return hash.hex();
}

/// Hashes a file by its resolved path, size and modification time (a
/// library or tool the compiler runs: a change of version changes these).
void fileIdentity(HashStream &hash, llvm::StringRef path) {
  llvm::SmallString<256> real;
  if (llvm::sys::fs::real_path(path, real))
    real = path;
  hash.field(real);
  llvm::sys::fs::file_status status;
  if (!llvm::sys::fs::status(real, status)) {
    hash.field(std::to_string(status.getSize()));
    hash.field(std::to_string(status.getLastModificationTime().time_since_epoch().count()));
  }
}

/// What identifies the compiler that makes the code: the sources it was
/// built from (cmake/SourceIdentity.cmake: two builds of the same sources,
/// with or without the sanitizers, make the same code); the shared
/// libraries its code generation runs in (LLVM's, MLIR's optimization
/// pipeline; the executable itself where they are linked into it); the
/// linker it calls (`cc`, `ld`) and the OpenMP runtime it links. Computed
/// once a process.
const std::string &compilerIdentity() {
  static std::once_flag once;
  static std::string identity;
  std::call_once(once, [] {
    HashStream hash;
    hash.field(QNEXT_SOURCE_IDENTITY);
    llvm::SmallVector<std::string> libraries;
    for (void *code : {reinterpret_cast<void *>(&llvm::sys::getHostCPUName),
                       reinterpret_cast<void *>(&mlir::makeOptimizingTransformer)}) {
      Dl_info library = {};
      if (dladdr(code, &library) && library.dli_fname &&
          !llvm::is_contained(libraries, library.dli_fname))
        libraries.push_back(library.dli_fname);
    }
    for (const std::string &library : libraries)
      fileIdentity(hash, library);
    for (const char *tool : {"cc", "ld"})
      if (auto path = llvm::sys::findProgramByName(tool))
        fileIdentity(hash, *path);
    fileIdentity(hash, QNEXT_LLVM_LIBRARY_DIR "/libomp.so");
    identity = hash.hex();
  });
  return identity;
}

llvm::Error cacheError(const std::string &path, const llvm::Twine &what) {
  return llvm::createStringError(path + ": " + what);
}

} // namespace

std::optional<CodeCache> CodeCache::fromEnvironment() {
  const char *folder = std::getenv(kVariable);
  if (!folder || !*folder)
    return std::nullopt;
  return CodeCache(folder);
}

std::string CodeCache::key(const llvm::Module &module,
                           const CPUTargetOptions &options,
                           const CPUTargetInfo &info) {
  HashStream hash;
  hash.field(compilerIdentity());
  // What the target machine is made from, and what it came to.
  hash.field(options.cpu);
  hash.field(options.features);
  hash.field(info.triple);
  hash.field(info.cpu);
  hash.field(info.features);
  llvm::WriteBitcodeToFile(module, hash);
  return hash.hex();
}

std::string CodeCache::entryPath(llvm::StringRef key) const {
  llvm::SmallString<256> path(folder);
  llvm::sys::path::append(path, key + ".so");
  return std::string(path);
}

/// An entry: "qnext code cache 2", "key: KEY", "libraries: a,b",
/// "object: SIZE", "check: HASH" (of the lines before it and the code), a
/// line each, then the code's SIZE bytes.
static std::string entryHeader(llvm::StringRef key, const CodeCache::Entry &entry) {
  return (kMagic + "key: " + key + "\nlibraries: " + llvm::join(entry.libraries, ",") +
          "\nobject: " + llvm::Twine(entry.object.size()) + "\n")
      .str();
}

llvm::Expected<std::optional<CodeCache::Entry>>
CodeCache::lookup(llvm::StringRef key) const {
  std::string path = entryPath(key);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (buffer.getError() == std::errc::no_such_file_or_directory)
    return std::nullopt;
  if (!buffer)
    return cacheError(path, buffer.getError().message());
  llvm::StringRef rest = (*buffer)->getBuffer();
  if (!rest.consume_front(kMagic))
    return cacheError(path, "not an entry of this cache's format");
  llvm::StringRef keyLine, libraries, object, check;
  std::tie(keyLine, rest) = rest.split('\n');
  std::tie(libraries, rest) = rest.split('\n');
  std::tie(object, rest) = rest.split('\n');
  std::tie(check, rest) = rest.split('\n');
  uint64_t size = 0;
  if (!keyLine.consume_front("key: ") || !libraries.consume_front("libraries: ") ||
      !object.consume_front("object: ") || object.getAsInteger(10, size) ||
      !check.consume_front("check: "))
    return cacheError(path, "a malformed entry header");
  if (keyLine != key)
    return cacheError(path, "holds the code of key " + keyLine + ", not of its name");
  if (rest.size() != size)
    return cacheError(path, "holds " + llvm::Twine(rest.size()) +
                                " bytes of code, its header says " + llvm::Twine(size));
  Entry entry;
  entry.object.assign(rest.begin(), rest.end());
  llvm::SmallVector<llvm::StringRef> names;
  libraries.split(names, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef name : names)
    entry.libraries.push_back(name.str());
  if (entryCheck(entryHeader(key, entry), entry.object) != check)
    return cacheError(path, "its contents do not match their hash");
  return entry;
}

llvm::Error CodeCache::store(llvm::StringRef key, const Entry &entry) const {
  if (llvm::sys::fs::exists(folder) && !llvm::sys::fs::is_directory(folder))
    return cacheError(folder, "not a folder");
  if (std::error_code ec = llvm::sys::fs::create_directories(folder))
    return cacheError(folder, ec.message());
  // Whole or not at all: compiles running at once may read it.
  const std::string header = entryHeader(key, entry);
  return ::qnext::writeAtomically(entryPath(key), [&](llvm::raw_ostream &os) {
    os << header << "check: " << entryCheck(header, entry.object) << "\n";
    os.write(entry.object.data(), entry.object.size());
    return llvm::Error::success();
  });
}

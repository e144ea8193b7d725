//===- CodeCache.cpp - generated code kept between compiles ---------------===//

#include "qnext/Target/CodeCache.h"
#include "qnext/Target/CPUObject.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <xxhash.h>

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

using namespace mlir::qnext;

namespace {

constexpr llvm::StringLiteral kMagic = "qnext code cache 1\n";

/// A stream that hashes what is written to it (XXH3, 64 bits).
class HashStream : public llvm::raw_ostream {
public:
  HashStream() : llvm::raw_ostream(/*unbuffered=*/false) {
    XXH3_64bits_reset(state);
  }
  ~HashStream() override {
    flush();
    XXH3_freeState(state);
  }
  uint64_t digest() {
    flush();
    return XXH3_64bits_digest(state);
  }
  /// Hashes `text` and its length (so "ab"+"c" differs from "a"+"bc").
  void field(llvm::StringRef text) {
    uint64_t size = text.size();
    write(reinterpret_cast<const char *>(&size), sizeof size);
    write(text.data(), text.size());
  }

private:
  void write_impl(const char *data, size_t size) override {
    XXH3_64bits_update(state, data, size);
    written += size;
  }
  uint64_t current_pos() const override { return written; }

  XXH3_state_t *state = XXH3_createState();
  uint64_t written = 0;
};

/// What identifies the compiler that makes the code: this executable's
/// bytes, and the LLVM library it runs (path, size, modification time).
/// Computed once a process; empty when the executable cannot be read.
const std::string &compilerIdentity() {
  static std::once_flag once;
  static std::string identity;
  std::call_once(once, [] {
    auto exe = llvm::MemoryBuffer::getFile("/proc/self/exe", /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
    if (!exe)
      return;
    HashStream hash;
    hash.field((*exe)->getBuffer());
    Dl_info library = {};
    if (dladdr(reinterpret_cast<void *>(&llvm::sys::getHostCPUName), &library) &&
        library.dli_fname) {
      llvm::sys::fs::file_status status;
      hash.field(library.dli_fname);
      if (!llvm::sys::fs::status(library.dli_fname, status)) {
        hash.field(std::to_string(status.getSize()));
        hash.field(std::to_string(
            status.getLastModificationTime().time_since_epoch().count()));
      }
    }
    identity = llvm::utohexstr(hash.digest(), /*LowerCase=*/true, /*Width=*/16);
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

llvm::Expected<std::string> CodeCache::key(const llvm::Module &module,
                                           const CPUTargetInfo &info) {
  const std::string &compiler = compilerIdentity();
  if (compiler.empty())
    return llvm::createStringError(
        "/proc/self/exe: unreadable, so the compiler's own code cannot be part "
        "of the key");
  HashStream hash;
  hash.field(compiler);
  hash.field(info.triple);
  hash.field(info.cpu);
  hash.field(info.features);
  llvm::WriteBitcodeToFile(module, hash);
  return llvm::utohexstr(hash.digest(), /*LowerCase=*/true, /*Width=*/16);
}

std::string CodeCache::entryPath(llvm::StringRef key) const {
  llvm::SmallString<256> path(folder);
  llvm::sys::path::append(path, key + ".so");
  return std::string(path);
}

llvm::Expected<std::optional<CodeCache::Entry>>
CodeCache::lookup(llvm::StringRef key) const {
  std::string path = entryPath(key);
  if (!llvm::sys::fs::exists(path))
    return std::nullopt;
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return cacheError(path, buffer.getError().message());
  // "qnext code cache 1\n", "libraries: a,b\n", "object: SIZE HASH\n", bytes.
  llvm::StringRef rest = (*buffer)->getBuffer();
  if (!rest.consume_front(kMagic))
    return cacheError(path, "not an entry of this cache's format");
  auto [libraries, afterLibraries] = rest.split('\n');
  auto [object, bytes] = afterLibraries.split('\n');
  uint64_t size = 0, hash = 0;
  auto [sizeText, hashText] = object.drop_front(object.starts_with("object: ") ? 8 : 0)
                                  .split(' ');
  if (!libraries.consume_front("libraries:") || !object.starts_with("object: ") ||
      sizeText.getAsInteger(10, size) || hashText.getAsInteger(16, hash))
    return cacheError(path, "a malformed entry header");
  if (bytes.size() != size)
    return cacheError(path, "holds " + llvm::Twine(bytes.size()) +
                                " bytes of code, its header says " + llvm::Twine(size));
  if (XXH3_64bits(bytes.data(), bytes.size()) != hash)
    return cacheError(path, "its code does not match its hash");
  Entry entry;
  entry.object.assign(bytes.begin(), bytes.end());
  llvm::SmallVector<llvm::StringRef> names;
  libraries.trim().split(names, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef name : names)
    entry.libraries.push_back(name.str());
  return entry;
}

llvm::Error CodeCache::store(llvm::StringRef key, const Entry &entry) const {
  if (llvm::sys::fs::exists(folder) && !llvm::sys::fs::is_directory(folder))
    return cacheError(folder, "not a folder");
  if (std::error_code ec = llvm::sys::fs::create_directories(folder))
    return cacheError(folder, ec.message());
  std::string path = entryPath(key);
  auto temp = llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return cacheError(path, llvm::toString(temp.takeError()));
  {
    llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    os << kMagic << "libraries: " << llvm::join(entry.libraries, ",") << "\n"
       << "object: " << entry.object.size() << " "
       << llvm::utohexstr(XXH3_64bits(entry.object.data(), entry.object.size()),
                          /*LowerCase=*/true)
       << "\n";
    os.write(entry.object.data(), entry.object.size());
    os.flush();
    if (os.has_error()) {
      std::error_code error = os.error();
      os.clear_error();
      llvm::consumeError(temp->discard());
      return cacheError(path, error.message());
    }
  }
  if (llvm::Error e = temp->keep(path))
    return cacheError(path, llvm::toString(std::move(e)));
  return llvm::Error::success();
}

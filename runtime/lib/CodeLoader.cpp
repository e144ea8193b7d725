//===- CodeLoader.cpp - an artifact's code, loaded ------------------------===//

#include "CodeLoader.h"

#include "qnext/FileChecks.h"

#include <xxhash.h>

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace qnext::runtime {

LoadedCode::~LoadedCode() {
  if (library)
    dlclose(library);
  if (fd >= 0)
    ::close(fd);
}

bool LoadedCode::load(const uint8_t *code, size_t size, std::string &why) {
  if (const char *dir = std::getenv("QNEXT_CODE_DIR"); dir && *dir) {
    // A file that stays on disk, named by the code's hash.
    char name[48];
    std::snprintf(name, sizeof name, "/qnext-code-%016llx.so",
                  (unsigned long long)XXH3_64bits(code, size));
    std::string path = dir + std::string(name);
    if (!writeReplacing(path, std::string_view(reinterpret_cast<const char *>(code), size),
                        why)) {
      why = "QNEXT_CODE_DIR: " + why;
      return false;
    }
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library)
      std::fprintf(stderr, "qnext: code loaded from %s (QNEXT_CODE_DIR)\n", path.c_str());
  } else {
    int file = memfd_create("qnext-code", MFD_CLOEXEC);
    if (file < 0) {
      why = std::string("memfd_create: ") + std::strerror(errno);
      return false;
    }
    for (size_t done = 0; done < size;) {
      ssize_t n = write(file, code + done, size - done);
      if (n <= 0) {
        ::close(file);
        why = "writing the code to memory failed";
        return false;
      }
      done += size_t(n);
    }
    std::string procPath = "/proc/self/fd/" + std::to_string(file);
    library = dlopen(procPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library)
      fd = file;
    else
      ::close(file);
  }
  if (!library) {
    why = dlerror();
    if (why.find("libomp") != std::string::npos)
      why += " (the code runs parallel loops with LLVM's OpenMP runtime: "
             "install libomp5, or compile with --parallel=false)";
    why = "loading the code: " + why;
    return false;
  }
  return true;
}

void *LoadedCode::symbol(const char *name) const {
  return library ? dlsym(library, name) : nullptr;
}

} // namespace qnext::runtime

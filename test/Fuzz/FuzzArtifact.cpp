//===- FuzzArtifact.cpp - libFuzzer target: the artifact loader -----------===//
//
// The bytes are a whole .qnx file, opened for inspection (validated like
// qnext_model_open, without loading code): header, section table, offsets,
// checksums, manifest.
//
//===----------------------------------------------------------------------===//

#include "qnext/Runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_create("qnext-fuzz", MFD_CLOEXEC);
  if (fd < 0)
    return 0;
  for (size_t done = 0; done < size;) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0)
      break;
    done += size_t(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  char *error = nullptr;
  if (qnext_model *model = qnext_model_inspect(path.c_str(), &error))
    qnext_model_close(model);
  else
    qnext_free_error(error);
  close(fd);
  return 0;
}

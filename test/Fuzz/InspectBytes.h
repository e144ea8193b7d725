//===- InspectBytes.h - shared by the artifact fuzz targets -----*- C++ -*-===//
//
// Writes bytes to an anonymous memory file and opens it with
// qnext_model_inspect (validation without loading code), as a file on disk
// would be opened.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TEST_FUZZ_INSPECTBYTES_H
#define QNEXT_TEST_FUZZ_INSPECTBYTES_H

#include "qnext/Runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

inline void inspectBytes(const uint8_t *data, size_t size) {
  int fd = memfd_create("qnext-fuzz", MFD_CLOEXEC);
  if (fd < 0)
    return;
  for (size_t done = 0; done < size;) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) {
      close(fd);
      return;
    }
    done += size_t(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  char *error = nullptr;
  if (qnext_model *model = qnext_model_inspect(path.c_str(), &error))
    qnext_model_close(model);
  else
    qnext_free_error(error);
  close(fd);
}

#endif // QNEXT_TEST_FUZZ_INSPECTBYTES_H

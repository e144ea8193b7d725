//===- FuzzSafeTensors.cpp - libFuzzer target: the safetensors reader -----===//
//
// The bytes are a whole .safetensors file image: header length, JSON header,
// data. The reader must accept or reject it with an error, never crash or
// read outside the image.
//
//===----------------------------------------------------------------------===//

#include "qnext/Model/SafeTensors.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef image(reinterpret_cast<const char *>(data), size);
  uint64_t dataStart = 0;
  auto tensors = qnext::parseSafeTensors("fuzz.safetensors", image, &dataStart);
  if (!tensors) {
    llvm::consumeError(tensors.takeError());
    return 0;
  }
  // Accepted: every tensor must lie inside the image.
  for (const qnext::TensorInfo &t : *tensors)
    if (t.begin > t.end || dataStart + t.end > size)
      __builtin_trap();
  return 0;
}

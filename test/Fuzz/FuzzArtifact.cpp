//===- FuzzArtifact.cpp - libFuzzer target: the artifact loader -----------===//
//
// The bytes are a whole .qnx file, opened for inspection (validated like
// qnext_model_open, without loading code): header, section table, offsets,
// checksums, manifest.
//
//===----------------------------------------------------------------------===//

#include "InspectBytes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  inspectBytes(data, size);
  return 0;
}

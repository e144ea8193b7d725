//===- FuzzConfig.cpp - libFuzzer target: config.json ---------------------===//
//
// The bytes are a config.json. The parser must accept it or name the field
// that is wrong; an accepted config must give a finite tensor inventory.
//
//===----------------------------------------------------------------------===//

#include "qnext/Model/Config.h"
#include "qnext/Model/WeightLayout.h"

#include "mlir/IR/Types.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  auto config = qnext::parseModelConfig(text, "config.json");
  if (!config) {
    llvm::consumeError(config.takeError());
    return 0;
  }
  qnext::WeightLayout layout(*config, [](llvm::StringRef) { return mlir::Type(); });
  (void)layout.checkpointTensors();
  (void)layout.mtpTensors();
  return 0;
}

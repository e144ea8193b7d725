//===- FuzzIR.cpp - libFuzzer target: the qnext IR parser and verifiers ---===//
//
// The bytes are MLIR text. Parsing (which runs every op verifier) must
// accept it or report a diagnostic; accepted IR then goes through
// qnext-decompose-layers, whose output must verify.
//
//===----------------------------------------------------------------------===//

#include "qnext/InitAll.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *context = [] {
    mlir::DialectRegistry registry;
    mlir::qnext::registerAllDialects(registry);
    auto *ctx = new mlir::MLIRContext(registry);
    ctx->loadAllAvailableDialects();
    ctx->printOpOnDiagnostic(false);
    mlir::qnext::registerAllPasses();
    return ctx;
  }();
  mlir::ScopedDiagnosticHandler quiet(context, [](mlir::Diagnostic &) {
    return mlir::success();
  });
  // The MLIR lexer reads up to a terminating NUL, as every file buffer has.
  std::string text(reinterpret_cast<const char *>(data), size);
  mlir::ParserConfig config(context);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, config);
  if (!module)
    return 0;
  // Valid IR always decomposes, into valid IR.
  mlir::PassManager pm(context);
  pm.enableVerifier(false);
  pm.addPass(mlir::qnext::createDecomposeLayers());
  if (mlir::failed(pm.run(*module)) || mlir::failed(mlir::verify(*module)))
    __builtin_trap();
  return 0;
}

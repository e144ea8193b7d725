//===- qnext-opt.cpp - the qnext optimizer driver -------------------------===//
//
// mlir-opt with the qnext dialect and passes: parses, verifies, transforms and
// prints IR. Every upstream dialect, pass and MLIR flag works
// (--pass-pipeline, --split-input-file, --verify-diagnostics,
// --mlir-print-ir-after-all, ...).
//
//===----------------------------------------------------------------------===//

#include "qnext/InitAll.h"
#include "qnext/Support/Version.h"

#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  qnext::setVersionPrinter("qnext-opt");
  mlir::qnext::registerAllPasses();
  mlir::DialectRegistry registry;
  mlir::qnext::registerAllDialects(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "qnext optimizer driver: the qnext dialect and passes, plus "
                  "every upstream MLIR dialect and pass\n",
      registry));
}

//===- QNextDialect.h - the qnext dialect -----------------------*- C++ -*-===//

#ifndef QNEXT_DIALECT_QNEXT_QNEXTDIALECT_H
#define QNEXT_DIALECT_QNEXT_QNEXTDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "dialects/QNext/QNextOpsDialect.h.inc"

#endif // QNEXT_DIALECT_QNEXT_QNEXTDIALECT_H

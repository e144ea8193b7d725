# Precompiled MLIR headers for the compiler's libraries, tools and tests.
#
# Every pass includes qnext/Passes/Passes.h, which names a dozen MLIR
# dialects; parsing those headers is most of a file's compile time (a 48-line
# pass: 16 s, 14 s of it in clang's front end; 4 s from the precompiled
# header). The headers are parsed once per build into the precompiled header
# of qnext_mlir_pch (an object library of one empty file), and every target
# given to qnext_precompile_mlir_headers() reuses it; gtest targets, built
# with exceptions, share a second one. The precompiled header is built with
# the same flags as the targets that reuse it (sanitizers included); a
# target's own definitions and include folders may add to them.
# -DQNEXT_PCH=OFF compiles without. Each file must still include what it
# uses (the precompiled header only saves the parsing): a missing include
# shows only in a build without it.
option(QNEXT_PCH "Precompile the MLIR headers the compiler's files share" ON)

set(QNEXT_PCH_HEADERS
  <mlir/Dialect/AMX/AMXDialect.h>
  <mlir/Dialect/Arith/IR/Arith.h>
  <mlir/Dialect/Bufferization/IR/Bufferization.h>
  <mlir/Dialect/Func/IR/FuncOps.h>
  <mlir/Dialect/GPU/IR/GPUDialect.h>
  <mlir/Dialect/LLVMIR/LLVMDialect.h>
  <mlir/Dialect/Linalg/IR/Linalg.h>
  <mlir/Dialect/Math/IR/Math.h>
  <mlir/Dialect/MemRef/IR/MemRef.h>
  <mlir/Dialect/SCF/IR/SCF.h>
  <mlir/Dialect/Tensor/IR/Tensor.h>
  <mlir/Dialect/Vector/IR/VectorOps.h>
  <mlir/Dialect/X86Vector/X86VectorDialect.h>
  <mlir/IR/Builders.h>
  <mlir/IR/PatternMatch.h>
  <mlir/Pass/Pass.h>
  <mlir/Pass/PassManager.h>
  <mlir/Transforms/DialectConversion.h>
  <mlir/Transforms/GreedyPatternRewriteDriver.h>)

if(QNEXT_PCH)
  # LLVM's flags (no exceptions, no RTTI): the libraries and the tools.
  add_library(qnext_mlir_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch/MLIRHeaders.cpp)
  llvm_update_compile_flags(qnext_mlir_pch)
  target_precompile_headers(qnext_mlir_pch PRIVATE ${QNEXT_PCH_HEADERS})
  # GoogleTest's (exceptions): the gtest units.
  add_library(qnext_mlir_pch_gtest OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch/MLIRHeaders.cpp)
  target_precompile_headers(qnext_mlir_pch_gtest PRIVATE ${QNEXT_PCH_HEADERS})
endif()

# qnext_precompile_mlir_headers([GTEST] TARGET...): TARGETs' files start from
# the precompiled MLIR headers (GTEST: the gtest units' copy).
function(qnext_precompile_mlir_headers)
  if(NOT QNEXT_PCH)
    return()
  endif()
  set(owner qnext_mlir_pch)
  if(ARGV0 STREQUAL "GTEST")
    set(owner qnext_mlir_pch_gtest)
    list(REMOVE_AT ARGV 0)
  endif()
  foreach(target ${ARGV})
    target_precompile_headers(${target} REUSE_FROM ${owner})
  endforeach()
endfunction()

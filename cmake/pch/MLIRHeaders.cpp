// The translation unit that carries qnext's precompiled MLIR headers
// (cmake/PrecompiledMLIRHeaders.cmake): its precompiled header is the one
// the compiler's libraries, tools and tests start from. It defines nothing.

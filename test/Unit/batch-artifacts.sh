#!/bin/sh
# The batch tests' artifacts (BatchTest.cpp): qnext-compile GOLDEN_DIR OUT_DIR.
# Each is compiled when its checkpoint exists; bf16 activations only where
# the CPU has AVX512-BF16 (qnext-compile refuses it elsewhere), on AMX tiles
# only where it has AMX-BF16.
set -eu
compile=$1 golden=$2 out=$3
rm -rf "$out"
mkdir -p "$out"
if [ -d "$golden/tiny-f32/checkpoint" ]; then
  "$compile" -q "$golden/tiny-f32/checkpoint" --weights=int8 -o "$out/batch-int8.qnx"
  "$compile" -q "$golden/tiny-f32/checkpoint" --weights=int4 -o "$out/batch-int4.qnx"
  # int8 activations: byte dots need AVX2 at least (vpmaddubsw).
  if grep -q avx2 /proc/cpuinfo; then
    "$compile" -q "$golden/tiny-f32/checkpoint" --weights=int4 --activations=int8 \
      -o "$out/batch-int4-activations-int8.qnx" 2>/dev/null
  fi
fi
if [ -d "$golden/fp8-tiny/checkpoint" ]; then
  "$compile" -q "$golden/fp8-tiny/checkpoint" -o "$out/batch-fp8.qnx"
fi
if [ -d "$golden/tiny-bf16-sharded/checkpoint" ] && grep -q avx512_bf16 /proc/cpuinfo; then
  "$compile" -q "$golden/tiny-bf16-sharded/checkpoint" --activations=bf16 --amx=off \
    -o "$out/batch-bf16-activations.qnx"
  if grep -q amx_bf16 /proc/cpuinfo && grep -q amx_tile /proc/cpuinfo; then
    "$compile" -q "$golden/tiny-bf16-sharded/checkpoint" --activations=bf16 --amx=on \
      -o "$out/batch-bf16-amx.qnx"
  fi
fi

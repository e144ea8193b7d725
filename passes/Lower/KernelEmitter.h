//===- KernelEmitter.h - a matched kernel as vector code --------*- C++ -*-===//
//
// Internal to passes/Lower: the emitter of one matched contraction kernel.
// KernelEmitter.cpp emits dense contractions (the loops over tasks, token
// tiles and blocks, prologues); KernelBlocks.cpp their register blocks of
// weight rows times tokens (and epilogues); GatherKernels.cpp the gather
// contractions of routed experts (a slot's expert chosen by its selector,
// and the MoE's weighted combine); DecodeWeights.cpp the weights as the
// blocks read them (widened or decoded in registers, the K loop by groups
// and tiles); Int8Dots.cpp the blocks that quantize their input and
// multiply bytes (activations=int8); BF16Dots.cpp the blocks that round
// their input to bf16 and multiply pairs (activations=bf16).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_LOWER_KERNELEMITTER_H
#define QNEXT_PASSES_LOWER_KERNELEMITTER_H

#include "ContractionKernels.h"

namespace mlir::qnext::kernels {

/// The largest of preferred, preferred-1, ..., 1 that divides n.
inline int64_t blockFor(int64_t n, int64_t preferred) {
  for (int64_t r = std::max<int64_t>(preferred, 1); r > 1; --r)
    if (n % r == 0)
      return r;
  return 1;
}

class KernelEmitter {
public:
  KernelEmitter(OpBuilder &b, Location loc, Kernel &kernel, int64_t vl,
                Activations activations = Activations::F32, bool amx = false,
                int64_t bf16Terms = 1, bool vnni = true)
      : b(b), loc(loc), c(kernel.c), kernel(kernel), vl(vl),
        activations(activations), amx(amx), bf16Terms(bf16Terms), vnni(vnni) {}

  /// Rewrites the kernel's ops; returns the replacement of its last one.
  Value emit(int64_t rows, int64_t tokenRows, int64_t tokenBlockRows,
             int64_t prologueTasks, int64_t tokenTile);

private:
  /// Tokens whose prologue rows a task keeps at once when the kernel runs
  /// on all tokens (no token-tile).
  static constexpr int64_t kPrologueSpan = 64;
  /// Rows below this length are short: a combine's take twice the rows a
  /// block (emitGatherCombine), a row gather's run one weight row after the
  /// other (emitRowGather).
  static constexpr int64_t kShortRow = 1024;
  /// A combine's blocks for the threads, at least, when narrow weights
  /// take more rows a block (emitGatherCombine).
  static constexpr int64_t kMinCombineBlocks = 32;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// lo + (hi - lo) rounded down to a multiple of tm: where the blocks of tm
  /// tokens end and the tokens taken one by one begin.
  Value fullBlocksEnd(Value lo, Value hi, int64_t tm);

  /// A block of several tokens: the weight rows it prefers (token-block-rows;
  /// half as many for a fused pair, whose two weights then keep the
  /// accumulators one weight would).
  int64_t weightRowsOfBlock(int64_t tokenBlockRows) const;

  /// A block of several tokens with tn interleaved weight rows: its tokens.
  /// A quantized weight's block sums each group from zero apart from its
  /// accumulators (sweepK's scaleSums), and int4 keeps a row's bytes from
  /// the vector of its low nibbles to that of its high ones: the K loop
  /// holds the group sums and these, the accumulators only meet them at
  /// each group's end (a load and a store where they do not fit). The
  /// tokens that keep those within the registers the options were sized
  /// for (AVX2 and AVX-512: all of token-rows), e4m3 within the register
  /// file with its decoding's three and the tokens' inputs (AVX-512: 5 of
  /// 6; AVX2: all 4).
  int64_t tokensOfBlock(int64_t tn, int64_t tokenRows, int64_t tokenBlockRows) const;

  /// Tokens t0, t0 + 1, ..., t0 + count - 1.
  SmallVector<Value> tokensFrom(Value t0, int64_t count);

  /// emitBlock(tile, tokensFrom(first, n)) for the n in [1, maxCount] that
  /// `count` holds (an scf.index_switch; another count leaves the tile).
  Value blockOfCount(Value tile, Value count, int64_t maxCount, Value first,
                     function_ref<Value(Value, ArrayRef<Value>)> emitBlock);

  /// Tokens [lo, hi) in blocks of tm (an scf.for), then the 0 to tm - 1
  /// left as one block of their count (an scf.index_switch on it), so that
  /// every token block reads its weights once. `emitBlock` computes one
  /// block of the given tokens into a tile.
  Value tokenBlocks(Value tile, Value lo, Value hi, int64_t tm,
                    function_ref<Value(Value, ArrayRef<Value>)> emitBlock);

  /// Several tokens with a prologue. For each span of `span` tokens of
  /// [lo, hi), the task computes the prologue's rows of the span once, then
  /// each block of tn weight rows of its chunk runs over the whole span
  /// (tm tokens at a time, then the rest as one block): a block's weights
  /// stay in cache while the tokens stream. (Tokens outside the row blocks
  /// would read the chunk's weights again for every block of tokens.)
  Value prologueSpans(Value tile, bool addInit, Value lo, Value hi, int64_t tm,
                      Value n0, int64_t tn, int64_t chunk, int64_t span);

  /// The prologue's rows of tokens [lo, hi) ([hi - lo, K]), token by token,
  /// each written straight into its row.
  Value prologueSpan(Value lo, Value hi);

  /// A generic's scalar body applied to vectors of `lanes`: its arguments
  /// are `args`, each scalar op becomes the same op on vectors, a scalar
  /// constant or a value from outside the body a splat of it.
  Value applyBody(linalg::GenericOp generic, ValueRange args, int64_t lanes);

  /// `tokens` (none: the one token of a rank-1 input) x the `chunk` weight
  /// rows from n0, in blocks of tn rows, into `tile` (the [T, chunk] or
  /// [chunk] window of the result at column n0). With a prologue its rows
  /// for these tokens are computed first and every block reads them.
  Value tokenBlock(Value tile, bool addInit, ArrayRef<Value> tokens, Value n0,
                   int64_t tn, int64_t chunk);

  /// The prologue generic's rows for `tokens` ([tm, K], or [K] for a rank-1
  /// input), computed a vector along K at a time: each input read at the
  /// prologue's indices of (token, k), contiguously when its map has the
  /// innermost dimension and as a splat otherwise. Written into a new
  /// buffer, or into `into` from its row `firstRow` on.
  Value prologueRows(ArrayRef<Value> tokens, Value into = {}, Value firstRow = {});

  /// A weight as a kernel reads it: values, and for a quantized one its
  /// scales (one per `group` columns of a row); `int4`: two values a byte
  /// (qnext.dequantize {int4}).
  struct Weight {
    Value values, scales;
    int64_t group = 0;
    bool int4 = false;
  };
  static Weight weightOf(const Contraction &c) {
    return {c.w, c.scales, c.group, c.int4};
  }
  /// The contraction's weights: its own, and a fused pair's second.
  SmallVector<Weight> kernelWeights();

  /// Where the K loop is: the vector of columns from `k`. With int4 weights
  /// the loop runs by tiles of 32 columns: `tile` is the tile's first
  /// column and `offset` k's place in it (a constant), so that the two
  /// vectors of one load of bytes (columns j and j + 16) are found.
  struct KStep {
    Value k, tile;
    int64_t offset = 0;
  };

  /// A vector<vl> of weights widened exactly to f32 (bf16 is the high half
  /// of an f32: zero-extend and shift).
  Value widen(Value v);

  /// The vector<vl> of `w`'s row `row` at the columns of `at`, as f32:
  /// widened, or decoded and multiplied by `scale` (scaleOf's splat for
  /// this row and group; none: decoded, unscaled).
  Value load(const Weight &w, Value row, const KStep &at, Value scale);
  Value scaled(Value decoded, Value scale);
  /// A constant vector of `type` (integer elements) holding `value`.
  Value intSplat(VectorType type, int64_t value);

  /// The splat a decoded vector of `w`'s row `row` is multiplied by in the
  /// group of columns that starts at `k0`: the row's scale of that group
  /// times the decoder's own factor (e4m3: 2^8; int8: none).
  Value scaleOf(const Weight &w, Value row, Value k0);

  /// The K loop of a register block, over [0, kExtent) a vector at a time,
  /// carrying `init`: `body(at, scales, carried)` returns the next carried
  /// values. `rows` are the (weight, row) pairs the body reads; with a
  /// quantized weight the loop runs by groups of columns and `scales[i]`
  /// is scaleOf(rows[i]) for the current group (empty otherwise); with an
  /// int4 weight each step of the loop is a tile of 32 columns, the body
  /// called for each of its vectors. With `scaleSums`, the body reads the
  /// values unscaled (no `scales`) into sums
  /// that start from zero at each group, and each group's sum is multiplied
  /// by its scale once and added: one multiply-add per group instead of a
  /// multiply per vector. Carried value i belongs to rows[rowOfCarried[i]]
  /// (default: one carried value per row, in order).
  SmallVector<Value> sweepK(
      int64_t kExtent, ValueRange init,
      ArrayRef<std::pair<Weight, Value>> rows,
      function_ref<SmallVector<Value>(const KStep &, ArrayRef<Value>, ValueRange)> body,
      bool scaleSums = false, ArrayRef<int64_t> rowOfCarried = {});

  /// `lanes` (default: vl) elements of `source` from `indices`, in bounds.
  Value read(Value source, ValueRange indices, Type elt, int64_t lanes = 0);

  /// One register block: the input rows `xTokens` of `xs` (none: rank 1)
  /// x weight rows [n0, n0 + tn), written to rows `outTokens` of `tile` at
  /// column `col`.
  Value block(Value tile, bool addInit, Value xs, ArrayRef<Value> xTokens,
              ArrayRef<Value> outTokens, Value n0, int64_t tn, Value col,
              ArrayRef<Value> outPrefix = {});

  /// The sums of one register block, a vector<tn> per token (tm of them):
  /// the input rows `xTokens` of `xs` (none: rank 1) x weight rows
  /// [n0, n0 + tn) of each of `weights` (the contraction's, or the slices of
  /// a gather's), with the epilogue's body applied.
  SmallVector<Value> blockRows(Value xs, ArrayRef<Value> xTokens, int64_t tm,
                               Value n0, int64_t tn, int64_t kExtent = 0);

  /// An input's rows quantized to int8 (activations=int8), for weights of
  /// one format and group: `bytes` [R, K] i8, each row in the order the
  /// weights' bytes are read (int8: as it is; int4: per block of 8 vectors
  /// of columns, the low halves of its tiles, then their high halves), and
  /// per row and group `scales` [R, G] f32 (max |x| / 127) and `starts`
  /// [R, G] i32, where the group's integer sum starts: minus the weights'
  /// offset (int8 128, int4 8) times the sum of the group's bytes.
  struct QuantizedInput {
    Value bytes, scales, starts;
  };

  /// What the byte dots add to each of `w`'s values to make it an unsigned
  /// byte: 8 for int4, 128 for int8 with vpdpbusd, none for int8 without
  /// (its signs go onto the input). A group's sum starts from minus this
  /// times the sum of its quantized inputs (QuantizedInput::starts, not
  /// computed when it is zero).
  int32_t byteOffset(const Weight &w) const { return w.int4 ? 8 : vnni ? 128 : 0; }

  /// Columns one step of an int8 dot covers: a load of 4 x vl bytes (int4:
  /// twice as many columns).
  int64_t int8Step(const Weight &w) const { return (w.int4 ? 8 : 4) * vl; }

  /// Whether a block of `weights` over [0, kExtent) multiplies
  /// bytes: activations=int8, every weight int8 or int4 of one group, the
  /// group and kExtent whole steps.
  bool takesInt8Dots(ArrayRef<Weight> weights, int64_t kExtent) const;

  /// `rows` rows of an f32 input quantized for weights like `w`: row r's
  /// element k is read at `at(r, k)` ({r, k} without one).
  QuantizedInput quantizeRows(Value xs, OpFoldResult rows, int64_t kExtent,
                              const Weight &w,
                              function_ref<SmallVector<Value>(Value, Value)> at = {});

  /// A register block of byte dots: rows `rows` of each of `weights` (one
  /// format and group) times rows `xRows` of `qx` over [0, kExtent), one
  /// vector<vl> of f32 per [weight][token][row] whose lanes sum to it. Per
  /// group, the byte dots' integer sums from the group's start, converted
  /// and multiplied by the weight's scale times the input's. Each weight
  /// vector's bytes are decoded once for all the tokens, and a (row,
  /// token)'s sums are the same in a block of any size (one token, a
  /// prompt's block, a row gather's run): a token's row does not depend on
  /// the tokens beside it.
  SmallVector<Value> sweepInt8(ArrayRef<Weight> weights, ArrayRef<Value> rows,
                               const QuantizedInput &qx, ArrayRef<Value> xRows,
                               int64_t kExtent);

  /// 4 x vl bytes of the [R, K] i8 `source`'s row `row` from column `at`.
  Value readBytes(Value source, Value row, Value at);

  /// The unsigned bytes of `w`'s row `row` at column `k` a byte dot step
  /// multiplies: int4 the low nibbles and the high ones (offset by 8); int8
  /// with an offset the bytes + 128; int8 without one |q| and q's signs
  /// (an i1 vector), which move onto the input (byteDotStep).
  SmallVector<Value, 2> weightBytes(const Weight &w, Value row, Value k);

  /// acc + one step of `w`'s decoded `bytes` (weightBytes) times row `xRow`
  /// of `qx` at column k.
  Value byteDotStep(const Weight &w, ArrayRef<Value> bytes, Value acc,
                    const QuantizedInput &qx, Value xRow, Value k);

  /// Where a group's integer sums start for input row `xRow`: its start
  /// (QuantizedInput::starts) in lane 0 when `w` has an offset, else zero.
  Value groupStart(const Weight &w, const QuantizedInput &qx, Value xRow, Value g);

  /// total + the group's integer sums `sum`, converted, times `w`'s scale
  /// of (row, g) times the input's of (xRow, g).
  Value scaleGroup(const Weight &w, Value row, const QuantizedInput &qx, Value xRow,
                   Value g, Value sum, Value total);

  /// acc + the products of 4 x vl unsigned bytes `u` and signed bytes `s`,
  /// summed by fours into acc's vl i32 lanes (qnext.byte_dot; `narrow`:
  /// every byte of `u` is below 128).
  Value byteDot(Value acc, Value u, Value s, bool narrow);

  /// Groups of `group` columns over [0, kExtent) (the last one partial if
  /// it must be), carrying `init`: whole groups in an scf.for.
  SmallVector<Value>
  forGroups(int64_t kExtent, int64_t group, ValueRange init,
            function_ref<SmallVector<Value>(Value, int64_t, ValueRange)> body);

  /// Whether a block of `weights` over [0, kExtent) multiplies bf16 pairs:
  /// activations=bf16, every weight bf16 as stored (not quantized), and
  /// kExtent whole steps of 2 x vl columns.
  bool takesBF16Dots(ArrayRef<Weight> weights, int64_t kExtent) const;

  /// The K loop of a bf16 block: [0, kExtent) by 2 x vl columns, carrying
  /// `init`; `body(k, carried)` returns the next carried values.
  SmallVector<Value>
  sweepBF16(int64_t kExtent, ValueRange init,
            function_ref<SmallVector<Value>(Value, ValueRange)> body);

  /// 2 x vl columns of an input from `indices` as bf16Terms bf16 vectors
  /// whose sum is the input: the first rounded to nearest even, the second
  /// (with 2 terms) the remainder rounded. Read as they are from an input
  /// rounded already (roundRowsBF16: the terms side by side, [.., terms x
  /// K]), computed from an f32 one.
  SmallVector<Value, 2> inputBF16(Value xs, ValueRange indices);

  /// Rows [lo, hi) of the f32 matrix `xs` ([T, K]) as bf16 terms, into a
  /// new [hi - lo, bf16Terms x K] tensor: term i at columns [i K, (i + 1) K).
  Value roundRowsBF16(Value xs, Value lo, Value hi);

  /// The f32 vector `x` ([K]) as bf16 terms, into a new [bf16Terms x K]
  /// tensor.
  Value roundVectorBF16(Value x);

  /// acc + every term of `x` times `w` (dpbf16 for each).
  Value dpbf16Terms(Value acc, Value w, ArrayRef<Value> x);

  /// acc + the products of bf16 pairs of `w` and `x`, summed by twos into
  /// acc's vl f32 lanes (vdpbf16ps).
  Value dpbf16(Value acc, Value w, Value x);

  /// Whether the kernel runs on AMX tiles (AMXTiles.cpp): amx, several
  /// tokens, one plain contraction (no prologue, epilogue or gather) of
  /// bf16 weights, N a multiple of 2 x kAMXRows (a block's two weight
  /// tiles) and K of kAMXColumns.
  bool takesAMX() const;

  /// Rows of an AMX tile: weight rows of a weight tile, K pairs of an input
  /// tile, tokens of an accumulator. A bf16 tile's row is kAMXColumns
  /// values (64 bytes).
  static constexpr int64_t kAMXRows = 16, kAMXColumns = 32;
  /// Tokens of a token tile for an AMX kernel (token-tile for the others).
  static constexpr int64_t kAMXTokenTile = 256;

  /// Tokens [lo, hi) of the input rounded to bf16 and packed as AMX's
  /// right-hand tiles read them: [K / 2, 2 x tokens] with the tokens
  /// rounded up to `tokenMultiple` (zeros after hi), element (k / 2,
  /// 2 t + k % 2) being token t's column k (pairs of columns, token after
  /// token). Each 16 x 16 block of pairs is one transpose.
  /// `term`: which of the input's bf16 terms (inputBF16).
  Value packTilesBF16(Value lo, Value hi, int64_t tokenMultiple, int64_t term);

  /// The kernel on AMX tiles for tokens [lo, hi): a forall over blocks of
  /// 2 x kAMXRows weight rows; each runs through the tokens 2 x kAMXRows
  /// at a time, four accumulator tiles over K (two weight tiles read as
  /// stored, two of the packed input), then writes the block transposed
  /// into `dest`'s rows. Returns the updated dest.
  Value emitAMX(Value dest, bool addInit, Value lo, Value hi);

  /// With activations=int8 and weights that take it, a gather's input rows
  /// (one, or one a slot) quantized before its forall into `gatherInput`,
  /// for every block.
  void quantizeGatherInput();

  /// blockWeights: the [N, K] slices of the kernel's stacked weights (one,
  /// or a fused pair's two) of expert `id` (an integer of the selector).
  void selectExpert(Value id);

  /// How many rows from p (1 to tm) name `expert` one after the other: a
  /// row gather's block, reading that expert's weights once.
  Value runLength(Value p, Value rows, Value expert, int64_t tm);

  /// A gather contraction's weights for the expert of slot `s`: the [N, K]
  /// slice of each stacked weight read (one, or a fused pair's two), and
  /// its input row (and with `gatherInput`, the blocks' quantized one).
  Value selectSlot(Value s);

public:
  /// A gather contraction (with its epilogue, if any): a forall over the
  /// slots' blocks of tn weight rows, each reading its slot's expert.
  Value emitGather(int64_t rows);

  /// A per-slot gather contraction and the weighted sum over its slots that
  /// reads it (y[0, n] = sum_s w[0, s] * d[0, s, n], the MoE's combine): a
  /// forall over blocks of tn rows, each running through the slots in
  /// order and adding w * its rows to registers, then writing y's rows.
  /// Rows shorter than kShortRow values (the MoE's down projection) take
  /// twice the rows per block: a block then reads as many bytes of each
  /// slot's expert, contiguously, as one of full-length rows would. Byte
  /// dots' weights (activations=int8) take twice as many again (int8) or
  /// four times (int4): the bytes of bf16 rows, while at least
  /// kMinCombineBlocks blocks remain (docs/benchmarks.md: on AVX2, int4
  /// decode with --fuse=moe).
  Value emitGatherCombine(int64_t rows);

  /// A gather of rows (with its epilogue, if any): a forall over about
  /// `tasks` chunks of weight rows; each task runs through the rows, a run
  /// of consecutive rows that name one expert (at most `tokenRows`) a
  /// register block that reads that expert's rows of the chunk once, tn at
  /// a time, its inputs staying in L1. The lowering sorts the rows by
  /// expert, so each chosen expert's weights are read once per block of
  /// its rows (once a step when it has at most tokenRows of them).
  Value emitRowGather(int64_t tokenRows, int64_t tokenBlockRows, int64_t tasks);

private:
  SmallVector<Weight> blockWeights; ///< a gather's slices for this block
  /// With activations=int8, the quantized input the blocks read (none: they
  /// read the f32 input) and, for one token's, its row for this block.
  std::optional<QuantizedInput> blockInput;
  Value blockInputRow;
  /// With activations=bf16 and several tokens, the input rows rounded to
  /// bf16 (roundRowsBF16) that the blocks read.
  Value bf16Input;
  /// Where bf16Input or blockInput holds a token tile's rows (made before
  /// its row blocks): the tile's first token, which tokenBlock rebases its
  /// tokens on. Null where the blocks pass their rows as they are.
  Value tileInputBase;
  /// A gather's quantized input rows (quantizeGatherInput), if any.
  std::optional<QuantizedInput> gatherInput;
  /// The kernel computes one token (decode, a gather): what its input is
  /// quantized or rounded for (activations=int8 or bf16), once per kernel
  /// or task.
  bool oneToken = false;
  /// blockInput holds several tokens' rows (activations=int8: a token
  /// tile's, a prologue span's, a row gather's): a block's token j reads
  /// its row xTokens[j] (see tileInputBase); otherwise every block reads
  /// row blockInputRow.
  bool int8Tokens = false;
  /// A row gather of short rows (K below kShortRow): its blocks of several
  /// tokens also run their weight rows one after the other.
  bool rowAfterRow = false;
  OpBuilder &b;
  Location loc;
  const Contraction &c;
  Kernel &kernel;
  int64_t vl;
  Activations activations;
  bool amx;
  int64_t bf16Terms;
  /// With activations=int8: vpdpbusd (int8 weights offset to unsigned
  /// bytes), or not (their signs moved onto the input: narrow byte dots).
  bool vnni;
};

} // namespace mlir::qnext::kernels

#endif // QNEXT_PASSES_LOWER_KERNELEMITTER_H

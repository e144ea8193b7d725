//===- LowerPasses.td - lowering to CPU code ---------------*- tablegen -*-===//
//
// The passes from primitive ops to the CPU's kernels and entry points
// (passes/Lower): linalg, layer outlining, the projection kernels, the
// parameters bound and the entry points' ABI.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_LOWER_PASSES_TD
#define QNEXT_LOWER_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToLinalg : Pass<"qnext-lower-to-linalg"> {
  let summary = "Lower qnext primitive ops to linalg, tensor, scf, arith and math";
  let description = [{
    Rewrites every primitive op into upstream dialects on tensors, computing
    in fp32 (weights of any stored dtype are widened exactly inside the loop
    bodies; activations must be f32, the CPU contract):

    * `qnext.linear`, the norms, `silu_mul`, `sigmoid_gate`, `gdn_gates`,
      `embedding`, `causal_conv1d` and `rope` become `linalg.generic` ops
      (reductions as reduction iterators; the RoPE table is a constant computed
      at compile time, YaRN included);
    * `qnext.gated_delta_rule` becomes, for a single token (static T = 1,
      decode), its recurrence: a `scf.for` carrying the fp32 state, the decay,
      the delta write and the read as `linalg.generic` over all heads; for
      more tokens, the chunked algorithm of spec 4.9: a `scf.for` over chunks
      of 64 tokens carrying the state, inside each chunk the WY form with
      `(I + A)^-1` by forward substitution. Both are the same op's semantics;
      the op oracles hold them to the recurrence in double precision;
    * `qnext.attention` writes K and V into the caches with
      `tensor.insert_slice` at `past`, then a `scf.for` over the query tokens
      computes fp32 softmax over `[0, past + t]`;
    * `qnext.router` computes the fp32 softmax, then repeated argmax (ties to
      the lower expert) for the top-k, then the renormalisation (in a
      `qnext.fused <router>` group: all three inside the loop over tokens);
    * `qnext.expert_swiglu` loops over tokens and their selected experts and
      reads only those experts' slices of the stacked weights (one token).
      Several tokens choose at run time: while the (token, slot) pairs are
      at most 4 an expert on average (`T * k <= 4 * E`: a batched decode
      step, a short prompt), the pairs become rows sorted by expert (a count per expert,
      an exclusive prefix sum, then each pair placed, stably: `sel[p]`,
      `tok[p]`, `pos[t, i]`), each a copy of its token's input; gate, up and
      down are gathers of rows (`linalg.generic` over (row, n, k) reading
      `W[sel[p], n, k]` in the body), the SwiGLU between, and the combine
      sums each token's slots in slot order, `y[t] = sum_i w[t, i] *
      d[pos[t, i]]`; otherwise the tokens are grouped by expert (a loop over
      the experts, each chosen one's rows gathered into multi-token
      projections). With `gather-experts`, it is
      three gather contractions instead (`linalg.generic`s over token, slot
      and row that read the expert index in their bodies): no control flow
      depends on the routing, which the GPU target needs.

    A `qnext.fused` group is lowered in its place: first its ops take the
    place of the group, the ones its kernel is built around tagged
    `qnext.fusion = #qnext.fusion<kind>` (a `swiglu` group: every op; `moe`
    and `router`: the op; `norm_linear` and `gate_linear`: the norm or the
    gate, the projection's prologue), then they are lowered like any other,
    the tags carried onto the structured ops they become, for
    `qnext-vectorize-contractions`.

    Before lowering, each op's location is named by what it computes: the
    short names of the weights it reads (`loc("in_proj_qkvz"(...))`, from
    `qnext.param` names or a layer function's `qnext.weight` arguments),
    else its own name (`loc("gated_delta_rule"(...))`). What it is lowered
    to keeps that location, and `qnext-outline-kernels` names kernels by it.

    Layer ops must be decomposed first (`qnext-decompose-layers`);
    `qnext.param` and the weight-layout ops (splits, `qnext.concat_weights`)
    are left for weight packing.
  }];
  let options = [
    Option<"gatherExperts", "gather-experts", "bool", /*default=*/"false",
           "Routed experts as gather contractions (no routing-dependent "
           "control flow)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def OutlineLayers : Pass<"qnext-outline-layers", "::mlir::ModuleOp"> {
  let summary = "Compile each distinct decoder layer once, as a function its layers call";
  let description = [{
    In every public function, a layer is the maximal run of consecutive ops
    whose `qnext.layer` is `#qnext.layer<N, kind>` (the model builder gives
    it to each layer's ops, and decomposition and the fusions to what they
    create; constants have none, and one between them does not end a run).
    The run becomes a call of a private function named `<entry>.layers.N`,
    which carries the `qnext.layer` (its ops no longer do):

    - the layer's weights (`qnext.param`) and what is computed from weights
      alone (`qnext.split_qkvz`, `qnext.split_ba`, `qnext.concat_weights`,
      reshapes of weights) stay in the caller, which binds them to the
      packed weights, and are passed as arguments; a `qnext.dequantize`
      goes into the function (its values and scales are the arguments), as
      the kernels there decode them;
    - the constants it reads are cloned into the function, so shapes stay
      static;
    - every other value it reads is an argument (the residual stream, the
      layer's caches and states, positions), and every value read after it
      is a result (the residual stream, the new states).

    A layer whose function would equal an earlier one (the same ops,
    attributes and types; locations and layers ignored) calls that one
    instead. A model
    of 48 layers of two kinds is then two functions per entry point, and
    everything after this pass, LLVM included, compiles each kind once.

    The arithmetic is unchanged; only the calls are new. Ops of no layer
    (the embedding, the final norm, the LM head, an add-norm fused across
    two layers) stay where they are.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
  let statistics = [
    Statistic<"layersOutlined", "layers-outlined", "Layers replaced by a call">,
    Statistic<"functionsMade", "functions-made", "Layer functions created">,
    Statistic<"layersShared", "layers-shared", "Layers that call an earlier layer's function">,
  ];
}

def ParallelizeHeads : Pass<"qnext-parallelize-heads"> {
  let summary = "Run the independent heads of a linalg.generic as a parallel loop";
  let description = [{
    A `linalg.generic` on tensors whose first loop is parallel with a static
    extent of at least `min-extent` (the value heads of the delta rule's
    chunk contractions and recurrence, the query heads of attention's
    weighted sums) is tiled by one along that loop into an `scf.forall`:
    each head is computed on its own slice, and the pipeline runs the
    forall's iterations on all cores like the projection kernels. The
    arithmetic of each element is unchanged, so results are bit-identical
    to the sequential form.

    With `token-tile` > 0, a generic at the top of a function whose first
    loop is parallel with a dynamic extent (token rows: a prompt's norms,
    conv, gates, residual adds, embedding, elementwise work over
    `[T, hidden]`) is tiled the same way in tiles of that many tokens, so
    that a prompt's row-wise work runs on all cores too instead of one core
    working while the others wait. Each token's arithmetic is unchanged.

    Left alone: generics inside an `scf.forall` (the projection kernels),
    those whose first loop is a reduction, those of one loop, and those
    with a dynamic first loop when `token-tile` is 0 or when they sit inside
    a loop (every trip would start a parallel loop).
  }];
  let options = [
    Option<"minExtent", "min-extent", "int64_t", /*default=*/"2",
           "Smallest static extent of the first loop worth a parallel loop">,
    Option<"tokenTile", "token-tile", "int64_t", /*default=*/"0",
           "Tokens per parallel tile of a generic whose first loop is a "
           "dynamic number of tokens (0: leave those sequential)">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect"];
  let statistics = [
    Statistic<"parallelized", "parallelized", "Generics tiled into a parallel loop over their first dimension">,
  ];
}

def LowerByteDots : Pass<"qnext-lower-byte-dots"> {
  let summary = "Make each qnext.byte_dot x86's vpdpbusd, or vpmaddubsw + vpmaddwd";
  let description = [{
    Replaces `qnext.byte_dot` (16 lanes, or 8) by x86 intrinsics, the
    op's exact result either way. With `vnni` (the default),
    `llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"` (or `.256`), the
    same operands: LLVM selects `vpdpbusd` (the 256-bit form as AVX-VNNI's
    VEX encoding where AVX512-VL is missing). Without, for CPUs that lack
    it (AVX2; AVX-512 without VNNI): `vpmaddubsw` multiplies the bytes and
    adds pairs into i16, `vpmaddwd` by ones adds those pairs into the i32
    lanes, an add the accumulator. `vpmaddubsw` saturates, so only a
    `narrow` op (lhs below 128: a pair's sum fits i16) has that lowering;
    any other is an error (qnext-vectorize-contractions with vnni=false
    makes only narrow ones). Runs after bufferization: the calls have unknown memory effects,
    which buffer deallocation refuses. The target CPU must have the
    instructions chosen (qnext-compile picks `vnni` from it); LLVM cannot
    select them otherwise.
  }];
  let options = [
    Option<"vnni", "vnni", "bool", /*default=*/"true",
           "vpdpbusd (AVX512-VNNI, AVX-VNNI); false: vpmaddubsw + vpmaddwd "
           "(AVX2, AVX512-BW)">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def OutlineKernels : Pass<"qnext-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Make each kernel a function named by what it computes";
  let description = [{
    On buffers, after `scf.forall` became `scf.parallel` and before OpenMP:
    every top-level op of a function that is or holds an `scf.parallel` (a
    kernel: a projection's row blocks, a token-tile loop around them, the
    heads of a delta rule or attention) becomes a call of a private,
    never-inlined function named `<layer>.<what>.<entry>`:

    * `<layer>`: `deltanet` or `attention` (the `qnext.layer` of the layer
      function it is in), `model` outside the layers (embedding, LM head);
    * `<what>`: the names qnext-lower-to-linalg gave the locations of what
      it was lowered from, in order, joined with `+`: the weights it reads
      (`in_proj_qkvz+in_proj_ba`, `experts.gate_proj+experts.up_proj`) or
      the op (`gated_delta_rule`, `attention`), e.g.
      `deltanet.rms_norm+in_proj_qkvz+in_proj_ba.decode`;
    * `<entry>`: the entry point's name (`prefill`, `decode`,
      `decode_batch`, ...).

    The second kernel of a name is `<name>.2`, and so on. Kernels with the
    same body and types (ignoring locations) share one function, so that
    LLVM optimizes and compiles it once: a layer's two norms, the experts of
    both layer kinds, a token loop in `prefill`, `prefill_batch` and
    `decode_batch`. A shared function's name lists, for each part, the
    distinct values of the kernels it serves, joined by `,`:
    `deltanet,attention.experts.gate_proj+experts.up_proj+experts.down_proj.prefill,decode_batch`.

    Each kernel's code is what it was inline; the symbols say where the
    time goes (`perf` with `QNEXT_CODE_DIR`, and the OpenMP outlines named
    after them), a shared function's time being that of all its kernels
    (`--profile` times each call on its own).

    With `profile`, each kernel call and each layer call is bracketed by
    calls of `qnext_kernel_hook(id, 0)` and `(id, 1)` (a pointer the runtime
    sets, nothing is called while it is null), and the object carries the
    table the runtime reports by: `qnext_kernel_count`, `qnext_kernel_names`
    (the names, each ended by a NUL: a kernel's own `<layer>.<what>.<entry>`,
    whether or not its function is shared), `qnext_kernel_bytes` (the bytes of
    weights each kernel reads per call: the weight buffers it is passed and
    reads whole) and `qnext_kernel_gathered_bytes` (the size of those it
    gathers rows of at data-dependent indices, the embedding's rows or the
    selected experts: it reads a part of them; a kernel may do both, e.g.
    the routed experts' down projections and the shared expert's).
  }];
  let options = [
    Option<"profile", "profile", "bool", /*default=*/"false",
           "Bracket each kernel and layer call with the runtime's profiling hook">,
  ];
  let dependentDialects = [
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::arith::ArithDialect"
  ];
  let statistics = [
    Statistic<"kernelsOutlined", "kernels-outlined", "Kernels made functions">,
    Statistic<"kernelsShared", "kernels-shared",
              "Kernels that call an earlier kernel's function (the same body)">,
  ];
}

def OMPSchedule : Pass<"qnext-omp-schedule"> {
  let summary = "Choose the schedule of the OpenMP worksharing loops";
  let description = [{
    `convert-scf-to-openmp` leaves the schedule of every `omp.wsloop`
    unspecified, which the OpenMP runtime runs as `static`: each thread
    takes one contiguous range of iterations (row blocks). Where the threads
    do not run at the same speed (a shared VM's cores), the fast ones then
    wait at the loop's end. This pass sets `schedule` on every loop that has
    none: `guided` hands out shrinking chunks to whichever thread is free,
    `dynamic` chunks of one, `runtime` leaves the choice to `OMP_SCHEDULE`.
  }];
  let options = [
    Option<"schedule", "schedule", "std::string", /*default=*/"\"guided\"",
           "static, dynamic, guided or runtime">,
  ];
  let statistics = [
    Statistic<"numScheduled", "scheduled", "Worksharing loops given a schedule">,
  ];
}

def BindParams : Pass<"qnext-bind-params", "::mlir::ModuleOp"> {
  let summary = "Bind every parameter to a view of one weights buffer";
  let description = [{
    Decides where each weight lives in the packed weights buffer and rewrites
    the IR to read it from there:

    * every `func.func` holding parameters gets a leading argument
      `%weights: memref<?xi8>` (the packed weights, mmap'd by the runtime);
    * each packed tensor is a `qnext.param`, or one result of
      `qnext.split_qkvz` / `qnext.split_ba` applied to one (the packer performs
      the row permutation once); it becomes
      `bufferization.to_tensor (memref.view %weights[offset])` (read-only);
    * the plan is recorded on the module as `qnext.weights`, one
      `#qnext.weight` per packed tensor (its checkpoint name, type, transform
      `none`, `qkvz.qkv`, `qkvz.z`, `ba.b`, `ba.a` or `concat` with the head
      geometry or the parts, byte offset (64-byte aligned) and size), plus
      `qnext.weights_size`; the dialect verifies it.

    Identical parameters share one packed tensor. Names with `{e}` are stacks
    of per-expert tensors, packed contiguously.
  }];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::arith::ArithDialect"
  ];
}

def EntryABI : Pass<"qnext-entry-abi", "::mlir::ModuleOp"> {
  let summary = "Give public functions a C ABI: buffers in, results written in place";
  let description = [{
    Rewrites each public `func.func` from tensors in and out to memrefs in
    and nothing out, so that generated code writes straight into buffers the
    caller owns:

    * a tensor argument becomes a memref argument read through
      `bufferization.to_tensor ... restrict` (writable when a result writes
      back into it);
    * a result whose `qnext.state` names an argument's state is written back
      into that argument's buffer (`bufferization.materialize_in_destination`):
      caches and DeltaNet states are updated in place;
    * every other result becomes a trailing out-parameter memref (for
      example the logits);
    * the function gets `llvm.emit_c_interface`, so `_mlir_ciface_<name>`
      takes memref descriptors.
  }];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect"
  ];
}

def SortGlobals : Pass<"qnext-sort-globals", "::mlir::ModuleOp"> {
  let summary = "Order the module's memref.global ops by type and value";
  let description = [{
    One-shot bufferization turns each constant tensor into a `memref.global`
    at the module's start, in the order it bufferizes the functions; that
    order comes from a map keyed by the functions' addresses, so it varies
    from run to run, and with it the order of the constants in the object's
    read-only data: the same checkpoint compiled twice gave artifacts whose
    code differed (a rope table and a zero vector swapped). This pass moves
    the module's `memref.global` ops to its start sorted by type, then
    initial value, then name, so the code does not depend on that order.
    (Two globals of one type and different values may still swap their
    generated names, which are private and not in the object's symbols.)
  }];
}

def CopyToLinalg : Pass<"qnext-copy-to-linalg"> {
  let summary = "Rewrite memref.copy as linalg.copy";
  let description = [{
    After bufferization, every `memref.copy` becomes a `linalg.copy`, which
    `convert-linalg-to-loops` turns into plain loops. Otherwise a copy between
    strided views lowers to a call of MLIR's `memrefCopy` runtime helper,
    which a model artifact must not depend on.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def VectorizeContractions : Pass<"qnext-vectorize-contractions"> {
  let summary = "Turn x * W^T contractions into parallel, register-blocked vector kernels";
  let description = [{
    Matches the `linalg.generic` contractions that `qnext-lower-to-linalg`
    emits for projections (`y[n] = sum_k W[n, k] * x[k]` and
    `y[t, n] = sum_k x[t, k] * W[n, k]`, the weight widened from bf16/f16 in
    the body) and rewrites each as:

    * an `scf.forall` over blocks of `rows` weight rows: the blocks are
      independent, so later passes may run them on several threads
      (`scf-forall-to-parallel`, then `convert-scf-to-openmp`);
    * in each block, `token-rows` tokens at a time, an `scf.for` over K in
      steps of `vector-width` that keeps one `vector<vector-width x f32>`
      accumulator per (token, row) in registers: each weight vector is loaded
      once, widened exactly (bf16: a 16-bit shift into the high half of an
      f32) and used for every token of the block; the 1 to `token-rows` - 1
      tokens left over are one smaller block (an `scf.index_switch` on their
      count), so that they too read each weight once; a block of one token
      (decode) runs one such loop per weight row instead, row after row, so
      that the block's weights are read in memory order (interleaved rows
      are streams the hardware prefetchers follow badly when rows are short;
      each accumulator sums the same products in the same order either way),
      in steps of up to 8 rows (at least two steps a block) whose sums
      gather in registers by static inserts, so that no row's sum goes
      through the stack;
    * one horizontal sum per output element at the end.

    With several tokens and `token-tile` > 0, the forall runs once per tile
    of that many tokens (an `scf.for` around it), so every row block reads a
    tile that is still in cache; the weights are read once per tile.

    Only the summation order changes (vector lanes, then a tree). A dynamic
    N (rows of W) gets blocks of one row. A contraction whose K is dynamic or
    not a multiple of `vector-width` is left alone for the scalar path.

    Epilogues: an elementwise generic tagged with a fusion
    (`qnext.fusion = #qnext.fusion<swiglu>`, a `qnext-fuse-swiglu` group
    lowered), whose two inputs are tagged contractions of
    the same input and shape read by nothing else, becomes one kernel. Each
    block accumulates the same rows of both weights (twice the accumulators),
    sums them as above and applies the generic's body to the two rows in
    registers, writing the generic's result; the contractions' results are
    never materialised. With several tokens a block of the pair takes half
    of `token-block-rows` weight rows, so that both weights together keep
    the accumulators one weight would.

    Prologues: a contraction whose input is the result of a generic tagged
    `norm_linear` or `gate_linear` (a `qnext-fuse-norm-linear` or
    `qnext-fuse-gate-linear` group lowered; directly, or
    through a `tensor.collapse_shape` that merges its feature dimensions into
    K), which nothing else reads, computes that input itself. The generic
    must be elementwise with broadcasts (each input map takes dimensions in
    order). The kernel's tasks are then chunks of row blocks (about
    `prologue-tasks` of them); each computes the prologue's rows once, a
    vector along K at a time with the generic's body, into a buffer its row
    blocks read: one token's row, or with several tokens the rows of a span
    of tokens (the token tile, else 64), each row block then running over
    the whole span so that its weights are read once per span. The
    normalised or gated activations are never written to memory shared
    between kernels.

    Gathers: one token's routed experts in qnext-lower-to-linalg's gather
    form, `y[0, s, n] = sum_k x[k] * W[sel[0, s], n, k]` (W stacked
    [E, N, K], x one row or one per slot), become one kernel for all the
    slots: a forall over every slot's blocks of `rows` weight rows, each
    reading its slot's expert. A tagged silu * mul over two of them (gate and
    up) is their epilogue, as above. A weighted sum over the slots of a
    per-slot gather, `y[0, n] = sum_s w[0, s] * d[0, s, n]` (the combine), is
    computed in the down projection's kernel: each block of rows (twice
    `rows` when K is below 1024, so that a block reads as many bytes of each
    expert as one of longer rows) runs through the slots in order, adding
    `w * rows` in registers, and writes y once.
    When the combine's result is read only by an elementwise add of the
    MoE's shared expert, `add(y, gate(down, logit))` with `down` the
    one-token contraction `h_s * W_down^T` of the same rows and `logit` one
    value broadcast (its sigmoid gate), that is the kernel's epilogue: after
    the slots each block computes its rows of `down`, applies the gate's and
    the add's bodies in registers and writes the MoE's output once.
    Same order per element as the generics: bit-identical results.

    Gathers of rows: `y[p, n] = sum_k x[p, k] * W[sel[p], n, k]` (several
    tokens' routed experts, their (token, slot) pairs as rows sorted by
    expert, y starting from zero) become one kernel for all the experts: a
    forall over about `prologue-tasks` chunks of weight rows; each task runs
    through the rows, and a row that starts a block counts how many of the
    next rows name the same expert (at most `token-rows` in all; fewer for
    a quantized weight's interleaved rows, whose scale splats take
    registers too), slices that expert's weights and computes the block's
    rows for each `token-block-rows` weight rows of its chunk (half as many
    for a fused pair; an `scf.index_switch` on the count), the block's
    inputs staying in L1: each chosen expert's weights are read once per
    block of its consecutive rows (once per call when it has at most
    `token-rows` of them). Rows shorter than 1024 values (the
    down projection's) run one weight row after the other, each vector of
    it used for every row of the block (interleaved short rows are streams
    the prefetchers follow badly); longer ones interleave their weight rows
    as a prompt's blocks do. A tagged silu * mul over two of them is their
    epilogue, as above. The kernel is correct for rows in any order (a run
    is then shorter).

    Quantized weights: a contraction whose weight is a `qnext.dequantize`
    (directly, through a slice that keeps whole rows, or in a gather's body)
    reads the values and the scales instead. Its K loop runs by groups of
    columns: per group and weight row, one scale is read and splatted
    (times the decoding's factor), and each vector of values is decoded in
    registers and multiplied by it before the same FMAs (e4m3: sign-extend
    to i16, shift left by 7, mask sign, exponent and mantissa, read as f16
    and widened to f32, the splat carrying 2^8; int8: sign-extend and
    convert; int4, two values a byte in tiles of 32 columns: the K loop
    steps a tile at a time, and a vector of bytes, sign-extended to i32,
    gives the tile's low columns by two shifts and its high ones by one).
    The group must be whole vectors (int4: vectors of at most 16 bytes).
    Every block, of one token or several, sums each group's products of
    unscaled values from zero and multiplies the sum by the scale once
    (sum += s * (q . x)): one multiply-add per group instead of a multiply
    per vector; within the weight-exact contract (1e-3), not equal to the
    bit to `(s * q) . x`. Each token and row keeps one accumulator in K
    order, so a token's row is the same arithmetic in a block of any size.
    With several tokens a quantized block's K loop holds the group sums
    (and int4's bytes); its accumulators only meet them at a group's end
    and may live in memory, so it takes as many tokens as an unquantized
    block where those fit; e4m3 as many as fit the register file beside
    its decoding's three registers and each token's input (AVX-512's
    options: 5 tokens x 4 rows, not 6). A dequantize
    that no kernel consumed is an error: no dequantized weight is ever
    materialised.

    With `activations=int8` (a separate mode, not weight-exact), a kernel
    whose weights are int8 or int4 quantizes its input too, per row and per
    group of the weights' columns (`scale = max|x| / 127`, q rounded to
    nearest even), once before the kernel's tasks (one token's row, a token
    tile's rows, a row gather's rows; where a prologue computes the input:
    in each task for one token, per span of tokens for several), and
    multiplies bytes with
    `qnext.byte_dot` (`qnext-lower-byte-dots` makes it `vpdpbusd`, 64
    multiply-adds into 16 i32 lanes, or with `vnni=false` `vpmaddubsw` +
    `vpmaddwd`). The byte dot multiplies unsigned by signed bytes: the
    weights are made unsigned by an offset (int8 with `vnni`: `q xor 0x80` =
    q + 128; int4: each nibble `xor 8` = q + 8, the two nibbles split by a
    mask and a shift: `narrow`) and each group's sum starts from minus the
    offset times the sum of its quantized inputs. Without `vnni` int8
    weights are not offset: the unsigned bytes are |q| and each input byte
    takes the sign of its q (`narrow`: `vpmaddubsw`'s i16 pairs cannot
    saturate), every group starting from zero. The quantized input is stored in the order the
    weights' bytes are read (int4: per block of 8 vectors of columns, the
    tiles' low halves, then their high ones). Each group's integer sum is
    converted once and multiplied by the weight's scale times the input's.
    A block of several tokens decodes each weight vector's bytes once for
    all its tokens; each (row, token) sums as a one-token block does, so a
    token's row does not depend on the tokens beside it. The kernel then
    takes, besides whole vectors, groups and K in whole loads of 4 x
    `vector-width` bytes (int4: 8 x `vector-width` columns); one that does
    not, and FP8 weights, keep the f32 decoding.

    With `activations=bf16` (a separate mode, not weight-exact), every
    block whose weights are bf16 as stored (one token or several, dense or
    a gather's, a fused pair's two) multiplies them by its input rounded to
    bf16 (to nearest even, `arith.truncf`), 2 x `vector-width` columns a
    step, with AVX512-BF16's `vdpbf16ps` (`x86vector.avx512.dot`: pairs of
    bf16 products summed into f32 lanes), then sums the lanes as the f32
    path does. The input is rounded once into a bf16 tensor the blocks
    read: a token tile's rows before the forall over row blocks, a
    prologue's span where a task computes it, one token's row once per task
    (a one-token kernel is then cut into about `prologue-tasks` chunks of
    row blocks, as with a prologue), a gather slot's row once per block.
    Every block sums a row's products in the same order, so a token's
    logits do not depend on how its prompt is tiled. The kernel takes K in
    whole steps of 2 x `vector-width` columns; one that does not, and
    weights of any other format, keep f32 inputs.

    With `amx` (and `activations=bf16`, `vector-width=16`), a kernel of
    several tokens whose weight is bf16 as stored, with no prologue,
    epilogue or gather, N a multiple of 32 and K of 32, multiplies on AMX
    tiles (the `amx` dialect: `amx.tile_mulf` is tdpbf16ps, 16 x 16 x 32
    multiply-adds an instruction). The weight is the left-hand operand as
    stored: a tile is 16 weight rows of 32 columns, read in place through
    `bufferization.to_buffer` (read only). Its token tiles (with
    `token-tile` set) hold 256 tokens: the blocks are bound by the tiles'
    reads, not by registers, and a larger tile reads each weight less
    often. Per token tile, the input is
    rounded to bf16 (as above) and packed once, before the forall, as the
    right-hand tiles read it: `[K / 2, 2 x tokens]`, pairs of columns token
    after token, the tokens rounded up to 32 with zeros (a 16 x 16 transpose
    of 32-bit pairs by shuffles per 16 tokens and 32 columns). The forall
    runs over blocks of 32 weight rows; each goes through the tokens 32 at a
    time: four accumulator tiles (2 weight tiles x 2 input tiles) over K,
    stored into a 32 x 32 f32 buffer of the task's own, transposed by
    shuffles into a second one and written a token's row at a time (the
    tokens that exist).
    A token's sums run over K in the same order whatever its tile or
    block, so its logits do not depend on how the prompt is cut. One-token
    kernels and the rest keep the blocks above.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "f32 lanes per vector (8 for AVX2, 16 for AVX-512)">,
    Option<"rows", "rows", "int64_t", /*default=*/"4",
           "weight rows per register block (one token)">,
    Option<"tokenRows", "token-rows", "int64_t", /*default=*/"4",
           "tokens per register block when there are several">,
    Option<"tokenBlockRows", "token-block-rows", "int64_t", /*default=*/"2",
           "weight rows per register block when there are several tokens">,
    Option<"prologueTasks", "prologue-tasks", "int64_t", /*default=*/"16",
           "tasks a kernel with a prologue is split into at least (each "
           "computes the prologue once)">,
    Option<"tokenTile", "token-tile", "int64_t", /*default=*/"0",
           "with several tokens, run the kernel on tiles of this many "
           "tokens one after the other, so a tile's inputs stay in cache "
           "(0: all tokens at once; with amx, a positive value means 256 "
           "for the kernels on AMX tiles)">,
    Option<"activations", "activations", "std::string", /*default=*/"\"f32\"",
           "what the kernels multiply weights by: 'f32' (the input as it "
           "is, weight-exact), 'int8' (kernels of int8/int4 weights: the "
           "input quantized per row and group on the fly, bytes multiplied "
           "with vpdpbusd, or with vnni=false vpmaddubsw + vpmaddwd) or "
           "'bf16' (kernels of bf16 weights: the input "
           "rounded to bf16, pairs multiplied with vdpbf16ps: needs "
           "AVX512-BF16, with AVX512-VL at vector-width 8)">,
    Option<"bf16Terms", "bf16-terms", "int64_t", /*default=*/"1",
           "with activations=bf16: each input as the sum of this many bf16 "
           "values, each multiplied (1: rounded to nearest even, ~2^-9 "
           "relative error; 2: the rounding's remainder rounded and "
           "multiplied too, ~2^-17, twice the products)">,
    Option<"vnni", "vnni", "bool", /*default=*/"true",
           "with activations=int8: the target has vpdpbusd (int8 weights "
           "offset to unsigned bytes); false: its byte dots become "
           "vpmaddubsw + vpmaddwd (AVX2, AVX512-BW), int8 weights' signs moved "
           "onto the input so both fit them (qnext-lower-byte-dots vnni=false "
           "must follow)">,
    Option<"amx", "amx", "bool", /*default=*/"false",
           "with activations=bf16: kernels of several tokens whose weights "
           "are bf16 multiply on AMX tiles (tdpbf16ps; needs AMX-BF16, "
           "vector-width 16), a token tile's input rounded and packed once">,
  ];
  let statistics = [
    Statistic<"numMatvecs", "matvecs", "Single-token contractions vectorized">,
    Statistic<"numMatmuls", "matmuls", "Multi-token contractions vectorized">,
    Statistic<"numSkipped", "skipped", "Contractions left to the scalar path">,
    Statistic<"numEpilogues", "epilogues", "Pairs of contractions fused with their elementwise epilogue">,
    Statistic<"numPrologues", "prologues", "Contractions that compute their input's prologue">,
    Statistic<"numGathers", "gathers", "Gather contractions (one token's routed experts) vectorized">,
    Statistic<"numCombines", "combines", "Weighted sums over a gather's slots computed in its kernel">,
    Statistic<"numSharedExperts", "shared-experts", "Shared experts computed in a combine's kernel">,
  ];
  let dependentDialects = [
    "::mlir::amx::AMXDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
    "::mlir::x86vector::X86VectorDialect"
  ];
}

#endif // QNEXT_LOWER_PASSES_TD

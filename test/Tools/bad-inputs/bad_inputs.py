"""The bad-input table: every case hands a tool one broken input (config.json,
safetensors, index, artifact, tokenizer.json, chat template, generation
config, token ids, text, command-line values) and asserts
that it exits with status 1 (not a signal, not a crash), prints exactly one
error line, that the line matches the expected message (naming the file and
the field), and that no output was created or overwritten.

Usage: bad_inputs.py WORKDIR QNEXT_SYNTH QNEXT_COMPILE QNEXT_RUN QNEXT_BENCH QNEXT_TOKENIZE
                     QNEXT_RESEAL
Prints one line per case and "bad inputs: N cases, N failed".

The cases are in checkpoint_cases.py, artifact_cases.py and tool_cases.py;
harness.py builds the good inputs they break, records and runs them.
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import harness  # noqa: E402 (the tools from argv; builds the good inputs)
import checkpoint_cases  # noqa: E402,F401 (each module records its cases)
import artifact_cases  # noqa: E402,F401
import tool_cases  # noqa: E402,F401

harness.run_all()

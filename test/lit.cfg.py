# -*- Python -*-
# lit configuration of the qnext suite: every *.mlir under test/ is a test.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "qnext"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qnext_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Unit", "Model", "Fuzz"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()  # FileCheck, not, count
# A leading `not` is found on PATH (the substitutions only cover `| not`).
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [os.path.join(config.qnext_obj_root, "bin"), config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["qnext-opt", "qnext-compile", "qnext-synth", "qnext-run", "qnext-bench",
     "qnext-tokenize"], tool_dirs)

# %models: checked-in model configs; %golden: ../shared/golden beside the
# checkout, when there (CI has it; the tests that need it say REQUIRES: golden).
config.substitutions.append(("%models", os.path.join(config.qnext_src_root, "test", "Model")))
golden = os.path.join(os.path.dirname(config.qnext_src_root), "shared", "golden")
if os.path.isdir(golden):
    config.available_features.add("golden")
    config.substitutions.append(("%golden", golden))

# %tokenizer: ../shared/tokenizer (Qwen's real tokenizer files and golden ids).
tokenizer = os.path.join(os.path.dirname(config.qnext_src_root), "shared", "tokenizer")
if os.path.isdir(tokenizer):
    config.available_features.add("qwen-tokenizer")
    config.substitutions.append(("%tokenizer", tokenizer))

# Built with ASan + UBSan (scripts/sanitize): memory figures measure the
# sanitizer's quarantine, not qnext.
if getattr(config, "qnext_sanitize", False):
    config.available_features.add("asan")

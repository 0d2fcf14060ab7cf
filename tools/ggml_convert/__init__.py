"""CTranslate2 Whisper model.bin -> whisper.cpp ggml, standard library only.

Modules, in data-flow order: ct2 (model.bin reader), assets (mel filters and
tiktoken readers), mapping (CT2 -> OpenAI names and dtypes), layout (what
whisper.cpp loads), ggml (writer, reader, validator), converter (convert()),
selftest. The command line is tools/ct2_to_ggml.py.
"""

from .converter import ConversionResult, convert
from .ct2 import read_ct2
from .errors import ConversionError
from .ggml import check_file, read_ggml, validate_ggml
from .selftest import self_test

__all__ = ["ConversionError", "ConversionResult", "check_file", "convert", "read_ct2",
           "read_ggml", "self_test", "validate_ggml"]

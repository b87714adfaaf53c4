"""The API's JSON renderer: DRF's, with the encoding done by orjson where the bytes are DRF's.

DRF's ``JSONRenderer`` encodes with the standard library's ``json``: a page of 5 assistants
(2.3 KB) took ~226 k instructions, a tenth of a list request; orjson takes ~25 k for the same
bytes (docs/benchmarks.md, "API overhead"). What orjson writes differently from ``json``, and
what happens to it here:

- datetimes, dates, times and dataclasses go through DRF's own encoder (``default``), as they
  did: orjson's text for them differs ("+00:00" for DRF's "Z", for one);
- U+2028 and U+2029 are escaped afterwards, as DRF escapes them for JavaScript;
- what orjson refuses (keys that are not strings, integers beyond 64 bits, nesting deeper
  than 254 levels, lone surrogates) is rendered by DRF's renderer, as before;
- an indented rendering (``Accept: application/json; indent=4``) is DRF's;
- floats are written in the shortest form that reads back as the same number, by both; only
  the spelling of exponents can differ (``1e16`` where ``json`` writes ``1e+16``); NaN and
  infinities, which DRF's strict JSON refuses with an error, are written as null. The API's
  own floats are validated finite numbers.
"""

from __future__ import annotations

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_LINE_SEPARATORS = b"\xe2\x80"  # the UTF-8 of U+2028 and U+2029 starts with these two bytes


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if (data is None or self.ensure_ascii or not self.compact or self.encoder_class is not JSONEncoder
                or self.get_indent(accepted_media_type, renderer_context or {}) is not None):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            encoded = orjson.dumps(data, default=_drf_default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _LINE_SEPARATORS in encoded:
            encoded = encoded.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
        return encoded


_drf_default = JSONEncoder().default

"""Encoding detection and streaming decode into record-aligned text blocks.

Undecodable bytes are never replaced silently: they decode to marker code points (lone surrogates,
which no valid input can produce), the lines holding them are reported, then the markers become
U+FFFD so the rest of the block can still be tokenised.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from files.domain.errors import ErrorCode, file_rejected

SAMPLE_BYTES = 256 * 1024
_MARK_HANDLER = "files.mark-undecodable"
_MARKED = re.compile("[\udc00-\udcff]")


class _MarkCount:
    """How often the handler ran; a block decoded without it holds no markers and needs no scan.
    Shared by all threads, so a concurrent parse can only cause a needless scan, never a missed one."""

    calls = 0


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    _MarkCount.calls += 1
    bad = error.object[error.start:error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error(_MARK_HANDLER, _mark_undecodable)


@dataclass(frozen=True, slots=True)
class DetectedEncoding:
    codec: str  # Python codec name used to decode
    label: str  # what the preview shows
    certain: bool  # BOM or explicit option; False for the UTF-8 check and the single-byte fallbacks


_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32LE (BOM)"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32BE (BOM)"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 (BOM)"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16LE (BOM)"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16BE (BOM)"),
)


def detect_encoding(sample: bytes, explicit: str | None = None) -> DetectedEncoding:
    if explicit is not None:
        try:
            codec = codecs.lookup(explicit).name
        except LookupError:
            raise file_rejected(ErrorCode.ENCODING_UNSUPPORTED, f"unknown encoding {explicit!r}",
                                params={"encoding": explicit}) from None
        return DetectedEncoding(codec=codec, label=codec, certain=True)
    for bom, codec, label in _BOMS:
        if sample.startswith(bom):
            return DetectedEncoding(codec=codec, label=label, certain=True)
    head = sample[:4096]
    if len(head) >= 4:
        even_nuls, odd_nuls = head[0::2].count(0), head[1::2].count(0)
        half = len(head) // 2
        # ASCII text in UTF-16 without a BOM: every other byte is NUL.
        if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
            return DetectedEncoding(codec="utf-16-le", label="UTF-16LE", certain=False)
        if even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
            return DetectedEncoding(codec="utf-16-be", label="UTF-16BE", certain=False)
    try:
        # final=False: the sample may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return DetectedEncoding(codec="utf-8", label="UTF-8", certain=False)
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return DetectedEncoding(codec="cp1252", label="windows-1252", certain=False)
    except UnicodeDecodeError:
        return DetectedEncoding(codec="latin-1", label="ISO-8859-1", certain=False)


def read_sample(stream: BinaryIO, size: int = SAMPLE_BYTES) -> bytes:
    stream.seek(0)
    sample = stream.read(size)
    stream.seek(0)
    return sample


def decode_sample(sample: bytes, encoding: DetectedEncoding) -> str:
    """The sample's text up to its last complete line (markers replaced, for sniffing only)."""
    text = codecs.getincrementaldecoder(encoding.codec)(errors=_MARK_HANDLER).decode(sample, final=False)
    if len(sample) >= SAMPLE_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return _MARKED.sub("\ufffd", text)


@dataclass(frozen=True, slots=True)
class TextBlock:
    text: str  # whole lines; undecodable bytes already replaced by U+FFFD
    first_line: int  # physical line number of the block's first line
    line_count: int
    bad_lines: frozenset[int]  # lines that held undecodable bytes


def count_lines(text: str) -> int:
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def _read_to_line_end(wrapper: io.TextIOWrapper, parts: list[str]) -> None:
    # readline() also stops at a lone "\r"; we only treat "\n" as a line end.
    while True:
        more = wrapper.readline()
        if not more:
            return
        parts.append(more)
        if more.endswith("\n"):
            return


def iter_text_blocks(stream: BinaryIO, encoding: DetectedEncoding, *, block_chars: int,
                     quote: str | None, translate_cr: bool = False) -> Iterator[TextBlock]:
    """Blocks of whole records: a block never ends inside a quoted field (quote counts stay even)."""
    stream.seek(0)
    wrapper = io.TextIOWrapper(stream, encoding=encoding.codec, errors=_MARK_HANDLER,
                               newline=None if translate_cr else "")
    max_chars = 8 * block_chars  # an unbalanced quote must not swallow the whole file
    next_line = 1
    try:
        # The wrapper decodes ahead, so once the handler has run, every later block may hold markers.
        marks_at_start = _MarkCount.calls
        while True:
            head = wrapper.read(block_chars)
            if not head:
                return
            parts = [head]
            if not head.endswith("\n"):
                _read_to_line_end(wrapper, parts)
            if quote is not None and any(quote in part for part in parts):
                open_quotes = sum(part.count(quote) for part in parts) % 2
                size = sum(map(len, parts))
                while open_quotes and size < max_chars:
                    before = len(parts)
                    _read_to_line_end(wrapper, parts)
                    if len(parts) == before:
                        break
                    open_quotes = (open_quotes + sum(p.count(quote) for p in parts[before:])) % 2
                    size += sum(len(p) for p in parts[before:])
            text = "".join(parts)
            bad_lines: frozenset[int] = frozenset()
            if _MarkCount.calls != marks_at_start and _MARKED.search(text):
                bad_lines = frozenset(next_line + text.count("\n", 0, m.start()) for m in _MARKED.finditer(text))
                text = _MARKED.sub("\ufffd", text)
            lines = count_lines(text)
            yield TextBlock(text=text, first_line=next_line, line_count=lines, bad_lines=bad_lines)
            next_line += lines
    finally:
        with contextlib.suppress(ValueError):  # the caller may have closed the stream already
            wrapper.detach()  # leave the caller's stream open

"""Machine-translation metrics: BLEU and TER, equal to sacrebleu's defaults. Taught in notebook 10.

- BLEU (Papineni et al. 2002, "BLEU: a Method for Automatic Evaluation of Machine Translation"):
  ``BP * exp(mean_n log p_n)`` with clipped n-gram precisions ``p_n`` (n = 1..4) pooled over the
  corpus and the brevity penalty ``BP = min(1, exp(1 - r / c))``. Smoothing methods follow Chen &
  Cherry 2014 ("A Systematic Comparison of Smoothing Techniques for Sentence-Level BLEU"): ``none``,
  ``floor`` (method 1), ``add-k`` (method 2), ``exp`` (method 3, NIST's). Text is tokenized with
  mteval-v13a's rules (``tokenize_13a``), as sacrebleu does by default (Post 2018, "A Call for
  Clarity in Reporting BLEU Scores"). Scores are in [0, 100].
- TER (Snover et al. 2006, "A Study of Translation Edit Rate with Targeted Human Annotation"):
  (insertions + deletions + substitutions + block shifts) / reference length, as in Tercom:
  shifts are chosen greedily while they lower the word edit distance, which is computed in a
  beam around the diagonal. Defaults as sacrebleu's ``TER()``: lower-cased, whitespace split.

References follow sacrebleu's layout: a list of reference *streams*, ``references[k][i]`` being
the k-th reference of segment ``i``; ``None`` marks a missing reference (variable counts).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from nlp_course.utils import check_number

SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}

# mteval-v13a: split off punctuation and symbols; '.' and ',' only when not inside a number;
# '-' after a digit.
_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line: str) -> list[str]:
    """The mteval-v13a tokenizer used by WMT and sacrebleu's default BLEU."""
    if not isinstance(line, str):
        raise TypeError(f"line must be a str, got {type(line).__name__}")
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
        line = line.replace(entity, char)
    line = f" {line} "
    for pattern, repl in _13A_RULES:
        line = pattern.sub(repl, line)
    return line.split()


@dataclass(frozen=True)
class BleuScore:
    score: float  # 0..100
    precisions: list[float]  # 0..100, one per order
    bp: float
    sys_len: int
    ref_len: int
    counts: list[int]  # clipped matches per order
    totals: list[int]  # hypothesis n-grams per order


@dataclass(frozen=True)
class TerScore:
    score: float  # 100 * edits / ref_length
    num_edits: float
    ref_length: float


def _segments(hypotheses, references, name: str) -> list[tuple[str, list[str]]]:
    """Validate sacrebleu-style inputs; return (hypothesis, [references]) per segment."""
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise TypeError(f"hypotheses must be a list of str, got {type(hypotheses).__name__}")
    if len(hypotheses) == 0:
        raise ValueError(f"{name}: hypotheses is empty (a corpus score needs at least one segment)")
    if isinstance(references, str) or not isinstance(references, Sequence) or not references:
        raise TypeError(f"{name}: references must be a non-empty list of reference streams")
    for k, stream in enumerate(references):
        if isinstance(stream, str) or not isinstance(stream, Sequence):
            raise TypeError(f"references[{k}] must be a list of str (one per hypothesis)")
        if len(stream) != len(hypotheses):
            raise ValueError(f"references[{k}] has {len(stream)} segments, "
                             f"hypotheses has {len(hypotheses)}")
    out = []
    for i, hyp in enumerate(hypotheses):
        if not isinstance(hyp, str):
            raise TypeError(f"hypotheses[{i}] must be a str, got {type(hyp).__name__}")
        refs = [stream[i] for stream in references if stream[i] is not None]
        if not refs:
            raise ValueError(f"segment {i} has no reference (all are None)")
        if not all(isinstance(r, str) for r in refs):
            raise TypeError(f"references of segment {i} must be str or None")
        out.append((hyp, refs))
    return out


def _ngrams(tokens: list[str], max_order: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for n in range(1, max_order + 1)
                   for i in range(len(tokens) - n + 1))


def bleu_from_stats(correct, total, sys_len: int, ref_len: int, smooth_method: str = "exp",
                    smooth_value: float | None = None, effective_order: bool = False) -> BleuScore:
    """BLEU from corpus sufficient statistics (clipped matches and totals per order, lengths)."""
    if smooth_method not in SMOOTH_DEFAULTS:
        raise ValueError(f"smooth_method must be one of {sorted(SMOOTH_DEFAULTS)}, "
                         f"got {smooth_method!r}")
    if len(correct) != len(total) or not correct:
        raise ValueError("correct and total must be non-empty and of equal length")
    if smooth_value is None:
        smooth_value = SMOOTH_DEFAULTS[smooth_method]
    else:
        smooth_value = check_number("smooth_value", smooth_value, low=0.0)
    correct, total, order = list(correct), list(total), len(correct)
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * order
    if not any(correct):  # no match at any order: 0 whatever the smoothing
        return BleuScore(0.0, precisions, bp, sys_len, ref_len, correct, total)
    halvings, eff_order = 1.0, order
    for n in range(order):
        if smooth_method == "add-k" and n > 0:  # add k to matches and totals of orders >= 2
            correct[n] += smooth_value
            total[n] += smooth_value
        if total[n] == 0:  # hypothesis shorter than n tokens: orders >= n are undefined
            break
        if effective_order:
            eff_order = n + 1
        if correct[n] != 0:
            precisions[n] = 100.0 * correct[n] / total[n]
        elif smooth_method == "exp":  # 1 / (2^k * total) for the k-th order with no match
            halvings *= 2
            precisions[n] = 100.0 / (halvings * total[n])
        elif smooth_method == "floor":
            precisions[n] = 100.0 * smooth_value / total[n]
    used = precisions[:eff_order]
    score = 0.0 if min(used) == 0.0 else bp * math.exp(sum(math.log(p) for p in used) / eff_order)
    return BleuScore(score, precisions, bp, sys_len, ref_len, correct, total)


def _closest_ref_len(hyp_len: int, ref_lens: list[int]) -> int:
    """The reference length closest to the hypothesis length; ties go to the shorter one."""
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str | None]],
                smooth_method: str = "exp", smooth_value: float | None = None,
                max_order: int = 4, effective_order: bool = False, lowercase: bool = False,
                tokenize: str = "13a") -> BleuScore:
    """Corpus BLEU: statistics summed over segments, then one score (not a mean of sentences)."""
    if max_order < 1:
        raise ValueError(f"max_order must be >= 1, got {max_order}")
    if tokenize not in ("13a", "none"):
        raise ValueError(f"tokenize must be '13a' or 'none', got {tokenize!r}")

    def prep(text: str) -> list[str]:
        text = (text.lower() if lowercase else text).rstrip()
        return tokenize_13a(text) if tokenize == "13a" else text.split()

    correct, total = [0] * max_order, [0] * max_order
    sys_len = ref_len = 0
    for hyp, refs in _segments(hypotheses, references, "corpus_bleu"):
        hyp_tokens = prep(hyp)
        ref_tokens = [prep(r) for r in refs]
        max_ref = Counter()  # clip each n-gram by its largest count in any one reference
        for toks in ref_tokens:
            max_ref |= _ngrams(toks, max_order)
        for gram, count in _ngrams(hyp_tokens, max_order).items():
            total[len(gram) - 1] += count
            correct[len(gram) - 1] += min(count, max_ref[gram])
        sys_len += len(hyp_tokens)
        ref_len += _closest_ref_len(len(hyp_tokens), [len(t) for t in ref_tokens])
    return bleu_from_stats(correct, total, sys_len, ref_len, smooth_method, smooth_value,
                           effective_order)


def sentence_bleu(hypothesis: str, references: Sequence[str], smooth_method: str = "exp",
                  smooth_value: float | None = None, max_order: int = 4,
                  effective_order: bool = True, lowercase: bool = False,
                  tokenize: str = "13a") -> BleuScore:
    """BLEU of one hypothesis against one or more references (effective order on by default)."""
    if not isinstance(hypothesis, str):
        raise TypeError(f"hypothesis must be a str, got {type(hypothesis).__name__}")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError("references must be a list of str")
    return corpus_bleu([hypothesis], [[r] for r in references], smooth_method, smooth_value,
                       max_order, effective_order, lowercase, tokenize)


# ---------------------------------------------------------------- TER (Tercom's algorithm)
_MAX_SHIFT_SIZE, _MAX_SHIFT_DIST, _BEAM_WIDTH, _MAX_SHIFT_CANDIDATES = 10, 50, 25, 1000
_INF = 10**16
_FLIP = str.maketrans("id", "di")


def _edit_distance(hyp: list[str], ref: list[str]) -> tuple[int, str]:
    """Word Levenshtein distance hyp -> ref inside a beam, and its trace.

    Trace ops: ' ' match, 's' substitute, 'd' drop a hypothesis word, 'i' insert a reference word.
    Ties prefer match/substitution, then 'd', then 'i' (Tercom's order, seen from the reference).
    """
    n, m = len(hyp), len(ref)
    dist = [[(j, "i") for j in range(m + 1)]] + [[(_INF, "x")] * (m + 1) for _ in range(n)]
    ratio = m / n if n else 1
    beam = math.ceil(ratio / 2 + _BEAM_WIDTH) if _BEAM_WIDTH < ratio / 2 else _BEAM_WIDTH
    for i in range(1, n + 1):
        diag = math.floor(i * ratio)
        hi = m + 1 if i == n else min(m + 1, diag + beam)
        prev, row = dist[i - 1], dist[i]
        for j in range(max(0, diag - beam), hi):
            if j == 0:
                row[0] = (prev[0][0] + 1, "d")
                continue
            same = hyp[i - 1] == ref[j - 1]
            best = (_INF, "x")
            for cost, op in ((prev[j - 1][0] + (not same), " " if same else "s"),
                             (prev[j][0] + 1, "d"), (row[j - 1][0] + 1, "i")):
                if cost < best[0]:
                    best = (cost, op)
            row[j] = best
    trace, i, j = [], n, m
    while i > 0 or j > 0:
        op = dist[i][j][1]
        trace.append(op)
        i -= op != "i"
        j -= op != "d"
    return dist[n][m][0], "".join(reversed(trace))


def _alignment(trace: str) -> tuple[dict[int, int], list[int], list[int]]:
    """From a reference -> hypothesis trace: ref position -> hyp position, error flags of each."""
    h = r = -1
    align, ref_err, hyp_err = {}, [], []
    for op in trace:
        if op in " s":
            h, r = h + 1, r + 1
            align[r] = h
            hyp_err.append(int(op == "s"))
            ref_err.append(int(op == "s"))
        elif op == "i":
            h += 1
            hyp_err.append(1)
        else:
            r += 1
            align[r] = h
            ref_err.append(1)
    return align, ref_err, hyp_err


def _matching_spans(hyp: list[str], ref: list[str]):
    """(hyp start, ref start, length) of every common word span of length <= 10."""
    for sh in range(len(hyp)):
        for sr in range(len(ref)):
            if abs(sr - sh) > _MAX_SHIFT_DIST:
                continue
            length = 0
            while hyp[sh + length] == ref[sr + length] and length < _MAX_SHIFT_SIZE:
                length += 1
                yield sh, sr, length
                if sh + length == len(hyp) or sr + length == len(ref):
                    break


def _move(words: list[str], start: int, length: int, target: int) -> list[str]:
    """Move words[start:start+length] so that it begins before index ``target``."""
    block = words[start:start + length]
    if target < start:
        return words[:target] + block + words[target:start] + words[start + length:]
    if target > start + length:
        return words[:start] + words[start + length:target] + block + words[target:]
    return words[:start] + words[start + length:length + target] + block + words[length + target:]


def _best_shift(hyp: list[str], ref: list[str], checked: int):
    """The shift that lowers the edit distance most (ties: longer, earlier, earlier target)."""
    cost, trace = _edit_distance(hyp, ref)
    align, ref_err, hyp_err = _alignment(trace.translate(_FLIP))
    best = None
    for sh, sr, length in _matching_spans(hyp, ref):
        # shift only a wrong hypothesis span onto a wrong reference span, never into itself
        if not any(hyp_err[sh:sh + length]) or not any(ref_err[sr:sr + length]):
            continue
        if sh <= align[sr] < sh + length:
            continue
        last = -1
        for offset in range(-1, length):
            if sr + offset == -1:
                target = 0
            elif sr + offset in align:
                target = align[sr + offset] + 1
            else:
                break
            if target == last:
                continue
            last = target
            moved = _move(hyp, sh, length, target)
            candidate = (cost - _edit_distance(moved, ref)[0], length, -sh, -target, moved)
            checked += 1
            if best is None or candidate > best:
                best = candidate
        if checked >= _MAX_SHIFT_CANDIDATES:
            break
    if best is None:
        return 0, hyp, checked
    return best[0], best[4], checked


def ter_edits(hyp: list[str], ref: list[str]) -> int:
    """Number of TER edits (shifts + insertions + deletions + substitutions) turning hyp into ref."""
    if not ref:
        return len(hyp)
    shifts, checked = 0, 0
    while True:
        gain, moved, checked = _best_shift(hyp, ref, checked)
        if checked >= _MAX_SHIFT_CANDIDATES or gain <= 0:
            break
        shifts, hyp = shifts + 1, moved
    return shifts + _edit_distance(hyp, ref)[0]


def corpus_ter(hypotheses: Sequence[str], references: Sequence[Sequence[str | None]],
               case_sensitive: bool = False) -> TerScore:
    """Corpus TER: best edits per segment over its references / mean reference length, summed."""
    prep = (lambda s: s.split()) if case_sensitive else (lambda s: s.lower().split())
    edits = length = 0.0
    for hyp, refs in _segments(hypotheses, references, "corpus_ter"):
        hyp_words, ref_words = prep(hyp), [prep(r) for r in refs]
        edits += min(ter_edits(hyp_words, r) for r in ref_words)
        length += sum(len(r) for r in ref_words) / len(ref_words)
    if length > 0:
        score = edits / length
    else:  # empty references: 1 if anything must be deleted, else 0 (as sacrebleu)
        score = 1.0 if edits > 0 else 0.0
    return TerScore(100 * score, edits, length)


def sentence_ter(hypothesis: str, references: Sequence[str],
                 case_sensitive: bool = False) -> TerScore:
    """TER of one hypothesis against one or more references."""
    if not isinstance(hypothesis, str):
        raise TypeError(f"hypothesis must be a str, got {type(hypothesis).__name__}")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError("references must be a list of str")
    return corpus_ter([hypothesis], [[r] for r in references], case_sensitive)

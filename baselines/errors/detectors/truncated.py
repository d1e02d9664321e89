"""``truncated``: the answer stops before its end (a marker, an open structure, an unfinished last sentence)."""
from __future__ import annotations

import re

from baselines.errors.answer_context import AnswerContext
from baselines.errors.answer_structure import answer_structure
from baselines.errors.finding import THRESHOLD, Finding
from baselines.errors.text_features import clip, norm_line

_FUNCTION_WORDS = {
    # words that cannot end a sentence (object pronouns such as "it", "them", "this" can: "Go for it")
    "en": {"the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "was", "were", "be",
           "been", "which", "who", "whose", "not", "as", "at", "by", "from", "but", "your", "my", "their", "his",
           "our", "its", "than", "will", "would", "should", "could", "have", "has", "had", "i", "we", "they", "he",
           "she", "if", "because", "into", "such", "very", "when", "while", "where", "including", "between",
           "the", "every", "each", "also"},
    "fr": {"le", "la", "les", "l", "un", "une", "des", "du", "de", "d", "et", "ou", "à", "au", "aux", "en", "pour",
           "par", "avec", "sur", "sous", "dans", "que", "qu", "qui", "ne", "pas", "est", "sont", "a", "ont", "se",
           "s", "sa", "son", "ses", "leur", "leurs", "votre", "vos", "notre", "nos", "ce", "cette", "ces", "il",
           "elle", "ils", "elles", "je", "j", "nous", "vous", "on", "plus", "très", "mais", "car", "donc", "si",
           "comme", "entre", "chaque", "tout", "tous", "toutes", "être", "avoir", "faire", "peut", "doit", "mon",
           "ma", "mes", "ton", "ta", "tes", "lorsque", "quand", "dont", "où", "c", "y", "n", "m", "t"},
    "es": {"el", "la", "los", "las", "un", "una", "unos", "unas", "y", "e", "o", "u", "de", "del", "a", "al", "en",
           "para", "por", "con", "sin", "sobre", "entre", "que", "quien", "no", "es", "son", "está", "están", "se",
           "su", "sus", "tu", "tus", "mi", "mis", "nuestro", "nuestra", "este", "esta", "estos", "estas", "ese",
           "esa", "muy", "más", "pero", "como", "lo", "le", "les", "si", "cada", "todo", "todos", "ser", "estar",
           "hacer", "puede", "debe", "cuando", "donde", "porque", "hay", "ha", "han", "fue"},
}
_ALL_FUNCTION_WORDS = set().union(*_FUNCTION_WORDS.values())
_CONNECTIVE_RE = re.compile(
    r"(?i)(?:however|but|therefore|moreover|furthermore|finally|also|then|cependant|mais|pourtant|toutefois|donc|"
    r"de plus|en outre|enfin|ensuite|sin embargo|pero|no obstante|por lo tanto|además|por último|luego|entonces)\b,?\s")
_OPEN_BIGRAMS = {"so that", "such that", "now that", "given that", "provided that", "except that", "such as",
                 "in order", "due to", "rather than", "according to"}
_TERMINAL_RE = re.compile(r"[.!?…。！？;]['\"”’»)\]*_`]*$|[.!?…]\s*\**$")
_TRUNC_MARKER_RE = re.compile(r"(?:\.\.\.|…)?\s*[(\[]\s*(?:truncated|tronqué|truncado|cut off)\s*[)\]]\s*$", re.I)
_ENDS_LIST_RE = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|[a-zA-Z][.)])\s+")
_BARE_LABEL_RE = re.compile(r"^[ \t#>*]*[^\W\d_][\w ]{0,20}?(?:[ \t]*\d+)?[ \t]*:[ \t*]*$|\[/?INST\]\s*$|<[^>\s]+>\s*$")
_CHAR_LOOP_END_RE = re.compile(r"(\S{1,3}?)\1{19,}$")
_FENCE_TAIL_RE = re.compile(r"(?:\s*```)+\s*$")
_EMOJI_END_RE = re.compile(r"[\U0001F000-\U0001FFFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200d]\s*$")


def _is_verse(lines: list[str]) -> bool:
    if len(lines) < 4:
        return False
    lens = sorted(len(ln) for ln in lines)
    median = lens[len(lens) // 2]
    punct_ends = sum(1 for ln in lines if ln.rstrip()[-1:] in ".!?")
    return median < 60 and punct_ends <= 0.4 * len(lines)


def detect(ctx: AnswerContext) -> Finding | None:
    """Cut before its end: a truncation marker, a structure left open (code block, list item, table row),
    or a last sentence left unfinished. ``finish_reason == "length"`` says the token limit was reached,
    not that the text is incomplete: an answer (or a loop) that ends on a complete unit there is not cut."""
    if ctx.is_empty:
        return None
    output, finish_reason, lang = ctx.output, ctx.finish_reason, ctx.lang
    text = output.rstrip()
    fr = (finish_reason or "").strip().lower() or None
    leak = ctx.finding("format_leak")
    if leak is not None and leak.span is not None and leak.span[0] > 0:
        # the answer before the scaffolding it ran on into is judged alone (a token limit fell in the leak); the
        # leaked text is judged too unless it stops on a bare label ("Human:", "Output:"): an empty new turn
        cut = leak.span[0]
        fence = re.match(r"```[ \t]*\n", output[cut:])  # a leak found with the fence before its header
        before = output[:cut + (fence.end() if fence else 0)].rstrip()
        if len(re.findall(r"(?m)^\s*```", before)) % 2 == 1:
            before = _FENCE_TAIL_RE.sub("", before).rstrip()  # the fence closing a block the prompt opened
        found = _judge(before, None, lang)
        last = text.rsplit("\n", 1)[-1]
        if found is None and not _BARE_LABEL_RE.search(last):
            found = _judge(text, fr, lang)
        return found
    return _judge(text, fr, lang)


def _judge(text: str, fr: str | None, lang: str) -> Finding | None:
    """The truncation finding for ``text`` (rstripped) given the finish reason, or None."""
    if not text:
        return None
    tail_start = max(0, len(text) - 40)
    m = _TRUNC_MARKER_RE.search(text, tail_start)
    if m:
        return Finding("truncated", 0.9, (m.start(), len(text)),
                       f"ends with a truncation marker {m.group(0).strip()!r}")
    tail = (max(0, len(text) - 60), len(text))
    open_structure = _open_structure(text)
    if fr in ("stop", "eos", "end_turn", "stop_sequence", "eos_token"):
        # the model stopped on its own: only an announcement of what never comes, or an open code block, is a cut
        last = text.rsplit("\n", 1)[-1].strip()
        if open_structure.startswith("ends inside an unclosed code") or (
                last.endswith(":") and len(last.split()) >= 2 and not last.startswith(("#", "|"))):
            return Finding("truncated", 0.7, tail, f"{open_structure or 'announces what never comes'}: "
                                                   f"{clip(text[-40:], 40)!r}")
        return None
    if open_structure:
        return Finding("truncated", 0.85, tail, f"{open_structure}: {clip(text[-40:], 40)!r}")
    weak, why = _weak_truncation(text, lang)
    short_list = _fewer_items_than_announced(text)
    if short_list and weak < 0.7:
        weak, why = 0.7, short_list
    if fr in ("length", "max_tokens", "max_length"):
        last_words = re.findall(r"[\w'’-]+", text[-300:].rsplit("\n", 1)[-1])
        if _CHAR_LOOP_END_RE.search(text[-80:]) or _ends_in_phrase_loop(last_words):
            return None  # "0000…", ", de physique, de physique,": a loop of a few characters or words, no unit cut
        if weak > 0 or not (_ends_complete(text) or _repeats_earlier_line(text)):
            return Finding("truncated", 0.9, tail, f"finish_reason={fr} and the text stops mid-unit "
                                                   f"({why or 'no final punctuation'}): {clip(text[-40:], 40)!r}")
        return None  # the limit fell on a complete unit
    if weak >= THRESHOLD:
        return Finding("truncated", weak, tail, f"{why}: {clip(text[-40:], 40)!r}")
    return None


_EMPTY_ITEM_RE = re.compile(r"^[#>*\-•+\s]*(?:\d+|[a-z])?[.)]?\s*$")


_ANNOUNCED_RE = re.compile(r"(?<![\d.,])([2-9]|1[0-9]|20)\s+[^\W\d_][^\n:]*:\s*$")


def _fewer_items_than_announced(text: str) -> str:
    """A line announcing N things ("Here are 5 tips:") followed by a list of fewer items that ends the answer."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    for k in range(len(lines) - 2, -1, -1):
        m = _ANNOUNCED_RE.search(lines[k])
        if m:
            after = lines[k + 1:]
            items = [ln for ln in after if _ENDS_LIST_RE.match(ln)]
            top = [ln for ln in items if not ln.startswith((" ", "\t"))]
            if after and len(items) == len(after) and 0 < len(top) < int(m.group(1)):
                return f"announces {m.group(1)} items, gives {len(top)}"
            return ""
    return ""


def _open_structure(text: str) -> str:
    """What the answer leaves open at its very end (Markdown parser), or ""."""
    st = answer_structure(text)
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if st.ends_in_open_fence and st.fences[-1].content.strip():
        return "ends inside an unclosed code block"
    if len(lines) > 1 and (st.last_list_item_empty or _EMPTY_ITEM_RE.match(lines[-1])):
        return "ends on an empty list item"
    if st.last_table_row_short or st.last_table_row_open:
        return "ends inside a table row"
    return ""


def _ends_in_phrase_loop(words: list[str]) -> bool:
    """The last words (of the last line: a loop of lines cut mid-line is cut) are one to four words repeated three
    times or more ("azul azul azul", "step by step by step", "de physique, de physique,"): a loop that ends on a
    whole word, not a cut."""
    low = [w.lower() for w in words]
    return any(len(low) >= 3 * p and low[-p:] == low[-2 * p:-p] == low[-3 * p:-2 * p] for p in range(1, 5))


def _repeats_earlier_line(text: str) -> bool:
    """The last line is a whole copy of an earlier one (a loop that stopped on a complete unit)."""
    lines = [norm_line(ln) for ln in text[-6000:].split("\n") if ln.strip()]
    return len(lines) > 2 and len(lines[-1]) >= 3 and lines[-1] in lines[-200:-1]


def _ends_complete(text: str) -> bool:
    """The text ends on a full stop (or !, ?, an emoji, a closing fence, bracket or quote after one)."""
    core = text.rstrip(" \t\"'”’»)]*_`")
    return bool(_TERMINAL_RE.search(text) or _EMOJI_END_RE.search(text) or text.endswith("```")
                or (core and (_TERMINAL_RE.search(core) or _EMOJI_END_RE.search(core))))


def _loop_cut_mid_unit(text: str) -> bool:
    """The text does not end on a full stop nor on a complete copy of an earlier line."""
    if _TERMINAL_RE.search(text) and not re.search(r"\d\.$", text):
        return False
    lines = [ln for ln in text[-6000:].split("\n") if ln.strip()]
    last = norm_line(lines[-1])
    return not any(norm_line(ln) == last for ln in lines[-200:-1])


def _weak_truncation(text: str, lang: str) -> tuple[float, str]:
    """Score in [0, 1] that ``text`` (rstripped) stops mid-sentence, with the reason."""
    if _TERMINAL_RE.search(text) or _EMOJI_END_RE.search(text) or text.endswith("```"):
        return 0.0, ""
    core = text.rstrip(" \t\"'”’»)]*_`")
    if not core or _TERMINAL_RE.search(core) or _EMOJI_END_RE.search(core):
        return 0.0, ""
    lines = [ln for ln in text[-4000:].split("\n") if ln.strip()]
    last = lines[-1].strip()
    # a stage direction, an action or a quoted title closes the answer: *winks*, [MUSIC FADES], "Title"
    if re.fullmatch(r"(?:.*\s)?(?:\*[^*]+\*|\[[^\]]+\]|\([^)]+\)|\"[^\"]+\"|“[^”]+”|«[^»]+»)", last):
        return 0.0, ""
    words = re.findall(r"[\w'’-]+", last)
    last_word = re.sub(r"^.*['’]", "", words[-1].lower()) if words else ""
    if words and len(words[-1]) == 1 and words[-1].isupper():
        last_word = ""  # "vitamin A", "plan B", "I"
    fences = len(re.findall(r"(?m)^\s*```", text))
    in_code = fences % 2 == 1
    if in_code:
        if re.search(r"[\w,+\-*/=(\[{.]$", last) and not re.search(r"[)}\]];?$", last):
            return 0.6, "ends inside an unclosed code block"
        return 0.0, ""
    # "- [" / "-" / "50" after item 49: an empty list item
    if re.fullmatch(r"[-*•+]\s*[\[(]?|\d+[.)]?", last) and len(lines) > 1:
        return 0.75, "ends on an empty list item"
    # the last line is a strict prefix of an earlier line (a loop or list cut mid-line)
    norm_last = norm_line(last)
    if len(norm_last) >= 3 and len(lines) > 2:
        longer = [nl for nl in map(norm_line, lines[-300:-1])
                  if len(nl) > len(norm_last) + 1 and nl.startswith(norm_last)]
        if any(nl[len(norm_last)] in " ,;:-" for nl in longer):
            return 0.7, "last line is an earlier line cut short"
        if len(longer) >= 2:  # cut mid-word: the last line starts two earlier lines (a loop cut inside its unit)
            return 0.7, "last line is an earlier repeated line cut short"
    # the last sentence is an earlier sentence cut short (a sentence loop cut inside its unit, on one line)
    fragment = re.split(r"[.!?…]\s+", last)[-1].strip()
    norm_fragment = norm_line(fragment)
    if len(norm_fragment) >= 8 and (norm_fragment != norm_line(last) or len(lines) == 1):  # (lines: above)
        earlier = [norm_line(x) for x in re.split(r"(?<=[.!?…])\s+", text[-4000:])[:-1]]
        if sum(1 for x in earlier if len(x) > len(norm_fragment) + 1 and x.startswith(norm_fragment)) >= 2:
            return 0.7, "last sentence is an earlier repeated sentence cut short"
    if _ends_in_phrase_loop(words):
        return 0.0, ""
    opened = sum(last.count(c) for c in "([{«“") - sum(last.count(c) for c in ")]}»”")
    if last.count('"') % 2 == 1 and not re.search(r'\d"', last):
        opened += 1  # a straight quotation left open (not when a quote follows a digit: an inch mark, 5'11")
    if last.rstrip(" `*_").endswith((",", "(", "[", "{", "«", "“", "-", "–", "—", "&", "+")) or opened > 0:
        return 0.75, "ends on an open clause or bracket"
    is_item = bool(_ENDS_LIST_RE.match(last) or last.startswith(("#", "|", "**", ">")) or
                   re.fullmatch(r"\[[^\]]*\]", last) or re.search(r"https?://\S+$", last) or
                   re.search(r"(?:^|\s)#\w+$", last))
    verse = _is_verse(lines)
    fw = _FUNCTION_WORDS.get(lang, _ALL_FUNCTION_WORDS)
    ends_function_word = (last_word in fw or " ".join(words[-2:]).lower() in _OPEN_BIGRAMS) and len(words) >= 2
    if last.endswith(":"):
        if is_item and len(lines) > 1 and not re.search(r"(?i)\b(?:here|voici|voilà|aquí|a continuación|follow\w*|"
                                                          r"suivant\w*|siguiente\w*)\b", last):
            return (0.55, "ends on a heading with nothing after it") if len(words) <= 4 else (0.0, "")
        return (0.6, "ends on a colon announcing missing content") if len(text) > 40 else (0.0, "")
    comma_list = last.count(",") >= 3 and "." not in last and len(words) <= 30
    if ends_function_word and len(words) >= 3 and not comma_list:
        return 0.8, f"ends on the function word {last_word!r}"
    if is_item and len(words) >= 10 and _ENDS_LIST_RE.match(last):
        items = [ln for ln in lines[-12:-1] if _ENDS_LIST_RE.match(ln)]
        if len(items) >= 2 and sum(1 for ln in items if _TERMINAL_RE.search(ln.rstrip())) >= 0.7 * len(items):
            return 0.6, "last list item stops without the full stop the others have"
    if is_item or verse or comma_list:
        return 0.0, ""
    # structured text (records, rubric rows) whose lines never end with a full stop
    previous = lines[-4:-1]
    if len(previous) >= 2 and sum(1 for ln in previous if not _TERMINAL_RE.search(ln.rstrip())) >= 2:
        return 0.0, ""
    if len(lines) == 1 and len(words) <= 12:
        return 0.0, ""  # short answer without a full stop ("Paris", "Auto Services")
    last_sentence = re.split(r"[.!?…]\s", last)[-1]
    n_last = len(re.findall(r"[\w'’-]+", last_sentence))
    if n_last >= 8 and len(text) >= 200:
        return 0.55, "a long last sentence without terminal punctuation"
    if n_last <= 6 and len(text) >= 100 and _CONNECTIVE_RE.match(last_sentence.strip()):
        return 0.6, "the last sentence stops right after its connective"
    return 0.0, ""

"""Rule-based detectors of critical errors in model answers (EN / FR / ES and other Latin-script languages).

Six labels, each a failure that makes an answer unusable whatever its other qualities:

``repetition_loop``  degenerate repetition (token, phrase, sentence, list item, paragraph) as a base
                     model that never stops;
``unintended_code``  code or markup although the instruction asked for nothing technical;
``wrong_language``   the answer is wholly or mostly not in the instruction's language (unless the
                     instruction asked for a language or a translation);
``format_leak``      the answer runs on into in-context scaffolding (``# Query:``, ``### Instruction``,
                     ``User:`` turns, ``<|im_start|>``, ``</s>`` ...);
``empty``            nothing, or whitespace / punctuation only;
``truncated``        cut by the token limit (``finish_reason == "length"``; weaker: ends mid-sentence).

Precision matters as much as recall: refrains, long varied lists, tables, intended code, LaTeX,
loanwords, quoted titles, translation requests and one-word answers are not errors.

One lingua detector restricted to the study languages is built once per :class:`CriticalErrorDetector`;
language identification runs on a bounded sample of the text (head + middle + tail), so the cost per
answer is bounded whatever its length. ``detect_many`` batches lingua calls over both cores.
"""
from __future__ import annotations

import math
import re
import unicodedata
import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from bench.label_scores import label_scores
from bench.vocabulary import ERROR_LABELS as LABELS

DETECTOR_VERSION = "ce-v1"
THRESHOLD = 0.5  # a Finding is reported when its score reaches this value


@dataclass
class Finding:
    label: str
    score: float
    span: tuple[int, int] | None
    evidence: str

    def to_dict(self) -> dict:
        out = asdict(self)
        out["span"] = list(self.span) if self.span is not None else None
        out["score"] = round(float(self.score), 3)
        return out


def _clip(text: str, n: int = 80) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------------------------
# instruction context: technical? song/poem? art? dialogue? requested language?
# --------------------------------------------------------------------------------------------

_TECH_WORDS = frozenset("""
code codes coder coders coding codage codifica codificar program programs programme programmes programming
programación programa programas programar programmer script scripts scripting function functions fonction fonctions
función funciones funcion python javascript typescript java kotlin swift golang rust ruby php perl scala haskell
matlab julia fortran cobol assembly assembleur ensamblador malbolge brainfuck sql mysql postgres postgresql sqlite
nosql mongodb regex regexp html html5 css xml json yaml toml csv markdown latex tex bibtex overleaf excel spreadsheet
spreadsheets tableur formula formulas formule formules fórmula fórmulas vba macro macros bash zsh shell powershell
terminal console consola cmd commande commandes comando comandos command commands linux unix ubuntu debian windows
macos git github gitlab npm pip conda docker dockerfile kubernetes api apis endpoint sdk http https url urls rst
sphinx jira cypress react angular vue django flask node nodejs pandas numpy scipy pyplot matplotlib tensorflow
pytorch keras psycopg psycopg2 psycog2 bug bugs software logiciel logiciels database databases server servers
serveur serveurs servidor servidores website websites webpage frontend backend array arrays arreglo arreglos
integer integers entiers enteros string strings variable variables boucle boucles bucle bucles loop loops class
classes méthode méthodes method methods object objects embedding embeddings transformer transformers llm gpt chatgpt
ia ai data donnée données datos dataset datasets variance varianza regression régression regresión math maths
mathematics mathématiques matemáticas équation équations equation equations ecuación ecuaciones matrix matrices
matrice matriz vector vectors vecteur vecteurs vectores integral intégrale integrales theorem théorème teorema proof
preuve prove prouver demuestra demostrar demostración area aire área triangle triangles triángulo square carré
cuadrado circle cercle círculo geometry géométrie geometría solve résous résoudre resuelve resolver ascii unicode
emoji emojis braille binary binaire binario hexadecimal bit bits byte bytes octet octets arduino raspberry robot
robots sdr computer computers ordinateur ordinateurs computadora computadoras ordenador ordenadores informatique
informática framework library libraries bibliothèque bibliothèques librería librerías biblioteca package packages
module modules módulo módulos plugin plugins app apps aplicación ide vscode vim emacs unity godot sudoku spl cli gui
ui ux template templates plantilla ticket tickets schema schéma esquema chiffrement encryption cifrado hash hashing
password contraseña network networks réseau ip tcp dns wifi router routeur cloud aws azure gcp devops pipeline
""".split())
_TECH_PREFIXES = ("programm", "algorit", "algorithm", "compil", "debug", "débog", "depur", "statisti", "estadíst",
                  "probabilit", "probabilid", "calcul", "cálcul", "comput", "dériv", "deriv", "integr", "neuron",
                  "neural", "develop", "dévelop", "desarroll", "microcontr", "docker", "regex", "crypt", "matemát",
                  "mathém", "geomet", "géomét", "equation", "équation", "ecuaci", "javascript", "python", "sql")
_TECH_PHRASE_RE = re.compile(
    r"(?i)c\+\+|c#|\.(?:py|js|sh|csv|json|html?|tex|xlsx?|sql|ipynb)\b|machine learning|deep learning|"
    r"apprentissage automatique|aprendizaje autom[aá]tico|regular expressions?|expressions? r[ée]guli[eè]res?|"
    r"expresi[oó]n(?:es)? regular(?:es)?|command[- ]line|ligne de commande|l[ií]nea de comandos|google sheets|"
    r"hoja de c[aá]lculo|base[s]? de (?:donn[ée]es|datos)|site[s]? web|sitio[s]? web|page[s]? web|p[aá]gina[s]? web|"
    r"web ?page|abc notation|data science|ci/cd|mot de passe")
# code-shaped text in the instruction itself: identifiers, calls, formulas, markup, LaTeX
_CODEY_INSTRUCTION_RE = re.compile(
    r"```|`[^`\n]+`|[{};]\s*$|\bdef\s+\w+\(|</?[a-zA-Z]\w*[^>]*>|=\s*[A-Z]+\(|\$[^$\n]+\$|\\[a-z]+\{|"
    r"\b[a-z]+\d\b|\b[a-z]+_[a-z_]+\b|\b[a-z]+[A-Z]\w+\b|\w\(\)|\b\d+\s*[-+*/^=<>]\s*[\w(]|\w\^\d|"
    r"\b[a-zA-Z]\s*[-+*/^=]\s*\d", re.M)
_VERSE_RE = re.compile(
    r"(?i)\b(?:songs?|lyrics?|poems?|poetry|verses?|rhymes?|haikus?|limericks?|sonnets?|ballads?|rap|chorus|refrain|"
    r"chansons?|paroles|po[eè]mes?|po[ée]sie|comptines?|couplets?|chanson|canci[oó]n(?:es)?|letras?|poemas?|"
    r"poes[ií]as?|versos?|estribillos?|rimas?|coros?|nursery|chant\w*|cantar|jingle|anthem|hymne|himno|slogan\w*)\b"
)
_ART_RE = re.compile(r"(?i)\b(?:ascii|art|draw|dessin\w*|dibuj\w*|braille|pattern|motif|patr[oó]n|grid|grille|"
                     r"cuadr[ií]cula|sudoku|emoji\w*|pixel\w*|diagram\w*|diagramme|diagrama|picture|image|imagen|"
                     r"shape|forme|"
                     r"forma|embossed?|tactile)\b")
_DIALOGUE_RE = re.compile(
    r"(?i)\b(?:dialogues?|dialog|conversations?|conversaci[oó]n(?:es)?|di[aá]logos?|chat\w*|scripts?|screenplay|"
    r"sc[eè]nes?|escenas?|guion(?:es)?|scénario|interviews?|entrevistas?|transcripts?|transcription|role[-\s]?play|"
    r"jeu\s+de\s+r[oô]le|juego\s+de\s+rol|exchange|[ée]change|intercambio|prompt\w*|template|format|formato|"
    r"few[-\s]shot|exemples?\s+de\s+dialogue|sketch|skit|saynète)\b")

_LANG_NAMES = (r"english|anglais|ingl[eé]s|french|fran[cç]ais|franc[eé]s|spanish|espagnol|espa[nñ]ol|castellano|"
               r"german|allemand|alem[aá]n|italian|italien|italiano|portuguese|portugais|portugu[eé]s|chinese|"
               r"chinois|chino|mandarin|japanese|japonais|japon[eé]s|latin|lat[ií]n|arabic|arabe|[aá]rabe|russian|"
               r"russe|ruso|dutch|n[ée]erlandais|neerland[eé]s|catalan|catal[aà]n?|basque|euskera|greek|grec|griego|"
               r"korean|cor[ée]en|coreano|hindi|turkish|turc|turco|polish|polonais|polaco")
_REQUEST_LANG_RE = re.compile(
    rf"(?i)\b(?:translat\w*|tradu\w*|traducc\w*|interpret\w*\s+(?:in|into)|"
    rf"how\s+(?:do|would|can)\s+(?:you|i|we|one)\s+(?:say|write|pronounce|spell)|"
    rf"comment\s+(?:dit|dire|[ée]crire|prononce)|c[oó]mo\s+se\s+(?:dice|escribe|pronuncia)|"
    rf"(?:in|into|to)\s+(?:{_LANG_NAMES})|(?:en|vers\s+l'|à\s+l'|al|del|au)\s*(?:{_LANG_NAMES})|"
    rf"(?:{_LANG_NAMES})\s+(?:word|words|phrase|sentence|version|translation|equivalent|mot|mots|phrase|palabra|"
    rf"palabras|frase|versi[oó]n)|(?:word|mot|palabra)\s+(?:for|pour|para)\s+\S+\s+(?:in|en)\s+(?:{_LANG_NAMES}))\b"
)


_NON_PROSE_RE = re.compile(r"(?i)pronunc|pronoun|phon[eé]t|fon[eé]tic|prononc|translit|spell\w* out|[ée]pel|deletre")


@lru_cache(maxsize=4096)
def _instruction_features(instruction: str) -> tuple[bool, bool, bool, bool]:
    """(technical, verse, art, language requested or non-prose answer expected); cached: an instruction is
    typically asked of many models and methods."""
    return (is_technical(instruction), bool(_VERSE_RE.search(instruction)), bool(_ART_RE.search(instruction)),
            requests_language(instruction) or bool(_NON_PROSE_RE.search(instruction)))


def is_technical(instruction: str) -> bool:
    """True when the instruction asks for (or is about) something technical, so code or markup is expected."""
    words = set(re.findall(r"\w+", instruction.lower()))
    if words & _TECH_WORDS or any(w.startswith(_TECH_PREFIXES) for w in words):
        return True
    return bool(_TECH_PHRASE_RE.search(instruction) or _CODEY_INSTRUCTION_RE.search(instruction))


def requests_language(instruction: str) -> bool:
    """True when the instruction asks for a translation or an answer in a named language."""
    return bool(_REQUEST_LANG_RE.search(instruction))


# --------------------------------------------------------------------------------------------
# empty
# --------------------------------------------------------------------------------------------

_SPECIAL_TOKENS_RE = re.compile(
    r"<\|[a-z_]+\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>|<pad>|<unk>|<eos>|<bos>")


def _has_content(text: str) -> bool:
    for ch in text:
        if ch.isalnum():
            return True
        cat = unicodedata.category(ch)
        if cat == "So" and not (0x2800 <= ord(ch) <= 0x28FF):  # emoji / symbols; blank braille is not content
            return True
    return False


def _detect_empty(output: str) -> Finding | None:
    if not output.strip():
        return Finding("empty", 1.0, (0, len(output)), "empty output" if not output else "whitespace only")
    stripped = _SPECIAL_TOKENS_RE.sub("", output)
    stripped = re.sub(r"```\w*", "", stripped)
    if not _has_content(stripped):
        what = "special tokens only" if _SPECIAL_TOKENS_RE.search(output) else "punctuation only"
        return Finding("empty", 0.95, (0, len(output)), f"{what}: {_clip(output, 40)!r}")
    return None


# --------------------------------------------------------------------------------------------
# format leak
# --------------------------------------------------------------------------------------------

_LEAK_TOKEN_RE = re.compile(
    r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|user|assistant|system|end|"
    r"endofprompt|begin_of_text|end_of_text)\|>|</s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>")
_LEAK_HEADER_RE = re.compile(
    r"(?im)^[ \t>]*(?:```[ \t]*\n\s*)?(?:"
    r"\#{1,3}[ \t]*(?:Query|Answer|Requ[êe]te|R[ée]ponse|Consulta|Respuesta|Pregunta|Question|Demande)[ \t]*:"
    r"|\#{2,4}[ \t]*(?:Instruction|Response|Input|Consigne|R[ée]ponse|Respuesta|Instrucci[oó]n|Entr[ée]e|Entrada"
    r"|Human|Assistant|User|Utilisateur|Usuario|Asistente|Humano|Humain)[ \t]*:?[ \t]*$)")
_LEAK_TURN_RE = re.compile(
    r"(?m)^[ \t>*]*(?:User|USER|Human|HUMAN|Assistant|ASSISTANT|AI|Bot|Utilisateur|UTILISATEUR|Humain|Usuario|"
    r"USUARIO|Humano|Asistente|ASISTENTE|Assistante|Système|System|Sistema)[ \t]*\**[ \t]*:\**[ \t]*\S?")
_LEAK_PREAMBLE_RE = re.compile(
    r"(?i)below is an instruction that describes a task|a chat between a curious (?:user|human)|"
    r"ci-dessous (?:se trouve )?une instruction qui d[ée]crit une t[âa]che|"
    r"a continuaci[oó]n (?:se muestra |hay )?una instrucci[oó]n que describe una tarea|"
    r"users place their queries under|les utilisateurs (?:placent|posent) leurs (?:requêtes|questions) sous|"
    r"los usuarios (?:colocan|escriben) sus (?:consultas|preguntas) (?:bajo|debajo)")


_PREAMBLE_KEYS = ("describes a task", "curious user", "curious human", "crit une t", "describe una tarea",
                  "their queries", "leurs requ", "leurs questions", "sus consultas", "sus preguntas")


_META_RE = re.compile(r"(?i)\b(?:tokens?|jetons?|prompt\w*|templates?|chatml|chat[- ]?formats?|plantillas?|llms?|"
                      r"language models?|mod[eè]les? de langage|modelos? de lenguaje|urial|few[- ]shot|"
                      r"in[- ]context)\b")


@lru_cache(maxsize=4096)
def _leak_context(instruction: str) -> tuple[bool, bool]:
    return bool(_META_RE.search(instruction)), bool(_DIALOGUE_RE.search(instruction))


def _detect_format_leak(instruction: str, output: str) -> Finding | None:
    hits: list[tuple[float, int, str]] = []
    instr_low = instruction.lower()
    meta, dialogue = _leak_context(instruction)  # a question about prompt formats may show them
    for m in ([] if meta else _LEAK_TOKEN_RE.finditer(output)):
        tok = m.group(0)
        if tok.lower() in instr_low:
            continue
        if tok == "</s>" and re.search(r"<s>", output[: m.start()]) and not re.search(r"\[INST\]", output):
            continue  # HTML strikethrough <s>...</s>
        hits.append((0.95, m.start(), f"special token {tok}"))
        break
    for m in ([] if meta else _LEAK_HEADER_RE.finditer(output)):
        marker = m.group(0).strip().strip("`").strip()
        if marker.lower().rstrip(": ") in instr_low:
            continue
        score = 0.95 if re.search(r"(?i)query|answer|requ|consulta|instruction|response|instrucci", marker) else 0.8
        hits.append((score, m.start(), f"scaffolding header {marker!r}"))
        break
    if not dialogue:
        turns = list(_LEAK_TURN_RE.finditer(output))
        if turns:
            m = turns[0]
            marker = m.group(0).strip()
            at_start = not output[: m.start()].strip()
            if re.search(r"(?i)^(?:ai|bot|system|système|sistema)\b", marker.strip("*> ")) and len(turns) < 2:
                pass  # a lone "AI:" or "System:" line is too ambiguous
            else:
                score = 0.9 if (len(turns) >= 2 or not at_start) else 0.65
                hits.append((score, m.start(), f"chat turn {_clip(marker, 30)!r}"))
    low = output.lower()
    m = _LEAK_PREAMBLE_RE.search(output) if any(k in low for k in _PREAMBLE_KEYS) else None
    if m and not _LEAK_PREAMBLE_RE.search(instruction):
        hits.append((0.9, m.start(), f"prompt preamble {_clip(m.group(0), 50)!r}"))
    if not hits:
        return None
    hits.sort(key=lambda h: (h[1], -h[0]))
    score = max(h[0] for h in hits)
    start = hits[0][1]
    evidence = hits[0][2] + (f" (+{len(hits) - 1} more)" if len(hits) > 1 else "")
    return Finding("format_leak", score, (start, len(output)), evidence + f": {_clip(output[start:], 60)!r}")


# --------------------------------------------------------------------------------------------
# unintended code
# --------------------------------------------------------------------------------------------

_PROG_LANGS = {
    "python", "py", "python3", "javascript", "js", "typescript", "ts", "java", "c", "cpp", "c++", "csharp", "cs",
    "go", "golang", "rust", "ruby", "php", "perl", "swift", "kotlin", "scala", "r", "sql", "mysql", "bash", "sh",
    "shell", "zsh", "powershell", "ps1", "cmd", "bat", "html", "xml", "css", "scss", "json", "yaml", "yml", "toml",
    "jsx", "tsx", "vue", "lua", "dart", "haskell", "matlab", "vba", "assembly", "asm", "dockerfile", "makefile",
}
_CODE_LINE_RE = re.compile(
    r"""(?x)^\s*(?:
      (?:def|class)\s+\w+\s*[(:]                                  # python def/class
    | (?:import\s+[\w.]+(?:\s+as\s+\w+)?\s*;?\s*$)                 # import x
    | (?:from\s+[\w.]+\s+import\s+[\w*,\s]+$)                      # from x import y
    | (?:for|while|if|elif|with|try|except)\b[^\n]*:\s*$           # python block header
    | (?:else|try|finally)\s*:\s*$
    | (?:return|yield)\b\s*[\w(\[{"'-]
    | (?:print|console\.log|System\.out\.print\w*|printf|puts|echo)\s*\(
    | (?:public|private|protected|static|void|int|float|double|char|bool|boolean|string|const|let|var|function|
         async\s+function|fn|func|val)\s+[\w<>\[\]]+\s*(?:[=(:{]|$)
    | \#include\s*[<"]
    | \#!/
    | (?:SELECT\s+[\w*,\s.()]+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(?:TABLE|INDEX|VIEW))\b
    | <!DOCTYPE
    | </?(?:html|head|body|div|span|script|style|table|tr|td|ul|ol|li|h[1-6]|p|br|img|a|form|input|button)\b[^>]*>
    | \\(?:documentclass|usepackage|begin\{document\})
    | (?:sudo|pip3?|npm|yarn|git|apt(?:-get)?|brew|docker|curl|wget|chmod|mkdir|cd|ls|rm|cp|mv)\s+[-\w./~]+
    | \$\s+\w+
    | [}\])]\s*[;,]?\s*$
    | [^\n]*[\w)\]"'];\s*$                                         # statement ending with ';' (no space before)
    | [^\n]*\)\s*\{\s*$                                            # ') {'
    | [^\n]*=>\s*[{(\w]
    | //\s?\w | /\*
    | "[^"\n]{1,40}"\s*:\s*(?:"[^"\n]*"|\d[\d.]*|true|false|null|\[|\{)\s*,?\s*$        # JSON "key": value
    )"""
)
# lines that are code beyond doubt (two of them are enough)
_STRONG_CODE_RE = re.compile(
    r"""(?x)^\s*(?:(?:def|class)\s+\w+\s*[(:]|import\s+[\w.]+|from\s+[\w.]+\s+import\b|
    (?:print|console\.log|System\.out\.print\w*|printf|echo)\s*\(|\#include\b|
    (?:function|const|let|var)\s+\w+\s*[=(]|SELECT\s.+\sFROM\b|INSERT\s+INTO\b|<!DOCTYPE|
    "[^"\n]{1,40}"\s*:\s*(?:"[^"\n]*"|\d[\d.]*|true|false|null)\s*,?\s*$)""")
_HTML_TAG_RE = re.compile(r"</?(?:html|head|body|div|span|p|br|ul|ol|li|h[1-6]|table|tr|td|th|a|img|b|i|strong|em|"
                          r"script|style|code|pre|section|article|header|footer|nav|font|center)\b[^<>]{0,200}>", re.I)
_FENCE_RE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.M | re.S)


def _code_lines(text: str) -> list[tuple[int, str]]:
    out = []
    pos = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if len(stripped) >= 2 and _CODE_LINE_RE.match(line) and not stripped.startswith(("$$", "\\[", "\\(")):
            out.append((pos, stripped))
        pos += len(line) + 1
    return out


def _detect_unintended_code(instruction: str, output: str, technical: bool) -> Finding | None:
    if technical:
        return None
    code = _code_lines(output)
    # lines that are only a closing bracket count only next to real code
    real = [c for c in code if not re.fullmatch(r"[}\])]\s*[;,]?", c[1])]
    fenced_prog = None
    for m in _FENCE_RE.finditer(output):
        tag = m.group(1).lower()
        body = m.group(2)
        body_code = _code_lines(body)
        if (tag in _PROG_LANGS and body.strip()) or len(body_code) >= 2:
            fenced_prog = (m.start(), tag or "code", len(body_code))
            break
    tags = _HTML_TAG_RE.findall(output)
    n_real = len(real)
    n_strong = sum(1 for c in real if _STRONG_CODE_RE.match(c[1]))
    if fenced_prog is None and n_real < 3 and len(tags) < 3 and n_strong < 2:
        return None
    lines = max(1, len([ln for ln in output.split("\n") if ln.strip()]))
    frac = n_real / lines
    if fenced_prog is None and len(tags) < 3 and frac < 0.15 and n_real < 5 and n_strong < 2:
        return None
    score = min(0.99, 0.55 + 0.06 * n_real + (0.2 if fenced_prog else 0) + 0.02 * min(len(tags), 10))
    if fenced_prog is not None:
        start = fenced_prog[0]
        evidence = f"```{fenced_prog[1]} block with {fenced_prog[2]} code lines"
    elif real:
        start = real[0][0]
        evidence = f"{n_real} code-like lines, e.g. {_clip(real[0][1], 50)!r}"
    else:
        start = output.find(tags[0])
        evidence = f"{len(tags)} HTML tags, e.g. {tags[0]!r}"
    end = min(len(output), start + 200)
    return Finding("unintended_code", score, (start, end), evidence + " (instruction is not technical)")


# --------------------------------------------------------------------------------------------
# repetition loop
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\w+|[^\w\s]+")
_CHAR_LOOP_RE = re.compile(r"(\S{1,12}?)\1{14,}")
_LIST_PREFIX_RE = re.compile(r"^\s*(?:[-*•+>]+|\d+[.)]|[a-zA-Z][.)]|#+)\s*")
_MAX_TOKENS = 8000
_DIGITS_RE = re.compile(r"\d+")
_LIST_NUMBER_RE = re.compile(r"(?m)^([ \t]*)\d+(?=[.)][ \t])")
_MARKUP_RE = re.compile(r"[*_`]+")


def _norm_line(line: str, mask_digits: bool = False) -> str:
    line = _LIST_PREFIX_RE.sub("", line)
    if "*" in line or "_" in line or "`" in line:
        line = _MARKUP_RE.sub("", line)
    if mask_digits:
        line = _DIGITS_RE.sub("0", line)
    return " ".join(line.split()).lower()


def _token_spans(text: str, tail_tokens: int | None) -> list[tuple[int, int]]:
    """Character spans of the tokens of ``text`` (only the last ``tail_tokens`` when given)."""
    spans = [(m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
    return spans[-tail_tokens:] if tail_tokens is not None else spans


def _detect_repetition(output: str, verse: bool, art: bool, technical: bool = False) -> Finding | None:
    n_chars = len(output)
    if n_chars < 20:
        return None
    best: tuple[float, int, int, str] | None = None  # score, start, end, evidence

    def consider(score: float, start: int, end: int, evidence: str) -> None:
        nonlocal best
        if best is None or score > best[0]:
            best = (score, start, end, evidence)

    strict = 2 if (verse or art) else 1
    # tokens: words and punctuation runs, lower-cased
    low = output.lower()
    words = _TOKEN_RE.findall(low)
    if len(words) > _MAX_TOKENS:
        words = words[-_MAX_TOKENS:]  # bounded cost: loops run on to the end
        offset_tokens = True
    else:
        offset_tokens = False

    # 1. a short unit repeated inside one long "word" (KjKjKj, 0000, 1010, ┌─┐┌─┐, .....)
    if words and max(map(len, words)) >= 30:
        for big in re.finditer(r"\S{30,}", output):
            for m in _CHAR_LOOP_RE.finditer(big.group(0)):
                unit, span = m.group(1), m.end() - m.start()
                reps = span // max(1, len(unit))
                has_alnum = any(ch.isalnum() for ch in unit)
                start = big.start() + m.start()
                if has_alnum and span >= 30 * strict and reps >= 15:
                    consider(min(0.99, 0.7 + span / 2000), start, start + span, f"{unit!r} repeated {reps}x")
                elif not has_alnum and span >= 300 * strict and reps >= 60:
                    consider(0.6, start, start + span, f"{unit!r} repeated {reps}x")

    # 1b. a long "word" whose end repeats a chunk of up to 150 characters (digit chunks of a fake pi, ...)
    for w in words:
        if len(w) >= 120 and any(ch.isalnum() for ch in w[:20]):
            for p_ in range(13, min(151, len(w) // 3 + 1)):
                if w[-p_:] == w[-2 * p_:-p_] == w[-3 * p_:-2 * p_]:
                    k = 3
                    while (k + 1) * p_ <= len(w) and w[-(k + 1) * p_:-k * p_] == w[-p_:]:
                        k += 1
                    start = output.lower().rfind(w) + len(w) - k * p_
                    consider(min(0.95, 0.65 + 0.05 * k), start, start + k * p_, f"a {p_}-character chunk repeated {k}x")
                    break

    # 2. periodic runs of tokens: a constant copy distance d over a stretch = a unit of d tokens repeated
    n = 3
    if len(words) >= 8:
        if _LIST_NUMBER_RE.search(low):
            # list numbers are masked ("38. Foo / 55. Foo"); same token count, so spans still line up
            words = _TOKEN_RE.findall(_LIST_NUMBER_RE.sub(r"\g<1>0", low))
            if offset_tokens:
                words = words[-_MAX_TOKENS:]
        grams = list(zip(words, words[1:], words[2:]))
        if len(grams) - len(set(grams)) >= 5:
            last: dict[tuple[str, str, str], int] = {}
            get = last.get
            runs: list[tuple[int, int, int]] = []  # (d, first i, last i)
            cur_d, run_s = 0, 0
            spans = None
            for i, g in enumerate(grams):
                p = get(g)
                last[g] = i
                # an ongoing run of period cur_d continues while the newest word repeats the one cur_d before
                if cur_d and words[i + n - 1] == words[i + n - 1 - cur_d]:
                    continue
                if cur_d:
                    runs.append((cur_d, run_s, i - 1))
                cur_d, run_s = (i - p, i) if p is not None else (0, i)
            if cur_d:
                runs.append((cur_d, run_s, len(grams) - 1))
            for d, s_, e in runs:
                lo, hi = s_ - d, e + n  # tokens [lo, hi) are a repeated region
                length = hi - lo
                cycles = length / d
                if lo < 0 or cycles < 2:
                    continue
                unit = words[lo:lo + d]
                alpha = [w for w in unit if len(w) >= 2 and (w[0].isalpha() or w[-1].isalpha())]
                alpha_tokens = len(alpha)
                if alpha_tokens and len(set(alpha)) < 2 and any(w.isdigit() for w in unit):
                    alpha_tokens = 0  # "Data 1 & Data 2 & ...": numbered placeholders, not a loop
                span_chars = sum(len(w) for w in words[lo:hi]) + (hi - lo - 1)  # approximate
                frac = min(1.0, span_chars / n_chars)
                if alpha_tokens == 0:
                    ok = cycles >= 20 * strict and span_chars >= 200 * strict
                elif d == 1:
                    ok = cycles >= 8 * strict
                elif d < 40:
                    alpha_total = alpha_tokens * cycles
                    ok = ((cycles >= 4 * strict and alpha_total >= 10 and span_chars >= 40) or
                          (cycles >= 3 * strict and length >= 24 and span_chars >= 80))
                else:
                    ok = cycles >= (3 if verse else 2) and span_chars >= 300 and (cycles >= 3 or frac >= 0.3)
                if ok:
                    score = min(0.99, 0.6 + 0.08 * math.log2(cycles) + 0.3 * frac)
                    if best is None or score > best[0]:
                        if spans is None:
                            spans = _token_spans(output, len(words) if offset_tokens else None)
                        c_start, c_end = spans[lo][0], spans[min(hi, len(spans)) - 1][1]
                        unit_text = _clip(output[c_start:spans[lo + d - 1][1]], 50)
                        consider(score, c_start, c_end, f"{unit_text!r} repeated {cycles:.1f}x")

    # 3. the same lines (list items, sentences, paragraphs) recur all over the answer
    lines = []
    pos = 0
    for raw in output.split("\n"):
        st = raw.strip()
        if len(st) >= 3 and not st.startswith("```") and not re.fullmatch(r"[-*_=|:\s]+", st):
            # numbers are masked ("Step 14: Stir." = "Step 15: Stir.") unless numbers may be the point (maths, code)
            lines.append((pos, _norm_line(raw, mask_digits=not technical)))
        pos += len(raw) + 1
    if len(lines) >= 10:
        seen: dict[str, int] = {}
        dup = 0
        first_dup = None
        for p, ln in lines:
            if ln in seen and len(ln) >= 3:
                dup += 1
                if first_dup is None:
                    first_dup = p
            else:
                seen[ln] = p
        frac_dup = dup / len(lines)
        need = 0.7 if (verse or art) else 0.6
        if frac_dup >= need and dup >= 6:
            consider(min(0.95, 0.5 + frac_dup * 0.45), first_dup or 0, n_chars,
                     f"{dup} of {len(lines)} lines are repeats")

    # 4. very long and very compressible: a loop with small variations ("Your Yummy ..., Your Yummy ...")
    if n_chars >= 1500 and not art:
        raw = output.encode("utf-8")
        ratio = len(zlib.compress(raw, 1)) / len(raw)
        if ratio < 0.10:
            consider(0.6 + (0.10 - ratio) * 3, 0, n_chars, f"text compresses to {ratio:.0%} of its size")

    if best is None:
        return None
    return Finding("repetition_loop", best[0], (best[1], best[2]), best[3])


# --------------------------------------------------------------------------------------------
# truncated
# --------------------------------------------------------------------------------------------

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
_EMOJI_END_RE = re.compile(r"[\U0001F000-\U0001FFFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200d]\s*$")


def _is_verse(lines: list[str]) -> bool:
    if len(lines) < 4:
        return False
    lens = sorted(len(ln) for ln in lines)
    median = lens[len(lens) // 2]
    punct_ends = sum(1 for ln in lines if ln.rstrip()[-1:] in ".!?")
    return median < 60 and punct_ends <= 0.4 * len(lines)


def _detect_truncated(output: str, finish_reason: str | None, lang: str, loop: Finding | None = None) -> Finding | None:
    text = output.rstrip()
    if not text:
        return None
    fr = (finish_reason or "").strip().lower() or None
    tail_start = max(0, len(text) - 40)
    m = _TRUNC_MARKER_RE.search(text, tail_start)
    if m:
        return Finding("truncated", 0.9, (m.start(), len(text)),
                       f"ends with a truncation marker {m.group(0).strip()!r}")
    weak, why = _weak_truncation(text, lang)
    if weak < 0.7 and loop is not None and loop.span is not None and loop.span[1] >= len(text) - 2 \
            and _loop_cut_mid_unit(text):
        weak, why = 0.7, "a repetition loop runs on to the very end"
    tail = (max(0, len(text) - 60), len(text))
    if fr in ("length", "max_tokens", "max_length"):
        score = 0.95 if weak >= 0.5 else 0.8
        return Finding("truncated", score, tail, f"finish_reason={fr}; ends {_clip(text[-40:], 40)!r}"
                       + (f" ({why})" if why else ""))
    if fr in ("stop", "eos", "end_turn", "stop_sequence", "eos_token"):
        return None  # the model stopped on its own: not cut by the token limit
    if weak >= THRESHOLD:
        return Finding("truncated", weak, tail, f"{why}: {_clip(text[-40:], 40)!r}")
    return None


def _loop_cut_mid_unit(text: str) -> bool:
    """The text does not end on a full stop nor on a complete copy of an earlier line."""
    if _TERMINAL_RE.search(text) and not re.search(r"\d\.$", text):
        return False
    lines = [ln for ln in text[-6000:].split("\n") if ln.strip()]
    last = _norm_line(lines[-1])
    return not any(_norm_line(ln) == last for ln in lines[-200:-1])


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
    norm_last = _norm_line(last)
    if len(norm_last) >= 3 and len(lines) > 2:
        for ln in lines[-300:-1]:
            nl = _norm_line(ln)
            if len(nl) > len(norm_last) + 1 and nl.startswith(norm_last) and nl[len(norm_last)] in " ,;:-":
                return 0.7, "last line is an earlier line cut short"
    opened = sum(last.count(c) for c in "([{«“") - sum(last.count(c) for c in ")]}»”")
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


# --------------------------------------------------------------------------------------------
# wrong language
# --------------------------------------------------------------------------------------------

_SCRIPT_OF_LANG = {"ru": "cyrillic", "uk": "cyrillic", "ar": "arabic", "zh": "han", "ja": "han", "ko": "hangul",
                   "hi": "devanagari"}
_STRIP_FOR_LANG = [
    re.compile(r"```.*?(?:```|\Z)", re.S),
    re.compile(r"`[^`\n]*`"),
    re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+"),
    re.compile(r"«[^»\n]{0,200}»|“[^”\n]{0,200}”|\"[^\"\n]{0,200}\"|„[^“\n]{0,200}“|\*[^*\n]{1,120}\*|_[^_\n]{1,120}_"),
    re.compile(r"(?<![\w'’-])[A-ZÀ-ÖØ-Þ][\w'’-]*"),  # capitalised words: names, titles, sentence starts
    re.compile(r"[#|>*_~\d]+"),
]


def _script(ch: str) -> str:
    o = ord(ch)
    if o < 0x250 or 0x1E00 <= o <= 0x1EFF:
        return "latin"
    if 0x400 <= o <= 0x52F:
        return "cyrillic"
    if 0x600 <= o <= 0x6FF or 0x750 <= o <= 0x77F:
        return "arabic"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x3040 <= o <= 0x30FF:
        return "han"
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF:
        return "hangul"
    if 0x900 <= o <= 0x97F:
        return "devanagari"
    if 0x370 <= o <= 0x3FF:
        return "greek"
    return "other"


def _cut(text: str, start: int, end: int) -> str:
    """text[start:end] widened to word boundaries."""
    if start > 0:
        sp = text.find(" ", start)
        start = sp + 1 if 0 <= sp < start + 40 else start
    if end < len(text):
        sp = text.rfind(" ", start, end)
        end = sp if sp > start else end
    return text[start:end]


def _clean_for_language(text: str) -> str:
    """Prose only: no code, URLs, quoted titles, capitalised names, markup or digits (cheap fast paths)."""
    cleaned = text
    if "`" in cleaned:
        cleaned = _STRIP_FOR_LANG[1].sub(" ", _STRIP_FOR_LANG[0].sub(" ", cleaned))
    if "http" in cleaned or "www." in cleaned or "@" in cleaned:
        cleaned = _STRIP_FOR_LANG[2].sub(" ", cleaned)
    if any(q in cleaned for q in '«“"„*_'):
        cleaned = _STRIP_FOR_LANG[3].sub(" ", cleaned)
    unquoted = " ".join(_STRIP_FOR_LANG[5].sub(" ", _STRIP_FOR_LANG[4].sub(" ", cleaned)).split())
    if sum(map(str.isalpha, unquoted[:300])) >= 25:
        return unquoted
    return " ".join(_STRIP_FOR_LANG[5].sub(" ", cleaned).split())


def _language_samples(output: str) -> tuple[list[str], str | None]:
    """Bounded samples of the prose of ``output`` for language identification, plus its dominant script.

    Short answers give one sample; long ones give a head, a middle and a tail window (each cleaned of
    code, URLs, quotes and capitalised names first), so the cost is bounded whatever the length.
    """
    script = None
    sample_for_script = output[:1500]
    if not sample_for_script.isascii():
        counts: dict[str, int] = {}
        for ch in sample_for_script:
            if ch.isalpha():
                sc = _script(ch)
                counts[sc] = counts.get(sc, 0) + 1
        total = sum(counts.values())
        if total >= 6:
            top = max(counts, key=counts.get)
            if counts[top] >= 0.5 * total:
                script = top
    if len(output) <= 1200:
        text = _clean_for_language(output)
        if len(text) <= 550:
            return ([text] if text else []), script
        return [_cut(text, 0, 350), _cut(text, len(text) - 200, len(text))], script
    n = len(output)
    if "```" in output:  # code fences must be stripped as a whole before cutting windows
        cleaned = _STRIP_FOR_LANG[0].sub(" ", output)
        if len(cleaned) <= 1200:
            text = _clean_for_language(cleaned)
            if len(text) <= 550:
                return ([text] if text else []), script
            return [_cut(text, 0, 350), _cut(text, len(text) - 200, len(text))], script
        output, n = cleaned, len(cleaned)
    head = _clean_for_language(output[:800])
    middle = _clean_for_language(output[n // 2 - 200:n // 2 + 200])
    tail = _clean_for_language(output[-400:])
    rest = " ".join(x for x in (_cut(middle, 0, 120) if len(middle) > 120 else middle,
                                _cut(tail, len(tail) - 160, len(tail)) if len(tail) > 160 else tail) if x)
    samples = [x for x in (_cut(head, 0, 350) if len(head) > 350 else head, rest) if x]
    return samples, script


# Function words found in one study language only: a sample full of its own language's function words and
# (almost) none of the others' is settled without calling lingua (most answers are in the expected language).
_OWN_WORDS = {
    "en": frozenset("the and of to is that with for you it are this be have was can will your or an as at by from they "
                    "we their which has not but if would should could been were these those what when how there into "
                    "about also more than other some such its our may my she his her them so do does like just all "
                    "any each one".split()),
    "fr": frozenset("le les des du est et une dans pour pas sur avec ce cette ces qui sont au aux je vous il ils elle "
                    "elles nous mais ou leur leurs votre vos notre nos être avoir fait peut plus très aussi comme tout "
                    "tous ont était sa ses mon ma mes cela ça où donc entre chaque même bien sans lorsque ainsi "
                    "l qu c".split()),
    "es": frozenset("el los las y del una por con para es su sus lo como más pero al está están muy también hay ha "
                    "han puede pueden ser estar cuando donde porque sobre sin este esta estos estas tiene tienen uno "
                    "unos unas mi".split()),
}
_WORD_RE = re.compile(r"\w+")


def _obviously_in(sample: str, lang: str) -> bool:
    """True when function words alone show that ``sample`` is in ``lang`` (en, fr or es)."""
    own_words = _OWN_WORDS.get(lang)
    if own_words is None:
        return False
    words = _WORD_RE.findall(sample.lower())
    n = len(words)
    if n < 15:
        return False
    own = sum(1 for w in words if w in own_words)
    if own < 0.15 * n:
        return False
    limit = 0.03 * n
    return all(sum(1 for w in words if w in other_words) <= limit
               for code, other_words in _OWN_WORDS.items() if code != lang)


# Romance neighbours that a detector restricted to the study languages cannot name: a few words that
# exist in them but not in French or Spanish (a Spanish prompt answered in Portuguese is a classic drift).
_SIBLING_MARKERS = {
    "pt": frozenset("não também você vocês muito muitos muita uma umas com são isso esse essa pela pelo sua seu ao aos "
                    "até então já é ou melhor maneira fazer começar".split()),
    "it": frozenset("gli della dello degli delle che per è anche questo questa molto più perché nel nella alla dalla "
                    "ogni tutti sono essere modo migliore imparare lingua".split()),
    "ca": frozenset("amb però és els dels als aquest aquesta molt també perquè seva pel pels tenir".split()),
}
_SIBLING_CHECK = {"es": ("pt", "it", "ca"), "fr": ("pt", "it", "ca")}


def _sibling_language(text: str, lang: str, known: tuple[str, ...]) -> tuple[str, float] | None:
    words = re.findall(r"\w+", text.lower())
    if len(words) < 12:
        return None
    for sib in _SIBLING_CHECK.get(lang, ()):
        if sib in known:
            continue
        hits = sum(1 for w in words if w in _SIBLING_MARKERS[sib])
        if hits >= 4 and hits / len(words) >= 0.08:
            return sib, hits / len(words)
    return None


class CriticalErrorDetector:
    """Detects the six critical-error labels; build once, reuse for many answers."""

    version = DETECTOR_VERSION

    def __init__(self, languages: Sequence[str] = ("en", "fr", "es")):
        from bench.languages import get_language, lingua_detector

        self.languages = tuple(get_language(code).code for code in languages)
        self._detector, self._by_member = lingua_detector(self.languages)

    # -- public API -------------------------------------------------------------------------
    def detect(self, instruction: str, output: str, lang: str, finish_reason: str | None = None) -> list[Finding]:
        """All findings (score >= THRESHOLD) for one answer, in LABELS order."""
        samples, script = _language_samples(output)
        code = self._check_lang(lang)
        confs = ([{code: 1.0} if _obviously_in(s, code) else self._confidences(s) for s in samples]
                 if self._detector is not None else [])
        return self._detect(instruction, output, lang, finish_reason, samples, script, confs)

    def detect_many(self, rows: Iterable[Sequence]) -> list[list[Finding]]:
        """Findings for many ``(instruction, output, lang[, finish_reason])`` rows; lingua runs batched."""
        rows = [tuple(r) for r in rows]
        codes = [self._check_lang(r[2]) for r in rows]
        prepared = [_language_samples(r[1]) for r in rows]
        flat = [(s, code) for (samples, _), code in zip(prepared, codes) for s in samples]
        flat_confs: list[dict[str, float]] = [{} for _ in flat]
        if self._detector is not None and flat:
            todo = []
            for k, (s, code) in enumerate(flat):
                if _obviously_in(s, code):
                    flat_confs[k] = {code: 1.0}
                else:
                    todo.append(k)
            if todo:
                values = self._detector.compute_language_confidence_values_in_parallel([flat[k][0] for k in todo])
                for k, v in zip(todo, values):
                    flat_confs[k] = self._to_dict(v)
        out, k = [], 0
        for row, (samples, script) in zip(rows, prepared):
            confs = flat_confs[k:k + len(samples)]
            k += len(samples)
            fr = row[3] if len(row) > 3 else None
            out.append(self._detect(row[0], row[1], row[2], fr, samples, script, confs))
        return out

    # -- internals ----------------------------------------------------------------------------
    def _to_dict(self, values) -> dict[str, float]:
        return {self._by_member[cv.language]: cv.value for cv in values}

    def _confidences(self, text: str) -> dict[str, float]:
        return self._to_dict(self._detector.compute_language_confidence_values(text))

    def _check_lang(self, lang: str) -> str:
        code = (lang or "").strip().lower()
        if code not in self.languages:
            raise ValueError(f"language {lang!r} is not one of this detector's languages {list(self.languages)}")
        return code

    def _detect(self, instruction, output, lang, finish_reason, samples, script, confs) -> list[Finding]:
        lang = self._check_lang(lang)
        findings: dict[str, Finding] = {}
        empty = _detect_empty(output)
        if empty is not None:
            findings["empty"] = empty
        leak = _detect_format_leak(instruction, output)
        if leak is not None:
            findings["format_leak"] = leak
        if empty is not None and output.strip():
            loop = _detect_repetition(output, False, False)
            if loop is not None:
                findings["repetition_loop"] = loop
        if empty is None:
            technical, verse, art, _ = _instruction_features(instruction)
            # analyse the answer proper, not the scaffolding it ran on into
            body = output[: leak.span[0]] if leak is not None and leak.span[0] > 0 else output
            loop = _detect_repetition(output, verse, art, technical)
            for finding in (
                loop,
                _detect_unintended_code(instruction, body, technical),
                self._wrong_language(instruction, lang, samples, script, confs),
                _detect_truncated(output, finish_reason, lang, loop),
            ):
                if finding is not None:
                    findings[finding.label] = finding
        return [findings[label] for label in LABELS if label in findings and findings[label].score >= THRESHOLD]

    def _wrong_language(self, instruction, lang, samples, script, confs) -> Finding | None:
        if _instruction_features(instruction)[3]:
            return None
        expected_script = _SCRIPT_OF_LANG.get(lang, "latin")
        if script is not None and script != expected_script and script != "other":
            return Finding("wrong_language", 0.95, None, f"answer is mostly in {script} script, expected {lang}")
        if not samples:
            return None
        sib = _sibling_language(" ".join(samples), lang, self.languages)
        if sib is not None:
            return Finding("wrong_language", 0.8, None,
                           f"reads as {sib[0]} ({sib[1]:.0%} of words are {sib[0]}-only), expected {lang}")
        if not confs:
            return None
        total = wrong = 0.0
        others: dict[str, float] = {}
        for text, conf in zip(samples, confs):
            letters = sum(map(str.isalpha, text))
            if letters < 20:
                continue
            total += letters
            if not conf:
                continue
            top = max(conf, key=conf.get)
            need = 0.75 if letters >= 150 else 0.9
            if top != lang and conf[top] >= need and conf.get(lang, 0.0) <= 0.15:
                wrong += letters
                others[top] = others.get(top, 0.0) + letters * conf[top]
        if total < 20 or wrong / total < 0.5:
            return None
        other = max(others, key=others.get)
        frac = wrong / total
        score = min(0.99, 0.45 + 0.5 * frac * (others[other] / wrong))
        return Finding("wrong_language", score, None,
                       f"{frac:.0%} of the sampled prose reads as {other}, expected {lang}")


def findings_to_record(findings: list[Finding]) -> dict:
    """The two fields the CLI adds to each line."""
    return {"critical_errors": [f.label for f in findings],
            "critical_error_evidence": [f.to_dict() for f in findings]}


def evaluate(records: Sequence[dict], detector: CriticalErrorDetector | None = None) -> dict:
    """Precision / recall / F1 / support per label and micro-averaged, on records carrying gold ``labels``.

    Returns ``{"items", "labels": {label: {...}}, "micro": {...}, "errors": [(id, missed, spurious)]}``.
    """
    detector = detector or CriticalErrorDetector(sorted({r["lang"] for r in records} | {"en", "fr", "es"}))
    predictions = detector.detect_many([(r["instruction"], r["output"], r["lang"], r.get("finish_reason"))
                                        for r in records])
    gold = [set(rec["labels"]) for rec in records]
    pred = [{f.label for f in found} for found in predictions]
    errors = [(rec.get("id", "?"), sorted(g - p), sorted(p - g)) for rec, g, p in zip(records, gold, pred) if g != p]
    per_label, micro = label_scores(gold, pred, LABELS)
    return {"items": len(records), "detector_version": DETECTOR_VERSION, "labels": per_label, "micro": micro,
            "errors": errors}

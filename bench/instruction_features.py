"""What an instruction asks for, as the detectors need it: technical (code or markup expected)? verse?
ASCII art? a translation or a named language? a dialogue? something about prompts and chat formats?

Computed once per instruction (cached): an instruction is typically asked of many models and methods.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

# What an instruction is about, by kind: each kind makes some non-prose content expected (see ``Intent``).
_CODE_WORDS = frozenset("""
code codes coder coders coding codage codifica codificar program programs programme programmes programming
programación programa programas programar programmer script scripts scripting function functions fonction fonctions
función funciones funcion python javascript typescript java kotlin swift golang rust ruby php perl scala haskell
matlab julia fortran cobol assembly assembleur ensamblador malbolge brainfuck sql mysql postgres postgresql sqlite
nosql mongodb regex regexp vba macro macros bash zsh shell powershell git github gitlab npm pip conda docker dockerfile
kubernetes api apis endpoint sdk sphinx jira cypress react angular vue django flask node nodejs pandas numpy scipy
pyplot matplotlib tensorflow pytorch keras psycopg psycopg2 psycog2 bug bugs software logiciel logiciels array arrays
arreglo arreglos integer integers entiers enteros string strings variable variables boucle boucles bucle bucles loop
loops class classes méthode méthodes method methods object objects arduino raspberry framework library libraries
bibliothèque bibliothèques librería librerías biblioteca package packages module modules módulo módulos plugin plugins
ide vscode vim emacs unity godot cli gui hash hashing devops pipeline spl implement implements implementation
implémente implémenter implémentation implementa implementar implementación
""".split())
_DATA_WORDS = frozenset("""
json yaml toml csv xml excel spreadsheet spreadsheets tableur formula formulas formule formules fórmula fórmulas
database databases dataset datasets data donnée données datos schema schéma esquema template templates plantilla
ticket tickets
""".split())
_MARKUP_WORDS = frozenset("""
html html5 css markdown latex tex bibtex overleaf rst website websites webpage frontend backend ascii unicode emoji
emojis braille
""".split())
_COMPUTING_WORDS = frozenset("""
ai android aplicación app apps aws azure binaire binario binary bit bits byte bytes chatgpt chiffrement cifrado cloud cmd comando
comandos command commande commandes commands computadora computadoras computer computers consola console contraseña
debian dns embedding embeddings encryption gcp gpt hexadecimal http https ia informatique informática ip linux llm
macos ios network networks octet octets ordenador ordenadores ordinateur ordinateurs password robot robots router routeur
réseau sdr server servers serveur serveurs servidor servidores tcp terminal transformer transformers ubuntu ui unix
url urls ux wifi windows
""".split())
_MATH_WORDS = frozenset("""
variance varianza regression régression regresión math maths mathematics mathématiques matemáticas équation
équations equation equations ecuación ecuaciones matrix matrices matrice matriz vector vectors vecteur vecteurs
vectores integral intégrale integrales theorem théorème teorema proof preuve prove prouver demuestra demostrar
demostración area aire área triangle triangles triángulo square carré cuadrado circle cercle círculo geometry
géométrie geometría solve résous résoudre resuelve resolver sudoku
""".split())
# code words that are also everyday words or mere mentions ("a software engineer", "a bug in my garden"): two are
# needed, or one strong code word, to make an instruction about programming
_WEAK_CODE_WORDS = frozenset("""
software logiciel logiciels bug bugs class classes object objects method methods méthode méthodes loop loops boucle
boucles bucle bucles string strings variable variables library libraries bibliothèque bibliothèques librería
librerías biblioteca package packages module modules módulo módulos plugin plugins array arrays integer integers
program programs programa programas programme programmes function functions fonction fonctions función funciones
funcion unity pipeline hash code codes implement implements implementation implémente implémenter implémentation
implementa implementar implementación
""".split())
_WEAK_MATH_WORDS = frozenset("resolver resuelve solve area aire área square carré cuadrado circle cercle círculo "
                             "triangle proof preuve prove".split())
_TECH_WORDS = _CODE_WORDS | _DATA_WORDS | _MARKUP_WORDS | _COMPUTING_WORDS | _MATH_WORDS
_CODE_PREFIXES = ("programm", "algorit", "algorithm", "compil", "debug", "débog", "depur", "develop", "dévelop",
                  "desarroll", "microcontr", "docker", "regex", "javascript", "python", "sql")
_MATH_PREFIXES = ("statisti", "estadíst", "probabilit", "probabilid", "calcul", "cálcul", "comput", "dériv", "deriv",
                  "integr", "matemát", "mathém", "geomet", "géomét", "equation", "équation", "ecuaci")
_TECH_PREFIXES = _CODE_PREFIXES + _MATH_PREFIXES + ("neuron", "neural", "crypt")
_TECH_PHRASE_RE = re.compile(
    r"(?i)c\+\+|c#|\.(?:py|js|sh|csv|json|html?|tex|xlsx?|sql|ipynb)\b|machine learning|deep learning|"
    r"apprentissage automatique|aprendizaje autom[aá]tico|regular expressions?|expressions? r[ée]guli[eè]res?|"
    r"expresi[oó]n(?:es)? regular(?:es)?|command[- ]line|ligne de commande|l[ií]nea de comandos|google sheets|"
    r"hoja de c[aá]lculo|base[s]? de (?:donn[ée]es|datos)|site[s]? web|sitio[s]? web|page[s]? web|p[aá]gina[s]? web|"
    r"web ?page|abc notation|data science|ci/cd|mot de passe")
# code-shaped text in the instruction itself: fences, inline code, definitions, tags, spreadsheet calls, identifiers
_CODE_SHAPED_RE = re.compile(
    r"```|`[^`\n]+`|[{};]\s*$|\bdef\s+\w+\(|</?[a-zA-Z]\w*[^>]*>|=\s*[A-Z]+\(|\b[a-z]+_[a-z_]+\b|"
    r"\b[a-z]{2,}[A-Z]\w*\b|\w\(\)", re.M)  # camelCase identifiers (not iPhone, eBay: one lower-case letter)
_DATA_PHRASE_RE = re.compile(r"(?i)base[s]? de (?:donn[ée]es|datos)|google sheets|hoja de c[aá]lculo|\.(?:csv|json|xlsx?)\b")
_MARKUP_PHRASE_RE = re.compile(r"(?i)site[s]? web|sitio[s]? web|page[s]? web|p[aá]gina[s]? web|web ?page|abc notation|"
                               r"\.(?:html?|tex)\b")
# maths-shaped text: $...$, LaTeX commands, digits with operators, powers
_MATH_SHAPED_RE = re.compile(r"\$[^$\n]+\$|\\[a-z]+\{|\b\d+\s*[-+*/^=<>]\s*[\w(]|\w\^\d|\b[a-zA-Z]\s*[-+*/^=]\s*\d")
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

_META_RE = re.compile(r"(?i)\b(?:tokens?|jetons?|prompt\w*|templates?|chatml|chat[- ]?formats?|plantillas?|llms?|"
                      r"language models?|mod[eè]les? de langage|modelos? de lenguaje|urial|few[- ]shot|"
                      r"in[- ]context)\b")


# French "j'ai" (I have) is not the word "ai" (artificial intelligence)
_J_AI_RE = re.compile(r"\bj['’]ai\b")


class InstructionFeatures(NamedTuple):
    """What the instruction asks for (or is about)."""

    technical: bool  # code or markup is expected (see is_technical): any of the next five
    code: bool  # about programming: program code is expected
    data: bool  # about data formats, spreadsheets, databases: JSON, CSV, tables, formulas are expected
    markup: bool  # about web pages, HTML, Markdown, LaTeX documents
    computing: bool  # about computers, systems, networks: commands and file names are expected
    math: bool  # maths or statistics: formulas are expected (program code is not)
    verse: bool  # a song, poem, refrain ...: repetition is expected
    art: bool  # ASCII art, a pattern, a grid, emoji ...: repeated symbols are expected
    language_exempt: bool  # a translation / named language, or pronunciation or spelling: any language may answer
    about_prompts: bool  # about tokens, prompts, chat templates, LLMs: scaffolding may be shown on purpose
    dialogue: bool  # a dialogue, script, interview, role-play ...: speaker turns are expected


@lru_cache(maxsize=4096)
def instruction_features(instruction: str) -> InstructionFeatures:
    """The features of ``instruction`` (cached)."""
    words = set(re.findall(r"\w+", _J_AI_RE.sub(" ", instruction.lower())))
    code = _about_code(instruction, words)
    return InstructionFeatures(
        technical=is_technical(instruction),
        code=code,
        data=bool(words & _DATA_WORDS or _DATA_PHRASE_RE.search(instruction)),
        markup=bool(words & _MARKUP_WORDS or _MARKUP_PHRASE_RE.search(instruction)),
        computing=bool(words & _COMPUTING_WORDS or re.search(
            r"(?i)command[- ]line|ligne de commande|l[ií]nea de comandos|mot de passe|machine learning|deep learning|"
            r"apprentissage automatique|aprendizaje autom[aá]tico|data science|neur|crypt", instruction)),
        math=bool(words & _MATH_WORDS - _WEAK_MATH_WORDS or len(words & _MATH_WORDS) >= 2
                  or any(w.startswith(_MATH_PREFIXES) for w in words)
                  or _MATH_SHAPED_RE.search(instruction)),
        verse=bool(_VERSE_RE.search(instruction)),
        art=bool(_ART_RE.search(instruction)),
        language_exempt=requests_language(instruction) or bool(_NON_PROSE_RE.search(instruction)),
        about_prompts=bool(_META_RE.search(instruction)),
        dialogue=any(m.group(0).lower() not in _SCRIPT_WORDS or not _about_code(instruction, words - _SCRIPT_WORDS)
                     for m in _DIALOGUE_RE.finditer(instruction)),  # a script is a program's when else about code
    )


_SCRIPT_WORDS = frozenset({"script", "scripts"})


def _about_code(instruction: str, words: set[str]) -> bool:
    """The instruction (its lower-cased ``words``) is about programming."""
    code_hits = words & _CODE_WORDS
    return bool(code_hits - _WEAK_CODE_WORDS or len(code_hits) >= 2 or any(w.startswith(_CODE_PREFIXES) for w in words)
                or _CODE_SHAPED_RE.search(instruction)
                or re.search(r"(?i)c\+\+|c#|\.(?:py|js|sh|sql|ipynb)\b|regular expressions?|expressions? r[ée]guli|"
                             r"expresi[oó]n(?:es)? regular|ci/cd", instruction))


def is_technical(instruction: str) -> bool:
    """True when the instruction asks for (or is about) something technical, so code or markup is expected."""
    words = set(re.findall(r"\w+", _J_AI_RE.sub(" ", instruction.lower())))
    if words & _TECH_WORDS or any(w.startswith(_TECH_PREFIXES) for w in words):
        return True
    return bool(_TECH_PHRASE_RE.search(instruction) or _CODEY_INSTRUCTION_RE.search(instruction))


def requests_language(instruction: str) -> bool:
    """True when the instruction asks for a translation or an answer in a named language."""
    return bool(_REQUEST_LANG_RE.search(instruction))

"""Review aspects, the text part (the cue words): split a review into sentences and give each sentence the
product aspects it talks about (scent, texture, packaging, price, effect on skin/hair, longevity, shade/colour).

Sentences come from pysbd (rule-based, pure Python; it keeps the reviews' line breaks and bullet lists
apart, which blingfire merges into one sentence). An aspect is assigned when one of its cue words or
phrases occurs in the sentence (whole words, case-insensitive). The aspects and their cues were derived
from the Amazon All_Beauty review sentences: `frequent_terms` counts content words and word pairs by the
number of sentences holding them; the frequent ones were read and grouped by hand (`assets/aspects/CUES.md`
has the counts and what was left out). Each aspect also names the Sephora attribute tags it overlaps.
The model side (a sentiment per sentence) is in `guide/serving/aspect_chips.py`.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MIN_LETTERS = 3  # a "sentence" with fewer letters (".", "-- 5*") carries no aspect and is dropped
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)  # the Amazon texts keep the site's <br /> tags
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class Aspect:
    key: str
    label: str
    cues: str  # one regular expression (alternatives joined by |), matched as whole words, case-insensitive
    tags: str = ""  # the attribute tags (the model's vocabulary) that name this aspect, joined by "; "

    @property
    def tag_list(self) -> tuple[str, ...]:
        return tuple(t for t in self.tags.split("; ") if t)


ASPECTS: tuple[Aspect, ...] = (
    Aspect(
        "scent",
        "Scent",
        (
            r"scent(s|ed)?|unscented|smell(s|ed|ing|y)?|fragrance(s|d)?|fragrance[- ]free|perfume(s|d)?|"
            r"aroma(s|tic)?|odou?rs?|stinks?|stinky|whiffs?"
        ),
        (
            "Floral Scent; Fresh Scent; Fragrance Free; Layerable Scent; Unisex/ Genderless Scent; "
            "Warm &Spicy Scent; Woody & Earthy Scent"
        ),
    ),
    Aspect(
        "texture",
        "Texture & feel",
        (
            r"texture[sd]?|consistency|greasy|greasiness|non[- ]?greasy|sticky|stickiness|tacky|residue|creamy|"
            r"silky|velvety|watery|runny|lightweight|thick(er|ness)?|thin(ner)?|heavy|absorb(s|ed|ing)?|"
            r"absorption|lather(s|ed|ing)?|foam(s|y|ing)?|gritty|grainy|slippery|bristles?|comfortable|"
            r"uncomfortable"
        ),
        ("Cream Formula; Liquid Formula; Loose Powder Formula; Pressed Powder Formula; Stick Formula"),
    ),
    Aspect(
        "packaging",
        "Packaging",
        (
            r"packag(e|es|ed|ing)|bottles?|box(es|ed)?|plastic|tubes?|pumps?|caps?|lids?|containers?|jars?|"
            r"dispensers?|wrapped|wrapping|leak(s|ed|ing|y)?|spill(s|ed)?|seal(s|ed)?|nozzles?|sprayers?|"
            r"pouch(es)?|packets?"
        ),
        ("Refill Available"),
    ),
    Aspect(
        "price",
        "Price & value",
        (
            r"price[sd]?|pricey|overpriced|value|worth|expensive|inexpensive|cheap(er)?|afford(able)?|budget|"
            r"costs?|money|deal|bargain|dollars?|bucks|\$\s?\d+"
        ),
    ),
    Aspect(
        "effect",
        "Effect on skin & hair",
        (
            r"moisturi[sz](e|es|ed|ing)|moisture|hydrat(e|es|ed|ing|ion)|dehydrated|irritat(e|es|ed|ing|ion)|"
            r"redness|acne|breakouts?|br(oke|eak) (me )?out|pimples?|blemish(es)?|pores?|wrinkles?|fine lines|"
            r"soothing|sooth(e|es|ed)|calm(s|ed|ing)?|itch(y|ing|iness)?|burn(s|ed|ing)?|rash(es)?|drying|"
            r"dried out|dry (skin|hair|patches)|flak(y|es|ing)|glow(s|ing|y)?|radiant|brighter|"
            r"brighten(s|ed|ing)?|plump(ing|er)?|firm(er|ing)?|frizz(y)?|tangles?|tangled|detangl(e|es|ed|ing)|"
            r"volume|curls?|dandruff|scalp|nourish(es|ed|ing)?|results?|"
            r"(skin|hair|face|hands|lips|nails) (feels?|felt|looks?|looked)|"
            r"(feels?|felt|left|leaves|leaving) (my )?(skin|hair|face|hands|lips)"
        ),
        (
            "Hydrating; Plumping; Hypoallergenic; Curl-Enhancing; Volumizing; Increases Shine; Heat Protection; "
            "Good for: Acne/Blemishes; Good for: Anti-Aging; Good for: Damage; Good for: Dark Circles; "
            "Good for: Dark spots; Good for: Dryness; Good for: Dullness/Uneven Texture; "
            "Good for: Flaky/Dry Scalp; Good for: Frizz; Good for: Hair Thinning; Good for: Loss of firmness; "
            "Good for: Oily Scalp; Good for: Pores; Good for: Redness; Good for: Volume"
        ),
    ),
    Aspect(
        "longevity",
        "Longevity & wear",
        (
            r"long[- ]lasting|last(s|ed|ing)?|lasts? (all day|long)|all day|hours?|stay(s|ed)? (on|put)|"
            r"wears? off|wore off|wear(s|ing)? (well|long)|chip(s|ped|ping)?|peel(s|ed|ing)?|fad(e|es|ed|ing)|"
            r"smudg(e|es|ed|ing)|smear(s|ed)?|transfer(s|red)?|durable|durability|sturdy|flims(y|ier)|"
            r"br(oke|oken|eaks?)|fell apart|falls? apart|battery|months?|weeks?"
        ),
        ("Long-wearing; Waterproof; Prevents Color Fading"),
    ),
    Aspect(
        "colour",
        "Shade & colour",
        (
            r"colou?r(s|ed|ful)?|shades?|tones?|tint(s|ed)?|hues?|pigment(s|ed|ation)?|coverage|glitter(y)?|"
            r"shimmer(y)?|matte|glossy|nude|pink|red|blue|purple|green|black|white cast|brown|beige|neon|pastel"
        ),
        (
            "Full Coverage; Light Coverage; Medium Coverage; Matte Finish; Natural Finish; Radiant Finish; "
            "Satin Finish; Shimmer Finish; Metallic Finish; High Shine Finish"
        ),
    ),
)
ASPECT_KEYS = tuple(a.key for a in ASPECTS)
BY_KEY = {a.key: a for a in ASPECTS}


@functools.cache
def _patterns() -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((a.key, re.compile(rf"(?<![\w$])(?:{a.cues})(?!\w)", re.IGNORECASE)) for a in ASPECTS)


@functools.cache
def _segmenter():
    import pysbd  # a dependency of this stage only; imported on first use

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[str]:
    """The sentences of a review, stripped, in order; pieces with under MIN_LETTERS letters are dropped."""
    if not isinstance(text, str):
        raise ValueError(f"text: expected a string, got {type(text).__name__}; fix: pass the review text")
    text = _LINE_BREAK.sub("\n", text).strip()
    if not text:
        return []
    pieces = (s.strip() for s in _segmenter().segment(text))
    return [s for s in pieces if sum(c.isalpha() for c in s) >= MIN_LETTERS]


def review_sentences(title: str | None, text: str) -> list[str]:
    """The title (as one sentence, when it has words) followed by the sentences of the text."""
    head = [title.strip()] if isinstance(title, str) and sum(c.isalpha() for c in title) >= MIN_LETTERS else []
    return head + split_sentences(text)


def assign(sentence: str) -> list[str]:
    """The aspect keys (in ASPECT_KEYS order) whose cues occur in the sentence; [] for none."""
    return [key for key, pattern in _patterns() if pattern.search(sentence)]


def aspects_for_tags(tags: Iterable[str]) -> dict[str, list[str]]:
    """aspect key -> the given attribute tags it overlaps (only aspects with at least one)."""
    tags = list(tags)
    found = {a.key: [t for t in tags if t in a.tag_list] for a in ASPECTS}
    return {key: hits for key, hits in found.items() if hits}


def frequent_terms(sentences: Iterable[str], stop_words: Iterable[str], top: int = 300) -> list[tuple[str, int]]:
    """Content words (3+ letters) and adjacent pairs of them, by the number of sentences holding them,
    most frequent first: the list the aspects and their cues were read from."""
    stop = set(stop_words)
    counts: Counter[str] = Counter()
    for sentence in sentences:
        words = _WORD.findall(sentence.lower())
        content = [w if w not in stop and len(w) > 2 else None for w in words]
        pairs = {f"{a} {b}" for a, b in zip(content, content[1:]) if a and b}
        counts.update({w for w in content if w} | pairs)
    return counts.most_common(top)

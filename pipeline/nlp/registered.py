"""Functions newsignal's spaCy configs name, registered with spaCy's registry on import.

`models/entities/config.cfg` tokenises with `newsignal.tokenizer.v1` and reads the base model's
lookup tables through `newsignal.base_lookups.v1`; `spacy train` run by hand needs
`--code pipeline/nlp/registered.py`. This module imports nothing of ours, so that `--code` can
load it on its own.
"""

import spacy
from spacy.lookups import Lookups
from spacy.util import compile_infix_regex, registry

# "U.S.-listed", "U.K.-based": a hyphen after an abbreviation's full stop splits the word, so
# that the country is a token (and an entity) of its own; spaCy keeps the whole as one token.
ABBREVIATION_HYPHEN = r"(?<=[A-Z]\.)-(?=[A-Za-z])"


@registry.tokenizers("newsignal.tokenizer.v1")
def create_tokenizer():
    """spaCy's English tokenizer, splitting at ABBREVIATION_HYPHEN too."""
    create_default = registry.tokenizers.get("spacy.Tokenizer.v1")()

    def create(nlp):
        tokenizer = create_default(nlp)
        infixes = [*nlp.Defaults.infixes, ABBREVIATION_HYPHEN]
        tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
        return tokenizer

    return create

# The components a lookups-only load of the base model leaves out.
BASE_COMPONENTS = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "ner")


@registry.misc("newsignal.base_lookups.v1")
def base_lookups(model: str) -> Lookups:
    """The lookup tables (lexeme_norm) of the installed spaCy model `model`: token norms in
    training must be those the pipeline computes with that model's vocabulary."""
    return spacy.load(model, exclude=list(BASE_COMPONENTS)).vocab.lookups

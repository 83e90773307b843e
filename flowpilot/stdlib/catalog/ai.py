"""``ai.*``: language-model steps on Google Gemini (through the ``google-genai`` SDK).

Every node takes the common ``model``, ``temperature``, ``max_output_tokens`` and ``connection``
arguments and reports token usage, so cost can be tracked per step.
"""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    TOKENS,
    ai_common,
    any_value,
    array,
    boolean,
    enum,
    file,
    file_list,
    integer,
    json_schema_arg,
    node_type,
    nullable,
    number,
    obj,
    one_of_types,
    open_object,
    string,
    string_map,
    template,
)
from flowpilot.stdlib.registry import Category, NodeType

_TEXT = string("The text to work on.", minLength=1)
_LANGUAGE = string(
    "Language as a BCP 47 tag or an English name.", examples=["en", "de-CH", "French"]
)
_CONFIDENCE = number("Model confidence, 0 (none) to 1 (certain).", minimum=0, maximum=1)

SUMMARIZE = node_type(
    "ai.summarize",
    category=Category.AI,
    summary="Summarize a text",
    description="""
Summarizes `text` in about `max_words` words, as prose or bullet points, in `language` (by
default the language of the text).

Output: `{summary, tokens}`.
""",
    inputs={
        "text": _TEXT,
        "max_words": integer(
            "Approximate length of the summary.", minimum=10, maximum=2000, default=120
        ),
        "style": enum(
            "Shape of the summary.",
            ["paragraph", "bullets", "tldr", "executive"],
            default="paragraph",
        ),
        "language": _LANGUAGE,
        "focus": template("What the summary should concentrate on; a template."),
        **ai_common(),
    },
    required=["text"],
    output=obj(
        "The summary.",
        {"summary": string("The summary."), "tokens": TOKENS},
        ["summary", "tokens"],
    ),
    credential="gemini",
    example="""
- id: tldr
  uses: ai.summarize
  with:
    text: ${{ steps.text.output.text }}
    style: bullets
    max_words: 80
""",
)

EXTRACT = node_type(
    "ai.extract",
    category=Category.AI,
    summary="Extract structured data that matches a JSON Schema",
    description="""
Reads `text` or `file` (PDF, image, Office document — give one) and returns a value that
matches `schema`, using Gemini's structured output. The compiler types the step's output with
`schema`, so `steps.<id>.output.<field>` is checked against the fields you declared. Describe
each field with `description` in the schema: the model reads them.

Output: an object matching `schema`.
""",
    inputs={
        "text": _TEXT,
        "file": file("A document or image to read instead of `text`."),
        "schema": json_schema_arg("JSON Schema of the data to extract; it types the output."),
        "instructions": template("Extra guidance for the model; a template."),
        "examples": array(
            "Worked examples (few-shot) that improve accuracy on tricky documents.",
            obj(
                "An example.",
                {
                    "text": string("Example input."),
                    "output": open_object("The data that should be extracted from it."),
                },
                ["text", "output"],
            ),
            maxItems=10,
        ),
        **ai_common(temperature=0.0),
    },
    required=["schema"],
    output=open_object("Data matching the `schema` argument."),
    output_from="schema",
    credential="gemini",
    example="""
- id: fields
  uses: ai.extract
  with:
    file: ${{ inputs.document }}
    schema:
      type: object
      properties:
        vendor: { type: string }
        number: { type: string, description: Invoice number }
        total: { type: number, description: Grand total incl. tax }
        due_date: { type: string, format: date }
      required: [vendor, total]
""",
)

CLASSIFY = node_type(
    "ai.classify",
    category=Category.AI,
    summary="Classify a text into one (or several) of your labels",
    description="""
Assigns `text` to one of `labels` (or, with `multi_label`, to every label that applies).
`label_descriptions` tell the model what each label means.

Output: `{label, labels, confidence, scores}` — `label` is the best label, `labels` every label
above `threshold` (multi-label) or just `[label]`, `scores` a score per label.
""",
    inputs={
        "text": _TEXT,
        "labels": array(
            "The candidate labels.",
            {"type": "string", "minLength": 1},
            minItems=2,
            uniqueItems=True,
        ),
        "label_descriptions": string_map("What each label means, by label."),
        "multi_label": boolean("Allow several labels.", default=False),
        "threshold": number(
            "Multi-label: minimum score for a label to be returned.",
            minimum=0,
            maximum=1,
            default=0.5,
        ),
        "instructions": template("Extra guidance for the model; a template."),
        **ai_common(temperature=0.0),
    },
    required=["text", "labels"],
    output=obj(
        "The classification.",
        {
            "label": string("The best label."),
            "labels": array("Every label assigned.", {"type": "string"}),
            "confidence": _CONFIDENCE,
            "scores": obj(
                "Score (0..1) per label.",
                {},
                additional={"type": "number", "minimum": 0, "maximum": 1},
            ),
            "tokens": TOKENS,
        },
        ["label", "labels", "confidence", "scores", "tokens"],
    ),
    credential="gemini",
    example="""
- id: route
  uses: ai.classify
  with:
    text: ${{ trigger.body.message }}
    labels: [billing, technical, sales, other]
""",
)

SENTIMENT = node_type(
    "ai.sentiment",
    category=Category.AI,
    summary="Detect the sentiment of a text",
    description="""
Rates the sentiment of `text` (customer emails, reviews, survey answers).

Output: `{sentiment, score, confidence}` — `score` runs from -1 (very negative) to 1 (very
positive).
""",
    inputs={
        "text": _TEXT,
        "aspects": array(
            "Also rate the sentiment towards each of these topics.", {"type": "string"}
        ),
        **ai_common(temperature=0.0),
    },
    required=["text"],
    output=obj(
        "The sentiment.",
        {
            "sentiment": enum("Overall sentiment.", ["positive", "neutral", "negative", "mixed"]),
            "score": number("-1 (very negative) to 1 (very positive).", minimum=-1, maximum=1),
            "confidence": _CONFIDENCE,
            "aspects": obj(
                "Score (-1..1) per requested aspect.",
                {},
                additional={"type": "number", "minimum": -1, "maximum": 1},
            ),
            "tokens": TOKENS,
        },
        ["sentiment", "score", "confidence", "aspects", "tokens"],
    ),
    credential="gemini",
    example="""
- id: mood
  uses: ai.sentiment
  with: { text: "${{ trigger.body.review }}" }
""",
)

TRANSLATE = node_type(
    "ai.translate",
    category=Category.AI,
    summary="Translate a text",
    description="""
Translates `text` into `target_language`, keeping formatting (Markdown, line breaks) and using
the `glossary` for terms that must be translated a fixed way.

Output: `{text, detected_language, tokens}`.
""",
    inputs={
        "text": _TEXT,
        "target_language": _LANGUAGE,
        "source_language": string(
            "Language of `text`; detected when omitted.", examples=["en", "de"]
        ),
        "glossary": string_map("Fixed translations: source term → target term."),
        "formality": enum(
            "Register of the translation.", ["default", "formal", "informal"], default="default"
        ),
        **ai_common(temperature=0.1),
    },
    required=["text", "target_language"],
    output=obj(
        "The translation.",
        {
            "text": string("The translated text."),
            "detected_language": string("Language of the input (BCP 47)."),
            "tokens": TOKENS,
        },
        ["text", "detected_language", "tokens"],
    ),
    credential="gemini",
    example="""
- id: to_german
  uses: ai.translate
  with:
    text: ${{ steps.tldr.output.summary }}
    target_language: de
    glossary: { invoice: Rechnung }
""",
)

GENERATE = node_type(
    "ai.generate",
    category=Category.AI,
    summary="Generate text (or JSON) from a prompt",
    description="""
Sends `prompt` (a template) with an optional `system` instruction and `files` (images, PDFs) to
Gemini. With `json_schema`, the model answers with JSON matching it, parsed into `json`.

Output: `{text, json, finish_reason, tokens}` — `finish_reason` is `max_tokens` when the answer
was cut off.
""",
    inputs={
        "prompt": template("The prompt; a template.", minLength=1),
        "system": template("System instruction; a template."),
        "files": file_list("Images or documents the model should read.", maxItems=20),
        "json_schema": json_schema_arg("Ask for JSON matching this schema; parsed into `json`."),
        "top_p": number("Nucleus sampling probability mass.", minimum=0, maximum=1),
        "stop_sequences": array("Stop generating at any of these.", {"type": "string"}, maxItems=5),
        "seed": integer("Seed for more reproducible sampling."),
        **ai_common(temperature=0.7),
    },
    required=["prompt"],
    output=obj(
        "The generated answer.",
        {
            "text": string("Generated text (the raw JSON text with `json_schema`)."),
            "json": any_value("Parsed JSON with `json_schema`, else null."),
            "finish_reason": enum(
                "Why generation stopped.",
                ["stop", "max_tokens", "safety", "recitation", "other"],
            ),
            "tokens": TOKENS,
        },
        ["text", "json", "finish_reason", "tokens"],
    ),
    credential="gemini",
    example="""
- id: reply
  uses: ai.generate
  with:
    system: You are a polite support agent for ACME. Answer in the customer's language.
    prompt: |
      Draft a reply to this email:
      {{ trigger.body.text }}
    temperature: 0.4
""",
)

EMBED = node_type(
    "ai.embed",
    category=Category.AI,
    summary="Compute embedding vectors for texts",
    description="""
Turns `text` (one) or `texts` (a batch — give one of the two) into embedding vectors for
similarity search or clustering. To store documents for retrieval, use `documents.index`.

Output: `{embeddings, dimensions, tokens}` — one vector per input text, in order.
""",
    inputs={
        "text": _TEXT,
        "texts": array(
            "Texts to embed in one batch.", {"type": "string"}, minItems=1, maxItems=250
        ),
        "task_type": enum(
            "What the vectors will be used for (improves quality).",
            [
                "retrieval_document",
                "retrieval_query",
                "semantic_similarity",
                "classification",
                "clustering",
            ],
            default="semantic_similarity",
        ),
        "dimensions": integer(
            "Output dimensionality (vectors are truncated).", minimum=128, maximum=3072, default=768
        ),
        "model": string("Embedding model.", default="gemini-embedding-001", minLength=1),
        "connection": ai_common()["connection"],
    },
    output=obj(
        "The embeddings.",
        {
            "embeddings": array(
                "One vector per input text.", {"type": "array", "items": {"type": "number"}}
            ),
            "dimensions": integer("Length of each vector.", minimum=1),
            "tokens": TOKENS,
        },
        ["embeddings", "dimensions", "tokens"],
    ),
    credential="gemini",
    example="""
- id: vectors
  uses: ai.embed
  with:
    texts: ${{ steps.text.output.page_texts }}
    task_type: clustering
""",
)

_DOCUMENT = one_of_types(
    "A document: plain text, or text with a source.",
    {"type": "string"},
    obj(
        "A document with its source.",
        {
            "text": string("Document text."),
            "source": string("Where it comes from (title, URL or id), used in citations."),
        },
        ["text"],
    ),
)

ANSWER = node_type(
    "ai.answer",
    category=Category.AI,
    summary="Answer a question from your documents (RAG), with citations",
    description="""
Retrieval-augmented answering. Either pass the `documents` to answer from, or name a
`collection` built with `documents.index`: the `top_k` most relevant chunks (optionally
restricted by `filter`) are retrieved and given to the model. The model answers only from those
sources and cites them; when they do not contain the answer, `answered` is false.

Output: `{answer, answered, citations, tokens}`.
""",
    inputs={
        "question": template("The question; a template.", minLength=1),
        "documents": array("Documents to answer from.", _DOCUMENT, maxItems=200),
        "collection": string("Collection to retrieve from (see `documents.index`).", minLength=1),
        "top_k": integer("Chunks to retrieve from `collection`.", minimum=1, maximum=50, default=5),
        "filter": open_object("Metadata filter for retrieval: field → required value."),
        "instructions": template("Extra guidance (tone, format); a template."),
        **ai_common(temperature=0.1),
    },
    required=["question"],
    output=obj(
        "The answer.",
        {
            "answer": string("The answer, with citation markers like [1]."),
            "answered": boolean("False when the sources did not contain the answer."),
            "citations": array(
                "Sources the answer relies on, in marker order.",
                obj(
                    "A cited source.",
                    {
                        "index": integer("Marker number in `answer`.", minimum=1),
                        "document_id": nullable(string("Indexed document id (collections).")),
                        "source": nullable(string("Source label of the document.")),
                        "text": string("The cited passage."),
                        "score": nullable(
                            number("Retrieval relevance, 0..1.", minimum=0, maximum=1)
                        ),
                        "metadata": open_object("Metadata of the indexed chunk."),
                    },
                    ["index", "document_id", "source", "text", "score", "metadata"],
                ),
            ),
            "tokens": TOKENS,
        },
        ["answer", "answered", "citations", "tokens"],
    ),
    credential="gemini",
    example="""
- id: policy
  uses: ai.answer
  with:
    question: "{{ trigger.body.question }}"
    collection: hr-policies
    filter: { country: DE }
    top_k: 8
""",
)

NODE_TYPES: list[NodeType] = [
    SUMMARIZE,
    EXTRACT,
    CLASSIFY,
    SENTIMENT,
    TRANSLATE,
    GENERATE,
    EMBED,
    ANSWER,
]

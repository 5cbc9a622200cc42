"""Presidio's analyzer and anonymizer over a labelled corpus, for ops/bench's side-by-side run.

Reads JSON lines {"text": ..., "labels": [{"entity_type", "start", "end"}]} (character offsets),
runs Presidio's predefined recognizers over a blank spaCy pipeline (no model download: pattern
recognizers only, as the anonymization service runs them) and the default anonymizer on each
row, one request at a time, and prints one JSON object: rows, bytes, wall and CPU seconds, and
precision/recall per entity type (a finding counts when it overlaps a label of its type).
tldextract is kept offline (its bundled suffix list), so nothing leaves the machine.
"""
import json
import sys
import time

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine

# Offline: the suffix list bundled with tldextract, never fetched.
offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
tldextract.extract = offline


class BlankSpacy(SpacyNlpEngine):
    """spaCy with no model: tokens only, no named entities."""

    def load(self):
        self.nlp = {"en": spacy.blank("en")}


def main(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    engine = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    anonymizer = AnonymizerEngine()
    analyzer.analyze(text="warm up 192.168.0.1", language="en")
    counts = {}

    def count(entity):
        return counts.setdefault(entity, {"tp": 0, "predicted": 0, "labelled": 0, "found": 0})

    total_bytes = 0
    results = []
    wall = time.perf_counter()
    cpu = time.process_time()
    for row in rows:
        text = row["text"]
        total_bytes += len(text.encode("utf-8"))
        found = analyzer.analyze(text=text, language="en")
        anonymizer.anonymize(text=text, analyzer_results=found)
        results.append(found)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    for row, found in zip(rows, results):
        labels = row["labels"]
        for f in found:
            c = count(f.entity_type)
            c["predicted"] += 1
            if any(l["entity_type"] == f.entity_type and l["start"] < f.end and f.start < l["end"] for l in labels):
                c["tp"] += 1
        for l in labels:
            c = count(l["entity_type"])
            c["labelled"] += 1
            if any(l["entity_type"] == f.entity_type and l["start"] < f.end and f.start < l["end"] for f in found):
                c["found"] += 1
    accuracy = {
        entity: {
            "precision": c["tp"] / c["predicted"] if c["predicted"] else None,
            "recall": c["found"] / c["labelled"] if c["labelled"] else None,
            "labelled": c["labelled"],
            "predicted": c["predicted"],
        }
        for entity, c in sorted(counts.items())
    }
    print(json.dumps({"rows": len(rows), "bytes": total_bytes, "wall_seconds": wall, "cpu_seconds": cpu, "accuracy": accuracy}))


if __name__ == "__main__":
    main(sys.argv[1])

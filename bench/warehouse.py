"""Warehouse benchmark: the operations the pipelines use, on the embedded server or any MongoDB.

    python bench/warehouse.py                      # embedded nx-27017 in a temp folder
    python bench/warehouse.py --uri mongodb://...  # any other MongoDB-compatible server

Prints one JSON object of timings (seconds) and rates.
"""

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from llm_twin.application.warehouse_json import import_directory
from llm_twin.domain import ArticleDocument
from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo
from llm_twin.infrastructure.db.mongo import connect
from llm_twin.infrastructure.db.warehouse import Warehouse
from llm_twin.logs import configure_logging
from tools.data_warehouse import SAMPLE_DIR


def _timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def run(uri: str, documents: int, lookups: int) -> dict:
    client = connect(uri)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    warehouse = Warehouse(client[name])
    figures: dict = {}
    try:
        figures["import_sample_s"], _ = _timed(lambda: import_directory(warehouse, SAMPLE_DIR))
        figures["reimport_sample_s"], _ = _timed(lambda: import_directory(warehouse, SAMPLE_DIR))
        author = warehouse.users.all()[0]
        batch = [
            ArticleDocument(
                content={"Title": f"t{i}", "Subtitle": None, "Content": "word " * 300},
                platform="bench",
                link=f"https://bench.example/{i}",
                author_id=author.id,
                author_full_name=author.full_name,
            )
            for i in range(documents)
        ]
        seconds = 0.0
        for start in range(0, documents, 500):
            elapsed, _ = _timed(lambda s=start: warehouse.articles.upsert_many(batch[s : s + 500]))
            seconds += elapsed
        figures["upsert_new_docs_per_s"] = round(documents / seconds)
        elapsed, _ = _timed(
            lambda: [
                warehouse.articles.upsert_many(batch[s : s + 500]) for s in range(0, documents, 500)
            ]
        )
        figures["upsert_unchanged_docs_per_s"] = round(documents / elapsed)
        elapsed, _ = _timed(
            lambda: [
                warehouse.articles.get_by_link(f"https://bench.example/{i}") for i in range(lookups)
            ]
        )
        figures["find_by_link_ms"] = round(1000 * elapsed / lookups, 3)
        figures["count_by_author_s"], _ = _timed(
            lambda: warehouse.articles.count(author_id=author.id)
        )
        figures["scan_all_docs_s"], _ = _timed(lambda: sum(1 for _ in warehouse.articles.find()))
        figures["documents"] = warehouse.articles.count()
    finally:
        client.drop_database(name)
        client.close()
    return {
        key: round(value, 3) if isinstance(value, float) else value
        for key, value in figures.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="MongoDB URI; default: start the embedded server")
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args()
    configure_logging("WARNING")
    if args.uri:
        print(json.dumps({"backend": "uri"} | run(args.uri, args.documents, args.lookups)))
        return
    with tempfile.TemporaryDirectory() as folder:
        manager = EmbeddedMongo(Path(folder))
        elapsed, server = _timed(manager.ensure_running)
        try:
            figures = run(server.uri, args.documents, args.lookups)
        finally:
            manager.stop()
    print(json.dumps({"backend": "embedded nx-27017", "start_s": round(elapsed, 3)} | figures))


if __name__ == "__main__":
    main()

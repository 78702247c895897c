"""`python -m electra_tf.pipeline TASK --model DIR`: one JSON line per input.

Reads text lines (JSON lines `{"text", "text_pair"}` for pairs and
`{"question", "context"}` for question answering) from stdin or `--input`,
runs them through `pipelines.pipeline` in batches and prints one JSON line
per input; with `--input` on a terminal a progress count goes to stderr.
"""

import argparse
import json
import sys

from electra_tf.errors import DataError
from electra_tf.serving import pipelines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m electra_tf.pipeline",
        description="Run an ELECTRA model on text, one JSON line per input.",
    )
    parser.add_argument("task", choices=sorted(pipelines.TASKS))
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument(
        "--input", default=None, help="input file (default: stdin)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=None)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument(
        "--task-name",
        default=None,
        help="fine-tuned task to use when several fit",
    )
    parser.add_argument(
        "--hparams",
        default=None,
        help="model hparams (JSON or .json path) when the "
        "directory does not describe itself",
    )
    return parser.parse_args(argv)


def read_inputs(stream, task, where):
    """Decoded, parsed input lines; DataError names the bad line."""
    items = []
    for number, raw in enumerate(stream.read().split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(
                f"{where} line {number} is not valid UTF-8 ({e.reason} at "
                f"byte {e.start}); re-encode the file as UTF-8."
            ) from None
        if task == "question-answering" or line.lstrip().startswith("{"):
            try:
                line = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{where} line {number} is not valid JSON ({e.msg}); "
                    'write {"question": ..., "context": ...} per line.'
                ) from None
            keys = (
                ("question", "context")
                if task == "question-answering"
                else ("text",)
            )
            if not isinstance(line, dict) or any(k not in line for k in keys):
                raise DataError(
                    f"{where} line {number} lacks the keys {list(keys)}."
                )
        items.append(line)
    if not items:
        raise DataError(f"{where} has no input lines.")
    return items


def main(argv=None):
    args = parse_args(argv)
    if args.input:
        try:
            with open(args.input, "rb") as f:
                items = read_inputs(f, args.task, args.input)
        except FileNotFoundError:
            raise DataError(
                f"Input file '{args.input}' does not exist."
            ) from None
    else:
        items = read_inputs(sys.stdin.buffer, args.task, "stdin")
    pipe = pipelines.pipeline(
        args.task,
        args.model,
        hparams=args.hparams,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        top_k=args.top_k,
        task_name=args.task_name,
    )
    progress = bool(args.input) and sys.stderr.isatty()
    for begin in range(0, len(items), args.batch_size):
        batch = items[begin : begin + args.batch_size]
        for result in pipe(batch):
            print(json.dumps(result, ensure_ascii=False))
        if progress:
            done = min(begin + args.batch_size, len(items))
            print(f"\r{done}/{len(items)}", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
